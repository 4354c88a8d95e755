/**
 * The heartbeat sender, run in a worker thread of its own (started by media-node/heartbeat.ts `HeartbeatThread`).
 *
 * The media node's main event loop carries every RTP packet; with enough legs it starves, and heartbeats sent from it
 * would stop although the node is only busy — the registry would then declare it lost and end every stream on it.
 * This thread has its own event loop: it signs and POSTs `NodeHeartbeat`s (protocol/media-node.ts) every
 * `intervalMs` whatever the main loop does. The main loop posts it a {@link NodeSnapshot} (leg counts, held legs,
 * event-loop stats) every ~500 ms; each heartbeat carries the latest one plus its age (`eventLoop.snapshotAgeMs`),
 * so a starved main loop still heartbeats and says that it is starved. The thread owns `seq` (starting at
 * `firstSeq`), reports the worst event-loop figures of the snapshots since its previous heartbeat, and measures the process's CPU (process.cpuUsage is process-wide, also in a thread). The first
 * heartbeat waits for the first snapshot, at most half a period; one sent without a snapshot lists no legs.
 *
 * Messages: main → thread `{type: "snapshot", snapshot}`; thread → main `{type: "seq", seq}` before each POST and
 * `{type: "beat", seq, state, cpuPercent}` after it (`state` "registered" or a failure text, for the main thread's
 * logs). Nothing here touches media or the leg registry.
 */
import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { MediaNodePaths, type NodeHeartbeat } from "../protocol/media-node.js";
import type { HeartbeatThreadConfig, NodeSnapshot, ThreadMessage } from "./heartbeat.js";
import { describeError, signedPost } from "./signed-post.js";

/** CPU use of this process since the previous call, % of one core (process.cpuUsage: user + system µs). */
class CpuMeter {
  private last = process.cpuUsage();
  private lastAt = process.hrtime.bigint();

  sample(): number {
    const now = process.hrtime.bigint();
    const used = process.cpuUsage(this.last);
    const wallUs = Number(now - this.lastAt) / 1000;
    this.last = process.cpuUsage();
    this.lastAt = now;
    if (wallUs <= 0) return 0;
    return Math.max(0, Math.round(((used.user + used.system) / wallUs) * 1000) / 10);
  }
}

/** The package.json `version` the node runs, sent in every heartbeat; undefined when it cannot be read. */
const VERSION: string | undefined = (() => {
  try {
    const v = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: unknown }).version;
    return typeof v === "string" && v.length <= 64 ? v : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * Builds the heartbeat of `snapshot` as of `now` (Date.now(), ms): the snapshot's load and legs, the thread's CPU
 * figure, and the snapshot's age.
 */
export function heartbeatOf(cfg: HeartbeatThreadConfig, snapshot: NodeSnapshot | null, seq: number, cpuPercent: number, now: number): NodeHeartbeat {
  const hb: NodeHeartbeat = {
    nodeId: cfg.nodeId,
    bootId: cfg.bootId,
    controlUrl: cfg.controlUrl,
    load: { ...(snapshot?.counts ?? { publishers: 0, players: 0 }), cpuPercent },
    maxLegs: cfg.maxLegs,
    intervalMs: cfg.intervalMs,
    seq,
    ...(VERSION ? { version: VERSION } : {}),
  };
  // no snapshot yet (the main loop has not answered since the thread started): no legs, so nothing is reconciled
  if (!snapshot) return hb;
  return {
    ...hb,
    ...(snapshot.draining ? { draining: true } : {}),
    legs: snapshot.legs,
    legCount: snapshot.legCount,
    eventLoop: { ...snapshot.eventLoop, snapshotAgeMs: Math.max(0, Math.round(now - snapshot.takenAt)) },
  };
}

function run(port: NonNullable<typeof parentPort>, cfg: HeartbeatThreadConfig): void {
  const cpu = new CpuMeter();
  let snapshot: NodeSnapshot | null = null;
  let seq = cfg.firstSeq - 1;
  let started = false;
  const send = (m: ThreadMessage) => port.postMessage(m);
  const first = setTimeout(() => startBeats(), Math.floor(cfg.intervalMs / 2));

  /** The worst event-loop figures of the snapshots since the last heartbeat (a short spike is not overwritten). */
  let worst: NodeSnapshot["eventLoop"] | null = null;

  port.on("message", (m: { type: "snapshot"; snapshot: NodeSnapshot }) => {
    if (m?.type !== "snapshot") return;
    snapshot = m.snapshot;
    const e = m.snapshot.eventLoop;
    worst = worst
      ? { lagP99Ms: Math.max(worst.lagP99Ms, e.lagP99Ms), lagMaxMs: Math.max(worst.lagMaxMs, e.lagMaxMs), utilization: Math.max(worst.utilization, e.utilization) }
      : { ...e };
    startBeats();
  });

  // up to the registry's loss threshold (3 periods): a heartbeat the worker answers late still counts, while one the
  // node gave up on is cancelled with its request (bench:fanout: an overloaded wrangler dev took over 2 s per call)
  const timeout = Math.min(10_000, Math.max(1000, 3 * cfg.intervalMs));
  const beat = async (): Promise<void> => {
    const beganAt = performance.now();
    const cpuPercent = cpu.sample();
    seq++;
    send({ type: "seq", seq });
    const hb = heartbeatOf(cfg, snapshot && worst ? { ...snapshot, eventLoop: worst } : snapshot, seq, cpuPercent, Date.now());
    worst = null;
    let state = "registered";
    try {
      await signedPost(cfg.secret, cfg.workerUrl + MediaNodePaths.heartbeat, hb, timeout);
    } catch (e) {
      state = describeError(e);
    }
    send({ type: "beat", seq, state, cpuPercent });
    setTimeout(() => void beat(), Math.max(0, cfg.intervalMs - (performance.now() - beganAt)));
  };
  function startBeats(): void {
    if (started) return;
    started = true;
    clearTimeout(first);
    void beat();
  }
}

if (parentPort && workerData && (workerData as { kind?: string }).kind === "wcs-heartbeat") {
  run(parentPort, (workerData as { config: HeartbeatThreadConfig }).config);
}
