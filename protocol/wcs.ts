/**
 * WCS (Flashphoner Web Call Server) WebSocket signaling protocol: the single home of every message shape, status and
 * `info` string that travels between a WCS client (Web SDK 2.0, iOS/Android SDKs, our SDK) and the signaling worker.
 *
 * Wire format (Web SDK 2.0 `src/flashphoner-core.js`, send()/onmessage): every text frame is
 * `{"message": "<name>", "data": [arg0, arg1, ...]}`. Clients always send exactly one argument; the server always
 * sends a `data` array (the SDK reads `data[0]` unconditionally).
 */
import { z } from "zod";

/** Largest text frame the signaling accepts, in bytes (UTF-16 code units as received). Larger frames get `fail`. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Largest SDP accepted in publishStream/playStream, in characters. */
export const MAX_SDP_BYTES = 64 * 1024;

/** Stream statuses (Web SDK `src/constants.js` STREAM_STATUS). Only the server-sent ones are used by the server. */
export const StreamStatus = {
  NEW: "NEW",
  PENDING: "PENDING",
  PUBLISHING: "PUBLISHING",
  PLAYING: "PLAYING",
  UNPUBLISHED: "UNPUBLISHED",
  STOPPED: "STOPPED",
  FAILED: "FAILED",
} as const;
export type StreamStatus = (typeof StreamStatus)[keyof typeof StreamStatus];

/** Statuses after which the client releases the stream (Web SDK core.js: handlers deleted, PeerConnection closed). */
export const TERMINAL_STATUSES: ReadonlySet<StreamStatus> = new Set([
  StreamStatus.UNPUBLISHED,
  StreamStatus.STOPPED,
  StreamStatus.FAILED,
]);

/**
 * `info` strings (Web SDK `src/constants.js` STREAM_STATUS_INFO; docs "WebSDK error handling"). Clients compare some
 * of them literally (stream-auto-restore demo), so the WCS ones are kept verbatim. The last group is ours: reasons
 * WCS has no string for, worded so that a person reading `stream.getInfo()` knows what to do.
 */
export const Info = {
  FAILED_BY_ICE_ERROR: "Failed by ICE error",
  FAILED_BY_ICE_TIMEOUT: "Failed by ICE timeout",
  FAILED_BY_KEEP_ALIVE: "Failed by ICE keep alive",
  FAILED_BY_DTLS_ERROR: "Failed by DTLS error",
  FAILED_BY_RTP_ACTIVITY: "Failed by RTP activity",
  STOPPED_BY_SESSION_DISCONNECT: "Stopped by session disconnect",
  STOPPED_BY_REST_TERMINATE: "Stopped by rest /terminate",
  STOPPED_BY_PUBLISHER_STOP: "Stopped by publisher stop",
  STOPPED_BY_USER: "Stopped by user",
  FAILED_BY_ERROR: "Failed by error",
  STREAM_NOT_FOUND: "Stream not found",
  STREAM_NAME_ALREADY_IN_USE: "Stream name is already in use",
  MEDIASESSION_ID_NULL: "MediaSessionId is null",
  MEDIASESSION_ID_ALREADY_IN_USE: "MediaSessionId is already in use",
  SESSION_NOT_READY: "Session not ready",
  SESSION_DOES_NOT_EXIST: "Session does not exist",
  NO_COMMON_CODECS: "No common codecs",
  TERMINATED_BY_KEEP_ALIVE: "Terminated by keep-alive",
  // ours
  MEDIA_NODE_LOST: "Failed by error: media node lost",
  NO_MEDIA_NODE: "Failed by error: no media node available",
  INVALID_SDP: "Invalid SDP",
  INVALID_REQUEST: "Invalid request",
  UNKNOWN_MESSAGE: "Unknown message",
  FRAME_TOO_LARGE: "Frame too large",
  MALFORMED_JSON: "Malformed JSON",
  BINARY_NOT_SUPPORTED: "Binary frames are not supported",
  TOO_MANY_STREAMS: "Too many streams in this session",
} as const;
export type Info = (typeof Info)[keyof typeof Info];

/** Frame envelope as received from a client. `data` is optional on input only to give a clear error when absent. */
export const ClientEnvelope = z.object({
  message: z.string().min(1).max(64),
  data: z.array(z.unknown()).optional(),
});
export type ClientEnvelope = z.infer<typeof ClientEnvelope>;

