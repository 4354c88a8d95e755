/**
 * `npm start` (scripts/start.ts) as a user runs it: the real script, the worker under `wrangler dev` from this tree
 * (not a snapshot: that is what `npm start` serves; its state goes to `.state/dev-<PORT>/`, removed afterwards) and
 * its media nodes. With MEDIA_NODES=2 both nodes register with their own id, control port and slice of the RTC port
 * range, each line of output names its process, and one SIGINT (a terminal's Ctrl-C) stops everything in order: the
 * nodes deregister, then the worker stops, and the script exits 0 with no port left open. Bad settings are refused
 * before anything starts (exit 2). MEDIA_NODES is given explicitly: `auto` would start one node per core.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { waitUntil } from "../clients/index.js";
import { freePort, ROOT } from "../harness/cluster.js";

const START = ["--import", "tsx", join(ROOT, "scripts/start.ts")];
/** wrangler offline, as .ci/run runs it. */
const OFFLINE = { XDG_CONFIG_HOME: join(ROOT, ".config"), WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

let script: ChildProcess | undefined;
let stateDir: string | undefined;

afterAll(async () => {
  // a failed test may leave the script running: SIGTERM makes it stop its children in order
  if (script && script.exitCode === null && script.signalCode === null) {
    script.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 8000));
    script.kill("SIGKILL");
  }
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

/** Whether `port` on 127.0.0.1 can be listened on now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once("error", () => res(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => res(true)));
  });
}

/** The first of `n` consecutive free ports. */
async function freePorts(n: number): Promise<number> {
  for (;;) {
    const first = await freePort();
    if (first + n - 1 > 65535) continue;
    let ok = true;
    for (let p = first + 1; p < first + n && ok; p++) ok = await canListen(p);
    if (ok) return first;
  }
}

it("refuses a bad MEDIA_NODES, a port range too small to split, before starting anything", async () => {
  const run = promisify(execFile);
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ MEDIA_NODES: "0" }, /MEDIA_NODES: expected `auto` \(one per core\) or an integer 1\.\.64 \(got "0"\)/],
    [{ MEDIA_NODES: "many" }, /MEDIA_NODES: expected `auto`.*\(got "many"\)/],
    [{ MEDIA_NODES: "3", MEDIA_NODE_RTC_PORT_MIN: "40000", MEDIA_NODE_RTC_PORT_MAX: "40020" }, /21 ports for 3 nodes, fewer than 10 each/],
  ];
  await Promise.all(
    cases.map(async ([env, message]) => {
      const failed = await run(process.execPath, START, { cwd: ROOT, env: { ...process.env, ...OFFLINE, PORT: "1", ...env }, timeout: 60_000 }).then(
        () => null,
        (e: { code?: number; stderr?: string }) => e,
      );
      expect(failed?.code, JSON.stringify(env)).toBe(2);
      expect(failed?.stderr).toMatch(message);
    }),
  );
});

it("MEDIA_NODES=2 starts two registered nodes with their own ports, and one Ctrl-C stops everything", async () => {
  const port = await freePort();
  const base = await freePorts(2);
  stateDir = join(ROOT, `.state/dev-${port}`);
  let output = "";
  script = spawn(process.execPath, START, {
    cwd: ROOT,
    env: { ...process.env, ...OFFLINE, PORT: String(port), MEDIA_NODES: "2", MEDIA_NODE_PORT: String(base), MEDIA_NODE_RTC_PORT_MIN: "47000", MEDIA_NODE_RTC_PORT_MAX: "47999" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  script.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  script.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => script!.once("exit", (code, signal) => r({ code, signal })));
  const url = `http://127.0.0.1:${port}`;

  type Node = { nodeId: string; controlUrl: string; live: boolean };
  let nodes: Node[] = [];
  await waitUntil(
    async () => {
      if (script!.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
      const res = await fetch(`${url}/rest-api/nodes/find_all`).catch(() => null);
      nodes = res?.ok ? ((await res.json()) as Node[]) : [];
      return nodes.filter((n) => n.live).length === 2;
    },
    120_000,
    "two media nodes to register",
  );
  expect(nodes.map((n) => [n.nodeId, n.controlUrl]).sort()).toEqual([
    ["local-1", `http://127.0.0.1:${base}`],
    ["local-2", `http://127.0.0.1:${base + 1}`],
  ]);
  const ready = await fetch(`${url}/readyz`);
  expect(await ready.json()).toEqual({ status: "ready", liveNodes: 2 });
  for (const [i, nodeId] of ["local-1", "local-2"].entries()) {
    const health = await fetch(`http://127.0.0.1:${base + i}/healthz`);
    expect(await health.json()).toEqual({ status: "ok", nodeId });
  }
  // one half of the RTC range each, and every line says which process wrote it
  await waitUntil(async () => output.includes("media nodes are registered"), 20_000, "the announcement");
  expect(output).toMatch(/^media-1 \| .*media node started.*"rtcPorts":"47000-47499"/m);
  expect(output).toMatch(/^media-2 \| .*media node started.*"rtcPorts":"47500-47999"/m);
  expect(output).toMatch(/^worker {2}\| .*media_node_registered/m);
  expect(output).toContain(`2 media nodes (MEDIA_NODES=2): local-1 :${base} udp 47000-47499, local-2 :${base + 1} udp 47500-47999`);

  // Ctrl-C: the nodes deregister from the running worker, then the worker stops, then the script
  script.kill("SIGINT");
  const end = await Promise.race([ended, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
  expect(end, `npm start did not stop within 20 s:\n${output}`).toEqual({ code: 0, signal: null });
  for (const name of ["media-1", "media-2"]) {
    expect(output).toMatch(new RegExp(`^${name} \\| .*deregistered from the worker`, "m"));
    expect(output).toMatch(new RegExp(`^${name} \\| exited \\(0\\)`, "m"));
  }
  expect(output).toMatch(/^worker {2}\| exited/m);
  expect(output.indexOf("media-1 | exited")).toBeLessThan(output.indexOf("worker  | exited"));
  expect(output.indexOf("media-2 | exited")).toBeLessThan(output.indexOf("worker  | exited"));
  // nothing is left listening
  for (const p of [port, base, base + 1]) expect(await canListen(p), `port ${p} still in use`).toBe(true);
}, 180_000);
