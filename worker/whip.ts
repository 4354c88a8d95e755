/**
 * WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) over HTTP: a stream published with WHIP is an ordinary stream
 * (WCS players play it by name, REST and rooms see it), and WHEP plays any publishing stream. Each resource is one
 * leg of the stream's StreamDO, owned by HTTP rather than a WebSocket session (owner `{kind: "http", etag, …}`,
 * worker/leg-owners.ts).
 *
 *   POST    /whip/:name      application/sdp offer (sendonly)  → 201 answer (every server candidate), Location, ETag
 *   POST    /whep/:name      application/sdp offer (recvonly)  → 201 the same
 *   PATCH   <Location>       application/trickle-ice-sdpfrag   → 204 (candidates go to the media node)
 *   DELETE  <Location>                                         → 200 (WHIP: the stream ends; WHEP: the player stops)
 *   OPTIONS endpoint / resource                                → 204 CORS + Accept-Post: application/sdp
 *
 * Refusals (text/plain reason): 401 a missing or invalid access token, 400 an Authorization that is not Bearer,
 * 403 a token without the `publish` (WHIP) / `play` (WHEP) grant on the name — on the endpoint and on its
 * resources — or a POST the backend declined (WCS REST hook publishStream / playStream, worker/rest-hooks.ts), and
 * 503 AUTH on with no key configured, 429 + Retry-After a POST over the address's rate limit (worker/rate-limit.ts) (worker/auth.ts; never on OPTIONS), 413 body too large, 415 wrong Content-Type,
 * 428 PATCH without If-Match, 412 If-Match not the resource's ETag, 422 ICE restart (not supported), 404 unknown
 * resource; a StreamDO refusal gets the status of its code, `WHIP_HTTP_STATUS` (protocol/whip.ts): 400 invalid SDP
 * or an offer that cannot send (WHIP) / receive (WHEP), 409 WHIP name in use, 409 + Retry-After WHEP stream not
 * publishing (yet), 422 no common codec, 503 + Retry-After no media node. CORS and the bearer parsing are hono's
 * own middleware. The resource id in Location is the leg id (crypto-random UUID).
 * Bundle-only m-lines (port 0 + a=bundle-only, JSEP max-bundle) are taken as ordinary bundled m-lines.
 * Nobody is told a resource's statuses: its client sees the transport (DTLS close) when the stream ends.
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AuthInfo, Info, MAX_SDP_BYTES, checkOffer, granted, nameProblem, type Refusal } from "../protocol/index.js";
import {
  MAX_FRAGMENT_BYTES,
  SDP_CONTENT_TYPE,
  TRICKLE_CONTENT_TYPE,
  WHIP_HTTP_STATUS,
  isContentType,
  parseTrickleFragment,
} from "../protocol/whip.js";
import { authenticate } from "./access.js";
import { bearerAccess, forbidden, type AuthedApp } from "./auth.js";
import { config, streamOf } from "./env.js";
import { clientAddress, rateLimit } from "./rate-limit.js";
import { callRestHook } from "./rest-hooks.js";
import { log } from "./log.js";
import type { LegRecord, OfferLegRequest } from "./stream-types.js";

type App = AuthedApp;
type Kind = "whip" | "whep";

const ENDPOINT_METHODS = ["POST", "OPTIONS"];
const RESOURCE_METHODS = ["PATCH", "DELETE", "OPTIONS"];

function text(c: Context<App>, status: ContentfulStatusCode, body: string, headers: Record<string, string> = {}): Response {
  return c.text(body, status, headers);
}

/** A StreamDO refusal as a text/plain answer with the status of its code (and Retry-After where it has one). */
function refused(c: Context<App>, r: Refusal): Response {
  const { status, retryAfter } = WHIP_HTTP_STATUS[r.code];
  return text(c, status, r.info, retryAfter ? { "Retry-After": String(retryAfter) } : {});
}

/**
 * CORS for one route (hono's cors; a preflight is answered by it with 204), plus the WHIP preflight extras: `Allow`,
 * and `Accept-Post` on an endpoint.
 */
