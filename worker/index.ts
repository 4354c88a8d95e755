/**
 * The signaling worker: a hono app in front of the Durable Objects.
 *
 * - `POST /internal/nodes/heartbeat`, `POST /internal/nodes/events`, `POST /internal/nodes/relay-events`: the media
 *   nodes' calls, signed with the shared secret (protocol/signing.ts), validated with protocol/media-node.ts; 401
 *   unsigned or replayed (each nonce is claimed once in NonceDO), 400 malformed, 409 a stale heartbeat.
 * - `POST /internal/nodes/deregister`: a draining node's goodbye (signed alike; NodeRegistryDO.deregister).
 * - `GET /internal/nodes`: live media nodes (signed too; for operators).
 * - `/rest-api/*`: the WCS REST API (worker/rest.ts).
 * - `/internal/recordings/*`: the media nodes' recording uploads (signed); `GET|HEAD /client/records/<recordName>`:
 *   a recording's file, byte ranges included (worker/recordings.ts).
 * - `GET /healthz`, `GET /readyz`, `GET /metrics` (admin token): probes and Prometheus metrics (worker/metrics.ts).
 * - `/whip/:name`, `/whep/:name` and their resources: WHIP / WHEP over HTTP (worker/whip.ts).
 * - `GET /ice-servers`: STUN / TURN servers with short-lived TURN credentials for clients (worker/turn.ts).
 * - `/:name/webrtc/publish`, `/:name/webrtc/play`: the Flussonic-style WebSocket endpoint; each upgrade goes to a new
 *   WsEndpointDO (worker/ws-endpoint-do.ts, protocol/ws-endpoint.ts); without an upgrade, 426.
 * - WebSocket upgrades count against the address's connection rate limit (worker/rate-limit.ts): 429 over it.
 * - Any other request that asks for a WebSocket upgrade, on any path (WCS clients use `ws://host:port`, `/`,
 *   `/websocket`, `/<stream>` …): a new SessionDO takes the socket.
 * - Everything else: the static demo pages in public/, for GET and HEAD only (405 otherwise).
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { type DeregisterResponse, LegEvent, NodeDeregister, RATE_LIMIT_RETRY_AFTER_S, NodeHeartbeat, refusal, RelayEvent } from "../protocol/index.js";
import { registryOf, relaysOf, streamOf, type Env } from "./env.js";
import { configureLog, log } from "./log.js";
import { clientAddress, rateLimit } from "./rate-limit.js";
import { ops } from "./metrics.js";
import { nodeCall, nodeRefused as refused } from "./node-calls.js";
import { clientRecords, nodeUploads } from "./recordings.js";
import { rest } from "./rest.js";
import { iceServers } from "./turn.js";
import { whipWhep } from "./whip.js";

export { NodeRegistryDO } from "./node-registry-do.js";
export { NonceDO } from "./nonce-do.js";
export { RecordingDO } from "./recording-do.js";
export { RelayDO } from "./relay-do.js";
export { RoomDO } from "./room-do.js";
export { SessionDO } from "./session-do.js";
export { StatsDO } from "./stats-do.js";
export { StreamDO } from "./stream-do.js";
export { WebhookOutboxDO } from "./webhook-outbox-do.js";
export { WsEndpointDO } from "./ws-endpoint-do.js";

type App = { Bindings: Env };
const app = new Hono<App>();
app.use("*", async (c, next) => {
  configureLog(c.env);
  await next();
});


app.post("/internal/nodes/heartbeat", async (c) => {
  const hb = await nodeCall(c, NodeHeartbeat);
  if (hb instanceof Response) return hb;
  if (!(await registryOf(c.env).heartbeat(hb))) return refused(c, refusal("conflict", `Stale heartbeat: seq ${hb.seq} is not above the last one`));
  return c.json({ ok: true as const });
});

app.post("/internal/nodes/deregister", async (c) => {
  const body = await nodeCall(c, NodeDeregister);
  if (body instanceof Response) return body;
  return c.json({ ok: true, ...(await registryOf(c.env).deregister(body.nodeId, body.bootId)) } satisfies DeregisterResponse);
});

app.post("/internal/nodes/events", async (c) => {
  const ev = await nodeCall(c, LegEvent);
  if (ev instanceof Response) return ev;
  await streamOf(c.env, ev.streamName).onLegEvent(ev);
  return c.json({ ok: true as const });
});

app.post("/internal/nodes/relay-events", async (c) => {
  const ev = await nodeCall(c, RelayEvent);
  if (ev instanceof Response) return ev;
  await relaysOf(c.env).onRelayEvent(ev);
  return c.json({ ok: true as const });
});

app.get("/internal/nodes", async (c) => {
  const ok = await nodeCall(c, z.undefined());
  if (ok instanceof Response) return ok;
  return c.json(await registryOf(c.env).list());
});

app.route("/", nodeUploads);
app.route("/", clientRecords);
app.route("/rest-api", rest);
app.route("/", ops);
app.route("/", whipWhep);
app.route("/", iceServers);

/** A refused WebSocket upgrade of an address over its connection rate limit (429 + Retry-After; the Web SDK reports FAILED). */
async function upgradeLimited(c: Context<App>): Promise<Response | undefined> {
  const limited = await rateLimit(c.env, "connect", clientAddress(c.req.raw.headers));
  return limited && c.text(limited.info, 429, { "Retry-After": String(RATE_LIMIT_RETRY_AFTER_S) });
}

app.all("/:name/webrtc/:action{publish|play}", async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    return c.text("Expected a WebSocket upgrade", 426);
  }
  const limited = await upgradeLimited(c);
  if (limited) return limited;
  return c.env.WS_ENDPOINT.get(c.env.WS_ENDPOINT.newUniqueId()).fetch(c.req.raw);
});

app.all("*", async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() === "websocket") {
    const limited = await upgradeLimited(c);
    if (limited) return limited;
    const id = c.env.SESSION.newUniqueId();
    return c.env.SESSION.get(id).fetch(c.req.raw);
  }
  // the demo pages are read-only: nothing but GET / HEAD reaches the static assets
  if (c.req.method !== "GET" && c.req.method !== "HEAD") return c.text("Method not allowed", 405, { Allow: "GET, HEAD" });
  if (!c.env.ASSETS) return c.text("Not found", 404);
  // a copy with mutable headers: a middleware that ran for this path (CORS) may still add its own
  return new Response(...responseParts(await c.env.ASSETS.fetch(c.req.raw)));
});

/** The body and init of `res`, with headers of our own (an asset response's are immutable). */
function responseParts(res: Response): [BodyInit | null, ResponseInit] {
  return [res.body, { status: res.status, statusText: res.statusText, headers: new Headers(res.headers) }];
}

app.onError((err, c) => {
  if (err instanceof HTTPException) return err.getResponse(); // e.g. bearerAuth's 401
  log("error", "unhandled_error", { path: c.req.path, error: String(err), stack: err.stack });
  return refused(c, refusal("error", "Internal error"));
});

export default app;
