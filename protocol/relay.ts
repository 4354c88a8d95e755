/**
 * Server-to-server relays (WCS `/rest-api/pull/*`, docs/protocols.md "Server-to-server relays"): REST bodies and the
 * relay records of `find_all`, plus the worker ↔ media-node relay API (signed like every other call,
 * protocol/signing.ts).
 *
 * A relay is run by a media node acting as a WCS client of the remote server at `uri` (a WebSocket URL):
 * - push: the node holding the local stream `publishStream`s it to the remote as `remoteStreamName` (its offer comes
 *   from an offer-mode sendonly player leg of the local stream);
 * - pull: a node `playStream`s `remoteStreamName` from the remote (offer-mode recvonly publisher leg) and the received
 *   RTP becomes the local stream `localStreamName`, whose publisher leg the local StreamDO owns (owner "relay").
 *
 * Worker → media node:
 *   POST   /v1/relays            StartRelayRequest → 200 StartRelayResponse once the remote accepted (setRemoteSDP
 *                                answer applied) | ApiError: not_found (push: no local stream), conflict (relay id in
 *                                use), remote_error (the remote's refusal `info`), timeout (no answer in time)
 *   DELETE /v1/relays/:relayId                      → 200 {ok:true} (also when already gone): unPublishStream /
 *                                stopStream on the remote, socket closed, leg deleted
 * Media node → worker:
 *   POST   /internal/nodes/relay-events  RelayEvent → 200 {ok:true}
 */
import { z } from "zod";

function parsesAsUrl(s: string): boolean {
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

/** WebSocket URL of the remote WCS server. */
const wsUri = z
  .string()
  .min(1)
  .max(2048)
  .refine((s) => /^wss?:\/\/[^\s]+$/i.test(s) && parsesAsUrl(s), { message: "must be a ws:// or wss:// URL" });
const streamName = z.string().min(1).max(256);

/** `/pull/push` and `/pull/pull` body. `retry` (our extension) overrides the worker's RELAY_RETRY default. */
export const RelayRequest = z.object({
  uri: wsUri,
  localStreamName: streamName,
  remoteStreamName: streamName,
  retry: z.boolean().optional(),
});
export type RelayRequest = z.infer<typeof RelayRequest>;

/** `/pull/terminate` body: every given field must match; at least one is required. */
export const RelayFilter = z
  .object({
    uri: z.string().max(2048).optional(),
    localStreamName: z.string().max(256).optional(),
    remoteStreamName: z.string().max(256).optional(),
  })
  .refine((f) => f.uri !== undefined || f.localStreamName !== undefined || f.remoteStreamName !== undefined, {
    message: "give uri, localStreamName and/or remoteStreamName",
  });
export type RelayFilter = z.infer<typeof RelayFilter>;

/**
 * Relay status (the WCS names):
 * - NEW: accepted, not connected to the remote yet (also while waiting for a retry);
 * - PENDING: the remote accepted the offer, ICE/DTLS with the remote node not up yet;
 * - PROCESSED_REMOTE (push): the remote reports the stream PUBLISHING — our RTP reaches it;
 * - PROCESSED_LOCAL (pull): the remote reports PLAYING and the local stream is PUBLISHING;
 * - FAILED: the remote refused or dropped it, or the local side ended; `info` says why. With retry the relay goes
 *   back to NEW after the backoff; without, it stays FAILED (listed) until `/pull/terminate`.
 */
export const RelayStatus = {
  NEW: "NEW",
  PENDING: "PENDING",
  PROCESSED_LOCAL: "PROCESSED_LOCAL",
  PROCESSED_REMOTE: "PROCESSED_REMOTE",
  FAILED: "FAILED",
} as const;
export type RelayStatus = (typeof RelayStatus)[keyof typeof RelayStatus];

/** One element of `/pull/find_all`. The WCS fields first, then ours. */
export interface RelayRecord {
  localMediaSessionId: string | null;
  remoteMediaSessionId: string | null;
  localStreamName: string;
  remoteStreamName: string;
  uri: string;
  status: RelayStatus;
  info?: string;
  /** "push" or "pull". */
  direction: RelayDirection;
  retry: boolean;
  /** Failed attempts since the last success. */
  attempts: number;
  nodeId?: string;
}

export const RelayDirection = z.enum(["push", "pull"]);
export type RelayDirection = z.infer<typeof RelayDirection>;

/** `POST /v1/relays`: start one relay on the node. */
export const StartRelayRequest = z.object({
  relayId: z.string().min(1).max(128),
  direction: RelayDirection,
  uri: wsUri,
  localStreamName: streamName,
  remoteStreamName: streamName,
  /** The relay's leg on this node: push = offer-mode player of the local stream; pull = the local publisher. */
  legId: z.string().min(1).max(128),
  /** mediaSessionId used on the remote server. */
  remoteMediaSessionId: z.string().min(1).max(128),
  /** How long to wait for the remote's answer before giving up, ms. */
  timeoutMs: z.number().int().min(500).max(60_000).default(10_000),
});
export type StartRelayRequest = z.infer<typeof StartRelayRequest>;

export const StartRelayResponse = z.object({
  ok: z.literal(true),
  videoCodec: z.string().optional(),
  audioCodec: z.string().optional(),
});
export type StartRelayResponse = z.infer<typeof StartRelayResponse>;

/**
 * A relay's state change, reported by its node: `active` = the remote reports PUBLISHING (push) / PLAYING (pull);
 * `failed` = the relay is over (remote refused, remote stream ended, socket closed, ICE/DTLS with the remote node
 * failed, local stream gone); the node has already closed the leg and the socket. `info` is the reason.
 */
export const RelayEvent = z.object({
  nodeId: z.string(),
  bootId: z.string(),
  relayId: z.string(),
  state: z.enum(["active", "failed"]),
  info: z.string().max(1024).optional(),
});
export type RelayEvent = z.infer<typeof RelayEvent>;

export const RelayPaths = {
  relays: "/v1/relays",
  relay: (relayId: string) => `/v1/relays/${encodeURIComponent(relayId)}`,
  events: "/internal/nodes/relay-events",
} as const;

/** `info` strings of relay failures (ours; WCS has none for these). */
export const RelayInfo = {
  REMOTE_CLOSED: "Remote server closed the connection",
  REMOTE_UNREACHABLE: "Remote server unreachable",
  REMOTE_TIMEOUT: "Remote server did not answer in time",
  LOCAL_STREAM_STOPPED: "Local stream stopped",
  TERMINATED: "Terminated by rest /pull/terminate",
} as const;
