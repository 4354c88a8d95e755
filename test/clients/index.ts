/**
 * Parent side of the Node WCS test clients. Each publisher / player is a child process (wrtc-client.ts, forked with
 * the tsx loader) so that @roamhq/wrtc never runs in the test process. Handles record every stream status, relay
 * IPC commands (stop, dropSocket, stats) and always reap their child: `close()` quits then SIGKILLs after a grace
 * period, and every live child is SIGKILLed when the parent exits (children also exit when the IPC channel closes).
 *
 *   const pub = await spawnPublisher({ url, name: "s1" });
 *   await pub.waitForStatus("PUBLISHING");
 *   const player = await spawnPlayer({ url, name: "s1" });
 *   await player.waitForStatus("PLAYING");
 *   await player.waitForStats((s) => s.uniqueFrames >= 60, 15_000);
 *   await pub.stop(); await pub.waitForStatus("UNPUBLISHED");
 *   await closeAllClients();
 */
import { fork, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { TERMINAL_STATUSES, type StreamStatus } from "../../protocol/index.js";
import type {
  ChildToParent,
  ClientOptions,
  ClientRole,
  ClientStats,
  ParentToChild,
  StartResult,
  StatusEntry,
  StopResult,
} from "./ipc.js";

export * from "./wcs-socket.js";
export type { ClientOptions, ClientRole, ClientStats, RtpCounters, StartResult, StatusEntry, StopResult } from "./ipc.js";
export { markerLatencyMs, pinVp8Bitrate, readMarker, sdpMediaSections, writeMarker } from "./media.js";

const CHILD_SCRIPT = fileURLToPath(new URL("./wrtc-client.ts", import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const OUTPUT_LINES = 400;
const VERBOSE = !!process.env.WCS_CLIENT_VERBOSE;

export interface SpawnOptions extends ClientOptions {
  /** WCS WebSocket URL, e.g. ws://127.0.0.1:8080 */
  url: string;
  /** Stream name. */
  name: string;
  /** Prefix of this client's log lines (default "pub:<name>#n" / "play:<name>#n"). */
  label?: string;
  /** Child start + WebSocket handshake + offer must finish within this (default 20,000 ms). */
  startTimeoutMs?: number;
  /** Extra environment for the child. */
  env?: Record<string, string>;
  /** Run the child in this network namespace (`ip netns exec`; root only; test/harness/netns.ts). */
  netns?: string;
}
export type PublisherSpawnOptions = SpawnOptions;
export type PlayerSpawnOptions = SpawnOptions;

type Command = ParentToChild extends infer M ? (M extends { id: number } ? Omit<M, "id"> : never) : never;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  what: string;
}

const live = new Set<WcsClientHandle>();
let labelCounter = 0;

process.once("exit", () => {
  for (const h of live) h.kill();
});

export class WcsClientHandle {
  /** Every stream status the server sent for this stream, in order. */
  readonly statuses: StatusEntry[] = [];
  /** The child's stdout/stderr and log lines (last 400), prefixed with the label. */
  readonly output: string[] = [];
  mediaSessionId = "";
  /** The publishStream / playStream object as sent (with the offer SDP). */
  request: Record<string, unknown> = {};
  /** The session's `getUserData` object. */
  userData: Record<string, unknown> = {};
  /** The SDP answer from `setRemoteSDP` (as received). */
  answerSdp: string | undefined;
  /** Set when the child's WebSocket closed. */
  socketClose: { code: number; reason: string; t: number } | undefined;
  /** Set when the child exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private readonly pending = new Map<number, Pending>();
  private readonly changeListeners = new Set<() => void>();
  private nextId = 1;
  private readyResolve!: () => void;
  private readonly ready: Promise<void>;

  constructor(
    readonly role: ClientRole,
    readonly name: string,
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    this.ready = new Promise((r) => (this.readyResolve = r));
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        this.addOutput(`[${label}] exited (code ${code}, signal ${signal})`);
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new Error(`${label}: child exited (code ${code}, signal ${signal}) during ${p.what}\n${this.describe()}`));
        }
        this.pending.clear();
        this.changed();
        resolve({ code, signal });
      });
    });
    child.on("message", (m: unknown) => this.onMessage(m as ChildToParent));
    child.on("error", (e) => this.addOutput(`[${label}] process error: ${e.message}`));
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", (line) => this.addOutput(`[${label}] ${line}`));
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exit;
  }

  /** Last status received, or undefined while PENDING. */
  get lastStatus(): string | undefined {
    return this.statuses[this.statuses.length - 1]?.status;
  }

  /**
   * Resolves with the first status entry (past or future) equal to `status` (or one of several). Rejects on timeout,
   * when the child exits, or when a terminal status other than the awaited one arrives; the message lists the
   * statuses seen so far and the child's last output.
   */
  waitForStatus(status: StreamStatus | string | readonly string[], timeoutMs = 15_000): Promise<StatusEntry> {
    const wanted: readonly string[] = typeof status === "string" ? [status] : status;
    const what = wanted.join("|");
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const check = (): boolean => {
        const hit = this.statuses.find((s) => wanted.includes(s.status));
        if (hit) return finish(() => resolve(hit));
        const term = this.statuses.find((s) => TERMINAL_STATUSES.has(s.status as StreamStatus));
        if (term) return finish(() => reject(this.error(`stream ended with ${term.status} while waiting for ${what}`)));
        if (this.exit) return finish(() => reject(this.error(`child exited while waiting for ${what}`)));
        return false;
      };
      const finish = (f: () => void): true => {
        if (timer) clearTimeout(timer);
        this.changeListeners.delete(listener);
        f();
        return true;
      };
      const listener = (): void => void check();
      if (check()) return;
      this.changeListeners.add(listener);
      timer = setTimeout(() => finish(() => reject(this.error(`timed out after ${timeoutMs} ms waiting for status ${what}`))), timeoutMs);
    });
  }

  /** Counters from the child (see {@link ClientStats}). */
  stats(timeoutMs = 5_000): Promise<ClientStats> {
    return this.call<ClientStats>({ type: "stats" }, timeoutMs);
  }

  /** Polls stats() until `predicate` holds; returns those stats. Rejects with the last stats on timeout. */
  async waitForStats(predicate: (s: ClientStats) => boolean, timeoutMs = 15_000, message = "stats condition"): Promise<ClientStats> {
    let last: ClientStats | undefined;
    try {
      return await waitUntil(
        async () => {
          last = await this.stats();
          return predicate(last) ? last : undefined;
        },
        timeoutMs,
        () => `${this.label}: ${message}; last stats: ${JSON.stringify(last && summarizeStats(last))}`,
        250,
      );
    } catch (e) {
      throw this.error((e as Error).message);
    }
  }

  /** Web SDK stream.stop(): sends unPublishStream / stopStream and closes the PeerConnection at once. */
  stop(timeoutMs = 10_000): Promise<StopResult> {
    return this.call<StopResult>({ type: "stop" }, timeoutMs);
  }

  /** Drops the WebSocket abruptly (no close frame) without stopping the stream. */
  async dropSocket(timeoutMs = 5_000): Promise<void> {
    await this.call({ type: "dropSocket" }, timeoutMs);
  }

  /** SIGKILL, no questions asked. */
  kill(): void {
    if (!this.exit) this.child.kill("SIGKILL");
  }

  /** Asks the child to quit (closes its PeerConnection and socket) and waits for its exit; SIGKILL after `graceMs`. */
  async close(graceMs = 3_000): Promise<void> {
    if (this.exit) return;
    if (this.child.connected) this.child.send({ type: "quit", id: this.nextId++ } satisfies ParentToChild, () => undefined);
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** One paragraph for failure messages: statuses, socket, exit, last output lines. */
  describe(lines = 25): string {
    const st = this.statuses.map((s) => s.status + (s.info ? `(${s.info})` : "")).join(", ") || "none";
    const parts = [`${this.label} mediaSessionId=${this.mediaSessionId || "?"} statuses seen: [${st}]`];
    if (this.socketClose) parts.push(`socket closed ${this.socketClose.code} ${this.socketClose.reason}`);
    if (this.exit) parts.push(`exited code=${this.exit.code} signal=${this.exit.signal}`);
    const tail = this.output.slice(-lines);
    return parts.join("; ") + (tail.length ? "\n  " + tail.join("\n  ") : "");
  }

  /** @internal */
  async start(url: string, options: ClientOptions, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await Promise.race([
      this.ready,
      this.exited.then(() => Promise.reject(this.error("child exited before it was ready"))),
      new Promise((_, reject) => setTimeout(() => reject(this.error(`child not ready after ${timeoutMs} ms`)), timeoutMs)),
    ]);
    const res = await this.call<StartResult>(
      { type: "start", url, role: this.role, name: this.name, options },
      Math.max(1_000, deadline - Date.now()),
    );
    this.mediaSessionId = res.mediaSessionId;
    this.request = res.request;
    this.userData = res.userData;
  }

  private call<T>(cmd: Command, timeoutMs: number): Promise<T> {
    if (this.exit || !this.child.connected) return Promise.reject(this.error(`${cmd.type}: child is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(this.error(`${cmd.type}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, what: cmd.type });
      this.child.send({ ...cmd, id } as ParentToChild, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(this.error(`${cmd.type}: IPC send failed: ${err.message}`));
      });
    });
  }

  private onMessage(m: ChildToParent): void {
    switch (m.type) {
      case "ready":
        this.readyResolve();
        break;
      case "reply": {
        const p = this.pending.get(m.id);
        if (!p) break;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.ok) p.resolve(m.result);
        else p.reject(this.error(`${p.what} failed: ${m.error}`));
        break;
      }
      case "status":
        this.statuses.push(m.entry);
        this.addOutput(`[${this.label}] status ${m.entry.status}${m.entry.info ? ` (${m.entry.info})` : ""}`);
        this.changed();
        break;
      case "answer":
        this.answerSdp = m.sdp;
        break;
      case "socketClosed":
        this.socketClose = { code: m.code, reason: m.reason, t: m.t };
        this.addOutput(`[${this.label}] socket closed ${m.code} ${m.reason}`);
        this.changed();
        break;
      case "log":
        this.addOutput(`[${this.label}] ${m.msg}`);
        break;
    }
  }

  private changed(): void {
    for (const l of [...this.changeListeners]) l();
  }

  private addOutput(line: string): void {
    this.output.push(line);
    if (this.output.length > OUTPUT_LINES) this.output.splice(0, this.output.length - OUTPUT_LINES);
    if (VERBOSE) process.stderr.write(line + "\n");
  }

  private error(msg: string): Error {
    return new Error(`${this.label}: ${msg}\n${this.describe()}`);
  }
}

