/**
 * media-node/rtcp.ts byte for byte against the packet layouts: RTP header (RFC 3550 §5.1), SR/RR (RFC 3550 §6.4),
 * PSFB PLI (RFC 4585 §6.3.1), FIR (RFC 5104 §4.3.1), REMB (draft-alvestrand-rmcat-remb-03 §2.2), demultiplexing
 * (RFC 5761 §4).
 */
import { describe, expect, it } from "vitest";
import {
  BYE_SIZE,
  RTCP_BYE,
  writeBye,
  FMT_AFB,
  FMT_FIR,
  FMT_PLI,
  RTCP_PSFB,
  RTCP_RR,
  RTCP_SR,
  ReceptionStats,
  hasKeyframeRequest,
  isRtcp,
  rembSize,
  rtpSeq,
  rtpSsrc,
  writePli,
  writeRemb,
} from "../../media-node/rtcp.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const toHex = (b: Buffer) => b.toString("hex").replace(/(.{8})/g, "$1 ").trim();

// Packets written out by hand from the RFC layouts (V=2 → first byte 0x80 | count/FMT).
/** SR (PT 200, RC 0, length 6 = 28 bytes): SSRC 0x01020304, NTP 0x11223344.55667788, RTP ts, packet and octet counts. */
const SR = hex("80c80006 01020304 11223344 55667788 00000001 00000002 00000003");
/** RR (PT 201, RC 1, length 7 = 32 bytes). */
const RR = hex("81c90007 0a0b0c0d 01020304 00000000 00000000 00000000 00000000 00000000");
/** PLI (PSFB PT 206, FMT 1, length 2). */
const PLI = hex("81ce0002 0a0b0c0d 01020304");
/** FIR (PSFB, FMT 4, length 4): one FCI entry (SSRC + seq nr). */
const FIR = hex("84ce0004 0a0b0c0d 00000000 01020304 05000000");
/** NACK (RTPFB PT 205, FMT 1, length 3): PID 0x0102, BLP 0. */
const NACK = hex("81cd0003 0a0b0c0d 01020304 01020000");
/** SDES (PT 202, SC 1): one chunk with CNAME "ab", padded to a word. */
const SDES = hex("81ca0002 01020304 01026162");

describe("isRtcp (RFC 5761 §4 demultiplexing)", () => {
  it.each([
    ["SR", SR, true],
    ["RR", RR, true],
    ["PLI", PLI, true],
    ["8 bytes of RTCP", hex("80c80001 01020304"), true],
    ["7 bytes", hex("80c800 01020304").subarray(0, 7), false],
    ["RTP, PT 96", hex("80600001 00000000 01020304"), false],
    ["RTP, PT 96 + marker (0xe0 = 224)", hex("80e00001 00000000 01020304"), false],
    ["RTP, PT 111 + marker (0xef)", hex("80ef0001 00000000 01020304"), false],
    ["byte 191", hex("80bf0001 00000000"), false],
    ["byte 192 (lowest RTCP type)", hex("80c00001 00000000"), true],
    ["byte 223 (highest)", hex("80df0001 00000000"), true],
  ])("%s → %s", (_what, buf, want) => {
    expect(isRtcp(buf)).toBe(want);
  });
});

describe("hasKeyframeRequest (walks a compound packet by its length fields)", () => {
  it.each([
    ["PLI alone", PLI, true],
    ["FIR alone", FIR, true],
    ["SR + SDES (a usual compound)", Buffer.concat([SR, SDES]), false],
    ["RR + SDES + PLI", Buffer.concat([RR, SDES, PLI]), true],
    ["SR + FIR", Buffer.concat([SR, FIR]), true],
    ["NACK (RTPFB FMT 1 is not PSFB FMT 1)", NACK, false],
    ["REMB (PSFB FMT 15)", writeRemb(Buffer.alloc(rembSize(1)), 1, 1_000_000, [2]), false],
    ["PLI past a length that overruns the buffer", Buffer.concat([hex("80c800ff 01020304"), PLI]), false],
    ["empty", Buffer.alloc(0), false],
    ["3 bytes", hex("81ce00"), false],
  ])("%s → %s", (_what, buf, want) => {
    expect(hasKeyframeRequest(buf)).toBe(want);
  });

  it("uses the RFC constants", () => {
    expect([RTCP_SR, RTCP_RR, RTCP_PSFB, FMT_PLI, FMT_FIR, FMT_AFB]).toEqual([200, 201, 206, 1, 4, 15]);
  });
});

