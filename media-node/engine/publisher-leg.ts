/**
 * The publisher's leg: receives a publisher's RTP and hands it to its stream's router (stream-router.ts); generates
 * the RTCP a sender needs (receiver reports, REMB, PLI) and asks for lost video packets again (generic NACK,
 * nack-requester.ts).
 *
 * RTCP towards publishers is generated here in JS rather than with libdatachannel's RtcpReceivingSession, because
 * that handler swallows every incoming RTCP packet, sender reports included (libdatachannel v0.24.5
 * src/rtcpreceivingsession.cpp), and sender reports must reach the players. A track without media handler may send
 * raw RTCP whatever its direction (libdatachannel src/impl/track.cpp, Track::outgoing). See docs/media-engine.md.
 */
import { Audio, Video, type Track } from "node-datachannel";
import { randomInt } from "node:crypto";
import type { LegMedia } from "../../protocol/media-node.js";
import {
  NACK_MAX_FCI,
  ReceptionStats,
  RTCP_SR,
  isRtcp,
  nackFciCount,
  nackPack,
  nackSize,
  rembSize,
  rtpSeq,
  rtpSsrc,
  rtpTimestamp,
  writeNack,
  writePli,
  writeRemb,
} from "../rtcp.js";
import { PULL_MIDS, nackNegotiated, type PublishedTrack, type PublisherPlan, type PullOfferPlan } from "../plans.js";
import type { MediaKind, OfferedCodec } from "../sdp.js";
import { addCodec, inactiveDescription, noop } from "./descriptions.js";
import { Leg, type EngineOptions } from "./leg.js";
import { ARRIVAL_DUPLICATE, ARRIVAL_NEW, NackRequester, type Arrival } from "./nack-requester.js";
import { QueueDelayGuard } from "./queue-delay.js";
import { StreamRouter } from "./stream-router.js";

/**
 * A publisher's leg: receives its RTP (recvonly) and hands it to the stream's {@link StreamRouter}.
 *
 * Answer: for the chosen m-line of each kind a recvonly track with the offer's mid and only the chosen codec and
 * payload type (created before setRemoteDescription, otherwise libdatachannel mirrors the whole offer); every other
 * audio/video m-line is answered inactive. No header extensions, RTX or FEC are negotiated, so the publisher sends
 * plain RTP of one SSRC per kind, which players receive unchanged.
 *
 * RTCP to the publisher (generated here, see file header): a receiver report (RFC 3550 §6.4.2, with LSR/DLSR so the
 * sender measures RTT) in answer to each sender report, for video followed by a REMB of
 * `EngineOptions.publisherMaxBitrateBps`, PLI (RFC 4585 §6.3.1) on {@link sendKeyframeRequest}, and generic NACKs
 * (RFC 4585 §6.2.1) for missing video packets ({@link NackRequester}: asked for at once, retried about every round
 * trip, at most 10 times and for 1 s) when the publisher's offer (a pull leg: the remote answer) has
 * `a=rtcp-fb:<pt> nack` for the video codec. Our answer declares it too (libdatachannel adds it to every video
 * codec), so a libwebrtc publisher resends the original packet (no RTX is negotiated): same SSRC and sequence
 * number, forwarded to the players as it is, late. Duplicates are dropped; a resent packet bypasses the
 * queue-delay guard (its RTP timestamp is old by design).
 * RTP packets of other SSRCs on the m-line (simulcast layers, RTX) are dropped.
 */
export class PublisherLeg extends Leg {
  readonly role = "publisher" as const;
  readonly router: StreamRouter;
  /** What the publisher sends; for a pull leg set from the remote answer ({@link applyPullAnswer}). */
  video?: PublishedTrack;
  audio?: PublishedTrack;
  /** Pull (relay) leg: the codecs it offers; undefined for a leg answering a client's offer. */
  readonly pullOffer?: PullOfferPlan;
  /** Keyframe requests (PLI) sent to the publisher. */
  keyframeRequests = 0;
  /** RTP packets dropped because they waited too long in the callback queue (see queue-delay.ts). */
  packetsLate = 0;
  /** Video RTP packets received twice (e.g. a NACKed packet that was only late) and dropped. */
  packetsDuplicate = 0;
  /** Generic NACK packets sent to the publisher. */
  nackPackets = 0;
  /** Reception statistics of each received track (loss for the metrics). */
  private readonly reception: ReceptionStats[] = [];

