/**
 * Environment injection: everything the SDK needs from its host (WebSocket, RTCPeerConnection, MediaStream,
 * getUserMedia, a DOM document for `display` elements). In a browser the defaults are the globals; in Node use
 * `nodePlatform()` from `client/node.ts` (ws + @roamhq/wrtc), which the browser bundle does not include.
 */

/** A WebSocket constructor (the browser's, or `ws`'s, which follows the same `onopen`/`onmessage`/… interface). */
export type WebSocketConstructor = new (url: string) => WebSocket;
/** An RTCPeerConnection constructor (the browser's, or @roamhq/wrtc's). */
export type PeerConnectionConstructor = new (configuration?: RTCConfiguration) => RTCPeerConnection;
/** `fetch` (the browser's or Node's), for the session's `GET /ice-servers` (client/ice-servers.ts). */
export type FetchFunction = (url: string, init?: RequestInit) => Promise<Response>;
/** A MediaStream constructor, used to build the remote stream of a player from its receivers' tracks. */
export type MediaStreamConstructor = new (tracks?: MediaStreamTrack[]) => MediaStream;

/** The host environment of the SDK. Every member can be overridden through `createSession({platform})`. */
export interface Platform {
  /** Opens the signaling socket. */
  WebSocket: WebSocketConstructor;
  /** Creates one peer connection per published or played stream. */
  RTCPeerConnection: PeerConnectionConstructor;
  /** Builds MediaStreams (the player's remote stream). */
  MediaStream: MediaStreamConstructor;
  /**
   * Captures local media when `publish()` is called without a `stream` option. Absent in Node (there is no camera):
   * pass `stream` (e.g. from `createSyntheticStream()` of `client/node.ts`) instead.
   */
  getUserMedia?: (constraints: MediaStreamConstraints) => Promise<MediaStream>;
  /** The document in which `display` elements live; absent outside browsers (then `display` is ignored). */
  document?: Document;
  /** `connection.clientOSVersion` / `clientBrowserVersion` (browsers: navigator.appVersion / userAgent). */
  clientInfo: { osVersion: string; browserVersion: string };
  /** Random ids (mediaSessionId, operationId); a UUID string. */
  randomUUID: () => string;
  /**
   * Fetches the session's STUN / TURN servers (`GET /ice-servers`, README "TURN"); absent: the session does not ask
   * (peer connections get `mediaOptions.iceServers` or none).
   */
  fetch?: FetchFunction;
}

/** A random UUID v4; uses crypto.randomUUID where available (it is missing on plain-http pages). */
export function randomUUID(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  const b = new Uint8Array(16);
  if (typeof c?.getRandomValues === "function") c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The platform made of the host's globals (a browser), completed by `overrides`.
 * @throws Error when a required member (WebSocket, RTCPeerConnection, MediaStream) is neither global nor given.
 */
export function resolvePlatform(overrides: Partial<Platform> = {}): Platform {
  const g = globalThis as Partial<{
    WebSocket: WebSocketConstructor;
    RTCPeerConnection: PeerConnectionConstructor;
    MediaStream: MediaStreamConstructor;
    navigator: Navigator;
    document: Document;
    fetch: FetchFunction;
  }>;
  const nav = g.navigator;
  const media = nav?.mediaDevices;
  const missing = (what: string): never => {
    throw new Error(
      `No ${what} in this environment: pass it in createSession({platform}) ` +
        `(in Node: import { nodePlatform } from the SDK's node entry)`,
    );
  };
  return {
    WebSocket: overrides.WebSocket ?? g.WebSocket ?? missing("WebSocket"),
    RTCPeerConnection: overrides.RTCPeerConnection ?? g.RTCPeerConnection ?? missing("RTCPeerConnection"),
    MediaStream: overrides.MediaStream ?? g.MediaStream ?? missing("MediaStream"),
    getUserMedia:
      overrides.getUserMedia ??
      (typeof media?.getUserMedia === "function" ? (c: MediaStreamConstraints) => media.getUserMedia(c) : undefined),
    document: overrides.document ?? g.document,
    clientInfo: overrides.clientInfo ?? {
      osVersion: nav?.appVersion ?? "unknown",
      browserVersion: nav?.userAgent ?? "unknown",
    },
    randomUUID: overrides.randomUUID ?? randomUUID,
    // bound: a browser's fetch throws "Illegal invocation" when called as a method of another object
    fetch: overrides.fetch ?? (typeof g.fetch === "function" ? g.fetch.bind(globalThis) : undefined),
  };
}
