/**
 * Shapes passed between the Durable Objects over RPC (inside the worker only; wire shapes live in protocol/): who
 * owns a leg, what an entry point asks the StreamDO for, what the StreamDO keeps per leg, and the WCS stream object
 * built from it.
 */
import {
  StreamStatus,
  type LegRole,
  type MuteState,
  type Result,
  type StreamStatusEvent,
} from "../protocol/index.js";

/**
 * Who owns a leg: the entry point it came through, which hears its asynchronous statuses and ends it. What each kind
 * does (notification, trickle, server offers, how it ends) is one row of `OWNER_RULES` (worker/leg-owners.ts).
 * - session: a WCS WebSocket session (SessionDO `sessionId`);
 * - http: a WHIP/WHEP resource (worker/whip.ts): its entity tag and its offer's ICE credentials, for PATCH checks;
 * - ws: a socket of the Flussonic-style WebSocket endpoint (WsEndpointDO `endpointId`);
 * - relay: a relay pull's local publisher (RelayDO relay `relayId`).
 */
export type LegOwner =
  | { kind: "session"; sessionId: string }
  | { kind: "http"; etag: string; iceUfrag?: string; icePwd?: string }
  | { kind: "ws"; endpointId: string }
  | { kind: "relay"; relayId: string };
export type LegOwnerKind = LegOwner["kind"];

/** A room stream's room and its publisher's participant login (roomApp sessions, `custom.name`). */
export interface RoomStreamRef {
  name: string;
  login: string;
}

/**
 * What every entry point tells the StreamDO about a new leg. The entry point chooses `legId` (a crypto-random UUID)
 * before it calls, so that it can end the leg by id even while the call is in flight.
 */
export interface LegRequest {
  legId: string;
  owner: LegOwner;
  mediaSessionId: string;
  appKey?: string;
  /** Room stream: its RoomDO hears PUBLISHED / UNPUBLISHED / FAILED (session owners only). */
  room?: RoomStreamRef;
  custom?: unknown;
  /**
   * A play allowed only as a member of this room (its token has the room, not the stream; protocol/access.ts
   * `streamAllowed`): refused as `forbidden` unless the stream is published in that room.
   */
  requireRoom?: string;
  /** A publisher that asked to be recorded (WCS `record: true`; session owners only): the StreamDO asks its node to. */
  record?: boolean;
}

/** A leg request with the client's checked SDP offer (publish, or play in answer mode). */
export interface OfferLegRequest extends LegRequest {
  /** The offer as checked by `checkOffer` (protocol/sdp.ts). */
  sdp: string;
  hasAudio: boolean;
  hasVideo: boolean;
}

/** Result of publish / play from an offer: the SDP answer (`setRemoteSDP`, the WHIP/WHEP 201 body). */
export type AnswerResult = Result<{ answer: string }>;

/** Result of a server-offer play (`StreamDO.playWithServerOffer`): the node's offer for the client. */
export type ServerOfferResult = Result<{ offer: string }>;

/** Result of `StreamDO.publishRelay`: the node the relay must run on. */
export type RelayPlacement = Result<{ node: NodeRef }>;

/**
 * How an owner ends its own leg (`StreamDO.end`); which kinds an owner may use is in `OWNER_RULES`.
 * - stop: its client asked (unPublishStream / stopStream, WHIP/WHEP DELETE, relay terminate): UNPUBLISHED / STOPPED
 *   "Stopped by user", returned to the caller;
 * - gone: the owner vanished (its socket closed): the same statuses with "Stopped by session disconnect", told to
 *   nobody;
 * - failed: the owner failed (a relay's remote side): FAILED with `info`, told to nobody.
 * A publisher's end ends the stream: its players get FAILED "Stopped by publisher stop".
 */
export type OwnerEnd = { kind: "stop" } | { kind: "gone" } | { kind: "failed"; info: string };