async function spawnClient(role: ClientRole, opts: SpawnOptions): Promise<WcsClientHandle> {
  const { url, name, label, startTimeoutMs = 20_000, env, netns, ...options } = opts;
  const lbl = label ?? `${role === "publisher" ? "pub" : "play"}:${name}#${++labelCounter}`;
  const child = fork(CHILD_SCRIPT, [], {
    // in a namespace: `ip netns exec <ns> node …` (ip execs node in place: same pid, the IPC fd is inherited)
    ...(netns ? { execPath: "ip", execArgv: ["netns", "exec", netns, process.execPath, "--import", TSX_LOADER] } : { execArgv: ["--import", TSX_LOADER] }),
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: { ...process.env, ...env },
    serialization: "json",
  });
  const h = new WcsClientHandle(role, name, lbl, child);
  live.add(h);
  try {
    await h.start(url, options, startTimeoutMs);
  } catch (e) {
    h.kill();
    await Promise.race([h.exited, new Promise((r) => setTimeout(r, 2_000))]);
    throw e;
  }
  return h;
}

/** Starts a publisher child: WCS session + publishStream of a synthetic 640x480 30 fps VP8 video and a 440 Hz tone. */
export function spawnPublisher(opts: PublisherSpawnOptions): Promise<WcsClientHandle> {
  return spawnClient("publisher", opts);
}

