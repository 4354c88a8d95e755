/**
 * The WCS REST API under `/rest-api` (protocol/rest.ts; shared/reference/wcs-protocol.md §4): CORS for every origin,
 * a bearer token checked when REST_API_TOKEN is configured (401 otherwise), JSON bodies validated, and the WCS codes
 * (200 success, 404 nothing found, 400 bad body).
 *
 *   /stream/find_all   (GET or POST)  → every stream object (publishers and players), 404 when there is none
 *   /stream/find       (POST filter)  → the matching stream objects, 404 when none match
 *   /stream/terminate  (POST filter)  → ends the matching legs ("Stopped by rest /terminate"), 404 when none match
 *   /pull/push, /pull/pull  (POST RelayRequest) → server-to-server relays (worker/relay-do.ts): 200 with the relay
 *                      record; 404 local stream not publishing (push); 409 relay exists / local name in use (pull);
 *                      500 with the reason when the remote refuses; 503 no media node
 *   /pull/find_all     (GET or POST)  → every relay record, 404 when there is none
 *   /pull/terminate    (POST RelayFilter) → stops the matching relays, 404 when none match
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { cors } from "hono/cors";
import type { z } from "zod";
import { RelayFilter, RelayRequest, StreamFilter, type StreamStatusEvent } from "../protocol/index.js";
import type { Env } from "./env.js";
import { log } from "./log.js";

type App = { Bindings: Env };

/** Bearer-token check, active only when REST_API_TOKEN is set (hono's bearerAuth; constant-time compare). */
const restAuth: MiddlewareHandler<App> = async (c, next) => {
  const token = c.env.REST_API_TOKEN;
  if (!token || c.req.method === "OPTIONS") return next();
  const check: MiddlewareHandler = bearerAuth({
    token,
    noAuthenticationHeaderMessage: { error: "Bearer token required" },
    invalidTokenMessage: { error: "Invalid bearer token" },
  });
  return check(c as unknown as Context, next);
};

/** Parses an optional JSON body with `schema`; an empty body counts as `{}`. Returns a 400 Response on bad input. */
export async function jsonBody<S extends z.ZodTypeAny>(c: Context<App>, schema: S): Promise<z.infer<S> | Response> {
  const text = c.req.method === "GET" ? "" : await c.req.text();
  let json: unknown = {};
  if (text.trim()) {
    try {
      json = JSON.parse(text);
    } catch {
      return c.json({ error: "Malformed JSON body" }, 400);
    }
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return c.json({ error: `Invalid body: ${issue?.path.join(".") || "body"} ${issue?.message ?? ""}`.trim() }, 400);
  }
  return parsed.data;
}

/** Every stream object of every stream placed on a media node. */
async function allStreams(env: Env): Promise<StreamStatusEvent[]> {
  const nodes = await env.NODE_REGISTRY.get(env.NODE_REGISTRY.idFromName("global")).list();
  const names = [...new Set(nodes.flatMap((n) => n.streams))];
  const lists = await Promise.all(names.map((name) => env.STREAM.get(env.STREAM.idFromName(name)).streamObjects()));
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

export const rest = new Hono<App>();
rest.use("*", cors({ origin: "*", allowHeaders: ["Content-Type", "Authorization"], allowMethods: ["GET", "POST", "OPTIONS"] }));
rest.use("*", restAuth);

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

rest.post("/stream/terminate", async (c) => {
  const filter = await jsonBody(c, StreamFilter);
  if (filter instanceof Response) return filter;
  const byName = new Map<string, string[]>();
  for (const s of (await allStreams(c.env)).filter((x) => matches(x, filter))) {
    byName.set(s.name, [...(byName.get(s.name) ?? []), s.mediaSessionId]);
  }
  if (byName.size === 0) return c.json({ error: "Stream not found" }, 404);
  const counts = await Promise.all([...byName].map(([name, ids]) => c.env.STREAM.get(c.env.STREAM.idFromName(name)).terminate(ids)));
  const terminated = counts.reduce((a, b) => a + b, 0);
  log("info", "rest_terminate", { filter, streams: byName.size, terminated });
  return c.json({ terminated });
});

const relays = (env: Env) => env.RELAY.get(env.RELAY.idFromName("global"));

for (const direction of ["push", "pull"] as const) {
  rest.post(`/pull/${direction}`, async (c) => {
    const req = await jsonBody(c, RelayRequest);
    if (req instanceof Response) return req;
    const res = await relays(c.env).create(direction, req);
    if (res.status === 200) return c.json(res.record);
    return c.json({ error: res.error }, res.status);
  });
}

rest.on(["GET", "POST"], "/pull/find_all", async (c) => {
  const list = await relays(c.env).list();
  return list.length ? c.json(list) : c.json({ error: "Relay not found" }, 404);
});

rest.post("/pull/terminate", async (c) => {
  const filter = await jsonBody(c, RelayFilter);
  if (filter instanceof Response) return filter;
  const terminated = await relays(c.env).terminate(filter);
  log("info", "rest_pull_terminate", { filter, terminated });
  return terminated ? c.json({ terminated }) : c.json({ error: "Relay not found" }, 404);
});

rest.all("*", (c) => c.json({ error: `No such REST method: ${c.req.method} ${c.req.path}` }, 404));
