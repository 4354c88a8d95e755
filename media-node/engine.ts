/**
 * The WebRTC engine of the media node: the one wrapper around node-datachannel (libdatachannel: ICE, DTLS, SRTP in
 * native code). Nothing else in the project imports node-datachannel.
 *
 * - {@link PublisherLeg} answers a publisher's sendonly offer with recvonly tracks carrying only the codec we chose.
 * - {@link PlayerLeg} answers a player's recvonly offer with sendonly tracks that declare the publisher's SSRC, or in
 *   offer mode makes a sendonly offer with the publisher's codec, payload type and SSRC and takes the answer later.
 * - {@link StreamRouter} forwards the publisher's RTP to the players of the same stream without decoding, relays
 *   sender reports and throttles keyframe requests.
 *
 * Recipe and measurements: shared/reference/platform-notes.md ("Media engine for the media node").
 * RTCP towards publishers is generated here in JS (receiver reports, REMB, PLI) rather than with libdatachannel's
 * RtcpReceivingSession, because that handler swallows every incoming RTCP packet, sender reports included
 * (libdatachannel v0.24.5 src/rtcpreceivingsession.cpp), and sender reports must reach the players. A track without
 * media handler may send raw RTCP whatever its direction (libdatachannel src/impl/track.cpp, Track::outgoing).
 */
import {
  Audio,
  PeerConnection,
  RtcpNackResponder,
  Video,
  cleanup as ndcCleanup,
  initLogger,
  type RtcConfig,
  type Track,
} from "node-datachannel";
import { randomInt } from "node:crypto";
import type { LegFailure, LegMedia, LegRole } from "../protocol/media-node.js";
import { MediaNodeError, invalidSdp } from "./errors.js";
import {
  ReceptionStats,
  RTCP_SR,
  hasKeyframeRequest,
  isRtcp,
  rembSize,
  rtpSeq,
  rtpSsrc,
  writePli,
  writeRemb,
} from "./rtcp.js";
import { PULL_MIDS, type MediaKind, type OfferedCodec, type OfferedMedia, type PlayerPlan, type PublishedTrack, type PublisherPlan, type PullOfferPlan } from "./sdp.js";

/** Engine settings shared by every leg. */
export interface EngineOptions {
  /** Address ICE binds to; the answer's host candidates carry it. */
  bindAddress: string;
  /** Inclusive UDP port range for ICE. */
  portRange?: { min: number; max: number };
  /** Longest wait for ICE gathering before an offer is refused, ms. */
  gatherTimeoutMs: number;
  /** A leg not connected this long after its answer was produced fails, ms. */
  connectTimeoutMs: number;
  /** At most one keyframe request per this many ms goes to a publisher (default 500). */
  keyframeIntervalMs: number;
  /**
   * Bitrate announced to video publishers with REMB after each receiver report, bits/s; 0 = no REMB. libwebrtc
   * senders take it as their ceiling, and, while no loss has been reported in their first 2 s, as their starting
   * estimate (without it, and without transport-cc feedback, they start near 300 kbps and climb ~8 % per second).
   */
  publisherMaxBitrateBps: number;
}

/** Transport outcome reported by a leg (see {@link Leg} for the mapping from PeerConnection states). */
export type LegOutcome =
  | { state: "connected" }
  | { state: "failed"; failure: LegFailure; detail: string }
  | { state: "closed"; detail: string };

export type LegStateName = "new" | "connected" | "failed" | "closed";

/** Routes libdatachannel's log lines (warnings and worse) to `sink`. Call once at start. */
export function initEngineLogging(sink: (level: string, message: string) => void): void {
  initLogger("Warning", (level, message) => sink(level, message));
}

/** Closes every PeerConnection of the process and stops node-datachannel's threads (call once at exit). */
export function shutdownEngine(): void {
  ndcCleanup();
}

function rtcConfig(o: EngineOptions): RtcConfig {
  const cfg: RtcConfig = { iceServers: [], bindAddress: o.bindAddress };
  if (o.portRange) {
    cfg.portRangeBegin = o.portRange.min;
    cfg.portRangeEnd = o.portRange.max;
  }
  return cfg;
}

