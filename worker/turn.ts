/**
 * `GET /ice-servers`: the STUN / TURN servers a client should give its RTCPeerConnection, with short-lived TURN
 * credentials (protocol/turn.ts; README "TURN"; docs/turn.md). Players on networks that block UDP reach the media
 * nodes through the TURN server (coturn with `use-auth-secret`), over TCP or TLS on 443 when that is all that is open.
 *
 *   GET /ice-servers                 → 200 {iceServers: RTCIceServer[], ttl}   Cache-Control: no-store
 *     STUN_URLS as one server without credentials, then TURN_URLS as one server with
 *     username `<now + TURN_TTL_S>:<token sub>` and credential base64(HMAC-SHA1(TURN_SECRET, username));
 *     nothing configured → {iceServers: [], ttl}
 *   OPTIONS /ice-servers             → 204 CORS preflight (never authenticated, never counted)
 *   any other method                 → 405 Allow: GET, HEAD, OPTIONS
 *
 * Who gets them: with AUTH on, a client with a valid access token — any grant; the token is the same one it connects
 * with — as `Authorization: Bearer <token>` or `?token=<token>` (a page that cannot set headers); with AUTH off,
 * anyone (development). Refusals are JSON `{error}`: 401 without a token or with a bad one (`WWW-Authenticate:
 * Bearer realm="ice-servers"…`, RFC 6750 §3), 400 an Authorization that is not Bearer, 503 AUTH on with no key
 * configured (worker/auth.ts, worker/access.ts). Every GET counts against the address's media rate limit first
 * (RATE_LIMIT_MEDIA: a client asks once per session, before it publishes or plays; 429 + Retry-After over it), before
 * authentication, so tokens cannot be tried fast. CORS is open, as for WHIP / WHEP.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { RATE_LIMIT_RETRY_AFTER_S } from "../protocol/index.js";
import { ICE_SERVERS_PATH, turnCredentials, turnUserId, type IceServer, type IceServersResponse } from "../protocol/turn.js";
import { authenticate } from "./access.js";
import { bearerAccess, type AuthedApp } from "./auth.js";
import type { Config } from "./config.js";
import { config } from "./env.js";
import { log } from "./log.js";
import { clientAddress, rateLimit } from "./rate-limit.js";

const REALM = "ice-servers";

/**
 * The `iceServers` answer for a client whose token says `sub` (undefined: no token, or none in it), at `nowMs`.
 * Pure but for WebCrypto: the unit tests call it with a fixed clock.
 */
export async function iceServersFor(
  cfg: Pick<Config, "TURN_URLS" | "TURN_SECRET" | "TURN_TTL_S" | "STUN_URLS">,
  sub: string | undefined,
  nowMs: number,
): Promise<IceServersResponse> {
  const iceServers: IceServer[] = [];
  if (cfg.STUN_URLS.length > 0) iceServers.push({ urls: cfg.STUN_URLS });
  if (cfg.TURN_URLS.length > 0 && cfg.TURN_SECRET !== undefined) {
    const expiresAtS = Math.floor(nowMs / 1000) + cfg.TURN_TTL_S;
    iceServers.push({ urls: cfg.TURN_URLS, ...(await turnCredentials(cfg.TURN_SECRET, turnUserId(sub), expiresAtS)) });
  }
  return { iceServers, ttl: cfg.TURN_TTL_S };
}

/** `{error}` with `status`, and the headers. */
const refusal = (error: string, status: 401 | 429 | 503, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify({ error }), { status, headers: { "Content-Type": "application/json", ...headers } });

const bearer = bearerAccess(authenticate, REALM, (error) => ({ error }));

/**
 * Authentication: `Authorization: Bearer` through worker/auth.ts; without that header, a `?token=` is checked by the
 * same worker/access.ts `authenticate` (the header wins when both are given).
 */
const tokenAccess: MiddlewareHandler<AuthedApp> = async (c, next) => {
  const token = c.req.query("token");
  if (c.req.method === "OPTIONS" || token === undefined || c.req.header("Authorization") !== undefined) return bearer(c, next);
  const r = await authenticate(config(c.env), token);
  if (r.ok) {
    c.set("access", r.access);
    return next();
  }
  if (r.code === "not_configured") return refusal(r.info, 503);
  const quoted = r.info.replace(/[\\"]/g, "\\$&");
  return refusal(r.info, 401, { "WWW-Authenticate": `Bearer realm="${REALM}", error="invalid_token", error_description="${quoted}"` });
};

export const iceServers = new Hono<AuthedApp>();
iceServers.use(
  ICE_SERVERS_PATH,
  cors({ origin: "*", allowMethods: ["GET", "OPTIONS"], allowHeaders: ["Authorization"], exposeHeaders: ["Retry-After"], maxAge: 86400 }),
);
iceServers.use(ICE_SERVERS_PATH, async (c, next) => {
  // nothing but GET / HEAD (and the preflight) is counted or authenticated: others get the 405 of any read-only path
  if (!["GET", "HEAD", "OPTIONS"].includes(c.req.method)) return c.text("Method not allowed", 405, { Allow: "GET, HEAD, OPTIONS" });
  const limited = c.req.method === "OPTIONS" ? undefined : await rateLimit(c.env, "media", clientAddress(c.req.raw.headers));
  return limited ? refusal(limited.info, 429, { "Retry-After": String(RATE_LIMIT_RETRY_AFTER_S) }) : next();
});
iceServers.use(ICE_SERVERS_PATH, tokenAccess);
iceServers.get(ICE_SERVERS_PATH, async (c) => {
  const cfg = config(c.env);
  const body = await iceServersFor(cfg, c.var.access.sub, Date.now());
  if (cfg.TURN_URLS.length > 0) log("info", "turn_credentials_issued", { sub: c.var.access.sub, ttl: cfg.TURN_TTL_S });
  return c.json(body, 200, { "Cache-Control": "no-store" });
});
