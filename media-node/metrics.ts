/**
 * The media node's Prometheus metrics (`GET /metrics`, text exposition format 0.0.4), with prom-client:
 *
 * | metric | type | labels | meaning |
 * |---|---|---|---|
 * | `wcs_media_node_legs` | gauge | `role`, `state` | legs held now (role publisher/player; state new/connected) |
 * | `wcs_media_node_legs_refused_total` | counter | `code` | leg creations refused, by refusal code (`node_full`, `name_in_use`, `invalid_sdp`, …) |
 * | `wcs_media_node_draining` | gauge | | 1 while the node drains |
 * | `wcs_media_node_event_loop_utilization` | gauge | | share of the time since the previous scrape the media event loop was busy (0..1) |
 * | `wcs_media_node_packets_total`, `wcs_media_node_bytes_total` | counter | `direction` (in, out) | RTP + RTCP packets and their bytes received from clients / sent to them (before SRTP) |
 * | `wcs_media_node_rtp_lost_total` | counter | | RTP lost between publishers and the node (sequence gaps, RFC 3550 §6.4.1) |
 * | `wcs_media_node_rtp_late_dropped_total` | counter | | publisher RTP dropped because it waited too long in the callback queue (MEDIA_NODE_MAX_QUEUE_DELAY_MS) |
 * | `wcs_media_node_keyframe_requests_total` | counter | `outcome` (sent, coalesced) | keyframe requests of players (PLI/FIR, new players): sent to the publisher, or coalesced by the throttle |
 * | `wcs_media_node_nack_requested_total` | counter | | publisher video packets found missing and asked for again with generic NACKs (each packet once, retries not counted) |
 * | `wcs_media_node_nack_repaired_total` | counter | | of those, packets that then arrived |
 * | `wcs_media_node_nack_unrepaired_total` | counter | | of those, packets given up (requests used up, over 1 s old, or the leg ended); requested − repaired − unrepaired are still pending |
 * | `wcs_media_node_recordings` | gauge | | recordings held now: waiting for their leg, recording, or finishing their upload |
 * | `wcs_media_node_recordings_started_total` | counter | | recordings started (WCS `record: true` once the leg connects, or on demand) |
 * | `wcs_media_node_recordings_declined_total` | counter | `code` | recordings declined: `node_full` (MEDIA_NODE_MAX_RECORDINGS, low spool disk), `not_configured` (no ffmpeg), `conflict` (no codec, recorded already) |
 * | `wcs_media_node_recordings_ended_total` | counter | `outcome` (completed, aborted, failed) | recordings ended: stored, nothing to store, or failed (ffmpeg, spool file or upload; the worker keeps what was uploaded) |
 * | `wcs_media_node_recorded_bytes_total` | counter | | bytes of the recordings that ended (their files' sizes) |
 * | `wcs_media_node_snapshots_total` | counter | `outcome` (taken, or the refusal code: conflict, node_full, timeout, error) | snapshot requests and how they ended |
 * | `nodejs_eventloop_lag_p99_seconds` … | gauge | | prom-client default metrics: event-loop lag since the previous scrape, CPU (`process_cpu_seconds_total`), RSS (`process_resident_memory_bytes`), heap, GC |
 *
 * Values are read when scraped (no per-packet work beyond the legs' own counters); the lag histogram and the
 * utilization cover the time since the previous scrape, so scrape from one place. NACKs are answered by
 * libdatachannel's RtcpNackResponder in native code, which exposes no count; the `nack_*` counters are about the NACKs
 * the node sends to publishers (engine/nack-requester.ts).
 */
import { performance } from "node:perf_hooks";
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { LegTotals } from "./legs.js";

