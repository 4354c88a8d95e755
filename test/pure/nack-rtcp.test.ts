/**
 * media-node/rtcp.ts generic NACK writer byte for byte against RFC 4585 §6.2.1 (transport-layer feedback, PT 205,
 * FMT 1; FCI = 16-bit PID + 16-bit BLP, bit i of BLP = PID + i + 1 lost), its packing helpers, and ReceptionStats with
 * a repaired (resent, same sequence number) packet.
 */
import { describe, expect, it } from "vitest";
import {
  FMT_NACK,
  NACK_MAX_FCI,
  RTCP_RTPFB,
  ReceptionStats,
  hasKeyframeRequest,
  isRtcp,
  nackFciCount,
  nackPack,
  nackSize,
  writeNack,
} from "../../media-node/rtcp.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const toHex = (b: Buffer) => b.toString("hex").replace(/(.{8})/g, "$1 ").trim();
const SENDER = 0x0a0b0c0d;
const MEDIA = 0x01020304;

/** Writes a NACK for `seqs` into an exactly sized buffer. */
function nack(seqs: number[]): Buffer {
  return writeNack(Buffer.alloc(nackSize(nackFciCount(seqs))), SENDER, MEDIA, seqs);
}

/** Reads a NACK back by the RFC layout: the sequence numbers it asks for, in order. */
function parseNack(b: Buffer): { sender: number; media: number; seqs: number[] } {
  expect(b[0]! >> 6).toBe(2); // V=2
  expect(b[0]! & 0x20).toBe(0); // no padding
  expect(b[0]! & 0x1f).toBe(FMT_NACK);
  expect(b[1]).toBe(RTCP_RTPFB);
  expect((b.readUInt16BE(2) + 1) * 4).toBe(b.length);
  const seqs: number[] = [];
  for (let off = 12; off < b.length; off += 4) {
    const pid = b.readUInt16BE(off);
    const blp = b.readUInt16BE(off + 2);
    seqs.push(pid);
    for (let i = 0; i < 16; i++) if (blp & (1 << i)) seqs.push((pid + i + 1) & 0xffff);
  }
  return { sender: b.readUInt32BE(4), media: b.readUInt32BE(8), seqs };
}

describe("writeNack (RFC 4585 §6.2.1 generic NACK)", () => {
  it.each<[string, number[], string]>([
    ["one packet (the layout of rtcp.test.ts's NACK)", [0x0102], "81cd0003 0a0b0c0d 01020304 01020000"],
    ["17 in a row: one FCI, BLP all ones", Array.from({ length: 17 }, (_, i) => 100 + i), "81cd0003 0a0b0c0d 01020304 0064ffff"],
    ["18 in a row: a second FCI for the 18th", Array.from({ length: 18 }, (_, i) => 100 + i), "81cd0004 0a0b0c0d 01020304 0064ffff 00750000"],
    ["PID + 2 and PID + 16 (bits 1 and 15), PID + 17 starts an FCI", [10, 12, 26, 27], "81cd0004 0a0b0c0d 01020304 000a8002 001b0000"],
    ["across the wrap: 65534, 65535, 0, 1", [65534, 65535, 0, 1], "81cd0003 0a0b0c0d 01020304 fffe0007"],
    ["several FCIs", [1, 30, 31, 100], "81cd0005 0a0b0c0d 01020304 00010000 001e0001 00640000"],
    ["a repeated number takes no room", [5, 5, 6, 6], "81cd0003 0a0b0c0d 01020304 00050001"],
    ["the wrap inside the BLP: PID 65530 covers up to 10", [65530, 65535, 0, 10], "81cd0003 0a0b0c0d 01020304 fffa8030"],
  ])("%s", (_what, seqs, want) => {
    const b = nack(seqs);
    expect(toHex(b)).toBe(toHex(hex(want)));
    expect(isRtcp(b)).toBe(true);
    expect(hasKeyframeRequest(b)).toBe(false); // RTPFB, not PSFB
    expect(parseNack(b).seqs).toEqual([...new Set(seqs)]);
  });

  it("writes a range of the array, and fills the whole buffer", () => {
    const seqs = new Uint16Array([7, 8, 50, 51, 52, 300]);
    const b = writeNack(Buffer.alloc(nackSize(nackFciCount(seqs, 2, 5))), 1, 2, seqs, 2, 5);
    expect(toHex(b)).toBe(toHex(hex("81cd0003 00000001 00000002 00320003")));
  });

  it("random sets of up to 300 numbers round-trip through writeNack and the RFC layout, 17 at most per FCI", () => {
    let x = 12345;
    const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let run = 0; run < 300; run++) {
      const base = Math.floor(rnd() * 65536);
      const n = 1 + Math.floor(rnd() * 300);
      const seqs: number[] = [];
      for (let off = 0; seqs.length < n; off += 1 + Math.floor(rnd() * (rnd() < 0.5 ? 3 : 40))) seqs.push((base + off) & 0xffff);
      const b = nack(seqs);
      const parsed = parseNack(b);
      expect(parsed).toEqual({ sender: SENDER, media: MEDIA, seqs });
      expect(b.length).toBeGreaterThanOrEqual(nackSize(Math.ceil(n / 17)));
    }
  });

  it("refuses a buffer of the wrong size and an empty list", () => {
    expect(() => writeNack(Buffer.alloc(12), 1, 2, [1, 100])).toThrow(RangeError); // needs 20
    expect(() => writeNack(Buffer.alloc(24), 1, 2, [1, 100])).toThrow(RangeError); // too large: trailing bytes
    expect(() => writeNack(Buffer.alloc(16), 1, 2, [])).toThrow(RangeError);
  });
});

