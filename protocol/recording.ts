/**
 * Stream recording (WCS `record: true`; docs/protocols.md "Recording"): the record names, which container a stream's
 * codecs go to, the media node → worker upload calls, the REST shapes and HTTP byte ranges. Both planes import it.
 *
 * WCS sources: "Stream recording" (https://docs.flashphoner.com/display/WCS52EN/Stream+recording): a stream published
 * with `record: true` is recorded without transcoding, H.264 to MP4 and VP8 to WebM, its file named by the template
 * `stream_record_policy_template` from the elements `{streamName}`, `{startTimeMillis}`, `{mediaSessionId}`, … (media
 * session id at most 36 characters); the stream status carries the file name as `recordName` (Web SDK
 * `src/flashphoner-core.js`: `stream.getRecordInfo()` returns it), and the Stream Recording demo
 * (`examples/demo/streaming/stream_recording/recording.js`) links `/client/records/<recordName>`.
 *
 * Uploads (media node → worker, signed like every node call, protocol/signing.ts): the node writes the file to a local
 * spool and sends it in fixed-size parts of an R2 multipart upload while it grows:
 *
 *   POST /internal/recordings/begin     RecordingBegin    → 200 {ok:true} (the multipart upload is created)
 *   PUT  /internal/recordings/part?…    RecordingPartQuery in the query, the part's bytes as the body → 200 {ok:true}
 *   POST /internal/recordings/complete  RecordingComplete → 200 {ok:true, size}
 *   POST /internal/recordings/abort     RecordingAbort    → 200 {ok:true}
 *
 * A part's body is not in the signature's body slot (it is streamed, never held whole by the worker): the signature
 * covers the path and query with an empty body, and the query carries the body's size and SHA-256, which the worker
 * checks while it streams the body into R2 (a part whose bytes do not match is not counted). No runtime dependency but
 * zod.
 */
import { z } from "zod";

/** The refusal `info` when the worker has no RECORDINGS bucket (code not_configured). */
export const NO_RECORDINGS_BUCKET = "Recording storage is not configured (no RECORDINGS bucket)";

/** The R2 key prefix of every recording: the object of `recordName` is `records/<recordName>`. */
export const RECORDINGS_PREFIX = "records/";

/**
 * A record name: `<base>.<webm|mp4>`, the base of letters, digits, `_` and `-` only (1–200 characters). No dot but the
 * extension's and no slash, so a record name is a file name and an R2 key under {@link RECORDINGS_PREFIX}, never a
 * path outside it.
 */
export const RECORD_NAME_RE = /^[A-Za-z0-9_-]{1,200}\.(webm|mp4)$/;
export const RecordName = z.string().regex(RECORD_NAME_RE, "not a record name (letters, digits, _ and -, then .webm or .mp4)");
/** The base of a record name (no extension): what the worker asks the node to record under. */
export const RecordBaseName = z.string().regex(/^[A-Za-z0-9_-]{1,195}$/, "not a record base name (letters, digits, _ and -)");

/** Characters of the stream name and of the mediaSessionId kept in a record name (WCS: mediaSessionId ≤ 36). */
const NAME_PART_CHARS = 64;
const SESSION_PART_CHARS = 36;

/** `s` with every character but letters, digits, `_` and `-` replaced by `_`, cut to `max` characters (at least `_`). */
function safePart(s: string, max: number): string {
  return s.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, max) || "_";
}

/**
 * The start that every record name of `streamName` shares (`<safe stream name>-`, see {@link recordBaseName}): an R2
 * list under {@link RECORDINGS_PREFIX} + this finds them without reading every other stream's recordings. Names of
 * other streams may share it (a longer stream name, or one differing only in replaced characters), so the exact name
 * is still checked in the metadata.
 */
export function recordNamePrefix(streamName: string): string {
  return `${safePart(streamName, NAME_PART_CHARS)}-`;
}

/**
 * The base of a new recording's name: the WCS template `{streamName}-{startTimeMillis}-{mediaSessionId}` (elements of
 * the WCS "Stream recording" page), each element with characters outside `[A-Za-z0-9_-]` replaced by `_`, the stream
 * name cut to 64 characters and the mediaSessionId to 36. The stream name and start time make names of one stream
 * sort by time; the mediaSessionId makes them unique (the exact stream name is in the recording's metadata).
 * @param startMs the recording's start, ms since the epoch
 */
export function recordBaseName(streamName: string, mediaSessionId: string, startMs: number): string {
  return `${recordNamePrefix(streamName)}${Math.max(0, Math.floor(startMs))}-${safePart(mediaSessionId, SESSION_PART_CHARS)}`;
}

