/**
 * Optional bearer-token checks of the HTTP APIs (REST, WHIP/WHEP), on hono's own `bearerAuth` (constant-time
 * compare, RFC 6750 challenges: 401 without a token or with a wrong one, 400 for an Authorization header that is not
 * `Bearer <token>`). OPTIONS (CORS preflight) is never checked.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import type { Env } from "./env.js";

type App = { Bindings: Env };

/**
 * A middleware that requires `Authorization: Bearer <token>` when `tokenOf(env)` gives a token, and lets everything
 * through when it gives none.
 * @param body the refusal body for a text: a string (text/plain) or an object (JSON)
 */
export function optionalBearer(
  tokenOf: (env: Env) => string | undefined,
  realm: string,
  body: (text: string) => string | object,
): MiddlewareHandler<App> {
  return async (c, next) => {
    const token = tokenOf(c.env);
    if (!token || c.req.method === "OPTIONS") return next();
    const check: MiddlewareHandler = bearerAuth({
      token,
      realm,
      noAuthenticationHeader: { message: body("Bearer token required") },
      invalidAuthenticationHeader: { message: body("Authorization must be Bearer <token>") },
      invalidToken: { message: body("Invalid bearer token") },
    });
    return check(c as unknown as Context, next);
  };
}
