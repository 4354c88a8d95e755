/**
 * The WCS REST API under `/rest-api/` (docs/protocols.md "REST API"; Web SDK src/rest-module.js): JSON bodies,
 * POST (GET accepted for body-less calls), CORS `*`, a bearer token when REST_API_TOKEN is configured. Only HTTP 200
 * means success to WCS clients; an empty `find_all` is 404.
 */
import { z } from "zod";
import { EventLoopStats, NodeLoad } from "./media-node.js";
import type { RefusalCode } from "./refusal.js";

/**
 * `/stream/find` and `/stream/terminate` filter: every given field must match; `mediaSessionIds` matches any of the
 * listed ids; `{}` matches every stream (docs.flashphoner.com "/stream/terminate").
 */
export const StreamFilter = z
  .object({
    name: z.string().max(256).optional(),
    mediaSessionId: z.string().max(128).optional(),
    mediaSessionIds: z.array(z.string().max(128)).max(1000).optional(),
    published: z.boolean().optional(),
    status: z.string().max(32).optional(),
  })
  .passthrough();
export type StreamFilter = z.infer<typeof StreamFilter>;

/**
 * `/stream/snapshot {streamName}` (WCS docs "Taking a PNG snapshot of the stream"): 200 `{data: <base64 PNG>}`
 * (protocol/snapshot.ts), 404 "Stream not found" unless the stream is publishing. Other fields are ignored.
 */
export const StreamSnapshotBody = z.object({ streamName: z.string().min(1).max(256) }).passthrough();
export type StreamSnapshotBody = z.infer<typeof StreamSnapshotBody>;

/** Error body of a refused REST call: HTTP status + a human-readable reason. */
export interface RestError {
  error: string;
}

/**
 * HTTP status of a refused REST call (`/stream/*`, `/pull/*`), per refusal code. WCS clients treat anything but 200
 * as failure; the codes follow the WCS docs where they say one (404 nothing found, 409 relay exists, 500 the remote
 * server refused a relay).
 */
export const REST_HTTP_STATUS: Record<RefusalCode, 400 | 401 | 403 | 404 | 409 | 429 | 500 | 503> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  name_in_use: 409,
  conflict: 409,
  invalid_sdp: 400,
  no_common_codecs: 400,
  no_media_node: 503,
  node_full: 503,
  node_lost: 500,
  timeout: 500,
  remote_error: 500,
  stopped: 500,
  rate_limited: 429,
  not_configured: 503,
  error: 500,
};

/**
 * One media node of `/rest-api/nodes/find_all` (GET or POST; 404 "Node not found" when none is registered): the node
 * registry's view (worker/node-registry-do.ts) for operators (`wcs-edge nodes`). `live` false = silent for more than
 * 3 heartbeat periods (about to be declared lost); `draining` = no new stream is placed on it; `version` its
 * package.json version when the node reports one; `streams` how many streams are placed on it; `legs` the legs it
 * holds (its last heartbeat); `heartbeatAgeMs` since its last heartbeat; `eventLoop` its media loop's health. No
 * secret and no signing data.
 */
export const RestNode = z.object({
  nodeId: z.string(),
  bootId: z.string(),
  controlUrl: z.string(),
  version: z.string().optional(),
  live: z.boolean(),
  draining: z.boolean(),
  load: NodeLoad,
  legs: z.number().int().nonnegative().optional(),
  maxLegs: z.number().int().nonnegative(),
  streams: z.number().int().nonnegative(),
  lastHeartbeat: z.number().int().nonnegative(),
  heartbeatAgeMs: z.number().int().nonnegative(),
  heartbeatIntervalMs: z.number().int().positive(),
  eventLoop: EventLoopStats.optional(),
});
export type RestNode = z.infer<typeof RestNode>;
