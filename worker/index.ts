/**
 * The signaling worker: a hono app in front of the Durable Objects.
 *
 * - `POST /internal/nodes/heartbeat`, `POST /internal/nodes/events`, `POST /internal/nodes/relay-events`: the media nodes' calls, signed with the shared
 *   secret (protocol/signing.ts), validated with protocol/media-node.ts; 401 unsigned, 400 malformed.
 * - `GET /internal/nodes`: live media nodes (signed too; for operators).
 * - `/rest-api/*`: the WCS REST API (worker/rest.ts).
 * - `/whip/:name`, `/whep/:name` and their resources: WHIP / WHEP over HTTP (worker/whip.ts).
 * - `/:name/webrtc/publish`, `/:name/webrtc/play`: the Flussonic-style WebSocket endpoint; each upgrade goes to a new
 *   WsEndpointDO (worker/ws-endpoint-do.ts, protocol/ws-endpoint.ts); without an upgrade, 426.
 * - Any other request that asks for a WebSocket upgrade, on any path (WCS clients use `ws://host:port`, `/`,
 *   `/websocket`, `/<stream>` …): a new SessionDO takes the socket.
 * - Everything else: the static demo pages in public/.
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { LegEvent, NodeHeartbeat, RelayEvent, verifyRequest } from "../protocol/index.js";
import type { Env } from "./env.js";
import { configureLog, log } from "./log.js";
import { rest } from "./rest.js";
import { whipWhep } from "./whip.js";

export { NodeRegistryDO } from "./node-registry-do.js";
export { RelayDO } from "./relay-do.js";
export { RoomDO } from "./room-do.js";
export { SessionDO } from "./session-do.js";
export { StreamDO } from "./stream-do.js";
export { WsEndpointDO } from "./ws-endpoint-do.js";

type App = { Bindings: Env };
const app = new Hono<App>();
app.use("*", async (c, next) => {
  configureLog(c.env);
  await next();
});

/** Verifies the signature of a media node's call and parses its JSON body; returns a Response on refusal. */
async function nodeCall<S extends z.ZodTypeAny>(c: Context<App>, schema: S): Promise<z.infer<S> | Response> {
  const secret = c.env.MEDIA_NODE_SECRET;
  if (!secret) {
    log("error", "media_node_secret_missing", { path: c.req.path });
    return c.json({ code: "internal", info: "MEDIA_NODE_SECRET is not configured on the worker" }, 503);
  }
  const body = await c.req.text();
  const url = new URL(c.req.url);
  const why = await verifyRequest(secret, c.req.method, url.pathname + url.search, body, c.req.raw.headers);
  if (why) {
    log("warn", "media_node_call_rejected", { path: url.pathname, why });
    return c.json({ code: "unauthorized", info: "Bad or missing request signature" }, 401);
  }
  let json: unknown;
  try {
    json = body ? JSON.parse(body) : undefined;
  } catch {
    return c.json({ code: "bad_request", info: "Malformed JSON" }, 400);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return c.json({ code: "bad_request", info: `Invalid body: ${issue?.path.join(".")} ${issue?.message}` }, 400);
  }
  return parsed.data;
}

const registry = (env: Env) => env.NODE_REGISTRY.get(env.NODE_REGISTRY.idFromName("global"));

app.post("/internal/nodes/heartbeat", async (c) => {
  const hb = await nodeCall(c, NodeHeartbeat);
  if (hb instanceof Response) return hb;
  await registry(c.env).heartbeat(hb);
  return c.json({ ok: true as const });
});

app.post("/internal/nodes/events", async (c) => {
  const ev = await nodeCall(c, LegEvent);
  if (ev instanceof Response) return ev;
  await c.env.STREAM.get(c.env.STREAM.idFromName(ev.streamName)).onLegEvent(ev);
  return c.json({ ok: true as const });
});

app.post("/internal/nodes/relay-events", async (c) => {
  const ev = await nodeCall(c, RelayEvent);
  if (ev instanceof Response) return ev;
  await c.env.RELAY.get(c.env.RELAY.idFromName("global")).onRelayEvent(ev);
  return c.json({ ok: true as const });
});

app.get("/internal/nodes", async (c) => {
  const ok = await nodeCall(c, z.undefined());
  if (ok instanceof Response) return ok;
  return c.json(await registry(c.env).list());
});

app.route("/rest-api", rest);
app.route("/", whipWhep);

app.all("/:name/webrtc/:action{publish|play}", async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    return c.text("Expected a WebSocket upgrade", 426);
  }
  return c.env.WS_ENDPOINT.get(c.env.WS_ENDPOINT.newUniqueId()).fetch(c.req.raw);
});

app.all("*", async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() === "websocket") {
    const id = c.env.SESSION.newUniqueId();
    return c.env.SESSION.get(id).fetch(c.req.raw);
  }
  if (c.env.ASSETS) return c.env.ASSETS.fetch(c.req.raw);
  return c.text("Not found", 404);
});

app.onError((err, c) => {
  if (err instanceof HTTPException) return err.getResponse(); // e.g. bearerAuth's 401
  log("error", "unhandled_error", { path: c.req.path, error: String(err), stack: err.stack });
  return c.json({ code: "internal", info: "Internal error" }, 500);
});

export default app;
