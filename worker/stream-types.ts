/**
 * Shapes passed between the Durable Objects over RPC (inside the worker only; wire shapes live in protocol/).
 */
import { StreamStatus, type StreamStatusEvent } from "../protocol/index.js";

/** What a session tells its StreamDO about a publish or play request. */
export interface StreamRequestArgs {
  sessionId: string;
  /** Room API participant login of the session, when it has one. */
  login?: string;
  /** Room of a room stream (roomApp session, `custom.name`); its RoomDO hears PUBLISHED / UNPUBLISHED / FAILED. */
  room?: string;
  mediaSessionId: string;
  appKey?: string;
  sdp: string;
  hasAudio: boolean;
  hasVideo: boolean;
  custom?: unknown;
  /** Who owns the leg; absent = "session". See {@link LegOwner}. */
  owner?: LegOwner;
  /** WHIP/WHEP resource facts (owner "http"). */
  http?: HttpLegInfo;
}

/**
 * Who gets a leg's asynchronous statuses: "session" = the SessionDO `sessionId` (WCS WebSocket); "http" = nobody
 * (a WHIP/WHEP resource: its client learns the end from the transport, its statuses are only logged); "ws" = the
 * WsEndpointDO `sessionId` (Flussonic-style WebSocket endpoint, worker/ws-endpoint-do.ts). "http" and "ws" legs
 * trickle their client's candidates to the node (`StreamDO.addRemoteCandidates`). "relay" = a relay pull's local
 * publisher leg (worker/relay-do.ts; `sessionId` is the relay id): its node creates the leg itself, and its terminal
 * statuses go to `RelayDO.onLocalEnd`.
 */
export type LegOwner = "session" | "http" | "ws" | "relay";

/** A relay pull's local publisher leg, reserved with `StreamDO.publishRelay`. */
export interface RelayPublishArgs {
  relayId: string;
  legId: string;
  mediaSessionId: string;
}

/** Result of `publishRelay`: the node the relay must run on, or the refusal `info`. */
export type RelayPublishResult = { ok: true; node: NodeRef } | { ok: false; info: string };

/** A play request whose offer the media node makes (`StreamDO.playWithServerOffer`): no client SDP. */
export type ServerOfferPlayArgs = Omit<StreamRequestArgs, "sdp" | "hasAudio" | "hasVideo" | "http">;

/** Result of `playWithServerOffer`: the node's offer for the client and the new leg's id, or the refusal `info`. */
export type ServerOfferResult = { ok: true; offer: string; legId: string } | { ok: false; info: string };

/** What a WHIP/WHEP resource's PATCH checks need: its entity tag and the offer's ICE credentials. */
export interface HttpLegInfo {
  etag: string;
  iceUfrag?: string;
  icePwd?: string;
}

/**
 * Result of publish/play: the SDP answer for `setRemoteSDP` and the new leg's id (the WHIP/WHEP resource id), or the
 * `info` of an immediate FAILED.
 */
export type StreamRequestResult = { ok: true; answer: string; legId: string } | { ok: false; info: string };

/** A media node as the StreamDO knows it: enough to call it and to recognise its incarnation. */
export interface NodeRef {
  nodeId: string;
  bootId: string;
  controlUrl: string;
}

/** Per-leg facts kept by the StreamDO, enough to build a WCS stream object for every status event. */
export interface LegRecord {
  legId: string;
  role: "publisher" | "player";
  sessionId: string;
  mediaSessionId: string;
  appKey?: string;
  login?: string;
  room?: string;
  hasAudio: boolean;
  hasVideo: boolean;
  custom?: unknown;
  /** Absent = "session" (legs stored before owners existed are WebSocket legs). */
  owner?: LegOwner;
  http?: HttpLegInfo;
  status: typeof StreamStatus.PENDING | typeof StreamStatus.PUBLISHING | typeof StreamStatus.PLAYING;
  createdAt: number;
  /** ms epoch after which a PENDING leg fails with "Failed by ICE timeout". */
  deadline: number;
}

/** Builds the WCS stream object of a `notifyStreamStatusEvent` (see protocol/wcs.ts StreamStatusEvent). */
export function statusEvent(
  name: string,
  leg: Pick<LegRecord, "role" | "sessionId" | "mediaSessionId" | "appKey" | "hasAudio" | "hasVideo" | "custom" | "createdAt">,
  status: StreamStatus,
  info?: string,
  nodeId?: string,
): StreamStatusEvent {
  const published = leg.role === "publisher";
  return {
    mediaSessionId: leg.mediaSessionId,
    name,
    status,
    ...(info === undefined ? {} : { info }),
    published,
    hasVideo: leg.hasVideo,
    hasAudio: leg.hasAudio,
    sessionId: leg.sessionId,
    ...(leg.appKey === undefined ? {} : { appKey: leg.appKey }),
    ...(nodeId === undefined ? {} : { nodeId }),
    mediaProvider: "WebRTC",
    mediaType: published ? "publish" : "play",
    record: false,
    audioState: { muted: false },
    videoState: { muted: false },
    createDate: leg.createdAt,
    ...(leg.custom === undefined ? {} : { custom: leg.custom }),
  };
}
