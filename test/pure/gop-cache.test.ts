/**
 * GopCache (media-node/engine/gop-cache.ts): the video packets from the last keyframe on, restarted at each
 * keyframe (at the first packet of the keyframe's frame), bounded by packets, bytes and time, across sequence-number
 * and timestamp wraps, with holes tracked until the missing packet is resent. Packets are hand-built VP8 / H.264 RTP
 * packets; the clock is injected.
 */
import { describe, expect, it } from "vitest";
import { GOP_CACHE_DEFAULTS, GOP_CACHE_MAX_PACKETS, GopCache, type GopCacheLimits } from "../../media-node/engine/gop-cache.js";
import { CODEC_H264, CODEC_OTHER, CODEC_VP8, type VideoCodecId } from "../../media-node/engine/keyframes.js";

const VP8_KEY = [0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
const VP8_KEY_CONT = [0x80, 0x80, 0x81, 0x23, 0xaa]; // S=0: a later packet of the same frame
const VP8_DELTA = [0x90, 0x80, 0x81, 0x24, 0x11, 0x02, 0x00];
const VP8_DELTA_CONT = [0x80, 0x80, 0x81, 0x24, 0xbb];

/** A video RTP packet: PT 96, SSRC 0x1234, `payload` padded to `size` bytes (default: just the payload). */
function pkt(seq: number, ts: number, payload: number[], size = 0): Buffer {
  const b = Buffer.alloc(Math.max(12 + payload.length, size));
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(0x1234, 8);
  Buffer.from(payload).copy(b, 12);
  return b;
}

const seqOf = (b: Buffer) => b.readUInt16BE(2);

/** A cache on VP8 (90 kHz) with a clock the test moves. */
function makeCache(limits: Partial<GopCacheLimits> = {}, codec: VideoCodecId = CODEC_VP8) {
  const clock = { now: 0 };
  const cache = new GopCache({ ...GOP_CACHE_DEFAULTS, ...limits }, () => clock.now);
  cache.setVideoCodec(codec, 90_000);
  const replayed = (): Buffer[] => {
    const out: Buffer[] = [];
    cache.replay((b) => out.push(b));
    return out;
  };
  return { cache, clock, replayed };
}

/**
 * Feeds frames of `perFrame` packets (30 fps: 3000 ticks apart) from `seq`/`ts`; frame i is a keyframe when
 * `key(i)`. Returns every packet pushed and the next seq/ts.
 */
function feed(cache: GopCache, o: { seq: number; ts: number; frames: number; perFrame?: number; key?: (i: number) => boolean; size?: number }) {
  const pushed: Buffer[] = [];
  let { seq, ts } = o;
  for (let i = 0; i < o.frames; i++) {
    const isKey = o.key?.(i) ?? false;
    for (let p = 0; p < (o.perFrame ?? 2); p++) {
      const payload = p === 0 ? (isKey ? VP8_KEY : VP8_DELTA) : isKey ? VP8_KEY_CONT : VP8_DELTA_CONT;
      const b = pkt(seq, ts, payload, o.size);
      cache.pushVideo(b);
      pushed.push(b);
      seq = (seq + 1) & 0xffff;
    }
    ts = (ts + 3000) >>> 0;
  }
  return { pushed, seq, ts };
}

describe("GopCache", () => {
  it("holds nothing replayable before the first keyframe", () => {
    const { cache, replayed } = makeCache();
    feed(cache, { seq: 100, ts: 0, frames: 10 });
    expect(cache.usable()).toBe(false);
    expect(replayed()).toEqual([]);
    expect(cache.stats).toMatchObject({ usable: false, packets: 0, bytes: 0, ageMs: null, keyframes: 0 });
  });

  it("keeps every packet from the keyframe's first packet on, as the same Buffers, in order", () => {
    const { cache, replayed } = makeCache();
    const before = feed(cache, { seq: 100, ts: 0, frames: 3 });
    const gop = feed(cache, { seq: before.seq, ts: before.ts, frames: 5, key: (i) => i === 0 });
    expect(cache.usable()).toBe(true);
    const out = replayed();
    expect(out.length).toBe(gop.pushed.length);
    out.forEach((b, i) => expect(b).toBe(gop.pushed[i])); // by reference: no copy
    expect(cache.stats).toMatchObject({ usable: true, packets: 10, bytes: gop.pushed.reduce((n, b) => n + b.length, 0), keyframes: 1 });
  });

  it("a new keyframe restarts the cache", () => {
    const { cache, replayed } = makeCache();
    const first = feed(cache, { seq: 1, ts: 0, frames: 4, key: (i) => i === 0 });
    const second = feed(cache, { seq: first.seq, ts: first.ts, frames: 3, key: (i) => i === 0 });
    expect(replayed().map(seqOf)).toEqual(second.pushed.map(seqOf));
    expect(cache.stats.keyframes).toBe(2);
  });

  it("H.264: the GOP starts at the first packet of the keyframe's frame (SPS/PPS before the IDR)", () => {
    const { cache, replayed } = makeCache({}, CODEC_H264);
    const ts = 90_000;
    const delta = pkt(9, ts - 3000, [0x41, 0x9a]);
    const sei = pkt(10, ts, [0x06, 0x05, 0x01]); // same frame, before the SPS
    const sps = pkt(11, ts, [0x67, 0x42, 0xc0, 0x1f]);
    const pps = pkt(12, ts, [0x68, 0xce, 0x3c, 0x80]);
    const idr1 = pkt(13, ts, [0x7c, 0x85, 0x88]); // FU-A start of an IDR: must not restart a second time
    const idr2 = pkt(14, ts, [0x7c, 0x45, 0x88]);
    const next = pkt(15, ts + 3000, [0x41, 0x9a]);
    for (const b of [delta, sei, sps, pps, idr1, idr2, next]) cache.pushVideo(b);
    expect(replayed()).toEqual([sei, sps, pps, idr1, idr2, next]);
    expect(cache.stats.keyframes).toBe(1);
  });

  it("sequence numbers and timestamps wrap", () => {
    const { cache, replayed } = makeCache();
    const gop = feed(cache, { seq: 65_530, ts: 0xffff_ff00, frames: 8, key: (i) => i === 0 });
    expect(gop.seq).toBe(65_530 + 16 - 65_536);
    expect(cache.usable()).toBe(true);
    expect(replayed().map(seqOf)).toEqual(gop.pushed.map(seqOf));
    expect(replayed().map(seqOf)).toContain(0);
  });

  describe("bounds", () => {
    it("a GOP over maxPackets is given up until the next keyframe", () => {
      const { cache, replayed } = makeCache({ maxPackets: 10 });
      expect(cache.stats.capacity).toBe(10);
      const a = feed(cache, { seq: 1, ts: 0, frames: 5, key: (i) => i === 0 }); // exactly 10 packets
      expect(cache.usable()).toBe(true);
      const b = feed(cache, { seq: a.seq, ts: a.ts, frames: 1 }); // the 11th
      expect(cache.usable()).toBe(false);
      expect(cache.stats).toMatchObject({ packets: 0, dropped: 1 });
      const c = feed(cache, { seq: b.seq, ts: b.ts, frames: 2, key: (i) => i === 0 });
      expect(replayed().map(seqOf)).toEqual(c.pushed.map(seqOf));
    });

    it("a GOP over maxBytes is given up", () => {
      const { cache } = makeCache({ maxBytes: 10_000 });
      const a = feed(cache, { seq: 1, ts: 0, frames: 4, key: (i) => i === 0, size: 1200 }); // 9600 bytes
      expect(cache.usable()).toBe(true);
      expect(cache.stats.bytes).toBe(9600);
      feed(cache, { seq: a.seq, ts: a.ts, frames: 1, size: 1200 });
      expect(cache.usable()).toBe(false);
      expect(cache.stats.dropped).toBe(1);
    });

    it("a GOP spanning more than maxAgeMs of RTP time is given up", () => {
      const { cache } = makeCache({ maxAgeMs: 1000 });
      // 30 frames at 3000 ticks = 87 000 ticks after the keyframe: within 1 s (90 000)
      const a = feed(cache, { seq: 1, ts: 5, frames: 31, perFrame: 1, key: (i) => i === 0 });
      expect(cache.usable()).toBe(true);
      feed(cache, { seq: a.seq, ts: a.ts, frames: 1, perFrame: 1 }); // 93 000 ticks
      expect(cache.usable()).toBe(false);
    });

    it("a keyframe that arrived more than maxAgeMs ago is not replayed, but kept for the GOP's own bounds", () => {
      const { cache, clock } = makeCache({ maxAgeMs: 1000 });
      feed(cache, { seq: 1, ts: 0, frames: 2, key: (i) => i === 0 });
      clock.now = 1000;
      expect(cache.usable()).toBe(true);
      expect(cache.stats.ageMs).toBe(1000);
      clock.now = 1001;
      expect(cache.usable()).toBe(false);
      expect(cache.replay(() => undefined)).toBe(0);
    });

    it("maxAgeMs 0 or an unknown codec: nothing is stored", () => {
      const off = makeCache({ maxAgeMs: 0 });
      feed(off.cache, { seq: 1, ts: 0, frames: 3, key: (i) => i === 0 });
      expect(off.cache.enabled).toBe(false);
      expect(off.cache.stats).toMatchObject({ usable: false, keyframes: 0, capacity: 1 });
      const other = makeCache({}, CODEC_OTHER);
      feed(other.cache, { seq: 1, ts: 0, frames: 3, key: (i) => i === 0 });
      expect(other.cache.enabled).toBe(false);
      expect(other.cache.usable()).toBe(false);
    });

    it("defaults: 3 s, 1 MiB, 400 packets (below the players' 512-packet NACK history)", () => {
      expect(GOP_CACHE_DEFAULTS).toEqual({ maxAgeMs: 3000, maxBytes: 1 << 20, maxPackets: GOP_CACHE_MAX_PACKETS });
      expect(GOP_CACHE_MAX_PACKETS).toBeLessThan(512);
      expect(new GopCache({ maxAgeMs: 3000, maxBytes: 1 << 20 }).stats.capacity).toBe(400);
    });
  });

  describe("holes", () => {
    it("a skipped packet makes the GOP unusable until it is resent; it is replayed where it arrived", () => {
      const { cache, replayed } = makeCache();
      const a = feed(cache, { seq: 1, ts: 0, frames: 2, key: (i) => i === 0 }); // seq 1-4
      const late = pkt(5, a.ts, VP8_DELTA);
      const after = [pkt(6, a.ts, VP8_DELTA_CONT), pkt(7, a.ts + 3000, VP8_DELTA)];
      for (const b of after) cache.pushVideo(b);
      expect(cache.usable()).toBe(false);
      cache.pushVideo(late); // resent after a NACK
      expect(cache.usable()).toBe(true);
      expect(replayed().map(seqOf)).toEqual([1, 2, 3, 4, 6, 7, 5]);
    });

    it("more than 64 packets missing at once: the GOP is given up", () => {
      const { cache } = makeCache();
      const a = feed(cache, { seq: 1, ts: 0, frames: 2, key: (i) => i === 0 });
      cache.pushVideo(pkt(a.seq + 65, a.ts, VP8_DELTA));
      expect(cache.usable()).toBe(false);
      expect(cache.stats.dropped).toBe(1);
    });

    it("a hole before the keyframe does not count against the new GOP; packets older than the GOP are not kept", () => {
      const { cache, replayed } = makeCache();
      const a = feed(cache, { seq: 1, ts: 0, frames: 2 }); // 1-4, no keyframe
      const gop = feed(cache, { seq: a.seq + 1, ts: a.ts, frames: 2, key: (i) => i === 0 }); // 6-9: 5 missing
      expect(cache.usable()).toBe(true);
      cache.pushVideo(pkt(5, a.ts - 3000, VP8_DELTA)); // 5 arrives late: older than the GOP
      expect(replayed().map(seqOf)).toEqual(gop.pushed.map(seqOf));
    });

    it("a duplicate of a GOP packet is kept once more (the attached players got it too) and changes nothing", () => {
      const { cache, replayed } = makeCache();
      const a = feed(cache, { seq: 1, ts: 0, frames: 2, key: (i) => i === 0 });
      cache.pushVideo(pkt(3, 0, VP8_DELTA_CONT));
      expect(cache.usable()).toBe(true);
      expect(replayed().map(seqOf)).toEqual([...a.pushed.map(seqOf), 3]);
    });
  });

  it("a jump back of more than 512 sequence numbers is a restart of the sender's numbering, not a late packet", () => {
    const { cache, replayed } = makeCache();
    feed(cache, { seq: 40_000, ts: 0, frames: 3, key: (i) => i === 0 });
    expect(cache.usable()).toBe(true);
    const restarted = feed(cache, { seq: 30_000, ts: 500_000, frames: 2 }); // 10 006 behind; no keyframe yet
    expect(cache.usable()).toBe(false);
    const gop = feed(cache, { seq: restarted.seq, ts: restarted.ts, frames: 2, key: (i) => i === 0 });
    expect(replayed().map(seqOf)).toEqual(gop.pushed.map(seqOf));
  });

  it("a frame larger than the ring, then a keyframe start inside it: the GOP starts at the packets still held", () => {
    const { cache, replayed } = makeCache({ maxPackets: 4 }, CODEC_H264);
    const sei = [0, 1, 2, 3, 4].map((i) => pkt(10 + i, 9000, [0x06, 0x05, i]));
    for (const b of sei) cache.pushVideo(b); // 5 packets of one frame in a 4-slot ring, no GOP: the oldest go
    const idr = pkt(15, 9000, [0x7c, 0x85, 0x88]);
    cache.pushVideo(idr);
    expect(cache.usable()).toBe(true);
    expect(replayed()).toEqual([sei[4], idr]);
    expect(cache.stats.packets).toBe(2);
  });

  it("clear() drops the GOP", () => {
    const { cache } = makeCache();
    feed(cache, { seq: 1, ts: 0, frames: 2, key: (i) => i === 0 });
    cache.clear();
    expect(cache.usable()).toBe(false);
    expect(cache.stats.packets).toBe(0);
  });
});
