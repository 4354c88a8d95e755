/**
 * The public types of a stream: what the app passes to `session.createStream()` (media constraints, display,
 * playback and restore options) and the status and stream events it gets back.
 */
import type { MuteState, StreamEvent } from "../protocol/stream-events-types.js";
import type { StreamStatus } from "../protocol/wcs-types.js";
import type { Stream } from "./stream.js";

/** Video constraints: the browser's MediaTrackConstraints plus the WCS bitrate/quality fields. */
export interface VideoConstraints extends MediaTrackConstraints {
  /** Lowest publishing bitrate, kbps (sent as `minBitrate`). */
  minBitrate?: number;
  /** Highest publishing bitrate, kbps (sent as `maxBitrate`). */
  maxBitrate?: number;
  /** Deprecated WCS field, kbps (sent as `bitrate`). */
  bitrate?: number;
  /** Playback quality 0..100 (sent as `quality` by players). */
  quality?: number;
}

/** Media constraints of a stream (Web SDK `options.constraints`). Default `{audio: true, video: true}`. */
export interface StreamConstraints {
  audio?: boolean | MediaTrackConstraints;
  video?: boolean | VideoConstraints;
}

/** Options of `session.createStream()`. */
export interface StreamOptions {
  /** Stream name (required, non-empty). */
  name: string;
  /**
   * Browser only: an element that gets a <video> for the stream (a publisher's muted local preview, a player's remote
   * media); a <video> element is used as is. Ignored where the platform has no document (Node).
   */
  display?: HTMLElement;
  /** getUserMedia constraints and WCS bitrate/size/quality fields. */
  constraints?: StreamConstraints;
  /** Publish this MediaStream instead of calling getUserMedia (canvas, screen, Node synthetic media). Never stopped by the SDK. */
  stream?: MediaStream;
  /** Any JSON, sent as the stream's `custom` (room streams: `{name: room}`). */
  custom?: unknown;
  /**
   * Ask the server to record (sent as `record`): the recording's name is then `Stream.getRecordInfo()` (README
   * "Recording").
   */
  record?: boolean;
  /** Players: receive audio (default true). */
  receiveAudio?: boolean;
  /** Players: receive video (default true). */
  receiveVideo?: boolean;
  /** Rewrites the server's answer SDP before it is applied (Web SDK `sdpHook`). */
  sdpHook?: (sdp: string) => string;
  /** Set false to exclude this stream from the session's auto-restore. */
  autoRestore?: boolean;
}

/**
 * Stream event callbacks: one per status except NEW, each called with the stream; and `STREAM_EVENT` (players), called
 * with each event of the played stream (`notifyStreamEvent`) and the stream — the Web SDK's
 * `stream.on(STREAM_EVENT, (streamEvent) => …)` (`src/flashphoner-core.js` streamEventRefreshHandlers).
 */
export type StreamEvents = { [S in Exclude<StreamStatus, "NEW">]: (stream: Stream) => void } & {
  /**
   * An event of the played stream, with this player's mediaSessionId: its publisher muted or unmuted audio/video
   * (`type` audioMuted | audioUnmuted | videoMuted | videoUnmuted, `payload.streamName` the stream's name), or sent
   * data (`type` "data", `payload` the JSON it sent; also REST `/stream/event/send`).
   */
  STREAM_EVENT: (event: StreamEvent, stream: Stream) => void;
};

/**
 * Mute state the server reports (`audioState` / `videoState` of notifyStreamStatusEvent, and for players the mute
 * events of their publisher).
 */
export type { MuteState, StreamEvent };
