/**
 * The media node's Prometheus metrics (`GET /metrics`, text exposition format 0.0.4), with prom-client:
 *
 * | metric | type | labels | meaning |
 * |---|---|---|---|
 * | `wcs_media_node_legs` | gauge | `role`, `state` | legs held now (role publisher/player; state new/connected) |
 * | `wcs_media_node_legs_refused_total` | counter | `code` | leg creations refused, by refusal code (`node_full`, `name_in_use`, `invalid_sdp`, …) |
 * | `wcs_media_node_draining` | gauge | | 1 while the node drains |
 * | `wcs_media_node_event_loop_utilization` | gauge | | share of the time since the previous scrape the media event loop was busy (0..1) |
 * | `wcs_media_node_rtp_late_dropped_total` | counter | | publisher RTP dropped because it waited too long in the callback queue (MEDIA_NODE_MAX_QUEUE_DELAY_MS) |
 * | `nodejs_eventloop_lag_p99_seconds` … | gauge | | prom-client default metrics: event-loop lag since the previous scrape, CPU (`process_cpu_seconds_total`), RSS (`process_resident_memory_bytes`), heap, GC |
 *
 * Values are read when scraped (no per-packet work); the lag histogram and the utilization cover the time since the
 * previous scrape, so scrape from one place.
 */
import { performance } from "node:perf_hooks";
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";

/** What the metrics read from the node at scrape time. */
export interface NodeMetricsSource {
  /** Legs held now as [role, state] pairs (one entry per leg). */
  legStates(): Iterable<{ role: string; state: string }>;
  /** Whether the node drains. */
  draining(): boolean;
  /** Publisher RTP packets dropped as late since the node started. */
  lateDropped(): number;
}

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly refused: Counter<"code">;

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
    let lateSeen = 0;
    new Counter({
      name: "wcs_media_node_rtp_late_dropped_total",
      help: "Publisher RTP packets dropped because they waited too long in the engine's callback queue.",
      registers,
      collect() {
        const total = src.lateDropped();
        if (total > lateSeen) this.inc(total - lateSeen);
        lateSeen = Math.max(lateSeen, total);
      },
    });
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
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
