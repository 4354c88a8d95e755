/**
 * The worker's operational endpoints:
 *
 *   GET /healthz → 200 `{"status":"ok"}`: the worker runs (no Durable Object is asked).
 *   GET /readyz  → 200 `{"status":"ready","liveNodes":n}` when at least one live media node that is not draining
 *                  can take a stream, else 503 `{"status":"not_ready","reason":…}`.
 *   GET /metrics → Prometheus text (exposition format 0.0.4, https://prometheus.io/docs/instrumenting/exposition_formats/)
 *                  for an admin: REST_API_TOKEN or an access token with `admin: true`, as the REST API (401/403/503).
 *
 * | metric | labels | from |
 * |---|---|---|
 * | `wcs_media_nodes` | `state` (live, draining, lost) | NodeRegistryDO |
 * | `wcs_registry_node_up` | `node_id` | 1 live, 0 lost (not yet forgotten) |
 * | `wcs_registry_node_publishers`, `…_players` | `node_id` | the node's last heartbeat |
 * | `wcs_registry_node_cpu_percent` | `node_id` | the node's process CPU, % of one core |
 * | `wcs_registry_node_max_legs` | `node_id` | its configured cap (0 = none) |
 * | `wcs_registry_node_event_loop_lag_p99_seconds`, `…_utilization` | `node_id` | its heartbeat's event-loop stats |
 * | `wcs_registry_node_heartbeat_age_seconds` | `node_id` | time since its last heartbeat |
 * | `wcs_streams` | | distinct streams placed on media nodes |
 * | `wcs_sessions`, `wcs_rooms`, `wcs_room_participants` | | StatsDO (worker/stats-do.ts) |
 *
 * A scrape asks two objects (the registry and StatsDO), never every stream, session or room. The text is written
 * here rather than with prom-client, which needs Node's cluster and perf_hooks modules (not in workerd without
 * nodejs_compat); the worker only exports gauges read at scrape time. The media nodes' own `/metrics` (prom-client)
 * has the per-packet counters.
 */
import { Hono } from "hono";
import { AuthInfo } from "../protocol/index.js";
import { authenticateAdmin } from "./access.js";
import { bearerAccess, forbidden, type AuthedApp } from "./auth.js";
import { registryOf } from "./env.js";
import { statsOf, type Gauges } from "./stats-do.js";

type NodeView = Awaited<ReturnType<ReturnType<typeof registryOf>["list"]>>[number];

/** One sample: labels and value. */
type Sample = [labels: Record<string, string>, value: number];

/** A label value escaped for the exposition format (backslash, double quote, line feed). */
const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** One gauge family in the exposition format. */
function gauge(name: string, help: string, samples: Sample[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`];
  for (const [labels, value] of samples) {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    lines.push(`${name}${l.length ? `{${l.join(",")}}` : ""} ${Number.isFinite(value) ? value : "NaN"}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * The worker's metrics text from the registry's view of the nodes and StatsDO's gauges.
 * @param now ms since the epoch (heartbeat ages)
 */
export function renderWorkerMetrics(nodes: NodeView[], gauges: Gauges, now: number): string {
  const perNode = (f: (n: NodeView) => number): Sample[] => nodes.map((n) => [{ node_id: n.nodeId }, f(n)]);
  const state = (n: NodeView) => (!n.live ? "lost" : n.draining ? "draining" : "live");
  return [
    gauge("wcs_media_nodes", "Media nodes known to the registry, by state.", (["live", "draining", "lost"] as const).map((s) => [{ state: s }, nodes.filter((n) => state(n) === s).length])),
    gauge("wcs_registry_node_up", "1 while the media node sends heartbeats, 0 once it is declared lost.", perNode((n) => (n.live ? 1 : 0))),
    gauge("wcs_registry_node_publishers", "Publisher legs on the media node (its last heartbeat).", perNode((n) => n.load.publishers)),
    gauge("wcs_registry_node_players", "Player legs on the media node (its last heartbeat).", perNode((n) => n.load.players)),
    gauge("wcs_registry_node_cpu_percent", "The media node process's CPU, percent of one core.", perNode((n) => n.load.cpuPercent)),
    gauge("wcs_registry_node_max_legs", "The media node's leg cap (0 = none).", perNode((n) => n.maxLegs)),
    gauge("wcs_registry_node_event_loop_lag_p99_seconds", "The media node's event-loop lag p99 over its last snapshot period.", perNode((n) => (n.eventLoop ? n.eventLoop.lagP99Ms / 1000 : NaN))),
    gauge("wcs_registry_node_event_loop_utilization", "Share of the time the media node's event loop was busy (0..1).", perNode((n) => n.eventLoop?.utilization ?? NaN)),
    gauge("wcs_registry_node_heartbeat_age_seconds", "Time since the media node's last heartbeat.", perNode((n) => Math.max(0, (now - n.lastSeen) / 1000))),
    gauge("wcs_streams", "Distinct streams placed on media nodes.", [[{}, new Set(nodes.filter((n) => n.live).flatMap((n) => n.streams)).size]]),
    gauge("wcs_sessions", "WCS WebSocket sessions open.", [[{}, gauges.sessions]]),
    gauge("wcs_rooms", "Rooms with at least one participant.", [[{}, gauges.rooms]]),
    gauge("wcs_room_participants", "Participants of all rooms.", [[{}, gauges.participants]]),
  ].join("");
}

/** `/healthz`, `/readyz`, `/metrics` (see the file header). WebSocket upgrades on these paths go on to the sessions. */
export const ops = new Hono<AuthedApp>();

ops.get("/healthz", async (c, next) => {
  if (c.req.header("Upgrade")) return next();
  return c.json({ status: "ok" });
});

ops.get("/readyz", async (c, next) => {
  if (c.req.header("Upgrade")) return next();
  const nodes = await registryOf(c.env).list();
  const ready = nodes.filter((n) => n.live && !n.draining).length;
  return ready > 0
    ? c.json({ status: "ready", liveNodes: ready })
    : c.json({ status: "not_ready", reason: nodes.some((n) => n.live) ? "every media node is draining" : "no live media node" }, 503);
});

ops.use("/metrics", async (c, next) => {
  if (c.req.header("Upgrade")) return next();
  return bearerAccess(authenticateAdmin, "metrics", (error) => ({ error }))(c, next);
});
ops.get("/metrics", async (c, next) => {
  if (c.req.header("Upgrade")) return next();
  if (!c.var.access.admin) return forbidden("metrics", { error: AuthInfo.ADMIN_REQUIRED });
  const [nodes, gauges] = await Promise.all([registryOf(c.env).list(), statsOf(c.env).read()]);
  return c.text(renderWorkerMetrics(nodes, gauges, Date.now()), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
});