describe("rtpSeq / rtpSsrc (RFC 3550 §5.1)", () => {
  it("reads bytes 2–3 and 8–11, unsigned", () => {
    const rtp = hex("80e0fffe 00000001 deadbeef cafe");
    expect(rtpSeq(rtp)).toBe(65534);
    expect(rtpSsrc(rtp)).toBe(0xdeadbeef);
    expect(rtpSeq(hex("80600000 00000000 00000001"))).toBe(0);
    expect(rtpSsrc(hex("80600000 00000000 00000001"))).toBe(1);
  });
});

describe("writePli (RFC 4585 §6.3.1)", () => {
  it("V=2 FMT=1, PT=206, length 2, sender SSRC, media SSRC", () => {
    const out = Buffer.alloc(12, 0xff);
    expect(writePli(out, 0x11223344, 0xaabbccdd)).toBe(out);
    expect(toHex(out)).toBe("81ce0002 11223344 aabbccdd");
    expect(hasKeyframeRequest(out)).toBe(true);
    expect(isRtcp(out)).toBe(true);
  });

  it("takes SSRCs as signed or unsigned 32-bit numbers", () => {
    expect(toHex(writePli(Buffer.alloc(12), -1, 0xffffffff))).toBe("81ce0002 ffffffff ffffffff");
  });
});

// ---------------------------------------------------------------------------------------------------------------
/** Decodes a REMB the way its receiver does (draft-alvestrand-rmcat-remb-03 §2.2). */
function decodeRemb(b: Buffer) {
  const exp = b[17]! >> 2;
  const mantissa = ((b[17]! & 0x03) << 16) | (b[18]! << 8) | b[19]!;
  return {
    v: b[0]! >> 6,
    fmt: b[0]! & 0x1f,
    pt: b[1],
    length: b.readUInt16BE(2),
    sender: b.readUInt32BE(4),
    mediaSource: b.readUInt32BE(8),
    id: b.toString("latin1", 12, 16),
    numSsrc: b[16],
    exp,
    mantissa,
    bitrate: mantissa * 2 ** exp,
    ssrcs: Array.from({ length: b[16]! }, (_, i) => b.readUInt32BE(20 + 4 * i)),
  };
}

describe("writeBye (RFC 3550 §6.6)", () => {
  it("writes one SSRC and a reason, as a packet isRtcp recognises and whose length field covers it", () => {
    const b = writeBye(Buffer.alloc(BYE_SIZE), 0xdeadbeef);
    expect(isRtcp(b)).toBe(true);
    expect([b[0]! >> 6, b[0]! & 0x1f, b[1]]).toEqual([2, 1, RTCP_BYE]);
    expect((b.readUInt16BE(2) + 1) * 4).toBe(BYE_SIZE);
    expect(b.readUInt32BE(4)).toBe(0xdeadbeef);
    expect(b.subarray(9, 9 + b[8]!).toString("latin1")).toBe("end");
  });
});

