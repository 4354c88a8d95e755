/**
 * GOP cache (instant start): per stream, the publisher's video RTP packets from the last keyframe on, so that a new
 * player can be sent them at once and decode a frame without a keyframe request to the publisher. Audio is not
 * cached: a burst of old audio fills the player's audio jitter buffer with seconds of audio that it only slowly plays
 * down (measured with Chromium, docs/media-engine.md "GOP cache (instant start)"), while audio needs no keyframe.
 */
import { rtpSeq, rtpTimestamp } from "../rtcp.js";
import { CODEC_OTHER, isKeyframeStart, type VideoCodecId } from "./keyframes.js";

/** Bounds of a {@link GopCache}. */
export interface GopCacheLimits {
  /**
   * Oldest keyframe a new player is started from, ms: a GOP whose keyframe arrived longer ago than this is not
   * replayed (the player would start that far behind live), and a GOP spanning more RTP time than this stops being
   * cached until the next keyframe. 0 turns the cache off.
   */
  maxAgeMs: number;
  /** Most video bytes (whole RTP packets) one GOP may hold; a larger GOP stops being cached until the next keyframe. */
  maxBytes: number;
  /**
   * Most RTP packets one GOP may hold (the ring's preallocated size); a longer GOP stops being cached until the next
   * keyframe. Default {@link GOP_CACHE_MAX_PACKETS}.
   */
  maxPackets?: number;
}

/**
 * Default packet bound: a burst must fit in a player's NACK history (libdatachannel's RtcpNackResponder keeps the
 * last 512 packets sent, docs/media-engine.md fact 5), with room for the live packets that follow it while the
 * player's NACKs for burst packets lost on the way are on their way back.
 */
export const GOP_CACHE_MAX_PACKETS = 400;

/** Defaults of {@link GopCacheLimits} (MEDIA_NODE_GOP_CACHE_MS / MEDIA_NODE_GOP_CACHE_BYTES, media-node/config.ts). */
export const GOP_CACHE_DEFAULTS: Readonly<Required<GopCacheLimits>> = Object.freeze({
  maxAgeMs: 3000,
  maxBytes: 1 << 20,
  maxPackets: GOP_CACHE_MAX_PACKETS,
});

/** Most packets of a GOP that may be missing at once, waiting to be resent (NACK); more and the GOP is given up. */
const MAX_MISSING = 64;
/**
 * A packet at most this far behind the newest is late (resent, reordered); further behind, the sender's sequence
 * numbers restarted (the publisher leg's NACK window is 512 packets too).
 */
const MAX_LATE = 512;

/** What a {@link GopCache} holds now and has done (for tests, logs and the docs' memory figures). */
export interface GopCacheStats {
  /** Whether a new player would be started from the cache now ({@link GopCache.usable}). */
  usable: boolean;
  /** Packets and bytes of the current GOP (0 when none is cached). */
  packets: number;
  bytes: number;
  /** Age of the cached keyframe, ms; null without one. */
  ageMs: number | null;
  /** Keyframes seen (cache restarts) and GOPs given up (too long, too large, or a sequence gap). */
  keyframes: number;
  dropped: number;
  /** Preallocated ring slots (= maxPackets). */
  capacity: number;
}

/**
 * A ring of Buffer references: positions are monotonic counts (never reused), slot = position % capacity. Holding
 * the Buffers node-datachannel hands to `onMessage` (a fresh copy each, docs/media-engine.md fact 7) costs no copy
 * and no allocation; released slots are set to undefined so the Buffers can be collected.
 */
class Ring {
  readonly slots: (Buffer | undefined)[];
  /** Position of the oldest held packet, and one past the newest. */
  start = 0;
  end = 0;
  /** Bytes of the held packets. */
  bytes = 0;

  constructor(readonly capacity: number) {
    this.slots = new Array<Buffer | undefined>(capacity).fill(undefined);
  }

  get length(): number {
    return this.end - this.start;
  }

  at(pos: number): Buffer {
    return this.slots[pos % this.capacity]!;
  }

  push(buf: Buffer): void {
    if (this.end - this.start === this.capacity) this.dropTo(this.start + 1);
    this.slots[this.end % this.capacity] = buf;
    this.end++;
    this.bytes += buf.length;
  }

  /** Releases every packet before position `pos` (≤ end; a position before start releases nothing). */
  dropTo(pos: number): void {
    if (pos <= this.start) return;
    const cap = this.capacity;
    const slots = this.slots;
    for (let p = this.start; p < pos; p++) {
      const i = p % cap;
      this.bytes -= slots[i]!.length;
      slots[i] = undefined;
    }
    this.start = pos;
  }
}

