/**
 * wcs-edge client SDK: a typed, promise-friendly client of the WCS (Flashphoner Web Call Server) WebSocket protocol
 * with the Web SDK 2.0's API shape (`createSession`, `session.createStream`, `stream.publish/play/stop`,
 * `SESSION_STATUS`/`STREAM_STATUS` events, `roomApi`).
 *
 * This is the browser entry (bundled by `npm run build:client` to public/sdk/wcs-sdk.mjs and, as the global
 * `WcsSdk`, public/sdk/wcs-sdk.js). It uses the browser's WebSocket/RTCPeerConnection/getUserMedia unless a
 * `platform` is given. Node programs import `client/node.ts` instead, which adds a ws + @roamhq/wrtc platform and
 * synthetic media helpers.
 *
 *   import { createSession, SESSION_STATUS, STREAM_STATUS } from "/sdk/wcs-sdk.mjs";
 *   const session = await createSession({ urlServer: "wss://example.com" }).established();
 *   const stream = session.createStream({ name: "cam1", display: document.getElementById("local") })
 *     .on(STREAM_STATUS.FAILED, (s) => console.log(s.getInfo()))
 *     .publish();
 *   await stream.active();
 *
 * @module wcs-sdk
 */
export { createSession, Session } from "./session.js";
export type { AppData, FailEvent, SessionEvents, SessionOptions, UserData } from "./session-types.js";
export { Stream, STOP_RETRY_MS } from "./stream.js";
export type { MuteState, StreamConstraints, StreamEvent, StreamEvents, StreamOptions, VideoConstraints } from "./stream-types.js";
export { roomApi, RoomSession } from "./room-session.js";
export type { RoomApiOptions, RoomSessionEvents } from "./room-session.js";
export { Room } from "./room.js";
export type { JoinOptions, RoomEvents, RoomMessage, RoomPublishOptions } from "./room.js";
export { Participant, ParticipantStream } from "./participant.js";
export type { RoomPlayOptions } from "./participant.js";
export { ERROR_INFO, ROOM_EVENT, SESSION_STATUS, STREAM_EVENT, STREAM_EVENT_TYPE, STREAM_STATUS, STREAM_STATUS_INFO } from "./constants.js";
export type { SessionStatus, StreamEventType, StreamStatus } from "./constants.js";
export { WcsError } from "./events.js";
export type { Logger } from "./events.js";
export { resolvePlatform } from "./platform.js";
export type { FetchFunction, MediaStreamConstructor, PeerConnectionConstructor, Platform, WebSocketConstructor } from "./platform.js";
export type { AutoRestoreOptions, RestoreAttempt } from "./restore.js";
