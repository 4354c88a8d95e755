/**
 * `npm start`: runs the whole server locally — the worker under `wrangler dev` (http://127.0.0.1:8787, WCS
 * WebSocket signaling on ws://127.0.0.1:8787) and one media node — prints the URL to open, and stops both on Ctrl-C.
 *
 * Environment: PORT (default 8787), MEDIA_NODE_PORT (default 9000), MEDIA_NODE_SECRET (default: a random one per
 * run, given to both), MEDIA_NODE_ICE_ADDRESS (default 127.0.0.1; set your LAN address to play from other devices),
 * RELAY_ALLOWED_URIS (default `*` here, the development profile; a deployment's default is none), AUTH (default
 * `off` here, the development profile: no access tokens; a deployment's default is on), AUTH_JWT_SECRET (passed to
 * the worker when set, e.g. to try AUTH=on with tokens from `wcs-edge token`), MEDIA_NODE_DRAIN_TIMEOUT_MS (default `0`
 * here, the development profile: Ctrl-C stops the media node at once instead of letting its streams drain). Ctrl-C
 * stops both children (SIGTERM) and kills any still running after 3 s.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const port = Number(process.env.PORT ?? 8787);
const secret = process.env.MEDIA_NODE_SECRET ?? randomBytes(24).toString("hex");
const workerUrl = `http://127.0.0.1:${port}`;
const relayAllowed = process.env.RELAY_ALLOWED_URIS ?? "*";
const auth = process.env.AUTH ?? "off";
const jwtSecret = process.env.AUTH_JWT_SECRET;
const children: ChildProcess[] = [];

function run(name: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const prefix = (line: string) => `${name.padEnd(7)}| ${line}\n`;
  for (const stream of [child.stdout, child.stderr]) {
    let rest = "";
    stream?.on("data", (d: Buffer) => {
      const lines = (rest + d.toString()).split("\n");
      rest = lines.pop() ?? "";
      for (const l of lines) if (l.trim()) process.stdout.write(prefix(l));
    });
  }
  child.on("exit", (code, signal) => {
    process.stdout.write(prefix(`exited (${signal ?? code})`));
    if (!stopping) shutdown(1);
  });
  children.push(child);
  return child;
}

let stopping = false;
function shutdown(code = 0): void {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill("SIGTERM");
  setTimeout(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    process.exit(code);
  }, 3000).unref();
  Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once("exit", r))))).then(() => process.exit(code));
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

run(
  "worker",
  [
    join(root, "node_modules/wrangler/bin/wrangler.js"), "dev",
    "--ip", "127.0.0.1", "--port", String(port),
    "--persist-to", join(root, ".state/dev"),
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
  // development profile: Ctrl-C stops the node at once (a deployment drains, README "Configuration")
  MEDIA_NODE_DRAIN_TIMEOUT_MS: process.env.MEDIA_NODE_DRAIN_TIMEOUT_MS ?? "0",
});

async function announce(): Promise<void> {
  for (let i = 0; i < 600 && !stopping; i++) {
    try {
      const res = await fetch(workerUrl + "/");
      await res.body?.cancel();
      if (res.ok) {
        process.stdout.write(
          `\n  Open ${workerUrl}/  (WCS WebSocket signaling: ws://127.0.0.1:${port})  — Ctrl-C stops.\n` +
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