/** libdatachannel messages look like "libdatachannel error while …: <reason>"; keep the reason. */
function engineReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /^libdatachannel error while [^:]*: (.*)$/s.exec(msg);
  return (m ? m[1]! : msg).trim();
}

/** Adds `codec` under payload type `pt` to a track description (fmtp copied from the offer). */
function addCodec(desc: Video | Audio, kind: MediaKind, pt: number, codec: OfferedCodec): void {
  const rtpmap =
    kind === "video" ? `${codec.name}/${codec.clockRate}` : `${codec.name}/${codec.clockRate}/${codec.channels ?? 1}`;
  if (kind === "video") {
    const v = desc as Video;
    if (codec.fmtp) v.addVideoCodec(pt, rtpmap, codec.fmtp);
    else v.addVideoCodec(pt, rtpmap);
  } else {
    const a = desc as Audio;
    if (codec.name.toLowerCase() === "opus") a.addAudioCodec(pt, rtpmap, "minptime=10;useinbandfec=1");
    else if (codec.fmtp) a.addAudioCodec(pt, rtpmap, codec.fmtp);
    else a.addAudioCodec(pt, rtpmap);
  }
}

/** A description for an m-line we do not use: same mid, direction inactive, its first offered codec. */
function inactiveDescription(m: OfferedMedia): Video | Audio {
  const kind = m.type as MediaKind;
  const desc = kind === "video" ? new Video(m.mid, "Inactive") : new Audio(m.mid, "Inactive");
  const first = m.codecs[0];
  if (first) addCodec(desc, kind, first.pt, first);
  else if (kind === "video") (desc as Video).addVP8Codec(96);
  else (desc as Audio).addOpusCodec(111);
  return desc;
}

const noop = () => {};

/** Most remote candidates an offer-mode leg keeps while it waits for its answer. */
const MAX_EARLY_CANDIDATES = 64;

/**
 * One WebRTC PeerConnection answering one client offer (or, in offer mode, offering and taking the answer later).
 * Never trickles: the answer (offer) is returned once ICE gathering is complete and carries every local candidate;
 * the client's address is learnt from its STUN checks (peer-reflexive candidates, RFC 8445 §7.3.1.3), as WCS clients
 * send offers without candidates.
 *
 * State mapping (PeerConnection → {@link LegOutcome}, reported once, never after {@link close}):
 * - `connected` when the PeerConnection is connected (ICE + DTLS up, tracks open).
 * - before connecting: PeerConnection failed/disconnected/closed, or no connection within `connectTimeoutMs` →
 *   `failed` with failure `ice` if ICE never reached connected, else `dtls`;
 * - after connecting: transport lost (PeerConnection failed, i.e. ICE consent/connectivity lost — libjuice notices a
 *   vanished peer after ~30 s; or ICE disconnected) → `failed`/`ice`; DTLS session closed by the remote
 *   (close_notify, e.g. the browser called pc.close()) → `closed`.
 * - engine exceptions → `failed`/`error`.
 * Every terminal outcome closes the PeerConnection. A leg closed with {@link close} (deleted by the worker,
 * publisher gone, shutdown) reports nothing.
 */
export abstract class Leg {
  abstract readonly role: LegRole;
  state: LegStateName = "new";
  /** Packets received from the client (RTP + RTCP) that reached JS. */
  packetsIn = 0;
  /** Packets sent to the client (RTP + RTCP) from JS. */
  packetsOut = 0;
  /** sendMessageBinary calls that threw or returned false. */
  sendErrors = 0;
  /** Receives the leg's outcome: `connected` once, then at most one `failed`/`closed`. */
  onOutcome: (leg: Leg, outcome: LegOutcome) => void = noop;