describe("nackPack / nackFciCount", () => {
  it("counts FCIs as writeNack packs them", () => {
    expect(nackFciCount([])).toBe(0);
    expect(nackFciCount([1])).toBe(1);
    expect(nackFciCount(Array.from({ length: 17 }, (_, i) => i))).toBe(1);
    expect(nackFciCount(Array.from({ length: 35 }, (_, i) => i))).toBe(3);
    expect(nackFciCount([0, 20, 40, 60])).toBe(4);
    expect(nackFciCount([0, 20, 40, 60], 1, 3)).toBe(2);
  });

  it("stops before the number that needs one FCI too many", () => {
    const seqs = [0, 5, 20, 21, 40, 60];
    expect(nackPack(seqs, 0, seqs.length, 1)).toBe(2); // 0 and 5 share the first FCI
    expect(nackPack(seqs, 0, seqs.length, 2)).toBe(4);
    expect(nackPack(seqs, 0, seqs.length, 3)).toBe(5);
    expect(nackPack(seqs, 0, seqs.length, 4)).toBe(6);
    expect(nackPack(seqs, 4, seqs.length, 1)).toBe(5);
  });

  it("NACK_MAX_FCI FCIs make a packet well under an MTU", () => {
    expect(nackSize(NACK_MAX_FCI)).toBe(268);
    const scattered = Array.from({ length: 200 }, (_, i) => i * 20);
    const end = nackPack(scattered, 0, scattered.length, NACK_MAX_FCI);
    expect(end).toBe(NACK_MAX_FCI);
    expect(nackFciCount(scattered, 0, end)).toBe(NACK_MAX_FCI);
  });
});

describe("ReceptionStats with a repaired packet", () => {
  it("a resent packet (same sequence number, later) counts as received: cumulative lost back to 0, highest kept", () => {
    const s = new ReceptionStats();
    for (const seq of [65533, 65534, 1, 2]) s.onRtp(seq); // 65535 and 0 missing, across the wrap
    expect(s.cumulativeLost).toBe(2);
    s.onRtp(65535);
    expect(s.cumulativeLost).toBe(1);
    s.onRtp(0);
    expect(s.cumulativeLost).toBe(0);
    const rr = s.writeReceiverReport(Buffer.alloc(32), 1, 2, 0);
    expect(rr.readUInt32BE(16)).toBe(0x10000 + 2); // extended highest: one cycle, seq 2 (not moved by the late ones)
    expect(rr.readUInt32BE(12) & 0xffffff).toBe(0);
  });
});
