/**
 * WCS (Flashphoner Web Call Server) WebSocket signaling protocol, the part without runtime validation: statuses,
 * `info` strings, message names and the server → client message shapes. Clients (our SDK in `client/`, bundled for
 * browsers) import from here so that they do not carry zod; `wcs.ts` re-exports all of it next to the zod schemas of
 * the client → server messages.
 *
 * Wire format (Web SDK 2.0 `src/flashphoner-core.js`, send()/onmessage): every text frame is
 * `{"message": "<name>", "data": [arg0, arg1, ...]}`. Clients always send exactly one argument; the server always
 * sends a `data` array (the SDK reads `data[0]` unconditionally).
 */

import type { StreamEvent } from "./stream-events-types.js";

/** Largest text frame the signaling accepts, in bytes (UTF-16 code units as received). Larger frames get `fail`. */
export const MAX_FRAME_BYTES = 1024 * 1024;

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
  /** The media node drained and stopped (SIGTERM, `POST /v1/drain`) with the stream still on it: publish again. */
  MEDIA_NODE_SHUTDOWN: "Failed by error: media node shutting down",
  NO_MEDIA_NODE: "Failed by error: no media node available",
  /** More players of one stream were waiting for their media node than MAX_JOINS_IN_FLIGHT (code node_full). */
  TOO_MANY_JOINS: "Media node is full (too many players joining at once), try again",
  INVALID_SDP: "Invalid SDP",
  INVALID_REQUEST: "Invalid request",
  UNKNOWN_MESSAGE: "Unknown message",
  FRAME_TOO_LARGE: "Frame too large",
  MALFORMED_JSON: "Malformed JSON",
  BINARY_NOT_SUPPORTED: "Binary frames are not supported",
  TOO_MANY_STREAMS: "Too many streams in this session",
} as const;
export type Info = (typeof Info)[keyof typeof Info];

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
  snapshot: "snapshot",
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
  /**
   * The stream is being recorded (a publisher that asked `record: true` and whose media node took the recording);
   * `recordName` is then its file name (WCS "Stream recording"; the Web SDK's `stream.getRecordInfo()` returns it, and
   * `/client/records/<recordName>` serves the file once it is finished). Players show false.
   */
  record: boolean;
  recordName?: string;
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
  /** A stream event of the stream a player plays (protocol/stream-events-types.ts). */
  notifyStreamEvent: [StreamEvent];
  DataStatusEvent: [{ operationId: string; status: "ACCEPTED" | "FAILED"; info?: string }];
  OnDataEvent: [{ operationId?: string; payload: unknown }];
  fail: [FailEvent];
}
export type ServerMessageName = keyof ServerMessages;

/** Serializes one server → client frame: `{"message": name, "data": [...args]}`. */
export function encodeServerMessage<M extends ServerMessageName>(message: M, ...data: ServerMessages[M]): string {
  return JSON.stringify({ message, data });
}
