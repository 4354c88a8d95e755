/**
 * The worker ↔ media-node HTTP API. Every request in both directions is signed with the shared secret
 * (see `./signing.ts`) and its JSON body validated with these schemas on arrival.
 *
 * Worker → media node (base URL = the node's `controlUrl`):
 *   POST   /v1/legs           CreateLegRequest   → 200 CreateLegResponse | 4xx/5xx ApiError
 *   POST   /v1/legs/:legId/answer ApplyAnswerRequest → 200 ApplyAnswerResponse | 404 / 409 / 400 ApiError
 *   DELETE /v1/legs/:legId                        → 200 {ok:true} (also when the leg is already gone)
 *   POST   /v1/legs/:legId/candidates AddCandidatesRequest → 200 AddCandidatesResponse | 404 ApiError (no such leg)
 *   GET    /v1/status                             → 200 NodeStatus
 * Media node → worker (base URL = WORKER_URL):
 *   POST   /internal/nodes/heartbeat  NodeHeartbeat → 200 HeartbeatResponse   (registers on first call)
 *   POST   /internal/nodes/events     LegEvent      → 200 {ok:true}
 */
import { z } from "zod";

export const LegRole = z.enum(["publisher", "player"]);
export type LegRole = z.infer<typeof LegRole>;

/** Largest SDP (offer or answer) on the control API. */
export const MAX_LEG_SDP_BYTES = 64 * 1024;

/**
 * Create one WebRTC leg on a media node. A publisher leg answers the client's sendonly offer and receives RTP; a
 * player leg is fed the RTP of the publisher leg of the same `streamName` on that node, in one of two modes:
 * - answer mode (`offer` given): it answers the client's recvonly offer → `{answer}`;
 * - offer mode (no `offer`; players only): the node makes the offer → `{offer}`, with one sendonly m-line per kind
 *   the publisher sends (mids "0", "1", video first), carrying the publisher's codec, payload type, fmtp and SSRC;
 *   the remote answer comes later with `POST /v1/legs/:legId/answer`. A leg that feeds another server (a relay's
 *   publishStream offer) is the same kind of leg: the offer is what the remote side must accept unchanged.
 * The SDP returned carries every local candidate (`a=end-of-candidates`; the node never trickles).
 * A publisher leg without an offer is refused (400 bad_request).
 */
export const CreateLegRequest = z.object({
  legId: z.string().min(1).max(128),
  streamName: z.string().min(1).max(256),
  role: LegRole,
  offer: z.string().min(1).max(MAX_LEG_SDP_BYTES).optional(),
});
export type CreateLegRequest = z.infer<typeof CreateLegRequest>;

/**
 * The remote answer to an offer-mode leg's offer. Refused with 404 not_found (no such leg), 409 conflict (the leg
 * is not an offer-mode leg waiting for its answer), 400 invalid_sdp (unparseable, or accepts none of the offered
 * m-lines), 400 no_common_codecs (an accepted m-line without the offered payload type).
 */
export const ApplyAnswerRequest = z.object({ answer: z.string().min(1).max(MAX_LEG_SDP_BYTES) });
export type ApplyAnswerRequest = z.infer<typeof ApplyAnswerRequest>;

/**
 * Remote ICE candidates trickled by a client (WHIP/WHEP `PATCH`, RFC 8840 fragment; `candidate` messages of the
 * WebSocket endpoint): each is the attribute value `candidate:…` and the mid of the media section it came in (the
 * leg's first m-line when absent or unknown; with BUNDLE every m-line shares one transport). An offer-mode leg keeps
 * the candidates that arrive before its answer and uses them once the answer is applied (counted as added). Only IP-literal candidates are used: host names (the mDNS
 * `*.local` names of browsers) are returned as rejected, never resolved.
 */
export const AddCandidatesRequest = z.object({
  candidates: z
    .array(z.object({ candidate: z.string().min(1).max(1024), mid: z.string().max(64).optional() }))
    .max(64),
});
export type AddCandidatesRequest = z.infer<typeof AddCandidatesRequest>;

/** How many candidates the leg's ICE agent took; the others with the engine's reason. */
export const AddCandidatesResponse = z.object({
  added: z.number().int().nonnegative(),
  rejected: z.array(z.object({ candidate: z.string(), reason: z.string() })),
});
export type AddCandidatesResponse = z.infer<typeof AddCandidatesResponse>;

