/**
 * Authentication of the HTTP APIs (REST, WHIP/WHEP) as hono middleware, on hono's own `bearerAuth` (header parsing,
 * RFC 6750 §3 challenges): the `Authorization: Bearer <token>` goes through worker/access.ts and the caller's
 * {@link Access} is put in `c.var.access` for the routes, which check their grant with {@link forbidden} on refusal.
 *
 *   no Authorization, and the server needs one  → 401  WWW-Authenticate: Bearer realm="…"
 *   an Authorization that is not `Bearer <token>` → 400  WWW-Authenticate: Bearer error="invalid_request"
 *   a token that does not verify                 → 401  WWW-Authenticate: Bearer realm="…", error="invalid_token", error_description="…"
 *   a valid token without the grant (routes)     → 403  WWW-Authenticate: Bearer realm="…", error="insufficient_scope"
 *   AUTH on, no key configured                   → 503  "Authentication is not configured…"
 *
 * OPTIONS (CORS preflight) is never checked. The body of a refusal is the route family's: text for WHIP/WHEP,
 * `{error}` for REST.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AuthInfo, type Access, type Refusal } from "../protocol/index.js";
import type { AccessResult, AuthConfig } from "./access.js";
import { config, type Env } from "./env.js";

/** A hono app whose routes read the caller's access (`c.var.access`). */
export type AuthedApp = { Bindings: Env; Variables: { access: Access; authRefusal?: Refusal } };

/** A refusal body: a string (text/plain) or an object (JSON). */
export type RefusalBody = (info: string) => string | object;

const quoted = (s: string) => s.replace(/[\\"]/g, "\\$&");

function respond(status: ContentfulStatusCode, body: string | object, headers: Record<string, string> = {}): Response {
  return typeof body === "string"
    ? new Response(body, { status, headers: { "Content-Type": "text/plain; charset=UTF-8", ...headers } })
    : new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

/**
 * Middleware: authenticates the bearer token with `authenticate` (worker/access.ts `authenticate` for media,
 * `authenticateAdmin` for REST) and sets `c.var.access`. A request without Authorization passes when the server
 * needs no token (AUTH off, nothing configured to require).
 */
export function bearerAccess(
  authenticate: (cfg: AuthConfig, token: string | undefined) => Promise<AccessResult>,
  realm: string,
  body: RefusalBody,
): MiddlewareHandler<AuthedApp> {
  return async (c, next) => {
    if (c.req.method === "OPTIONS") return next();
    const cfg = config(c.env);
    if (c.req.header("Authorization") === undefined) {
      const anonymous = await authenticate(cfg, undefined);
      if (anonymous.ok) {
        c.set("access", anonymous.access);
        return next();
      }
      if (anonymous.code === "not_configured") return respond(503, body(anonymous.info));
    }
    const check = bearerAuth({
      realm,
      verifyToken: async (token) => {
        const r = await authenticate(cfg, token);
        if (r.ok) c.set("access", r.access);
        else c.set("authRefusal", r);
        return r.ok;
      },
      noAuthenticationHeader: { message: body(AuthInfo.TOKEN_REQUIRED) },
      invalidAuthenticationHeader: { message: body("Authorization must be Bearer <token>") },
      invalidToken: {
        message: () => {
          const r = c.get("authRefusal");
          return r?.code === "not_configured" ? respond(503, body(r.info)) : body(r?.info ?? AuthInfo.TOKEN_REQUIRED);
        },
        wwwAuthenticateHeader: () =>
          `Bearer realm="${quoted(realm)}", error="invalid_token", error_description="${quoted(c.get("authRefusal")?.info ?? "")}"`,
      },
    });
    return check(c as unknown as Context, next);
  };
}

/** 403 for a valid token without the grant (RFC 6750 §3.1 `insufficient_scope`). */
export function forbidden(realm: string, body: string | object): Response {
  return respond(403, body, { "WWW-Authenticate": `Bearer realm="${quoted(realm)}", error="insufficient_scope"` });
}