/** Starts a player child: WCS session + playStream with recvonly audio and video, decoding and counting frames. */
export function spawnPlayer(opts: PlayerSpawnOptions): Promise<WcsClientHandle> {
  return spawnClient("player", opts);
}

/** Handles whose child is still running. */
export function liveClients(): WcsClientHandle[] {
  return [...live];
}

/** Closes every live client (quit, then SIGKILL after `graceMs`). For afterEach/afterAll. */
export async function closeAllClients(graceMs = 3_000): Promise<void> {
  await Promise.all([...live].map((h) => h.close(graceMs)));
}

/**
 * Polls `fn` every `intervalMs` until it returns a truthy value, which is returned. Thrown errors count as "not yet".
 * On timeout, rejects with `message` plus the last value / error.
 */
export async function waitUntil<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 10_000,
  message: string | (() => string) = "condition not met",
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      lastErr = undefined;
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      lastErr = e;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const msg = typeof message === "function" ? message() : message;
      const why = lastErr ? `last error: ${lastErr instanceof Error ? lastErr.message : String(lastErr)}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`waitUntil: ${msg} (after ${timeoutMs} ms; ${why})`);
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, left)));
  }
}

/** The interesting part of ClientStats on one line (for logs and failure messages). */
export function summarizeStats(s: ClientStats): Record<string, unknown> {
  return s.role === "player"
    ? {
        status: s.status,
        pc: s.pcState,
        frames: s.framesDecoded,
        unique: s.uniqueFrames,
        dup: s.duplicateFrames,
        bad: s.badMarkers,
        idx: [s.minFrameIndex, s.maxFrameIndex],
        sizes: s.sizes,
        latAvg: s.latencyAvgMs === null ? null : Math.round(s.latencyAvgMs),
        latMax: s.latencyMaxMs,
        audioSamples: s.audioSamples,
        audioRms: Math.round(s.audioRmsRecent),
        errors: s.errors,
      }
    : {
        status: s.status,
        pc: s.pcState,
        framesSent: s.framesSent,
        audioChunksSent: s.audioChunksSent,
        video: s.rtp.video,
        errors: s.errors,
      };
}
