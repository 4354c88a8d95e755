/**
 * The worker ↔ media-node HTTP API. Every request in both directions is signed with the shared secret
 * (see `./signing.ts`) and its JSON body validated with these schemas on arrival.
 *
 * Worker → media node (base URL = the node's `controlUrl`):
 *   POST   /v1/legs           CreateLegRequest   → 200 CreateLegResponse | ApiError
 *   POST   /v1/legs/:legId/answer ApplyAnswerRequest → 200 ApplyAnswerResponse | ApiError
 *   DELETE /v1/legs/:legId                        → 200 {ok:true} (also when the leg is already gone)
 *   POST   /v1/legs/:legId/candidates AddCandidatesRequest → 200 AddCandidatesResponse | ApiError not_found (no such leg)
 *   GET    /v1/status                             → 200 NodeStatus
 *   POST   /v1/drain          DrainRequest       → 200 DrainResponse (operators: `wcs-edge drain`; see {@link DrainRequest})
 * Media node → worker (base URL = WORKER_URL):
 *   POST   /internal/nodes/heartbeat  NodeHeartbeat → 200 HeartbeatResponse   (registers on first call)
 *   POST   /internal/nodes/events     LegEvent      → 200 {ok:true}
 *   POST   /internal/nodes/deregister NodeDeregister → 200 DeregisterResponse (a draining node's goodbye)
 * A refused call answers an {@link ApiError} `{code, info}` with the HTTP status {@link API_HTTP_STATUS}[code].
 */
import { z } from "zod";
import { MAX_CANDIDATES } from "./ice.js";
import { RecordBaseName, RecordName } from "./recording.js";
import { REFUSAL_CODES, type RefusalCode } from "./refusal.js";
import { MAX_SDP_BYTES } from "./sdp.js";
import { Info } from "./wcs-types.js";

export const LegRole = z.enum(["publisher", "player"]);
export type LegRole = z.infer<typeof LegRole>;

/**
 * Create one WebRTC leg on a media node. A publisher leg answers the client's sendonly offer and receives RTP; a
 * player leg is fed the RTP of the publisher leg of the same `streamName` on that node, in one of two modes:
 * - answer mode (`offer` given): it answers the client's recvonly offer → `{answer}`;
 * - offer mode (no `offer`; players only): the node makes the offer → `{offer}`, with one sendonly m-line per kind
 *   the publisher sends (mids "0", "1", video first), carrying the publisher's codec, payload type, fmtp and SSRC;
 *   the remote answer comes later with `POST /v1/legs/:legId/answer`. A leg that feeds another server (a relay's
 *   publishStream offer) is the same kind of leg: the offer is what the remote side must accept unchanged.
 * The SDP returned carries every local candidate (`a=end-of-candidates`; the node never trickles).
 * A publisher leg without an offer is refused (invalid_request), except a cascade pull.
 *
 * Cascade between nodes (docs/architecture.md "Cascade"): `cascade: "pull"` (a publisher leg, no offer) makes this
 * node an edge of the stream: an offer-mode recvonly publisher leg whose RTP, once the answer is applied, feeds the
 * stream's router here like a publisher's; `cascade: "feed"` (a player leg with the pull's offer) is the origin's
 * leg that sends the stream to an edge. A feed is admitted even when the node is full (node_full is for players and
 * publishers; there is at most one feed per edge node and stream).
 */
export const CreateLegRequest = z
  .object({
    legId: z.string().min(1).max(128),
    streamName: z.string().min(1).max(256),
    role: LegRole,
    offer: z.string().min(1).max(MAX_SDP_BYTES).optional(),
    cascade: z.enum(["pull", "feed"]).optional(),
    /**
     * Record this publisher leg (WCS `record: true`; protocol/recording.ts): from its connect to its end the node
     * writes the stream to a file named `<name>.<webm|mp4>` and uploads it to the worker. The node may decline (too
     * many recordings, no disk space, codecs it cannot record): its answer then has no `record`.
     */
    record: z.object({ name: RecordBaseName }).optional(),
  })
  .refine((r) => r.cascade !== "pull" || (r.role === "publisher" && r.offer === undefined), "a cascade pull is a publisher leg without an offer")
  .refine((r) => r.cascade !== "feed" || (r.role === "player" && r.offer !== undefined), "a cascade feed is a player leg with the pull's offer")
  .refine((r) => r.record === undefined || (r.role === "publisher" && r.offer !== undefined && r.cascade === undefined), "only a publisher leg answering an offer is recorded");
export type CreateLegRequest = z.infer<typeof CreateLegRequest>;

/**
 * The remote answer to an offer-mode leg's offer. Refused with not_found (no such leg), conflict (the leg is not an
 * offer-mode leg waiting for its answer), invalid_sdp (unparseable, or accepts none of the offered m-lines),
 * no_common_codecs (an accepted m-line without the offered payload type).
 */
export const ApplyAnswerRequest = z.object({ answer: z.string().min(1).max(MAX_SDP_BYTES) });
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
    .max(MAX_CANDIDATES),
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

