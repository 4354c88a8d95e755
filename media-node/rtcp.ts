/**
 * RTP/RTCP byte-level helpers for forwarding (RFC 3550 RTP/RTCP, RFC 4585 feedback: PLI and generic NACK, RFC 5104
 * FIR, RFC 5761 mux).
 * Everything here works on Buffers in place and allocates nothing per packet.
 */

/** RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1). */
export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_BYE = 203;
/** Transport-layer feedback (RFC 4585 §6.1), the packet type of a generic NACK. */
export const RTCP_RTPFB = 205;
export const RTCP_PSFB = 206;
/** RTPFB FMT 1: generic NACK (RFC 4585 §6.2.1). */
export const FMT_NACK = 1;
/** PSFB FMT values: Picture Loss Indication (RFC 4585 §6.3.1) and Full Intra Request (RFC 5104 §4.3.1). */
export const FMT_PLI = 1;
export const FMT_FIR = 4;
/** PSFB FMT 15: application layer feedback, used by REMB (draft-alvestrand-rmcat-remb-03). */
export const FMT_AFB = 15;

/**
 * RTP/RTCP demultiplexing on one port (RFC 5761 §4): the second byte of an RTCP packet is its packet type, 192–223.
 * (For RTP that byte is marker + payload type, and payload types 64–95 are not used with rtcp-mux.)
 */
export function isRtcp(buf: Buffer): boolean {
  return buf.length >= 8 && buf[1]! >= 192 && buf[1]! <= 223;
}

/** True when a (compound) RTCP packet contains a PLI or FIR, walking the RTCP length fields (RFC 3550 §6.4.1). */
export function hasKeyframeRequest(buf: Buffer): boolean {
  let off = 0;
  while (off + 4 <= buf.length) {
    const fmt = buf[off]! & 0x1f;
    const pt = buf[off + 1]!;
    if (pt === RTCP_PSFB && (fmt === FMT_PLI || fmt === FMT_FIR)) return true;
    off += (buf.readUInt16BE(off + 2) + 1) * 4;
  }
  return false;
}

/** RTP sequence number (RFC 3550 §5.1), bytes 2–3. */
export function rtpSeq(buf: Buffer): number {
  return (buf[2]! << 8) | buf[3]!;
}

/** RTP timestamp of an RTP packet (RFC 3550 §5.1), 32-bit unsigned. */
export function rtpTimestamp(buf: Buffer): number {
  return buf.readUInt32BE(4);
}

/** RTP SSRC (RFC 3550 §5.1), bytes 8–11, as an unsigned 32-bit number. */
export function rtpSsrc(buf: Buffer): number {
  return buf.readUInt32BE(8);
}

/**
 * Writes a PLI (RFC 4585 §6.3.1: V=2, FMT=1, PT=206, length=2) into `out` (12 bytes) and returns it.
 * @param senderSsrc our SSRC for RTCP; @param mediaSsrc the publisher's video SSRC
 */
export function writePli(out: Buffer, senderSsrc: number, mediaSsrc: number): Buffer {
  out[0] = 0x80 | FMT_PLI;
  out[1] = RTCP_PSFB;
  out.writeUInt16BE(2, 2);
  out.writeUInt32BE(senderSsrc >>> 0, 4);
  out.writeUInt32BE(mediaSsrc >>> 0, 8);
  return out;
}

/** Size of the BYE {@link writeBye} writes, bytes. */
export const BYE_SIZE = 12;

/**
 * Writes an RTCP BYE (RFC 3550 §6.6) for `ssrc` with the reason "end" into `out` (at least {@link BYE_SIZE} bytes):
 * V=2, SC=1, PT=203, length 2. The reason is there because libavformat ignores RTCP shorter than 12 bytes
 * (rtpdec.c `rtp_parse_one_packet`). Returns `out`.
 */
export function writeBye(out: Buffer, ssrc: number): Buffer {
  out[0] = 0x81;
  out[1] = RTCP_BYE;
  out.writeUInt16BE(2, 2);
  out.writeUInt32BE(ssrc >>> 0, 4);
  out[8] = 3;
  out.write("end", 9, "latin1");
  return out;
}

/** Largest number of FCI entries {@link writeNack} callers put into one NACK packet (12 + 4 × 64 = 268 bytes). */
export const NACK_MAX_FCI = 64;

/** Size in bytes of a generic NACK with `fciCount` FCI entries (RFC 4585 §6.2.1: 12-byte header + 4 per FCI). */
export function nackSize(fciCount: number): number {
  return 12 + 4 * fciCount;
}

