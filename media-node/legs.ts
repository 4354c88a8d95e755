/**
 * The node's leg registry: creates publisher and player legs (answer or offer mode) from worker requests, keeps one router per stream
 * name, enforces the node's rules (unique leg ids, one publisher per stream, players need that publisher, leg cap),
 * and turns leg outcomes into lifecycle notices for logging and worker events.
 */
import { isIP } from "node:net";
import { candidateAddress } from "../protocol/ice.js";
import type {
  AddCandidatesRequest,
  AddCandidatesResponse,
  ApplyAnswerRequest,
  ApplyAnswerResponse,
  CreateLegRequest,
  CreateLegResponse,
  HeldLeg,
  LegFailure,
  LegRole,
  LegStatus,
  NodeLoad,
} from "../protocol/media-node.js";
import { MediaNodeError } from "./errors.js";
import { type EngineOptions, type Leg, type LegOutcome, PlayerLeg, PublisherLeg, type StreamRouter } from "./engine/index.js";
import { PULL_MIDS, checkPlayerAnswer, planOfferedPlayer, planPlayer, planPublisher, planPulledTracks, pullOfferPlan } from "./plans.js";
import { parseOffer, type MediaKind } from "./sdp.js";

/**
 * Something that happened to a leg. `connected`, `failed` and `closed` are reported to the worker as LegEvents;
 * `created` and `removed` (closed on purpose: worker DELETE, publisher gone, shutdown, failed creation) are only logged.
 */
export type LegNotice = {
  legId: string;
  streamName: string;
  role: LegRole;
  videoCodec?: string;
  audioCodec?: string;
} & (
  | { kind: "created"; answerMs: number }
  | { kind: "connected" }
  | { kind: "failed"; failure: LegFailure; detail: string }
  | { kind: "closed"; detail: string }
  | { kind: "removed"; cause: RemovalCause }
);

/**
 * Why a leg was closed on purpose (a `removed` notice): the worker deleted it, its publisher leg went away, its
 * creation failed, or the node is shutting down.
 */
export type RemovalCause = "deleted" | "publisher_gone" | "creation_failed" | "shutdown";

export interface LegManagerOptions {
  engine: EngineOptions;
  /** Most legs at once (legs being negotiated included); 0 = unlimited. */
  maxLegs: number;
  /** Receives every {@link LegNotice}, synchronously. */
  onNotice: (n: LegNotice) => void;
  /** Why the node takes no new leg now (measured load, media-node/admission.ts), or undefined. */
  overloaded?: () => string | undefined;
  /**
   * Takes (or declines: undefined) the recording a publisher leg's request asks for (CreateLegRequest `record`), once
   * the leg has answered; its record name goes into the answer (media-node/recordings.ts).
   */
  record?: (leg: PublisherLeg, name: string) => { recordName: string } | undefined;
}

/**
 * Registry of the node's legs.
 *
 * Rules: a leg id is unique on the node (409 conflict); a stream name has at most one publisher leg on the node
 * (name_in_use); a player leg needs the stream's publisher leg on this node (not_found "Stream not found"); with
 * `maxLegs` > 0 a further leg is refused (node_full), and so is any new leg while `overloaded()` gives a reason. When a publisher leg goes away (deleted, failed, closed), all its player legs are
 * closed silently: the worker learns about the publisher and tells the players' clients itself.
 */
export class LegManager {
  private readonly legs = new Map<string, Leg>();
  private readonly routers = new Map<string, StreamRouter>();
  /** The counters of legs already gone (see {@link totals}). */
  private readonly gone: LegTotals = emptyTotals();
  /** The mids of each leg's offer, in m-line order (trickled candidates are matched to them). */
  private readonly mids = new WeakMap<Leg, string[]>();
  /** When each leg was registered (performance.now(), ms), for the ages in heartbeats ({@link held}). */
  private readonly createdAt = new WeakMap<Leg, number>();

  constructor(private readonly opts: LegManagerOptions) {}

