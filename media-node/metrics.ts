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
}

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly refused: Counter<"code">;
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