/**
 * Walks `seqs[start..end)` as {@link writeNack} packs them: an FCI entry starts at a sequence number (PID) and its
 * bitmask (BLP) covers the 16 that follow (RFC 4585 §6.2.1), so up to 17 numbers share one entry. `seqs` are 16-bit
 * RTP sequence numbers in ascending RTP order (wrap-aware: 65534, 65535, 0, 1 is ascending); a number equal to its
 * entry's PID is a duplicate and takes no room. Stops before the number that would need FCI entry `maxFci + 1`.
 * @returns the index after the last number packed; the FCI count is in {@link nackFciCount}
 */
export function nackPack(seqs: ArrayLike<number>, start: number, end: number, maxFci: number): number {
  return nackWalk(seqs, start, end, maxFci);
}

/** Number of FCI entries (PID + BLP) that {@link writeNack} writes for `seqs[start..end)`; see {@link nackPack}. */
export function nackFciCount(seqs: ArrayLike<number>, start = 0, end = seqs.length): number {
  nackWalk(seqs, start, end, Infinity);
  return walkedFci;
}

/** FCI entries the last {@link nackWalk} used (a module variable: the walk allocates nothing). */
let walkedFci = 0;

/** The packing of {@link nackPack}: returns the index it stopped at and leaves the entries used in `walkedFci`. */
function nackWalk(seqs: ArrayLike<number>, start: number, end: number, maxFci: number): number {
  let fci = 0;
  let pid = -1;
  let i = start;
  for (; i < end; i++) {
    const s = seqs[i]! & 0xffff;
    const off = pid < 0 ? -1 : (s - pid) & 0xffff;
    if (off >= 0 && off <= 16) continue; // covered by the current entry (0: the PID again)
    if (fci === maxFci) break;
    fci++;
    pid = s;
  }
  walkedFci = fci;
  return i;
}

/**
 * Writes a generic NACK (RFC 4585 §6.2.1: V=2, FMT=1, PT=205 RTPFB, length = 2 + FCI count; the packet sender's
 * SSRC, the media source's SSRC, then one 32-bit FCI entry per run: 16-bit PID = a lost packet's sequence number,
 * 16-bit BLP whose bit i (least significant = 0) marks PID + i + 1 as lost too) asking for `seqs[start..end)`, and
 * returns `out`. Packing as in {@link nackPack}: `seqs` ascending in RTP order, at most 17 per entry.
 * @param out exactly {@link nackSize}({@link nackFciCount}(seqs, start, end)) bytes: the whole Buffer is the packet
 * @param senderSsrc our SSRC for RTCP; @param mediaSsrc the SSRC whose packets are asked for
 * @throws RangeError when `out` is not exactly that size, or `seqs[start..end)` is empty
 */
export function writeNack(out: Buffer, senderSsrc: number, mediaSsrc: number, seqs: ArrayLike<number>, start = 0, end = seqs.length): Buffer {
  if (end <= start) throw new RangeError("writeNack: no sequence number to ask for");
  let off = 8; // offset of the current FCI entry; the first one is written at 12
  let pid = -1;
  let blp = 0;
  for (let i = start; i < end; i++) {
    const s = seqs[i]! & 0xffff;
    const d = pid < 0 ? -1 : (s - pid) & 0xffff;
    if (d === 0) continue;
    if (d >= 1 && d <= 16) {
      blp |= 1 << (d - 1);
      continue;
    }
    if (pid >= 0) out.writeUInt16BE(blp, off + 2);
    off += 4;
    if (off + 4 > out.length) throw new RangeError(`writeNack: ${out.length} bytes are too few`);
    out.writeUInt16BE(s, off);
    pid = s;
    blp = 0;
  }
  out.writeUInt16BE(blp, off + 2);
  if (off + 4 !== out.length) throw new RangeError(`writeNack: the packet is ${off + 4} bytes, the buffer ${out.length}`);
  out[0] = 0x80 | FMT_NACK;
  out[1] = RTCP_RTPFB;
  out.writeUInt16BE(out.length / 4 - 1, 2);
  out.writeUInt32BE(senderSsrc >>> 0, 4);
  out.writeUInt32BE(mediaSsrc >>> 0, 8);
  return out;
}

/** Size in bytes of a REMB packet about `ssrcCount` SSRCs. */
export function rembSize(ssrcCount: number): number {
  return 20 + 4 * ssrcCount;
}

/**
 * Writes a REMB (Receiver Estimated Maximum Bitrate, draft-alvestrand-rmcat-remb-03 §2.2: PSFB FMT=15, "REMB",
 * bitrate as 6-bit exponent + 18-bit mantissa) into `out` ({@link rembSize} bytes) and returns it.
 * @param bitrateBps announced maximum, bits per second
 * @param ssrcs media SSRCs the estimate applies to
 */
