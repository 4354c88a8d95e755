import { z } from "zod";
import { parseRelayAllowList } from "../protocol/relay.js";
import type { NodeRegistryDO } from "./node-registry-do.js";
import type { NonceDO } from "./nonce-do.js";
import type { RelayDO } from "./relay-do.js";
import type { RoomDO } from "./room-do.js";
import type { SessionDO } from "./session-do.js";
import type { StreamDO } from "./stream-do.js";
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
  ASSETS?: Fetcher;
  /** Shared secret of the worker ↔ media-node API (`wrangler secret put MEDIA_NODE_SECRET`; `--var` locally). */
  MEDIA_NODE_SECRET?: string;
  /** Bearer token of the REST API (`/rest-api/*`); when unset the REST API is open. */
  REST_API_TOKEN?: string;
  /** Bearer token of WHIP/WHEP (`/whip/*`, `/whep/*`); when unset REST_API_TOKEN applies; when both are unset, open. */
  WHIP_TOKEN?: string;
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

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);
const bool = (def: boolean) =>
  z
    .enum(["true", "false"], { message: 'expected "true" or "false"' })
    .default(def ? "true" : "false")
    .transform((v) => v === "true");

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
});
export type Config = z.infer<typeof Config>;

/**
 * The validated tunables of `env` (each Durable Object reads them once: env does not change for its lifetime).
 * @throws Error naming every bad variable and why
 */
export function config(env: Env): Config {
  const r = Config.safeParse(env);
  if (r.success) return r.data;
  throw new Error(`Invalid worker configuration: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
}

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