/**
 * A leg created from the client's offer: the node's answer (every local candidate) and the negotiated codecs; `record`
 * the file the node records the leg to, when it was asked to ({@link CreateLegRequest} `record`) and took it.
 */
export const LegAnswerResponse = z.object({ answer: z.string(), media: LegMedia, record: z.object({ recordName: RecordName }).optional() });
/** An offer-mode leg: the node's offer (every local candidate) and the offered codecs. */
export const LegOfferResponse = z.object({ offer: z.string(), media: LegMedia });
/** `{answer}` for a leg created from an offer, `{offer}` for an offer-mode leg (see {@link CreateLegRequest}). */
export const CreateLegResponse = z.union([LegAnswerResponse, LegOfferResponse]);
export type CreateLegResponse = z.infer<typeof CreateLegResponse>;

/** The media the remote answer accepted (kinds it rejected are absent). */
export const ApplyAnswerResponse = z.object({ ok: z.literal(true), media: LegMedia });
export type ApplyAnswerResponse = z.infer<typeof ApplyAnswerResponse>;

/**
 * Error body of a refused call: `code` decides what the worker does and which status its client gets
 * (protocol/refusal.ts); `info` is the WCS-style text passed on to the client (e.g. "Stream not found", "No common
 * codecs", "Invalid SDP: …"). The HTTP status of the answer is {@link API_HTTP_STATUS}[code].
 */
export const ApiError = z.object({ code: z.enum(REFUSAL_CODES), info: z.string() });
export type ApiError = z.infer<typeof ApiError>;

/** HTTP status of a refused media-node API call (and of a refused node → worker call), per code. */
export const API_HTTP_STATUS: Record<RefusalCode, 400 | 401 | 403 | 404 | 409 | 429 | 500 | 502 | 503 | 504> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  name_in_use: 409,
  conflict: 409,
  invalid_sdp: 400,
  no_common_codecs: 400,
  no_media_node: 503,
  node_full: 503,
  node_lost: 503,
  timeout: 504,
  remote_error: 502,
  stopped: 409,
  rate_limited: 429,
  not_configured: 503,
  error: 500,
};

/** Leg transport state reported by the node: connected = ICE + DTLS up; failed = ICE or DTLS failed; closed = gone. */
export const LegState = z.enum(["connected", "failed", "closed"]);
export type LegState = z.infer<typeof LegState>;

/** Why a leg failed, when it did. */
export const LegFailure = z.enum(["ice", "dtls", "error"]);
export type LegFailure = z.infer<typeof LegFailure>;

/** The WCS `info` of a leg failure (Web SDK constants.js STREAM_STATUS_INFO), for its stream status or relay. */
export const LEG_FAILURE_INFO: Record<LegFailure, string> = {
  ice: Info.FAILED_BY_ICE_ERROR,
  dtls: Info.FAILED_BY_DTLS_ERROR,
  error: Info.FAILED_BY_ERROR,
};

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

/** Most legs a heartbeat lists ({@link NodeHeartbeat} `legs`); a node holding more lists the oldest this many. */
export const MAX_HEARTBEAT_LEGS = 2000;

/**
 * One leg a node holds, as listed in its heartbeat for reconciliation with the StreamDOs (worker/leg-reconcile.ts):
 * `ageMs` since the node created it (at the snapshot); `relay` when a relay of the node holds it (a push relay's
 * player leg is known to the RelayDO, not to the StreamDO).
 */
export const HeldLeg = z.object({
  legId: z.string().min(1).max(128),
  streamName: z.string().min(1).max(256),
  ageMs: z.number().int().nonnegative(),
  relay: z.literal(true).optional(),
});
export type HeldLeg = z.infer<typeof HeldLeg>;

/**
 * How busy the node's main (media) event loop is, measured on that loop and sent by the heartbeat thread
 * (media-node/heartbeat-thread.ts): `lagP99Ms` / `lagMaxMs` the event-loop delay (perf_hooks
 * monitorEventLoopDelay) over the last snapshot period, ms; `utilization` the share of that period the loop was busy
 * (performance.eventLoopUtilization, 0..1); `snapshotAgeMs` how old the main loop's last snapshot (load, legs) was
 * when the heartbeat left: a starved loop shows here first, since it cannot measure itself while blocked.
 */
export const EventLoopStats = z.object({
  lagP99Ms: z.number().nonnegative(),
  lagMaxMs: z.number().nonnegative(),
  utilization: z.number().min(0).max(1),
  snapshotAgeMs: z.number().int().nonnegative(),
});
export type EventLoopStats = z.infer<typeof EventLoopStats>;

