/**
 * The WCS REST API under `/rest-api/` (shared/reference/wcs-protocol.md §4; Web SDK src/rest-module.js): JSON bodies,
 * POST (GET accepted for body-less calls), CORS `*`, a bearer token when REST_API_TOKEN is configured. Only HTTP 200
 * means success to WCS clients; an empty `find_all` is 404.
 */
import { z } from "zod";

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
