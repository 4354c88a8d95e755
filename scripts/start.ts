/**
 * `npm start`: runs the whole server locally — the worker under `wrangler dev` (http://127.0.0.1:8787, WCS
 * WebSocket signaling on ws://127.0.0.1:8787) and one media node per core — prints the URL to open, and stops
 * everything on Ctrl-C. Logs are human-readable lines (pino-pretty; LOG_FORMAT=json keeps the JSON lines), each
 * prefixed with its process (`worker`, `media` — `media-1`, `media-2`, … with several nodes, coloured on a terminal),
 * without the per-second heartbeat request lines.
 *
 * Environment: HOST (default 127.0.0.1; `0.0.0.0` or a LAN address serves other devices: the worker listens there and
 * the media nodes' ICE binds there — browsers capture a camera only on https:// or localhost, so other devices can
 * play but need HTTPS, e.g. a TLS reverse proxy, to publish), PORT (default 8787), MEDIA_NODES (`auto`, the default:
 * one media node per core, os.availableParallelism(), at most {@link MAX_MEDIA_NODES}; or a number 1..MAX_MEDIA_NODES),
 * MEDIA_NODE_PORT (default 9000: the first node's control port, node i gets MEDIA_NODE_PORT + i - 1; 0 = ephemeral
 * ports), MEDIA_NODE_ID (one node: its id, default `local-1`; several: the prefix of `<prefix>-<i>`, default `local`),
 * MEDIA_NODE_RTC_PORT_MIN / MEDIA_NODE_RTC_PORT_MAX (optional: split into one equal slice per node),
 * MEDIA_NODE_SECRET (default: a random one per run, given to all), MEDIA_NODE_BIND_ADDRESS (default: from HOST),
 * RELAY_ALLOWED_URIS (default `*` here, the development profile; a deployment's default is none), AUTH (default
 * `off` here, the development profile: no access tokens; a deployment's default is on), AUTH_JWT_SECRET (passed to
 * the worker when set, e.g. to try AUTH=on with tokens from `wcs-edge token`), MEDIA_NODE_DRAIN_TIMEOUT_MS (default `0`
 * here, the development profile: Ctrl-C stops the media nodes at once instead of letting their streams drain). Any
 * other media node variable goes to every node. A bad MEDIA_NODES, port or range is refused before anything starts
 * (exit 2). Ctrl-C stops the media nodes first (SIGTERM; they deregister), then the worker, and kills any child still
 * running after 6 s.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { availableParallelism, networkInterfaces } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { prettyFactory } from "pino-pretty";

/** Most media nodes `npm start` runs (MEDIA_NODES, and `auto` on a machine with more cores): a sanity bound. */
const MAX_MEDIA_NODES = 64;
/** Fewest RTC (ICE UDP) ports a node may get when MEDIA_NODE_RTC_PORT_MIN..MAX is split between the nodes. */
const MIN_RTC_PORTS_PER_NODE = 10;

/** What one media node of this run gets: its log name, id, control port and RTC port range (if any). */
interface NodePlan {
  /** Log prefix: `media` for a single node, else `media-<i>`. */
  name: string;
  nodeId: string;
  /** Control port (MEDIA_NODE_PORT); 0 = ephemeral. */
  port: number;
  /** Its slice of MEDIA_NODE_RTC_PORT_MIN..MAX, when that is set. */
  rtc?: { min: number; max: number };
}

/** A setting `npm start` refuses before starting anything (exit 2). */
class StartConfigError extends Error {}

/** A decimal integer in [min, max] from the variable `name`, or the error saying what is expected. */
function intSetting(name: string, value: string, min: number, max: number, alternative = ""): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new StartConfigError(`${name}: expected ${alternative}an integer ${min}..${max} (got ${JSON.stringify(value)})`);
  }
  return n;
}

/**
 * How many media nodes to run and what each one gets, from the environment: MEDIA_NODES (`auto` or empty: `cores`,
 * one per core; else 1..{@link MAX_MEDIA_NODES}), MEDIA_NODE_PORT (the first control port, then one up per node;
 * 0 = every node ephemeral), MEDIA_NODE_ID (a single node's id, or the prefix of `<prefix>-<i>`),
 * MEDIA_NODE_RTC_PORT_MIN/MAX (split into equal, disjoint slices, at least {@link MIN_RTC_PORTS_PER_NODE} ports each).
 * @param env the variables (process.env)
 * @param cores the machine's cores (os.availableParallelism())
 * @param workerPort the worker's port (PORT), which no control port may take
 * @throws StartConfigError naming the variable, for anything it cannot honour
 */
