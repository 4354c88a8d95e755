/**
 * A stream's side of its session: what a {@link Stream} needs from the session ({@link SessionLink}, set up by the
 * session, internal) and the client → server messages it sends through it, built here from the stream's options
 * (Web SDK 2.0 flashphoner-core.js publish()/play()/stop(); docs/protocols.md "WCS WebSocket protocol").
 */
import type { SendStreamEventRequest } from "../protocol/stream-events.js";
import type { StreamRequest, StreamStopRequest } from "../protocol/wcs.js";
import { StreamStatus } from "../protocol/wcs-types.js";
import type { SessionStatus } from "./constants.js";
import type { Logger } from "./events.js";
import type { Platform } from "./platform.js";
import type { RestorePolicy } from "./restore.js";
import type { Stream } from "./stream.js";
import type { StreamOptions } from "./stream-types.js";

/** Client → server messages a stream sends, with their argument. */
export interface StreamMessages {
  publishStream: StreamRequest;
  playStream: StreamRequest;
  unPublishStream: StreamStopRequest;
  stopStream: StreamStopRequest;
  sendStreamEvent: SendStreamEventRequest;
}

/**
 * @internal What a stream needs from its session (not part of the public API).
 */
export interface SessionLink {
  readonly platform: Platform;
  readonly logger: Logger;
  readonly restorePolicy: RestorePolicy | null;
  /** The configuration of a new peer connection: at once, or once the session's ICE servers are known. */
  rtcConfiguration(): RTCConfiguration | Promise<RTCConfiguration>;
  status(): SessionStatus;
  send<M extends keyof StreamMessages>(message: M, data: StreamMessages[M]): boolean;
  register(id: string, stream: Stream): void;
  unregister(id: string, stream: Stream): void;
  /** Puts the stream on the list restored when the session is ESTABLISHED again (or restores it now if it is). */
  awaitSession(stream: Stream): void;
  forgetAwaiting(stream: Stream): void;
}

/** @internal Extra behaviour of streams created by the Room API. */
export interface StreamExtras {
  /** Evaluated before each restore attempt: false ends the stream instead (e.g. the participant stopped publishing). */
  restoreIf?: () => boolean;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/** The fields publishStream and playStream share: id, name, offer, custom and the WCS bitrate constraints. */
function streamRequest(id: string, opts: StreamOptions, sdp: string) {
  const v = typeof opts.constraints?.video === "object" ? opts.constraints.video : undefined;
  return {
    mediaSessionId: id,
    name: opts.name,
    status: StreamStatus.PENDING,
    mediaProvider: "WebRTC",
    sdp,
    custom: opts.custom,
    bitrate: num(v?.bitrate),
    minBitrate: num(v?.minBitrate),
    maxBitrate: num(v?.maxBitrate),
    ...(opts.constraints ? { constraints: opts.constraints } : {}),
  };
}

/** `publishStream` of attempt `id`: the offer publishing the tracks of `media`. */
export function publishRequest(id: string, opts: StreamOptions, sdp: string, media: MediaStream): StreamRequest {
  return {
    ...streamRequest(id, opts, sdp),
    published: true,
    hasVideo: media.getVideoTracks().length > 0,
    hasAudio: media.getAudioTracks().length > 0,
    record: opts.record ?? false,
  };
}

/** `playStream` of attempt `id`: the recvonly offer, with the requested size and quality. */
export function playRequest(id: string, opts: StreamOptions, sdp: string): StreamRequest {
  const v = typeof opts.constraints?.video === "object" ? opts.constraints.video : undefined;
  return {
    ...streamRequest(id, opts, sdp),
    published: false,
    hasVideo: true,
    hasAudio: true,
    record: false,
    width: num(v?.width),
    height: num(v?.height),
    quality: num(v?.quality),
  };
}

/** The message that ends a publisher (`unPublishStream`) or a player (`stopStream`). */
export function stopMessage(published: boolean): "unPublishStream" | "stopStream" {
  return published ? "unPublishStream" : "stopStream";
}