  protected readonly pc: PeerConnection;
  private iceConnected = false;
  /** ICE reported disconnected/failed at some point. */
  private iceLost = false;
  private ended = false;
  private connectTimer: NodeJS.Timeout | undefined;
  /** Offer mode: our offer is out, the answer not applied yet. */
  private awaitingAnswer = false;
  /** Offer mode: remote candidates trickled before the answer (the engine needs the remote description first). */
  private readonly earlyCandidates: { candidate: string; mid: string }[] = [];

  constructor(
    readonly legId: string,
    readonly streamName: string,
    protected readonly opts: EngineOptions,
  ) {
    this.pc = new PeerConnection(legId, rtcConfig(opts));
    this.pc.onStateChange((s) => this.onPcState(s));
    this.pc.onIceStateChange((s) => {
      if (s === "connected" || s === "completed") this.iceConnected = true;
      else if (s === "disconnected" || s === "failed") this.iceLost = true;
    });
  }

  /** Negotiated media, for logs and `CreateLegResponse.media`. */
  abstract get media(): LegMedia;

  /** True once the leg is closed or ended. */
  get isEnded(): boolean {
    return this.ended;
  }

  /**
   * Applies the client's offer and resolves with our answer once gathering is complete.
   * Tracks must have been added before (they shape the answer).
   * @throws MediaNodeError invalid_sdp when libdatachannel rejects the offer; internal (503) when ICE cannot start
   *   (e.g. no free port in MEDIA_NODE_RTC_PORT_MIN..MAX); internal on gathering timeout or no local candidate;
   *   conflict when the leg was closed meanwhile
   */
  protected async negotiate(offer: string): Promise<string> {
    try {
      this.pc.setRemoteDescription(offer, "offer");
    } catch (e) {
      const reason = engineReason(e);
      // Offer validation errors are the client's; failing to start ICE (e.g. no free port in the range) is ours.
      if (/gather|ICE transport|ICE agent|port/i.test(reason)) {
        throw new MediaNodeError("internal", `WebRTC engine error: ${reason}`, 503);
      }
      throw invalidSdp(reason);
    }
    const answer = await this.waitForLocal("answer");
    this.armConnectTimer();
    return answer;
  }

  /**
   * Offer mode: makes our offer from the tracks added so far and resolves with it once gathering is complete (every
   * local candidate, `a=end-of-candidates`). The connect timer runs from here, and again from {@link setAnswer}.
   * @throws MediaNodeError internal (503 when ICE cannot start) on engine errors, gathering timeout or no local
   *   candidate; conflict when the leg was closed meanwhile
   */
  protected async makeOffer(): Promise<string> {
    try {
      this.pc.setLocalDescription("offer");
    } catch (e) {
      throw new MediaNodeError("internal", `WebRTC engine error: ${engineReason(e)}`, 503);
    }
    this.awaitingAnswer = true;
    const offer = await this.waitForLocal("offer");
    this.armConnectTimer();
    return offer;
  }

  /** Whether this is an offer-mode leg whose answer has not been applied yet. */
  get waitingForAnswer(): boolean {
    return this.awaitingAnswer && !this.ended;
  }

  /**
   * Offer mode: applies the remote answer, then the candidates trickled before it.
   * @throws MediaNodeError conflict when no answer is awaited; invalid_sdp when libdatachannel rejects the answer
   */
  protected setAnswer(answer: string): void {
    if (!this.waitingForAnswer) throw new MediaNodeError("conflict", "Leg is not waiting for an answer");
    try {
      this.pc.setRemoteDescription(answer, "answer");
    } catch (e) {
      throw invalidSdp(engineReason(e));
    }
    this.awaitingAnswer = false;
    this.armConnectTimer();
    for (const { candidate, mid } of this.earlyCandidates.splice(0)) {
      try {
        this.pc.addRemoteCandidate(candidate, mid);
      } catch {
        // a candidate the engine refuses now would have been refused before; the others suffice (or prflx does)
      }
    }
  }

