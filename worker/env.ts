import { z } from "zod";
import type { NodeRegistryDO } from "./node-registry-do.js";
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
  PING_INTERVAL_MS?: string;
  MISSED_PONGS_LIMIT?: string;
  ICE_TIMEOUT_MS?: string;
  MAX_STREAMS_PER_SESSION?: string;
  MEDIA_NODE_TIMEOUT_MS?: string;
}

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

/** Tunables from `[vars]`, validated; a bad value fails loudly at first use rather than acting strangely. */
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
});
export type Config = z.infer<typeof Config>;

export function config(env: Env): Config {
  return Config.parse({
    PING_INTERVAL_MS: env.PING_INTERVAL_MS,
    MISSED_PONGS_LIMIT: env.MISSED_PONGS_LIMIT,
    ICE_TIMEOUT_MS: env.ICE_TIMEOUT_MS,
    MAX_STREAMS_PER_SESSION: env.MAX_STREAMS_PER_SESSION,
    MEDIA_NODE_TIMEOUT_MS: env.MEDIA_NODE_TIMEOUT_MS,
  });
}