/**
 * The GOP cache of one stream.
 *
 * Every packet given to {@link pushVideo} is kept from the first packet of the frame (RTP timestamp) that
 * starts the last keyframe ({@link isKeyframeStart}; for H.264 that frame's SPS/PPS packets come first) up to the
 * newest packet. A new keyframe drops the previous GOP. The GOP is given up — nothing is kept but the current frame,
 * until the next keyframe — when it would exceed {@link GopCacheLimits.maxBytes}, {@link GopCacheLimits.maxPackets}
 * or {@link GopCacheLimits.maxAgeMs} of RTP time, when more than 64 of its packets are missing at once, or when the
 * sequence numbers jump back by more than 512 (the sender restarted them). A skipped sequence number (a packet lost
 * upstream or dropped before the router) makes the GOP unusable until that packet arrives (resent after the
 * publisher leg's NACK): a player started from a GOP with a hole could not decode past it.
 *
 * Packets are stored in arrival order, which is the order the players that were already attached received them, so
 * replaying the cache and then forwarding live keeps a new player's sequence numbers contiguous. Buffers are held by
 * reference: callers must not change a Buffer after giving it here (StreamRouter restores the payload-type byte
 * it rewrites before returning, and rewrites a replayed packet the same way).
 *
 * {@link pushVideo} allocates nothing and takes a few integer operations plus a look at the payload header.
 */
export class GopCache {
  readonly limits: Readonly<Required<GopCacheLimits>>;
  private readonly video: Ring;
  private codec: VideoCodecId = CODEC_OTHER;
  /** RTP ticks of maxAgeMs at the video clock rate. */
  private maxAgeTicks = 0;
  /** Whether [gopStart, video.end) is a complete GOP from a keyframe on. */
  private valid = false;
  private gopStart = 0;
  /** RTP timestamp of the keyframe, and when it arrived (clock below). */
  private gopTs = 0;
  private gopAt = 0;
  /** First sequence number of the GOP. */
  private gopSeq = 0;
  /** First packet position of the newest frame, its RTP timestamp and first sequence number. */
  private frameStart = 0;
  private frameTs = 0;
  private frameSeq = 0;
  /** Sequence numbers of the GOP skipped so far and not (yet) resent: the first {@link missingCount} entries. */
  private readonly missing = new Uint16Array(MAX_MISSING);
  private missingCount = 0;
  /** Next expected sequence number, -1 before the first packet. */
  private nextSeq = -1;
  private keyframes = 0;
  private dropped = 0;
  private readonly on: boolean;

  /**
   * @param limits bounds (see {@link GopCacheLimits}; maxAgeMs 0 = off: nothing is stored)
   * @param now clock in ms (default `performance.now`)
   */
  constructor(
    limits: GopCacheLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    const maxPackets = Math.max(0, Math.floor(limits.maxPackets ?? GOP_CACHE_MAX_PACKETS));
    this.limits = { maxAgeMs: Math.max(0, limits.maxAgeMs), maxBytes: Math.max(0, limits.maxBytes), maxPackets };
    this.on = this.limits.maxAgeMs > 0 && this.limits.maxBytes > 0 && maxPackets > 0;
    this.video = new Ring(this.on ? maxPackets : 1);
  }

  /** Whether the cache stores anything at all (limits not 0 and a codec whose keyframes it recognises). */
  get enabled(): boolean {
    return this.on && this.codec !== CODEC_OTHER;
  }

  /**
   * Sets the video codec ({@link videoCodecId}) and its RTP clock rate (Hz); clears the cache. Until it is called,
   * or with {@link CODEC_OTHER}, nothing is cached.
   */
  setVideoCodec(codec: VideoCodecId, clockRate: number): void {
    this.clear();
    this.codec = codec;
    this.maxAgeTicks = Math.floor((this.limits.maxAgeMs * clockRate) / 1000);
  }

