/**
 * WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) over HTTP: a stream published with WHIP is an ordinary stream
 * (WCS players play it by name, REST and rooms see it), and WHEP plays any publishing stream. Each resource is one
 * leg of the stream's StreamDO, owned by HTTP rather than a WebSocket session (`owner: "http"`).
 *
 *   POST    /whip/:name      application/sdp offer (sendonly)  → 201 answer (every server candidate), Location, ETag
 *   POST    /whep/:name      application/sdp offer (recvonly)  → 201 the same
 *   PATCH   <Location>       application/trickle-ice-sdpfrag   → 204 (candidates go to the media node)
 *   DELETE  <Location>                                         → 200 (WHIP: the stream ends; WHEP: the player stops)
 *   OPTIONS endpoint / resource                                → 204 CORS + Accept-Post: application/sdp
 *
 * Refusals (text/plain reason): 401 bad/missing bearer token (WHIP_TOKEN, else REST_API_TOKEN, when configured;
 * never on OPTIONS), 400 malformed SDP or an offer that cannot send (WHIP) / receive (WHEP), 413 body too large,
 * 415 wrong Content-Type, 409 WHIP name in use, 409 + Retry-After WHEP stream not publishing (yet), 422 no common
 * codec / ICE restart (not supported), 428 PATCH without If-Match, 412 If-Match not the resource's ETag, 404 unknown
 * resource, 503 + Retry-After no media node. The resource id in Location is the leg id (crypto-random UUID).
 * Bundle-only m-lines (port 0 + a=bundle-only, JSEP max-bundle) are taken as ordinary bundled m-lines.
 * Nobody is told a resource's statuses: its client sees the transport (DTLS close) when the stream ends.
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { Info, checkOffer } from "../protocol/index.js";
import {
  MAX_FRAGMENT_BYTES,
  MAX_OFFER_BYTES,
  SDP_CONTENT_TYPE,
  TRICKLE_CONTENT_TYPE,
  isContentType,
  parseTrickleFragment,
} from "../protocol/whip.js";
import type { Env } from "./env.js";
import { log } from "./log.js";
import type { StreamRequestArgs } from "./stream-types.js";

type App = { Bindings: Env };
type Kind = "whip" | "whep";

/** Seconds a client should wait before retrying a 503 (no media node) or a WHEP 409 (stream not publishing). */
const RETRY_AFTER_S = 5;
const WHEP_RETRY_AFTER_S = 2;

const CORS_HEADERS: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Expose-Headers": "Location, ETag, Link, Retry-After, Accept-Post",
};

function text(c: Context<App>, status: ContentfulStatusCode, body: string, headers: Record<string, string> = {}): Response {
  return c.text(body, status, headers);
}

/** Constant-time comparison of two strings (through their SHA-256 digests, so lengths leak nothing either). */
async function sameSecret(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [da, db] = await Promise.all([crypto.subtle.digest("SHA-256", enc.encode(a)), crypto.subtle.digest("SHA-256", enc.encode(b))]);
  const x = new Uint8Array(da);
  const y = new Uint8Array(db);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/** CORS headers on every response; the bearer token (when configured) on everything but OPTIONS. */
const corsAndAuth: MiddlewareHandler<App> = async (c, next) => {
  const token = c.env.WHIP_TOKEN || c.env.REST_API_TOKEN;
  if (token && c.req.method !== "OPTIONS") {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("Authorization") ?? "");
    if (!m || !(await sameSecret(m[1]!, token))) {
      const res = text(c, 401, m ? "Invalid bearer token" : "Bearer token required", { "WWW-Authenticate": 'Bearer realm="whip"' });
      for (const [k, v] of Object.entries(CORS_HEADERS)) res.headers.set(k, v);
      return res;
    }
  }
  await next();
  for (const [k, v] of Object.entries(CORS_HEADERS)) c.res.headers.set(k, v);
};

function preflight(c: Context<App>, methods: string, endpoint: boolean): Response {
  return c.body(null, 204, {
    "Access-Control-Allow-Methods": methods,
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
    "Access-Control-Max-Age": "86400",
    Allow: methods,
    ...(endpoint ? { "Accept-Post": SDP_CONTENT_TYPE } : {}),
  });
}

/** HTTP status for a StreamDO refusal `info` (see the file header). */
function refusal(kind: Kind, info: string): { status: ContentfulStatusCode; retryAfter?: number } {
  if (info === Info.STREAM_NAME_ALREADY_IN_USE) return { status: 409 };
  if (info === Info.STREAM_NOT_FOUND) return { status: 409, retryAfter: WHEP_RETRY_AFTER_S };
  if (info === Info.NO_MEDIA_NODE || info === Info.MEDIA_NODE_LOST || info.startsWith("Media node is full")) {
    return { status: 503, retryAfter: RETRY_AFTER_S };
  }
  if (info.startsWith(Info.INVALID_SDP)) return { status: 400 };
  if (info === Info.NO_COMMON_CODECS) return { status: 422 };
  log("warn", `${kind}_refused_unexpectedly`, { info });
  return { status: 500 };
}

const stream = (env: Env, name: string) => env.STREAM.get(env.STREAM.idFromName(name));
const resourcePath = (kind: Kind, name: string, legId: string) => `/${kind}/${encodeURIComponent(name)}/${legId}`;

