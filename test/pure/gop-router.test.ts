/**
 * StreamRouter with its GOP cache (media-node/engine/stream-router.ts), on fake tracks that record what they are
 * sent: a player that opens mid-GOP gets the cached packets, then live ones, with contiguous sequence numbers and no
 * live packet before its burst; under its own payload type while the cached Buffers keep the publisher's bytes;
 * audio starts live; only a video track without a usable GOP asks for a keyframe, and a burst of such joins is
 * coalesced by the throttle (first request at once, one trailing request for the rest of the window).
 */
import type { Track } from "node-datachannel";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { PlayerLeg } from "../../media-node/engine/player-leg.js";
import type { PublisherLeg } from "../../media-node/engine/publisher-leg.js";
import { StreamRouter, type Target } from "../../media-node/engine/stream-router.js";

const VP8_KEY = [0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00];
const VP8_DELTA = [0x90, 0x80, 0x81, 0x24, 0x11, 0x02, 0x00];
const PUB_PT = 96;

function pkt(seq: number, ts: number, payload: number[], marker = false, pt = PUB_PT): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | pt;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(0x1234, 8);
  Buffer.from(payload).copy(b, 12);
  return b;
}

/** A player target whose track records copies of what it is sent (and, optionally, runs a hook on each send). */
function player(pt: number, onSend?: (b: Buffer) => void) {
  const sent: Buffer[] = [];
  const track = {
    sendMessageBinary(b: Buffer): boolean {
      sent.push(Buffer.from(b)); // a copy, as libdatachannel makes (docs/media-engine.md fact 6)
      onSend?.(b);
      return true;
    },
  } as unknown as Track;
  const leg = { packetsOut: 0, bytesOut: 0, sendErrors: 0 } as unknown as PlayerLeg;
  const target: Target = { leg, track, rtcpTrack: track, pt };
  return { target, sent, leg: leg as unknown as { packetsOut: number; bytesOut: number } };
}

function makeRouter(gopCacheMs = 3000) {
  const sendKeyframeRequest = vi.fn();
  const publisher = {
    video: { kind: "video", mid: "1", ssrc: 0x1234, codec: { pt: PUB_PT, name: "VP8", clockRate: 90_000, fmtp: "", params: {} } },
    audio: { kind: "audio", mid: "0", ssrc: 0x5678, codec: { pt: 111, name: "opus", clockRate: 48_000, channels: 2, fmtp: "", params: {} } },
    opts: { gopCache: { maxAgeMs: gopCacheMs, maxBytes: 1 << 20 } },
    sendKeyframeRequest,
  } as unknown as PublisherLeg;
  const router = new StreamRouter("s", publisher, 500);
  let seq = 65_520; // wraps to 0 after 16 packets
  let ts = 0;
  /** Forwards `frames` video frames of two packets (marker on the second), the first a keyframe when `key`. */
  const video = (frames: number, key = false): void => {
    for (let i = 0; i < frames; i++) {
      router.forwardRtp("video", pkt(seq++, ts, key && i === 0 ? VP8_KEY : VP8_DELTA));
      router.forwardRtp("video", pkt(seq++, ts, [0x80, 0x80, 0x81, 0x24, 0xee], true));
      seq &= 0xffff;
      ts += 3000;
    }
  };
  return { router, sendKeyframeRequest, video, seqNow: () => seq };
}

