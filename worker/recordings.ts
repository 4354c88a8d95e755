/**
 * Recordings over HTTP (protocol/recording.ts; docs/protocols.md "Recording"):
 *
 * - `nodeUploads`: the media nodes' signed upload calls (worker/node-calls.ts), each handed to the recording's
 *   RecordingDO (worker/recording-do.ts):
 *     POST /internal/recordings/begin      RecordingBegin    → {ok}
 *     PUT  /internal/recordings/part?…     the part's bytes  → {ok}: streamed into R2's uploadPart (never held whole
 *                                          here) while its SHA-256 is computed; a part whose size or digest does not
 *                                          match the signed query is refused (400) and not counted
 *     POST /internal/recordings/complete   RecordingComplete → {ok, size}
 *     POST /internal/recordings/abort      RecordingAbort    → {ok}
 * - `recordingsRest`, mounted at `/rest-api/recordings` behind the REST API's CORS, rate limit and admin token
 *   (worker/rest.ts):
 *     GET|POST /find_all   RecordingFilter (optional) → RecordingInfo[] (`X-Next-Cursor` when cut), 404 when none
 *                          (findRecordings below)
 *     POST     /delete     {recordName}               → {deleted}, 404 unknown
 *     GET|HEAD /<recordName>                          → the file (below)
 * - `clientRecords`: `GET|HEAD /client/records/<recordName>`, the link of the WCS Stream Recording demo. Open with
 *   AUTH off; with AUTH on the caller shows (`Authorization: Bearer` or `?token=`, for a `<video src>`) an admin token
 *   (REST_API_TOKEN, or an access token with `admin`) or an access token that may `play` the recorded stream's name.
 *
 * The file is served with its MIME type, `Accept-Ranges: bytes` and one byte range when asked (`Range: bytes=…`:
 * 206 + `Content-Range`; a range past the end: 416 + a `Content-Range` of `*` and the size; `If-Range` with another ETag:
 * the whole file). A name that is not a record name (protocol/recording.ts RECORD_NAME_RE: no slash, no dot but the
 * extension's) is refused with 400 before storage is touched; an unknown one is 404. Without the RECORDINGS bucket:
 * 503.
 */
import { Hono, type Context } from "hono";
import { cors } from "hono/cors";
import {
  NO_RECORDINGS_BUCKET,
  parseByteRange,
  parseJsonBody,
  RATE_LIMIT_RETRY_AFTER_S,
  RECORD_NAME_RE,
  recordContentType,
  RecordingAbort,
  RecordingBegin,
  RecordingComplete,
  RecordingDelete,
  RecordingFilter,
  RecordingPartQuery,
  RecordingPaths,
  RECORDINGS_PREFIX,
  recordNamePrefix,
  refusal,
  REST_HTTP_STATUS,
  type RecordingInfo,
  type Refusal,
} from "../protocol/index.js";
import type { AuthedApp } from "./auth.js";
import { config, type Env } from "./env.js";
import { log } from "./log.js";
import { nodeCall, nodeRefused, verifyNodeCall } from "./node-calls.js";
import { clientAddress, rateLimit } from "./rate-limit.js";
import { downloadAccess, notAllowed } from "./recording-access.js";
import { recordingKey, recordingOf } from "./recording-do.js";

type App = { Bindings: Env };

const NOT_FOUND = "Recording not found";
const BAD_NAME = "Invalid record name";

// ---- media node → worker uploads ----

export const nodeUploads = new Hono<App>();

nodeUploads.post(RecordingPaths.begin, async (c) => {
  const req = await nodeCall(c, RecordingBegin);
  if (req instanceof Response) return req;
  const res = await recordingOf(c.env, req.recordName).begin(req);
  return res.ok ? c.json({ ok: true as const }) : nodeRefused(c, res);
});