function planMediaNodes(env: NodeJS.ProcessEnv, cores: number, workerPort: number): NodePlan[] {
  const asked = (env.MEDIA_NODES ?? "").trim().toLowerCase();
  const count =
    asked === "" || asked === "auto"
      ? Math.max(1, Math.min(cores, MAX_MEDIA_NODES))
      : intSetting("MEDIA_NODES", env.MEDIA_NODES ?? "", 1, MAX_MEDIA_NODES, "`auto` (one per core) or ");
  const base = intSetting("MEDIA_NODE_PORT", env.MEDIA_NODE_PORT || "9000", 0, 65535);
  if (base !== 0 && base + count - 1 > 65535) {
    throw new StartConfigError(`MEDIA_NODE_PORT: ${count} nodes need ports ${base}..${base + count - 1}, beyond 65535`);
  }
  if (base !== 0 && workerPort >= base && workerPort < base + count) {
    throw new StartConfigError(`MEDIA_NODE_PORT: the nodes' control ports ${base}..${base + count - 1} include the worker's PORT ${workerPort}`);
  }
  if (count > 1 && env.MEDIA_NODE_PUBLIC_URL) {
    throw new StartConfigError("MEDIA_NODE_PUBLIC_URL names one node's control URL; unset it to run several nodes (MEDIA_NODES), or run MEDIA_NODES=1");
  }
  const [minVar, maxVar] = [env.MEDIA_NODE_RTC_PORT_MIN, env.MEDIA_NODE_RTC_PORT_MAX];
  let rtc: { min: number; size: number } | undefined;
  if (minVar || maxVar) {
    if (!minVar || !maxVar) throw new StartConfigError("MEDIA_NODE_RTC_PORT_MIN / MEDIA_NODE_RTC_PORT_MAX: set both, or neither");
    const min = intSetting("MEDIA_NODE_RTC_PORT_MIN", minVar, 1, 65535);
    const max = intSetting("MEDIA_NODE_RTC_PORT_MAX", maxVar, min, 65535);
    const size = Math.floor((max - min + 1) / count);
    if (size < MIN_RTC_PORTS_PER_NODE) {
      throw new StartConfigError(`MEDIA_NODE_RTC_PORT_MIN..MAX: ${max - min + 1} ports for ${count} nodes, fewer than ${MIN_RTC_PORTS_PER_NODE} each; widen the range or lower MEDIA_NODES`);
    }
    rtc = { min, size };
  }
  const id = env.MEDIA_NODE_ID || undefined;
  return Array.from({ length: count }, (_, k) => ({
    name: count === 1 ? "media" : `media-${k + 1}`,
    nodeId: count === 1 ? (id ?? "local-1") : `${id ?? "local"}-${k + 1}`,
    port: base === 0 ? 0 : base + k,
    ...(rtc ? { rtc: { min: rtc.min + k * rtc.size, max: rtc.min + (k + 1) * rtc.size - 1 } } : {}),
  }));
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const host = process.env.HOST ?? "127.0.0.1";
let port: number;
let plan: NodePlan[];
try {
  port = intSetting("PORT", process.env.PORT || "8787", 1, 65535);
  plan = planMediaNodes(process.env, availableParallelism(), port);
} catch (err) {
  if (!(err instanceof StartConfigError)) throw err;
  process.stderr.write(`npm start: ${err.message}\n`);
  process.exit(2);
}
const secret = process.env.MEDIA_NODE_SECRET ?? randomBytes(24).toString("hex");
/** Where the media node and this script reach the worker (loopback when it listens on every address). */
const workerUrl = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
const pretty = process.env.LOG_FORMAT !== "json";
const relayAllowed = process.env.RELAY_ALLOWED_URIS ?? "*";
const auth = process.env.AUTH ?? "off";
const jwtSecret = process.env.AUTH_JWT_SECRET;
const children: ChildProcess[] = [];

const prettify = prettyFactory({ colorize: !!process.stdout.isTTY, singleLine: true, translateTime: "HH:MM:ss.l", ignore: "pid,hostname,svc,time" });
/** The worker's log levels (worker/log.ts) as pino's numbers. */
const LEVELS: Record<string, number> = { debug: 20, info: 30, warn: 40, error: 50 };
/** wrangler's line per heartbeat and leg event of the media node: one a second, nothing to read. */
const NODE_CALL = /\[wrangler:info\] POST \/internal\/nodes\/(heartbeat|events|relay-events) 200 /;

/** A child's output line as shown: JSON log lines (the media node's pino, the worker's log.ts) made readable. */
function show(line: string): string | undefined {
  if (NODE_CALL.test(line)) return undefined;
  if (!pretty) return line;
  const start = line.indexOf("{");
  if (start < 0) return line;
  try {
    const rec = JSON.parse(line.slice(start, line.lastIndexOf("}") + 1)) as Record<string, unknown>;
    if (typeof rec.level === "string") rec.level = LEVELS[rec.level] ?? 30;
    if (rec.msg === undefined && typeof rec.event === "string") {
      rec.msg = rec.event;
      delete rec.event;
    }
    return typeof rec.level === "number" ? prettify(rec).trimEnd() : line;
  } catch {
    return line; // not JSON (wrangler's own lines)
  }
}

/** Width of the process names in front of each line: `worker`, `media`, `media-12` line up. */
const NAME_WIDTH = Math.max(7, ...plan.map((n) => n.name.length + 1));
/** ANSI colours of the media nodes' names on a terminal (the worker's stays plain), one per node in turn. */
const NODE_COLOURS = [36, 32, 33, 35, 34, 96, 92, 93, 95, 94];

/**
 * Starts `node <args>` as a child whose output lines (made readable by {@link show}) are printed with `name` in front,
 * in ANSI colour `colour` on a terminal. When a child exits while nothing is stopping, everything stops (exit 1).
 */
function run(name: string, args: string[], env: NodeJS.ProcessEnv, colour?: number): ChildProcess {
  // a process group of its own: a terminal's Ctrl-C reaches only this script, which stops the children in order
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const label = name.padEnd(NAME_WIDTH);
  const shownLabel = colour !== undefined && pretty && process.stdout.isTTY ? `\x1b[${colour}m${label}\x1b[0m` : label;
  const prefix = (line: string) => `${shownLabel}| ${line}\n`;
  for (const stream of [child.stdout, child.stderr]) {
    let rest = "";
    stream?.on("data", (d: Buffer) => {
      const lines = (rest + d.toString()).split("\n");
      rest = lines.pop() ?? "";
      for (const l of lines) {
        const shown = l.trim() ? show(l) : undefined;
        if (shown) process.stdout.write(prefix(shown));
      }
    });
  }
  child.on("exit", (code, signal) => {
    process.stdout.write(prefix(`exited (${signal ?? code})`));
    if (!stopping) shutdown(1);
  });
  children.push(child);
  return child;
}

const exited = (c: ChildProcess) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once("exit", r)));

