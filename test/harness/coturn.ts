/**
 * coturn (Debian package `coturn`, binary `turnserver`) as the tests' TURN server: one process on a free loopback
 * port, UDP and TCP, with the TURN REST API's shared secret (`use-auth-secret` + `static-auth-secret`, coturn
 * README.turnserver "TURN REST API"), exactly as docs/turn.md configures production but:
 *
 * - `allow-loopback-peers`: the media node and the relay addresses are all 127.0.0.1 here. coturn refuses loopback
 *   peers by default (they would let a client reach services on the TURN host itself), and refuses this option with
 *   an empty CLI password: the CLI is off (`no-cli`) and gets a random password all the same;
 * - `no-tls` / `no-dtls` (no certificate), a temporary pid file and user database, the log on stdout (kept for
 *   failure messages and for the tests that read what coturn refused).
 *
 * The process runs in the foreground as our child and is killed by {@link Coturn.stop} (and at the test process's
 * exit); the package's own service (/etc/init.d/coturn, coturn.service) is never involved.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./cluster.js";

export const TURNSERVER = process.env.TURNSERVER_PATH ?? "turnserver";

/** Whether the `turnserver` binary can be run here. */
export function haveTurnserver(): boolean {
  return spawnSync("sh", ["-c", `command -v ${TURNSERVER}`], { encoding: "utf8" }).status === 0;
}

export interface Coturn {
  /** The listening port (UDP and TCP) on 127.0.0.1. */
  port: number;
  /** The `static-auth-secret` (the worker's TURN_SECRET). */
  secret: string;
  realm: string;
  /** `turn:127.0.0.1:<port>?transport=udp` */
  udpUrl: string;
  /** `turn:127.0.0.1:<port>?transport=tcp` */
  tcpUrl: string;
  /** coturn's log lines so far (the last `last`). */
  logs(last?: number): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

/** Whether a TCP connection to 127.0.0.1:port opens. */
function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Starts coturn; resolves once its TCP listener accepts connections. */
export async function startCoturn(opts: { realm?: string } = {}): Promise<Coturn> {
  const dir = mkdtempSync(join(tmpdir(), "wcs-coturn-"));
  const port = await freePort();
  const secret = randomBytes(24).toString("hex");
  const realm = opts.realm ?? "wcs-edge.test";
  const args = [
    "-n", // no configuration file: everything is here
    "--listening-ip=127.0.0.1",
    "--relay-ip=127.0.0.1",
    `--listening-port=${port}`,
    "--use-auth-secret",
    `--static-auth-secret=${secret}`,
    `--realm=${realm}`,
    "--fingerprint",
    "--allow-loopback-peers",
    "--no-multicast-peers",
    "--no-cli",
    `--cli-password=${randomBytes(16).toString("hex")}`,
    "--no-tls",
    "--no-dtls",
    "--no-software-attribute",
    `--pidfile=${join(dir, "turnserver.pid")}`,
    `--db=${join(dir, "turndb")}`,
    "--log-file=stdout",
    "--simple-log",
    "--verbose",
  ];
  const child = spawn(TURNSERVER, args, { stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  const lines: string[] = [];
  const push = (d: Buffer): void => {
    for (const line of d.toString().split("\n")) if (line.trim()) lines.push(`[coturn] ${line}`);
    if (lines.length > 3000) lines.splice(0, lines.length - 3000);
  };
  child.stdout?.on("data", push);
  child.stderr?.on("data", push);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = true;
      live.delete(child);
      lines.push(`[coturn] exited (code ${code}, signal ${signal})`);
      resolve();
    }),
  );
  child.once("error", (e) => lines.push(`[coturn] ${e.message}`));
  const logs = (last = 200): string => lines.slice(-last).join("\n");

  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exit;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 15_000;
  while (!(await tcpOpen(port))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`coturn did not start on 127.0.0.1:${port}\n${logs()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    secret,
    realm,
    udpUrl: `turn:127.0.0.1:${port}?transport=udp`,
    tcpUrl: `turn:127.0.0.1:${port}?transport=tcp`,
    logs,
    stop,
  };
}
