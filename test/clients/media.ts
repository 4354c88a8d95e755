/**
 * Pure helpers for the Node test clients (no wrtc import, safe in any process): synthetic I420 frames carrying a
 * machine-readable marker, a test tone, and the SDP edits a Web SDK client makes.
 *
 * Frame marker: 56 blocks in the top rows of the luma plane, 40 blocks per row, block side = width / 40 (16 px at
 * 640 wide), so the marker reads back from a frame the encoder has scaled down. Bits 0-23: frame index, bits 24-47:
 * send time (Date.now() & 0xffffff, in ms), bits 48-55: check byte (a garbled frame reads as "no marker").
 */
import { randomFillSync } from "node:crypto";

export const MARKER_COLUMNS = 40;
const MARKER_BITS = 56;
const LUMA_ONE = 235;
const LUMA_ZERO = 16;
const MASK24 = 0xffffff;

export interface I420Frame {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export interface Marker {
  /** 24-bit frame index (wraps after 16,777,215 frames: ~6.5 days at 30 fps). */
  index: number;
  /** Send time, `Date.now() & 0xffffff`. Use {@link markerLatencyMs}. */
  sendTimeMs: number;
}

function checkByte(index: number, sendTimeMs: number): number {
  return (index ^ (index >> 8) ^ (index >> 16) ^ sendTimeMs ^ (sendTimeMs >> 8) ^ (sendTimeMs >> 16) ^ 0x5a) & 0xff;
}

function markerBit(index: number, sendTimeMs: number, b: number): number {
  if (b < 24) return (index >> b) & 1;
  if (b < 48) return (sendTimeMs >> (b - 24)) & 1;
  return (checkByte(index, sendTimeMs) >> (b - 48)) & 1;
}

/** Writes the marker into the luma plane `y` of a `width` x `height` frame. */
export function writeMarker(y: Uint8Array | Uint8ClampedArray, width: number, index: number, sendTimeMs: number): void {
  const blk = width / MARKER_COLUMNS;
  const idx = index & MASK24;
  const tms = sendTimeMs & MASK24;
  for (let b = 0; b < MARKER_BITS; b++) {
    const v = markerBit(idx, tms, b) ? LUMA_ONE : LUMA_ZERO;
    const x0 = Math.round((b % MARKER_COLUMNS) * blk);
    const x1 = Math.round(((b % MARKER_COLUMNS) + 1) * blk);
    const y0 = Math.round(Math.floor(b / MARKER_COLUMNS) * blk);
    const y1 = Math.round((Math.floor(b / MARKER_COLUMNS) + 1) * blk);
    for (let r = y0; r < y1; r++) y.fill(v, r * width + x0, r * width + x1);
  }
}

/** Reads the marker from an I420 (or any luma-first) frame buffer; null if the frame carries no valid marker. */
export function readMarker(data: Uint8Array | Uint8ClampedArray, width: number, height: number): Marker | null {
  const blk = width / MARKER_COLUMNS;
  if (blk < 2 || height < 2 * blk || data.length < width * height) return null;
  let index = 0;
  let sendTimeMs = 0;
  let check = 0;
  for (let b = 0; b < MARKER_BITS; b++) {
    const cx = Math.max(1, Math.floor(((b % MARKER_COLUMNS) + 0.5) * blk));
    const cy = Math.max(1, Math.floor((Math.floor(b / MARKER_COLUMNS) + 0.5) * blk));
    const v =
      ((data[cy * width + cx] ?? 0) +
        (data[cy * width + cx - 1] ?? 0) +
        (data[(cy - 1) * width + cx] ?? 0) +
        (data[(cy - 1) * width + cx - 1] ?? 0)) /
      4;
    const bit = v > (LUMA_ONE + LUMA_ZERO) / 2 ? 1 : 0;
    if (b < 24) index |= bit << b;
    else if (b < 48) sendTimeMs |= bit << (b - 24);
    else check |= bit << (b - 48);
  }
  return check === checkByte(index, sendTimeMs) ? { index, sendTimeMs } : null;
}

/** Latency of a marker's send time, in ms, modulo 2^24 ms (sender and receiver share this machine's clock). */
export function markerLatencyMs(sendTimeMs: number, now = Date.now()): number {
  return ((now & MASK24) - sendTimeMs + 0x1000000) % 0x1000000;
}

/**
 * Synthetic I420 content: a scrolling texture (cheap for the encoder's motion search) plus a block of fresh noise
 * (20% x 20% of the frame, so the encoder uses most of its bitrate budget) plus the marker. Width and height must
 * be even; width >= 80 for the marker to read back.
 */
export function makeFrameGenerator(width: number, height: number): (index: number, sendTimeMs?: number) => I420Frame {
  if (width % 2 || height % 2 || width < 80 || height < 16) throw new Error(`bad frame size ${width}x${height}`);
  const scroll = 512;
  const tw = width + scroll;
  const tex = new Uint8Array(tw * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < tw; x++)
      tex[y * tw + x] = (128 + 60 * Math.sin(x / 9) * Math.cos(y / 13) + 40 * Math.sin((x + y) / 31)) & 255;
  const frame = new Uint8ClampedArray((width * height * 3) / 2);
  const yPlane = new Uint8Array(frame.buffer, 0, width * height);
  frame.fill(128, width * height); // neutral chroma
  // noise block 20% x 20% of the frame: libwebrtc's VP8 then holds 30 fps at ~1.3 Mbps with a 1500 kbps pin
  // (30% x 30%, the probe's size, makes it drop to ~21 fps)
  const nw = Math.max(2, Math.round(width * 0.1) * 2);
  const nh = Math.max(2, Math.round(height * 0.1) * 2);
  const nx = Math.round(width * 0.35);
  const ny = Math.max(Math.ceil((2 * width) / MARKER_COLUMNS) + 2, Math.round(height * 0.42));
  const noise = new Uint8Array(nw * nh);
  return (index, sendTimeMs = Date.now()) => {
    const off = (index * 4) % scroll;
    for (let y = 0; y < height; y++) yPlane.set(tex.subarray(y * tw + off, y * tw + off + width), y * width);
    randomFillSync(noise);
    for (let y = 0; y < nh && ny + y < height; y++)
      yPlane.set(noise.subarray(y * nw, (y + 1) * nw).subarray(0, Math.min(nw, width - nx)), (ny + y) * width + nx);
    writeMarker(yPlane, width, index, sendTimeMs);
    return { width, height, data: frame };
  };
}

/** A continuous sine tone in fixed-size 16-bit mono chunks (default 440 Hz, 48 kHz, 10 ms, amplitude 8000). */
export function makeToneGenerator(
  sampleRate = 48000,
  frequency = 440,
  amplitude = 8000,
  chunkMs = 10,
): () => Int16Array {
  const n = Math.round((sampleRate * chunkMs) / 1000);
  const step = (2 * Math.PI * frequency) / sampleRate;
  let phase = 0;
  return () => {
    const samples = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      samples[i] = Math.round(amplitude * Math.sin(phase));
      phase += step;
    }
    phase %= 2 * Math.PI;
    return samples;
  };
}