  /** (Re)starts the timer that fails a leg not connected within `connectTimeoutMs`. */
  private armConnectTimer(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    if (this.state !== "new" || this.ended) return;
    this.connectTimer = setTimeout(() => {
      this.end({
        state: "failed",
        failure: this.iceConnected ? "dtls" : "ice",
        detail: `not connected within ${this.opts.connectTimeoutMs} ms`,
      });
    }, this.opts.connectTimeoutMs);
    this.connectTimer.unref();
  }

  /** Polls the local description until gathering is complete and it has candidates (no trickle). */
  private waitForLocal(type: "offer" | "answer"): Promise<string> {
    const deadline = performance.now() + this.opts.gatherTimeoutMs;
    return new Promise((resolve, reject) => {
      const poll = () => {
        if (this.ended) return reject(new MediaNodeError("conflict", "Leg was closed while it was being created"));
        let desc: { type: string; sdp: string } | null = null;
        let gathering = "";
        try {
          desc = this.pc.localDescription();
          gathering = this.pc.gatheringState();
        } catch (e) {
          return reject(new MediaNodeError("internal", `WebRTC engine error: ${engineReason(e)}`));
        }
        if (gathering === "complete" && desc && desc.type === type) {
          if (desc.sdp.includes("a=candidate")) return resolve(desc.sdp);
          return reject(
            new MediaNodeError("internal", "ICE gathering found no local candidate (check MEDIA_NODE_ICE_ADDRESS)"),
          );
        }
        if (performance.now() > deadline) {
          return reject(new MediaNodeError("internal", `ICE gathering timed out after ${this.opts.gatherTimeoutMs} ms`));
        }
        setTimeout(poll, 5);
      };
      poll();
    });
  }

  private onPcState(s: string): void {
    if (this.ended) return;
    if (s === "connected") {
      if (this.state !== "new") return;
      this.state = "connected";
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
      this.onConnected();
      this.onOutcome(this, { state: "connected" });
      return;
    }
    if (s !== "failed" && s !== "disconnected" && s !== "closed") return;
    if (this.state === "new") {
      const failure: LegFailure = this.iceConnected ? "dtls" : "ice";
      this.end({ state: "failed", failure, detail: `peer connection ${s} before connecting` });
      return;
    }
    // After connecting. libdatachannel: DTLS can only fail during its handshake, so a failed PeerConnection now means
    // ICE failed (consent freshness lost, RFC 7675: the peer vanished, ~30 s with libjuice); "disconnected" is either
    // ICE disconnected or the DTLS session closed (close_notify from the remote, or a read error).
    let ice = "";
    try {
      ice = this.pc.iceState();
    } catch {
      ice = "closed";
    }
    if (s === "failed" || this.iceLost || ice === "disconnected" || ice === "failed") {
      this.end({ state: "failed", failure: "ice", detail: "connection lost after connecting (ICE consent or connectivity lost)" });
    } else {
      this.end({ state: "closed", detail: "closed by the remote peer" });
    }
  }

  /** Ends the leg with an outcome (reported), closing it. */
  protected end(outcome: Exclude<LegOutcome, { state: "connected" }>): void {
    if (this.ended) return;
    this.state = outcome.state;
    this.release();
    this.onOutcome(this, outcome);
  }

  /** Reports an engine exception as `failed`/`error`. */
  protected fail(e: unknown): void {
    this.end({ state: "failed", failure: "error", detail: engineReason(e) });
  }

  /**
   * Adds one remote candidate trickled by the client (`candidate:…`, RFC 8839) to the ICE agent, for the media
   * section `mid` (must be a mid of the offer). Host names are resolved by libdatachannel. An offer-mode leg keeps
   * candidates that arrive before its answer and adds them with the answer.
   * @throws Error with the engine's reason when the candidate is refused or the leg has ended
   */
  addRemoteCandidate(candidate: string, mid: string): void {
    if (this.ended) throw new Error("leg has ended");
    if (this.awaitingAnswer) {
      if (this.earlyCandidates.length >= MAX_EARLY_CANDIDATES) throw new Error("too many candidates before the answer");
      this.earlyCandidates.push({ candidate, mid });
      return;
    }
    try {
      this.pc.addRemoteCandidate(candidate, mid);
    } catch (e) {
      throw new Error(engineReason(e));
    }
  }

