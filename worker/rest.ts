/**
 * The WCS REST API under `/rest-api` (protocol/rest.ts; docs/protocols.md "REST API"): CORS for every origin,
 * an admin bearer token — REST_API_TOKEN, or an access token with `admin: true` (worker/auth.ts: 401 missing or
 * invalid, 403 not an admin, 503 AUTH on with nothing configured; open only with AUTH=off and no REST_API_TOKEN) —
 * JSON bodies validated, and the WCS codes (200 success, 404 nothing found, 400 bad body). Calls count against the
 * address's REST rate limit first (429 "Too many requests" + Retry-After; worker/rate-limit.ts).
 *
 *   /stream/find_all   (GET or POST)  → every stream object (publishers and players), 404 when there is none
 *   /stream/find       (POST filter)  → the matching stream objects, 404 when none match
 *   /stream/terminate  (POST filter)  → ends the matching legs ("Stopped by rest /terminate"), 404 when none match
 *   /stream/event/send (POST {streamName, payload}) → a `data` stream event to every player of the stream
 *                      (worker/stream-events.ts): 200 with an empty body, 404 "Stream not found" unless it is
 *                      PUBLISHING, 400 a bad body (payload bounded as protocol/bounded.ts says)
 *   /stream/snapshot   (POST {streamName}) → 200 {data: <base64 PNG>} of the stream's current video (protocol/snapshot.ts,
 *                      taken by its origin node with ffmpeg); 404 "Stream not found" unless it is PUBLISHING; 409 "Stream
 *                      has no video"; 503 the node runs too many snapshots; 500 no picture in time / ffmpeg failed
 *   /pull/push, /pull/pull  (POST RelayRequest) → server-to-server relays (worker/relay-do.ts): 200 with the relay
 *                      record, else the status of the refusal code (REST_HTTP_STATUS, protocol/rest.ts): 403 a URI
 *                      outside RELAY_ALLOWED_URIS (refused before any connection), 404 local
 *                      stream not publishing (push); 409 relay exists / local name in use (pull); 500 with the
 *                      reason when the remote refuses; 503 no media node
 *   /pull/find_all     (GET or POST)  → every relay record, 404 when there is none
 *   /pull/terminate    (POST RelayFilter) → stops the matching relays, 404 when none match
 *   /nodes/find_all    (GET or POST)  → every registered media node with its load, draining state, version and
 *                      heartbeat age (protocol/rest.ts RestNode; `wcs-edge nodes`), 404 when there is none
 *   /recorder/find_all (GET or POST)  → the recordings being made now, WCS `[{fileName, mediaSessionId}]`, 404 none
 *   /recorder/startup  {mediaSessionId} → `{fileName, mediaSessionId}`: that publisher is recorded from now on, in a
 *                      new file (one it had is finished first); 404 no such publisher; 503 no bucket, node full or off;
 *                      409 no codec to record (also `/stream/startRecording`)
 *   /recorder/terminate {mediaSessionId} → `{fileName, mediaSessionId}`: its recording is finished and uploaded while
 *                      it goes on publishing; 404 no such publisher or not recorded (also `/stream/stopRecording`)
 *   /recordings/*      finished recordings in object storage: find_all, delete, the file (worker/recordings.ts)
 */
import { Hono, type Context } from "hono";
import { cors } from "hono/cors";
import type { z } from "zod";
import {
  AuthInfo,
  parseJsonBody,
  refusal,
  RelayFilter,
  relayNotAllowedInfo,
  RelayRequest,
  relayUriAllowed,
  REST_HTTP_STATUS,
  StreamEventSendBody,
  StreamFilter,
  StreamSnapshotBody,
  RATE_LIMIT_RETRY_AFTER_S,
  RecorderRequest,
  type ActiveRecorder,
  type RecorderAnswer,
  type Refusal,
  type RestNode,
  type StreamStatusEvent,
} from "../protocol/index.js";
import { authenticateAdmin } from "./access.js";
import { bearerAccess, forbidden, type AuthedApp } from "./auth.js";
import { config, registryOf, relaysOf, streamOf, type Env } from "./env.js";
import { log } from "./log.js";
import type { NodeEntry } from "./node-registry-do.js";
import { recordingsRest } from "./recordings.js";
import { clientAddress, rateLimit } from "./rate-limit.js";

type App = AuthedApp;

/** A refusal as the REST error body `{error}` with the status of its code. */
function refused(c: Context<App>, r: Refusal): Response {
  return c.json({ error: r.info }, REST_HTTP_STATUS[r.code]);
}