  private readonly tracks: Track[] = [];
  private videoTrack?: Track;
  private readonly rtcpSsrc = randomInt(1, 0xffffffff);
  private readonly pli = Buffer.alloc(12);
  private readonly rr = Buffer.alloc(32);
  private readonly remb: Buffer | undefined;
  /** Whether the remote side accepts generic NACKs for the video codec (set with the offer / the pull answer). */
  private nackAllowed = false;
  /** Upstream repair of the video SSRC; made with the first video RTP packet when {@link nackAllowed}. */
  private nack?: NackRequester;
  /** Sequence numbers due for a NACK (filled by {@link NackRequester.collect}). */
  private nackSeqs?: Uint16Array;
  /** NACK packets by FCI count (exactly sized: the whole Buffer is sent), made when first needed. */
  private readonly nackBufs: Array<Buffer | undefined> = [];

  /**
   * @param plan from `planPublisher` (plans.ts): which m-lines/codecs/SSRCs to receive
   * @throws Error from node-datachannel if the description cannot be built (reported as internal)
   */
  constructor(legId: string, streamName: string, opts: EngineOptions, plan: PublisherPlan, pullOffer?: PullOfferPlan) {
    super(legId, streamName, opts);
    this.video = plan.video;
    this.audio = plan.audio;
    this.pullOffer = pullOffer;
    this.router = new StreamRouter(streamName, this, opts.keyframeIntervalMs);
    if (plan.video && opts.publisherMaxBitrateBps > 0) {
      const ssrcs = [plan.video.ssrc, ...(plan.audio ? [plan.audio.ssrc] : [])];
      this.remb = writeRemb(Buffer.alloc(rembSize(ssrcs.length)), this.rtcpSsrc, opts.publisherMaxBitrateBps, ssrcs);
    }
    for (const t of [plan.video, plan.audio]) if (t) this.addReceiveTrack(t.kind, t.mid, [t.codec]);
    if (pullOffer) {
      // offer mode (relay pull): one recvonly m-line per kind with every codec we can forward, video first
      if (pullOffer.video.length) this.addReceiveTrack("video", PULL_MIDS.video, pullOffer.video);
      if (pullOffer.audio.length) this.addReceiveTrack("audio", PULL_MIDS.audio, pullOffer.audio);
    }
    for (const m of plan.inactive) this.keep(this.pc.addTrack(inactiveDescription(m)));
  }

  get media(): LegMedia {
    return { videoCodec: this.video?.codec.name, audioCodec: this.audio?.codec.name };
  }

  /** RTP packets lost on the way from the publisher (sequence gaps, RFC 3550 §6.4.1 cumulative lost), all tracks. */
  get packetsLost(): number {
    let n = 0;
    for (const r of this.reception) n += r.cumulativeLost;
    return n;
  }

  /** Video packets found missing and asked for with NACKs (each counted once; see nack-requester.ts). */
  get nackRequested(): number {
    return this.nack?.requested ?? 0;
  }

  /** Requested video packets that then arrived. */
  get nackRepaired(): number {
    return this.nack?.repaired ?? 0;
  }

  /** Requested video packets given up (requests used up, over 1 s old, or the leg ended first). */
  get nackUnrepaired(): number {
    return this.nack?.unrepaired ?? 0;
  }

  /** Smoothed time from a NACK to the packet it asked for, ms (NackRequester.rttMs; 0 before any video). */
  get nackRttMs(): number {
    return this.nack?.rttMs ?? 0;
  }

  /** Answers the publisher's offer; see {@link Leg.negotiate}. */
  answer(offer: string): Promise<string> {
    this.nackAllowed = !!this.video && nackNegotiated(offer, this.video.mid, this.video.codec.pt);
    return this.negotiate(offer);
  }

  /** Pull leg: our recvonly offer (see {@link Leg.makeOffer}). */
  offer(): Promise<string> {
    return this.makeOffer();
  }

  /**
   * Pull leg: applies the remote answer; `tracks` (from `planPulledTracks`) says what the remote sends. An SSRC of 0
   * (the answer declared none) is learnt from the first RTP packet of that m-line.
   */
  applyPullAnswer(answer: string, tracks: { video?: PublishedTrack; audio?: PublishedTrack }): void {
    this.setAnswer(answer);
    this.video = tracks.video;
    this.audio = tracks.audio;
    this.nackAllowed = !!tracks.video && nackNegotiated(answer, tracks.video.mid, tracks.video.codec.pt);
  }

  /**
   * Sends one PLI for the video SSRC (no-op without video or before the track opens). Callers throttle: use
   * {@link StreamRouter.requestKeyframe}.
   */
  sendKeyframeRequest(): void {
    const t = this.videoTrack;
    if (!t || !this.video || this.isEnded || !t.isOpen()) return;
    this.sendRtcp(t, writePli(this.pli, this.rtcpSsrc, this.video.ssrc));
    this.keyframeRequests++;
  }

