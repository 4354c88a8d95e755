/**
 * `npm start`: runs the whole server locally — the worker under `wrangler dev` (http://127.0.0.1:8787, WCS
 * WebSocket signaling on ws://127.0.0.1:8787) and one media node — prints the URL to open, and stops both on Ctrl-C.
 * Logs are human-readable lines (pino-pretty; LOG_FORMAT=json keeps the JSON lines), without the per-second
 * heartbeat request lines.
 *
 * Environment: HOST (default 127.0.0.1; `0.0.0.0` or a LAN address serves other devices: the worker listens there and
 * the media node's ICE binds there — browsers capture a camera only on https:// or localhost, so other devices can
 * play but need HTTPS, e.g. a TLS reverse proxy, to publish), PORT (default 8787), MEDIA_NODE_PORT (default 9000),
 * MEDIA_NODE_SECRET (default: a random one per run, given to both), MEDIA_NODE_BIND_ADDRESS (default: from HOST),
 * RELAY_ALLOWED_URIS (default `*` here, the development profile; a deployment's default is none), AUTH (default
 * `off` here, the development profile: no access tokens; a deployment's default is on), AUTH_JWT_SECRET (passed to
 * the worker when set, e.g. to try AUTH=on with tokens from `wcs-edge token`), MEDIA_NODE_DRAIN_TIMEOUT_MS (default `0`
 * here, the development profile: Ctrl-C stops the media node at once instead of letting its streams drain). Ctrl-C
 * stops both children (SIGTERM) and kills any still running after 3 s.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { networkInterfaces } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { prettyFactory } from "pino-pretty";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const port = Number(process.env.PORT ?? 8787);
const host = process.env.HOST ?? "127.0.0.1";
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

function run(name: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  // a process group of its own: a terminal's Ctrl-C reaches only this script, which stops the children in order
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const prefix = (line: string) => `${name.padEnd(7)}| ${line}\n`;
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
 * Stops the media node first and waits for it: it deregisters from the still running worker, so the next start does
 * not find a node of this run in the persisted registry (no "media node restarted" warning). Then the worker.
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

// The media node retries its registration until the worker is up.
run("media", ["--import", "tsx", join(root, "media-node/main.ts")], {
  WORKER_URL: workerUrl,
  MEDIA_NODE_SECRET: secret,
  MEDIA_NODE_ID: process.env.MEDIA_NODE_ID ?? "local-1",
  MEDIA_NODE_PORT: process.env.MEDIA_NODE_PORT ?? "9000",
  // ICE where the worker listens: other devices of the LAN reach the node as they reach the page
  MEDIA_NODE_BIND_ADDRESS: process.env.MEDIA_NODE_BIND_ADDRESS ?? host,
  // development profile: Ctrl-C stops the node at once (a deployment drains, README "Configuration")
  MEDIA_NODE_DRAIN_TIMEOUT_MS: process.env.MEDIA_NODE_DRAIN_TIMEOUT_MS ?? "0",
});

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
            `  relays (/rest-api/pull/*) may connect to ${relayAllowed === "*" ? "any URI" : relayAllowed} (RELAY_ALLOWED_URIS).\n\n`,
        );
        return;
      }
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
void announce();

/** This machine's non-internal IPv4 addresses (the URLs to print for HOST=0.0.0.0). */
function lanAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && i.family === "IPv4" && !i.internal)
    .map((i) => i!.address);
}
