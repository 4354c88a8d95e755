/**
 * Liveness that load cannot fake: the main-thread side of the heartbeat thread (media-node/heartbeat-thread.ts).
 *
 * `HeartbeatThread` starts a worker thread that POSTs the node's heartbeats on its own timer, and feeds it a
 * {@link NodeSnapshot} from the main (media) event loop every `snapshotMs`: leg counts, the legs held
 * (protocol/media-node.ts HeldLeg, at most MAX_HEARTBEAT_LEGS) and the loop's own health measured by
 * {@link EventLoopMonitor}. A main loop that starves (hundreds of players joining at once) delays only the snapshot;
 * the heartbeats keep coming with a growing `eventLoop.snapshotAgeMs`, so the registry does not declare a busy node
 * lost. A thread that dies is restarted after 1 s with `seq` above every one it may have sent.
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from "node:perf_hooks";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { EventLoopStats, HeldLeg, NodeLoad } from "../protocol/media-node.js";

/** What the heartbeat thread needs to sign and send heartbeats. */
export interface HeartbeatThreadConfig {
  /** Base URL of the worker, without trailing slash. */
  workerUrl: string;
  /** Shared HMAC secret (MEDIA_NODE_SECRET). */
  secret: string;
  nodeId: string;
  bootId: string;
  controlUrl: string;
  /** Heartbeat period, ms. */
  intervalMs: number;
  /** Announced leg cap; 0 = none. */
  maxLegs: number;
  /** `seq` of the thread's first heartbeat (1 for a new incarnation). */
  firstSeq: number;
}

/** The main loop's view of the node, posted to the heartbeat thread. */
export interface NodeSnapshot {
  /** Date.now() when taken, ms. */
  takenAt: number;
  counts: Omit<NodeLoad, "cpuPercent">;
  /** Held legs, oldest first, at most MAX_HEARTBEAT_LEGS. */
  legs: HeldLeg[];
  /** All legs held (more than `legs.length` when the list was cut). */
  legCount: number;
  eventLoop: Omit<EventLoopStats, "snapshotAgeMs">;
  /** The node is draining (heartbeat `draining`). */
  draining?: boolean;
}

/** Thread → main messages. */
export type ThreadMessage = { type: "seq"; seq: number } | { type: "beat"; seq: number; state: string; cpuPercent: number };

/**
 * Event-loop delay (perf_hooks.monitorEventLoopDelay, 10 ms resolution) and utilization
 * (performance.eventLoopUtilization) of the thread that creates it, per sampling period. Call {@link sample} from
 * that thread every `periodMs`; each call covers the time since the previous one. A single long block may land in
 * the histogram after the sample that follows it, so the sampler's own lateness counts as lag too.
 */
export class EventLoopMonitor {
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  private lastAt = performance.now();

  /** @param periodMs how often {@link sample} is meant to be called, ms */
  constructor(private readonly periodMs = 500) {
    this.delay.enable();
  }

  /** Lag p99 / max in ms and the busy share (0..1) since the previous sample; resets the histogram. */
  sample(): Omit<EventLoopStats, "snapshotAgeMs"> {
    const elu = performance.eventLoopUtilization(this.lastElu);
    this.lastElu = performance.eventLoopUtilization();
    // the histogram is in ns and includes the resolution itself (a timer that fired on time shows ~10 ms)
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.max(0, Math.round(ns / 1e5) / 10) : 0);
    const now = performance.now();
    const late = Math.max(0, Math.round(now - this.lastAt - this.periodMs));
    this.lastAt = now;
    const stats = {
      lagP99Ms: this.delay.count > 0 ? ms(this.delay.percentile(99)) : 0,
      lagMaxMs: Math.max(this.delay.count > 0 ? ms(this.delay.max) : 0, late),
      utilization: Math.min(1, Math.max(0, Math.round(elu.utilization * 1000) / 1000)),
    };
    this.delay.reset();
    return stats;
  }

  stop(): void {
    this.delay.disable();
  }
}

