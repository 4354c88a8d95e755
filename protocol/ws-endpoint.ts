/**
 * The Flussonic-style WebRTC WebSocket endpoint: plain JSON text frames `{type, …}` for browsers and tools that speak
 * SDP offer/answer over a bare WebSocket, next to the WCS protocol. One socket carries one stream leg.
 *
 *   ws(s)://host/NAME/webrtc/publish   client → {type:"offer", sdp}    server → {type:"answer", sdp}
 *   ws(s)://host/NAME/webrtc/play      server → {type:"offer", sdp}    client → {type:"answer", sdp}
 *
 * - The server's SDP (answer or offer) carries every server ICE candidate and `a=end-of-candidates`: the server sends
 *   no `candidate` messages (a client that handles them anyway loses nothing).
 * - The client trickles its candidates as `{type:"candidate", candidate}`, where `candidate` is either an
 *   RTCIceCandidateInit object `{candidate, sdpMid?, sdpMLineIndex?, usernameFragment?}` (what
 *   `JSON.stringify(e.candidate)` gives) or the bare `candidate:…` string (an optional `a=` prefix is dropped). An empty string or `null` (end of
 *   candidates) is accepted and ignored. Candidates may be sent as soon as the offer (publish) or answer (play) is
 *   sent; the server keeps them until the media node can take them. Only IP-literal candidates are used (mDNS
 *   `*.local` names are ignored: the client's connectivity checks reveal its address anyway).
 * - Status changes of the leg arrive as `{type:"status", status, info?}` with the WCS statuses and `info` strings
 *   (PUBLISHING / PLAYING once ICE+DTLS are up; UNPUBLISHED / STOPPED / FAILED when it ends). After a terminal
 *   status the server closes the socket ({@link WsCloseCode}): a player whose publisher stopped gets
 *   `{type:"status", status:"FAILED", info:"Stopped by publisher stop"}` and close code 4000.
 * - A refused request gets `{type:"error", info}` (WCS `info`: "Stream name is already in use", "Stream not found",
 *   "Invalid SDP: …", "No common codecs", …) and the socket is closed with a 4xxx code. Bad frames (not JSON, unknown
 *   `type`, a second offer, an offer on /play or an answer on /publish, binary or oversized frames) get
 *   `{type:"error", info}` and the socket stays open.
 * - Closing the socket ends the leg: a publisher's stream ends like WCS unPublishStream (its players get FAILED
 *   "Stopped by publisher stop").
 */
import { z } from "zod";
import { isCandidate } from "./ice.js";
import type { RefusalCode } from "./refusal.js";
import { MAX_SDP_BYTES } from "./sdp.js";

/** Largest text frame accepted, in characters (an SDP of up to MAX_SDP_BYTES plus JSON). */
export const MAX_WS_FRAME_BYTES = 80 * 1024;
/** A publisher socket that sends no offer within this time is closed ({@link WsCloseCode.TIMEOUT}). */
export const WS_OFFER_TIMEOUT_MS = 30_000;

/** Close codes of the endpoint (reason = the `info` of the last error or status, cut to 123 bytes). */
export const WsCloseCode = {
  /** The stream ended normally: UNPUBLISHED / STOPPED (REST /stream/terminate, the client's PeerConnection closed). */
  NORMAL: 1000,
  /** The stream ended with FAILED after it started ("Stopped by publisher stop", ICE timeout, media node lost, …). */
  FAILED: 4000,
  /** Refused: invalid SDP, no common codecs, bad stream name. */
  BAD_REQUEST: 4400,
  /** Refused: missing or bad credentials. */
  UNAUTHORIZED: 4401,
  /** Refused: not allowed. */
  FORBIDDEN: 4403,
  /** Refused: "Stream not found" (play of a name that is not publishing). */
  NOT_FOUND: 4404,
  /** No offer within {@link WS_OFFER_TIMEOUT_MS} (publish), or the media node did not answer in time. */
  TIMEOUT: 4408,
  /** Refused: "Stream name is already in use" (publish), or a request that conflicts with the leg's state. */
  CONFLICT: 4409,
  /** Refused: the client's address is over a rate limit ("Too many requests"). */
  TOO_MANY_REQUESTS: 4429,
  /** Refused for another reason ("Failed by error…"). */
  ERROR: 4500,
  /** Refused: no media node available / node full / media node lost; retry later. */
  UNAVAILABLE: 4503,
} as const;
export type WsCloseCode = (typeof WsCloseCode)[keyof typeof WsCloseCode];

