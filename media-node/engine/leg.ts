/**
 * The leg base class: one node-datachannel PeerConnection (libdatachannel: ICE, DTLS, SRTP in native code) answering
 * one client offer, or offering and taking the answer later, with the transport outcome reported once. Publisher and
 * player legs (publisher-leg.ts, player-leg.ts) add their tracks. The libdatachannel behaviour this relies on is in
 * docs/media-engine.md.
 */
import { PeerConnection, type RtcConfig } from "node-datachannel";
import { MAX_CANDIDATES } from "../../protocol/ice.js";
import type { LegFailure, LegMedia, LegRole } from "../../protocol/media-node.js";
import { MediaNodeError, invalidSdp } from "../errors.js";
import { announceAddresses } from "./candidates.js";
import { noop } from "./descriptions.js";
import type { GopCacheLimits } from "./gop-cache.js";

/** Engine settings shared by every leg. */
export interface EngineOptions {
  /**
   * Address ICE binds to (libdatachannel `bindAddress`, libjuice only): an address of this host, or `0.0.0.0` / `::`
   * for every interface. Without {@link announcedAddresses} the answer's host candidates are the addresses gathered
   * on it (with `0.0.0.0`: one per interface address).
   */
  bindAddress: string;
  /**
   * Addresses put into the host candidates of every answer and offer instead of the gathered ones, with the port the
   * engine bound (1:1 NAT; candidates.ts). Empty or absent = the gathered candidates as they are.
   */
  announcedAddresses?: readonly string[];
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
  /**
   * Publisher RTP that waited longer than this in node-datachannel's callback queue is dropped before the fan-out,
   * ms; 0 = never (see queue-delay.ts).
   */
  maxQueueDelayMs?: number;
  /**
   * Bounds of each stream's GOP cache (instant start, gop-cache.ts); absent = `GOP_CACHE_DEFAULTS`, `maxAgeMs: 0` =
   * off (every new player then asks the publisher for a keyframe).
   */
  gopCache?: GopCacheLimits;
}

/** Transport outcome reported by a leg (see {@link Leg} for the mapping from PeerConnection states). */
export type LegOutcome =
  | { state: "connected" }
  | { state: "failed"; failure: LegFailure; detail: string }
  | { state: "closed"; detail: string };

export type LegStateName = "new" | "connected" | "failed" | "closed";

function rtcConfig(o: Pick<EngineOptions, "bindAddress" | "portRange">): RtcConfig {
  const cfg: RtcConfig = { iceServers: [], bindAddress: o.bindAddress };
  if (o.portRange) {
    cfg.portRangeBegin = o.portRange.min;
    cfg.portRangeEnd = o.portRange.max;
  }
  return cfg;
}

/** What {@link probeGathering} found. */
export interface GatheringProbe {
  /** The probe's local description once gathering completed (host candidates as gathered, nothing announced). */
  sdp: string;
  /** From creating the PeerConnection to gathering complete, ms. */
  elapsedMs: number;
}

/**
 * Start-up check: gathers ICE candidates once with the engine settings the legs will use, on a throwaway
 * PeerConnection (a data channel's offer: the same libjuice agent creation and gathering as an answer), and closes it.
 * A bind address that is not on this host, or a port range with no free port, makes libdatachannel throw "Failed to
 * gather local ICE candidates"; a bind address with no usable interface completes with no candidate.
 * @param timeoutMs longest wait for gathering to complete (host candidates only: a few ms normally)
 * @throws Error with the engine's reason when ICE cannot start, or on timeout
 */
/**
 * The probes' PeerConnections and data channels, referenced until the process exits: without this the media node
 * crashed at every exit (SIGSEGV after node-datachannel 0.33.4's cleanup(), seen when the closed probe's data channel
 * had been garbage-collected; keeping both referenced made the exit clean in repeated runs).
 */
const probes: unknown[] = [];

