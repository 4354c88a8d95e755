/**
 * Calls from the worker to a media node's control API (protocol/media-node.ts), signed with the shared secret.
 */
import {
  AddCandidatesResponse,
  ApiError,
  ApplyAnswerResponse,
  CreateLegResponse,
  Info,
  MediaNodePaths,
  signedFetch,
  type AddCandidatesRequest,
  type ApplyAnswerRequest,
  type CreateLegRequest,
  type LegMedia,
} from "../protocol/index.js";
import { log } from "./log.js";
import type { NodeRef } from "./stream-types.js";

export type CreateLegResult =
  | { ok: true; answer: string; videoCodec?: string; audioCodec?: string }
  | { ok: false; info: string; unreachable: boolean };

export type CreateOfferLegResult =
  | { ok: true; offer: string; videoCodec?: string; audioCodec?: string }
  | { ok: false; info: string; unreachable: boolean };

/**
 * Asks `node` to create a leg and answer its offer. Never throws: a refused call returns the node's WCS-style
 * `info`; a failed connection returns {@link Info.MEDIA_NODE_LOST} with `unreachable: true`, a timeout a FAILED info
 * with `unreachable: false` (see `unreachable()`).
 */
export async function createLeg(
  secret: string,
  node: NodeRef,
  req: CreateLegRequest & { offer: string },
  timeoutMs: number,
): Promise<CreateLegResult> {
  const res = await postLeg(secret, node, req, timeoutMs);
  if (!res.ok) return res;
  if ("answer" in res.body) return { ok: true, answer: res.body.answer, ...res.body.media };
  log("error", "media_node_bad_response", { nodeId: node.nodeId, legId: req.legId, why: "no answer" });
  return { ok: false, info: Info.FAILED_BY_ERROR, unreachable: false };
}

/**
 * Asks `node` to create an offer-mode player leg (no client offer): the node's offer comes back, its answer goes
 * later with {@link applyAnswer}. Errors as {@link createLeg}.
 */
export async function createOfferLeg(
  secret: string,
  node: NodeRef,
  req: Omit<CreateLegRequest, "offer" | "role"> & { role: "player" },
  timeoutMs: number,
): Promise<CreateOfferLegResult> {
  const res = await postLeg(secret, node, req, timeoutMs);
  if (!res.ok) return res;
  if ("offer" in res.body) return { ok: true, offer: res.body.offer, ...res.body.media };
  log("error", "media_node_bad_response", { nodeId: node.nodeId, legId: req.legId, why: "no offer" });
  return { ok: false, info: Info.FAILED_BY_ERROR, unreachable: false };
}

async function postLeg(
  secret: string,
  node: NodeRef,
  req: CreateLegRequest,
  timeoutMs: number,
): Promise<{ ok: true; body: CreateLegResponse } | { ok: false; info: string; unreachable: boolean }> {
  let res: Response;
  try {
    res = await withTimeout(signedFetch(secret, node.controlUrl + MediaNodePaths.legs, "POST", req), timeoutMs);
  } catch (err) {
    return unreachable(node, req.legId, err);
  }
  const body: unknown = await res.json().catch(() => null);
  if (res.ok) {
    const parsed = CreateLegResponse.safeParse(body);
    if (parsed.success) return { ok: true, body: parsed.data };
    log("error", "media_node_bad_response", { nodeId: node.nodeId, legId: req.legId });
    return { ok: false, info: Info.FAILED_BY_ERROR, unreachable: false };
  }
  const err = ApiError.safeParse(body);
  const info = err.success ? err.data.info : `${Info.FAILED_BY_ERROR}: media node answered ${res.status}`;
  log("warn", "media_node_refused_leg", { nodeId: node.nodeId, legId: req.legId, status: res.status, info });
  return { ok: false, info, unreachable: false };
}

export type ApplyAnswerResult =
  | { ok: true; media: LegMedia }
  | { ok: false; status: number; info: string; unreachable: boolean };

