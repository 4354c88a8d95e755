/**
 * Upstream repair: which of a publisher's RTP packets to ask for again with generic NACKs (RFC 4585 §6.2.1), and
 * how many of those requests were answered.
 *
 * The publisher leg feeds every RTP sequence number of its video SSRC to {@link NackRequester.onPacket} and, on every
 * packet it receives (audio too, ~50/s), calls {@link NackRequester.collect} for the numbers due now, which it writes
 * into NACK packets (media-node/rtcp.ts writeNack). A number becomes missing when a later one arrives first, and is
 * asked for at once, then again every {@link NackRequester.retryMs} (the measured NACK round trip × 1.5, at least
 * `minRetryMs`) up to `maxRequests` times. It is given up ("unrepaired") when those requests had their time, when it
 * is older than `maxAgeMs` (libwebrtc keeps 1 s of history for resending), or when it leaves the window of
 * `windowSize` sequence numbers behind the highest one. It is "repaired" when it arrives after having been asked for.
 *
 * A libwebrtc sender without RTX negotiated (our answers never offer it) resends the original packet: same SSRC and
 * sequence number, old RTP timestamp. {@link NackRequester.onPacket} tells such a packet from a new one, so that the
 * caller keeps it out of the queue-delay guard (its old timestamp is not queueing) and drops true duplicates.
 *
 * Memory: five typed arrays of `windowSize` entries (26 bytes each: 13 KB for 512), made once. Per packet: O(1)
 * without a gap, O(gap) when one opens; {@link NackRequester.collect} is O(1) until something is due, then scans the
 * missing range (≤ `windowSize`). No allocation after construction, no JSON.
 */

// What NackRequester.onPacket made of a packet (plain numbers, no TS enum: the module stays erasable).
/** In order or ahead (a gap before it, if any, is now missing); also the first packet and a reset. */
export const ARRIVAL_NEW = 0;
/** Was missing, not asked for yet: reordered on the way. */
export const ARRIVAL_FILLED = 1;
/** Was missing and asked for: the answer to a NACK (counted in {@link NackRequester.repaired}). */
export const ARRIVAL_REPAIRED = 2;
/** Already received: drop it. */
export const ARRIVAL_DUPLICATE = 3;
/** Older than what is tracked (behind the window, before the first packet, or given up): cannot tell. */
export const ARRIVAL_OLD = 4;
export type Arrival = typeof ARRIVAL_NEW | typeof ARRIVAL_FILLED | typeof ARRIVAL_REPAIRED | typeof ARRIVAL_DUPLICATE | typeof ARRIVAL_OLD;

export interface NackRequesterOptions {
  /** Clock in ms (default `performance.now`); every method also takes the time as an argument. */
  now?: () => number;
  /** Sequence numbers tracked behind the highest received: a power of two, 32–32768 (default 512). */
  windowSize?: number;
  /** A missing packet is given up this long after its gap was seen, ms (default 1000). */
  maxAgeMs?: number;
  /** NACKs sent for one missing packet at most, 1–255 (default 10, as libwebrtc and mediasoup). */
  maxRequests?: number;
  /** Shortest time between two NACKs of one packet, ms (default 20). */
  minRetryMs?: number;
  /** Round trip assumed until one is measured, ms (default 100, as libwebrtc assumes). */
  initialRttMs?: number;
  /**
   * A jump forward of more than this many sequence numbers is taken as a new start (the sender restarted, or a
   * blackout longer than any history) rather than a gap to ask for: everything pending is given up. Default
   * `windowSize / 2`; at most `windowSize`.
   */
  maxGap?: number;
}

const EMPTY = 0;
const RECEIVED = 1;
const MISSING = 2;
const GIVEN_UP = 3;

/**
 * Tracks one RTP stream's sequence numbers (RFC 3550 §5.1: 16 bits, wrapping) and decides which missing ones to ask
 * for with NACKs and when; counts {@link requested}, {@link repaired} and {@link unrepaired} packets. See the file
 * header for the rules and bounds.
 * @throws RangeError from the constructor on options out of range
 */
export class NackRequester {
  /** Missing packets asked for at least once (each counted once however often it was asked for). */
  requested = 0;
  /** Requested packets that arrived while still tracked. */
  repaired = 0;
  /** Requested packets given up (requests used up, too old, out of the window, reset or {@link close}). */
  unrepaired = 0;
  /** NACK requests sent, retries included (one per sequence number per {@link collect}). */
  requests = 0;
  /** Times the tracker started afresh after a jump (see {@link NackRequesterOptions.maxGap}). */
  resets = 0;
  /** Smoothed time from a NACK to the packet it asked for (requests answered after one NACK only), ms. */
  rttMs: number;

