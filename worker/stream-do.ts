/**
 * StreamDO: one per stream name (`idFromName(name)`). It owns the stream's publisher, its players, the media node
 * the stream is placed on, and every status transition of their legs (docs/architecture.md, "Publishing a stream"):
 *
 *   publish: name free? (else name_in_use "Stream name is already in use") → registry places it on a node → the node
 *            answers the offer → the answer goes back to the entry point → the node reports the leg connected →
 *            PUBLISHING. A publisher that asks `record: true` is recorded by its node (worker/stream-recording.ts): its
 *            statuses carry `recordName` once the node took the recording.
 *   play:    publisher PUBLISHING? (else not_found "Stream not found"; a play allowed only by a room grant needs
 *            the stream published in that room, else forbidden) → the stream's node answers (or offers) →
 *            PLAYING on connect.
 *   end:     the owner stops it (UNPUBLISHED / STOPPED), the owner is gone, ICE/DTLS not connected within
 *            ICE_TIMEOUT_MS (FAILED "Failed by ICE timeout"), the transport failed or closed, REST terminate, the node
 *            lost (FAILED for everyone, the name is free again). A publisher's end ends its players with FAILED
 *            "Stopped by publisher stop".
 *
 * Every leg has an owner (worker/stream-types.ts LegOwner: a WCS session, a WHIP/WHEP resource, a WebSocket-endpoint
 * socket, a relay); who hears a leg's asynchronous statuses, whether it trickles and how its owner may end it is one
 * table, worker/leg-owners.ts. The entry point chooses the leg id, and ends the leg by that id (`end`). Statuses
 * follow WCS (Web SDK 2.0 constants.js STREAM_STATUS / STREAM_STATUS_INFO); refusals carry a code
 * (protocol/refusal.ts) that the entry points map to their own statuses.
 * State lives in memory and is persisted on every change — one record per player, only what changed
 * (worker/stream-store.ts) — so an evicted object resumes where it was and a join costs the same at any audience.
 * A save after adding, removing or changing a leg in place names it (`save(leg)`): the store compares no other player.
 */
import { DurableObject } from "cloudflare:workers";
import {
  AuthInfo,
  Info,
  LEG_FAILURE_INFO,
  refusal,
  StreamStatus,
  type AddCandidatesResponse,
  type LegEvent,
  type LegMedia,
  type LegRole,
  type Result,
  type StreamStatusEvent,
  StreamEventInfo,
  StreamEventType,
  withoutCandidates,
  MAX_SNAPSHOT_TIMEOUT_MS,
  SnapshotInfo,
  type RecordingStarted,
  type Refusal,
  type SnapshotResponse,
} from "../protocol/index.js";
import { config, registryOf, roomOf, type Config, type Env } from "./env.js";
import { endReason, ownStatus, playersStatus, type EndReason } from "./leg-ends.js";
import { ownerRules } from "./leg-owners.js";
import { MISSING_LEG_INFO, reconcileStream } from "./leg-reconcile.js";
import { configureLog, log } from "./log.js";
import { MediaNodeClient } from "./media-node-client.js";
import { applyMuteEvent, InOrder, relayToPlayers, withPublisherMute } from "./stream-events.js";
import { StreamStore, type StreamState } from "./stream-store.js";
import { keepRecording, recordingNodeLost, recordNow, recordRequest, stopRecordingNow } from "./stream-recording.js";
import { emitWebhooks, legEndedWebhook, legStartedWebhook } from "./webhooks.js";
import {
  statusEvent,
  type AnswerResult,
  type EdgeRecord,
  type LegRecord,
  type LegRequest,
  type NodeRef,
  type OfferLegRequest,
  type OwnerEnd,
  type RelayPlacement,
  type ServerOfferResult,
} from "./stream-types.js";

export type { StreamState } from "./stream-store.js";

/** Nodes a publish tries when they answer node_full (the registry's view of their load may be a heartbeat old). */
const MAX_PLACEMENT_ATTEMPTS = 3;
/** Edge nodes a player tries (existing edges or new ones) after the stream's own node answered node_full. */
const MAX_EDGE_ATTEMPTS = 3;
/** Times an edge's node-to-node link is set up before the edge is given up. */
const EDGE_LINK_ATTEMPTS = 3;
/** What an edge's players get when its node-to-node link fails (the edge and its players end; others play on). */
const CASCADE_LINK_LOST = "Failed by error: cascade link to the origin media node lost";

