/**
 * Keyframe detection in RTP packets (media-node/engine/keyframes.ts): VP8 (RFC 7741 §4.2/§4.3), H.264 (RFC 6184:
 * single NAL unit, STAP-A, FU-A), VP9 (RFC 9628 §4.2), AV1 (aggregation header N bit), on hand-built packets with
 * CSRCs and header extensions, plus short and malformed ones.
 */
import { describe, expect, it } from "vitest";
import {
  CODEC_AV1,
  CODEC_H264,
  CODEC_OTHER,
  CODEC_VP8,
  CODEC_VP9,
  isKeyframeStart,
  rtpPayloadOffset,
  videoCodecId,
} from "../../media-node/engine/keyframes.js";

/** An RTP packet (RFC 3550 §5.1) with `payload`; optional CSRCs and a one-byte-header extension of `extWords` words. */
function rtp(payload: number[], opts: { csrcs?: number; extWords?: number; seq?: number } = {}): Buffer {
  const csrcs = opts.csrcs ?? 0;
  const ext = opts.extWords;
  const head = Buffer.alloc(12 + 4 * csrcs + (ext === undefined ? 0 : 4 + 4 * ext));
  head[0] = 0x80 | (ext === undefined ? 0 : 0x10) | csrcs;
  head[1] = 96;
  head.writeUInt16BE(opts.seq ?? 1, 2);
  head.writeUInt32BE(1000, 4);
  head.writeUInt32BE(0x1234, 8);
  if (ext !== undefined) {
    const o = 12 + 4 * csrcs;
    head.writeUInt16BE(0xbede, o);
    head.writeUInt16BE(ext, o + 2);
    head.fill(0x11, o + 4); // extension bytes that must be skipped
  }
  return Buffer.concat([head, Buffer.from(payload)]);
}

describe("videoCodecId", () => {
  it("maps SDP encoding names case-insensitively", () => {
    expect(videoCodecId("VP8")).toBe(CODEC_VP8);
    expect(videoCodecId("vp8")).toBe(CODEC_VP8);
    expect(videoCodecId("H264")).toBe(CODEC_H264);
    expect(videoCodecId("VP9")).toBe(CODEC_VP9);
    expect(videoCodecId("AV1")).toBe(CODEC_AV1);
    expect(videoCodecId("H265")).toBe(CODEC_OTHER);
    expect(videoCodecId(undefined)).toBe(CODEC_OTHER);
  });
});

describe("rtpPayloadOffset", () => {
  it("skips the fixed header, CSRCs and the header extension", () => {
    expect(rtpPayloadOffset(rtp([1]))).toBe(12);
    expect(rtpPayloadOffset(rtp([1], { csrcs: 2 }))).toBe(20);
    expect(rtpPayloadOffset(rtp([1], { extWords: 3 }))).toBe(12 + 4 + 12);
    expect(rtpPayloadOffset(rtp([1], { csrcs: 1, extWords: 1 }))).toBe(12 + 4 + 4 + 4);
  });

  it("is -1 without a payload or for a truncated header", () => {
    expect(rtpPayloadOffset(rtp([]))).toBe(-1);
    expect(rtpPayloadOffset(Buffer.alloc(11))).toBe(-1);
    const truncatedExt = rtp([1], { extWords: 1 }).subarray(0, 14); // X set, extension header cut
    expect(rtpPayloadOffset(truncatedExt)).toBe(-1);
    const lyingCsrc = rtp([1, 2, 3]);
    lyingCsrc[0] = 0x8f; // 15 CSRCs announced, none there
    expect(rtpPayloadOffset(lyingCsrc)).toBe(-1);
  });
});

describe("VP8 (RFC 7741)", () => {
  const key = (desc: number[]) => isKeyframeStart(CODEC_VP8, rtp([...desc, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]));
  const delta = (desc: number[]) => isKeyframeStart(CODEC_VP8, rtp([...desc, 0x11, 0x02, 0x00]));

  it("a key frame's first packet: S=1, PID=0, P=0, whatever the descriptor's optional fields", () => {
    expect(key([0x10])).toBe(true); // no X
    expect(key([0x90, 0x80, 0x05])).toBe(true); // X, I with a 7-bit PictureID
    expect(key([0x90, 0x80, 0x81, 0x23])).toBe(true); // X, I with a 15-bit PictureID (M)
    expect(key([0x90, 0xe0, 0x81, 0x23, 0x07, 0x40])).toBe(true); // X, I (15-bit), L (TL0PICIDX), T (TID/Y/KEYIDX)
    expect(key([0x90, 0x10, 0x20])).toBe(true); // X, K only
    expect(key([0x90, 0x40, 0x07])).toBe(true); // X, L only
  });

  it("not a key frame start: P=1, S=0, PID≠0, or nothing after the descriptor", () => {
    expect(delta([0x10])).toBe(false);
    expect(delta([0x90, 0x80, 0x81, 0x23])).toBe(false);
    expect(isKeyframeStart(CODEC_VP8, rtp([0x00, 0x10, 0x02]))).toBe(false); // S=0: a later packet of the frame
    expect(isKeyframeStart(CODEC_VP8, rtp([0x11, 0x10, 0x02]))).toBe(false); // PID=1: another partition
    expect(isKeyframeStart(CODEC_VP8, rtp([0x90, 0x80, 0x81, 0x23]))).toBe(false); // descriptor only
    expect(isKeyframeStart(CODEC_VP8, rtp([0x90]))).toBe(false); // X announced, cut
    expect(isKeyframeStart(CODEC_VP8, rtp([0x90, 0x80]))).toBe(false); // I announced, cut
  });

  it("finds the payload behind CSRCs and a header extension", () => {
    const payload = [0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00];
    expect(isKeyframeStart(CODEC_VP8, rtp(payload, { csrcs: 2, extWords: 2 }))).toBe(true);
    // the extension's 0x11 bytes would read as a delta frame if they were not skipped
    const deltaPayload = [0x90, 0x80, 0x81, 0x23, 0x01];
    expect(isKeyframeStart(CODEC_VP8, rtp(deltaPayload, { extWords: 1 }))).toBe(false);
  });

  it("other codec ids never match the same bytes as VP8 keyframes", () => {
    expect(isKeyframeStart(CODEC_OTHER, rtp([0x10, 0x10, 0x02]))).toBe(false);
  });
});

