/**
 * Per-client-address rate limits, on the Workers Rate Limiting binding
 * (https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/; `wrangler dev` runs it locally):
 *
 *   connect  RATE_LIMIT_CONNECT  WebSocket upgrades: WCS sessions and the Flussonic-style sockets  → HTTP 429
 *   media    RATE_LIMIT_MEDIA    publishStream / playStream, snapshot, WHIP / WHEP POST            → FAILED / 429
 *   rest     RATE_LIMIT_REST     /rest-api/* calls (before authentication, so tokens cannot be brute-forced fast) → 429
 *
 * The limits (`limit` requests per `period` of 10 or 60 s, per address) are the `[[ratelimits]]` blocks of
 * wrangler.toml. The address is `CF-Connecting-IP`, which Cloudflare sets on every request (and overwrites when a
 * client sends one). A missing binding means no limit; a binding that fails lets the request through (logged): a rate
 * limiter must not take the server down with it.
 */
import { refusal, type Refusal } from "../protocol/index.js";
import type { Env } from "./env.js";
import { log } from "./log.js";

export type RateLimitKind = "connect" | "media" | "rest";

/** The text of a refusal by a rate limit. */
export const TOO_MANY_REQUESTS = "Too many requests";

const BINDING: Record<RateLimitKind, "RATE_LIMIT_CONNECT" | "RATE_LIMIT_MEDIA" | "RATE_LIMIT_REST"> = {
  connect: "RATE_LIMIT_CONNECT",
  media: "RATE_LIMIT_MEDIA",
  rest: "RATE_LIMIT_REST",
};

/** The client address of a request (`CF-Connecting-IP`), "unknown" without one. */
export function clientAddress(headers: Headers): string {
  return headers.get("CF-Connecting-IP")?.trim() || "unknown";
}

/**
 * Counts one `kind` request of `address`.
 * @returns a `rate_limited` refusal ("Too many requests") when the address is over its limit, else undefined
 */
export async function rateLimit(env: Env, kind: RateLimitKind, address: string): Promise<Refusal | undefined> {
  const limiter = env[BINDING[kind]];
  if (!limiter) return undefined;
  try {
    if ((await limiter.limit({ key: `${kind}:${address}` })).success) return undefined;
  } catch (err) {
    log("warn", "rate_limiter_failed", { kind, error: String(err) });
    return undefined;
  }
  log("warn", "rate_limited", { kind, address });
  return refusal("rate_limited", TOO_MANY_REQUESTS);
}