describe("writeRemb (draft-alvestrand-rmcat-remb-03)", () => {
  it("rembSize = 20 + 4 per SSRC", () => {
    expect([rembSize(0), rembSize(1), rembSize(2)]).toEqual([20, 24, 28]);
  });

  it("2.5 Mbit/s about two SSRCs, byte for byte", () => {
    const out = Buffer.alloc(rembSize(2), 0xff);
    expect(writeRemb(out, 0x01020304, 2_500_000, [0x0a0b0c0d, 0xffffffff])).toBe(out);
    // 2 500 000 = 156 250 × 2^4: exp 4, mantissa 0x2625a → byte 17 = 4<<2 | 0x2 = 0x12, then 0x62 0x5a
    expect(toHex(out)).toBe("8fce0006 01020304 00000000 52454d42 0212625a 0a0b0c0d ffffffff");
  });

  it.each([
    [0, 0, 0, 0],
    [1, 0, 1, 1],
    [0x3ffff, 0, 0x3ffff, 0x3ffff],
    [0x40000, 1, 0x20000, 0x40000],
    [300_000, 1, 150_000, 300_000],
    [2_500_000, 4, 156_250, 2_500_000],
    [1_000_000_000, 12, 244_140, 999_997_440],
    [4_000_000_000.7, 14, 244_140, 3_999_989_760],
    [-5, 0, 0, 0],
  ])("%d bit/s → exp %d, mantissa %d, decoded %d", (bps, exp, mantissa, decoded) => {
    const r = decodeRemb(writeRemb(Buffer.alloc(rembSize(1)), 7, bps, [9]));
    expect({ exp: r.exp, mantissa: r.mantissa, bitrate: r.bitrate }).toEqual({ exp, mantissa, bitrate: decoded });
    // the mantissa fits its 18 bits and is the largest that does, so the rounding error is below 2^exp
    expect(r.mantissa).toBeLessThanOrEqual(0x3ffff);
    if (bps > 0) {
      expect(r.bitrate).toBeLessThanOrEqual(bps);
      expect(bps - r.bitrate).toBeLessThan(2 ** r.exp);
      if (r.exp > 0) expect(r.mantissa).toBeGreaterThan(0x1ffff);
    }
    expect(r).toMatchObject({ v: 2, fmt: 15, pt: 206, length: 5, sender: 7, mediaSource: 0, id: "REMB", numSsrc: 1, ssrcs: [9] });
  });

  it("no SSRCs: length 4", () => {
    const r = decodeRemb(writeRemb(Buffer.alloc(rembSize(0)), 1, 64_000, []));
    expect(r).toMatchObject({ length: 4, numSsrc: 0, ssrcs: [], bitrate: 64_000 });
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("ReceptionStats → receiver report (RFC 3550 §6.4.2, appendix A.3)", () => {
  /** Fields of an RR with one report block. */
  function rr(stats: ReceptionStats, nowMs: number) {
    const out = Buffer.alloc(32, 0xff);
    stats.writeReceiverReport(out, 0x0a0b0c0d, 0x01020304, nowMs);
    return {
      header: out.toString("hex", 0, 4),
      sender: out.readUInt32BE(4),
      source: out.readUInt32BE(8),
      fractionLost: out[12],
      cumulativeLost: out.readUIntBE(13, 3),
      extendedMax: out.readUInt32BE(16),
      jitter: out.readUInt32BE(20),
      lsr: out.readUInt32BE(24),
      dlsr: out.readUInt32BE(28),
    };
  }
  const feed = (s: ReceptionStats, seqs: number[]) => seqs.forEach((q) => s.onRtp(q));
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  it("before any packet: an all-zero report block", () => {
    expect(rr(new ReceptionStats(), 1000)).toEqual({
      header: "81c90007",
      sender: 0x0a0b0c0d,
      source: 0x01020304,
      fractionLost: 0,
      cumulativeLost: 0,
      extendedMax: 0,
      jitter: 0,
      lsr: 0,
      dlsr: 0,
    });
  });

  it("byte for byte: 100…109 without 103 and 105", () => {
    const s = new ReceptionStats();
    feed(s, [100, 101, 102, 104, 106, 107, 108, 109]);
    const out = s.writeReceiverReport(Buffer.alloc(32), 0x0a0b0c0d, 0x01020304, 0);
    // fraction = floor(2 × 256 / 10) = 51 = 0x33; cumulative 2; extended highest 109 = 0x6d
    expect(toHex(out)).toBe("81c90007 0a0b0c0d 01020304 33000002 0000006d 00000000 00000000 00000000");
  });

  it("fraction lost is per interval, cumulative lost is not", () => {
    const s = new ReceptionStats();
    // 0, 10, …, 90 missing; 0 is before the first packet, which a receiver cannot know: 9 of 99 (1…99) lost
    feed(s, range(0, 99).filter((q) => q % 10 !== 0));
    expect(rr(s, 0)).toMatchObject({ fractionLost: 23, cumulativeLost: 9, extendedMax: 99 }); // 9 × 256 / 99
    feed(s, range(100, 199)); // nothing lost
    expect(rr(s, 0)).toMatchObject({ fractionLost: 0, cumulativeLost: 9, extendedMax: 199 });
    feed(s, range(200, 299).filter((q) => q % 2 === 0)); // 200…298 even: 49 of 99 lost
    expect(rr(s, 0)).toMatchObject({ fractionLost: 126, cumulativeLost: 58, extendedMax: 298 }); // 49 × 256 / 99
    expect(rr(s, 0)).toMatchObject({ fractionLost: 0, cumulativeLost: 58, extendedMax: 298 }); // empty interval
  });

  it("sequence numbers wrap: the cycle count goes into the extended highest sequence number", () => {
    const s = new ReceptionStats();
    feed(s, [65533, 65534, 65535, 0, 1, 2]);
    expect(rr(s, 0)).toMatchObject({ fractionLost: 0, cumulativeLost: 0, extendedMax: 0x10002 });
    feed(s, [65535]); // late packet from before the wrap: counted, not a new cycle
    expect(rr(s, 0)).toMatchObject({ cumulativeLost: 0, extendedMax: 0x10002 });
    feed(s, [4, 0x8003]); // 3 lost, then a jump of 0x7fff (still forward)
    expect(rr(s, 0)).toMatchObject({ extendedMax: 0x18003 });
    feed(s, [3]); // 0x8000 behind: old
    expect(rr(s, 0)).toMatchObject({ extendedMax: 0x18003 });
  });

  it("reordered and duplicated packets: never a negative loss", () => {
    const s = new ReceptionStats();
    feed(s, [10, 12, 11, 12, 12]);
    expect(rr(s, 0)).toMatchObject({ fractionLost: 0, cumulativeLost: 0, extendedMax: 12 });
  });

  it("cumulative loss saturates at 0x7fffff (24-bit field)", () => {
    const s = new ReceptionStats();
    let q = 0;
    s.onRtp(q);
    const jumps = (n: number) => {
      for (let i = 0; i < n; i++) s.onRtp((q = (q + 0x7fff) & 0xffff));
    };
    jumps(160); // 160 × 32767 = 5 242 720 = extended max; 161 received of 5 242 721
    expect(rr(s, 0)).toMatchObject({ fractionLost: 255, cumulativeLost: 5_242_560, extendedMax: 5_242_720 });
    jumps(160);
    expect(rr(s, 0)).toMatchObject({ fractionLost: 255, cumulativeLost: 0x7fffff, extendedMax: 10_485_440 });
  });

  it("LSR = middle 32 bits of the last SR's NTP timestamp; DLSR in 1/65536 s since it arrived", () => {
    const s = new ReceptionStats();
    s.onSenderReport(SR, 0, 1000);
    expect(rr(s, 1500)).toMatchObject({ lsr: 0x33445566, dlsr: 32768 });
    expect(rr(s, 3000)).toMatchObject({ lsr: 0x33445566, dlsr: 131072 });
    expect(rr(s, 1000.01)).toMatchObject({ dlsr: 1 }); // 0.655 units, rounded
    // an SR inside a compound packet, at an offset
    s.onSenderReport(Buffer.concat([RR.subarray(0, 8), hex("80c80006 01020304 aabbccdd eeff0011 00000001 00000002 00000003")]), 8, 2000);
    expect(rr(s, 2250)).toMatchObject({ lsr: 0xccddeeff, dlsr: 16384 });
  });

  it("ignores a truncated SR", () => {
    const s = new ReceptionStats();
    s.onSenderReport(SR.subarray(0, 15), 0, 1000);
    s.onSenderReport(SR, 14, 1000);
    expect(rr(s, 2000)).toMatchObject({ lsr: 0, dlsr: 0 });
  });
});

describe("ReceptionStats.cumulativeLost (RFC 3550 §6.4.1)", () => {
  it("counts sequence gaps across the wrap, not reordering", () => {
    const s = new ReceptionStats();
    expect(s.cumulativeLost).toBe(0);
    for (const seq of [65530, 65531, 65533, 65532, 65535, 0, 3]) s.onRtp(seq); // 65534, 1, 2 missing
    expect(s.cumulativeLost).toBe(3);
  });
});