/** Parses an optional JSON body with `schema` (no body, or GET, = `{}`). Returns a 400 Response on bad input. */
async function jsonBody<S extends z.ZodTypeAny>(c: Context<App>, schema: S): Promise<z.infer<S> | Response> {
  const parsed = parseJsonBody(c.req.method === "GET" ? "" : await c.req.text(), schema, {});
  return parsed.ok ? parsed.value : refused(c, parsed);
}

/** Every stream object of every stream placed on a media node. */
async function allStreams(env: Env): Promise<StreamStatusEvent[]> {
  const nodes = await registryOf(env).list();
  const names = [...new Set(nodes.flatMap((n) => n.streams))];
  const lists = await Promise.all(names.map((name) => streamOf(env, name).streamObjects()));
  return lists.flat();
}

function matches(s: StreamStatusEvent, f: StreamFilter): boolean {
  return (
    (f.name === undefined || s.name === f.name) &&
    (f.mediaSessionId === undefined || s.mediaSessionId === f.mediaSessionId) &&
    (f.mediaSessionIds === undefined || f.mediaSessionIds.includes(s.mediaSessionId)) &&
    (f.published === undefined || s.published === f.published) &&
    (f.status === undefined || s.status === f.status)
  );
}

/** A registry entry as the REST API shows it: load and health, no placement bookkeeping (seq, reconcile state). */
function restNode(n: NodeEntry & { live: boolean }, now: number): RestNode {
  return {
    nodeId: n.nodeId,
    bootId: n.bootId,
    controlUrl: n.controlUrl,
    ...(n.version !== undefined ? { version: n.version } : {}),
    live: n.live,
    draining: !!n.draining,
    load: n.load,
    ...(n.legCount !== undefined ? { legs: n.legCount } : {}),
    maxLegs: n.maxLegs,
    streams: n.streams.length,
    lastHeartbeat: n.lastSeen,
    heartbeatAgeMs: Math.max(0, now - n.lastSeen),
    heartbeatIntervalMs: n.intervalMs,
    ...(n.eventLoop ? { eventLoop: n.eventLoop } : {}),
  };
}

export const rest = new Hono<App>();
rest.use(
  "*",
  cors({ origin: "*", allowHeaders: ["Content-Type", "Authorization", "Range"], allowMethods: ["GET", "POST", "OPTIONS"], exposeHeaders: ["Content-Range", "Accept-Ranges", "X-Next-Cursor"] }),
);
rest.use("*", async (c, next) => {
  const limited = c.req.method === "OPTIONS" ? undefined : await rateLimit(c.env, "rest", clientAddress(c.req.raw.headers));
  return limited ? c.json({ error: limited.info }, 429, { "Retry-After": String(RATE_LIMIT_RETRY_AFTER_S) }) : next();
});
rest.use("*", bearerAccess(authenticateAdmin, "rest-api", (error) => ({ error })));
rest.use("*", async (c, next) => {
  if (c.req.method === "OPTIONS" || c.var.access.admin) return next();
  return forbidden("rest-api", { error: AuthInfo.ADMIN_REQUIRED });
});

rest.on(["GET", "POST"], "/stream/find_all", async (c) => {
  const streams = await allStreams(c.env);
  return streams.length ? c.json(streams) : c.json({ error: "Stream not found" }, 404);
});

rest.post("/stream/find", async (c) => {
  const filter = await jsonBody(c, StreamFilter);
  if (filter instanceof Response) return filter;
  const streams = (await allStreams(c.env)).filter((s) => matches(s, filter));
  return streams.length ? c.json(streams) : c.json({ error: "Stream not found" }, 404);
});

rest.post("/stream/event/send", async (c) => {
  const body = await jsonBody(c, StreamEventSendBody);
  if (body instanceof Response) return body;
  const res = await streamOf(c.env, body.streamName).dataEvent(body.payload);
  if (!res.ok) return refused(c, res);
  log("info", "rest_stream_event", { stream: body.streamName, players: res.players });
  return c.body(null, 200);
});

rest.post("/stream/terminate", async (c) => {
  const filter = await jsonBody(c, StreamFilter);
  if (filter instanceof Response) return filter;
  const byName = new Map<string, string[]>();
  for (const s of (await allStreams(c.env)).filter((x) => matches(x, filter))) {
    byName.set(s.name, [...(byName.get(s.name) ?? []), s.mediaSessionId]);
  }
  if (byName.size === 0) return c.json({ error: "Stream not found" }, 404);
  const counts = await Promise.all([...byName].map(([name, ids]) => streamOf(c.env, name).terminate(ids)));
  const terminated = counts.reduce((a, b) => a + b, 0);
  log("info", "rest_terminate", { filter, streams: byName.size, terminated });
  return c.json({ terminated });
});