export function writeRemb(out: Buffer, senderSsrc: number, bitrateBps: number, ssrcs: readonly number[]): Buffer {
  let exp = 0;
  let mantissa = Math.max(0, Math.floor(bitrateBps));
  while (mantissa > 0x3ffff) {
    exp++;
    mantissa = Math.floor(bitrateBps / 2 ** exp);
  }
  out[0] = 0x80 | FMT_AFB;
  out[1] = RTCP_PSFB;
  out.writeUInt16BE(4 + ssrcs.length, 2);
  out.writeUInt32BE(senderSsrc >>> 0, 4);
  out.writeUInt32BE(0, 8); // media source SSRC: always 0 for REMB
  out.write("REMB", 12, "latin1");
  out[16] = ssrcs.length;
  out[17] = (exp << 2) | ((mantissa >>> 16) & 0x03);
  out[18] = (mantissa >>> 8) & 0xff;
  out[19] = mantissa & 0xff;
  for (let i = 0; i < ssrcs.length; i++) out.writeUInt32BE(ssrcs[i]! >>> 0, 20 + 4 * i);
  return out;
}

/**
 * Reception statistics of one incoming RTP stream, for RTCP receiver reports (RFC 3550 §6.4.2, appendix A.3),
 * kept with a few integer operations per packet. Interarrival jitter is not measured (reported as 0).
 * A packet older than the highest one (reordered, or resent after a NACK: same sequence number) counts as received
 * without moving the highest, so a repaired gap stops counting as lost. Every call counts: callers that can tell
 * duplicates (engine/nack-requester.ts) leave them out.
 */
export class ReceptionStats {
  private started = false;
  private baseSeq = 0;
  private maxSeq = 0;
  /** Sequence number wrap count × 65536. */
  private cycles = 0;
  private received = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  /** Middle 32 bits of the NTP timestamp of the last SR (RFC 3550 §6.4.1 "LSR"). */
  private lsr = 0;
  /** Local time the last SR arrived, ms (performance.now()). */
  private lsrAt = 0;

  /** Packets expected minus received since the first one (RFC 3550 §6.4.1 "cumulative number of packets lost"; ≥ 0). */
  get cumulativeLost(): number {
    if (!this.started) return 0;
    return Math.max(0, this.cycles + this.maxSeq - this.baseSeq + 1 - this.received);
  }

  /** Counts one RTP packet with sequence number `seq`. */
  onRtp(seq: number): void {
    if (!this.started) {
      this.started = true;
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.received = 1;
      return;
    }
    const delta = (seq - this.maxSeq) & 0xffff;
    if (delta !== 0 && delta < 0x8000) {
      if (seq < this.maxSeq) this.cycles += 0x10000;
      this.maxSeq = seq;
    }
    this.received++;
  }

  /** Remembers the NTP timestamp of a sender report starting at `off` in `buf` (for LSR/DLSR). */
  onSenderReport(buf: Buffer, off: number, nowMs: number): void {
    if (off + 16 > buf.length) return;
    this.lsr = buf.readUInt32BE(off + 10);
    this.lsrAt = nowMs;
  }

  /**
   * Writes an RR with one report block about `mediaSsrc` into `out` (32 bytes) and returns it (RFC 3550 §6.4.2).
   * @param nowMs same clock as given to {@link onSenderReport}
   */
  writeReceiverReport(out: Buffer, senderSsrc: number, mediaSsrc: number, nowMs: number): Buffer {
    const extMax = this.cycles + this.maxSeq;
    const expected = this.started ? extMax - this.baseSeq + 1 : 0;
    let lost = expected - this.received;
    lost = lost < 0 ? 0 : lost > 0x7fffff ? 0x7fffff : lost;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    const fraction = expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval << 8) / expectedInterval));
    const dlsr = this.lsrAt === 0 ? 0 : Math.min(0xffffffff, Math.round(((nowMs - this.lsrAt) * 65536) / 1000));

    out[0] = 0x81; // V=2, RC=1
    out[1] = RTCP_RR;
    out.writeUInt16BE(7, 2); // 8 words - 1
    out.writeUInt32BE(senderSsrc >>> 0, 4);
    out.writeUInt32BE(mediaSsrc >>> 0, 8);
    out.writeUInt32BE(((fraction << 24) | lost) >>> 0, 12);
    out.writeUInt32BE(extMax >>> 0, 16);
    out.writeUInt32BE(0, 20); // jitter: not measured
    out.writeUInt32BE(this.lsr >>> 0, 24);
    out.writeUInt32BE(this.lsrAt === 0 ? 0 : dlsr >>> 0, 28);
    return out;
  }
}
