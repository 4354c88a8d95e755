/**
 * The STUN / TURN servers of a session's peer connections, asked from the server: `GET /ice-servers` on the signaling
 * server's origin (ws → http, wss → https), with the session's access token as `Authorization: Bearer` (its
 * `custom.token`, else the `?token=` of urlServer). The answer (protocol/turn.ts) carries short-lived TURN credentials
 * and their `ttl`; it is kept for the session and asked again only when a peer connection is created shortly before
 * the credentials expire (the last tenth of the ttl, at most a minute). README "TURN".
 *
 * Servers without the endpoint (WCS itself, an older wcs-edge) are normal: a 404 / 405 / 426 / 501 means "none" for
 * the rest of the session, logged at debug level only. Any other failure (a network error, 401, 429, 5xx, a body that
 * is not an ice-servers answer, no answer within {@link ICE_SERVERS_TIMEOUT_MS}) means "none" for
 * {@link ICE_SERVERS_RETRY_MS}; the peer connection is created all the same, with no ICE servers, as the Web SDK does.
 */
import { ICE_SERVERS_PATH, isIceServersResponse } from "../protocol/turn.js";
import type { Logger } from "./events.js";
import type { FetchFunction } from "./platform.js";

/** How long a peer connection waits for the answer, ms. */
export const ICE_SERVERS_TIMEOUT_MS = 5000;
/** After a failure, how long the session goes without ICE servers before it asks again, ms. */
export const ICE_SERVERS_RETRY_MS = 30_000;
/** Statuses of a server without the endpoint. */
const NO_ENDPOINT = new Set([404, 405, 426, 501]);

/**
 * The ice-servers URL of a signaling URL: same host and port, http(s), path {@link ICE_SERVERS_PATH}. Undefined when
 * `urlServer` does not parse or is not ws/wss/http/https.
 */
export function iceServersUrlOf(urlServer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(urlServer);
  } catch {
    return undefined;
  }
  const scheme = { "ws:": "http:", "wss:": "https:", "http:": "http:", "https:": "https:" }[url.protocol];
  if (!scheme) return undefined;
  return `${scheme}//${url.host}${ICE_SERVERS_PATH}`;
}

/** The access token of a session: `custom.token` when it is a string, else `?token=` of urlServer. */
export function sessionToken(custom: unknown, urlServer: string): string | undefined {
  const t = typeof custom === "object" && custom !== null ? (custom as { token?: unknown }).token : undefined;
  if (typeof t === "string" && t !== "") return t;
  try {
    return new URL(urlServer).searchParams.get("token") || undefined;
  } catch {
    return undefined;
  }
}

/** @internal One session's ICE servers: fetched once, then kept until shortly before their credentials expire. */
export class IceServerSource {
  #servers: RTCIceServer[] = [];
  /** ms epoch until which #servers are used without asking again (0: never asked). */
  #until = 0;
  #pending: Promise<RTCIceServer[]> | undefined;

  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
    private readonly fetchFn: FetchFunction,
    private readonly logger: Logger,
  ) {}

  /** The servers, at once when they are still fresh, else a promise of the answer (never rejects). */
  current(): RTCIceServer[] | Promise<RTCIceServer[]> {
    if (Date.now() < this.#until) return this.#servers;
    return this.#fetch();
  }

  /** Asks now unless fresh servers are known or an answer is awaited (the session calls it when ESTABLISHED). */
  prefetch(): void {
    if (Date.now() >= this.#until) void this.#fetch();
  }

  #fetch(): Promise<RTCIceServer[]> {
    this.#pending ??= this.#ask().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #ask(): Promise<RTCIceServer[]> {
    const fail = (level: "debug" | "warn", why: string, forMs: number): RTCIceServer[] => {
      this.logger[level](`no ICE servers from ${this.url}: ${why}; peer connections go without TURN`);
      this.#servers = [];
      this.#until = Date.now() + forMs;
      return this.#servers;
    };
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`no answer within ${ICE_SERVERS_TIMEOUT_MS} ms`)), ICE_SERVERS_TIMEOUT_MS);
    try {
      const res = await this.fetchFn(this.url, { headers: this.token ? { Authorization: `Bearer ${this.token}` } : {}, signal: abort.signal });
      if (NO_ENDPOINT.has(res.status)) return fail("debug", `HTTP ${res.status} (the server has no such endpoint)`, Infinity);
      if (!res.ok) return fail("warn", `HTTP ${res.status}`, ICE_SERVERS_RETRY_MS);
      let body: unknown;
      try {
        body = JSON.parse(await res.text());
      } catch {
        return fail("debug", "the answer is not JSON (the server has no such endpoint)", Infinity);
      }
      if (!isIceServersResponse(body)) return fail("warn", "the answer is not {iceServers, ttl}", ICE_SERVERS_RETRY_MS);
      const ttlMs = body.ttl * 1000;
      this.#servers = body.iceServers;
      this.#until = Date.now() + ttlMs - Math.min(60_000, ttlMs / 10);
      return this.#servers;
    } catch (e) {
      const why = abort.signal.aborted ? String((abort.signal.reason as Error | undefined)?.message ?? "timed out") : e instanceof Error ? e.message : String(e);
      return fail("debug", why, ICE_SERVERS_RETRY_MS);
    } finally {
      clearTimeout(timer);
    }
  }
}