  /**
   * Creates a leg and answers its offer, or (a player without `offer`) creates an offer-mode leg and returns its offer.
   * @returns the answer / offer (every local candidate included) and the negotiated / offered codecs
   * @throws MediaNodeError invalid_request | conflict | name_in_use | not_found | invalid_sdp | no_common_codecs |
   *   node_full | stopped | error
   */
  async create(req: CreateLegRequest): Promise<CreateLegResponse> {
    const { legId, streamName, role, offer } = req;
    if (req.cascade === "pull") return this.createPullLeg({ legId, streamName });
    if (offer === undefined && role === "publisher") {
      throw new MediaNodeError("invalid_request", "Invalid request: a publisher leg needs the client's offer");
    }
    this.admit(legId, role === "publisher" ? streamName : undefined, req.cascade === "feed");
    const started = performance.now();
    // Checks, offer analysis and registration are synchronous: no other request interleaves until `answer()`.
    let leg: PublisherLeg | PlayerLeg;
    let mids: string[];
    if (offer === undefined) {
      const router = this.routers.get(streamName);
      if (!router) throw new MediaNodeError("not_found", "Stream not found");
      const plan = planOfferedPlayer({ video: router.publisher.video, audio: router.publisher.audio });
      leg = this.construct(() => new PlayerLeg(legId, streamName, this.opts.engine, router, plan));
      mids = [plan.video?.mid, plan.audio?.mid].filter((m): m is string => m !== undefined);
    } else {
      const parsed = parseOffer(offer);
      mids = parsed.media.map((m) => m.mid);
      if (role === "publisher") {
        const plan = planPublisher(parsed);
        leg = this.construct(() => new PublisherLeg(legId, streamName, this.opts.engine, plan));
        this.routers.set(streamName, leg.router);
      } else {
        const router = this.routers.get(streamName);
        if (!router) throw new MediaNodeError("not_found", "Stream not found");
        const plan = planPlayer(parsed, { video: router.publisher.video, audio: router.publisher.audio });
        leg = this.construct(() => new PlayerLeg(legId, streamName, this.opts.engine, router, plan));
      }
    }
    this.legs.set(legId, leg);
    this.createdAt.set(leg, performance.now());
    this.mids.set(leg, mids);
    leg.onOutcome = (l, o) => this.onOutcome(l, o);

    let sdp: string;
    try {
      sdp = offer === undefined ? await (leg as PlayerLeg).offer() : await leg.answer(offer);
    } catch (e) {
      if (this.legs.get(legId) === leg) this.remove(leg, "creation_failed");
      throw e;
    }
    if (leg.isEnded) throw new MediaNodeError("stopped", "Leg was closed while it was being created");
    const media = leg.media;
    this.opts.onNotice({
      kind: "created",
      ...this.describe(leg),
      answerMs: Math.round(performance.now() - started),
    });
    if (offer === undefined) return { offer: sdp, media };
    const record = req.record && leg instanceof PublisherLeg ? this.opts.record?.(leg, req.record.name) : undefined;
    return record ? { answer: sdp, media, record } : { answer: sdp, media };
  }

  /**
   * Creates a relay pull leg: the stream's publisher leg, in offer mode (recvonly, every codec of `pullOfferPlan`);
   * the remote answer follows with {@link applyAnswer}, after which its RTP feeds the stream's router.
   * @throws MediaNodeError conflict (leg id in use) | name_in_use (stream already has a publisher here) | node_full |
   *   stopped | error
   */
  async createPullLeg(req: { legId: string; streamName: string }): Promise<CreateLegResponse> {
    const { legId, streamName } = req;
    this.admit(legId, streamName);
    const started = performance.now();
    const leg = this.construct(() => new PublisherLeg(legId, streamName, this.opts.engine, { inactive: [] }, pullOfferPlan()));
    this.routers.set(streamName, leg.router);
    this.legs.set(legId, leg);
    this.createdAt.set(leg, performance.now());
    this.mids.set(leg, [PULL_MIDS.video, PULL_MIDS.audio]);
    leg.onOutcome = (l, o) => this.onOutcome(l, o);
    let offer: string;
    try {
      offer = await leg.offer();
    } catch (e) {
      if (this.legs.get(legId) === leg) this.remove(leg, "creation_failed");
      throw e;
    }
    if (leg.isEnded) throw new MediaNodeError("stopped", "Leg was closed while it was being created");
    this.opts.onNotice({ kind: "created", ...this.describe(leg), answerMs: Math.round(performance.now() - started) });
    return { offer, media: {} };
  }

  /**
   * Applies the remote answer of an offer-mode leg (see `checkPlayerAnswer` for what is accepted).
   * @returns the media the answer accepted
   * @throws MediaNodeError not_found (no such leg) | conflict (not waiting for an answer) | invalid_sdp | no_common_codecs
   */
  applyAnswer(legId: string, req: ApplyAnswerRequest): ApplyAnswerResponse {
    const leg = this.legs.get(legId);
    if (!leg || leg.isEnded) throw new MediaNodeError("not_found", `Leg ${legId} not found`);
    if (leg instanceof PublisherLeg && leg.pullOffer && leg.waitingForAnswer) {
      const tracks = planPulledTracks(parseOffer(req.answer), leg.pullOffer);
      leg.applyPullAnswer(req.answer, tracks);
      return { ok: true, media: leg.media };
    }
    if (!(leg instanceof PlayerLeg) || !leg.waitingForAnswer) throw new MediaNodeError("conflict", "Leg is not waiting for an answer");
    const accepted: MediaKind[] = checkPlayerAnswer(parseOffer(req.answer), leg.plan);
    leg.applyAnswer(req.answer);
    const m = leg.media;
    return {
      ok: true,
      media: {
        ...(accepted.includes("video") && m.videoCodec ? { videoCodec: m.videoCodec } : {}),
        ...(accepted.includes("audio") && m.audioCodec ? { audioCodec: m.audioCodec } : {}),
      },
    };
  }

