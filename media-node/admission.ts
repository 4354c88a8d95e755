/**
 * Admission control by measured load: a node refuses new legs (node_full) while its media event loop is saturated,
 * so the legs it carries keep their delivery and latency instead of every leg degrading together (issue 10: 128
 * players joining at once starved the loop and latency climbed to 0.4–0.9 s).
 *
 * {@link LoadGate} samples the main loop every `periodMs` with the heartbeat's {@link EventLoopMonitor} (the worst
 * delay of the period from perf_hooks.monitorEventLoopDelay and the sampler's own lateness, utilization from
 * performance.eventLoopUtilization) and refuses for a second after any sample over MEDIA_NODE_MAX_LOOP_UTILIZATION
 * or MEDIA_NODE_MAX_LOOP_LAG_MS. This is the default capacity
 * of a node; MEDIA_NODE_MAX_LEGS adds a fixed cap. Most forwarding work is native (SRTP and sendto on
 * libdatachannel's threads), so the loop's health measures what JS can still take on — callbacks, signaling and
 * new legs — which is what overloads first.
 */
import { EventLoopMonitor } from "./heartbeat.js";

export interface LoadGateOptions {
  /** Refuse while the loop is busier than this share of the time (0..1); 1 = never by utilization. */
  maxUtilization: number;
  /** Refuse while the loop's worst lag of a period is above this, ms; 0 = never by lag. */
  maxLagMs: number;
  /** Sampling period, ms (default 500). */
  periodMs?: number;
  /** How long one overloaded sample keeps refusing, ms (default 1000): a loop that just stalled is not well yet. */
  holdMs?: number;
}

export class LoadGate {
  private readonly monitor: EventLoopMonitor;
  private readonly timer: NodeJS.Timeout;
  /** Why the last overloaded sample was over, and until when (performance.now() ms) it keeps refusing. */
  private over: { reason: string; until: number } | undefined;

  constructor(private readonly o: LoadGateOptions) {
    const periodMs = o.periodMs ?? 500;
    this.monitor = new EventLoopMonitor(periodMs);
    this.timer = setInterval(() => this.sample(), periodMs);
    this.timer.unref();
  }

  /** Why a new leg must be refused now ("event loop 95% busy", "event loop lag 420 ms"), or undefined. */
  refusal(): string | undefined {
    if (this.over && performance.now() >= this.over.until) this.over = undefined;
    return this.over?.reason;
  }

  stop(): void {
    clearInterval(this.timer);
    this.monitor.stop();
  }

  private sample(): void {
    // the worst delay of the period: a block lands in the histogram only after the sample that follows it, so
    // EventLoopMonitor folds the sampler's own lateness into the max
    const { utilization, lagMaxMs } = this.monitor.sample();
    const reason =
      this.o.maxUtilization < 1 && utilization > this.o.maxUtilization
        ? `event loop ${Math.round(utilization * 100)}% busy`
        : this.o.maxLagMs > 0 && lagMaxMs > this.o.maxLagMs
          ? `event loop lag ${Math.round(lagMaxMs)} ms`
          : undefined;
    if (reason) this.over = { reason, until: performance.now() + (this.o.holdMs ?? 1000) };
  }
}