/** `connection` (Web SDK core.js createSession, cConfig). Unknown fields are kept and echoed in getUserData. */
export const ConnectionRequest = z
  .object({
    appKey: z.string().max(128).optional(),
    mediaProviders: z.array(z.string().max(32)).max(16).optional(),
    keepAlive: z.boolean().optional(),
    authToken: z.string().max(4096).optional(),
    clientVersion: z.string().max(64).optional(),
    clientOSVersion: z.string().max(1024).optional(),
    clientBrowserVersion: z.string().max(1024).optional(),
    msePacketizationVersion: z.number().optional(),
    custom: z.unknown().optional(),
  })
  .passthrough();
export type ConnectionRequest = z.infer<typeof ConnectionRequest>;

const mediaSessionId = z.string().min(1).max(128);
const streamName = z.string().min(1).max(256);

/**
 * `publishStream` / `playStream` (Web SDK core.js stream.publish()/play()): the stream object plus the client's SDP
 * offer (publish: sendonly m-lines; play: recvonly). The client never sends ICE candidates (no trickle).
 */
export const StreamRequest = z
  .object({
    mediaSessionId,
    name: streamName,
    sdp: z.string().min(1).max(MAX_SDP_BYTES),
    published: z.boolean().optional(),
    hasVideo: z.boolean().optional(),
    hasAudio: z.boolean().optional(),
    status: z.string().max(32).optional(),
    record: z.boolean().optional(),
    mediaProvider: z.string().max(32).optional(),
    custom: z.unknown().optional(),
    width: z.number().optional(),
    height: z.number().optional(),
    bitrate: z.number().optional(),
    minBitrate: z.number().optional(),
    maxBitrate: z.number().optional(),
    quality: z.number().optional(),
  })
  .passthrough();
export type StreamRequest = z.infer<typeof StreamRequest>;

/** `unPublishStream` / `stopStream`: the stream summary; only `mediaSessionId` is needed. */
export const StreamStopRequest = z.object({ mediaSessionId, name: streamName.optional() }).passthrough();
export type StreamStopRequest = z.infer<typeof StreamStopRequest>;

/** Client message names this server handles. Others get `fail` with {@link Info.UNKNOWN_MESSAGE}. */
export const ClientMessage = {
  connection: "connection",
  ping: "ping",
  pong: "pong",
  publishStream: "publishStream",
  playStream: "playStream",
  unPublishStream: "unPublishStream",
  stopStream: "stopStream",
  sendData: "sendData",
  sendStreamEvent: "sendStreamEvent",
  pushLogs: "pushLogs",
  sessionDebug: "sessionDebug",
  submitBugReport: "submitBugReport",
} as const;

/**
 * The stream object sent in `notifyStreamStatusEvent` (WCS "Stream" object of the StreamStatusEvent REST hook).
 * The Web SDK reads `mediaSessionId`, `status`, `info`, `audioState`, `videoState`; the rest is informational.
 */
export interface StreamStatusEvent {
  mediaSessionId: string;
  name: string;
  status: StreamStatus;
  info?: string;
  published: boolean;
  hasVideo: boolean;
  hasAudio: boolean;
  sessionId?: string;
  appKey?: string;
  nodeId?: string;
  mediaProvider: "WebRTC";
  mediaType: "publish" | "play";
  record: false;
  audioState: { muted: boolean };
  videoState: { muted: boolean };
  createDate?: number;
  custom?: unknown;
}

/** `fail` (server → client): a request that could not be served. Web SDK fires session WARN with it. */
export interface FailEvent {
  apiMethod: string;
  info: string;
  id?: string;
  status?: typeof StreamStatus.FAILED;
}

/** Server → client messages and their positional arguments (Web SDK core.js onmessage switch). */
export interface ServerMessages {
  ping: [];
  getVersion: [string];
  getUserData: [Record<string, unknown>];
  setRemoteSDP: [mediaSessionId: string, sdp: string, isInitiator: boolean];
  notifyStreamStatusEvent: [StreamStatusEvent];
  DataStatusEvent: [{ operationId: string; status: "ACCEPTED" | "FAILED"; info?: string }];
  OnDataEvent: [{ operationId?: string; payload: unknown }];
  fail: [FailEvent];
}
export type ServerMessageName = keyof ServerMessages;

/** Serializes one server → client frame: `{"message": name, "data": [...args]}`. */
export function encodeServerMessage<M extends ServerMessageName>(message: M, ...data: ServerMessages[M]): string {
  return JSON.stringify({ message, data });
}

/** A parsed server frame, as seen by clients and tests. */
export const ServerEnvelope = z.object({ message: z.string(), data: z.array(z.unknown()) });
export type ServerEnvelope = z.infer<typeof ServerEnvelope>;