  /** Closes the leg silently (no outcome is reported). Idempotent. */
  close(): void {
    if (this.ended) return;
    this.state = "closed";
    this.release();
  }

  private release(): void {
    this.ended = true;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.detach();
    try {
      this.pc.close();
    } catch {
      // already closed by the engine
    }
  }

  /** Hook: the leg just connected. */
  protected onConnected(): void {}
  /** Hook: stop forwarding to/from this leg (called once, before the PeerConnection closes). */
  protected abstract detach(): void;
}

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
 * `EngineOptions.publisherMaxBitrateBps`, and PLI (RFC 4585 §6.3.1) on {@link sendKeyframeRequest}.
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

  private readonly tracks: Track[] = [];
  private videoTrack?: Track;
  private readonly rtcpSsrc = randomInt(1, 0xffffffff);
  private readonly pli = Buffer.alloc(12);
  private readonly rr = Buffer.alloc(32);
  private readonly remb: Buffer | undefined;

  /**
   * @param plan from `planPublisher` (sdp.ts): which m-lines/codecs/SSRCs to receive
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

  /** Answers the publisher's offer; see {@link Leg.negotiate}. */
  answer(offer: string): Promise<string> {
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
      if (t.sendMessageBinary(buf)) this.packetsOut++;
      else this.sendErrors++;
    } catch {
      this.sendErrors++;
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
    track.onMessage((buf) => {
      this.packetsIn++;
      const p = this[kind];
      if (!p) return;
      if (isRtcp(buf)) {
        // A sender report (first packet of a compound, RFC 3550 §6.1) about our SSRC: answer it with a receiver
        // report and pass it on to the players (same SSRC there) for lip sync and RTT.
        if (buf[1] === RTCP_SR && buf.readUInt32BE(4) === p.ssrc) {
          const now = performance.now();
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
      stats.onRtp(rtpSeq(buf));
      router.forwardRtp(kind, buf);
    });
    track.onError((err) => this.fail(err));
  }

  protected override onConnected(): void {
    this.router.requestKeyframe();
  }

  protected detach(): void {
    this.router.close();
  }
}

/** One player track the router sends to. */
interface Target {
  leg: PlayerLeg;
  /** Track carrying the RTP. */
  track: Track;
  /** Track to send RTCP through (any track of the bundle reaches the same SRTP session). */
  rtcpTrack: Track;
  /** Payload type the player negotiated for the publisher's codec. */
  pt: number;
}

/** Players that negotiated the same payload type for a kind. */
interface PtGroup {
  pt: number;
  targets: Target[];
}

/**
 * Per-stream forwarder: publisher RTP/RTCP → player tracks, keyframe requests ← players.
 *
 * Forwarding is allocation-free per packet. The Buffer node-datachannel hands to `onMessage` is a fresh copy owned
 * by us, and `Track.sendMessageBinary` copies the bytes synchronously before returning (node-datachannel
 * src/cpp/media-track-wrapper.cpp → rtc::Track::send(const byte*, size_t) builds its message from the data). So
 * the same Buffer goes to every player of the publisher's payload type, and for each other payload type the PT
 * byte is rewritten in place (marker bit kept), sent to that group, and restored at the end. (A separate scratch
 * buffer would need one exactly-sized Buffer per packet length, since sendMessageBinary sends the whole Buffer and a
 * subarray view is itself an allocation.)
 */
export class StreamRouter {
  private readonly groups: Record<MediaKind, PtGroup[]> = { video: [], audio: [] };
  private readonly playerLegs = new Set<PlayerLeg>();
  private lastKeyframeRequest = -Infinity;
  private keyframeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly streamName: string,
    readonly publisher: PublisherLeg,
    private readonly keyframeIntervalMs: number,
  ) {}

  /** Player legs currently registered on this stream. */
  get players(): ReadonlySet<PlayerLeg> {
    return this.playerLegs;
  }

  /** Registers a player leg (its tracks attach themselves when they open). */
  addPlayer(leg: PlayerLeg): void {
    this.playerLegs.add(leg);
  }

  /** Unregisters a player leg and detaches all its tracks. */
  removePlayer(leg: PlayerLeg): void {
    this.playerLegs.delete(leg);
    for (const kind of ["video", "audio"] as const) {
      const groups = this.groups[kind];
      for (const g of groups) g.targets = g.targets.filter((t) => t.leg !== leg);
      this.groups[kind] = groups.filter((g) => g.targets.length > 0);
    }
  }

  /** Starts sending `kind` to a player track. */
  attach(kind: MediaKind, target: Target): void {
    if (this.closed) return;
    const groups = this.groups[kind];
    let g = groups.find((x) => x.pt === target.pt);
    if (!g) {
      g = { pt: target.pt, targets: [] };
      // The publisher's own payload type first: that group needs no rewrite.
      const pubPt = this.publisher[kind]?.codec.pt;
      if (target.pt === pubPt) groups.unshift(g);
      else groups.push(g);
    }
    if (!g.targets.some((t) => t.track === target.track)) g.targets.push(target);
  }

  /** Sends one RTP packet of `kind` to every attached player (PT rewritten per group; see class doc). */
  forwardRtp(kind: MediaKind, buf: Buffer): void {
    const groups = this.groups[kind];
    const n = groups.length;
    if (n === 0) return;
    const orig = buf[1]!;
    const marker = orig & 0x80;
    for (let g = 0; g < n; g++) {
      const group = groups[g]!;
      buf[1] = marker | group.pt;
      const targets = group.targets;
      for (let i = 0; i < targets.length; i++) {
        const t = targets[i]!;
        try {
          if (t.track.sendMessageBinary(buf)) t.leg.packetsOut++;
          else t.leg.sendErrors++;
        } catch {
          t.leg.sendErrors++;
        }
      }
    }
    buf[1] = orig;
  }

  /** Sends an RTCP packet (sender report) about the publisher's `kind` SSRC to every attached player, unchanged. */
  forwardRtcp(kind: MediaKind, buf: Buffer): void {
    const groups = this.groups[kind];
    for (let g = 0; g < groups.length; g++) {
      const targets = groups[g]!.targets;
      for (let i = 0; i < targets.length; i++) {
        const t = targets[i]!;
        try {
          if (t.rtcpTrack.sendMessageBinary(buf)) t.leg.packetsOut++;
          else t.leg.sendErrors++;
        } catch {
          t.leg.sendErrors++;
        }
      }
    }
  }

  /**
   * Asks the publisher for a keyframe: at most one PLI per `keyframeIntervalMs`; a request inside the window is
   * sent when the window ends (one trailing request, however many came in).
   */
  requestKeyframe(): void {
    if (this.closed || this.keyframeTimer) return;
    const wait = this.lastKeyframeRequest + this.keyframeIntervalMs - performance.now();
    if (wait <= 0) {
      this.sendKeyframeRequest();
      return;
    }
    this.keyframeTimer = setTimeout(() => {
      this.keyframeTimer = undefined;
      this.sendKeyframeRequest();
    }, wait);
    this.keyframeTimer.unref();
  }

  private sendKeyframeRequest(): void {
    if (this.closed) return;
    this.lastKeyframeRequest = performance.now();
    this.publisher.sendKeyframeRequest();
  }

  /** Stops forwarding (the publisher is gone). Player legs are closed by their owner. */
  close(): void {
    this.closed = true;
    if (this.keyframeTimer) clearTimeout(this.keyframeTimer);
    this.keyframeTimer = undefined;
    this.groups.video = [];
    this.groups.audio = [];
  }
}