/** Negotiated media of a leg, reported for logs, stats and the stream REST API. */
export const LegMedia = z.object({
  videoCodec: z.string().optional(),
  audioCodec: z.string().optional(),
});
export type LegMedia = z.infer<typeof LegMedia>;

/** `{answer}` for a leg created from an offer, `{offer}` for an offer-mode leg (see {@link CreateLegRequest}). */
export const CreateLegResponse = z.union([
  z.object({ answer: z.string(), media: LegMedia }),
  z.object({ offer: z.string(), media: LegMedia }),
]);
export type CreateLegResponse = z.infer<typeof CreateLegResponse>;

/** The media the remote answer accepted (kinds it rejected are absent). */
export const ApplyAnswerResponse = z.object({ ok: z.literal(true), media: LegMedia });
export type ApplyAnswerResponse = z.infer<typeof ApplyAnswerResponse>;

/**
 * Error body of a refused call. `code` is machine-readable; `info` is the WCS-style text the worker passes to the
 * client (e.g. "Stream not found", "No common codecs", "Invalid SDP: …").
 */
export const ApiError = z.object({
  code: z.enum(["bad_request", "unauthorized", "not_found", "conflict", "no_common_codecs", "invalid_sdp", "internal"]),
  info: z.string(),
});
export type ApiError = z.infer<typeof ApiError>;

/** Leg transport state reported by the node: connected = ICE + DTLS up; failed = ICE or DTLS failed; closed = gone. */
export const LegState = z.enum(["connected", "failed", "closed"]);
export type LegState = z.infer<typeof LegState>;

/** Why a leg failed, when it did. */
export const LegFailure = z.enum(["ice", "dtls", "error"]);
export type LegFailure = z.infer<typeof LegFailure>;

export const LegEvent = z.object({
  nodeId: z.string(),
  bootId: z.string(),
  legId: z.string(),
  streamName: z.string(),
  role: LegRole,
  state: LegState,
  failure: LegFailure.optional(),
  detail: z.string().max(1024).optional(),
});
export type LegEvent = z.infer<typeof LegEvent>;

export const NodeLoad = z.object({
  publishers: z.number().int().nonnegative(),
  players: z.number().int().nonnegative(),
  /** Process CPU over the last interval, % of one core. */
  cpuPercent: z.number().nonnegative(),
});
export type NodeLoad = z.infer<typeof NodeLoad>;

/**
 * Periodic announcement of a media node. The first one registers the node; `bootId` changes when the process
 * restarts, which tells the registry that every leg of the previous incarnation is gone.
 */
export const NodeHeartbeat = z.object({
  nodeId: z.string().min(1).max(128),
  bootId: z.string().min(1).max(128),
  controlUrl: z.string().url(),
  load: NodeLoad,
  /** Ask for at most this many legs; 0 = no limit. */
  maxLegs: z.number().int().nonnegative().default(0),
  /** Heartbeat period the node uses, ms; the registry declares it dead after 3 missed periods. */
  intervalMs: z.number().int().positive(),
});
export type NodeHeartbeat = z.infer<typeof NodeHeartbeat>;

export const HeartbeatResponse = z.object({ ok: z.literal(true) });
export type HeartbeatResponse = z.infer<typeof HeartbeatResponse>;

export const LegStatus = z.object({
  legId: z.string(),
  streamName: z.string(),
  role: LegRole,
  state: z.enum(["new", "connected", "failed", "closed"]),
  packetsIn: z.number(),
  packetsOut: z.number(),
});
export const NodeStatus = z.object({ nodeId: z.string(), bootId: z.string(), legs: z.array(LegStatus), load: NodeLoad });
export type NodeStatus = z.infer<typeof NodeStatus>;

/** Paths, in one place for both sides. */
export const MediaNodePaths = {
  legs: "/v1/legs",
  leg: (legId: string) => `/v1/legs/${encodeURIComponent(legId)}`,
  candidates: (legId: string) => `/v1/legs/${encodeURIComponent(legId)}/candidates`,
  answer: (legId: string) => `/v1/legs/${encodeURIComponent(legId)}/answer`,
  status: "/v1/status",
  heartbeat: "/internal/nodes/heartbeat",
  events: "/internal/nodes/events",
} as const;