export class StreamDO extends DurableObject<Env> {
  /** Tunables from the env (validated once: env does not change for an object's lifetime). */
  private readonly cfg: Config;
  /** Players whose leg is being stored and created on the node right now (bounded by MAX_JOINS_IN_FLIGHT). */
  private joining = 0;
  /** The edge being opened now, if any: edges are opened one at a time, so two plays never pull to the same node. */
  private edgeOpening: Promise<EdgeRecord | null> | null = null;
  /** Stream events are relayed one at a time, in arrival order (worker/stream-events.ts). */
  private readonly streamEvents = new InOrder();
  private state: StreamState = { name: "", node: null, publisher: null, players: {} };
  /** Where the state is persisted: one record per player (worker/stream-store.ts). */
  private readonly store: StreamStore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.cfg = config(env);
    configureLog(env);
    this.store = new StreamStore(ctx.storage);
    ctx.blockConcurrencyWhile(async () => {
      const saved = await this.store.load();
      if (saved) this.state = saved;
    });
  }

  /** Starts publishing `name` from the client's offer. See the class docs for the outcomes. */
  async publish(name: string, req: OfferLegRequest): Promise<AnswerResult> {
    this.state.name = name;
    if (this.state.publisher) return refusal("name_in_use", Info.STREAM_NAME_ALREADY_IN_USE);
    // a node that is full (MEDIA_NODE_MAX_LEGS, or its measured load) refuses: try the next least-loaded one
    const tried: string[] = [];
    const record = recordRequest(this.env, name, req);
    for (;;) {
      const leg = this.newLeg("publisher", req, req);
      const placed = await this.placePublisher(name, leg, tried);
      if (!placed.ok) {
        log("warn", "publish_refused", { stream: name, mediaSessionId: req.mediaSessionId, code: placed.code, info: placed.info, triedNodes: tried });
        return placed;
      }
      const client = this.nodeClient(placed.node);
      const res = await client.createLeg({ legId: leg.legId, streamName: name, role: "publisher", offer: req.sdp, ...(record ? { record } : {}) });
      if (!this.isPublisher(leg)) {
        // ended while the node was answering (its owner went away): undo on the node.
        if (res.ok) await client.deleteLeg(leg.legId);
        return refusal("stopped", Info.STOPPED_BY_USER);
      }
      if (!res.ok) {
        this.state.publisher = null;
        this.state.node = null;
        await this.save();
        await this.releaseNode(placed.node, res.code === "node_lost");
        log("warn", "publish_failed", { stream: name, mediaSessionId: req.mediaSessionId, nodeId: placed.node.nodeId, code: res.code, info: res.info });
        if (res.code === "node_full" && tried.length < MAX_PLACEMENT_ATTEMPTS - 1) {
          tried.push(placed.node.nodeId);
          continue;
        }
        return res;
      }
      return this.publishAnswered(name, req, leg, placed.node, res, record);
    }
  }

  /** The node answered the publisher's offer: the stream's codecs, its recording (`record`: asked), the ICE deadline. */
  private async publishAnswered(
    name: string,
    req: OfferLegRequest,
    leg: LegRecord,
    node: NodeRef,
    res: { answer: string; media: LegMedia; record?: { recordName: string } },
    record?: { name: string },
  ): Promise<AnswerResult> {
    this.state.media = res.media;
    const recordName = await keepRecording(this.env, name, leg, node, res.media, record, res.record?.recordName);
    if (recordName) leg.recordName = recordName;
    leg.deadline = Date.now() + this.cfg.ICE_TIMEOUT_MS;
    await this.save(leg);
    await this.scheduleDeadline();
    log("info", "publish_answered", { stream: name, mediaSessionId: req.mediaSessionId, legId: leg.legId, owner: leg.owner.kind, nodeId: node.nodeId, video: res.media.videoCodec, audio: res.media.audioCodec });
    return { ok: true, answer: res.answer };
  }

  /**
   * Reserves `name` for a relay pull (worker/relay-do.ts): a publisher leg owned by the relay, placed on a node; the
   * relay's node creates the leg itself and reports it like any publisher leg (connected → PUBLISHING). Its media
   * is unknown until {@link relayStarted}. Refusals: name_in_use, no_media_node, stopped.
   */
  async publishRelay(name: string, req: LegRequest): Promise<RelayPlacement> {
    this.state.name = name;
    if (this.state.publisher) return refusal("name_in_use", Info.STREAM_NAME_ALREADY_IN_USE);
    const leg = this.newLeg("publisher", req, { hasAudio: false, hasVideo: false });
    const placed = await this.placePublisher(name, leg);
    if (!placed.ok) return placed;
    await this.scheduleDeadline();
    log("info", "relay_publish_placed", { stream: name, legId: leg.legId, owner: leg.owner.kind, nodeId: placed.node.nodeId });
    return placed;
  }

  /** A relay pull's remote accepted: the media its local publisher leg `legId` receives. False when no such leg. */
  async relayStarted(legId: string, media: LegMedia): Promise<boolean> {
    const leg = this.state.publisher;
    if (!leg || leg.legId !== legId || leg.owner.kind !== "relay") return false;
    leg.hasVideo = media.videoCodec !== undefined;
    leg.hasAudio = media.audioCodec !== undefined;
    this.state.media = media;
    await this.save(leg);
    return true;
  }

  /** Starts playing `name` for the client's offer. not_found "Stream not found" unless the publisher is PUBLISHING. */
  async play(name: string, req: OfferLegRequest): Promise<AnswerResult> {
    const res = await this.addPlayer(name, req, req, (client) =>
      client.createLeg({ legId: req.legId, streamName: name, role: "player", offer: req.sdp }),
    );
    if (!res.ok) return res;
    log("info", "play_answered", { stream: name, mediaSessionId: req.mediaSessionId, legId: req.legId, owner: req.owner.kind, nodeId: this.nodeOf(res.leg)?.nodeId, edge: res.leg.edge !== undefined });
    return { ok: true, answer: res.answer };
  }

  /**
   * Starts playing `name` with a leg whose offer the media node makes (sendonly, the publisher's codec, payload type
   * and SSRC); the client's answer follows with {@link answerLeg}. Only for owners whose rules allow server offers.
   * not_found "Stream not found" unless the publisher is PUBLISHING. The ICE deadline runs from the offer and
   * restarts with the answer.
   */
  async playWithServerOffer(name: string, req: LegRequest): Promise<ServerOfferResult> {
    if (!ownerRules(req.owner).serverOffer) return refusal("invalid_request", `${Info.INVALID_REQUEST}: ${req.owner.kind} legs take no server offer`);
    const res = await this.addPlayer(name, req, { hasAudio: false, hasVideo: false }, (client) =>
      client.createOfferLeg({ legId: req.legId, streamName: name }),
    );
    if (!res.ok) return res;
    res.leg.hasVideo = res.media.videoCodec !== undefined;
    res.leg.hasAudio = res.media.audioCodec !== undefined;
    await this.save(res.leg);
    log("info", "play_offered", { stream: name, mediaSessionId: req.mediaSessionId, legId: req.legId, owner: req.owner.kind, nodeId: this.nodeOf(res.leg)?.nodeId, video: res.media.videoCodec, audio: res.media.audioCodec });
    return { ok: true, offer: res.offer };
  }

  /**
   * The client's answer to a server-offer player leg ({@link playWithServerOffer}). Refusals: not_found "Stream not
   * found" (no such leg any more), the node's invalid_sdp / no_common_codecs / conflict.
   */
  async answerLeg(legId: string, sdp: string): Promise<Result> {
    const leg = this.findLeg(legId);
    const node = leg && this.nodeOf(leg);
    if (!leg || leg.role !== "player" || !ownerRules(leg.owner).serverOffer || !node) return refusal("not_found", Info.STREAM_NOT_FOUND);
    const res = await this.nodeClient(node).applyAnswer(legId, sdp);
    if (!res.ok) {
      log("warn", "answer_refused", { stream: this.state.name, legId, code: res.code, info: res.info });
      return res.code === "not_found" ? refusal("not_found", Info.STREAM_NOT_FOUND) : res;
    }
    const current = this.state.players[legId];
    if (current && current.status === StreamStatus.PENDING) {
      current.deadline = Date.now() + this.cfg.ICE_TIMEOUT_MS;
      await this.save(current);
      await this.scheduleDeadline();
    }
    log("info", "answer_applied", { stream: this.state.name, legId, video: res.media.videoCodec, audio: res.media.audioCodec });
    return { ok: true };
  }

  /**
   * Its owner ends the leg `legId` (see OwnerEnd; the owner's rules say which ends it may use). A publisher's end
   * ends the stream (players FAILED "Stopped by publisher stop"). Returns the leg's terminal status (for a `stop`,
   * the requester shows it), or null when there is no such leg here or the owner may not end it this way.
   */
  async end(legId: string, how: OwnerEnd): Promise<StreamStatusEvent | null> {
    const leg = this.findLeg(legId);
    if (!leg) return null;
    if (!ownerRules(leg.owner).ends.has(how.kind)) {
      log("warn", "end_refused", { stream: this.state.name, legId, owner: leg.owner.kind, end: how.kind });
      return null;
    }
    return this.endLeg(leg, endReason(how));
  }

  /** The facts of the leg `legId` (its owner, role and status; e.g. for WHIP/WHEP PATCH checks), or null. */
  async leg(legId: string): Promise<Omit<LegRecord, "custom"> | null> {
    const leg = this.findLeg(legId);
    if (!leg) return null;
    const { custom: _custom, ...facts } = leg;
    return structuredClone(facts);
  }

  /**
   * Passes trickled remote candidates of the leg `legId` to its media node. not_found when there is no such leg or
   * its owner does not trickle.
   */
  async addRemoteCandidates(legId: string, candidates: { candidate: string; mid?: string }[]): Promise<Result<AddCandidatesResponse>> {
    const leg = this.findLeg(legId);
    const node = leg && this.nodeOf(leg);
    if (!leg || !ownerRules(leg.owner).trickles || !node) return refusal("not_found", "No such resource");
    const res = await this.nodeClient(node).addCandidates(legId, candidates);
    if (res.ok) {
      log("info", "remote_candidates", { stream: this.state.name, legId, role: leg.role, added: res.added, rejected: res.rejected.length });
    } else {
      log("warn", "remote_candidates_failed", { stream: this.state.name, legId, code: res.code, info: res.info });
    }
    return res;
  }

  /** A media node reports a leg's transport state (protocol/media-node.ts LegEvent). */
  async onLegEvent(ev: LegEvent): Promise<void> {
    const node = this.nodeById(ev.nodeId, ev.bootId);
    if (!node) return;
    const link = Object.values(this.state.edges ?? {}).find((e) => e.pullLegId === ev.legId || e.feedLegId === ev.legId);
    if (link) {
      log(ev.state === "connected" ? "info" : "warn", "cascade_link_event", { stream: this.state.name, edge: link.node.nodeId, legId: ev.legId, state: ev.state, failure: ev.failure, detail: ev.detail });
      if (ev.state !== "connected") await this.dropEdge(link, { kind: "failed", info: CASCADE_LINK_LOST });
      return;
    }
    const leg = this.findLeg(ev.legId);
    if (!leg || this.nodeOf(leg)?.nodeId !== ev.nodeId) return;
    log("info", "leg_event", { stream: this.state.name, legId: ev.legId, role: leg.role, state: ev.state, failure: ev.failure, detail: ev.detail });
    if (ev.state === "connected") {
      if (leg.status !== StreamStatus.PENDING) return;
      leg.status = leg.role === "publisher" ? StreamStatus.PUBLISHING : StreamStatus.PLAYING;
      await this.save(leg);
      const hook = emitWebhooks(this.env, this.state.name, [legStartedWebhook(this.state.name, leg)]);
      await this.deliver(leg, statusEvent(this.state.name, withPublisherMute(leg, this.state.publisher), leg.status, undefined, node.nodeId));
      if (leg.role === "publisher") await this.tellRoom(leg, "PUBLISHED");
      await hook;
      return;
    }
    if (ev.state === "closed") {
      await this.endLeg(leg, { kind: "transport-closed" }, true);
      return;
    }
    await this.endLeg(leg, { kind: "failed", info: LEG_FAILURE_INFO[ev.failure ?? "error"] }, true);
  }

  /**
   * The registry lost the node (missed heartbeats or restart), or it deregistered at the end of its drain
   * (`shutdown`): every leg here FAILED ("media node lost" / "media node shutting down"), the name is free.
   */
  async onNodeLost(nodeId: string, bootId: string, shutdown = false): Promise<void> {
    const edge = this.state.edges?.[nodeId];
    if (edge && edge.node.bootId === bootId) {
      log("warn", shutdown ? "cascade_edge_shutdown" : "cascade_edge_lost", { stream: this.state.name, nodeId });
      await this.dropEdge(edge, { kind: shutdown ? "node-shutdown" : "node-lost" }, true);
      return;
    }
    const node = this.state.node;
    if (!node || node.nodeId !== nodeId || node.bootId !== bootId) return;
    log("warn", shutdown ? "stream_node_shutdown" : "stream_node_lost", { stream: this.state.name, nodeId });
    if (this.state.publisher) await this.endLeg(this.state.publisher, { kind: shutdown ? "node-shutdown" : "node-lost" }, true);
  }

  /**
   * Reconciles this stream's legs with what `node` holds (worker/leg-reconcile.ts; the registry calls it from a
   * heartbeat). Legs of this stream placed on that incarnation which the node no longer holds end FAILED
   * ({@link MISSING_LEG_INFO}; a missing publisher ends the stream). Nothing is deleted here.
   * @param held the node's legs of this stream (`relayLegIds`: held by a relay of the node)
   * @param opts `complete`: the node listed every leg; `missingBefore`: ms, see `reconcileStream`
   * @returns the held leg ids this stream does not know: the caller deletes them on the node
   */
  async reconcileNode(
    node: NodeRef,
    held: { legIds: string[]; relayLegIds: string[] },
    opts: { complete: boolean; missingBefore: number },
  ): Promise<string[]> {
    const mine = this.state.node;
    const isOrigin = !!mine && mine.nodeId === node.nodeId && mine.bootId === node.bootId;
    const edges = Object.values(this.state.edges ?? {});
    const edge = edges.find((e) => e.node.nodeId === node.nodeId && e.node.bootId === node.bootId);
    // the legs this stream has on that node: the origin's (publisher, its players, the feeds) or one edge's
    const legs: { legId: string; createdAt: number }[] = isOrigin
      ? [...this.allLegs().filter((l) => l.edge === undefined), ...edges.map((e) => ({ legId: e.feedLegId, createdAt: e.createdAt }))]
      : edge
        ? [{ legId: edge.pullLegId, createdAt: edge.createdAt }, ...Object.values(this.state.players).filter((p) => p.edge === edge.node.nodeId)]
        : [];
    const verdict = reconcileStream({ onThisNode: isOrigin || !!edge, legs }, held, { ...opts, createTimeoutMs: this.cfg.MEDIA_NODE_TIMEOUT_MS });
    const pub = this.state.publisher;
    const missing = pub && verdict.missing.includes(pub.legId) ? [pub.legId] : verdict.missing;
    for (const legId of missing) {
      const link = edges.find((e) => e.pullLegId === legId || e.feedLegId === legId);
      if (link) {
        log("warn", "cascade_link_missing_on_node", { stream: this.state.name, legId, edge: link.node.nodeId, nodeId: node.nodeId });
        await this.dropEdge(link, { kind: "failed", info: CASCADE_LINK_LOST });
        continue;
      }
      const leg = this.findLeg(legId);
      if (!leg) continue;
      log("warn", "leg_missing_on_node", { stream: this.state.name, legId, role: leg.role, nodeId: node.nodeId, bootId: node.bootId });
      await this.endLeg(leg, { kind: "failed", info: MISSING_LEG_INFO }, true);
    }
    return verdict.unknown;
  }

  /**
   * The WCS stream objects of this stream's legs (publisher first), with their current status — the elements of
   * REST `/stream/find_all`.
   */
  async streamObjects(): Promise<StreamStatusEvent[]> {
    const media = this.state.media;
    return this.allLegs().map((leg) => ({
      ...statusEvent(this.state.name, withPublisherMute(leg, this.state.publisher), leg.status, undefined, this.nodeOf(leg)?.nodeId),
      ...(leg.role === "publisher" && media?.videoCodec ? { videoCodec: media.videoCodec } : {}),
      ...(leg.role === "publisher" && media?.audioCodec ? { audioCodec: media.audioCodec } : {}),
    }));
  }

  /**
   * `sendStreamEvent` of the publisher leg `legId` (docs/protocols.md "Stream events"): relayed to every player of
   * the stream as `notifyStreamEvent` (worker/stream-events.ts); a mute event first sets the stream's audioState /
   * videoState, which new players and REST then see. Events are relayed in the order they arrive here.
   * Refusals (nothing relayed, nothing changed): not_found "Stream not found" (no such leg here), invalid_request
   * (the leg is a player: StreamEventInfo.NOT_PUBLISHER; the publisher is not PUBLISHING).
   * @param payload validated by protocol/stream-events.ts SendStreamEventRequest (bounded JSON)
   * @returns how many players were told
   */
  async publisherEvent(legId: string, type: StreamEventType, payload: unknown): Promise<Result<{ players: number }>> {
    const leg = this.findLeg(legId);
    if (!leg) return refusal("not_found", Info.STREAM_NOT_FOUND);
    if (leg.role !== "publisher") return refusal("invalid_request", StreamEventInfo.NOT_PUBLISHER);
    if (leg.status !== StreamStatus.PUBLISHING) return refusal("invalid_request", StreamEventInfo.notPublishing(this.state.name, leg.status));
    return { ok: true, players: await this.relayEvent(leg, type, payload) };
  }

  /**
   * REST `/stream/event/send`: a `data` event with `payload` to every player of the stream, as a publisher's
   * {@link publisherEvent}. not_found "Stream not found" unless the stream is PUBLISHING.
   * @param payload validated by protocol/stream-events.ts StreamEventSendBody (bounded JSON)
   */
  async dataEvent(payload: unknown): Promise<Result<{ players: number }>> {
    const pub = this.state.publisher;
    if (!pub || pub.status !== StreamStatus.PUBLISHING) return refusal("not_found", Info.STREAM_NOT_FOUND);
    return { ok: true, players: await this.relayEvent(pub, StreamEventType.DATA, payload) };
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

  /** The publishing stream's node and publisher mediaSessionId (a relay push source); not_found unless PUBLISHING. */
  async relaySource(): Promise<Result<{ node: NodeRef; mediaSessionId: string }>> {
    const pub = this.state.publisher;
    if (!pub || pub.status !== StreamStatus.PUBLISHING || !this.state.node) return refusal("not_found", Info.STREAM_NOT_FOUND);
    return { ok: true, node: this.state.node, mediaSessionId: pub.mediaSessionId };
  }

  /**
   * A PNG of the stream's current video (WCS `snapshot`, REST `/stream/snapshot`; protocol/snapshot.ts), taken by the
   * node that holds the publisher leg: the origin (an edge of the cascade only pulls the stream from it). Refusals:
   * not_found "Stream not found" unless PUBLISHING; conflict "Stream has no video" (known from the publisher's codecs,
   * or the node's); the node's node_full, timeout, error; node_lost (the registry is told).
   */
  async snapshot(): Promise<Result<SnapshotResponse>> {
    const pub = this.state.publisher;
    const node = this.state.node;
    if (!pub || pub.status !== StreamStatus.PUBLISHING || !node) return refusal("not_found", Info.STREAM_NOT_FOUND);
    if (this.state.media && !this.state.media.videoCodec) return refusal("conflict", SnapshotInfo.NO_VIDEO);
    const res = await this.nodeClient(node).snapshot(pub.legId, this.cfg.MEDIA_NODE_TIMEOUT_MS + MAX_SNAPSHOT_TIMEOUT_MS);
    if (!res.ok) {
      log("warn", "snapshot_failed", { stream: this.state.name, nodeId: node.nodeId, code: res.code, info: res.info });
      if (res.code === "node_lost") await registryOf(this.env).reportUnreachable(node.nodeId, node.bootId);
      return res.code === "not_found" ? refusal("not_found", Info.STREAM_NOT_FOUND) : res;
    }
    log("info", "snapshot_taken", { stream: this.state.name, nodeId: node.nodeId, width: res.width, height: res.height, tookMs: res.tookMs, base64Chars: res.data.length });
    return res;
  }

  /**
   * Recording on demand (REST `/recorder/startup`; worker/stream-recording.ts recordNow): the publisher of
   * `mediaSessionId` is recorded from now on in a new file; a recording it has is finished first (WCS: "current
   * recording will be stopped"). Refusals: not_found (no such publishing stream), and those of recordNow.
   */
  async startRecording(mediaSessionId: string): Promise<Result<RecordingStarted>> {
    const pub = this.state.publisher;
    const node = this.state.node;
    if (!pub || pub.status !== StreamStatus.PUBLISHING || !node || pub.mediaSessionId !== mediaSessionId) return refusal("not_found", Info.STREAM_NOT_FOUND);
    const client = this.nodeClient(node);
    if (pub.recordName) {
      const stopped = await this.stopRecording(mediaSessionId);
      if (!stopped.ok && stopped.code !== "not_found") return stopped;
      if (!this.isPublisher(pub)) return refusal("stopped", Info.STOPPED_BY_USER);
    }
    const res = await recordNow(this.env, this.state.name, pub, node, this.state.media, client);
    if (!res.ok) return this.nodeRefused(node, res);
    // a publisher that ended meanwhile took its recording with it: the node finished the file
    if (this.isPublisher(pub)) {
      pub.recordName = res.recordName;
      await this.save(pub);
    }
    return res;
  }

  /**
   * Finishes the recording of the publisher of `mediaSessionId` while it goes on publishing (REST
   * `/recorder/terminate`): the file is uploaded and listed once complete. Refusals: not_found (no such publishing
   * stream, or not recorded), the node's timeout or error.
   */
  async stopRecording(mediaSessionId: string): Promise<Result<RecordingStarted>> {
    const pub = this.state.publisher;
    const node = this.state.node;
    if (!pub || pub.status !== StreamStatus.PUBLISHING || !node || pub.mediaSessionId !== mediaSessionId) return refusal("not_found", Info.STREAM_NOT_FOUND);
    const res = await stopRecordingNow(this.state.name, pub, node, this.nodeClient(node));
    if (!res.ok) return this.nodeRefused(node, res);
    if (this.isPublisher(pub) && pub.recordName === res.recordName) {
      delete pub.recordName;
      await this.save(pub);
    }
    return res;
  }

  /** A node call's refusal as the REST caller gets it; an unreachable node is reported to the registry (its probe decides). */
  private async nodeRefused(node: NodeRef, r: Refusal): Promise<Refusal> {
    if (r.code !== "node_lost") return r;
    await registryOf(this.env).reportUnreachable(node.nodeId, node.bootId);
    return refusal("error", `${Info.FAILED_BY_ERROR}: the media node is unreachable`);
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
    for (const edge of Object.values(this.state.edges ?? {})) {
      if (edge.idleSince !== undefined && edge.idleSince + this.cfg.CASCADE_LINGER_MS <= now) await this.dropEdge(edge, null);
    }
    await this.scheduleDeadline();
  }

  // ---- internals ----

  /**
   * Takes the name for `leg` (before any await) and places the stream on a media node (NodeRegistryDO). Returns the
   * node, or the refusal: no_media_node, or stopped when the leg ended while the registry answered — then the
   * placement the registry recorded is released again, so the node's stream list does not keep a dead name.
   */
  /** Places the publisher leg on the least-loaded live node that is not in `exclude` (node ids that refused it). */
  private async placePublisher(name: string, leg: LegRecord, exclude: string[] = []): Promise<RelayPlacement> {
    this.state.publisher = leg;
    try {
      await this.save();
    } catch (err) {
      // nothing may stay reserved by a request that could not even be stored
      this.state.publisher = null;
      log("error", "publish_not_stored", { stream: name, mediaSessionId: leg.mediaSessionId, error: String(err) });
      return refusal("invalid_request", `${Info.INVALID_REQUEST}: the stream cannot be stored`);
    }
    const node = await registryOf(this.env).allocate(name, Date.now(), exclude);
    if (!this.isPublisher(leg)) {
      if (node) await registryOf(this.env).release(name, node.nodeId, node.bootId);
      return refusal("stopped", Info.STOPPED_BY_USER);
    }
    if (!node) {
      this.state.publisher = null;
      await this.save();
      return refusal("no_media_node", Info.NO_MEDIA_NODE);
    }
    this.state.node = node;
    await this.save();
    return { ok: true, node };
  }

  /** Whether `leg` still is the stream's publisher (it may have ended during an await). */
  private isPublisher(leg: LegRecord): boolean {
    return this.state.publisher?.legId === leg.legId;
  }

  /**
   * The common part of {@link play} and {@link playWithServerOffer}: not_found "Stream not found" unless the publisher
   * is PUBLISHING; the player leg is registered before any await; `create` asks the stream's node for the leg; if the
   * leg ended meanwhile (its owner went away, the publisher stopped) or the node refused, everything is undone.
   * On success the ICE deadline is armed and the node's result is returned with the leg.
   */
  private async addPlayer<R extends object>(
    name: string,
    req: LegRequest,
    media: { hasAudio: boolean; hasVideo: boolean },
    create: (client: MediaNodeClient) => Promise<Result<R>>,
  ): Promise<Result<R & { leg: LegRecord }>> {
    this.state.name = name;
    const pub = this.state.publisher;
    const node = this.state.node;
    if (!pub || pub.status !== StreamStatus.PUBLISHING || !node) return refusal("not_found", Info.STREAM_NOT_FOUND);
    if (req.requireRoom !== undefined && pub.room?.name !== req.requireRoom) return refusal("forbidden", AuthInfo.notGranted("play", name));
    if (this.joining >= this.cfg.MAX_JOINS_IN_FLIGHT) {
      log("warn", "play_refused_joins_in_flight", { stream: name, mediaSessionId: req.mediaSessionId, joining: this.joining });
      return refusal("node_full", Info.TOO_MANY_JOINS);
    }
    const leg = this.newLeg("player", req, media);
    this.state.players[leg.legId] = leg;
    let res: Result<R>;
    let placed = node;
    this.joining++;
    try {
      try {
        await this.save(leg);
      } catch (err) {
        delete this.state.players[leg.legId];
        log("error", "play_not_stored", { stream: name, mediaSessionId: req.mediaSessionId, error: String(err) });
        return refusal("invalid_request", `${Info.INVALID_REQUEST}: the player cannot be stored`);
      }
      res = await create(this.nodeClient(node));
      if (!res.ok && res.code === "node_full" && this.state.players[leg.legId]) {
        // the stream's node is full: an edge node pulls the stream and takes the player (cascade)
        const onEdge = await this.playOnEdge(leg, create);
        if (onEdge) ({ res, node: placed } = onEdge);
      }
    } finally {
      this.joining--;
    }
    if (!this.state.players[leg.legId]) {
      if (res.ok) await this.nodeClient(placed).deleteLeg(leg.legId);
      if (leg.edge !== undefined) await this.edgeLeft(leg.edge);
      return this.state.publisher ? refusal("stopped", Info.STOPPED_BY_USER) : refusal("stopped", Info.STOPPED_BY_PUBLISHER_STOP);
    }
    if (!res.ok) {
      delete this.state.players[leg.legId];
      await this.save(leg);
      if (leg.edge !== undefined) await this.edgeLeft(leg.edge);
      log("warn", "play_failed", { stream: name, mediaSessionId: req.mediaSessionId, nodeId: placed.nodeId, code: res.code, info: res.info });
      return res;
    }
    leg.deadline = Date.now() + this.cfg.ICE_TIMEOUT_MS;
    await this.save(leg);
    await this.scheduleDeadline();
    return { ...res, leg };
  }

  /**
   * Ends one leg, and with a publisher the whole stream. `tellOwner` pushes the leg's own terminal status to its
   * owner (for asynchronous ends); the returned event is the same status, for a requester that awaits it.
   */
  private async endLeg(leg: LegRecord, reason: EndReason, tellOwner = false): Promise<StreamStatusEvent> {
    const name = this.state.name;
    const node = this.nodeOf(leg);
    const own = ownStatus(leg, reason);
    log("info", "leg_ended", { stream: name, legId: leg.legId, role: leg.role, owner: leg.owner.kind, mediaSessionId: leg.mediaSessionId, reason: reason.kind, status: own.status, info: own.info });
    const event = statusEvent(name, withPublisherMute(leg, this.state.publisher), own.status, own.info, node?.nodeId);
    const tasks: Promise<unknown>[] = [];
    const hooks = [legEndedWebhook(name, leg, own)];

    if (leg.role === "player") {
      delete this.state.players[leg.legId];
      await this.save(leg);
      if (node && reason.kind !== "transport-closed") tasks.push(this.nodeClient(node).deleteLeg(leg.legId));
      if (leg.edge !== undefined) tasks.push(this.edgeLeft(leg.edge));
    } else {
      const players = Object.values(this.state.players);
      const edges = Object.values(this.state.edges ?? {});
      this.state = { name, node: null, publisher: null, players: {} };
      await this.save();
      const playerEnd = playersStatus(reason);
      hooks.unshift(...players.map((p) => legEndedWebhook(name, p, playerEnd)));
      for (const p of players) tasks.push(this.deliver(p, statusEvent(name, p, playerEnd.status, playerEnd.info, p.edge ?? node?.nodeId)));
      // each edge: deleting its pull leg closes that node's players of the stream (the origin's feeds go with the publisher)
      for (const e of edges) tasks.push(this.nodeClient(e.node).deleteLeg(e.pullLegId), registryOf(this.env).release(name, e.node.nodeId, e.node.bootId));
      if (leg.status === StreamStatus.PUBLISHING) tasks.push(this.tellRoom(leg, own.status === StreamStatus.FAILED ? "FAILED" : "UNPUBLISHED"));
      if (node) {
        // deleting the publisher leg closes its player legs on the node too
        if (reason.kind !== "node-lost" && reason.kind !== "node-shutdown") tasks.push(this.nodeClient(node).deleteLeg(leg.legId));
        // a lost node cannot finish its recording: what it uploaded becomes the file (a draining node finishes its own)
        if (reason.kind === "node-lost") tasks.push(recordingNodeLost(this.env, leg, node));
        tasks.push(this.releaseNode(node, false));
      }
    }
    tasks.push(emitWebhooks(this.env, name, hooks)); // players first, then their publisher
    if (tellOwner) tasks.push(this.deliver(leg, event));
    await Promise.allSettled(tasks);
    return event;
  }

  /**
   * Applies a stream event of the publisher `pub` (a mute state, saved) and relays it to the players it has now, after
   * the events relayed before it. Returns how many players were told.
   */
  private async relayEvent(pub: LegRecord, type: StreamEventType, payload: unknown): Promise<number> {
    if (applyMuteEvent(pub, type)) await this.save();
    const players = Object.values(this.state.players);
    return this.streamEvents.run(() => relayToPlayers(this.env, this.state.name, players, type, payload));
  }

  /** Forgets this stream's placement on `node`; `unreachable`: the node refused a connection, declare it lost. */
  private async releaseNode(node: NodeRef, unreachable: boolean): Promise<void> {
    const registry = registryOf(this.env);
    await registry.release(this.state.name, node.nodeId, node.bootId);
    if (unreachable) await registry.reportUnreachable(node.nodeId, node.bootId);
  }

  private newLeg(role: LegRole, req: LegRequest, media: { hasAudio: boolean; hasVideo: boolean }): LegRecord {
    const now = Date.now();
    return {
      legId: req.legId,
      role,
      owner: req.owner,
      mediaSessionId: req.mediaSessionId,
      ...(req.appKey === undefined ? {} : { appKey: req.appKey }),
      ...(req.room === undefined ? {} : { room: req.room }),
      ...(req.custom === undefined ? {} : { custom: req.custom }),
      hasAudio: media.hasAudio,
      hasVideo: media.hasVideo,
      status: StreamStatus.PENDING,
      createdAt: now,
      deadline: now + this.cfg.ICE_TIMEOUT_MS + this.cfg.MEDIA_NODE_TIMEOUT_MS,
    };
  }

  private findLeg(legId: string): LegRecord | null {
    return this.state.publisher?.legId === legId ? this.state.publisher : (this.state.players[legId] ?? null);
  }

  private allLegs(): LegRecord[] {
    return [...(this.state.publisher ? [this.state.publisher] : []), ...Object.values(this.state.players)];
  }

  private deliver(leg: LegRecord, event: StreamStatusEvent): Promise<void> {
    return ownerRules(leg.owner).notify(this.env, leg.owner, leg, this.state.name, event);
  }

  /** Tells the room of a room stream's publisher that the stream was published or ended (protocol/room.ts). */
  private async tellRoom(leg: LegRecord, event: "PUBLISHED" | "UNPUBLISHED" | "FAILED"): Promise<void> {
    if (!leg.room || leg.owner.kind !== "session") return;
    try {
      await roomOf(this.env, leg.room.name).onStreamStatus(leg.room.login, leg.owner.sessionId, this.state.name, event);
    } catch (err) {
      log("warn", "room_stream_notify_failed", { stream: this.state.name, room: leg.room.name, event, error: String(err) });
    }
  }

  private nodeClient(node: NodeRef): MediaNodeClient {
    return MediaNodeClient.of(this.env, node, this.cfg.MEDIA_NODE_TIMEOUT_MS);
  }

  private async scheduleDeadline(): Promise<void> {
    let next = Infinity;
    for (const leg of this.allLegs()) if (leg.status === StreamStatus.PENDING) next = Math.min(next, leg.deadline);
    for (const e of Object.values(this.state.edges ?? {})) if (e.idleSince !== undefined) next = Math.min(next, e.idleSince + this.cfg.CASCADE_LINGER_MS);
    if (next === Infinity) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  /**
   * Persists what changed in the state (worker/stream-store.ts). `changed`: the leg added, removed or changed in place
   * since the last save: the store looks at no other player record (unless `state.players` was replaced).
   */
  /** The node a leg is on: its edge's node, or the stream's own node. */
  private nodeOf(leg: LegRecord): NodeRef | null {
    return leg.edge === undefined ? this.state.node : (this.state.edges?.[leg.edge]?.node ?? null);
  }

  /** The stream's own node or one of its edges, if it is that incarnation. */
  private nodeById(nodeId: string, bootId: string): NodeRef | null {
    const n = this.state.node?.nodeId === nodeId ? this.state.node : this.state.edges?.[nodeId]?.node;
    return n && n.bootId === bootId ? n : null;
  }

  // ---- cascade (docs/architecture.md "Cascade") ----

  /**
   * Places `leg` on an edge after the stream's node answered node_full: existing edges first, then new ones (at most
   * {@link MAX_EDGE_ATTEMPTS} nodes). Returns the last node's answer and that node, or null when no edge could be
   * had (the caller keeps the origin's node_full). `leg.edge` names the edge while it is tried.
   */
  private async playOnEdge<R extends object>(
    leg: LegRecord,
    create: (client: MediaNodeClient) => Promise<Result<R>>,
  ): Promise<{ res: Result<R>; node: NodeRef } | null> {
    const tried = new Set<string>();
    let last: { res: Result<R>; node: NodeRef } | null = null;
    for (let i = 0; i < MAX_EDGE_ATTEMPTS && this.state.players[leg.legId]; i++) {
      const before = tried.size;
      const edge = await this.edgeToTry(tried);
      if (!edge && tried.size > before) continue; // that node could not be made an edge: the next one
      if (!edge || !this.state.players[leg.legId]) return last;
      tried.add(edge.node.nodeId);
      leg.edge = edge.node.nodeId;
      delete edge.idleSince;
      const res = await create(this.nodeClient(edge.node));
      last = { res, node: edge.node };
      if (res.ok || res.code !== "node_full") return last;
      delete leg.edge;
      await this.edgeLeft(edge.node.nodeId);
    }
    return last;
  }

  /**
   * A ready edge not in `tried`, else a new one (opened one at a time); null when no node can be an edge. A node that
   * could not be made an edge is added to `tried`.
   */
  private async edgeToTry(tried: Set<string>): Promise<EdgeRecord | null> {
    for (;;) {
      const ready = Object.values(this.state.edges ?? {}).find((e) => e.ready && !tried.has(e.node.nodeId));
      if (ready) return ready;
      if (!this.edgeOpening) break;
      await this.edgeOpening; // another play is opening one: it may be for us too
    }
    const exclude = [this.state.node?.nodeId ?? "", ...Object.keys(this.state.edges ?? {}), ...tried];
    this.edgeOpening = this.openEdge(exclude, (nodeId) => tried.add(nodeId));
    try {
      return await this.edgeOpening;
    } finally {
      this.edgeOpening = null;
    }
  }

  /**
   * Opens an edge on the least-loaded live node not in `exclude`: the edge's pull leg offers, the origin's feed leg
   * answers, the edge applies the answer. The record is stored first, so a reconcile meanwhile knows its legs.
   * Returns null when no node is free or a step fails (what was made is undone; `failedOn` hears that node).
   */
  private async openEdge(exclude: string[], failedOn: (nodeId: string) => void): Promise<EdgeRecord | null> {
    const name = this.state.name;
    const origin = this.state.node;
    if (!origin) return null;
    const node = await registryOf(this.env).allocate(name, Date.now(), exclude);
    if (!node) return null;
    const edge: EdgeRecord = { node, pullLegId: "", feedLegId: "", createdAt: Date.now() };
    this.state.edges = { ...this.state.edges, [node.nodeId]: edge };
    const current = () => this.state.node === origin && this.state.edges?.[node.nodeId] === edge;
    const edgeClient = this.nodeClient(node);
    const originClient = this.nodeClient(origin);
    // a link that fails while it is being set up is tried again with new legs. (The pull offer reaches the origin
    // without candidates: with them, the origin's DTLS handshake could reach the edge before the edge had the origin's
    // answer and fingerprint, and both ends failed, in about 1 of 8 openings on loopback.)
    for (let attempt = 1; attempt <= EDGE_LINK_ATTEMPTS && current(); attempt++) {
      if (attempt > 1) await new Promise((r) => setTimeout(r, 100 * attempt));
      edge.pullLegId = crypto.randomUUID();
      edge.feedLegId = crypto.randomUUID();
      await this.save();
      const pull = await edgeClient.createPullLeg({ legId: edge.pullLegId, streamName: name });
      const feed = pull.ok && current() ? await originClient.createFeedLeg({ legId: edge.feedLegId, streamName: name, offer: withoutCandidates(pull.offer) }) : null;
      const applied = feed?.ok && current() ? await edgeClient.applyAnswer(edge.pullLegId, feed.answer) : null;
      if (applied?.ok && current()) {
        edge.ready = true;
        await this.save();
        log("info", "cascade_edge_opened", { stream: name, edge: node.nodeId, origin: origin.nodeId, pullLegId: edge.pullLegId, feedLegId: edge.feedLegId, video: applied.media.videoCodec, audio: applied.media.audioCodec });
        return edge;
      }
      const why = !pull.ok ? pull : feed && !feed.ok ? feed : applied && !applied.ok ? applied : { code: "stopped", info: "the stream ended" };
      log("warn", "cascade_edge_failed", { stream: name, edge: node.nodeId, origin: origin.nodeId, attempt, code: why.code, info: why.info });
      if (this.state.node === origin) await Promise.allSettled([edgeClient.deleteLeg(edge.pullLegId), originClient.deleteLeg(edge.feedLegId)]);
      if (!pull.ok && pull.code !== "invalid_sdp") break; // the edge refused (full, draining, gone): no second try
    }
    failedOn(node.nodeId);
    if (current()) await this.dropEdge(edge, null);
    return null;
  }

  /** A player of the edge `nodeId` left (or was not placed): with none left the edge lingers, then is torn down. */
  private async edgeLeft(nodeId: string): Promise<void> {
    const edge = this.state.edges?.[nodeId];
    if (!edge || edge.idleSince !== undefined) return;
    if (Object.values(this.state.players).some((p) => p.edge === nodeId)) return;
    edge.idleSince = Date.now();
    await this.save();
    await this.scheduleDeadline();
  }

  /**
   * Tears an edge down: its players end with `reason` (null: it had none, it lingered out), its pull leg and the
   * origin's feed leg are deleted (not on a node that is gone: `edgeGone`), the registry forgets the placement.
   */
  private async dropEdge(edge: EdgeRecord, reason: EndReason | null, edgeGone = false): Promise<void> {
    const id = edge.node.nodeId;
    if (this.state.edges?.[id] !== edge) return;
    const { [id]: _dropped, ...rest } = this.state.edges;
    this.state.edges = Object.keys(rest).length ? rest : undefined;
    await this.save();
    log("info", "cascade_edge_closed", { stream: this.state.name, edge: id, reason: reason?.kind ?? "idle" });
    const players = Object.values(this.state.players).filter((p) => p.edge === id);
    const tasks: Promise<unknown>[] = players.map((p) => this.endLeg(p, reason ?? { kind: "failed", info: CASCADE_LINK_LOST }, true));
    if (this.state.node) tasks.push(this.nodeClient(this.state.node).deleteLeg(edge.feedLegId));
    if (!edgeGone) tasks.push(this.nodeClient(edge.node).deleteLeg(edge.pullLegId), registryOf(this.env).release(this.state.name, id, edge.node.bootId));
    await Promise.allSettled(tasks);
  }

  private save(changed?: LegRecord): Promise<void> {
    return this.store.save(this.state, changed ? [changed.legId] : []);
  }
}
