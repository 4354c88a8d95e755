/**
 * Stream snapshots: one PNG of a stream's current video, decoded by the media node that holds the stream's publisher
 * leg (media-node/snapshot.ts, with ffmpeg) only when someone asks. docs/protocols.md "Snapshots".
 *
 * Entry points (WCS docs "Taking a PNG snapshot of the stream",
 * https://docs.flashphoner.com/display/WCS52EN/Taking+a+PNG+snapshot+of+the+stream):
 * - WCS WebSocket: client `snapshot {name, mediaSessionId}` (Web SDK 2.0 `src/flashphoner-core.js` Stream.snapshot(),
 *   sent for a stream object of any status NEW / PLAYING / PUBLISHING: the official stream-snapshot demo creates a new
 *   stream object just to ask) → server `notifyStreamEvent {mediaSessionId, type: "snapshotCompleted", payload:
 *   {snapshot: <base64 PNG>}}`, or `type: "snapshotFailed"` with `payload.info` (Web SDK `src/constants.js`
 *   STREAM_EVENT_TYPE.SNAPSHOT_COMPLETED / SNAPSHOT_FAILED; the demo reads `payload.snapshot` and `payload.info`);
 * - REST: `POST /rest-api/stream/snapshot {streamName}` → 200 `{data: <base64 PNG>}`, 404 an unknown stream
 *   (protocol/rest.ts StreamSnapshotBody).
 *
 * Worker → media node (signed like every control call, protocol/signing.ts):
 *   POST /v1/legs/:legId/snapshot  {}  → 200 {@link SnapshotResponse} | ApiError: not_found (no such publisher leg),
 *        conflict (the stream has no video, or a codec ffmpeg cannot take from RTP), node_full (too many snapshots
 *        running on the node), timeout (no frame decoded in time), error (ffmpeg failed, or its PNG was refused)
 */
import { z } from "zod";
import { MediaSessionId, StreamName } from "./wcs.js";

/** Largest PNG a snapshot may be, bytes (a 1080p camera frame is 2–4 MB): a larger one is refused with `error`. */
export const MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024;

/** Default time bound of one snapshot on the media node, ms (MEDIA_NODE_SNAPSHOT_TIMEOUT_MS). */
export const SNAPSHOT_TIMEOUT_MS = 5000;

/** Default bound of snapshot ffmpeg processes running at once on a media node (MEDIA_NODE_MAX_SNAPSHOTS). */
export const MAX_SNAPSHOT_RUNS = 4;

/**
 * Longest time bound a media node may be configured with, ms: the worker waits for a snapshot this long on top of
 * its usual MEDIA_NODE_TIMEOUT_MS, so a node always answers (with `timeout` at worst) before the worker gives up.
 */
export const MAX_SNAPSHOT_TIMEOUT_MS = 20_000;

/** Base64 characters of a {@link MAX_SNAPSHOT_BYTES} PNG. */
const MAX_SNAPSHOT_BASE64 = 4 * Math.ceil(MAX_SNAPSHOT_BYTES / 3);

/** The body of `POST /v1/legs/:legId/snapshot`: nothing yet (an object, so fields can be added). */
export const SnapshotRequest = z.object({}).strict();
export type SnapshotRequest = z.infer<typeof SnapshotRequest>;

/**
 * A snapshot taken: `data` the PNG, base64 (RFC 4648 §4), as WCS answers it; `width` / `height` the picture's size in
 * pixels (from the PNG's IHDR); `tookMs` how long the node took, from the request to the PNG.
 */
export const SnapshotResponse = z.object({
  data: z.string().min(1).max(MAX_SNAPSHOT_BASE64),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  tookMs: z.number().int().nonnegative(),
});
export type SnapshotResponse = z.infer<typeof SnapshotResponse>;

/** The media node's snapshot route, in one place for both sides. */
export const SnapshotPaths = {
  snapshot: (legId: string) => `/v1/legs/${encodeURIComponent(legId)}/snapshot`,
} as const;

/**
 * WCS `snapshot {name, mediaSessionId}` (Web SDK Stream.snapshot()): the answer goes to `mediaSessionId`, which need
 * not be a stream of the session (the official demo asks with a fresh stream object). Other fields are ignored.
 */
export const SnapshotMessage = z.object({ name: StreamName, mediaSessionId: MediaSessionId }).passthrough();
export type SnapshotMessage = z.infer<typeof SnapshotMessage>;

/** The `info` texts of refused snapshots (ours: WCS documents none; its REST answers 500 "Snapshot taking error"). */
export const SnapshotInfo = {
  NO_VIDEO: "Stream has no video",
  /** @param codec the publisher's video codec, e.g. "AV1" */
  codecNotSupported: (codec: string) => `Snapshots of ${codec} video are not supported`,
  /** @param ms the node's time bound */
  timedOut: (ms: number) => `Snapshot failed: no video frame decoded within ${ms} ms`,
  /** @param running snapshots running on the node now */
  nodeBusy: (running: number) => `Media node is full (${running} snapshots in progress), try again`,
  /** @param detail what went wrong (ffmpeg's own explanation, a bad PNG) */
  failed: (detail: string) => `Snapshot failed: ${detail}`,
} as const;
