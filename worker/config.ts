/**
 * The worker's tunables (`[vars]` of wrangler.toml, `--var`, secrets), validated with zod. Pure (no Workers API), so
 * Node tests read it too; worker/env.ts re-exports it next to the bindings.
 */
import { z } from "zod";
import { ACCESS_TOKEN_AUDIENCE } from "../protocol/access.js";
import { parseRelayAllowList } from "../protocol/relay.js";
import { parseIceUrls, TURN_SECRET_MIN_CHARS } from "../protocol/turn.js";
import { WEBHOOK_MIN_KEY_BYTES, webhookKey } from "../protocol/webhooks.js";

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);
const bool = (def: boolean) =>
  z
    .enum(["true", "false"], { message: 'expected "true" or "false"' })
    .default(def ? "true" : "false")
    .transform((v) => v === "true");

/** A comma-separated list of TURN or STUN URIs (protocol/turn.ts parseIceUrls); empty = none. */
const iceUrls = (kind: "turn" | "stun") =>
  z
    .string()
    .default("")
    .transform((text, ctx) => {
      const r = parseIceUrls(text, kind);
      if (r.ok) return r.urls;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${r.bad}": ${r.why}` });
      return z.NEVER;
    });

const optionalText = (max: number) =>
  z
    .string()
    .max(max)
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

/**
 * Tunables from `[vars]`, validated: a bad value fails loudly (the Durable Object or request that reads it throws
 * with the variable's name) rather than acting strangely.
 */