/** Media sections of an SDP: kind, mid and direction (sendrecv when absent). */
export function sdpMediaSections(sdp: string): { kind: string; mid: string | null; direction: string }[] {
  const out: { kind: string; mid: string | null; direction: string }[] = [];
  for (const l of sdp.split(/\r?\n/)) {
    const m = /^m=(\w+) /.exec(l);
    if (m) out.push({ kind: m[1] ?? "", mid: null, direction: "sendrecv" });
    const cur = out[out.length - 1];
    if (!cur) continue;
    const mid = /^a=mid:(.*)$/.exec(l);
    if (mid) cur.mid = mid[1] ?? null;
    const dir = /^a=(sendrecv|sendonly|recvonly|inactive)$/.exec(l);
    if (dir) cur.direction = dir[1] ?? cur.direction;
  }
  return out;
}

/**
 * Pins the local VP8 encoder's bitrate by adding `x-google-min/start/max-bitrate` to the VP8 `a=fmtp` lines of the
 * REMOTE description (libwebrtc honours these for its sender; wrtc 0.10's RTCRtpSender.setParameters cannot).
 * An fmtp line is created right after the rtpmap when the answer has none. `kbps <= 0` returns the SDP unchanged.
 */
export function pinVp8Bitrate(sdp: string, kbps: number): string {
  if (!(kbps > 0)) return sdp;
  const params = `x-google-min-bitrate=${Math.round(kbps * 0.85)};x-google-start-bitrate=${Math.round(kbps)};x-google-max-bitrate=${Math.round(kbps)}`;
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  const lines = sdp.split(eol);
  const vp8 = new Set<string>();
  for (const l of lines) {
    const m = /^a=rtpmap:(\d+) VP8\/90000/i.exec(l);
    if (m?.[1]) vp8.add(m[1]);
  }
  const withFmtp = new Set<string>();
  for (const l of lines) {
    const m = /^a=fmtp:(\d+) /.exec(l);
    if (m?.[1] && vp8.has(m[1])) withFmtp.add(m[1]);
  }
  const out: string[] = [];
  for (const l of lines) {
    const fm = /^a=fmtp:(\d+) (.*)$/.exec(l);
    if (fm?.[1] && vp8.has(fm[1])) {
      const kept = (fm[2] ?? "").split(";").filter((p) => p && !/^x-google-(min|start|max)-bitrate=/.test(p.trim()));
      out.push(`a=fmtp:${fm[1]} ${[...kept, params].join(";")}`);
      continue;
    }
    out.push(l);
    const rm = /^a=rtpmap:(\d+) VP8\/90000/i.exec(l);
    if (rm?.[1] && !withFmtp.has(rm[1])) out.push(`a=fmtp:${rm[1]} ${params}`);
  }
  return out.join(eol);
}
