/**
 * TURN and STUN for clients on networks that block UDP (README "TURN", docs/turn.md): the `GET /ice-servers` answer,
 * the URI grammar of the worker's TURN_URLS / STUN_URLS, and the short-lived TURN credentials of the TURN REST API.
 *
 * Credentials ("A REST API For Access To TURN Services", draft-uberti-behave-turn-rest-00 §2.2; coturn
 * README.turnserver "TURN REST API", options `use-auth-secret` + `static-auth-secret`):
 *
 *   username   = `<expiry, unix seconds>:<user id>`   (the expiry alone when there is no user id)
 *   credential = base64(HMAC-SHA1(key = the shared secret, message = username))
 *
 * The TURN server knows the same secret, recomputes the password from the username and refuses (401) a username
 * whose timestamp is in the past. coturn checks it when a TURN session first authenticates (its Allocate): refreshes
 * of an allocation made in time keep working after the expiry (coturn src/server/ns_turn_server.c check_stun_auth
 * looks the key up only while the session has none).
 *
 * The answer is the W3C `RTCIceServer[]` (webrtc-pc §4.2.4), ready for `new RTCPeerConnection({iceServers})`, plus
 * the draft's `ttl` (seconds the credentials are valid). No runtime dependency (our browser SDK imports it, without
 * zod); WebCrypto only, so the same code runs in Workers, Node ≥ 20 and browsers.
 */

/** Path of the endpoint that hands clients their `iceServers` (worker/turn.ts). */
export const ICE_SERVERS_PATH = "/ice-servers";
/** Most URIs in TURN_URLS, and in STUN_URLS. */
export const MAX_ICE_URLS = 16;
/** Shortest TURN_SECRET accepted, characters. */
export const TURN_SECRET_MIN_CHARS = 16;

/** One ICE server: `urls` and, for TURN, the credentials (RTCIceServer; `credentialType` is always "password"). */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** `GET /ice-servers` → 200. */
export interface IceServersResponse {
  /** STUN servers (no credentials), then the TURN servers with this client's credentials; [] when none is configured. */
  iceServers: IceServer[];
  /** Seconds the credentials are valid from now (draft-uberti-behave-turn-rest-00 §2.2 `ttl`): fetch again before. */
  ttl: number;
}

/** Whether `v` has the shape of an {@link IceServersResponse} (what a client checks before using it). */
export function isIceServersResponse(v: unknown): v is IceServersResponse {
  if (typeof v !== "object" || v === null) return false;
  const { iceServers, ttl } = v as Record<string, unknown>;
  const str = (s: unknown) => typeof s === "string";
  return (
    typeof ttl === "number" &&
    Number.isFinite(ttl) &&
    ttl >= 0 &&
    Array.isArray(iceServers) &&
    iceServers.every((s: unknown) => {
      if (typeof s !== "object" || s === null) return false;
      const { urls, username, credential } = s as Record<string, unknown>;
      return (
        (str(urls) || (Array.isArray(urls) && urls.length > 0 && urls.every(str))) &&
        (username === undefined || str(username)) &&
        (credential === undefined || str(credential))
      );
    })
  );
}

// ---- URIs --------------------------------------------------------------------------------------------------------

/** host of RFC 3986 as far as ICE servers need it: `[IPv6]`, an IPv4 address or a DNS name. */
const HOST = String.raw`(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)`;
/** RFC 7065 §3.1 `turnURI = scheme ":" host [ ":" port ] [ "?transport=" transport ]`, transports browsers use. */
const TURN_URI = new RegExp(String.raw`^(turns?):${HOST}(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$`, "i");
/** RFC 7064 §3.1 `stunURI = scheme ":" host [ ":" port ]`. */
const STUN_URI = new RegExp(String.raw`^(stuns?):${HOST}(?::(\d{1,5}))?$`, "i");

/** The URIs of a list, or the first bad one and why. */
export type IceUrlList = { ok: true; urls: string[] } | { ok: false; bad: string; why: string };

/**
 * Parses a comma-separated list of TURN (`kind` "turn": `turn:` / `turns:` URIs, RFC 7065) or STUN (`kind` "stun":
 * `stun:` / `stuns:`, RFC 7064) URIs; blanks around commas are ignored, an empty text is an empty list. Refused:
 * another scheme, a path or user info, a port outside 1–65535, a transport other than udp/tcp (Chromium throws on the
 * whole RTCPeerConnection configuration for one: "Transport parameter should always be udp or tcp"), and `turns:`
 * over udp (TURN over DTLS, which browsers do not implement: a URI nobody could use).
 */
export function parseIceUrls(text: string, kind: "turn" | "stun"): IceUrlList {
  const urls = text
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  if (urls.length > MAX_ICE_URLS) return { ok: false, bad: urls[MAX_ICE_URLS] ?? "", why: `more than ${MAX_ICE_URLS} URIs` };
  for (const url of urls) {
    const m = (kind === "turn" ? TURN_URI : STUN_URI).exec(url);
    if (!m) {
      const form = kind === "turn" ? "turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT][?transport=tcp]" : "stun:HOST[:PORT] or stuns:HOST[:PORT]";
      return { ok: false, bad: url, why: `expected ${form}` };
    }
    const port = m[3] === undefined ? undefined : Number(m[3]);
    if (port !== undefined && (port < 1 || port > 65535)) return { ok: false, bad: url, why: "port must be 1 to 65535" };
    if (m[1]?.toLowerCase() === "turns" && m[4]?.toLowerCase() === "udp") {
      return { ok: false, bad: url, why: "turns: is TURN over TLS, i.e. over TCP (browsers have no TURN over DTLS)" };
    }
  }
  return { ok: true, urls };
}

// ---- credentials -------------------------------------------------------------------------------------------------

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacSha1Key(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
    keys.set(secret, key);
  }
  return key;
}

/**
 * The user id part of a TURN username, from an access token's `sub`: characters outside `A-Z a-z 0-9 . _ @ + = -`
 * become `_`, at most 128 are kept. coturn refuses (400) usernames with blanks, quotes or backslashes, and ones
 * containing both "union" and "select" (its SQL guard, is_secure_string): such a `sub` gives no user id (undefined),
 * as does an empty one. The id only labels the allocation in coturn's logs; it grants nothing.
 */
export function turnUserId(sub: string | undefined): string | undefined {
  if (sub === undefined) return undefined;
  const id = sub.replace(/[^A-Za-z0-9._@+=-]/g, "_").slice(0, 128);
  if (id === "" || (/union/i.test(id) && /select/i.test(id))) return undefined;
  return id;
}

/**
 * TURN REST API credentials (see the file's comment) valid until `expiresAtS` (unix seconds) for `userId`
 * (see {@link turnUserId}; undefined: the timestamp alone, as the draft allows).
 */
export async function turnCredentials(secret: string, userId: string | undefined, expiresAtS: number): Promise<{ username: string; credential: string }> {
  const username = userId === undefined ? String(expiresAtS) : `${expiresAtS}:${userId}`;
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacSha1Key(secret), encoder.encode(username)));
  return { username, credential: btoa(String.fromCharCode(...mac)) };
}
