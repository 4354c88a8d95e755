/**
 * The worker's client of one media node's control API (protocol/media-node.ts, protocol/relay.ts): every call is
 * signed (protocol/signing.ts `signedFetch`), cancelled after the timeout, and its answer validated. Calls never throw;
 * they return a `Result` whose refusal code says what happened:
 * - the node's own refusal: its `ApiError` code and `info` (e.g. invalid_sdp "Invalid SDP: …", not_found);
 * - no connection, twice: `node_lost` with {@link Info.MEDIA_NODE_LOST} (the caller reports the node unreachable; the
 *   registry probes it and ends its streams if it does not answer). A connection that fails or drops once is retried
 *   within the same time budget: `wrangler dev`'s proxy drops connections ("Network connection lost") when the
 *   machine is saturated, and one dropped connection must not fail a player of a healthy node. A retried leg creation
 *   whose first attempt did reach the node finds its leg id taken (`conflict`; leg ids are fresh random ids): that leg
 *   is deleted and the call refused with `error`;
 * - no answer in time: `timeout` (the node may only be slow; the heartbeats tell a slow node from a dead one);
 * - an answer that breaks the API: `error`.
 */
import type { z } from "zod";
import {
  AddCandidatesResponse,
  ApiError,
  ApplyAnswerResponse,
  Info,
  isTimeout,
  LegAnswerResponse,
  LegOfferResponse,
  MediaNodePaths,
  NodeStatus,
  RelayPaths,
  refusal,
  signedFetch,
  RecorderPaths,
  RecordingStarted,
  SnapshotPaths,
  SnapshotResponse,
  StartRelayResponse,
  type AddCandidatesRequest,
  type CreateLegRequest,
  type Refusal,
  type Result,
  type StartRelayRequest,
} from "../protocol/index.js";
import type { Env } from "./env.js";
import { log } from "./log.js";
import type { NodeRef } from "./stream-types.js";

/** A failed connection is retried only when at least this much of the call's time budget is left, ms. */
const MIN_RETRY_BUDGET_MS = 250;

export class MediaNodeClient {
  /**
   * @param secret the shared MEDIA_NODE_SECRET
   * @param node the node to call
   * @param timeoutMs how long one call may take, ms (MEDIA_NODE_TIMEOUT_MS)
   */
  constructor(
    private readonly secret: string,
    readonly node: NodeRef,
    private readonly timeoutMs: number,
  ) {}

  /** A client of `node` with the worker's secret. @throws Error when MEDIA_NODE_SECRET is not configured */
  static of(env: Env, node: NodeRef, timeoutMs: number): MediaNodeClient {
    const secret = env.MEDIA_NODE_SECRET;
    if (!secret) throw new Error("MEDIA_NODE_SECRET is not configured");
    return new MediaNodeClient(secret, node, timeoutMs);
  }

  /** Creates a leg that answers the client's `offer`: the node's answer and the negotiated codecs. */
  async createLeg(req: CreateLegRequest & { offer: string }): Promise<Result<z.infer<typeof LegAnswerResponse>>> {
    const res = await this.call("POST", MediaNodePaths.legs, req, LegAnswerResponse);
    return res.ok ? { ok: true, ...res.value } : this.createRefused(req.legId, res);
  }

  /** Creates an offer-mode player leg: the node's offer; its answer goes later with {@link applyAnswer}. */
  async createOfferLeg(req: Omit<CreateLegRequest, "offer" | "role">): Promise<Result<z.infer<typeof LegOfferResponse>>> {
    const res = await this.call("POST", MediaNodePaths.legs, { ...req, role: "player" }, LegOfferResponse);
    return res.ok ? { ok: true, ...res.value } : this.createRefused(req.legId, res);
  }

  /**
   * Cascade, edge side: creates the stream's pull leg on this (edge) node; its offer goes to the origin's
   * {@link createFeedLeg}, whose answer comes back with {@link applyAnswer}.
   */
  async createPullLeg(req: { legId: string; streamName: string }): Promise<Result<z.infer<typeof LegOfferResponse>>> {
    const res = await this.call("POST", MediaNodePaths.legs, { ...req, role: "publisher", cascade: "pull" }, LegOfferResponse);
    return res.ok ? { ok: true, ...res.value } : this.createRefused(req.legId, res);
  }

  /** Cascade, origin side: the player leg that answers an edge's pull `offer` (admitted even on a full node). */
  async createFeedLeg(req: { legId: string; streamName: string; offer: string }): Promise<Result<z.infer<typeof LegAnswerResponse>>> {
    const res = await this.call("POST", MediaNodePaths.legs, { ...req, role: "player", cascade: "feed" }, LegAnswerResponse);
    return res.ok ? { ok: true, ...res.value } : this.createRefused(req.legId, res);
  }

  /** A refused leg creation; `conflict` on a fresh leg id means a retried first attempt created it: delete that leg. */
  private async createRefused(legId: string, res: Refusal): Promise<Refusal> {
    if (res.code !== "conflict") return res;
    log("warn", "media_node_retried_create", { nodeId: this.node.nodeId, legId });
    await this.deleteLeg(legId);
    return refusal("error", `${Info.FAILED_BY_ERROR}: the connection to the media node was interrupted, try again`);
  }

  /** Gives an offer-mode leg its remote answer: the media the answer accepted. */
  async applyAnswer(legId: string, answer: string): Promise<Result<z.infer<typeof ApplyAnswerResponse>>> {
    const res = await this.call("POST", MediaNodePaths.answer(legId), { answer }, ApplyAnswerResponse);
    return res.ok ? res.value : res;
  }

