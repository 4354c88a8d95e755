/**
 * StreamDO: one per stream name (`idFromName(name)`). It owns the stream's publisher, its players, the media node
 * the stream is placed on, and every status transition of their legs:
 *
 *   publish: name free? (else FAILED "Stream name is already in use") → registry places it on a node → the node
 *            answers the offer → the answer goes back to the session (`setRemoteSDP`) → the node reports the leg
 *            connected → PUBLISHING.
 *   play:    publisher PUBLISHING? (else FAILED "Stream not found") → the stream's node answers → PLAYING on connect.
 *   end:     unPublishStream → UNPUBLISHED, players FAILED "Stopped by publisher stop"; stopStream → STOPPED;
 *            a closed session ends its legs the same way; ICE/DTLS not connected within ICE_TIMEOUT_MS →
 *            FAILED "Failed by ICE timeout"; node lost → FAILED for everyone, the name is free again.
 *
 * Statuses follow WCS (Web SDK 2.0 constants.js STREAM_STATUS / STREAM_STATUS_INFO). Asynchronous statuses are
 * pushed to the sessions with `SessionDO.deliver`; a request's own result is returned to the calling session.
 * Legs owned by an HTTP resource (WHIP/WHEP, worker/whip.ts; `owner: "http"`) have no session: their statuses are
 * only logged, they end by `stopLeg` (DELETE) or like any leg (ICE timeout, transport failed/closed, node lost,
 * publisher stop), and `addRemoteCandidates` passes their trickled candidates to the node. Legs of the
 * Flussonic-style WebSocket endpoint (`owner: "ws"`, worker/ws-endpoint-do.ts) trickle the same way, get their
 * statuses through `WsEndpointDO.deliver`, and end with their socket (`endBySession`); their players may be
 * server-offer legs (`playWithServerOffer`, then `answerLeg` with the client's answer).
 * State lives in memory and is persisted on every change, so an evicted object resumes where it was.
 */
import { DurableObject } from "cloudflare:workers";
import { Info, StreamStatus, type LegEvent, type StreamStatusEvent } from "../protocol/index.js";
import { config, type Config, type Env } from "./env.js";
import { configureLog, log } from "./log.js";
import {
  addCandidates,
  applyAnswer,
  createLeg,
  createOfferLeg,
  deleteLeg,
  type AddCandidatesResult,
  type CreateLegResult,
  type CreateOfferLegResult,
} from "./media-node-client.js";
import {
  statusEvent,
  type HttpLegInfo,
  type LegRecord,
  type NodeRef,
  type RelayPublishArgs,
  type RelayPublishResult,
  type ServerOfferPlayArgs,
  type ServerOfferResult,
  type StreamRequestArgs,
  type StreamRequestResult,
} from "./stream-types.js";

interface StreamState {
  name: string;
  node: NodeRef | null;
  publisher: LegRecord | null;
  players: Record<string, LegRecord>;
  videoCodec?: string;
  audioCodec?: string;
}

/** Why a leg or the whole stream ends; decides the statuses and `info` everyone gets. */
type EndReason =
  | { kind: "user" } // unPublishStream / stopStream
  | { kind: "session" } // the leg's own session closed
  | { kind: "transport-closed" } // the client closed its PeerConnection
  | { kind: "rest" } // REST /stream/terminate
  | { kind: "failed"; info: string }; // ICE/DTLS failure, timeout, node lost