const seqs = (bufs: Buffer[]) => bufs.map((b) => b.readUInt16BE(2));

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance", "Date"] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("StreamRouter + GOP cache", () => {
  it("a player opening mid-GOP gets the GOP, then live packets: contiguous, no duplicate, no keyframe request", () => {
    const { router, sendKeyframeRequest, video } = makeRouter();
    const early = player(PUB_PT);
    router.attach("video", early.target); // nothing cached yet: asks for a keyframe
    expect(sendKeyframeRequest).toHaveBeenCalledTimes(1);
    video(2); // deltas before the keyframe
    video(1, true);
    video(10); // mid-GOP, across the 65535 → 0 wrap at the end
    const late = player(PUB_PT);
    router.attach("video", late.target);
    video(5);
    expect(sendKeyframeRequest).toHaveBeenCalledTimes(1); // the late joiner needed none
    const got = seqs(late.sent);
    expect(got[0]).toBe(seqs(early.sent)[4]); // starts at the keyframe's first packet
    for (let i = 1; i < got.length; i++) expect(got[i]).toBe((got[i - 1]! + 1) & 0xffff);
    expect(got.length).toBe(2 * (1 + 10 + 5));
    expect(got).toContain(0); // the wrap happened inside the GOP
    // from the keyframe on, the late joiner got exactly what the early one got
    expect(late.sent).toEqual(early.sent.slice(4));
    expect(late.leg.packetsOut).toBe(late.sent.length);
    expect(router.keyframeCounts).toMatchObject({ gopStarts: 1, keyframeStarts: 1, requested: 1, sent: 1 });
  });

  it("the switch from burst to live is synchronous: no live packet can reach the player during its burst", () => {
    const { router, video } = makeRouter();
    video(1, true);
    video(3);
    let during = 0;
    let inBurst = false;
    const p = player(PUB_PT, () => {
      if (inBurst) during++;
    });
    // the whole burst is sent inside attach(), and the track is in the fan-out when attach() returns
    inBurst = true;
    router.attach("video", p.target);
    inBurst = false;
    expect(during).toBe(8);
    video(1);
    expect(seqs(p.sent)).toEqual(Array.from({ length: 10 }, (_, i) => (65_520 + i) & 0xffff));
  });

  it("replays under the player's payload type and leaves the cached Buffers as the publisher sent them", () => {
    const { router, video } = makeRouter();
    const kept: Buffer[] = [];
    const orig = router.forwardRtp.bind(router);
    router.forwardRtp = (kind, buf) => {
      if (kind === "video") kept.push(buf);
      orig(kind, buf);
    };
    video(1, true);
    video(1);
    const snapshot = kept.map((b) => Buffer.from(b));
    const other = player(100);
    router.attach("video", other.target);
    expect(other.sent.map((b) => b[1]! & 0x7f)).toEqual([100, 100, 100, 100]);
    expect(other.sent.map((b) => b[1]! & 0x80)).toEqual([0, 0x80, 0, 0x80]); // marker bits kept
    expect(kept).toEqual(snapshot); // PT byte restored in the cached Buffers
    // and a second player on the publisher's payload type gets the original bytes
    const same = player(PUB_PT);
    router.attach("video", same.target);
    expect(same.sent).toEqual(snapshot);
  });

  it("audio tracks start live (no burst of old audio)", () => {
    const { router, video } = makeRouter();
    video(1, true);
    router.forwardRtp("audio", pkt(7, 960, [0xfc, 0x01], false, 111));
    const a = player(111);
    router.attach("audio", a.target);
    expect(a.sent).toEqual([]);
    router.forwardRtp("audio", pkt(8, 1920, [0xfc, 0x02], false, 111));
    expect(seqs(a.sent)).toEqual([8]);
  });

  it("a track attached twice is not sent the GOP twice", () => {
    const { router, video } = makeRouter();
    video(1, true);
    const p = player(PUB_PT);
    router.attach("video", p.target);
    router.attach("video", p.target);
    expect(p.sent.length).toBe(2);
    video(1);
    expect(p.sent.length).toBe(4);
  });

  it("a GOP older than the cache's age is not replayed: the player asks for a keyframe", () => {
    const { router, sendKeyframeRequest, video } = makeRouter(1000);
    video(1, true);
    vi.advanceTimersByTime(1001);
    const p = player(PUB_PT);
    router.attach("video", p.target);
    expect(p.sent).toEqual([]);
    expect(sendKeyframeRequest).toHaveBeenCalledTimes(1);
    expect(router.keyframeCounts).toMatchObject({ gopStarts: 0, keyframeStarts: 1 });
  });

  it("cache off (maxAgeMs 0): every video track asks for a keyframe, as before the cache", () => {
    const { router, sendKeyframeRequest, video } = makeRouter(0);
    video(1, true);
    const p = player(PUB_PT);
    router.attach("video", p.target);
    expect(p.sent).toEqual([]);
    expect(sendKeyframeRequest).toHaveBeenCalledTimes(1);
  });

  it("joins without a usable GOP: the first request goes out at once, the rest of the window coalesce into one", () => {
    const { router, sendKeyframeRequest } = makeRouter();
    for (let i = 0; i < 5; i++) {
      router.attach("video", player(PUB_PT).target);
      vi.advanceTimersByTime(50);
    }
    expect(sendKeyframeRequest).toHaveBeenCalledTimes(1); // t=0
    vi.advanceTimersByTime(250); // t=500: the trailing request for the four others
    expect(sendKeyframeRequest).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(5000);
    expect(sendKeyframeRequest).toHaveBeenCalledTimes(2);
    expect(router.keyframeCounts).toMatchObject({ requested: 5, sent: 2, keyframeStarts: 5 });
  });

  it("close() drops the cache", () => {
    const { router, video } = makeRouter();
    video(1, true);
    expect(router.gopCacheStats.usable).toBe(true);
    router.close();
    expect(router.gopCacheStats).toMatchObject({ usable: false, packets: 0 });
  });
});
