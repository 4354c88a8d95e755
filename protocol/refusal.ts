/**
 * Refusal codes: why a request was refused, as a machine-readable code carried end to end — media-node API error
 * bodies, Durable Object results, relay events — next to the human-readable `info` (the WCS-style text a client
 * shows). Every wire maps the code to its own status in one table: HTTP status of the media-node API
 * (`protocol/media-node.ts`), of WHIP/WHEP (`protocol/whip.ts`) and of the REST API (`protocol/rest.ts`), close code of
 * the WebSocket endpoint (`protocol/ws-endpoint.ts`). No status is ever derived from an `info` text, so rewording
 * an `info` cannot change a status. No runtime dependency.
 */

/** Every refusal code, with what it means. */
export const REFUSAL_CODES = [
  /** The request is malformed or out of range (bad JSON, schema error, name too long). */
  "invalid_request",
  /** Missing or bad credentials (signature, token). */
  "unauthorized",
  /** Valid credentials, or none needed, but this is not allowed (a relay URI outside RELAY_ALLOWED_URIS). */
  "forbidden",
  /** The stream, leg, resource or relay does not exist (a play of a name that is not publishing). */
  "not_found",
  /** The stream name already has a publisher. */
  "name_in_use",
  /** The request conflicts with the current state (leg or relay id in use, a leg that is not waiting for an answer). */
  "conflict",
  /** The SDP cannot be parsed or cannot do what the request needs. */
  "invalid_sdp",
  /** The SDP offers no codec the stream can use. */
  "no_common_codecs",
  /** No live media node can take the stream. */
  "no_media_node",
  /** The media node has no room for another leg. */
  "node_full",
  /** The media node is unreachable or was lost. */
  "node_lost",
  /** A peer did not act in time: a media node did not answer, a relay's remote server did not answer, a client sent no offer. */
  "timeout",
  /** A relay's remote server refused the stream or cannot be reached. */
  "remote_error",
  /** The request's own leg ended while it was being set up (its session closed, its publisher stopped). */
  "stopped",
  /** The client's address is over a rate limit (`info` "Too many requests"). */
  "rate_limited",
  /** The server lacks the configuration the request needs (authentication on, but no key configured). */
  "not_configured",
  /** Anything else (a bug or an engine failure); `info` says what. */
  "error",
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

/**
 * Seconds a client over a rate limit should wait (`Retry-After` of a 429): the period of the worker's limiters
 * (wrangler.toml `[[ratelimits]]`, 10 s).
 */
export const RATE_LIMIT_RETRY_AFTER_S = 10;

/** A refused request: the code decides statuses, `info` is for people. */
export interface Refusal {
  ok: false;
  code: RefusalCode;
  info: string;
}

/** The outcome of a request: `{ok: true, …T}` or a {@link Refusal}. */
export type Result<T extends object = object> = ({ ok: true } & T) | Refusal;

/** Builds a {@link Refusal}. */
export function refusal(code: RefusalCode, info: string): Refusal {
  return { ok: false, code, info };
}