/** A media node as the StreamDO knows it: enough to call it and to recognise its incarnation. */
export interface NodeRef {
  nodeId: string;
  bootId: string;
  controlUrl: string;
}

/** Per-leg facts kept by the StreamDO, enough to build a WCS stream object for every status event. */
export interface LegRecord {
  legId: string;
  role: LegRole;
  owner: LegOwner;
  mediaSessionId: string;
  appKey?: string;
  room?: RoomStreamRef;
  custom?: unknown;
  hasAudio: boolean;
  hasVideo: boolean;
  status: typeof StreamStatus.PENDING | typeof StreamStatus.PUBLISHING | typeof StreamStatus.PLAYING;
  createdAt: number;
  /** ms epoch after which a PENDING leg fails with "Failed by ICE timeout". */
  deadline: number;
  /** A player placed on an edge node of the cascade (its `nodeId`); absent = on the stream's own (origin) node. */
  edge?: string;
  /**
   * Publishers: the mute states the publisher announced (`sendStreamEvent` audioMuted / audioUnmuted, videoMuted /
   * videoUnmuted; worker/stream-events.ts); absent = never announced, not muted. Players show their publisher's.
   */
  audioState?: MuteState;
  videoState?: MuteState;
  /** A publisher being recorded: its file's name (protocol/recording.ts; the RecordingDO of that name holds the upload). */
  recordName?: string;
}

/**
 * One edge of a stream's cascade (docs/architecture.md "Cascade"): a node other than the stream's (origin) node that
 * pulls the stream once over a node-to-node WebRTC leg and fans it out to its own players.
 */
export interface EdgeRecord {
  node: NodeRef;
  /** The edge's pull leg: the stream's publisher leg on the edge node (offer mode, recvonly). */
  pullLegId: string;
  /** The origin's feed leg: a player leg on the origin node that sends the stream to the pull leg. */
  feedLegId: string;
  createdAt: number;
  /** When its last player left, ms epoch: the edge is torn down CASCADE_LINGER_MS later unless a player comes. */
  idleSince?: number;
  /** The pull leg has the origin's answer: players can be placed on the edge. */
  ready?: boolean;
}

/**
 * The `sessionId` shown in a leg's WCS stream object: the id of its owner (the session, endpoint socket, relay); a
 * WHIP/WHEP resource has none, so it shows `whip-` / `whep-` and the leg's mediaSessionId.
 */
function ownerSessionId(leg: Pick<LegRecord, "owner" | "mediaSessionId" | "role">): string {
  const o = leg.owner;
  switch (o.kind) {
    case "session":
      return o.sessionId;
    case "ws":
      return o.endpointId;
    case "relay":
      return o.relayId;
    case "http":
      return `${leg.role === "publisher" ? "whip" : "whep"}-${leg.mediaSessionId}`;
  }
}

/** Builds the WCS stream object of a `notifyStreamStatusEvent` (see protocol/wcs-types.ts StreamStatusEvent). */
export function statusEvent(
  name: string,
  leg: Pick<LegRecord, "role" | "owner" | "mediaSessionId" | "appKey" | "hasAudio" | "hasVideo" | "custom" | "createdAt"> &
    Partial<Pick<LegRecord, "audioState" | "videoState" | "recordName">>,
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
    sessionId: ownerSessionId(leg),
    ...(leg.appKey === undefined ? {} : { appKey: leg.appKey }),
    ...(nodeId === undefined ? {} : { nodeId }),
    mediaProvider: "WebRTC",
    mediaType: published ? "publish" : "play",
    record: leg.recordName !== undefined,
    ...(leg.recordName === undefined ? {} : { recordName: leg.recordName }),
    audioState: { muted: leg.audioState?.muted ?? false },
    videoState: { muted: leg.videoState?.muted ?? false },
    createDate: leg.createdAt,
    ...(leg.custom === undefined ? {} : { custom: leg.custom }),
  };
}