  private keep(t: Track): Track {
    t.onMessage(noop); // drain RTCP of unused m-lines
    this.tracks.push(t);
    return t;
  }

  private sendRtcp(t: Track, buf: Buffer): void {
    try {
      if (t.sendMessageBinary(buf)) {
        this.packetsOut++;
        this.bytesOut += buf.length;
      } else this.sendErrors++;
    } catch {
      this.sendErrors++;
    }
  }

  /**
   * Sends the NACKs that are due (called on every packet the leg receives, so retries are timed to ~20 ms with audio
   * flowing): at most {@link NACK_MAX_FCI} FCI entries per RTCP packet, several packets when more are due.
   */
  private pollNacks(now: number): void {
    const nack = this.nack;
    if (!nack || this.isEnded) return;
    const seqs = this.nackSeqs!;
    const n = nack.collect(seqs, now);
    if (n === 0) return;
    const t = this.videoTrack;
    const v = this.video;
    if (!t || !v || !t.isOpen()) return;
    for (let i = 0; i < n; ) {
      const end = nackPack(seqs, i, n, NACK_MAX_FCI);
      const fci = nackFciCount(seqs, i, end);
      const buf = (this.nackBufs[fci] ??= Buffer.alloc(nackSize(fci)));
      this.sendRtcp(t, writeNack(buf, this.rtcpSsrc, v.ssrc, seqs, i, end));
      this.nackPackets++;
      i = end;
    }
  }

  private addReceiveTrack(kind: MediaKind, mid: string, codecs: OfferedCodec[]): void {
    const desc = kind === "video" ? new Video(mid, "RecvOnly") : new Audio(mid, "RecvOnly");
    for (const c of codecs) addCodec(desc, kind, c.pt, c);
    const track = this.pc.addTrack(desc);
    this.tracks.push(track);
    if (kind === "video") this.videoTrack = track;
    const stats = new ReceptionStats();
    const router = this.router;
    /** Made at the first RTP packet, when the codec (clock rate) is known also for a pull leg. */
    let guard: QueueDelayGuard | undefined;
    let resync = false;
    this.reception.push(stats);
    const onMedia = (buf: Buffer, now: number): void => {
      const p = this[kind];
      if (!p) return;
      if (isRtcp(buf)) {
        // A sender report (first packet of a compound, RFC 3550 §6.1) about our SSRC: answer it with a receiver
        // report and pass it on to the players (same SSRC there) for lip sync and RTT.
        if (buf[1] === RTCP_SR && buf.readUInt32BE(4) === p.ssrc) {
          stats.onSenderReport(buf, 0, now);
          this.sendRtcp(track, stats.writeReceiverReport(this.rr, this.rtcpSsrc, p.ssrc, now));
          if (kind === "video" && this.remb) this.sendRtcp(track, this.remb);
          router.forwardRtcp(kind, buf);
        }
        return;
      }
      if (buf.length < 12) return;
      const ssrc = rtpSsrc(buf);
      if (p.ssrc === 0) p.ssrc = ssrc; // pull leg whose answer declared no SSRC
      if (ssrc !== p.ssrc) return;
      const seq = rtpSeq(buf);
      let arrival: Arrival = ARRIVAL_NEW;
      if (kind === "video" && this.nackAllowed) {
        if (!this.nack) {
          this.nack = new NackRequester();
          this.nackSeqs = new Uint16Array(256);
        }
        arrival = this.nack.onPacket(seq, now);
        if (arrival === ARRIVAL_DUPLICATE) {
          this.packetsDuplicate++;
          return;
        }
      }
      stats.onRtp(seq);
      guard ??= new QueueDelayGuard(p.codec.clockRate, { maxDelayMs: this.opts.maxQueueDelayMs ?? 0 });
      // Only packets ahead of the highest so far go through the guard: a resent or reordered one carries an older
      // timestamp by design, which is not time spent in the queue (nor a new baseline).
      if (arrival === ARRIVAL_NEW && guard.late(rtpTimestamp(buf), now)) {
        this.packetsLate++;
        resync = kind === "video";
        return;
      }
      if (resync) {
        // the players lost what was dropped: a keyframe lets their decoders start again
        resync = false;
        router.requestKeyframe();
      }
      router.forwardRtp(kind, buf);
    };
    track.onMessage((buf) => {
      this.packetsIn++;
      this.bytesIn += buf.length;
      const now = performance.now();
      onMedia(buf, now);
      this.pollNacks(now);
    });
    track.onError((err) => this.fail(err));
  }

  protected override onConnected(): void {
    this.router.requestKeyframe();
  }

  protected detach(): void {
    this.nack?.close();
    this.router.close();
  }
}
