/**
 * WCS (Flashphoner Web Call Server) WebSocket signaling protocol: the single home of every message shape, status and
 * `info` string that travels between a WCS client (Web SDK 2.0, iOS/Android SDKs, our SDK) and the signaling worker.
 *
 * Wire format (Web SDK 2.0 `src/flashphoner-core.js`, send()/onmessage): every text frame is
 * `{"message": "<name>", "data": [arg0, arg1, ...]}`. Clients always send exactly one argument; the server always
 * sends a `data` array (the SDK reads `data[0]` unconditionally).
 *
 * This module holds the zod schemas of the client → server messages (what the worker validates) and re-exports
 * `wcs-types.ts` (statuses, `info` strings, server → client shapes), which has no runtime dependency so that the
 * browser SDK can import it.
 */
import { z } from "zod";
import { FreeForm, wellFormedName } from "./bounded.js";
import { MAX_SDP_BYTES } from "./sdp.js";
import { StreamStatus } from "./wcs-types.js";

export * from "./wcs-types.js";

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
    custom: FreeForm.optional(),
  })
  .passthrough();
export type ConnectionRequest = z.infer<typeof ConnectionRequest>;

/** A mediaSessionId: 1–128 characters of well-formed text (protocol/bounded.ts). */
export const MediaSessionId = wellFormedName(1, 128);
/** A stream name: 1–256 characters of well-formed text (protocol/bounded.ts). */
export const StreamName = wellFormedName(1, 256);
const mediaSessionId = MediaSessionId;
const streamName = StreamName;

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
    custom: FreeForm.optional(),
    width: z.number().optional(),
    height: z.number().optional(),
    bitrate: z.number().optional(),
    minBitrate: z.number().optional(),
    maxBitrate: z.number().optional(),
    quality: z.number().optional(),
  })
  .passthrough();
export type StreamRequest = z.infer<typeof StreamRequest>;

/**
 * A `playStream` request as the Web SDK 2.0 sends it for a player (`src/flashphoner-core.js` Stream `play()`): not
 * published, both kinds asked for, status PENDING, no record, size and bitrates 0, `mediaProvider` WebRTC; `over`
 * replaces any of them (a test player's size, quality or `custom`).
 */
export function playStreamRequest(mediaSessionId: string, name: string, sdp: string, over: Partial<StreamRequest> = {}): StreamRequest {
  return {
    mediaSessionId,
    name,
    published: false,
    hasVideo: true,
    hasAudio: true,
    status: StreamStatus.PENDING,
    record: false,
    width: 0,
    height: 0,
    mediaProvider: "WebRTC",
    sdp,
    bitrate: 0,
    minBitrate: 0,
    maxBitrate: 0,
    quality: 0,
    ...over,
  };
}

/** `unPublishStream` / `stopStream`: the stream summary; only `mediaSessionId` is needed. */
export const StreamStopRequest = z.object({ mediaSessionId, name: streamName.optional() }).passthrough();
export type StreamStopRequest = z.infer<typeof StreamStopRequest>;

/** A parsed server frame, as seen by clients and tests. */
export const ServerEnvelope = z.object({ message: z.string(), data: z.array(z.unknown()) });
export type ServerEnvelope = z.infer<typeof ServerEnvelope>;
