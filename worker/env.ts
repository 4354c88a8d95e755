import type { NodeRegistryDO } from "./node-registry-do.js";
import type { NonceDO } from "./nonce-do.js";
import type { RelayDO } from "./relay-do.js";
import type { RoomDO } from "./room-do.js";
import type { SessionDO } from "./session-do.js";
import type { RecordingDO } from "./recording-do.js";
import type { StatsDO } from "./stats-do.js";
import type { StreamDO } from "./stream-do.js";
import type { WebhookOutboxDO } from "./webhook-outbox-do.js";
import type { WsEndpointDO } from "./ws-endpoint-do.js";

/** Bindings of the worker (wrangler.toml) and its secrets. */
export interface Env {
  SESSION: DurableObjectNamespace<SessionDO>;
  STREAM: DurableObjectNamespace<StreamDO>;
  NODE_REGISTRY: DurableObjectNamespace<NodeRegistryDO>;
  ROOM: DurableObjectNamespace<RoomDO>;
  /** One per socket of the Flussonic-style endpoint `/NAME/webrtc/publish|play` (worker/ws-endpoint-do.ts). */
  WS_ENDPOINT: DurableObjectNamespace<WsEndpointDO>;
  /** The one registry of server-to-server relays, `/rest-api/pull/*` (worker/relay-do.ts). */
  RELAY: DurableObjectNamespace<RelayDO>;
  /** The nonces of accepted media-node calls, sharded (worker/nonce-do.ts): replays are refused. */
  NONCE: DurableObjectNamespace<NonceDO>;
  /** The webhook outbox, sharded (worker/webhook-outbox-do.ts): events are stored, then delivered with retries. */
  WEBHOOKS: DurableObjectNamespace<WebhookOutboxDO>;
  /** Open sessions, rooms and participants for `/metrics` (worker/stats-do.ts). */
  STATS: DurableObjectNamespace<StatsDO>;
  /** One per recording: the R2 multipart upload of its file (worker/recording-do.ts). */
  RECORDING: DurableObjectNamespace<RecordingDO>;
  /** The recordings' files, `records/<recordName>` (protocol/recording.ts); unbound = streams are not recorded. */
  RECORDINGS?: R2Bucket;
  ASSETS?: Fetcher;
  /** Rate limits per client address (wrangler.toml `[[ratelimits]]`; worker/rate-limit.ts): WebSocket upgrades… */
  RATE_LIMIT_CONNECT?: RateLimit;
  /** …publish / play requests… */
  RATE_LIMIT_MEDIA?: RateLimit;
  /** …and REST calls. */
  RATE_LIMIT_REST?: RateLimit;
  /** Shared secret of the worker ↔ media-node API (`wrangler secret put MEDIA_NODE_SECRET`; `--var` locally). */
  MEDIA_NODE_SECRET?: string;
  /** "on" (default) or "off": whether clients need an access token (worker/access.ts; README "Security"). */
  AUTH?: string;
  /** HS256 secret of access tokens (a secret: `wrangler secret put AUTH_JWT_SECRET`), at least 32 characters. */
  AUTH_JWT_SECRET?: string;
  /** Public key (SPKI PEM, ES256 or Ed25519) of access tokens signed with ES256 / EdDSA. */
  AUTH_JWT_PUBLIC_KEY?: string;
  /** URL of a JWKS (RFC 7517) with the public keys of access tokens (an identity provider's jwks_uri). */
  AUTH_JWKS_URL?: string;
  /** Required `aud` of access tokens (default "wcs-edge"). */
  AUTH_JWT_AUDIENCE?: string;
  /** Required `iss` of access tokens, when set. */
  AUTH_JWT_ISSUER?: string;
  /** Clock skew tolerated on `exp` / `nbf`, seconds (default 30). */
  AUTH_CLOCK_SKEW_S?: string;
  /** Static admin bearer token of the REST API (a secret); an access token with `admin: true` works too. */
  REST_API_TOKEN?: string;
  /** WCS REST hooks: the backend app URL; each hooked request is POSTed to `<url>/<method>` (worker/rest-hooks.ts). */
  REST_HOOK_URL?: string;
  /** Secret that signs the hook calls (a secret: `wrangler secret put REST_HOOK_SECRET`). */
  REST_HOOK_SECRET?: string;
  /** Timeout of one hook call, ms (default 3000). */
  REST_HOOK_TIMEOUT_MS?: string;
  /** "deny" (default) or "allow": what an unanswered hook means. */
  REST_HOOK_ON_TIMEOUT?: string;
  /** Where webhooks are POSTed (protocol/webhooks.ts; README "Security"); unset = no webhooks. */
  WEBHOOK_URL?: string;
  /** Signing secret of webhooks (a secret: `wrangler secret put WEBHOOK_SECRET`), `whsec_<base64>` or raw; required with WEBHOOK_URL. */
  WEBHOOK_SECRET?: string;
  /** Longest wait between webhook delivery attempts, ms (default 60000; the backoff starts at 1 s and doubles). */
  WEBHOOK_RETRY_MAX_MS?: string;
  /** Age after which an undelivered webhook is dropped, s (default 86400). */
  WEBHOOK_MAX_AGE_S?: string;
  /** TURN servers for clients (`GET /ice-servers`, worker/turn.ts): comma-separated `turn:` / `turns:` URIs; unset = none. */
  TURN_URLS?: string;
  /** The TURN server's shared secret (coturn `static-auth-secret`; a secret: `wrangler secret put TURN_SECRET`); required with TURN_URLS. */
  TURN_SECRET?: string;
  /** Lifetime of the TURN credentials handed out, s (default 3600, 60–86400). */
  TURN_TTL_S?: string;
  /** STUN servers for clients, comma-separated `stun:` / `stuns:` URIs; unset = none. */
  STUN_URLS?: string;
  /** "info" (default), "warn", "error" or "silent". */
  LOG_LEVEL?: string;
  /** Default of a relay's `retry` flag ("true"/"false", default false): a failed relay is started again with backoff. */
  RELAY_RETRY?: string;
  /** Longest wait between relay retries, ms (default 30000; the backoff starts at 1 s and doubles). */
  RELAY_RETRY_MAX_MS?: string;
  /** Where relays may connect (`/rest-api/pull/*`): HOST[:PORT] patterns, comma-separated; unset/empty = nowhere. */
  RELAY_ALLOWED_URIS?: string;
  PING_INTERVAL_MS?: string;
  MISSED_PONGS_LIMIT?: string;
  ICE_TIMEOUT_MS?: string;
  MAX_STREAMS_PER_SESSION?: string;
  MEDIA_NODE_TIMEOUT_MS?: string;
}

export { config, type Config } from "./config.js";

/** The one NodeRegistryDO (media nodes, placement). */
export const registryOf = (env: Env) => env.NODE_REGISTRY.get(env.NODE_REGISTRY.idFromName("global"));
/** The one RelayDO (`/rest-api/pull/*`). */
export const relaysOf = (env: Env) => env.RELAY.get(env.RELAY.idFromName("global"));
/** The StreamDO of a stream name. */
export const streamOf = (env: Env, name: string) => env.STREAM.get(env.STREAM.idFromName(name));
/** The RoomDO of a room name. */
export const roomOf = (env: Env, name: string) => env.ROOM.get(env.ROOM.idFromName(name));
/** The SessionDO of a WCS session id. */
export const sessionOf = (env: Env, sessionId: string) => env.SESSION.get(env.SESSION.idFromString(sessionId));