/**
 * Gives an offer-mode leg on `node` its remote answer. Never throws: a refused call returns the node's HTTP status
 * and WCS-style `info` ("Invalid SDP: …", "No common codecs", 404 no such leg, 409 not waiting for an answer); a
 * failed connection returns `unreachable: true` (a timeout does not).
 */
export async function applyAnswer(
  secret: string,
  node: NodeRef,
  legId: string,
  req: ApplyAnswerRequest,
  timeoutMs: number,
): Promise<ApplyAnswerResult> {
  let res: Response;
  try {
    res = await withTimeout(signedFetch(secret, node.controlUrl + MediaNodePaths.answer(legId), "POST", req), timeoutMs);
  } catch (err) {
    return { status: 503, ...unreachable(node, legId, err) };
  }
  const body: unknown = await res.json().catch(() => null);
  if (res.ok) {
    const parsed = ApplyAnswerResponse.safeParse(body);
    if (parsed.success) return { ok: true, media: parsed.data.media };
    log("error", "media_node_bad_response", { nodeId: node.nodeId, legId });
    return { ok: false, status: 500, info: Info.FAILED_BY_ERROR, unreachable: false };
  }
  const err = ApiError.safeParse(body);
  return { ok: false, status: res.status, info: err.success ? err.data.info : `${Info.FAILED_BY_ERROR}: media node answered ${res.status}`, unreachable: false };
}

/** Deletes a leg (idempotent on the node). Errors are logged, never thrown: a dead node has no legs anyway. */
export async function deleteLeg(secret: string, node: NodeRef, legId: string, timeoutMs: number): Promise<void> {
  try {
    const res = await withTimeout(signedFetch(secret, node.controlUrl + MediaNodePaths.leg(legId), "DELETE"), timeoutMs);
    await res.body?.cancel();
  } catch (err) {
    log("warn", "media_node_delete_failed", { nodeId: node.nodeId, legId, error: String(err) });
  }
}

export type AddCandidatesResult =
  | ({ ok: true } & AddCandidatesResponse)
  | { ok: false; status: number; info: string; unreachable: boolean };

/**
 * Hands trickled remote candidates to a leg on `node`. Never throws: a refused call returns the node's HTTP status
 * and `info` (404 when the node has no such leg); a failed connection returns `unreachable: true` (a timeout does not).
 */
export async function addCandidates(
  secret: string,
  node: NodeRef,
  legId: string,
  req: AddCandidatesRequest,
  timeoutMs: number,
): Promise<AddCandidatesResult> {
  let res: Response;
  try {
    res = await withTimeout(signedFetch(secret, node.controlUrl + MediaNodePaths.candidates(legId), "POST", req), timeoutMs);
  } catch (err) {
    return { status: 503, ...unreachable(node, legId, err) };
  }
  const body: unknown = await res.json().catch(() => null);
  if (res.ok) {
    const parsed = AddCandidatesResponse.safeParse(body);
    if (parsed.success) return { ok: true, ...parsed.data };
    log("error", "media_node_bad_response", { nodeId: node.nodeId, legId });
    return { ok: false, status: 500, info: Info.FAILED_BY_ERROR, unreachable: false };
  }
  const err = ApiError.safeParse(body);
  return { ok: false, status: res.status, info: err.success ? err.data.info : `media node answered ${res.status}`, unreachable: false };
}

/** A call that got no answer in time: the node may just be slow, so this alone does not declare it lost. */
class MediaNodeTimeout extends Error {}

/**
 * The refusal of a call that failed without an HTTP answer. Only a failed connection marks the node `unreachable`
 * (its streams are then ended at once); a timeout is left to the heartbeats, which tell a slow node from a dead one.
 */
function unreachable(node: NodeRef, legId: string, err: unknown): { ok: false; info: string; unreachable: boolean } {
  const timedOut = err instanceof MediaNodeTimeout;
  log("warn", timedOut ? "media_node_timeout" : "media_node_unreachable", { nodeId: node.nodeId, legId, error: String(err) });
  return { ok: false, info: timedOut ? `${Info.FAILED_BY_ERROR}: media node did not answer in time` : Info.MEDIA_NODE_LOST, unreachable: !timedOut };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new MediaNodeTimeout(`timeout after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}