function mount(app: Hono<App>, kind: Kind): void {
  const role = kind === "whip" ? "publisher" : "player";
  const endpoint = `/${kind}/:name`;
  const resource = `/${kind}/:name/:id`;

  app.use(`/${kind}/*`, corsAndAuth);
  app.options(endpoint, (c) => preflight(c, "POST, OPTIONS", true));
  app.options(resource, (c) => preflight(c, "PATCH, DELETE, OPTIONS", false));

  app.post(endpoint, async (c) => {
    const name = c.req.param("name") ?? "";
    if (name.length < 1 || name.length > 256) return text(c, 400, "Stream name must be 1 to 256 characters");
    if (!isContentType(c.req.header("Content-Type"), SDP_CONTENT_TYPE)) {
      return text(c, 415, `Content-Type must be ${SDP_CONTENT_TYPE}`, { "Accept-Post": SDP_CONTENT_TYPE });
    }
    const body = await c.req.text();
    if (new TextEncoder().encode(body).length > MAX_OFFER_BYTES) return text(c, 413, `SDP offer larger than ${MAX_OFFER_BYTES} bytes`);
    const offer = checkOffer(body, role);
    if (!offer.ok) return text(c, 400, `${Info.INVALID_SDP}: ${offer.reason}`);
    const first = offer.sdp.media.find((m) => m.port !== 0 && (m.type === "audio" || m.type === "video"));
    const etag = `"${crypto.randomUUID().replaceAll("-", "")}"`;
    const args: StreamRequestArgs = {
      sessionId: `${kind}-${crypto.randomUUID()}`,
      mediaSessionId: crypto.randomUUID(),
      sdp: offer.text,
      hasAudio: offer.hasAudio,
      hasVideo: offer.hasVideo,
      owner: "http",
      http: { etag, iceUfrag: first?.iceUfrag ?? offer.sdp.iceUfrag, icePwd: first?.icePwd ?? offer.sdp.icePwd },
    };
    const s = stream(c.env, name);
    const result = role === "publisher" ? await s.publish(name, args) : await s.play(name, args);
    if (!result.ok) {
      const r = refusal(kind, result.info);
      log("info", `${kind}_refused`, { stream: name, status: r.status, info: result.info });
      return text(c, r.status, result.info, r.retryAfter ? { "Retry-After": String(r.retryAfter) } : {});
    }
    const location = resourcePath(kind, name, result.legId);
    log("info", `${kind}_created`, { stream: name, legId: result.legId, mediaSessionId: args.mediaSessionId });
    return c.body(result.answer, 201, { "Content-Type": SDP_CONTENT_TYPE, Location: location, ETag: etag });
  });

  app.patch(resource, async (c) => {
    const name = c.req.param("name") ?? "";
    const legId = c.req.param("id") ?? "";
    const s = stream(c.env, name);
    const leg = await s.httpLeg(legId);
    if (!leg || leg.role !== role) return text(c, 404, "No such resource");
    if (!isContentType(c.req.header("Content-Type"), TRICKLE_CONTENT_TYPE)) return text(c, 415, `Content-Type must be ${TRICKLE_CONTENT_TYPE}`);
    const ifMatch = c.req.header("If-Match")?.trim();
    if (!ifMatch) return text(c, 428, "If-Match with the resource's ETag is required");
    if (ifMatch !== "*" && !ifMatch.split(",").map((t) => t.trim()).includes(leg.http.etag)) {
      return text(c, 412, "If-Match does not match the resource's ETag");
    }
    const body = await c.req.text();
    if (body.length > MAX_FRAGMENT_BYTES) return text(c, 413, `Fragment larger than ${MAX_FRAGMENT_BYTES} bytes`);
    const parsed = parseTrickleFragment(body);
    if (!parsed.ok) return text(c, 400, `Invalid SDP fragment: ${parsed.reason}`);
    const frag = parsed.frag;
    const restart =
      ifMatch === "*" ||
      (frag.iceUfrag !== undefined && frag.iceUfrag !== leg.http.iceUfrag) ||
      (frag.icePwd !== undefined && leg.http.icePwd !== undefined && frag.icePwd !== leg.http.icePwd);
    if (restart) return text(c, 422, "ICE restarts are not supported");
    if (frag.candidates.length > 0) {
      const res = await s.addRemoteCandidates(legId, frag.candidates);
      if (!res.ok) {
        if (res.status === 404) return text(c, 404, "No such resource");
        return text(c, res.unreachable ? 503 : 500, res.info);
      }
    }
    return c.body(null, 204);
  });

  app.delete(resource, async (c) => {
    const name = c.req.param("name") ?? "";
    const legId = c.req.param("id") ?? "";
    const s = stream(c.env, name);
    const leg = await s.httpLeg(legId);
    if (!leg || leg.role !== role || !(await s.stopLeg(legId))) return text(c, 404, "No such resource");
    log("info", `${kind}_deleted`, { stream: name, legId });
    return text(c, 200, "");
  });

  app.on(["GET", "HEAD", "PUT", "PATCH", "DELETE"], endpoint, (c) => text(c, 405, "Method not allowed", { Allow: "POST, OPTIONS" }));
  app.on(["GET", "HEAD", "PUT", "POST"], resource, (c) => text(c, 405, "Method not allowed", { Allow: "PATCH, DELETE, OPTIONS" }));
}

/** The WHIP and WHEP routes (mount at "/"). */
export const whipWhep = new Hono<App>();
mount(whipWhep, "whip");
mount(whipWhep, "whep");