export interface HeartbeatThreadOptions {
  config: Omit<HeartbeatThreadConfig, "firstSeq">;
  /** The node's legs and counts now (called on the main thread every `snapshotMs`). */
  snapshot: () => Pick<NodeSnapshot, "counts" | "legs" | "legCount" | "draining">;
  /** How often the main loop posts a snapshot, ms (default min(500, intervalMs / 2)). */
  snapshotMs?: number;
  /** After each heartbeat: "registered" or why it failed (e.g. "unreachable (ECONNREFUSED)"). */
  onBeat?: (state: string) => void;
  log: Logger;
}

/** The file URL of tsx's ESM API (`tsx/esm/api`, import condition), resolved from here whatever the cwd. */
function tsxEsmApi(): string {
  const pkgFile = createRequire(import.meta.url).resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(pkgFile), pkg.exports["./esm/api"]!.import.default)).href;
}

/** Where the thread's code is, and how to start it (through tsx when this file runs as TypeScript). */
function threadEntry(): { script: string | URL; eval: boolean } {
  const ts = import.meta.url.endsWith(".ts");
  const file = new URL(`./heartbeat-thread.${ts ? "ts" : "js"}`, import.meta.url);
  if (!ts) return { script: file, eval: false };
  // Node 20 does not pass the parent's module hooks (`--import tsx`) to worker threads: register tsx in the thread.
  const api = tsxEsmApi();
  return {
    script: `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(file.href)}); })`,
    eval: true,
  };
}

/** Runs the heartbeat thread and feeds it snapshots; see the file header. */
export class HeartbeatThread {
  private worker: Worker | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly loop: EventLoopMonitor;
  private readonly snapshotMs: number;
  /** Highest `seq` the thread announced. */
  private lastSeq = 0;
  private lastCpu = 0;

  constructor(private readonly o: HeartbeatThreadOptions) {
    this.snapshotMs = o.snapshotMs ?? Math.max(50, Math.min(500, Math.floor(o.config.intervalMs / 2)));
    this.loop = new EventLoopMonitor(this.snapshotMs);
  }

  /** CPU of the whole process over the last heartbeat period, % of one core. */
  get cpuPercent(): number {
    return this.lastCpu;
  }

  /** Starts the thread (first heartbeat at once) and the snapshots. Idempotent. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.spawn();
    this.snapshotTimer = setInterval(() => this.post(), this.snapshotMs);
  }

  /** Stops heartbeats at once (the thread is terminated). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.snapshotTimer);
    clearTimeout(this.restartTimer);
    this.loop.stop();
    const w = this.worker;
    this.worker = undefined;
    void w?.terminate();
  }

  private spawn(): void {
    const entry = threadEntry();
    const w = new Worker(entry.script, {
      eval: entry.eval,
      workerData: { kind: "wcs-heartbeat", config: { ...this.o.config, firstSeq: this.lastSeq + 1 } satisfies HeartbeatThreadConfig },
      // the media node's own flags (e.g. --import tsx) are not for the thread
      execArgv: [],
      name: "heartbeat",
    });
    this.worker = w;
    w.on("message", (m: ThreadMessage) => {
      if (m.type === "seq") this.lastSeq = Math.max(this.lastSeq, m.seq);
      else {
        this.lastCpu = m.cpuPercent;
        this.o.onBeat?.(m.state);
      }
    });
    w.on("error", (err) => this.o.log.error({ err }, "heartbeat thread failed"));
    w.on("exit", (code) => {
      if (this.worker !== w || this.stopped) return;
      this.worker = undefined;
      this.o.log.error({ code, lastSeq: this.lastSeq }, "heartbeat thread exited; restarting in 1 s");
      this.restartTimer = setTimeout(() => {
        if (!this.stopped) this.spawn();
      }, 1000);
    });
    this.post();
  }

  /** Posts a fresh snapshot to the thread (main thread; a few µs plus one array of held legs). */
  private post(): void {
    const w = this.worker;
    if (!w) return;
    const s = this.o.snapshot();
    const snapshot: NodeSnapshot = { takenAt: Date.now(), ...s, eventLoop: this.loop.sample() };
    w.postMessage({ type: "snapshot", snapshot });
  }
}
