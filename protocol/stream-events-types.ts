/**
 * WCS stream events without runtime validation: the event types a publisher may send, the mute states they set and
 * the server → client shape. Clients (our SDK in `client/`, bundled for browsers) import from here so that they do not
 * carry zod; `stream-events.ts` re-exports all of it next to the zod schemas (docs/protocols.md "Stream events").
 *
 * Wire (Web SDK 2.0, npm `@flashphoner/websdk` 2.0.276):
 * - client → server `sendStreamEvent {mediaSessionId, type, payload}` (`src/flashphoner-core.js` sendStreamEvent(),
 *   called by Stream muteAudio() / unmuteAudio() / muteVideo() / unmuteVideo() without a payload and by
 *   sendData(payload) with type "data");
 * - server → client `notifyStreamEvent {mediaSessionId, type, payload}` to every player of the stream, each with its
 *   own mediaSessionId (`src/flashphoner-core.js` onmessage "notifyStreamEvent" → the stream's STREAM_EVENT
 *   callback). Mute events carry `payload.streamName` (the Media Devices demo,
 *   `examples/demo/streaming/media_devices_manager/manager.js`, shows it).
 * WCS docs: "Stream event passing to subscribers",
 * https://docs.flashphoner.com/static/WCS52/Streaming_video_functions/Stream_event_passing_to_subscribers/
 */
import { Info } from "./wcs-types.js";

/**
 * The stream event types a publisher sends (Web SDK `src/constants.js` STREAM_EVENT_TYPE: AUDIO_MUTED …, DATA). WCS
 * has more types (snapshotCompleted, resize, notEnoughBandwidth), all server → client only: a client cannot send them.
 */
export const StreamEventType = {
  AUDIO_MUTED: "audioMuted",
  AUDIO_UNMUTED: "audioUnmuted",
  VIDEO_MUTED: "videoMuted",
  VIDEO_UNMUTED: "videoUnmuted",
  DATA: "data",
} as const;
export type StreamEventType = (typeof StreamEventType)[keyof typeof StreamEventType];

/** Every {@link StreamEventType}, in the order above. */
export const STREAM_EVENT_TYPES = Object.values(StreamEventType) as [StreamEventType, ...StreamEventType[]];

/** The mute events: which kind of media each one is about and the state it sets. */
export const MUTE_EVENTS = {
  audioMuted: { kind: "audio", muted: true },
  audioUnmuted: { kind: "audio", muted: false },
  videoMuted: { kind: "video", muted: true },
  videoUnmuted: { kind: "video", muted: false },
} as const satisfies Record<Exclude<StreamEventType, "data">, { kind: "audio" | "video"; muted: boolean }>;
/** audioMuted | audioUnmuted | videoMuted | videoUnmuted. */
export type MuteEventType = keyof typeof MUTE_EVENTS;

/** Whether `type` is one of the mute events (audioMuted, audioUnmuted, videoMuted, videoUnmuted). */
export function isMuteEvent(type: string): type is MuteEventType {
  return Object.hasOwn(MUTE_EVENTS, type);
}

/** A mute state, as in the stream object's `audioState` / `videoState` (WCS "Stream" object). */
export interface MuteState {
  muted: boolean;
}

/** The payload of a mute event as players get it: the client's object (if any) plus the stream's name. */
export interface MuteEventPayload {
  streamName: string;
  [key: string]: unknown;
}

/**
 * `notifyStreamEvent` (server → client): one event of the stream a player plays, with the player's own
 * mediaSessionId. Mute events: `payload.streamName` is the stream's name. `data`: the publisher's (or REST's) JSON
 * value as it was sent.
 */
export type StreamEvent =
  | { mediaSessionId: string; type: MuteEventType; payload: MuteEventPayload }
  | { mediaSessionId: string; type: typeof StreamEventType.DATA; payload: unknown }
  | SnapshotEvent;

/**
 * The answer to a client's `snapshot {name, mediaSessionId}` (protocol/snapshot.ts), on that mediaSessionId:
 * `snapshotCompleted` with the PNG in base64, or `snapshotFailed` with the reason (Web SDK `src/constants.js`
 * STREAM_EVENT_TYPE.SNAPSHOT_COMPLETED / SNAPSHOT_FAILED; its stream-snapshot demo reads `payload.snapshot` and
 * `payload.info`).
 */
export type SnapshotEvent =
  | { mediaSessionId: string; type: "snapshotCompleted"; payload: { snapshot: string } }
  | { mediaSessionId: string; type: "snapshotFailed"; payload: { info: string } };

/** true for a JSON object (not an array, not null). */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The payload a mute event carries to players: the publisher's object (if it sent one) with `streamName` added when
 * it has none (WCS players read `payload.streamName`, e.g. the Media Devices demo).
 * @param payload the event's `payload` (absent, null or an object; anything else counts as absent)
 * @param streamName the name of the publisher's stream
 */
export function muteEventPayload(payload: unknown, streamName: string): MuteEventPayload {
  const given = isJsonObject(payload) ? payload : {};
  return { ...given, streamName: typeof given.streamName === "string" ? given.streamName : streamName };
}

/** `info` of a refused stream event (`fail {apiMethod: "sendStreamEvent", info}`); ours, WCS documents none. */
export const StreamEventInfo = {
  /** The mediaSessionId names a player of this session: only a stream's publisher sends its events. */
  NOT_PUBLISHER: `${Info.INVALID_REQUEST}: stream events are sent by the stream's publisher, this mediaSessionId is a player`,
  /** The mediaSessionId names no stream of this session. */
  unknownStream: (mediaSessionId: string) => `${Info.STREAM_NOT_FOUND}: no stream with mediaSessionId ${mediaSessionId} in this session`,
  /** The publisher is not PUBLISHING yet (or any more). */
  notPublishing: (name: string, status: string) => `${Info.INVALID_REQUEST}: stream ${name} is not PUBLISHING (${status})`,
} as const;