export class StreamDO extends DurableObject<Env> {
  /** Tunables from the env (validated once: env does not change for an object\'s lifetime). */
  private readonly cfg: Config;
  private state: StreamState = { name: "", node: null, publisher: null, players: {} };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.cfg = config(env);
    configureLog(env);
    ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get<StreamState>("state");
      if (saved) this.state = saved;
    });
  }

  /** Starts publishing `name` from a session's offer. See the class docs for the outcomes. */
  async publish(name: string, args: StreamRequestArgs): Promise<StreamRequestResult> {
    this.state.name = name;
    if (this.state.publisher) return { ok: false, info: Info.STREAM_NAME_ALREADY_IN_USE };
    const leg = this.newLeg("publisher", args);
    const node = await this.placePublisher(name, leg);
    if ("info" in node) {
      log("warn", "publish_refused", { stream: name, mediaSessionId: args.mediaSessionId, info: node.info });
      return { ok: false, info: node.info };
    }
    const registry = this.env.NODE_REGISTRY.get(this.env.NODE_REGISTRY.idFromName("global"));
    const cfg = this.cfg;
    const res = await createLeg(this.secret(), node, { legId: leg.legId, streamName: name, role: "publisher", offer: args.sdp }, cfg.MEDIA_NODE_TIMEOUT_MS);
    if (!this.isPublisher(leg)) {
      // ended while the node was answering (session closed): undo on the node.
      if (res.ok) await deleteLeg(this.secret(), node, leg.legId, cfg.MEDIA_NODE_TIMEOUT_MS);
      return { ok: false, info: Info.STOPPED_BY_USER };
    }
    if (!res.ok) {
      this.state.publisher = null;
      this.state.node = null;
      await this.save();
      await registry.release(name, node.nodeId, node.bootId);
      if (res.unreachable) await registry.reportUnreachable(node.nodeId, node.bootId);
      log("warn", "publish_failed", { stream: name, mediaSessionId: args.mediaSessionId, nodeId: node.nodeId, info: res.info });
      return { ok: false, info: res.info };
    }
    this.state.videoCodec = res.videoCodec;
    this.state.audioCodec = res.audioCodec;
    leg.deadline = Date.now() + cfg.ICE_TIMEOUT_MS;
    await this.save();
    await this.scheduleDeadline();
    log("info", "publish_answered", { stream: name, mediaSessionId: args.mediaSessionId, legId: leg.legId, nodeId: node.nodeId, video: res.videoCodec, audio: res.audioCodec });
    return { ok: true, answer: res.answer, legId: leg.legId };
  }

  /**
   * Reserves `name` for a relay pull (worker/relay-do.ts): a publisher leg owned by the relay (`owner: "relay"`,
   * id `args.legId`) placed on a node; the relay's node creates the leg itself and reports it like any publisher leg
   * (connected → PUBLISHING). "Stream name is already in use" when taken; "no media node" when none is live.
   */
  async publishRelay(name: string, args: RelayPublishArgs): Promise<RelayPublishResult> {
    this.state.name = name;
    if (this.state.publisher) return { ok: false, info: Info.STREAM_NAME_ALREADY_IN_USE };
    const leg: LegRecord = {
      ...this.newLeg("publisher", { sessionId: args.relayId, mediaSessionId: args.mediaSessionId, sdp: "", hasAudio: true, hasVideo: true, owner: "relay" }),
      legId: args.legId,
    };
    const node = await this.placePublisher(name, leg);
    if ("info" in node) return { ok: false, info: node.info };
    await this.scheduleDeadline();
    log("info", "relay_publish_placed", { stream: name, legId: leg.legId, relayId: args.relayId, nodeId: node.nodeId });
    return { ok: true, node };
  }

  /**
   * Ends a relay pull's local publisher leg `legId` (relay failed or terminated): players get FAILED "Stopped by
   * publisher stop", the name is free. The relay is not told (it asked). False when there is no such leg here.
   */
  async endRelayLeg(legId: string, info?: string): Promise<boolean> {
    const leg = this.state.publisher;
    if (!leg || leg.legId !== legId || leg.owner !== "relay") return false;
    // "Relay failed: …" (never the bare media-node-lost info: that one is about the remote's node, not ours)
    await this.endLeg(leg, info ? { kind: "failed", info: `Relay failed: ${info}` } : { kind: "user" });
    return true;
  }

  /**
   * Takes the name for `leg` (before any await) and places the stream on a media node (NodeRegistryDO). Returns the
   * node, or the refusal: no live node, or the leg ended while the registry answered — then the placement the
   * registry recorded is released again, so the node's stream list does not keep a dead name.
   */
  private async placePublisher(name: string, leg: LegRecord): Promise<NodeRef | { info: string }> {
    this.state.publisher = leg;
    await this.save();
    const registry = this.env.NODE_REGISTRY.get(this.env.NODE_REGISTRY.idFromName("global"));
    const node = await registry.allocate(name);
    if (!this.isPublisher(leg)) {
      if (node) await registry.release(name, node.nodeId, node.bootId);
      return { info: Info.STOPPED_BY_USER };
    }
    if (!node) {
      this.state.publisher = null;
      await this.save();
      return { info: Info.NO_MEDIA_NODE };
    }
    this.state.node = node;
    await this.save();
    return node;
  }

  /** Whether `leg` still is the stream's publisher (it may have ended during an await). */
  private isPublisher(leg: LegRecord): boolean {
    return this.state.publisher?.legId === leg.legId;
  }

  /** Starts playing `name` for a session's offer. FAILED "Stream not found" unless the publisher is PUBLISHING. */
  async play(name: string, args: StreamRequestArgs): Promise<StreamRequestResult> {
    const res = await this.addPlayer<Extract<CreateLegResult, { ok: true }>>(name, args, (node, legId, timeoutMs) =>
      createLeg(this.secret(), node, { legId, streamName: name, role: "player", offer: args.sdp }, timeoutMs),
    );
    if (!res.ok) return res;
    log("info", "play_answered", { stream: name, mediaSessionId: args.mediaSessionId, legId: res.leg.legId, nodeId: this.state.node?.nodeId });
    return { ok: true, answer: res.answer, legId: res.leg.legId };
  }

  /**
   * Starts playing `name` with a leg whose offer the media node makes (sendonly, the publisher's codec, payload type
   * and SSRC); the client's answer follows with {@link answerLeg}. FAILED "Stream not found" unless the publisher is
   * PUBLISHING. The ICE deadline runs from the offer and restarts with the answer.
   */
  async playWithServerOffer(name: string, args: ServerOfferPlayArgs): Promise<ServerOfferResult> {
    const pub = this.state.publisher;
    const res = await this.addPlayer<Extract<CreateOfferLegResult, { ok: true }>>(name, { ...args, sdp: "", hasAudio: pub?.hasAudio ?? false, hasVideo: pub?.hasVideo ?? false }, (node, legId, timeoutMs) =>
      createOfferLeg(this.secret(), node, { legId, streamName: name, role: "player" }, timeoutMs),
    );
    if (!res.ok) return res;
    res.leg.hasVideo = res.videoCodec !== undefined;
    res.leg.hasAudio = res.audioCodec !== undefined;
    await this.save();
    log("info", "play_offered", { stream: name, mediaSessionId: args.mediaSessionId, legId: res.leg.legId, nodeId: this.state.node?.nodeId, video: res.videoCodec, audio: res.audioCodec });
    return { ok: true, offer: res.offer, legId: res.leg.legId };
  }

  /**
   * The common part of {@link play} and {@link playWithServerOffer}: FAILED "Stream not found" unless the publisher is
   * PUBLISHING; the player leg is registered before any await; `create` asks the stream's node for the leg; if the
   * leg ended meanwhile (its session closed, the publisher stopped) or the node refused, everything is undone.
   * On success the ICE deadline is armed and the node's result is returned with the leg.
   */
  private async addPlayer<R extends { ok: true }>(
    name: string,
    args: StreamRequestArgs,
    create: (node: NodeRef, legId: string, timeoutMs: number) => Promise<R | { ok: false; info: string }>,
  ): Promise<(R & { leg: LegRecord }) | { ok: false; info: string }> {
    this.state.name = name;
    const pub = this.state.publisher;
    const node = this.state.node;
    if (!pub || pub.status !== StreamStatus.PUBLISHING || !node) return { ok: false, info: Info.STREAM_NOT_FOUND };
    const leg = this.newLeg("player", args);
    this.state.players[leg.legId] = leg;
    await this.save();

    const cfg = this.cfg;
    const res = await create(node, leg.legId, cfg.MEDIA_NODE_TIMEOUT_MS);
    if (!this.state.players[leg.legId]) {
      if (res.ok) await deleteLeg(this.secret(), node, leg.legId, cfg.MEDIA_NODE_TIMEOUT_MS);
      return { ok: false, info: this.state.publisher ? Info.STOPPED_BY_USER : Info.STOPPED_BY_PUBLISHER_STOP };
    }
    if (!res.ok) {
      delete this.state.players[leg.legId];
      await this.save();
      log("warn", "play_failed", { stream: name, mediaSessionId: args.mediaSessionId, nodeId: node.nodeId, info: res.info });
      return { ok: false, info: res.info };
    }
    leg.deadline = Date.now() + cfg.ICE_TIMEOUT_MS;
    await this.save();
    await this.scheduleDeadline();
    return { ...res, leg };
  }

  /**
   * The client's answer to a server-offer player leg ({@link playWithServerOffer}) of a non-session owner. Refusals:
   * "Stream not found" (no such leg any more), the node's "Invalid SDP: …" / "No common codecs" / conflict info.
   */
  async answerLeg(legId: string, sdp: string): Promise<{ ok: true } | { ok: false; info: string }> {
    const leg = this.trickleLegRecord(legId);
    const node = this.state.node;
    if (!leg || leg.role !== "player" || !node) return { ok: false, info: Info.STREAM_NOT_FOUND };
    const cfg = this.cfg;
    const res = await applyAnswer(this.secret(), node, legId, { answer: sdp }, cfg.MEDIA_NODE_TIMEOUT_MS);
    if (!res.ok) {
      log("warn", "answer_refused", { stream: this.state.name, legId, status: res.status, info: res.info });
      return { ok: false, info: res.status === 404 ? Info.STREAM_NOT_FOUND : res.info };
    }
    const current = this.state.players[legId];
    if (current && current.status === StreamStatus.PENDING) {
      current.deadline = Date.now() + cfg.ICE_TIMEOUT_MS;
      await this.save();
      await this.scheduleDeadline();
    }
    log("info", "answer_applied", { stream: this.state.name, legId, video: res.media.videoCodec, audio: res.media.audioCodec });
    return { ok: true };
  }

  /**
   * Ends the leg of (`sessionId`, `mediaSessionId`) at its client's request (unPublishStream / stopStream).
   * Returns the terminal status for the requester (UNPUBLISHED / STOPPED), or null when no such leg exists here.
   */
  async stop(sessionId: string, mediaSessionId: string): Promise<StreamStatusEvent | null> {
    const leg = this.findLeg(sessionId, mediaSessionId);
    if (!leg) return null;
    return this.endLeg(leg, { kind: "user" });
  }

  /**
   * Ends the HTTP-owned (WHIP/WHEP) leg `legId` at its client's request (DELETE): a publisher ends the stream
   * (players FAILED "Stopped by publisher stop"), a player just stops. False when there is no such leg here.
   */
  async stopLeg(legId: string): Promise<boolean> {
    const leg = this.httpLegRecord(legId);
    if (!leg) return false;
    await this.endLeg(leg, { kind: "user" });
    return true;
  }

  /** Facts of the HTTP-owned leg `legId` (for WHIP/WHEP PATCH), or null when there is no such leg here. */
  async httpLeg(legId: string): Promise<{ role: LegRecord["role"]; status: LegRecord["status"]; http: HttpLegInfo } | null> {
    const leg = this.httpLegRecord(legId);
    return leg?.http ? { role: leg.role, status: leg.status, http: leg.http } : null;
  }

  /**
   * Passes trickled remote candidates of the HTTP- or WebSocket-endpoint-owned leg `legId` to its media node (404
   * when no such leg).
   */
  async addRemoteCandidates(legId: string, candidates: { candidate: string; mid?: string }[]): Promise<AddCandidatesResult> {
    const leg = this.trickleLegRecord(legId);
    const node = this.state.node;
    if (!leg || !node) return { ok: false, status: 404, info: "No such resource", unreachable: false };
    const res = await addCandidates(this.secret(), node, legId, { candidates }, this.cfg.MEDIA_NODE_TIMEOUT_MS);
    if (res.ok) {
      log("info", "remote_candidates", { stream: this.state.name, legId, role: leg.role, added: res.added, rejected: res.rejected.length });
    } else {
      log("warn", "remote_candidates_failed", { stream: this.state.name, legId, status: res.status, info: res.info });
    }
    return res;
  }

  /** The session of this leg is gone (socket closed): end the leg; nobody is told except the players of a publisher. */
  async endBySession(sessionId: string, mediaSessionId: string): Promise<void> {
    const leg = this.findLeg(sessionId, mediaSessionId);
    if (leg) await this.endLeg(leg, { kind: "session" });
  }

  /** A media node reports a leg's transport state (protocol/media-node.ts LegEvent). */
  async onLegEvent(ev: LegEvent): Promise<void> {
    const node = this.state.node;
    if (!node || node.nodeId !== ev.nodeId || node.bootId !== ev.bootId) return;
    const leg = this.state.publisher?.legId === ev.legId ? this.state.publisher : this.state.players[ev.legId];
    if (!leg) return;
    log("info", "leg_event", { stream: this.state.name, legId: ev.legId, role: leg.role, state: ev.state, failure: ev.failure, detail: ev.detail });
    if (ev.state === "connected") {
      if (leg.status !== StreamStatus.PENDING) return;
      leg.status = leg.role === "publisher" ? StreamStatus.PUBLISHING : StreamStatus.PLAYING;
      await this.save();
      await this.deliver(leg, statusEvent(this.state.name, leg, leg.status, undefined, node.nodeId));
      if (leg.role === "publisher") await this.tellRoom(leg, "PUBLISHED");
      return;
    }
    if (ev.state === "closed") {
      await this.endLeg(leg, { kind: "transport-closed" }, true);
      return;
    }
    const info =
      ev.failure === "dtls" ? Info.FAILED_BY_DTLS_ERROR : ev.failure === "ice" ? Info.FAILED_BY_ICE_ERROR : Info.FAILED_BY_ERROR;
    await this.endLeg(leg, { kind: "failed", info }, true);
  }

  /** The registry lost the node (missed heartbeats or restart): every leg here FAILED, the name is free. */
  async onNodeLost(nodeId: string, bootId: string): Promise<void> {
    const node = this.state.node;
    if (!node || node.nodeId !== nodeId || node.bootId !== bootId) return;
    log("warn", "stream_node_lost", { stream: this.state.name, nodeId });
    if (this.state.publisher) await this.endLeg(this.state.publisher, { kind: "failed", info: Info.MEDIA_NODE_LOST }, true);
  }

  /**
   * The WCS stream objects of this stream's legs (publisher first), with their current status — the elements of
   * REST `/stream/find_all`.
   */
  async streamObjects(): Promise<StreamStatusEvent[]> {
    const nodeId = this.state.node?.nodeId;
    return this.allLegs().map((leg) => ({
      ...statusEvent(this.state.name, leg, leg.status, undefined, nodeId),
      ...(leg.role === "publisher" && this.state.videoCodec ? { videoCodec: this.state.videoCodec } : {}),
      ...(leg.role === "publisher" && this.state.audioCodec ? { audioCodec: this.state.audioCodec } : {}),
    }));
  }

  /**
   * REST `/stream/terminate`: ends the legs with these mediaSessionIds; publishers get UNPUBLISHED and players
   * STOPPED, with info "Stopped by rest /terminate" (players of a terminated publisher too). Returns how many ended.
   */
  async terminate(mediaSessionIds: string[]): Promise<number> {
    const wanted = new Set(mediaSessionIds);
    let ended = 0;
    // publisher first: it takes its players with it
    for (const leg of this.allLegs()) {
      if (!wanted.has(leg.mediaSessionId)) continue;
      if (leg.role === "player" && !this.state.players[leg.legId]) continue; // ended with its publisher
      await this.endLeg(leg, { kind: "rest" }, true);
      ended++;
    }
    return ended;
  }

  /** The publishing stream's node and publisher mediaSessionId (a relay push source), or null when not PUBLISHING. */
  async relaySource(): Promise<{ node: NodeRef; mediaSessionId: string } | null> {
    const pub = this.state.publisher;
    if (!pub || pub.status !== StreamStatus.PUBLISHING || !this.state.node) return null;
    return { node: this.state.node, mediaSessionId: pub.mediaSessionId };
  }

  /** A snapshot for tests and operators. */
  async describe(): Promise<StreamState> {
    return structuredClone(this.state);
  }

  /** ICE/DTLS deadlines of PENDING legs. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    for (const leg of this.allLegs()) {
      if (leg.status === StreamStatus.PENDING && leg.deadline <= now) {
        log("warn", "leg_ice_timeout", { stream: this.state.name, legId: leg.legId, role: leg.role, mediaSessionId: leg.mediaSessionId });
        await this.endLeg(leg, { kind: "failed", info: Info.FAILED_BY_ICE_TIMEOUT }, true);
      }
    }
    await this.scheduleDeadline();
  }

  // ---- internals ----

  /**
   * Ends one leg, and with a publisher the whole stream. `tellOwner` pushes the leg's own terminal status to its
   * session (for asynchronous ends); the returned event is the same status, for a requester that awaits it.
   */
  private async endLeg(leg: LegRecord, reason: EndReason, tellOwner = false): Promise<StreamStatusEvent> {
    const name = this.state.name;
    const node = this.state.node;
    const cfg = this.cfg;
    const secret = this.secret();
    const own = ownStatus(leg, reason);
    log("info", "leg_ended", { stream: name, legId: leg.legId, role: leg.role, mediaSessionId: leg.mediaSessionId, reason: reason.kind, status: own.status, info: own.info });
    const event = statusEvent(name, leg, own.status, own.info, node?.nodeId);
    const tasks: Promise<unknown>[] = [];

    if (leg.role === "player") {
      delete this.state.players[leg.legId];
      await this.save();
      if (node && reason.kind !== "transport-closed") tasks.push(deleteLeg(secret, node, leg.legId, cfg.MEDIA_NODE_TIMEOUT_MS));
    } else {
      const players = Object.values(this.state.players);
      this.state = { name, node: null, publisher: null, players: {} };
      await this.save();
      const playerEnd =
        reason.kind === "rest"
          ? { status: StreamStatus.STOPPED, info: Info.STOPPED_BY_REST_TERMINATE }
          : { status: StreamStatus.FAILED, info: reason.kind === "failed" && reason.info === Info.MEDIA_NODE_LOST ? Info.MEDIA_NODE_LOST : Info.STOPPED_BY_PUBLISHER_STOP };
      for (const p of players) {
        tasks.push(this.deliver(p, statusEvent(name, p, playerEnd.status, playerEnd.info, node?.nodeId)));
      }
      if (leg.status === StreamStatus.PUBLISHING) tasks.push(this.tellRoom(leg, own.status === StreamStatus.FAILED ? "FAILED" : "UNPUBLISHED"));
      if (node) {
        // deleting the publisher leg closes its player legs on the node too
        const lost = reason.kind === "failed" && reason.info === Info.MEDIA_NODE_LOST;
        if (!lost) tasks.push(deleteLeg(secret, node, leg.legId, cfg.MEDIA_NODE_TIMEOUT_MS));
        const registry = this.env.NODE_REGISTRY.get(this.env.NODE_REGISTRY.idFromName("global"));
        tasks.push(registry.release(name, node.nodeId, node.bootId));
      }
    }
    if (tellOwner && reason.kind !== "session") tasks.push(this.deliver(leg, event));
    await Promise.allSettled(tasks);
    return event;
  }

  private newLeg(role: LegRecord["role"], args: StreamRequestArgs): LegRecord {
    const now = Date.now();
    return {
      legId: crypto.randomUUID(),
      role,
      sessionId: args.sessionId,
      mediaSessionId: args.mediaSessionId,
      appKey: args.appKey,
      login: args.login,
      room: args.room,
      hasAudio: args.hasAudio,
      hasVideo: args.hasVideo,
      custom: args.custom,
      ...(args.owner === "http" ? { owner: "http" as const, http: args.http } : {}),
      ...(args.owner === "ws" ? { owner: "ws" as const } : {}),
      ...(args.owner === "relay" ? { owner: "relay" as const } : {}),
      status: StreamStatus.PENDING,
      createdAt: now,
      deadline: now + this.cfg.ICE_TIMEOUT_MS + this.cfg.MEDIA_NODE_TIMEOUT_MS,
    };
  }

  private httpLegRecord(legId: string): LegRecord | null {
    const leg = this.state.publisher?.legId === legId ? this.state.publisher : this.state.players[legId];
    return leg && leg.owner === "http" ? leg : null;
  }

  /** A leg whose client trickles candidates through the worker (owner "http" or "ws"). */
  private trickleLegRecord(legId: string): LegRecord | null {
    const leg = this.state.publisher?.legId === legId ? this.state.publisher : this.state.players[legId];
    return leg && (leg.owner === "http" || leg.owner === "ws") ? leg : null;
  }

  private findLeg(sessionId: string, mediaSessionId: string): LegRecord | null {
    for (const leg of this.allLegs()) if (leg.sessionId === sessionId && leg.mediaSessionId === mediaSessionId) return leg;
    return null;
  }

  private allLegs(): LegRecord[] {
    return [...(this.state.publisher ? [this.state.publisher] : []), ...Object.values(this.state.players)];
  }

  private async deliver(leg: LegRecord, event: StreamStatusEvent): Promise<void> {
    if (leg.owner === "http") {
      // a WHIP/WHEP resource has nobody to tell; its client sees the transport end
      log("info", "http_leg_status", { stream: this.state.name, legId: leg.legId, role: leg.role, mediaSessionId: leg.mediaSessionId, status: event.status, info: event.info });
      return;
    }
    if (leg.owner === "relay") {
      // a relay pull's local publisher: the relay learns that its local stream ended
      if (event.status === StreamStatus.PUBLISHING) return;
      try {
        await this.env.RELAY.get(this.env.RELAY.idFromName("global")).onLocalEnd(leg.sessionId, leg.legId, event);
      } catch (err) {
        log("warn", "relay_delivery_failed", { stream: this.state.name, legId: leg.legId, status: event.status, error: String(err) });
      }
      return;
    }
    try {
      if (leg.owner === "ws") {
        await this.env.WS_ENDPOINT.get(this.env.WS_ENDPOINT.idFromString(leg.sessionId)).deliver(event);
        return;
      }
      const session = this.env.SESSION.get(this.env.SESSION.idFromString(leg.sessionId));
      await session.deliver(event);
    } catch (err) {
      log("warn", "status_delivery_failed", { stream: this.state.name, mediaSessionId: leg.mediaSessionId, status: event.status, error: String(err) });
    }
  }

  /** Tells the room of a room stream's publisher that the stream was published or ended (protocol/room.ts). */
  private async tellRoom(leg: LegRecord, event: "PUBLISHED" | "UNPUBLISHED" | "FAILED"): Promise<void> {
    if (!leg.room || !leg.login) return;
    try {
      await this.env.ROOM.get(this.env.ROOM.idFromName(leg.room)).onStreamStatus(leg.login, leg.sessionId, this.state.name, event);
    } catch (err) {
      log("warn", "room_stream_notify_failed", { stream: this.state.name, room: leg.room, event, error: String(err) });
    }
  }

  private async scheduleDeadline(): Promise<void> {
    let next = Infinity;
    for (const leg of this.allLegs()) if (leg.status === StreamStatus.PENDING) next = Math.min(next, leg.deadline);
    if (next === Infinity) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  private async save(): Promise<void> {
    if (!this.state.publisher && Object.keys(this.state.players).length === 0) {
      await this.ctx.storage.delete("state");
      return;
    }
    await this.ctx.storage.put("state", this.state);
  }

  private secret(): string {
    const s = this.env.MEDIA_NODE_SECRET;
    if (!s) throw new Error("MEDIA_NODE_SECRET is not configured");
    return s;
  }
}

/** The terminal status a leg's own client gets for a given end. */
function ownStatus(leg: LegRecord, reason: EndReason): { status: StreamStatus; info?: string } {
  const normal = leg.role === "publisher" ? StreamStatus.UNPUBLISHED : StreamStatus.STOPPED;
  switch (reason.kind) {
    case "user":
      return { status: normal, info: Info.STOPPED_BY_USER };
    case "session":
      return { status: normal, info: Info.STOPPED_BY_SESSION_DISCONNECT };
    case "transport-closed":
      return { status: normal, info: Info.STOPPED_BY_USER };
    case "rest":
      return { status: normal, info: Info.STOPPED_BY_REST_TERMINATE };
    case "failed":
      return { status: StreamStatus.FAILED, info: reason.info };
  }
}
