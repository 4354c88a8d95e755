/**
 * A bound on how long a publisher's RTP may wait between the network and the forwarder.
 *
 * node-datachannel hands every received packet to JS through a N-API thread-safe function with an UNLIMITED queue
 * (node-datachannel v0.33 src/cpp/thread-safe-callback.cpp: `tsfn_t::New(..., 0 /* unlimited queue *\/, 1)` and
 * `BlockingCall`). While the media event loop is busy (hundreds of players joining at once), packets pile up there
 * and are forwarded late: issue 10 measured capture-to-decode latency climbing to 0.4–0.9 s. The queue itself is
 * native and cannot be bounded from JS, but how long a packet waited can be estimated from its RTP timestamp: for one
 * SSRC, `arrival time − timestamp / clock rate` is constant up to network jitter and the sender's pacing, and grows
 * by exactly the time a packet sat in the queue. {@link QueueDelayGuard} tracks the smallest such offset over a
 * sliding window (the packet that waited least) and flags packets that arrive more than `maxDelayMs` later than that:
 * they are dropped before the fan-out, which is the costly part (one SRTP encryption and one sendto per player), so
 * a backlog drains in microseconds per packet and the players get current media again at once (video resumes with
 * the keyframe the caller requests).
 *
 * A lasting lateness is not a backlog (a backlog drains fast once its packets are dropped) but a shift of the
 * timestamp/clock relation — the sender's clock jumped back, or its network path got slower: after `rebaseAfterMs`
 * of continuous lateness the guard takes the current offset as the new baseline and forwards again. The window
 * (two halves of `windowMs`) absorbs clock drift between the sender and this machine.
 *
 * Per packet: a few float operations, no allocation. Timestamps are unwrapped (RFC 3550 §5.1: 32-bit, random start).
 */
export interface QueueDelayOptions {
  /** Largest accepted wait beyond the best seen, ms; 0 disables the guard. */
  maxDelayMs: number;
  /** How long the lateness may last before it counts as a new baseline, ms (default 1000). */
  rebaseAfterMs?: number;
  /** Length of one half of the sliding minimum's window, ms (default 10000). */
  windowMs?: number;
}

export class QueueDelayGuard {
  /** Packets flagged late so far. */
  dropped = 0;
  private readonly maxDelayMs: number;
  private readonly rebaseAfterMs: number;
  private readonly windowMs: number;
  /** RTP clock ticks per ms. */
  private readonly ticksPerMs: number;
  private started = false;
  private lastTs = 0;
  /** Unwrapped timestamp of the last packet, ticks. */
  private extTs = 0;
  private minCur = Infinity;
  private minPrev = Infinity;
  private windowStart = 0;
  /** performance.now() of the first late packet of the current late streak; -1 when not late. */
  private lateSince = -1;

  /** @param clockRate the RTP clock rate of the SSRC, Hz (90000 for video, 48000 for opus) */
  constructor(clockRate: number, o: QueueDelayOptions) {
    this.ticksPerMs = clockRate / 1000;
    this.maxDelayMs = o.maxDelayMs;
    this.rebaseAfterMs = o.rebaseAfterMs ?? 1000;
    this.windowMs = o.windowMs ?? 10_000;
  }

  /**
   * Whether a packet with RTP timestamp `ts` arriving at `now` waited too long (the caller drops it).
   * @param ts the packet's RTP timestamp (32-bit unsigned)
   * @param now performance.now(), ms
   */
  late(ts: number, now: number): boolean {
    if (this.maxDelayMs <= 0 || this.ticksPerMs <= 0) return false;
    if (!this.started) {
      this.started = true;
      this.lastTs = ts;
      this.extTs = ts;
      this.windowStart = now;
    } else {
      this.extTs += (ts - this.lastTs) | 0; // signed 32-bit difference: handles the wrap and reordering
      this.lastTs = ts;
    }
    const offset = now - this.extTs / this.ticksPerMs;
    if (now - this.windowStart >= this.windowMs) {
      this.minPrev = this.minCur;
      this.minCur = offset;
      this.windowStart = now;
    } else if (offset < this.minCur) {
      this.minCur = offset;
    }
    const delay = offset - Math.min(this.minCur, this.minPrev);
    if (delay <= this.maxDelayMs) {
      this.lateSince = -1;
      return false;
    }
    if (this.lateSince < 0) this.lateSince = now;
    else if (now - this.lateSince >= this.rebaseAfterMs) {
      this.minCur = this.minPrev = offset;
      this.lateSince = -1;
      return false;
    }
    this.dropped++;
    return true;
  }

  /** Whether the last packet was late (a streak is under way). */
  get inLateStreak(): boolean {
    return this.lateSince >= 0;
  }
}