/** How a stream is recorded: its container, MIME type and which of its tracks go into the file. */
export interface RecordingFormat {
  container: "webm" | "mp4";
  contentType: "video/webm" | "audio/webm" | "video/mp4";
  /** The file has the stream's video / audio track. */
  video: boolean;
  audio: boolean;
}

/**
 * The container of a stream with these codecs (LegMedia names as negotiated, any case), without transcoding: VP8 or
 * VP9 video → WebM, H.264 → MP4 (fragmented), Opus audio in either; an Opus-only stream → WebM audio. Codecs neither
 * container takes from RTP here (AV1, PCMU, PCMA) are left out of the file; null when nothing is left to record.
 */
export function recordingFormat(videoCodec: string | undefined, audioCodec: string | undefined): RecordingFormat | null {
  const v = videoCodec?.toUpperCase();
  const audio = audioCodec?.toLowerCase() === "opus";
  if (v === "H264") return { container: "mp4", contentType: "video/mp4", video: true, audio };
  if (v === "VP8" || v === "VP9") return { container: "webm", contentType: "video/webm", video: true, audio };
  if (audio) return { container: "webm", contentType: "audio/webm", video: false, audio: true };
  return null;
}

/** The MIME type of a record name's file, from its extension. */
export function recordContentType(recordName: string): string {
  return recordName.endsWith(".mp4") ? "video/mp4" : "video/webm";
}

/** The node's identity on every upload call: the recording belongs to that incarnation of that node. */
const NodeIdentity = { nodeId: z.string().min(1).max(128), bootId: z.string().min(1).max(128) };

/** The node starts uploading `recordName` (its ffmpeg is running): the worker creates the multipart upload. */
export const RecordingBegin = z.object({ ...NodeIdentity, recordName: RecordName });
export type RecordingBegin = z.infer<typeof RecordingBegin>;

/** Most parts of one recording (R2 and S3 multipart uploads: 10,000). */
export const MAX_RECORDING_PARTS = 10_000;
/** Smallest part but the last (R2: every part but the last is at least 5 MiB, and all of them the same size). */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** Largest part the worker takes (R2 allows 5 GiB; a part is held by the node while it is sent). */
export const MAX_PART_BYTES = 64 * 1024 * 1024;

/**
 * The query of a part upload (`PUT /internal/recordings/part?…`): which recording, the part number (1 = the file's
 * first `partBytes`), the body's size in bytes (= Content-Length) and its SHA-256 as 64 lowercase hex digits.
 */
export const RecordingPartQuery = z.object({
  ...NodeIdentity,
  recordName: RecordName,
  part: z.coerce.number().int().min(1).max(MAX_RECORDING_PARTS),
  size: z.coerce.number().int().min(1).max(MAX_PART_BYTES),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hex digits"),
});
export type RecordingPartQuery = z.infer<typeof RecordingPartQuery>;

/**
 * The node has uploaded parts 1..`parts` of the finished file (`bytes` long; ffmpeg has exited, part 1 sent again
 * with the header ffmpeg rewrote at the end): the worker completes the multipart upload with them.
 */
export const RecordingComplete = z.object({
  ...NodeIdentity,
  recordName: RecordName,
  parts: z.number().int().min(1).max(MAX_RECORDING_PARTS),
  bytes: z.number().int().min(1),
});
export type RecordingComplete = z.infer<typeof RecordingComplete>;

/** The node gives a recording up (ffmpeg failed, nothing to upload): what was uploaded is kept when it is playable. */
export const RecordingAbort = z.object({ ...NodeIdentity, recordName: RecordName, reason: z.string().max(1024) });
export type RecordingAbort = z.infer<typeof RecordingAbort>;

/** Answer of a completed upload: the object's size in bytes. */
export const RecordingCompleted = z.object({ ok: z.literal(true), size: z.number().int().nonnegative() });

/** Paths of the upload calls (media node → worker) and of the download link, in one place for both sides. */
export const RecordingPaths = {
  begin: "/internal/recordings/begin",
  part: "/internal/recordings/part",
  complete: "/internal/recordings/complete",
  abort: "/internal/recordings/abort",
  /** The download link of the WCS Stream Recording demo. */
  download: (recordName: string) => `/client/records/${recordName}`,
} as const;

/** The query string of a part upload (the order is fixed: it is signed). */
export function recordingPartQuery(q: RecordingPartQuery): string {
  const p = new URLSearchParams({ nodeId: q.nodeId, bootId: q.bootId, recordName: q.recordName, part: String(q.part), size: String(q.size), sha256: q.sha256 });
  return `?${p.toString()}`;
}