/** A trickled candidate as an RTCIceCandidateInit (browser `e.candidate.toJSON()`). */
export const WsCandidateInit = z
  .object({
    candidate: z.string().max(1024),
    sdpMid: z.string().max(64).nullish(),
    sdpMLineIndex: z.number().int().min(0).max(63).nullish(),
    usernameFragment: z.string().max(256).nullish(),
  })
  .passthrough();
export type WsCandidateInit = z.infer<typeof WsCandidateInit>;

/** Client → server frames. */
export const WsClientMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("offer"), sdp: z.string().min(1).max(MAX_SDP_BYTES) }).passthrough(),
  z.object({ type: z.literal("answer"), sdp: z.string().min(1).max(MAX_SDP_BYTES) }).passthrough(),
  z.object({ type: z.literal("candidate"), candidate: z.union([z.string().max(1024), WsCandidateInit, z.null()]) }).passthrough(),
]);
export type WsClientMessage = z.infer<typeof WsClientMessage>;

/** Server → client frames. */
export type WsServerMessage =
  | { type: "offer"; sdp: string }
  | { type: "answer"; sdp: string }
  | { type: "status"; status: string; info?: string }
  | { type: "error"; info: string };

/** A client candidate normalized for the media node: `candidate:…` and the mid it names (if any). */
export interface WsCandidate {
  candidate: string;
  mid?: string;
  /** m-line index, used when no mid is given. */
  mLineIndex?: number;
}

/**
 * Normalizes the `candidate` field of a `candidate` message (either form, see the file header).
 * @returns null for end-of-candidates (empty string / null), an error reason for a malformed candidate
 */
export function normalizeCandidate(c: string | WsCandidateInit | null): { ok: true; candidate: WsCandidate | null } | { ok: false; reason: string } {
  if (c === null) return { ok: true, candidate: null };
  const init: WsCandidateInit = typeof c === "string" ? { candidate: c } : c;
  const line = init.candidate.trim().replace(/^a=/, "");
  if (line === "") return { ok: true, candidate: null };
  if (!isCandidate(line)) return { ok: false, reason: `malformed candidate: ${line.slice(0, 120)}` };
  return {
    ok: true,
    candidate: {
      candidate: line,
      ...(init.sdpMid ? { mid: init.sdpMid } : {}),
      ...(typeof init.sdpMLineIndex === "number" ? { mLineIndex: init.sdpMLineIndex } : {}),
    },
  };
}

/** A close reason cut to the 123 bytes a close frame has room for (RFC 6455 §5.5: 125-byte payload, 2 for the code). */
export function closeReason(text: string): string {
  let r = text;
  while (new TextEncoder().encode(r).length > 123) r = r.slice(0, -1);
  return r;
}

/** Close code of a refused request, per refusal code (see {@link WsCloseCode}). */
export const WS_CLOSE_CODE: Record<RefusalCode, WsCloseCode> = {
  invalid_request: WsCloseCode.BAD_REQUEST,
  unauthorized: WsCloseCode.UNAUTHORIZED,
  forbidden: WsCloseCode.FORBIDDEN,
  not_found: WsCloseCode.NOT_FOUND,
  name_in_use: WsCloseCode.CONFLICT,
  conflict: WsCloseCode.CONFLICT,
  invalid_sdp: WsCloseCode.BAD_REQUEST,
  no_common_codecs: WsCloseCode.BAD_REQUEST,
  no_media_node: WsCloseCode.UNAVAILABLE,
  node_full: WsCloseCode.UNAVAILABLE,
  node_lost: WsCloseCode.UNAVAILABLE,
  timeout: WsCloseCode.TIMEOUT,
  remote_error: WsCloseCode.ERROR,
  stopped: WsCloseCode.ERROR,
  rate_limited: WsCloseCode.TOO_MANY_REQUESTS,
  not_configured: WsCloseCode.UNAVAILABLE,
  error: WsCloseCode.ERROR,
};
