/**
 * Test/bench harness: a real local deployment — `wrangler dev` running the worker (its own persisted state in a
 * temp folder) and N real media-node processes registered with it over the signed API.
 *
 *   const cluster = await startCluster({ nodes: 1 });
 *   cluster.wsUrl      // ws://127.0.0.1:PORT  (WCS signaling)
 *   cluster.httpUrl    // http://127.0.0.1:PORT
 *   await cluster.stop();
 *
 * Processes are killed on stop() and when the test process exits. Their output is kept (last lines) for failure
 * messages: `cluster.logs()`. Set HARNESS_VERBOSE=1 to stream it to stderr.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { signedFetch } from "../../protocol/index.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const VERBOSE = !!process.env.HARNESS_VERBOSE;

export interface MediaNodeProc {
  nodeId: string;
  controlUrl: string;
  process: ChildProcess;
  /** SIGKILL (a crash) or SIGTERM (orderly stop); resolves when the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface RegisteredNode {
  nodeId: string;
  bootId: string;
  controlUrl: string;
  live: boolean;
  streams: string[];
  load: { publishers: number; players: number; cpuPercent: number };
}

export interface Cluster {
  httpUrl: string;
  wsUrl: string;
  secret: string;
  nodes: MediaNodeProc[];
  startNode(env?: Record<string, string>, opts?: StartNodeOptions): Promise<MediaNodeProc>;
  /** The worker's registry view of the media nodes (signed GET /internal/nodes). */
  listNodes(): Promise<RegisteredNode[]>;
  logs(): string;
  stop(): Promise<void>;
}

export interface StartNodeOptions {
  /**
   * Run the node in this network namespace (`ip netns exec`; root only; test/harness/netns.ts). Its env must then set
   * MEDIA_NODE_LISTEN_HOST to an address of that namespace the worker can reach.
   */
  netns?: string;
}

export interface ClusterOptions {
  nodes?: number;
  /** Address wrangler dev listens on and the cluster's URLs use (default 127.0.0.1). */
  host?: string;
  /**
   * Rate limits (requests per 10 s per client address) instead of wrangler.toml's; every limit not given here is
   * raised to 1,000,000, since every test client and bench peer comes from 127.0.0.1.
   */
  rateLimits?: Partial<Record<"RATE_LIMIT_CONNECT" | "RATE_LIMIT_MEDIA" | "RATE_LIMIT_REST", number>>;
  /** Extra worker vars (wrangler.toml [vars] overrides), e.g. { ICE_TIMEOUT_MS: "3000" }; AUTH is "off" unless given. */
  vars?: Record<string, string>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? res(addr.port) : rej(new Error("no port"))));
    });
  });
}

class LogBuffer {
  private lines: string[] = [];
  constructor(private prefix: string) {}
  push(chunk: Buffer): void {
    for (const line of chunk.toString().split("\n")) {
      if (!line.trim()) continue;
      this.lines.push(`${this.prefix} ${line}`);
      if (VERBOSE) process.stderr.write(`${this.prefix} ${line}\n`);
    }
    if (this.lines.length > 2000) this.lines.splice(0, this.lines.length - 2000);
  }
  text(last = 200): string {
    return this.lines.slice(-last).join("\n");
  }
}

function track(child: ChildProcess, buf: LogBuffer): void {
  live.add(child);
  child.stdout?.on("data", (d: Buffer) => buf.push(d));
  child.stderr?.on("data", (d: Buffer) => buf.push(d));
  child.once("exit", () => live.delete(child));
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => child.once("exit", () => res()));
}