const Config = z.object({
  /** Server `ping` period, ms (WCS keep_alive.server_interval, default 5000). */
  PING_INTERVAL_MS: int(5000, 200, 60_000),
  /** The socket is closed after this many server pings without a `pong` (WCS keep_alive.probes, default 10). */
  MISSED_PONGS_LIMIT: int(10, 2, 100),
  /** A leg whose ICE+DTLS is not connected this long after the answer fails with "Failed by ICE timeout", ms. */
  ICE_TIMEOUT_MS: int(15_000, 1000, 120_000),
  MAX_STREAMS_PER_SESSION: int(16, 1, 1000),
  /** Timeout of one call to a media node, ms. */
  MEDIA_NODE_TIMEOUT_MS: int(10_000, 500, 60_000),
  /**
   * Players of one stream whose leg creation may wait on the media node at once; more are refused at once with
   * node_full "…too many players joining at once, try again" (the queue between a StreamDO and its node is bounded).
   */
  MAX_JOINS_IN_FLIGHT: int(32, 1, 10_000),
  /** How long a cascade edge whose last player left keeps pulling the stream before it is torn down, ms. */
  CASCADE_LINGER_MS: int(5000, 0, 600_000),
  /** Default `retry` of a relay: a failed relay is started again with backoff. */
  RELAY_RETRY: bool(false),
  /** Longest wait between relay retries, ms (the backoff starts at 1 s and doubles). */
  RELAY_RETRY_MAX_MS: int(30_000, 1000, 3_600_000),
  /** Where relays may connect: comma-separated HOST[:PORT] patterns (protocol/relay.ts); empty = nowhere, `*` = anywhere. */
  RELAY_ALLOWED_URIS: z
    .string()
    .default("")
    .transform((text, ctx) => {
      const r = parseRelayAllowList(text);
      if (r.ok) return r.entries;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${r.bad}" is not HOST[:PORT] (HOST: a name, an IP, *, or *.domain; PORT: a number or *)` });
      return z.NEVER;
    }),
  /** Whether clients need an access token: "on" unless explicitly "off" (the development profile). */
  AUTH: z
    .enum(["on", "off"], { message: 'expected "on" or "off"' })
    .default("on")
    .transform((v) => v === "on"),
  /** HS256 key of access tokens. */
  AUTH_JWT_SECRET: optionalText(4096).refine((v) => v === undefined || v.length >= 32, "must be at least 32 characters"),
  /** SPKI PEM public key (ES256 or Ed25519) of access tokens. */
  AUTH_JWT_PUBLIC_KEY: optionalText(8192).refine((v) => v === undefined || v.startsWith("-----BEGIN PUBLIC KEY-----"), "must be an SPKI PEM (-----BEGIN PUBLIC KEY-----)"),
  /** JWKS URL with the public keys of access tokens. */
  AUTH_JWKS_URL: optionalText(2048).refine((v) => v === undefined || /^https?:\/\//.test(v), "must be an http(s) URL"),
  AUTH_JWT_AUDIENCE: z.string().min(1).max(256).default(ACCESS_TOKEN_AUDIENCE),
  AUTH_JWT_ISSUER: optionalText(256),
  AUTH_CLOCK_SKEW_S: int(30, 0, 300),
  /** Static admin token of the REST API. */
  REST_API_TOKEN: optionalText(4096),
  /** Where webhooks are POSTed (worker/webhooks.ts); unset = no webhooks. */
  WEBHOOK_URL: optionalText(2048).refine((v) => v === undefined || /^https?:\/\/\S+$/.test(v), "must be an http(s) URL"),
  /** The webhook signing secret (protocol/webhooks.ts): `whsec_<base64>` or a raw string, ≥ 24 bytes; required with WEBHOOK_URL. */
  WEBHOOK_SECRET: optionalText(4096).refine((v) => v === undefined || webhookKey(v) !== null, `must be whsec_<base64> or a raw string, at least ${WEBHOOK_MIN_KEY_BYTES} bytes`),
  /** Longest wait between webhook delivery attempts, ms (the backoff starts at 1 s and doubles). */
  WEBHOOK_RETRY_MAX_MS: int(60_000, 1000, 3_600_000),
  /** A webhook not delivered this long after its event is dropped (with an error log), s. */
  WEBHOOK_MAX_AGE_S: int(86_400, 60, 7 * 86_400),
  /** WCS REST hooks: the backend app URL (`<url>/connect`, `/publishStream`, …; protocol/rest-hooks.ts); unset = none. */
  REST_HOOK_URL: optionalText(2048).refine((v) => v === undefined || /^https?:\/\//.test(v), "must be an http(s) URL"),
  /** Secret that signs every hook call (protocol/signing.ts); required with REST_HOOK_URL. */
  REST_HOOK_SECRET: optionalText(4096).refine((v) => v === undefined || v.length >= 16, "must be at least 16 characters"),
  /** How long the backend may take to answer a hook, ms. */
  REST_HOOK_TIMEOUT_MS: int(3000, 100, 30_000),
  /** What a hook that is not answered in time (or cannot be reached) means: "deny" (default) or "allow". */
  REST_HOOK_ON_TIMEOUT: z.enum(["deny", "allow"], { message: 'expected "deny" or "allow"' }).default("deny"),
  /** TURN servers handed to clients by `GET /ice-servers` (worker/turn.ts): comma-separated turn:/turns: URIs (RFC 7065); empty = none. */
  TURN_URLS: iceUrls("turn"),
  /** The TURN server's shared secret (coturn `static-auth-secret`) that signs the clients' short-lived credentials; required with TURN_URLS. */
  TURN_SECRET: optionalText(4096).refine((v) => v === undefined || v.length >= TURN_SECRET_MIN_CHARS, `must be at least ${TURN_SECRET_MIN_CHARS} characters`),
  /** How long TURN credentials are valid, s (the `ttl` of `GET /ice-servers`). */
  TURN_TTL_S: int(3600, 60, 86_400),
  /** STUN servers handed to clients next to the TURN ones: comma-separated stun:/stuns: URIs (RFC 7064); empty = none. */
  STUN_URLS: iceUrls("stun"),
}).refine((c) => c.REST_HOOK_URL === undefined || c.REST_HOOK_SECRET !== undefined, {
  path: ["REST_HOOK_SECRET"],
  message: "is required when REST_HOOK_URL is set",
}).refine((c) => c.WEBHOOK_URL === undefined || c.WEBHOOK_SECRET !== undefined, {
  path: ["WEBHOOK_SECRET"],
  message: "is required when WEBHOOK_URL is set",
}).refine((c) => c.TURN_URLS.length === 0 || c.TURN_SECRET !== undefined, {
  path: ["TURN_SECRET"],
  message: "is required when TURN_URLS is set",
});
export type Config = z.infer<typeof Config>;

/**
 * The validated tunables of `env` (each Durable Object reads them once: env does not change for its lifetime).
 * @throws Error naming every bad variable and why
 */
export function config(env: object): Config {
  const r = Config.safeParse(env);
  if (r.success) return r.data;
  throw new Error(`Invalid worker configuration: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
}

