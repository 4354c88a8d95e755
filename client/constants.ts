/**
 * Status, event and `info` constants of the SDK. The names and values are those of the Flashphoner Web SDK 2.0
 * (`src/constants.js`: SESSION_STATUS, STREAM_STATUS, STREAM_STATUS_INFO, ERROR_INFO; `src/room-module.js`: events)
 * so that code written against the official SDK reads the same; the server-side values come from `protocol/`.
 */
import { RoomEvent } from "../protocol/room-types.js";
import { StreamEventType } from "../protocol/stream-events-types.js";
import { Info, StreamStatus } from "../protocol/wcs-types.js";

/**
 * Session statuses and session events (`session.on(SESSION_STATUS.X, cb)`).
 *
 * - `PENDING`: the session object exists, the WebSocket is opening.
 * - `CONNECTED`: the WebSocket is open and `connection` was sent.
 * - `ESTABLISHED`: the server answered with `getUserData`; streams may be created.
 * - `DISCONNECTED`: the WebSocket closed (by `disconnect()` or by the server).
 * - `FAILED`: the WebSocket failed (error, connect timeout, missed server pings) or auto-restore gave up.
 * - `WARN` (event only): the server sent `fail` (a request it could not serve).
 * - `APP_DATA` (event only): the server pushed `OnDataEvent` (room events ride on it).
 * - `RESTORING` (event only, ours): auto-restore is about to try to reconnect (see {@link AutoRestoreOptions}).
 */
export const SESSION_STATUS = {
  PENDING: "PENDING",
  CONNECTED: "CONNECTED",
  ESTABLISHED: "ESTABLISHED",
  DISCONNECTED: "DISCONNECTED",
  FAILED: "FAILED",
  WARN: "WARN",
  APP_DATA: "APP_DATA",
  RESTORING: "RESTORING",
} as const;

/** The state of a session, as returned by `session.status()`. */
export type SessionStatus = "PENDING" | "CONNECTED" | "ESTABLISHED" | "DISCONNECTED" | "FAILED";

/**
 * Stream statuses (`stream.on(STREAM_STATUS.X, cb)`), the WCS values of `protocol/wcs-types.ts`.
 *
 * - `NEW`: created, neither published nor played yet.
 * - `PENDING`: `publish()`/`play()` called; local media, offer and server answer in progress.
 * - `PUBLISHING` / `PLAYING`: the server reports the media flowing (ICE + DTLS connected).
 * - `UNPUBLISHED` / `STOPPED`: ended normally (publisher / player). Terminal.
 * - `FAILED`: ended with an error; `stream.getInfo()` says why. Terminal (unless auto-restore restarts the stream).
 */
export const STREAM_STATUS = StreamStatus;
export type { StreamStatus } from "../protocol/wcs-types.js";

/**
 * The stream event (`stream.on(STREAM_EVENT, (event, stream) => …)`): an event of a played stream, typed
 * {@link StreamEvent} (Web SDK `src/constants.js` STREAM_EVENT).
 */
export const STREAM_EVENT = "STREAM_EVENT" as const;

/**
 * Stream event types (`event.type` of a {@link STREAM_EVENT}; `src/constants.js` STREAM_EVENT_TYPE), the values of
 * `protocol/stream-events-types.ts`.
 *
 * - `AUDIO_MUTED` / `AUDIO_UNMUTED`, `VIDEO_MUTED` / `VIDEO_UNMUTED`: the publisher called muteAudio() … (payload
 *   `{streamName}`); the player's getAudioState() / getVideoState() follow them.
 * - `DATA`: the publisher called sendData(payload), or the REST API sent `/stream/event/send`.
 */
export const STREAM_EVENT_TYPE = StreamEventType;
export type { StreamEventType } from "../protocol/stream-events-types.js";

/** `info` strings the server puts on FAILED/STOPPED statuses (`stream.getInfo()`), verbatim WCS wording. */
export const STREAM_STATUS_INFO = Info;

/** `info` strings set by the SDK itself (never sent by a server). */
export const ERROR_INFO = {
  /** Local media or WebRTC failed (getUserMedia refused, offer or answer rejected): see `stream.getErrorInfo()`. */
  LOCAL_ERROR: "Local error",
  /** The session's WebSocket closed or failed while the stream was active (ours; the Web SDK leaves info unset). */
  SESSION_DISCONNECTED: "Session disconnected",
} as const;

/**
 * Room events (`room.on(ROOM_EVENT.X, cb)`), as the Web SDK's `RoomApi.events` plus `UNPUBLISHED`.
 *
 * - `STATE`: the join succeeded; `room.getParticipants()` lists the others.
 * - `JOINED` / `LEFT`: a participant came / went.
 * - `PUBLISHED`: a participant published a stream (`participant.getStreams()`).
 * - `UNPUBLISHED` (ours): a participant's stream ended (the wire's UNPUBLISHED or FAILED room events).
 * - `FAILED`: the join was refused (callback gets the room and the server's `info`).
 * - `MESSAGE`: a participant sent a message to us.
 */
export const ROOM_EVENT = RoomEvent;