/**
 * One finished recording as `/rest-api/recordings/find_all` lists it: its name, the stream it recorded (exact name)
 * and that publisher's mediaSessionId, the object's size in bytes, when recording started (`createDate`, ms since the
 * epoch), its MIME type and the download link (relative to the server).
 */
export interface RecordingInfo {
  recordName: string;
  streamName: string;
  mediaSessionId: string;
  size: number;
  createDate: number;
  contentType: string;
  url: string;
}

/**
 * `/rest-api/recordings/find_all` filter (GET: none): every given field must match; at most `limit` recordings (1–1000,
 * default 1000) in name order after `cursor` (the `X-Next-Cursor` header of the previous answer when it was cut: the
 * last record name it looked at).
 */
export const RecordingFilter = z
  .object({
    streamName: z.string().max(256).optional(),
    mediaSessionId: z.string().max(128).optional(),
    limit: z.number().int().min(1).max(1000).optional(),
    cursor: RecordName.optional(),
  })
  .strict();
export type RecordingFilter = z.infer<typeof RecordingFilter>;

/** `/rest-api/recordings/delete` body. */
export const RecordingDelete = z.object({ recordName: RecordName }).strict();
export type RecordingDelete = z.infer<typeof RecordingDelete>;

/**
 * One recording being made now, as WCS `/rest-api/recorder/find_all` lists it ("Find session recordings", WCS docs
 * "Stream recording" REST methods:
 * https://docs.flashphoner.com/pages/diffpagesbyversion.action?pageId=14255628&selectedPageVersions=10&selectedPageVersions=11):
 * the file name and the publisher's mediaSessionId.
 */
export interface ActiveRecorder {
  fileName: string;
  mediaSessionId: string;
}

/**
 * Recording on demand (WCS REST `/recorder/startup` and `/recorder/terminate`, older names `/stream/startRecording` and
 * `/stream/stopRecording`, same WCS page), both with `{mediaSessionId}`: startup records that publisher from now on,
 * in a new file (a recording it already has is finished first; WCS: "current recording will be stopped"); terminate
 * finishes its recording (the file is uploaded). WCS's `config`
 * (`fileTemplate`, `rotation`) is not supported: a body with it is refused (400), not silently recorded otherwise.
 */
export const RecorderRequest = z.object({ mediaSessionId: z.string().min(1).max(128) }).strict();
export type RecorderRequest = z.infer<typeof RecorderRequest>;
/** Answer of `/recorder/startup` and `/recorder/terminate`: the file started or finished. */
export interface RecorderAnswer {
  fileName: string;
  mediaSessionId: string;
}

/**
 * Media node control calls of recording on demand (worker → node, signed like every control call):
 *
 *   POST   /v1/legs/:legId/recording  RecordingStartRequest → 200 RecordingStarted: the publisher leg is recorded from
 *          now on (the router's cached GOP first), under `<name>.<webm|mp4>`; refusals: not_found (no such connected
 *          publisher leg), conflict (it is recorded already: stop that first; or it has no codec to record), node_full
 *          (the node records as many streams as it may, or its spool disk is low), not_configured (no ffmpeg, or
 *          recording off)
 *   DELETE /v1/legs/:legId/recording  → 200 RecordingStarted (the record name): finishing (uploaded in the background,
 *          completed as when the stream ends); not_found when it is not recorded
 */
export const RecordingStartRequest = z.object({ name: RecordBaseName }).strict();
export type RecordingStartRequest = z.infer<typeof RecordingStartRequest>;
export const RecordingStarted = z.object({ recordName: RecordName });
export type RecordingStarted = z.infer<typeof RecordingStarted>;
export const RecorderPaths = {
  recording: (legId: string) => `/v1/legs/${encodeURIComponent(legId)}/recording`,
} as const;

/**
 * The byte range a `Range` header asks of a `size`-byte object (RFC 9110 §14.1.2, §14.2): one `bytes=first-last`,
 * `bytes=first-` or `bytes=-suffix` range → `{start, end}` (inclusive, clamped to the object); a range that starts past
 * the end, or an empty suffix → "unsatisfiable" (416); no header, another unit, several ranges or a malformed value →
 * undefined (the whole object, 200: RFC 9110 lets a server ignore a Range it does not support).
 */
export function parseByteRange(header: string | null | undefined, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  const m = header === null || header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? Infinity : Number(m[2]);
  if (end < start) return undefined; // malformed (RFC 9110 §14.1.1): ignored
  if (start >= size) return "unsatisfiable";
  return { start, end: Math.min(end, size - 1) };
}