  private readonly clock: () => number;
  private readonly size: number;
  private readonly mask: number;
  private readonly maxAgeMs: number;
  private readonly maxRequests: number;
  private readonly minRetryMs: number;
  private readonly maxGap: number;
  private rttMeasured = false;

  /** Per slot (extended sequence number & mask): which extended number it describes, -1 = none. */
  private readonly slotSeq: Float64Array;
  private readonly state: Uint8Array;
  private readonly nacks: Uint8Array;
  private readonly missingSince: Float64Array;
  private readonly lastNackAt: Float64Array;

  private started = false;
  /** Highest extended sequence number received (starts at 65536 + the first number, so it stays positive). */
  private highest = 0;
  /** Packets missing now. */
  private missing = 0;
  /** No missing packet has an extended number below this. */
  private oldestMissing = 0;
  /** Time the next {@link collect} has something to do (a NACK due or a packet to give up). */
  private dueAt = Infinity;
  /** The last packet found behind the window (RFC 3550 A.1 style probation for a restart behind us), -1 = none. */
  private lastOld = -1;

  constructor(o: NackRequesterOptions = {}) {
    this.clock = o.now ?? (() => performance.now());
    const size = o.windowSize ?? 512;
    if (!(size >= 32 && size <= 32768 && (size & (size - 1)) === 0)) throw new RangeError(`windowSize must be a power of two in 32..32768, got ${size}`);
    this.size = size;
    this.mask = size - 1;
    this.maxAgeMs = o.maxAgeMs ?? 1000;
    this.maxRequests = o.maxRequests ?? 10;
    if (!(this.maxRequests >= 1 && this.maxRequests <= 255)) throw new RangeError(`maxRequests must be in 1..255, got ${this.maxRequests}`);
    this.minRetryMs = o.minRetryMs ?? 20;
    this.rttMs = o.initialRttMs ?? 100;
    this.maxGap = Math.min(o.maxGap ?? size / 2, size);
    if (!(this.maxGap >= 1)) throw new RangeError(`maxGap must be ≥ 1, got ${this.maxGap}`);
    this.slotSeq = new Float64Array(size).fill(-1);
    this.state = new Uint8Array(size);
    this.nacks = new Uint8Array(size);
    this.missingSince = new Float64Array(size);
    this.lastNackAt = new Float64Array(size);
  }

  /** Time between two NACKs of one packet: 1.5 × {@link rttMs}, at least `minRetryMs`, ms. */
  get retryMs(): number {
    const r = this.rttMs * 1.5;
    return r > this.minRetryMs ? r : this.minRetryMs;
  }

  /** Packets missing now (asked for or about to be). */
  get pending(): number {
    return this.missing;
  }

  /**
   * Records the arrival of the packet with RTP sequence number `seq` and says what it was.
   * @param seq 16-bit RTP sequence number
   * @param now ms, on the clock of the other calls
   */
  onPacket(seq: number, now = this.clock()): Arrival {
    seq &= 0xffff;
    if (!this.started) {
      this.start(seq);
      return ARRIVAL_NEW;
    }
    const d = ((seq - (this.highest & 0xffff) + 0x8000) & 0xffff) - 0x8000; // signed 16-bit distance
    if (d > 0) {
      if (d > this.maxGap) {
        this.reset(seq);
        return ARRIVAL_NEW;
      }
      const mask = this.mask;
      for (let e = this.highest + 1; e < this.highest + d; e++) {
        const i = e & mask;
        this.retire(i);
        this.slotSeq[i] = e;
        this.state[i] = MISSING;
        this.nacks[i] = 0;
        this.missingSince[i] = now;
      }
      if (d > 1) {
        if (this.missing === 0) this.oldestMissing = this.highest + 1;
        this.missing += d - 1;
        this.dueAt = now; // ask at once
      }
      this.highest += d;
      const i = this.highest & mask;
      this.retire(i);
      this.slotSeq[i] = this.highest;
      this.state[i] = RECEIVED;
      this.lastOld = -1;
      return ARRIVAL_NEW;
    }
    if (d === 0) return ARRIVAL_DUPLICATE;
    if (-d >= this.size) {
      // behind the window: a straggler, or the sender restarted behind us (then the next packet follows this one)
      if (this.lastOld >= 0 && seq === ((this.lastOld + 1) & 0xffff)) {
        this.reset(seq);
        return ARRIVAL_NEW;
      }
      this.lastOld = seq;
      return ARRIVAL_OLD;
    }
    const e = this.highest + d;
    const i = e & this.mask;
    if (this.slotSeq[i] !== e) return ARRIVAL_OLD; // before the first packet or the last reset
    switch (this.state[i]) {
      case RECEIVED:
        return ARRIVAL_DUPLICATE;
      case MISSING: {
        this.state[i] = RECEIVED;
        this.missing--;
        const n = this.nacks[i]!;
        if (n === 0) return ARRIVAL_FILLED;
        this.repaired++;
        // Karn: a packet asked for more than once does not tell which request it answers
        if (n === 1) this.rttSample(now - this.lastNackAt[i]!);
        return ARRIVAL_REPAIRED;
      }
      case GIVEN_UP:
        this.state[i] = RECEIVED;
        return ARRIVAL_OLD;
      default:
        return ARRIVAL_OLD;
    }
  }