/**
 * A player's leg: sends the publisher's RTP to one player (sendonly).
 *
 * Answer: for each kind the publisher sends, the player's first recvonly/sendrecv m-line of that kind gets a
 * sendonly track with the player's mid and the payload type the player offered for the publisher's codec (with the
 * publisher's fmtp), declaring the publisher's SSRC, CNAME and a shared msid (RFC 5576, RFC 8830) so audio and video
 * form one stream. Other m-lines are answered inactive. The video track has an `RtcpNackResponder` that answers
 * NACKs (RFC 4585 §6.2.1) from a native history of sent packets; PLI/FIR from the player are passed to the
 * router's throttled {@link StreamRouter.requestKeyframe}, and so is the opening of the video track.
 *
 * Offer mode (plan from `planOfferedPlayer`): the same tracks, with our own mids and the publisher's payload types,
 * go into an offer ({@link offer}); {@link applyAnswer} completes the negotiation. Everything else is identical.
 */
export class PlayerLeg extends Leg {
  readonly role = "player" as const;
  readonly plan: PlayerPlan;
  private readonly tracks: Track[] = [];

  /**
   * @param router the stream's router (its publisher must send what `plan` uses)
   * @param plan from `planPlayer` (sdp.ts)
   */
  constructor(
    legId: string,
    streamName: string,
    opts: EngineOptions,
    readonly router: StreamRouter,
    plan: PlayerPlan,
  ) {
    super(legId, streamName, opts);
    this.plan = plan;
    const pub = router.publisher;
    const msid = `wcs-${streamName.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 64) || "stream"}`;
    const made: Partial<Record<MediaKind, Track>> = {};
    for (const kind of ["video", "audio"] as const) {
      const played = plan[kind];
      const published = pub[kind];
      if (!played || !published) continue;
      const desc = kind === "video" ? new Video(played.mid, "SendOnly") : new Audio(played.mid, "SendOnly");
      // Our sendonly track carries the publisher's codec under the player's payload type.
      addCodec(desc, kind, played.pt, { ...published.codec, pt: played.pt });
      desc.addSSRC(published.ssrc, published.cname ?? msid, msid, `${msid}-${kind}`);
      const track = this.pc.addTrack(desc);
      this.tracks.push(track);
      made[kind] = track;
    }
    for (const m of plan.inactive) {
      const t = this.pc.addTrack(inactiveDescription(m));
      t.onMessage(noop);
      this.tracks.push(t);
    }
    // RTCP (sender reports) goes through a track without media handler when there is one, so that the NACK
    // responder's packet history (keyed by RTP sequence number) never stores RTCP.
    const rtcpTrack = made.audio ?? made.video!;
    for (const kind of ["video", "audio"] as const) {
      const track = made[kind];
      const played = plan[kind];
      if (!track || !played) continue;
      const target: Target = { leg: this, track, rtcpTrack, pt: played.pt };
      if (kind === "video") {
        track.setMediaHandler(new RtcpNackResponder());
        track.onMessage((buf) => {
          this.packetsIn++;
          if (hasKeyframeRequest(buf)) router.requestKeyframe();
        });
      } else {
        track.onMessage(() => {
          this.packetsIn++;
        });
      }
      track.onOpen(() => {
        if (this.isEnded) return;
        router.attach(kind, target);
        if (kind === "video") router.requestKeyframe();
      });
      track.onError((err) => this.fail(err));
    }
    router.addPlayer(this);
  }

  get media(): LegMedia {
    return { videoCodec: this.plan.video?.codec.name, audioCodec: this.plan.audio?.codec.name };
  }

  /** Answers the player's offer; see {@link Leg.negotiate}. */
  answer(offer: string): Promise<string> {
    return this.negotiate(offer);
  }

  /** Offer mode (plan from `planOfferedPlayer`): our sendonly offer; see {@link Leg.makeOffer}. */
  offer(): Promise<string> {
    return this.makeOffer();
  }

  /** Offer mode: applies the remote answer (checked by the caller with `checkPlayerAnswer`); see {@link Leg.setAnswer}. */
  applyAnswer(answer: string): void {
    this.setAnswer(answer);
  }

  protected detach(): void {
    this.router.removePlayer(this);
  }
}