let stopping = false;
/**
 * Stops the media nodes first, all at once, and waits for them (up to 3 s): each deregisters from the still running
 * worker, so the next start does not find a node of this run in the persisted registry (no "media node restarted"
 * warning). Then the worker. Anything still running 6 s after the signal is killed.
 */
function shutdown(code = 0): void {
  if (stopping) return;
  stopping = true;
  setTimeout(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    process.exit(code);
  }, 6000).unref();
  void (async () => {
    const [worker, ...nodes] = children;
    for (const n of nodes) n.kill("SIGTERM");
    await Promise.race([Promise.all(nodes.map(exited)), new Promise((r) => setTimeout(r, 3000))]);
    worker?.kill("SIGTERM");
    await Promise.all(children.map(exited));
    process.exit(code);
  })();
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));
// whatever ends this script, no child outlives it
process.on("exit", () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

run(
  "worker",
  [
    join(root, "node_modules/wrangler/bin/wrangler.js"), "dev",
    "--ip", host, "--port", String(port),
    // one state folder per port: two local servers never share (and lock) one SQLite store
    "--persist-to", join(root, `.state/dev-${port}`),
    "--show-interactive-dev-session=false",
    "--var", `MEDIA_NODE_SECRET:${secret}`,
    // development profile: relays may connect anywhere (a deployment lists its peers, RELAY_ALLOWED_URIS)
    "--var", `RELAY_ALLOWED_URIS:${relayAllowed}`,
    // development profile: no access tokens (a deployment keeps AUTH on and configures keys, README "Security")
    "--var", `AUTH:${auth}`,
    ...(jwtSecret ? ["--var", `AUTH_JWT_SECRET:${jwtSecret}`] : []),
  ],
  { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", XDG_CONFIG_HOME: join(root, ".config") },
);

// The media nodes retry their registration until the worker is up.
plan.forEach((n, k) =>
  run(
    n.name,
    ["--import", "tsx", join(root, "media-node/main.ts")],
    {
      WORKER_URL: workerUrl,
      MEDIA_NODE_SECRET: secret,
      MEDIA_NODE_ID: n.nodeId,
      MEDIA_NODE_PORT: String(n.port),
      ...(n.rtc ? { MEDIA_NODE_RTC_PORT_MIN: String(n.rtc.min), MEDIA_NODE_RTC_PORT_MAX: String(n.rtc.max) } : {}),
      // ICE where the worker listens: other devices of the LAN reach the nodes as they reach the page
      MEDIA_NODE_BIND_ADDRESS: process.env.MEDIA_NODE_BIND_ADDRESS ?? host,
      // development profile: Ctrl-C stops the nodes at once (a deployment drains, README "Configuration")
      MEDIA_NODE_DRAIN_TIMEOUT_MS: process.env.MEDIA_NODE_DRAIN_TIMEOUT_MS ?? "0",
    },
    plan.length > 1 ? NODE_COLOURS[k % NODE_COLOURS.length] : undefined,
  ),
);

/** How the media nodes of this run were counted, for the announcement. */
function nodesLine(): string {
  const asked = (process.env.MEDIA_NODES ?? "").trim();
  const why = asked === "" || asked.toLowerCase() === "auto" ? `MEDIA_NODES=auto: one per core, ${availableParallelism()} cores` : `MEDIA_NODES=${asked}`;
  const each = plan.map((n) => `${n.nodeId} :${n.port || "ephemeral"}${n.rtc ? ` udp ${n.rtc.min}-${n.rtc.max}` : ""}`).join(", ");
  return `  ${plan.length} media node${plan.length === 1 ? "" : "s"} (${why}): ${each}\n`;
}

/**
 * Prints the URL to open once the worker answers, then says when every media node of this run is live (the worker's
 * `GET /readyz` counts them).
 */
async function announce(): Promise<void> {
  for (let i = 0; i < 600 && !stopping; i++) {
    try {
      const res = await fetch(workerUrl + "/");
      await res.body?.cancel();
      if (res.ok) {
        const lan = host === "0.0.0.0" ? lanAddresses() : host === "127.0.0.1" || host === "localhost" ? [] : [host];
        process.stdout.write(
          `\n  Open ${workerUrl}/  (WCS WebSocket signaling: ${workerUrl.replace("http", "ws")})  — Ctrl-C stops.\n` +
            (lan.length
              ? `  On the LAN: ${lan.map((a) => `http://${a}:${port}/`).join(", ")} — other devices can play; to publish a camera a\n` +
                `  browser needs https:// (or localhost): put a TLS reverse proxy in front for that.\n`
              : "") +
            `  Development profile: authentication is ${auth === "off" ? "OFF (anyone may publish, play, join and call REST)" : auth} (AUTH);\n` +
            `  relays (/rest-api/pull/*) may connect to ${relayAllowed === "*" ? "any URI" : relayAllowed} (RELAY_ALLOWED_URIS).\n` +
            nodesLine() +
            "\n",
        );
        await announceNodes();
        return;
      }
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
void announce();

/** Waits (up to 2 min) until the worker counts as many live media nodes as this run started, and says so. */
async function announceNodes(): Promise<void> {
  for (let i = 0; i < 480 && !stopping; i++) {
    try {
      const res = await fetch(workerUrl + "/readyz");
      const body = (await res.json()) as { liveNodes?: number };
      if ((body.liveNodes ?? 0) >= plan.length) {
        process.stdout.write(`\n  ${plan.length === 1 ? "The media node is" : `All ${plan.length} media nodes are`} registered.\n\n`);
        return;
      }
    } catch {
      // the worker is reloading
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** This machine's non-internal IPv4 addresses (the URLs to print for HOST=0.0.0.0). */
function lanAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && i.family === "IPv4" && !i.internal)
    .map((i) => i!.address);
}