  /**
   * Closes and forgets a leg without reporting it (the worker asked). Idempotent.
   * @returns whether the leg existed
   */
  delete(legId: string): boolean {
    const leg = this.legs.get(legId);
    if (!leg) return false;
    this.remove(leg, "deleted");
    return true;
  }

  /**
   * Adds trickled remote candidates to a leg (WHIP/WHEP PATCH, WebSocket endpoint). A candidate whose mid is not one of the offer's goes
   * to the offer's first m-line (with BUNDLE all share one ICE transport). Candidates whose address is not an IP
   * literal (mDNS host names) and those the engine refuses are returned with the reason; the others are in use.
   * @throws MediaNodeError not_found when the leg does not exist (any more)
   */
  addCandidates(legId: string, req: AddCandidatesRequest): AddCandidatesResponse {
    const leg = this.legs.get(legId);
    if (!leg || leg.isEnded) throw new MediaNodeError("not_found", `Leg ${legId} not found`);
    const mids = this.mids.get(leg) ?? [];
    const res: AddCandidatesResponse = { added: 0, rejected: [] };
    for (const { candidate, mid } of req.candidates) {
      // `candidate:<foundation> <component> <transport> <priority> <address> <port> typ …`: only IP literals; host
      // names (mDNS `*.local` of browsers) would make the engine query DNS, and the client's STUN checks teach us its
      // address anyway (peer-reflexive).
      if (isIP(candidateAddress(candidate)) === 0) {
        res.rejected.push({ candidate, reason: "address is not an IP literal (host names are not resolved)" });
        continue;
      }
      const target = mid !== undefined && mids.includes(mid) ? mid : mids[0] ?? "0";
      try {
        leg.addRemoteCandidate(candidate, target);
        res.added++;
      } catch (e) {
        res.rejected.push({ candidate, reason: (e as Error).message });
      }
    }
    return res;
  }

  /** Per-leg counters for GET /v1/status (`nack`: publisher legs that asked for packets again, see LegStatus). */
  status(): LegStatus[] {
    return [...this.legs.values()].map((l) => {
      const s: LegStatus = { legId: l.legId, streamName: l.streamName, role: l.role, state: l.state, packetsIn: l.packetsIn, packetsOut: l.packetsOut };
      if (l instanceof PublisherLeg && l.nackRequested > 0) {
        s.nack = { requested: l.nackRequested, repaired: l.nackRepaired, unrepaired: l.nackUnrepaired, lost: l.packetsLost, rttMs: Math.round(l.nackRttMs * 10) / 10 };
      }
      return s;
    });
  }

  /**
   * The legs held now, oldest first, at most `limit` (heartbeat `legs`, protocol/media-node.ts HeldLeg): id, stream,
   * age in ms, and `relay: true` for legs `isRelayLeg` claims. One array per call (a snapshot every ~500 ms, not per
   * packet).
   */
  held(limit: number, isRelayLeg: (legId: string) => boolean = () => false): HeldLeg[] {
    const now = performance.now();
    const out: HeldLeg[] = [];
    for (const l of this.legs.values()) {
      if (out.length >= limit) break;
      const age = Math.max(0, Math.round(now - (this.createdAt.get(l) ?? now)));
      out.push(isRelayLeg(l.legId) ? { legId: l.legId, streamName: l.streamName, ageMs: age, relay: true } : { legId: l.legId, streamName: l.streamName, ageMs: age });
    }
    return out;
  }

  /** How many legs the node holds (being negotiated included). */
  /** The legs held now (for metrics: role, state). */
  legStates(): Iterable<Leg> {
    return this.legs.values();
  }

  /** The node's counters since it started: the legs held now plus those gone (for metrics; O(legs)). */
  totals(): LegTotals {
    const t = { ...this.gone };
    for (const l of this.legs.values()) addLeg(t, l);
    return t;
  }

  get size(): number {
    return this.legs.size;
  }

  /** Live leg counts (CPU is added by the caller). */
  counts(): Omit<NodeLoad, "cpuPercent"> {
    let publishers = 0;
    let players = 0;
    for (const l of this.legs.values()) {
      if (l.role === "publisher") publishers++;
      else players++;
    }
    return { publishers, players };
  }