/** What the metrics read from the node at scrape time. */
export interface NodeMetricsSource {
  /** Legs held now as [role, state] pairs (one entry per leg). */
  legStates(): Iterable<{ role: string; state: string }>;
  /** Whether the node drains. */
  draining(): boolean;
  /** The legs' counters since the node started (LegManager.totals). */
  totals(): LegTotals;
  /** Recordings held now (media-node/recordings.ts Recordings.count); none when absent. */
  recordings?(): number;
}

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly refused: Counter<"code">;
  private readonly recordingsStarted: Counter;
  private readonly recordingsDeclined: Counter<"code">;
  private readonly recordingsEnded: Counter<"outcome">;
  private readonly recordedBytes: Counter;
  private readonly snapshots: Counter<"outcome">;
  private readonly resetTotals: () => void;

  constructor(src: NodeMetricsSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    new Gauge({
      name: "wcs_media_node_legs",
      help: "Legs held now, by role and state.",
      labelNames: ["role", "state"] as const,
      registers,
      collect() {
        this.reset();
        for (const l of src.legStates()) this.inc({ role: l.role, state: l.state });
      },
    });
    new Gauge({
      name: "wcs_media_node_draining",
      help: "1 while the node drains (no new publishers; legs end at the drain deadline).",
      registers,
      collect() {
        this.set(src.draining() ? 1 : 0);
      },
    });
    let elu = performance.eventLoopUtilization();
    new Gauge({
      name: "wcs_media_node_event_loop_utilization",
      help: "Share of the time since the previous scrape the media event loop was busy (0..1).",
      registers,
      collect() {
        const now = performance.eventLoopUtilization();
        this.set(performance.eventLoopUtilization(now, elu).utilization);
        elu = now;
      },
    });
    // counters read as totals at scrape time: each scrape adds what grew since the previous one
    let totals: LegTotals | undefined;
    const read = (): LegTotals => (totals ??= src.totals());
    const counter = <L extends string>(name: string, help: string, labelNames: L[], values: (t: LegTotals) => Array<[Partial<Record<L, string>>, number]>) => {
      const seen = new Map<string, number>();
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          for (const [labels, total] of values(read())) {
            const key = JSON.stringify(labels);
            const before = seen.get(key) ?? 0;
            if (total > before) this.inc(labels, total - before);
            else if (before === 0) this.inc(labels, 0); // present from the first scrape
            seen.set(key, Math.max(before, total));
          }
        },
      });
    };
    counter("wcs_media_node_packets_total", "RTP and RTCP packets received from / sent to clients.", ["direction"], (t) => [
      [{ direction: "in" }, t.packetsIn],
      [{ direction: "out" }, t.packetsOut],
    ]);
    counter("wcs_media_node_bytes_total", "Bytes of the RTP and RTCP packets received from / sent to clients (before SRTP).", ["direction"], (t) => [
      [{ direction: "in" }, t.bytesIn],
      [{ direction: "out" }, t.bytesOut],
    ]);
    counter("wcs_media_node_rtp_lost_total", "RTP packets lost between publishers and this node (sequence gaps).", [], (t) => [[{}, t.packetsLost]]);
    counter("wcs_media_node_rtp_late_dropped_total", "Publisher RTP packets dropped because they waited too long in the engine's callback queue.", [], (t) => [[{}, t.packetsLate]]);
    counter("wcs_media_node_keyframe_requests_total", "Keyframe requests of players: sent to the publisher, or coalesced by the throttle.", ["outcome"], (t) => [
      [{ outcome: "sent" }, t.keyframesSent],
      [{ outcome: "coalesced" }, Math.max(0, t.keyframesRequested - t.keyframesSent)],
    ]);
    counter("wcs_media_node_nack_requested_total", "Publisher video packets found missing and asked for again with generic NACKs (each once).", [], (t) => [[{}, t.nackRequested]]);
    counter("wcs_media_node_nack_repaired_total", "Publisher video packets asked for with NACKs that then arrived.", [], (t) => [[{}, t.nackRepaired]]);
    counter("wcs_media_node_nack_unrepaired_total", "Publisher video packets asked for with NACKs and given up.", [], (t) => [[{}, t.nackUnrepaired]]);
    // one totals() per scrape: the first collect reads it, render() clears it
    this.resetTotals = () => (totals = undefined);
    this.refused = new Counter({
      name: "wcs_media_node_legs_refused_total",
      help: "Leg creations refused, by refusal code.",
      labelNames: ["code"] as const,
      registers,
    });
    new Gauge({
      name: "wcs_media_node_recordings",
      help: "Recordings held now: waiting for their leg, recording, or finishing their upload.",
      registers,
      collect() {
        this.set(src.recordings?.() ?? 0);
      },
    });
    this.recordingsStarted = new Counter({ name: "wcs_media_node_recordings_started_total", help: "Recordings started (record: true once the leg connects, or on demand).", registers });
    this.recordingsDeclined = new Counter({
      name: "wcs_media_node_recordings_declined_total",
      help: "Recordings declined, by refusal code (node_full, not_configured, conflict).",
      labelNames: ["code"] as const,
      registers,
    });
    this.recordingsEnded = new Counter({
      name: "wcs_media_node_recordings_ended_total",
      help: "Recordings ended: completed (stored), aborted (nothing to store) or failed.",
      labelNames: ["outcome"] as const,
      registers,
    });
    for (const outcome of ["completed", "aborted", "failed"]) this.recordingsEnded.inc({ outcome }, 0);
    this.recordedBytes = new Counter({ name: "wcs_media_node_recorded_bytes_total", help: "Bytes of the recordings that ended (their files' sizes).", registers });
    this.snapshots = new Counter({
      name: "wcs_media_node_snapshots_total",
      help: "Snapshot requests by outcome: taken, or the refusal code (conflict, node_full, timeout, error).",
      labelNames: ["outcome"] as const,
      registers,
    });
  }

  /** What {@link Recordings} reports (media-node/recordings.ts RecordingEvents). */
  readonly recordingEvents = {
    started: () => this.recordingsStarted.inc(),
    declined: (code: string) => this.recordingsDeclined.inc({ code }),
    ended: (outcome: string, bytes: number) => {
      this.recordingsEnded.inc({ outcome });
      this.recordedBytes.inc(bytes);
    },
  };

  /** Counts one snapshot request: `outcome` "taken" or its refusal code. */
  snapshot(outcome: string): void {
    this.snapshots.inc({ outcome });
  }

  /** Counts one refused leg creation. */
  legRefused(code: string): void {
    this.refused.inc({ code });
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ body: string; contentType: string }> {
    this.resetTotals();
    try {
      return { body: await this.registry.metrics(), contentType: this.registry.contentType };
    } finally {
      this.resetTotals();
    }
  }
}