/**
 * Periodic announcement of a media node. The first one registers the node; `bootId` changes when the process
 * restarts, which tells the registry that every leg of the previous incarnation is gone. Heartbeats come from a
 * thread of their own (media-node/heartbeat-thread.ts), so a node whose media loop is starved still heartbeats.
 * `legs`, `legCount` and `eventLoop` are optional: a node that does not send them is simply not reconciled.
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
  /**
   * 1 for the first heartbeat of an incarnation (`bootId`), then +1 each: the registry ignores (409) a heartbeat whose
   * `seq` is not above the last one it took, so a delayed or repeated heartbeat cannot keep a dead node "live".
   */
  seq: z.number().int().positive(),
  /**
   * The legs the node holds at its last snapshot (at most {@link MAX_HEARTBEAT_LEGS}, oldest first): the registry
   * deletes those no StreamDO knows and ends StreamDO legs the node no longer holds (worker/leg-reconcile.ts).
   */
  legs: z.array(HeldLeg).max(MAX_HEARTBEAT_LEGS).optional(),
  /** How many legs the node holds; above `legs.length` when the list was cut (then nothing is ended for missing). */
  legCount: z.number().int().nonnegative().optional(),
  eventLoop: EventLoopStats.optional(),
  /**
   * The node is draining (SIGTERM, `POST /v1/drain`): the registry places no new stream on it; its streams keep
   * flowing (and taking players) until it deregisters ({@link NodeDeregister}). Absent = false.
   */
  draining: z.boolean().optional(),
  /** The node's software version (its package.json `version`), shown to operators (`wcs-edge nodes`). */
  version: z.string().max(64).optional(),
});
export type NodeHeartbeat = z.infer<typeof NodeHeartbeat>;

export const HeartbeatResponse = z.object({ ok: z.literal(true) });
export type HeartbeatResponse = z.infer<typeof HeartbeatResponse>;

/** Longest drain a `POST /v1/drain` may ask for, ms (1 hour). */
export const MAX_DRAIN_TIMEOUT_MS = 3_600_000;

/**
 * Puts the node in draining (`POST /v1/drain`, signed like every control call): no new publisher legs (node_full
 * "Media node is draining"; its heartbeats say `draining`, so the registry places new streams elsewhere), the legs it
 * holds keep flowing for up to `timeoutMs` (default MEDIA_NODE_DRAIN_TIMEOUT_MS) or until it holds none; then the
 * node deregisters ({@link NodeDeregister}: the worker ends what is left FAILED "Failed by error: media node shutting
 * down"), closes its legs and the process exits 0. A second call while draining changes nothing (it answers the
 * running drain). `timeoutMs` 0 ends at once.
 */
export const DrainRequest = z.object({ timeoutMs: z.number().int().min(0).max(MAX_DRAIN_TIMEOUT_MS).optional() });
export type DrainRequest = z.infer<typeof DrainRequest>;

/** The running drain: when it ends at the latest (`deadline`, epoch ms) and how many legs the node holds now. */
export const DrainResponse = z.object({
  ok: z.literal(true),
  draining: z.literal(true),
  timeoutMs: z.number().int().nonnegative(),
  deadline: z.number().int().nonnegative(),
  legs: z.number().int().nonnegative(),
});
export type DrainResponse = z.infer<typeof DrainResponse>;

/**
 * A node's goodbye at the end of its drain: the registry forgets the incarnation at once (no waiting for missed
 * heartbeats), ends every stream still placed on it FAILED "Failed by error: media node shutting down" (players
 * too) before answering, fails its relays, and refuses any later heartbeat of that `bootId` (409).
 */
export const NodeDeregister = z.object({ nodeId: z.string().min(1).max(128), bootId: z.string().min(1).max(128) });
export type NodeDeregister = z.infer<typeof NodeDeregister>;

/** `known`: false when the registry did not list that incarnation (already lost, or never registered). */
export const DeregisterResponse = z.object({ ok: z.literal(true), known: z.boolean(), streams: z.number().int().nonnegative() });
export type DeregisterResponse = z.infer<typeof DeregisterResponse>;

export const LegStatus = z.object({
  legId: z.string(),
  streamName: z.string(),
  role: LegRole,
  state: z.enum(["new", "connected", "failed", "closed"]),
  packetsIn: z.number(),
  packetsOut: z.number(),
  /**
   * Upstream repair of a publisher leg's video (generic NACKs, RFC 4585 §6.2.1; media-node/engine/nack-requester.ts),
   * present once it asked for a packet: packets asked for again (each once), those that then arrived, those given
   * up; `lost` = RTP lost from the publisher on all its tracks after repair (RFC 3550 cumulative lost); `rttMs` =
   * the smoothed time from a NACK to the packet it asked for.
   */
  nack: z.object({ requested: z.number(), repaired: z.number(), unrepaired: z.number(), lost: z.number(), rttMs: z.number() }).optional(),
});
export type LegStatus = z.infer<typeof LegStatus>;
export const NodeStatus = z.object({ nodeId: z.string(), bootId: z.string(), legs: z.array(LegStatus), load: NodeLoad });
export type NodeStatus = z.infer<typeof NodeStatus>;

/** Paths, in one place for both sides. */
export const MediaNodePaths = {
  legs: "/v1/legs",
  leg: (legId: string) => `/v1/legs/${encodeURIComponent(legId)}`,
  candidates: (legId: string) => `/v1/legs/${encodeURIComponent(legId)}/candidates`,
  answer: (legId: string) => `/v1/legs/${encodeURIComponent(legId)}/answer`,
  status: "/v1/status",
  drain: "/v1/drain",
  heartbeat: "/internal/nodes/heartbeat",
  events: "/internal/nodes/events",
  deregister: "/internal/nodes/deregister",
} as const;
