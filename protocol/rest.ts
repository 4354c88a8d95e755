/**
 * The WCS REST API under `/rest-api/` (docs/protocols.md "REST API"; Web SDK src/rest-module.js): JSON bodies,
 * POST (GET accepted for body-less calls), CORS `*`, a bearer token when REST_API_TOKEN is configured. Only HTTP 200
 * means success to WCS clients; an empty `find_all` is 404.
 */
import { z } from "zod";
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