function corsFor(methods: string[], endpoint: boolean): MiddlewareHandler<App> {
  const corsMw = cors({
    origin: "*",
    allowMethods: methods,
    allowHeaders: ["Authorization", "Content-Type", "If-Match"],
    exposeHeaders: ["Location", "ETag", "Link", "Retry-After", "Accept-Post"],
    maxAge: 86400,
  });
  return async (c, next) => {
    if (c.req.method === "OPTIONS") {
      c.header("Allow", methods.join(", "));
      if (endpoint) c.header("Accept-Post", SDP_CONTENT_TYPE);
    }
    return corsMw(c, next);
  };
}

/** The leg behind a resource URL, when it is an HTTP-owned leg of this kind's role. */
async function resourceLeg(c: Context<App>, role: LegRecord["role"]): Promise<Omit<LegRecord, "custom"> | null> {
  const leg = await streamOf(c.env, c.req.param("name") ?? "").leg(c.req.param("id") ?? "");
  return leg && leg.owner.kind === "http" && leg.role === role ? leg : null;
}

function mount(app: Hono<App>, kind: Kind): void {
  const role = kind === "whip" ? "publisher" : "player";
  const endpoint = `/${kind}/:name`;
  const resource = `/${kind}/:name/:id`;
  const auth = bearerAccess(authenticate, kind, (t) => t);
  /** The endpoint and its resources need the grant on the name: publish (WHIP) or play (WHEP). */
  const grant: MiddlewareHandler<App> = async (c, next) => {
    const name = c.req.param("name") ?? "";
    if (c.req.method === "OPTIONS" || granted(c.var.access, kind === "whip" ? "publish" : "play", name)) return next();
    log("info", `${kind}_not_authorized`, { stream: name, sub: c.var.access.sub });
    return forbidden(kind, AuthInfo.notGranted(kind === "whip" ? "publish" : "play", name));
  };

  app.use(endpoint, corsFor(ENDPOINT_METHODS, true), auth, grant);
  app.use(resource, corsFor(RESOURCE_METHODS, false), auth, grant);

  app.post(endpoint, async (c) => {
    const limited = await rateLimit(c.env, "media", clientAddress(c.req.raw.headers));
    if (limited) return refused(c, limited);
    const name = c.req.param("name") ?? "";
    if (name.length < 1 || name.length > 256) return text(c, 400, "Stream name must be 1 to 256 characters");
    const bad = nameProblem(name);
    if (bad) return text(c, 400, `Stream name ${bad}`);
    if (!isContentType(c.req.header("Content-Type"), SDP_CONTENT_TYPE)) {
      return text(c, 415, `Content-Type must be ${SDP_CONTENT_TYPE}`, { "Accept-Post": SDP_CONTENT_TYPE });
    }
    const body = await c.req.text();
    if (new TextEncoder().encode(body).length > MAX_SDP_BYTES) return text(c, 413, `SDP offer larger than ${MAX_SDP_BYTES} bytes`);
    const offer = checkOffer(body, role);
    if (!offer.ok) return text(c, 400, `${Info.INVALID_SDP}: ${offer.reason}`);
    const first = offer.sdp.media.find((m) => m.port !== 0 && (m.type === "audio" || m.type === "video"));
    const etag = `"${crypto.randomUUID().replaceAll("-", "")}"`;
    const req: OfferLegRequest = {
      legId: crypto.randomUUID(),
      owner: { kind: "http", etag, iceUfrag: first?.iceUfrag ?? offer.sdp.iceUfrag, icePwd: first?.icePwd ?? offer.sdp.icePwd },
      mediaSessionId: crypto.randomUUID(),
      sdp: offer.text,
      hasAudio: offer.hasAudio,
      hasVideo: offer.hasVideo,
    };
    // the backend's say (WCS REST hook publishStream / playStream), before anything is reserved
    const hook = await callRestHook(config(c.env), role === "publisher" ? "publishStream" : "playStream", {
      name,
      mediaSessionId: req.mediaSessionId,
      sessionId: `${kind}-${req.mediaSessionId}`,
      published: role === "publisher",
      hasAudio: req.hasAudio,
      hasVideo: req.hasVideo,
      ...(c.var.access.sub ? { login: c.var.access.sub } : {}),
    });
    if (!hook.ok) return refused(c, hook);
    if (hook.custom) req.custom = hook.custom;
    const s = streamOf(c.env, name);
    const result = role === "publisher" ? await s.publish(name, req) : await s.play(name, req);
    if (!result.ok) {
      log("info", `${kind}_refused`, { stream: name, code: result.code, info: result.info });
      return refused(c, result);
    }
    const location = `/${kind}/${encodeURIComponent(name)}/${req.legId}`;
    log("info", `${kind}_created`, { stream: name, legId: req.legId, mediaSessionId: req.mediaSessionId });
    return c.body(result.answer, 201, { "Content-Type": SDP_CONTENT_TYPE, Location: location, ETag: etag });
  });

  app.patch(resource, async (c) => {
    const leg = await resourceLeg(c, role);
    if (!leg || leg.owner.kind !== "http") return text(c, 404, "No such resource");
    const owner = leg.owner;
    if (!isContentType(c.req.header("Content-Type"), TRICKLE_CONTENT_TYPE)) return text(c, 415, `Content-Type must be ${TRICKLE_CONTENT_TYPE}`);
    const ifMatch = c.req.header("If-Match")?.trim();
    if (!ifMatch) return text(c, 428, "If-Match with the resource's ETag is required");
    if (ifMatch !== "*" && !ifMatch.split(",").map((t) => t.trim()).includes(owner.etag)) {
      return text(c, 412, "If-Match does not match the resource's ETag");
    }
    const body = await c.req.text();
    if (body.length > MAX_FRAGMENT_BYTES) return text(c, 413, `Fragment larger than ${MAX_FRAGMENT_BYTES} bytes`);
    const parsed = parseTrickleFragment(body);
    if (!parsed.ok) return text(c, 400, `Invalid SDP fragment: ${parsed.reason}`);
    const frag = parsed.frag;
    const restart =
      ifMatch === "*" ||
      (frag.iceUfrag !== undefined && frag.iceUfrag !== owner.iceUfrag) ||
      (frag.icePwd !== undefined && owner.icePwd !== undefined && frag.icePwd !== owner.icePwd);
    if (restart) return text(c, 422, "ICE restarts are not supported");
    if (frag.candidates.length > 0) {
      const res = await streamOf(c.env, c.req.param("name") ?? "").addRemoteCandidates(leg.legId, frag.candidates);
      if (!res.ok) return res.code === "not_found" ? text(c, 404, "No such resource") : refused(c, res);
    }
    return c.body(null, 204);
  });

  app.delete(resource, async (c) => {
    const leg = await resourceLeg(c, role);
    const name = c.req.param("name") ?? "";
    if (!leg || !(await streamOf(c.env, name).end(leg.legId, { kind: "stop" }))) return text(c, 404, "No such resource");
    log("info", `${kind}_deleted`, { stream: name, legId: leg.legId });
    return text(c, 200, "");
  });

  app.on(["GET", "HEAD", "PUT", "PATCH", "DELETE"], endpoint, (c) => text(c, 405, "Method not allowed", { Allow: ENDPOINT_METHODS.join(", ") }));
  app.on(["GET", "HEAD", "PUT", "POST"], resource, (c) => text(c, 405, "Method not allowed", { Allow: RESOURCE_METHODS.join(", ") }));
}

/**
 * Every other path under /whip and /whep (no name, a trailing slash, extra segments): 404 with CORS, so a browser
 * client reads the reason — never the static assets.
 */
function unmatched(app: Hono<App>, kind: Kind): void {
  const cors404: MiddlewareHandler<App> = async (c, next) => {
    await next();
    c.res.headers.set("Access-Control-Allow-Origin", "*");
  };
  const notFound = (c: Context<App>) => text(c, 404, `No such ${kind.toUpperCase()} endpoint or resource: use /${kind}/<stream name>`);
  app.all(`/${kind}`, cors404, notFound);
  app.all(`/${kind}/*`, cors404, notFound);
}

/** The WHIP and WHEP routes (mount at "/"). */
export const whipWhep = new Hono<App>();
mount(whipWhep, "whip");
mount(whipWhep, "whep");
unmatched(whipWhep, "whip");
unmatched(whipWhep, "whep");