  /** Publisher legs currently registered (for shutdown reporting). */
  publisherLegs(): PublisherLeg[] {
    return [...this.legs.values()].filter((l): l is PublisherLeg => l instanceof PublisherLeg);
  }

  /** Closes every leg silently (shutdown). */
  closeAll(): void {
    for (const leg of [...this.legs.values()]) if (this.legs.has(leg.legId)) this.remove(leg, "shutdown");
  }

  /**
   * The rules every new leg passes before anything is built: a unique leg id, room under `maxLegs` (not for a
   * cascade feed, `feed`: see protocol/media-node.ts CreateLegRequest), and for a publisher (`publishes` = its stream
   * name) no other publisher of that stream here.
   * @throws MediaNodeError conflict | node_full | name_in_use
   */
  private admit(legId: string, publishes?: string, feed = false): void {
    if (this.legs.has(legId)) throw new MediaNodeError("conflict", `Leg ${legId} already exists`);
    if (!feed && this.opts.maxLegs > 0 && this.legs.size >= this.opts.maxLegs) {
      throw new MediaNodeError("node_full", `Media node is full (${this.opts.maxLegs} legs)`);
    }
    const overloaded = feed ? undefined : this.opts.overloaded?.();
    if (overloaded) throw new MediaNodeError("node_full", `Media node is full (${overloaded})`);
    if (publishes !== undefined && this.routers.has(publishes)) {
      throw new MediaNodeError("name_in_use", `Stream ${publishes} already has a publisher on this node`);
    }
  }

  private construct<T extends Leg>(make: () => T): T {
    try {
      return make();
    } catch (e) {
      throw new MediaNodeError("error", `WebRTC engine error: ${(e as Error).message}`);
    }
  }

  private describe(leg: Leg) {
    const m = leg.media;
    return { legId: leg.legId, streamName: leg.streamName, role: leg.role, videoCodec: m.videoCodec, audioCodec: m.audioCodec };
  }

  private onOutcome(leg: Leg, o: LegOutcome): void {
    if (this.legs.get(leg.legId) !== leg) return;
    if (o.state === "connected") {
      this.opts.onNotice({ kind: "connected", ...this.describe(leg) });
      return;
    }
    // The leg has closed itself; forget it (and its players when it is a publisher).
    this.forget(leg);
    if (o.state === "failed") this.opts.onNotice({ kind: "failed", ...this.describe(leg), failure: o.failure, detail: o.detail });
    else this.opts.onNotice({ kind: "closed", ...this.describe(leg), detail: o.detail });
  }

  /** Closes a leg silently and forgets it. */
  private remove(leg: Leg, cause: RemovalCause): void {
    leg.close();
    this.forget(leg);
    this.opts.onNotice({ kind: "removed", ...this.describe(leg), cause });
  }

  private forget(leg: Leg): void {
    if (this.legs.delete(leg.legId)) addLeg(this.gone, leg);
    if (leg instanceof PublisherLeg) {
      if (this.routers.get(leg.streamName) === leg.router) this.routers.delete(leg.streamName);
      for (const p of [...leg.router.players]) {
        if (this.legs.get(p.legId) === p) this.remove(p, "publisher_gone");
      }
    }
  }
}

/** Counters summed over legs (metrics, media-node/metrics.ts). */
export interface LegTotals {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** RTP lost between publishers and this node (sequence gaps). */
  packetsLost: number;
  /** Publisher RTP dropped as late (engine/queue-delay.ts). */
  packetsLate: number;
  /** Keyframe requests asked for by players / sent to publishers (the difference was coalesced). */
  keyframesRequested: number;
  keyframesSent: number;
  /** Publisher video packets asked for again with NACKs, those that then arrived, those given up (nack-requester.ts). */
  nackRequested: number;
  nackRepaired: number;
  nackUnrepaired: number;
}

const emptyTotals = (): LegTotals => ({ packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, packetsLost: 0, packetsLate: 0, keyframesRequested: 0, keyframesSent: 0, nackRequested: 0, nackRepaired: 0, nackUnrepaired: 0 });

function addLeg(t: LegTotals, l: Leg): void {
  t.packetsIn += l.packetsIn;
  t.packetsOut += l.packetsOut;
  t.bytesIn += l.bytesIn;
  t.bytesOut += l.bytesOut;
  if (l instanceof PublisherLeg) {
    t.packetsLost += l.packetsLost;
    t.packetsLate += l.packetsLate;
    const k = l.router.keyframeCounts;
    t.keyframesRequested += k.requested;
    t.keyframesSent += k.sent;
    t.nackRequested += l.nackRequested;
    t.nackRepaired += l.nackRepaired;
    t.nackUnrepaired += l.nackUnrepaired;
  }
}
