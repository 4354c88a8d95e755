/**
 * Keyframe detection in RTP video packets without decoding: the payload format's own bits, read in place (no
 * allocation, no exceptions for short or malformed packets: they are simply not keyframe starts).
 *
 * | codec | a packet starts a keyframe when | source |
 * |---|---|---|
 * | VP8 | payload descriptor S=1 and PID=0 (start of partition 0), and the payload header's P bit (inverse key frame flag) is 0 | RFC 7741 §4.2, §4.3 |
 * | H.264 | it carries an IDR slice (NAL type 5) or a sequence parameter set (type 7): a single NAL unit, inside a STAP-A aggregate, or the first fragment (S=1) of an FU-A | RFC 6184 §5.6–§5.8, H.264 §7.4.1.2 |
 * | VP9 | payload descriptor B=1 (start of frame), P=0 (not inter-picture predicted) and, when layer indices are present, spatial layer 0 | draft-ietf-payload-vp9 / RFC 9628 §4.2 |
 * | AV1 | aggregation header N=1 (first packet of a coded video sequence) | AV1 RTP payload format §4.4 |
 *
 * For H.264 an SPS counts: encoders (libwebrtc, OpenH264, x264) send SPS and PPS right before each IDR, in packets
 * of their own or in one STAP-A, and a decoder needs them to decode the IDR. Callers that keep "everything from the
 * keyframe on" should start at the first packet of the frame (same RTP timestamp) that contains the keyframe start:
 * see gop-cache.ts.
 */

/** Video codecs whose keyframes {@link isKeyframeStart} recognises; {@link CODEC_OTHER} never matches. */
export const CODEC_OTHER = 0;
export const CODEC_VP8 = 1;
export const CODEC_H264 = 2;
export const CODEC_VP9 = 3;
export const CODEC_AV1 = 4;
export type VideoCodecId = typeof CODEC_OTHER | typeof CODEC_VP8 | typeof CODEC_H264 | typeof CODEC_VP9 | typeof CODEC_AV1;

/**
 * The codec id of an SDP encoding name (`a=rtpmap:96 VP8/90000` → "VP8"), case-insensitive; {@link CODEC_OTHER}
 * for anything else. Call once per stream, not per packet (string work).
 */
export function videoCodecId(encodingName: string | undefined): VideoCodecId {
  switch (encodingName?.toUpperCase()) {
    case "VP8":
      return CODEC_VP8;
    case "H264":
      return CODEC_H264;
    case "VP9":
      return CODEC_VP9;
    case "AV1":
      return CODEC_AV1;
    default:
      return CODEC_OTHER;
  }
}

/**
 * Offset of the RTP payload in `buf` (RFC 3550 §5.1: 12 bytes, 4 per CSRC, the header extension §5.3.1 when X=1),
 * or -1 when the packet is too short for its own header or has no payload. Padding (P=1) is not subtracted: the
 * payload parsers only read its first bytes.
 */
export function rtpPayloadOffset(buf: Uint8Array): number {
  const len = buf.length;
  if (len < 12) return -1;
  const b0 = buf[0]!;
  let off = 12 + 4 * (b0 & 0x0f);
  if (b0 & 0x10) {
    if (off + 4 > len) return -1;
    off += 4 + 4 * ((buf[off + 2]! << 8) | buf[off + 3]!);
  }
  return off < len ? off : -1;
}

/**
 * True when the RTP packet `buf` (a whole packet, header included) starts a keyframe of `codec` (see the table in
 * the file header). Allocation-free; false for short or malformed packets and for {@link CODEC_OTHER}.
 */
export function isKeyframeStart(codec: VideoCodecId, buf: Uint8Array): boolean {
  const off = rtpPayloadOffset(buf);
  if (off < 0) return false;
  switch (codec) {
    case CODEC_VP8:
      return vp8KeyframeStart(buf, off);
    case CODEC_H264:
      return h264KeyframeStart(buf, off);
    case CODEC_VP9:
      return vp9KeyframeStart(buf, off);
    case CODEC_AV1:
      return (buf[off]! & 0x08) !== 0;
    default:
      return false;
  }
}

/** RFC 7741 §4.2 payload descriptor, then §4.3 payload header: S=1, PID=0 and P=0. */
function vp8KeyframeStart(buf: Uint8Array, off: number): boolean {
  const len = buf.length;
  const d0 = buf[off]!;
  if ((d0 & 0x10) === 0 || (d0 & 0x07) !== 0) return false; // not the start of partition 0
  let o = off + 1;
  if (d0 & 0x80) {
    // X: extension byte I|L|T|K|RSV
    if (o >= len) return false;
    const x = buf[o++]!;
    if (x & 0x80) {
      // I: PictureID, 7 or 15 bits (M bit)
      if (o >= len) return false;
      o += buf[o]! & 0x80 ? 2 : 1;
    }
    if (x & 0x40) o++; // L: TL0PICIDX
    if (x & 0x30) o++; // T and/or K: TID|Y|KEYIDX in one byte
  }
  return o < len && (buf[o]! & 0x01) === 0;
}

const NAL_IDR = 5;
const NAL_SPS = 7;
const NAL_STAP_A = 24;
const NAL_FU_A = 28;

function h264KeyNal(type: number): boolean {
  return type === NAL_IDR || type === NAL_SPS;
}

/** RFC 6184: single NAL unit (types 1–23), STAP-A (24, §5.7.1), FU-A (28, §5.8) with S=1. */
function h264KeyframeStart(buf: Uint8Array, off: number): boolean {
  const len = buf.length;
  const type = buf[off]! & 0x1f;
  if (type === NAL_STAP_A) {
    // [STAP-A header][size 16][NAL]…
    let o = off + 1;
    while (o + 2 < len) {
      const size = (buf[o]! << 8) | buf[o + 1]!;
      if (size === 0) return false;
      if (h264KeyNal(buf[o + 2]! & 0x1f)) return true;
      o += 2 + size;
    }
    return false;
  }
  if (type === NAL_FU_A) {
    if (off + 1 >= len) return false;
    const fu = buf[off + 1]!; // S|E|R|Type
    return (fu & 0x80) !== 0 && h264KeyNal(fu & 0x1f);
  }
  return h264KeyNal(type);
}

/**
 * VP9 payload descriptor (RFC 9628 §4.2): I|P|L|F|B|E|V|Z; a keyframe starts with B=1 and P=0 on spatial layer 0
 * (the L byte's SID, when present; it follows the picture ID).
 */
function vp9KeyframeStart(buf: Uint8Array, off: number): boolean {
  const len = buf.length;
  const d0 = buf[off]!;
  if ((d0 & 0x08) === 0 || (d0 & 0x40) !== 0) return false; // not B, or inter-picture predicted
  if ((d0 & 0x20) === 0) return true; // no layer indices: one spatial layer
  let o = off + 1;
  if (d0 & 0x80) {
    if (o >= len) return false;
    o += buf[o]! & 0x80 ? 2 : 1; // picture ID, 7 or 15 bits
  }
  if (o >= len) return false;
  return ((buf[o]! >> 1) & 0x07) === 0; // TID(3)|U|SID(3)|D
}