export async function probeGathering(opts: Pick<EngineOptions, "bindAddress" | "portRange">, timeoutMs = 3000): Promise<GatheringProbe> {
  const t0 = performance.now();
  const pc = new PeerConnection("ice-probe", rtcConfig(opts));
  probes.push(pc);
  let dc: ReturnType<PeerConnection["createDataChannel"]> | undefined;
  try {
    try {
      // not setLocalDescription("offer"): node-datachannel 0.33.4 does not catch a libdatachannel exception there
      // (the process aborts); createDataChannel negotiates the same way and does catch it
      dc = pc.createDataChannel("ice-probe");
      probes.push(dc);
    } catch (e) {
      throw new Error(engineReason(e));
    }
    for (;;) {
      const desc = pc.localDescription();
      if (pc.gatheringState() === "complete" && desc) return { sdp: desc.sdp, elapsedMs: performance.now() - t0 };
      if (performance.now() - t0 > timeoutMs) throw new Error(`ICE gathering did not complete within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    try {
      dc?.close();
      pc.close();
    } catch {
      // already closed
    }
  }
}

/** libdatachannel messages look like "libdatachannel error while …: <reason>"; keep the reason. */
function engineReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /^libdatachannel error while [^:]*: (.*)$/s.exec(msg);
  return (m ? m[1]! : msg).trim();
}

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
  /** Bytes of {@link packetsIn} / {@link packetsOut} (RTP/RTCP packets as handed over, before SRTP). */
  bytesIn = 0;
  bytesOut = 0;
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
    /** Engine settings (read by the stream router for its GOP cache). */
    readonly opts: EngineOptions,
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
   * @throws MediaNodeError invalid_sdp when libdatachannel rejects the offer; node_full when ICE cannot start
   *   (e.g. no free port in MEDIA_NODE_RTC_PORT_MIN..MAX); error on gathering timeout or no local candidate;
   *   stopped when the leg was closed meanwhile
   */
  protected async negotiate(offer: string): Promise<string> {
    try {
      this.pc.setRemoteDescription(offer, "offer");
    } catch (e) {
      const reason = engineReason(e);
      // Offer validation errors are the client's; failing to start ICE (e.g. no free port in the range) is ours.
      if (/gather|ICE transport|ICE agent|port/i.test(reason)) {
        throw new MediaNodeError("node_full", `WebRTC engine error: ${reason}`);
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
   * @throws MediaNodeError node_full when ICE cannot start; error on gathering timeout or no local candidate;
   *   stopped when the leg was closed meanwhile
   */
  protected async makeOffer(): Promise<string> {
    try {
      // node-datachannel 0.33.4's setLocalDescription does not catch libdatachannel exceptions: when ICE cannot start
      // here (an address not on this host, no free port in the range) the process aborts instead of throwing. The
      // start-up check (probeGathering, media-node/main.ts) rules out the configuration that does it every time.
      this.pc.setLocalDescription("offer");
    } catch (e) {
      throw new MediaNodeError("node_full", `WebRTC engine error: ${engineReason(e)}`);
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

  /**
   * Polls the local description until gathering is complete and it has candidates (no trickle), then replaces its
   * host candidates by the announced addresses, if any (candidates.ts).
   */
  private waitForLocal(type: "offer" | "answer"): Promise<string> {
    const deadline = performance.now() + this.opts.gatherTimeoutMs;
    return new Promise((resolve, reject) => {
      const poll = () => {
        if (this.ended) return reject(new MediaNodeError("stopped", "Leg was closed while it was being created"));
        let desc: { type: string; sdp: string } | null = null;
        let gathering = "";
        try {
          desc = this.pc.localDescription();
          gathering = this.pc.gatheringState();
        } catch (e) {
          return reject(new MediaNodeError("error", `WebRTC engine error: ${engineReason(e)}`));
        }
        if (gathering === "complete" && desc && desc.type === type) {
          if (!desc.sdp.includes("a=candidate")) {
            return reject(new MediaNodeError("error", "ICE gathering found no local candidate (check MEDIA_NODE_BIND_ADDRESS)"));
          }
          const announced = this.opts.announcedAddresses ?? [];
          if (announced.length === 0) return resolve(desc.sdp);
          const r = announceAddresses(desc.sdp, announced);
          if (r.announced.length > 0) return resolve(r.sdp);
          // the start-up check (probeGathering) makes this unreachable unless the host's interfaces changed since
          return reject(
            new MediaNodeError("error", `ICE gathered no host candidate of the family of ${announced.join(", ")} (check MEDIA_NODE_BIND_ADDRESS)`),
          );
        }
        if (performance.now() > deadline) {
          return reject(new MediaNodeError("error", `ICE gathering timed out after ${this.opts.gatherTimeoutMs} ms`));
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
      if (this.earlyCandidates.length >= MAX_CANDIDATES) throw new Error("too many candidates before the answer");
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