async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs: number, what: string, logs: () => string): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${String(lastErr ?? "")})\n${logs()}`);
}

/** Files the worker is built from; copied so that `wrangler dev`'s file watcher ignores edits made during a run. */
const WORKER_SOURCES = ["wrangler.toml", "package.json", "tsconfig.json", "worker", "protocol", "public", "client"];

/**
 * Copies the worker's sources into `dir` (node_modules linked, not copied). wrangler dev reloads — dropping every
 * WebSocket — whenever a watched file changes; running from a snapshot keeps a test run stable while the tree is
 * being edited.
 */
function snapshotWorker(dir: string, rateLimits: ClusterOptions["rateLimits"] = {}): string {
  const appDir = join(dir, "app");
  for (const entry of WORKER_SOURCES) {
    const from = join(ROOT, entry);
    // not client/dist or packed tarballs (the SDK package's build output, which a build may be rewriting meanwhile)
    const skip = join(ROOT, "client", "dist");
    if (existsSync(from)) cpSync(from, join(appDir, entry), { recursive: true, filter: (src) => src !== skip && !src.endsWith(".tgz") });
  }
  // the rate limits of this run: `name = "X" … simple = { limit = N, period = 10 }` → the test's N (or a huge one)
  const toml = join(appDir, "wrangler.toml");
  writeFileSync(
    toml,
    readFileSync(toml, "utf8").replace(
      /(name = "(RATE_LIMIT_[A-Z]+)"[^\n]*\n(?:[^\n]*\n)*?simple = \{ limit = )\d+(, period = )\d+/g,
      (_m, head: string, name: keyof NonNullable<ClusterOptions["rateLimits"]>, mid: string) => `${head}${rateLimits[name] ?? 1_000_000}${mid}10`,
    ),
  );
  symlinkSync(join(ROOT, "node_modules"), join(appDir, "node_modules"), "dir");
  return appDir;
}

/** Starts the worker under `wrangler dev` plus `opts.nodes` (default 1) media nodes, and waits until all are live. */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const secret = randomBytes(24).toString("hex");
  const stateDir = mkdtempSync(join(tmpdir(), "wcs-edge-state-"));
  const appDir = snapshotWorker(stateDir, opts.rateLimits);
  const host = opts.host ?? "127.0.0.1";
  const nodeLogs: LogBuffer[] = [];
  let workerLog = new LogBuffer("[worker]");
  const logs = () => [workerLog.text(), ...nodeLogs.map((l) => l.text(80))].join("\n");

  // the development profile unless a test asks otherwise: authentication off (test/e2e/auth.test.ts turns it on)
  const vars = { MEDIA_NODE_SECRET: secret, AUTH: "off", ...opts.vars };
  const spawnWorker = (port: number, inspectorPort: number): ChildProcess => {
    const args = [
      join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "dev",
      "--config", join(appDir, "wrangler.toml"),
      "--ip", host,
      "--port", String(port),
      "--inspector-port", String(inspectorPort),
      "--persist-to", stateDir,
      "--show-interactive-dev-session=false",
      "--log-level", "info",
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ];
    const child = spawn(process.execPath, args, {
      cwd: appDir,
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        XDG_CONFIG_HOME: join(stateDir, "config"),
        NO_COLOR: "1",
        FORCE_COLOR: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    track(child, workerLog);
    return child;
  };

  // a port freePort() found free can be taken before wrangler binds it (by any process's outgoing connection, from
  // the same ephemeral range): wrangler then exits "Address already in use", and the worker starts again on new ports
  let port = 0;
  let worker: ChildProcess | undefined;
  for (let attempt = 1; !worker; attempt++) {
    port = await freePort();
    workerLog = new LogBuffer("[worker]");
    const child = spawnWorker(port, await freePort());
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`wrangler exited with ${child.exitCode}`);
          const res = await fetch(`http://${host}:${port}/internal/nodes`);
          await res.body?.cancel();
          return res.status === 401;
        },
        60_000,
        "wrangler dev to serve",
        logs,
      );
      worker = child;
    } catch (err) {
      child.kill("SIGKILL");
      await exited(child);
      if (attempt < 3 && workerLog.text().includes("Address already in use")) continue;
      rmSync(stateDir, { recursive: true, force: true });
      throw err;
    }
  }
  const httpUrl = `http://${host}:${port}`;

  const nodes: MediaNodeProc[] = [];
  let stopped = false;

  const listNodes = async (): Promise<RegisteredNode[]> => {
    const res = await signedFetch(secret, httpUrl + "/internal/nodes", "GET", undefined, 10_000);
    if (!res.ok) throw new Error(`GET /internal/nodes → ${res.status}`);
    return (await res.json()) as RegisteredNode[];
  };

  /** One start of a media node; a failure carries its process and log (startNode may try again). */
  const startNodeOnce = async (env: Record<string, string>, nodeOpts: StartNodeOptions): Promise<MediaNodeProc> => {
    const nodeId = `node-${nodes.length + 1}-${randomBytes(3).toString("hex")}`;
    const controlPort = await freePort();
    const buf = new LogBuffer(`[${nodeId}]`);
    nodeLogs.push(buf);
    const argv = [process.execPath, "--import", "tsx", join(ROOT, "media-node/main.ts")];
    const [cmd, ...args] = nodeOpts.netns ? ["ip", "netns", "exec", nodeOpts.netns, ...argv] : argv;
    const child = spawn(cmd!, args, {
      cwd: ROOT,
      env: {
        ...process.env,
        MEDIA_NODE_ID: nodeId,
        MEDIA_NODE_PORT: String(controlPort),
        MEDIA_NODE_LISTEN_HOST: "127.0.0.1",
        MEDIA_NODE_BIND_ADDRESS: "127.0.0.1",
        WORKER_URL: httpUrl,
        MEDIA_NODE_SECRET: secret,
        MEDIA_NODE_HEARTBEAT_MS: "1000",
        // admission by measured load off (a loaded 2-core test machine must not refuse legs at random); tests of
        // admission set MEDIA_NODE_MAX_LEGS, media-node/admission.ts has its own tests
        MEDIA_NODE_MAX_LOOP_UTILIZATION: "1",
        MEDIA_NODE_MAX_LOOP_LAG_MS: "0",
        // stop() SIGTERMs the nodes: no drain, so a run ends at once (test/e2e/node-drain.test.ts sets its own)
        MEDIA_NODE_DRAIN_TIMEOUT_MS: "0",
        LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    track(child, buf);
    const proc: MediaNodeProc = {
      nodeId,
      controlUrl: `http://${env.MEDIA_NODE_LISTEN_HOST ?? "127.0.0.1"}:${env.MEDIA_NODE_PORT ?? controlPort}`,
      process: child,
      async kill(signal: NodeJS.Signals = "SIGKILL") {
        child.kill(signal);
        await exited(child);
      },
    };
    nodes.push(proc);
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`media node exited with ${child.exitCode}`);
          return (await listNodes()).some((n) => n.nodeId === nodeId && n.live);
        },
        30_000,
        `media node ${nodeId} to register`,
        logs,
      );
    } catch (err) {
      throw Object.assign(new Error("media node did not start", { cause: err }), { proc, buf });
    }
    return proc;
  };

  const cluster: Cluster = {
    httpUrl,
    wsUrl: `ws://${host}:${port}`,
    secret,
    nodes,
    listNodes,
    logs,
    async startNode(env: Record<string, string> = {}, nodeOpts: StartNodeOptions = {}) {
      // the control port freePort() found can be taken before the node binds it (as wrangler's, above): start again
      for (let attempt = 1; ; attempt++) {
        try {
          return await startNodeOnce(env, nodeOpts);
        } catch (err) {
          const failed = err as Error & { proc?: MediaNodeProc; buf?: LogBuffer };
          const taken = failed.proc && failed.buf?.text().includes("EADDRINUSE") && env.MEDIA_NODE_PORT === undefined;
          if (!taken || attempt === 3) throw failed.cause ?? err;
          nodes.splice(nodes.indexOf(failed.proc!), 1);
          nodeLogs.splice(nodeLogs.indexOf(failed.buf!), 1);
        }
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const n of nodes) n.process.kill("SIGTERM");
      worker.kill("SIGTERM");
      const all = [worker, ...nodes.map((n) => n.process)];
      const timer = setTimeout(() => all.forEach((p) => p.kill("SIGKILL")), 5000);
      await Promise.all(all.map(exited));
      clearTimeout(timer);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };

  try {
    for (let i = 0; i < (opts.nodes ?? 1); i++) await cluster.startNode();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