rest.post("/stream/snapshot", async (c) => {
  const body = await jsonBody(c, StreamSnapshotBody);
  if (body instanceof Response) return body;
  const res = await streamOf(c.env, body.streamName).snapshot();
  if (!res.ok) return refused(c, res);
  log("info", "rest_snapshot", { stream: body.streamName, width: res.width, height: res.height, tookMs: res.tookMs });
  return c.json({ data: res.data });
});

for (const direction of ["push", "pull"] as const) {
  rest.post(`/pull/${direction}`, async (c) => {
    const req = await jsonBody(c, RelayRequest);
    if (req instanceof Response) return req;
    // before anything touches the network: a relay makes a media node connect to the URI
    if (!relayUriAllowed(req.uri, config(c.env).RELAY_ALLOWED_URIS)) {
      log("warn", "relay_uri_not_allowed", { direction, uri: req.uri });
      return refused(c, refusal("forbidden", relayNotAllowedInfo(req.uri)));
    }
    const res = await relaysOf(c.env).create(direction, req);
    return res.ok ? c.json(res.record) : refused(c, res);
  });
}

rest.on(["GET", "POST"], "/pull/find_all", async (c) => {
  const list = await relaysOf(c.env).list();
  return list.length ? c.json(list) : c.json({ error: "Relay not found" }, 404);
});

rest.post("/pull/terminate", async (c) => {
  const filter = await jsonBody(c, RelayFilter);
  if (filter instanceof Response) return filter;
  const terminated = await relaysOf(c.env).terminate(filter);
  log("info", "rest_pull_terminate", { filter, terminated });
  return terminated ? c.json({ terminated }) : c.json({ error: "Relay not found" }, 404);
});

rest.on(["GET", "POST"], "/nodes/find_all", async (c) => {
  const now = Date.now();
  const nodes = (await registryOf(c.env).list(now)).map((n) => restNode(n, now));
  return nodes.length ? c.json(nodes) : c.json({ error: "Node not found" }, 404);
});

/** The stream name of the publisher of `mediaSessionId`, if one is publishing. */
async function publisherStream(env: Env, mediaSessionId: string): Promise<string | undefined> {
  return (await allStreams(env)).find((s) => s.published && s.mediaSessionId === mediaSessionId)?.name;
}

// recording on demand (protocol/recording.ts RecorderRequest), each under WCS's newer and older name
const RECORDER_CALLS = [
  { paths: ["/recorder/startup", "/stream/startRecording"], event: "rest_recorder_startup", run: (stream: ReturnType<typeof streamOf>, id: string) => stream.startRecording(id) },
  { paths: ["/recorder/terminate", "/stream/stopRecording"], event: "rest_recorder_terminate", run: (stream: ReturnType<typeof streamOf>, id: string) => stream.stopRecording(id) },
] as const;

for (const { paths, event, run } of RECORDER_CALLS) {
  for (const path of paths) {
    rest.post(path, async (c) => {
      const body = await jsonBody(c, RecorderRequest);
      if (body instanceof Response) return body;
      const name = await publisherStream(c.env, body.mediaSessionId);
      if (name === undefined) return c.json({ error: "Stream not found" }, 404);
      const res = await run(streamOf(c.env, name), body.mediaSessionId);
      if (!res.ok) return refused(c, res);
      log("info", event, { stream: name, mediaSessionId: body.mediaSessionId, recordName: res.recordName });
      return c.json({ fileName: res.recordName, mediaSessionId: body.mediaSessionId } satisfies RecorderAnswer);
    });
  }
}

rest.on(["GET", "POST"], "/recorder/find_all", async (c) => {
  const recorders: ActiveRecorder[] = (await allStreams(c.env)).flatMap((s) => (s.published && s.recordName ? [{ fileName: s.recordName, mediaSessionId: s.mediaSessionId }] : []));
  return recorders.length ? c.json(recorders) : c.json({ error: "Recorder not found" }, 404);
});

rest.route("/recordings", recordingsRest);

rest.all("*", (c) => c.json({ error: `No such REST method: ${c.req.method} ${c.req.path}` }, 404));