  /** Hands trickled remote candidates to a leg: how many were taken, and the refused ones with reasons. */
  async addCandidates(legId: string, candidates: AddCandidatesRequest["candidates"]): Promise<Result<AddCandidatesResponse>> {
    const res = await this.call("POST", MediaNodePaths.candidates(legId), { candidates }, AddCandidatesResponse);
    return res.ok ? { ok: true, ...res.value } : res;
  }

  /** Deletes a leg (idempotent on the node). Failures are logged only: a dead node has no legs anyway. */
  async deleteLeg(legId: string): Promise<void> {
    const res = await this.call("DELETE", MediaNodePaths.leg(legId), undefined, null);
    if (!res.ok) log("warn", "media_node_delete_failed", { nodeId: this.node.nodeId, legId, code: res.code, info: res.info });
  }

  /**
   * The node's status (`GET /v1/status`): which incarnation answers and the legs it holds. The registry asks it before
   * declaring a node with late heartbeats lost. `timeoutMs` overrides the client's timeout.
   */
  async status(timeoutMs?: number): Promise<Result<NodeStatus>> {
    const res = await this.call("GET", MediaNodePaths.status, undefined, NodeStatus, timeoutMs);
    return res.ok ? { ok: true, ...res.value } : res;
  }

  /**
   * A PNG of the stream of the publisher leg `legId` (protocol/snapshot.ts; the node decodes it with ffmpeg), or the
   * node's refusal: not_found, conflict (no video), node_full (too many snapshots running), timeout, error.
   * `timeoutMs` overrides the client's timeout (the node's own bound, up to MAX_SNAPSHOT_TIMEOUT_MS, comes on top).
   */
  async snapshot(legId: string, timeoutMs: number): Promise<Result<SnapshotResponse>> {
    const res = await this.call("POST", SnapshotPaths.snapshot(legId), {}, SnapshotResponse, timeoutMs);
    return res.ok ? { ok: true, ...res.value } : res;
  }

  /**
   * Records the connected publisher leg `legId` from now on under `<name>.<webm|mp4>` (recording on demand,
   * protocol/recording.ts RecorderPaths): the record name, or the node's refusal: not_found, conflict (recorded
   * already, or no codec to record), node_full, not_configured, timeout, error.
   */
  async startRecording(legId: string, name: string): Promise<Result<RecordingStarted>> {
    const res = await this.call("POST", RecorderPaths.recording(legId), { name }, RecordingStarted);
    return res.ok ? { ok: true, ...res.value } : res;
  }

  /** Finishes the recording of publisher leg `legId` while the stream goes on: the record name, or not_found. */
  async stopRecording(legId: string): Promise<Result<RecordingStarted>> {
    const res = await this.call("DELETE", RecorderPaths.recording(legId), undefined, RecordingStarted);
    return res.ok ? { ok: true, ...res.value } : res;
  }

  /** Starts a relay on the node; answers once the remote accepted it. `timeoutMs` overrides the client's timeout. */
  async startRelay(req: StartRelayRequest, timeoutMs: number): Promise<Result<StartRelayResponse>> {
    const res = await this.call("POST", RelayPaths.relays, req, StartRelayResponse, timeoutMs);
    return res.ok ? res.value : res;
  }

  /** Stops a relay on the node (idempotent). Failures are logged only. */
  async stopRelay(relayId: string): Promise<void> {
    const res = await this.call("DELETE", RelayPaths.relay(relayId), undefined, null);
    if (!res.ok) log("warn", "media_node_relay_stop_failed", { nodeId: this.node.nodeId, relayId, code: res.code, info: res.info });
  }

  /**
   * The one call: signed request, timeout, answer checked with `schema` (null = any 2xx body is fine).
   * @returns the parsed body, or a refusal (see the file header)
   */
  private async call<S extends z.ZodTypeAny>(
    method: string,
    path: string,
    body: unknown,
    schema: S | null,
    timeoutMs = this.timeoutMs,
  ): Promise<Result<{ value: z.infer<S> }>> {
    const where = { nodeId: this.node.nodeId, method, path };
    const started = Date.now();
    let res: Response | undefined;
    for (let attempt = 1; !res; attempt++) {
      try {
        res = await signedFetch(this.secret, this.node.controlUrl + path, method, body, timeoutMs - (Date.now() - started));
      } catch (err) {
        if (isTimeout(err)) {
          log("warn", "media_node_timeout", { ...where, timeoutMs });
          return refusal("timeout", `${Info.FAILED_BY_ERROR}: media node did not answer in time`);
        }
        const left = timeoutMs - (Date.now() - started);
        if (attempt === 1 && left >= MIN_RETRY_BUDGET_MS) {
          log("warn", "media_node_connection_retried", { ...where, error: String(err) });
          continue;
        }
        log("warn", "media_node_unreachable", { ...where, attempts: attempt, error: String(err) });
        return refusal("node_lost", Info.MEDIA_NODE_LOST);
      }
    }
    const json: unknown = await res.json().catch(() => null);
    if (!res.ok) {
      const err = ApiError.safeParse(json);
      if (err.success) return refusal(err.data.code, err.data.info);
      log("error", "media_node_bad_response", { ...where, status: res.status });
      return refusal("error", `${Info.FAILED_BY_ERROR}: media node answered ${res.status}`);
    }
    if (schema === null) return { ok: true, value: json };
    const parsed = schema.safeParse(json);
    if (parsed.success) return { ok: true, value: parsed.data };
    log("error", "media_node_bad_response", { ...where, status: res.status, issue: parsed.error.issues[0]?.message });
    return refusal("error", Info.FAILED_BY_ERROR);
  }
}