describe("H.264 (RFC 6184)", () => {
  const h = (payload: number[]) => isKeyframeStart(CODEC_H264, rtp(payload));

  it("single NAL units: IDR (5) and SPS (7) start a keyframe; non-IDR slices, PPS, SEI do not", () => {
    expect(h([0x65, 0x88, 0x84])).toBe(true); // IDR
    expect(h([0x67, 0x42, 0xc0, 0x1f])).toBe(true); // SPS
    expect(h([0x41, 0x9a, 0x02])).toBe(false); // non-IDR slice
    expect(h([0x68, 0xce, 0x3c, 0x80])).toBe(false); // PPS
    expect(h([0x06, 0x05, 0x01])).toBe(false); // SEI
  });

  it("STAP-A (24): true when an aggregated NAL unit is an SPS or IDR", () => {
    // [STAP-A][size=4][SPS…][size=4][PPS…]
    expect(h([0x78, 0x00, 0x04, 0x67, 0x42, 0xc0, 0x1f, 0x00, 0x04, 0x68, 0xce, 0x3c, 0x80])).toBe(true);
    // SEI + PPS only
    expect(h([0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x04, 0x68, 0xce, 0x3c, 0x80])).toBe(false);
    // IDR as the second unit
    expect(h([0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x65, 0x88])).toBe(true);
    // a zero size stops the walk; a size running past the end stops it too
    expect(h([0x78, 0x00, 0x00, 0x65, 0x88])).toBe(false);
    expect(h([0x78, 0x00, 0x40, 0x06, 0x05, 0x00, 0x02, 0x65])).toBe(false);
  });

  it("FU-A (28): only the first fragment (S=1) of an IDR or SPS", () => {
    expect(h([0x7c, 0x85, 0x88, 0x84])).toBe(true); // S=1, type 5
    expect(h([0x7c, 0x05, 0x88])).toBe(false); // middle fragment of an IDR
    expect(h([0x7c, 0x45, 0x88])).toBe(false); // last fragment (E=1)
    expect(h([0x7c, 0x81, 0x9a])).toBe(false); // first fragment of a non-IDR slice
    expect(h([0x7c])).toBe(false); // FU header missing
  });
});

describe("VP9 (RFC 9628)", () => {
  const v = (payload: number[]) => isKeyframeStart(CODEC_VP9, rtp(payload));

  it("B=1 and P=0 (no layer indices)", () => {
    expect(v([0x08, 0x00])).toBe(true); // B only
    expect(v([0x88, 0x05, 0x00])).toBe(true); // I (7-bit picture ID), B
    expect(v([0x48, 0x00])).toBe(false); // P=1: inter-picture predicted
    expect(v([0x00, 0x00])).toBe(false); // B=0: not the start of a frame
  });

  it("with layer indices (L): only spatial layer 0", () => {
    // I (15-bit picture ID), L, B; layer byte TID|U|SID|D
    expect(v([0xa8, 0x81, 0x23, 0x00, 0x00])).toBe(true); // SID 0
    expect(v([0xa8, 0x81, 0x23, 0x02, 0x00])).toBe(false); // SID 1
    expect(v([0x28, 0x00, 0x00])).toBe(true); // L without I, SID 0
    expect(v([0xa8, 0x81])).toBe(false); // cut
  });
});

describe("AV1", () => {
  it("the aggregation header's N bit (first packet of a coded video sequence)", () => {
    expect(isKeyframeStart(CODEC_AV1, rtp([0x18, 0x0a]))).toBe(true); // W=1, N=1
    expect(isKeyframeStart(CODEC_AV1, rtp([0x10, 0x32]))).toBe(false); // W=1, N=0
  });
});
