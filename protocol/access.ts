/**
 * Access grants: what an access token lets its bearer do, and how a stream or room name is matched against a grant.
 *
 * An access token is a JWT (RFC 7519) signed with HS256 (a shared secret) or ES256/EdDSA (a key pair; the worker has
 * the public key or a JWKS URL). Its claims, next to the registered `exp` (required), `nbf`, `iat`, `aud` (must be
 * {@link ACCESS_TOKEN_AUDIENCE} unless configured otherwise) and `iss` (checked when configured):
 *
 *   sub      the login: a WCS session's `custom.login` (room participant name) IS `sub`
 *   publish  stream-name patterns the bearer may publish
 *   play     stream-name patterns the bearer may play
 *   rooms    room-name patterns the bearer may join; inside a joined room it may also publish the room-module names
 *            `<room>-<sub>-…` and play the streams published in that room (Web SDK room-module.js naming)
 *   admin    true: the REST API (`/rest-api/*`)
 *
 * A pattern is an exact name, or a prefix ending in `*` (`"cam-*"`, `"*"`). LiveKit puts the same grants
 * (roomJoin/canPublish/canSubscribe, roomAdmin) in its tokens; ours are flat claims so any JWT library can mint them.
 * Verification is in worker/access.ts (jose); minting for development in client/cli/token.ts. No runtime
 * dependency but zod.
 */
import { z } from "zod";

/** Default `aud` of an access token (AUTH_JWT_AUDIENCE overrides). */
export const ACCESS_TOKEN_AUDIENCE = "wcs-edge";
/** Longest token accepted, characters (longer is refused before any parsing). */
export const MAX_ACCESS_TOKEN_CHARS = 8192;
/** Most patterns per grant. */
export const MAX_GRANT_PATTERNS = 64;

const patterns = z.array(z.string().min(1).max(256)).max(MAX_GRANT_PATTERNS);

/** The grant claims of a verified token (jose has checked signature, `exp`, `nbf`, `aud`, `iss` before). */
export const AccessClaims = z
  .object({
    sub: z.string().min(1).max(128).optional(),
    publish: patterns.optional(),
    play: patterns.optional(),
    rooms: patterns.optional(),
    admin: z.boolean().optional(),
    exp: z.number(),
  })
  .passthrough();
export type AccessClaims = z.infer<typeof AccessClaims>;

/** What a client may do: from its token, or everything when authentication is off. */
export interface Access {
  /** The login (`sub`); undefined for a token without `sub` and when authentication is off. */
  sub?: string;
  publish: string[];
  play: string[];
  rooms: string[];
  admin: boolean;
  /** ms epoch of the token's `exp` (undefined when authentication is off). */
  expiresAt?: number;
}

/** Everything: authentication is off (AUTH=off, the development profile) or the REST_API_TOKEN was presented. */
export const OPEN_ACCESS: Access = Object.freeze({ publish: ["*"], play: ["*"], rooms: ["*"], admin: true }) as Access;

/** The {@link Access} of verified claims. */
export function accessOf(claims: AccessClaims): Access {
  return {
    ...(claims.sub === undefined ? {} : { sub: claims.sub }),
    publish: claims.publish ?? [],
    play: claims.play ?? [],
    rooms: claims.rooms ?? [],
    admin: claims.admin === true,
    expiresAt: claims.exp * 1000,
  };
}

/** Whether `name` matches `pattern`: `*` anything, `prefix*` names starting with prefix, otherwise exactly. */
export function nameMatches(pattern: string, name: string): boolean {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

export type Grant = "publish" | "play" | "rooms";

/** Whether `access` grants `grant` on `name` (a stream name, or a room name for "rooms"). */
export function granted(access: Access, grant: Grant, name: string): boolean {
  return access[grant].some((p) => nameMatches(p, name));
}

/** A room the session has joined, as what lets it publish and play room streams. */
export interface JoinedRoom {
  name: string;
  login: string;
}

/**
 * Whether a publish (`publisher`) or play (`player`) of stream `name` is allowed:
 * - by the `publish` / `play` grant; or
 * - as a member of `room` (joined, and granted by `rooms`): a publish of `<room>-<login>-…` (the Web SDK room-module
 *   names a participant's streams so; the login in the name keeps others from taking it), a play of `<room>-…` —
 *   which the StreamDO allows only when the stream is published in that room (`inRoom`).
 * @returns `{ok: true}`, `{ok: true, inRoom}` when only the room allows it, or `{ok: false}`
 */
export function streamAllowed(
  access: Access,
  role: "publisher" | "player",
  name: string,
  room?: JoinedRoom,
): { ok: true; inRoom?: string } | { ok: false } {
  if (granted(access, role === "publisher" ? "publish" : "play", name)) return { ok: true };
  if (!room || !granted(access, "rooms", room.name)) return { ok: false };
  const prefix = role === "publisher" ? `${room.name}-${room.login}-` : `${room.name}-`;
  return name.startsWith(prefix) ? { ok: true, inRoom: room.name } : { ok: false };
}

/** The texts of authentication and authorization refusals (WCS `info`, HTTP bodies, close reasons). */
export const AuthInfo = {
  TOKEN_REQUIRED: "Not authorized: an access token is required",
  /** @param reason e.g. "expired", "bad signature" */
  tokenInvalid: (reason: string) => `Not authorized: invalid access token (${reason})`,
  notGranted: (action: "publish" | "play", name: string) => `Not authorized to ${action} ${name}`,
  roomNotGranted: (room: string) => `Not authorized to join room ${room}`,
  LOGIN_MISMATCH: "Not authorized: custom.login must be the access token's sub",
  ADMIN_REQUIRED: "Not authorized: the REST API needs REST_API_TOKEN or an access token with admin: true",
  NOT_CONFIGURED:
    "Authentication is not configured on this server: set AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or AUTH_JWKS_URL (or AUTH=off, for development only)",
} as const;