nodeUploads.put(RecordingPaths.part, async (c) => {
  const refusedCall = await verifyNodeCall(c, "");
  if (refusedCall) return refusedCall;
  const q = RecordingPartQuery.safeParse(Object.fromEntries(new URL(c.req.url).searchParams));
  if (!q.success) return nodeRefused(c, refusal("invalid_request", `Invalid part query: ${q.error.issues[0]?.path.join(".")} ${q.error.issues[0]?.message ?? ""}`.trim()));
  const { recordName, part, size, sha256 } = q.data;
  const body = c.req.raw.body;
  if (!body || Number(c.req.header("Content-Length")) !== size) return nodeRefused(c, refusal("invalid_request", `The part's Content-Length must be ${size}`));
  const bucket = c.env.RECORDINGS;
  if (!bucket) return nodeRefused(c, refusal("not_configured", NO_RECORDINGS_BUCKET));
  const recording = recordingOf(c.env, recordName);
  const target = await recording.partTarget(q.data);
  if (!target.ok) {
    await body.cancel();
    return nodeRefused(c, target);
  }
  // the body once into R2 (a stream of known length) and once through SHA-256, side by side
  const [toR2, toDigest] = body.tee();
  const sized = new FixedLengthStream(size);
  const digest = new crypto.DigestStream("SHA-256");
  const piped = Promise.all([toR2.pipeTo(sized.writable), toDigest.pipeTo(digest)]);
  let etag: string;
  try {
    const uploaded = await bucket.resumeMultipartUpload(recordingKey(recordName), target.uploadId).uploadPart(part, sized.readable);
    await piped;
    etag = uploaded.etag;
  } catch (err) {
    log("warn", "recording_part_failed", { recordName, part, size, error: String(err) });
    await piped.catch(() => undefined);
    return nodeRefused(c, refusal("error", `Part ${part} could not be stored`));
  }
  const got = [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  if (got !== sha256) {
    log("warn", "recording_part_digest_mismatch", { recordName, part, size });
    return nodeRefused(c, refusal("invalid_request", `Part ${part}: the body's SHA-256 is not the signed one`));
  }
  const counted = await recording.partUploaded(q.data, part, { etag, size });
  return counted.ok ? c.json({ ok: true as const }) : nodeRefused(c, counted);
});

nodeUploads.post(RecordingPaths.complete, async (c) => {
  const req = await nodeCall(c, RecordingComplete);
  if (req instanceof Response) return req;
  const res = await recordingOf(c.env, req.recordName).complete(req);
  return res.ok ? c.json({ ok: true as const, size: res.size }) : nodeRefused(c, res);
});

nodeUploads.post(RecordingPaths.abort, async (c) => {
  const req = await nodeCall(c, RecordingAbort);
  if (req instanceof Response) return req;
  const res = await recordingOf(c.env, req.recordName).abort(req, req.reason);
  return res.ok ? c.json({ ok: true as const }) : nodeRefused(c, res);
});

// ---- serving a file ----

/**
 * The file `recordName` (GET / HEAD, one byte range when asked; see the file header). `allowed`: whether the caller
 * may have a recording of this stream name (a Response refuses it).
 */
async function serveRecording(c: Context, recordName: string, allowed: (streamName: string) => Response | null): Promise<Response> {
  const env = c.env as Env;
  if (!RECORD_NAME_RE.test(recordName)) return c.json({ error: BAD_NAME }, 400);
  const bucket = env.RECORDINGS;
  if (!bucket) return c.json({ error: NO_RECORDINGS_BUCKET }, 503);
  const key = recordingKey(recordName);
  const head = await bucket.head(key);
  if (!head) return c.json({ error: NOT_FOUND }, 404);
  const denied = allowed(head.customMetadata?.streamName ?? "");
  if (denied) return denied;
  const ifRange = c.req.header("If-Range");
  const asked = ifRange !== undefined && ifRange !== head.httpEtag ? undefined : parseByteRange(c.req.header("Range"), head.size);
  const headers = new Headers({
    "Content-Type": head.httpMetadata?.contentType ?? recordContentType(recordName),
    "Accept-Ranges": "bytes",
    ETag: head.httpEtag,
    "Last-Modified": head.uploaded.toUTCString(),
    "Content-Disposition": `inline; filename="${recordName}"`,
  });
  if (asked === "unsatisfiable") {
    headers.set("Content-Range", `bytes */${head.size}`);
    return new Response(null, { status: 416, headers });
  }
  const length = asked ? asked.end - asked.start + 1 : head.size;
  headers.set("Content-Length", String(length));
  if (asked) headers.set("Content-Range", `bytes ${asked.start}-${asked.end}/${head.size}`);
  const status = asked ? 206 : 200;
  if (c.req.method === "HEAD") return new Response(null, { status, headers });
  const obj = await bucket.get(key, asked ? { range: { offset: asked.start, length } } : {});
  if (!obj) return c.json({ error: NOT_FOUND }, 404);
  return new Response(obj.body, { status, headers });
}

// ---- /rest-api/recordings ----

/** A refusal as the REST error body `{error}` with the status of its code. */
function restRefused(c: Context, r: Refusal): Response {
  return c.json({ error: r.info }, REST_HTTP_STATUS[r.code]);
}

/** The REST calls on recordings, mounted at `/rest-api/recordings` (see the file header). */
export const recordingsRest = new Hono<AuthedApp>();

recordingsRest.on(["GET", "POST"], "/find_all", async (c) => {
  const parsed = parseJsonBody(c.req.method === "GET" ? "" : await c.req.text(), RecordingFilter, {});
  if (!parsed.ok) return restRefused(c, parsed);
  const bucket = c.env.RECORDINGS;
  if (!bucket) return restRefused(c, refusal("not_configured", NO_RECORDINGS_BUCKET));
  const { list, next } = await findRecordings(bucket, parsed.value);
  const headers = next ? { "X-Next-Cursor": next } : undefined;
  return list.length ? c.json(list, 200, headers) : c.json({ error: NOT_FOUND }, 404, headers);
});

/** Objects asked of one R2 list call (R2's most; with metadata included, R2 and Miniflare may give fewer, e.g. 100). */
const LIST_PAGE = 1000;
/** Objects one find_all looks at most: a filter that matches little stops there and answers with a cursor. */
const MAX_SCANNED = 5000;

/** A listed recording object as find_all shows it. */
function recordingInfo(o: R2Object): RecordingInfo {
  const recordName = o.key.slice(RECORDINGS_PREFIX.length);
  const meta = o.customMetadata ?? {};
  return {
    recordName,
    streamName: meta.streamName ?? "",
    mediaSessionId: meta.mediaSessionId ?? "",
    size: o.size,
    createDate: Number(meta.createdAt ?? o.uploaded.getTime()),
    contentType: o.httpMetadata?.contentType ?? recordContentType(recordName),
    url: RecordingPaths.download(recordName),
  };
}

/**
 * The recordings that match `f`, at most `f.limit`, in name order after `f.cursor`; `next` (a record name, the last one
 * looked at) when more may follow. A `streamName` narrows the listing to that stream's record-name prefix
 * (protocol/recording.ts recordNamePrefix); other filters are checked object by object over up to
 * {@link MAX_SCANNED} objects, listed in pages resumed with R2's `startAfter`, so a cursor is exact.
 */
async function findRecordings(bucket: R2Bucket, f: RecordingFilter): Promise<{ list: RecordingInfo[]; next?: string }> {
  const limit = f.limit ?? LIST_PAGE;
  const prefix = RECORDINGS_PREFIX + (f.streamName !== undefined ? recordNamePrefix(f.streamName) : "");
  const matches = (r: RecordingInfo) => (f.streamName === undefined || r.streamName === f.streamName) && (f.mediaSessionId === undefined || r.mediaSessionId === f.mediaSessionId);
  const list: RecordingInfo[] = [];
  let after = f.cursor !== undefined ? recordingKey(f.cursor) : undefined;
  for (let scanned = 0; ; ) {
    // `include` is honoured by R2 (and Miniflare) but missing from the older R2ListOptions type
    const page = await bucket.list({ prefix, limit: LIST_PAGE, ...(after !== undefined ? { startAfter: after } : {}), include: ["httpMetadata", "customMetadata"] } as R2ListOptions);
    for (const [i, o] of page.objects.entries()) {
      after = o.key;
      const info = recordingInfo(o);
      if (!matches(info)) continue;
      list.push(info);
      if (list.length === limit) {
        const more = i < page.objects.length - 1 || page.truncated;
        return more ? { list, next: info.recordName } : { list };
      }
    }
    scanned += page.objects.length;
    if (!page.truncated || page.objects.length === 0) return { list };
    if (scanned >= MAX_SCANNED) return { list, next: after?.slice(RECORDINGS_PREFIX.length) };
  }
}

recordingsRest.post("/delete", async (c) => {
  const parsed = parseJsonBody(await c.req.text(), RecordingDelete);
  if (!parsed.ok) return restRefused(c, parsed);
  const bucket = c.env.RECORDINGS;
  if (!bucket) return restRefused(c, refusal("not_configured", NO_RECORDINGS_BUCKET));
  const key = recordingKey(parsed.value.recordName);
  if (!(await bucket.head(key))) return c.json({ error: NOT_FOUND }, 404);
  await bucket.delete(key);
  log("info", "recording_deleted", { recordName: parsed.value.recordName });
  return c.json({ deleted: parsed.value.recordName });
});

recordingsRest.on(["GET", "HEAD"], "/:recordName", (c) => serveRecording(c, c.req.param("recordName"), () => null));

// ---- /client/records ----

const REALM = "records";

/** `GET|HEAD /client/records/<recordName>` (see the file header). */
export const clientRecords = new Hono<App>();
clientRecords.use(
  "/client/records/*",
  cors({ origin: "*", allowMethods: ["GET", "HEAD", "OPTIONS"], allowHeaders: ["Authorization", "Range", "If-Range"], exposeHeaders: ["Content-Range", "Content-Length", "Accept-Ranges", "ETag"] }),
);
clientRecords.on(["GET", "HEAD"], "/client/records/:recordName", async (c) => {
  const cfg = config(c.env);
  if (cfg.AUTH) {
    const limited = await rateLimit(c.env, "media", clientAddress(c.req.raw.headers));
    if (limited) return c.json({ error: limited.info }, 429, { "Retry-After": String(RATE_LIMIT_RETRY_AFTER_S) });
  }
  const access = await downloadAccess(cfg, c.req.header("Authorization"), c.req.query("token"));
  if (!access.ok) return c.json({ error: access.error }, access.status, access.status === 401 ? { "WWW-Authenticate": `Bearer realm="${REALM}", error="invalid_token"` } : {});
  return serveRecording(c, c.req.param("recordName"), (streamName) =>
    access.allows(streamName) ? null : c.json({ error: notAllowed(streamName) }, 403, { "WWW-Authenticate": `Bearer realm="${REALM}", error="insufficient_scope"` }),
  );
});
