/**
 * `wcs-edge nodes`: the media nodes the server's registry knows, from the REST API (`/rest-api/nodes/find_all`,
 * protocol/rest.ts RestNode), as a table:
 *
 *   NODE     STATE  VERSION  PUB  PLAY   CPU  STREAMS  LOOP  LAG p99  HEARTBEAT  CONTROL URL
 *   local-1  live   0.1.0      1    20  35%        1   12%      3ms  0.4s ago   http://127.0.0.1:9000
 *
 * STATE is live, draining (takes no new stream; `wcs-edge drain`) or silent (no heartbeat for 3 periods: about to be
 * declared lost). VERSION is "—" for a node that does not report one. With `--json`: one `{"type": "node", "t", …}`
 * line per node (the REST object). No node registered: "no media node registered" (exit 0).
 * Exit codes: 0 listed; 1 the call failed (the server's reason: 401 without a token on a server that wants one, …).
 */
import { z } from "zod";
import { RestNode } from "../../protocol/rest.js";
import { out, type GlobalOptions } from "./output.js";
import { restCall } from "./rest.js";
import { fmtAge, table } from "./table.js";

export type NodesOptions = GlobalOptions;

/** live / draining / silent. */
export function nodeState(n: RestNode): string {
  if (!n.live) return "silent";
  return n.draining ? "draining" : "live";
}

/** The table of `nodes` (one row per node, ordered by id). */
export function nodesTable(nodes: RestNode[]): string {
  const rows = [...nodes]
    .sort((a, b) => a.nodeId.localeCompare(b.nodeId))
    .map((n) => [
      n.nodeId,
      nodeState(n),
      n.version ?? "—",
      String(n.load.publishers),
      String(n.load.players),
      `${Math.round(n.load.cpuPercent)}%`,
      String(n.streams),
      n.eventLoop ? `${Math.round(n.eventLoop.utilization * 100)}%` : "—",
      n.eventLoop ? `${Math.round(n.eventLoop.lagP99Ms)}ms` : "—",
      `${fmtAge(n.heartbeatAgeMs)} ago`,
      n.controlUrl,
    ]);
  return table(["NODE", "STATE", "VERSION", "PUB", "PLAY", "CPU", "STREAMS", "LOOP", "LAG p99", "HEARTBEAT", "CONTROL URL"], rows, new Set([3, 4, 5, 6, 7, 8]));
}

/** Lists the media nodes. @throws Error when the REST call fails */
export async function nodesCommand(o: NodesOptions): Promise<void> {
  out.configure(o);
  const nodes = (await restCall(o.url, "nodes/find_all", z.array(RestNode), o.token)) ?? [];
  if (o.json) {
    for (const n of nodes) out.event("node", { ...n, state: nodeState(n) }, "");
    return;
  }
  process.stdout.write(nodes.length ? `${nodesTable(nodes)}\n` : "no media node registered\n");
}