  /**
   * Writes into `out` the sequence numbers to ask for now, ascending in RTP order, and counts them as asked for;
   * gives up what may no longer be asked for. O(1) while nothing is due. When `out` is too small the rest stays due
   * (the next call returns it).
   * @param out room for the numbers (a few hundred is plenty: at most `windowSize` can be missing)
   * @returns how many numbers were written
   */
  collect(out: Uint16Array, now = this.clock()): number {
    if (this.missing === 0 || now < this.dueAt) return 0;
    const retry = this.retryMs;
    const mask = this.mask;
    let next = Infinity;
    let n = 0;
    let oldest = -1;
    let left = this.missing;
    const from = Math.max(this.oldestMissing, this.highest - this.size + 1);
    for (let e = from; e < this.highest && left > 0; e++) {
      const i = e & mask;
      if (this.state[i] !== MISSING || this.slotSeq[i] !== e) continue;
      left--;
      const sent = this.nacks[i]!;
      const last = this.lastNackAt[i]!;
      const giveUpAt = Math.min(this.missingSince[i]! + this.maxAgeMs, sent >= this.maxRequests ? last + retry : Infinity);
      if (now >= giveUpAt) {
        this.giveUp(i);
        continue;
      }
      if (oldest < 0) oldest = e;
      const dueAt = sent === 0 ? this.missingSince[i]! : sent >= this.maxRequests ? Infinity : last + retry;
      if (dueAt <= now) {
        if (n < out.length) {
          out[n++] = e & 0xffff;
          if (sent === 0) this.requested++;
          this.requests++;
          this.nacks[i] = sent + 1;
          this.lastNackAt[i] = now;
          if (now + retry < next) next = now + retry; // the next request, or giving up after the last one
        } else next = now;
      } else if (dueAt < next) next = dueAt;
      if (giveUpAt < next) next = giveUpAt;
    }
    this.oldestMissing = oldest < 0 ? this.highest : oldest;
    this.dueAt = this.missing === 0 ? Infinity : next;
    return n;
  }

  /** Gives up every missing packet (the leg ends): requested ones count as {@link unrepaired}. */
  close(): void {
    this.giveUpAll();
    this.dueAt = Infinity;
  }

  private start(seq: number): void {
    this.started = true;
    this.highest = 0x10000 + seq;
    const i = this.highest & this.mask;
    this.slotSeq[i] = this.highest;
    this.state[i] = RECEIVED;
    this.oldestMissing = this.highest;
    this.lastOld = -1;
  }

  private reset(seq: number): void {
    this.giveUpAll();
    this.slotSeq.fill(-1);
    this.state.fill(EMPTY);
    this.resets++;
    // keep extended numbers increasing across resets (slots are matched by extended number)
    const base = this.highest + this.size + 0x10000;
    this.highest = base - (base & 0xffff) + seq;
    const i = this.highest & this.mask;
    this.slotSeq[i] = this.highest;
    this.state[i] = RECEIVED;
    this.oldestMissing = this.highest;
    this.dueAt = Infinity;
    this.lastOld = -1;
  }

  private giveUpAll(): void {
    if (this.missing === 0) return;
    for (let i = 0; i < this.size; i++) if (this.state[i] === MISSING) this.giveUp(i);
  }

  /** Before slot `i` is reused: a packet still missing there leaves the window. */
  private retire(i: number): void {
    if (this.state[i] === MISSING) this.giveUp(i);
  }

  private giveUp(i: number): void {
    this.state[i] = GIVEN_UP;
    this.missing--;
    if (this.nacks[i]! > 0) this.unrepaired++;
  }

  private rttSample(ms: number): void {
    if (!(ms >= 0)) return;
    this.rttMs = this.rttMeasured ? this.rttMs * 0.875 + ms * 0.125 : ms;
    this.rttMeasured = true;
  }
}
