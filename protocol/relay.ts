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
import { wellFormedName } from "./bounded.js";

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
const streamName = wellFormedName(1, 256);

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
  /** Every failure before the remote speaks WCS (refused, no route, not a WebSocket, TLS): one text, so that the
   * answer does not tell a closed port from an open one. */
  REMOTE_UNREACHABLE: "Remote server unreachable",
  REMOTE_TIMEOUT: "Remote server did not answer in time",
  LOCAL_STREAM_STOPPED: "Local stream stopped",
  TERMINATED: "Terminated by rest /pull/terminate",
} as const;

/**
 * One entry of the relay allow list (RELAY_ALLOWED_URIS): `host` is a lower-case host name, IPv4 address or bracketed
 * IPv6 address, `*` (any host) or `*.domain` (any subdomain of domain, not domain itself); `port` a number or `*`;
 * without a port in the entry, the scheme's default port (80 for ws://, 443 for wss://) is the only one allowed —
 * except for the entry `*` alone, which allows every host and port.
 */
export interface RelayAllowEntry {
  host: string;
  port?: number | "*";
}

const ALLOW_ENTRY = /^(\*|\*\.[a-z0-9-]+(?:\.[a-z0-9-]+)*|[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::(\d{1,5}|\*))?$/;

/**
 * Parses RELAY_ALLOWED_URIS: comma-separated `HOST[:PORT]` entries (see {@link RelayAllowEntry}); `*` alone allows
 * every URI; empty allows none (the safe default: a relay makes a media node open a WebSocket to the URI, so an
 * open list would let any REST caller reach any address the node can).
 * @returns the entries, or the first entry that is not one (for a configuration error)
 */
export function parseRelayAllowList(text: string): { ok: true; entries: RelayAllowEntry[] } | { ok: false; bad: string } {
  const entries: RelayAllowEntry[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim().toLowerCase();
    if (item === "") continue;
    if (item === "*") {
      entries.push({ host: "*", port: "*" }); // every URI
      continue;
    }
    const m = ALLOW_ENTRY.exec(item);
    const port = m?.[2] === undefined ? undefined : m[2] === "*" ? "*" : Number(m[2]);
    if (!m || (typeof port === "number" && (port < 1 || port > 65535))) return { ok: false, bad: raw.trim() };
    entries.push({ host: m[1]!, ...(port === undefined ? {} : { port }) });
  }
  return { ok: true, entries };
}

/**
 * Whether a relay may open `uri` (a ws:// or wss:// URL) under the allow list. Names are compared as written, without
 * DNS: allow names you control, or IP literals.
 */
export function relayUriAllowed(uri: string, entries: readonly RelayAllowEntry[]): boolean {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return false;
  }
  const host = u.hostname.toLowerCase();
  const port = u.port === "" ? (u.protocol === "wss:" ? 443 : 80) : Number(u.port);
  return entries.some((e) => {
    const hostOk = e.host === "*" || e.host === host || (e.host.startsWith("*.") && host.endsWith(e.host.slice(1)));
    const portOk = e.port === "*" || (e.port ?? (u.protocol === "wss:" ? 443 : 80)) === port;
    return hostOk && portOk;
  });
}

/** `info` of a relay refused by the allow list. */
export function relayNotAllowedInfo(uri: string): string {
  let where = uri;
  try {
    const u = new URL(uri);
    where = `${u.protocol}//${u.host}`;
  } catch {
    // keep the text as given
  }
  return `Relay to ${where} is not allowed (RELAY_ALLOWED_URIS)`;
}