  /** Stores one publisher video RTP packet (whole packet, header included), as forwarded. */
  pushVideo(buf: Buffer): void {
    if (this.codec === CODEC_OTHER || !this.on || buf.length < 12) return;
    const v = this.video;
    const seq = rtpSeq(buf);
    const ts = rtpTimestamp(buf);
    const next = this.nextSeq;
    let ahead = next < 0 ? 0 : (seq - next) & 0xffff;
    if (ahead >= 0x8000) {
      if (0x10000 - ahead <= MAX_LATE) {
        // behind the newest packet: resent after a NACK, reordered, or a duplicate. Kept in arrival order (what the
        // attached players got) when it belongs to the GOP; it does not start a frame.
        this.found(seq);
        const from = this.valid ? this.gopSeq : this.frameSeq;
        if (((seq - from) & 0xffff) < 0x8000) this.append(buf);
        return;
      }
      // far behind: the sender's sequence numbers restarted; start over with this packet
      this.giveUp();
      v.dropTo(v.end);
      this.missingCount = 0;
      ahead = 0;
    }
    if (ahead > 0 && !this.lost(next, ahead)) {
      this.giveUp();
      this.missingCount = 0;
    }
    this.nextSeq = (seq + 1) & 0xffff;
    if (v.end === v.start || ts !== this.frameTs) {
      // a new frame: without a GOP only the newest frame is kept (its first packets may precede the keyframe start)
      if (!this.valid) {
        v.dropTo(v.end);
        if (this.missingCount > 0) this.forgetMissingBefore(seq);
      }
      this.frameStart = v.end;
      this.frameTs = ts;
      this.frameSeq = seq;
    }
    if (isKeyframeStart(this.codec, buf) && !(this.valid && this.gopStart === this.frameStart)) {
      // a keyframe starts in this frame: the GOP restarts at the frame's first packet (still held: a frame that
      // filled the ring without a GOP kept only its newest packets)
      this.frameStart = Math.max(this.frameStart, v.start);
      v.dropTo(this.frameStart);
      this.valid = true;
      this.gopStart = this.frameStart;
      this.gopSeq = this.frameSeq;
      this.gopTs = ts;
      this.gopAt = this.now();
      this.keyframes++;
      this.forgetMissingBefore(this.gopSeq);
    }
    if (this.valid && ((ts - this.gopTs) >>> 0) > this.maxAgeTicks) this.giveUp();
    this.append(buf);
  }

  /**
   * Whether a new player should be started from the cache: a GOP from a keyframe on is held, complete (no packet
   * missing: one that was skipped has been resent since), and its keyframe arrived at most `maxAgeMs` ago.
   */
  usable(): boolean {
    return this.valid && this.missingCount === 0 && this.video.length > 0 && this.now() - this.gopAt <= this.limits.maxAgeMs;
  }

  /**
   * Calls `send` with every packet of the cached GOP, oldest first, and returns how many there were (0 when the cache
   * is not {@link usable}). `send` may rewrite a Buffer's bytes if it restores them before returning; it must not
   * push into this cache.
   */
  replay(send: (buf: Buffer) => void): number {
    if (!this.usable()) return 0;
    const v = this.video;
    const end = v.end;
    for (let p = this.gopStart; p < end; p++) send(v.at(p));
    return end - this.gopStart;
  }

  /** Drops everything (the codec and counters are kept). */
  clear(): void {
    this.video.dropTo(this.video.end);
    this.valid = false;
    this.nextSeq = -1;
    this.missingCount = 0;
  }

  get stats(): GopCacheStats {
    const v = this.video;
    return {
      usable: this.usable(),
      packets: this.valid ? v.length : 0,
      bytes: this.valid ? v.bytes : 0,
      ageMs: this.valid ? this.now() - this.gopAt : null,
      keyframes: this.keyframes,
      dropped: this.dropped,
      capacity: v.capacity,
    };
  }

  /** The GOP cannot be replayed: only the newest frame is kept, until a keyframe. */
  private giveUp(): void {
    if (!this.valid) return;
    this.valid = false;
    this.dropped++;
    this.missingCount = 0;
    this.video.dropTo(this.frameStart);
  }

  /** Appends a packet; gives the GOP up when it would exceed maxPackets or maxBytes. */
  private append(buf: Buffer): void {
    const v = this.video;
    if (this.valid && (v.length === v.capacity || v.bytes + buf.length > this.limits.maxBytes)) this.giveUp();
    if (v.length === v.capacity) v.dropTo(v.end); // no GOP, and one frame fills the ring
    v.push(buf);
  }

  /** Notes `count` sequence numbers from `first` as missing; false when that makes more than {@link MAX_MISSING}. */
  private lost(first: number, count: number): boolean {
    if (this.missingCount + count > MAX_MISSING) return false;
    for (let i = 0; i < count; i++) this.missing[this.missingCount++] = (first + i) & 0xffff;
    return true;
  }

  /** A late packet arrived: no longer missing. */
  private found(seq: number): void {
    const m = this.missing;
    for (let i = 0; i < this.missingCount; i++) {
      if (m[i] === seq) {
        m[i] = m[--this.missingCount]!;
        return;
      }
    }
  }

  /** Forgets the missing packets older than `seq` (they belong to the previous GOP). */
  private forgetMissingBefore(seq: number): void {
    const m = this.missing;
    let n = 0;
    for (let i = 0; i < this.missingCount; i++) if (((m[i]! - seq) & 0xffff) < 0x8000) m[n++] = m[i]!;
    this.missingCount = n;
  }
}
