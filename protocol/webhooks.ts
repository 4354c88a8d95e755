/**
 * Webhooks: the events the worker POSTs to `WEBHOOK_URL` (docs/protocols.md "Webhooks"), and how they are signed.
 *
 * Signing follows Standard Webhooks (https://www.standardwebhooks.com/, spec:
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md), so any of its
 * verifier libraries (npm `standardwebhooks`, Python `standardwebhooks`, Svix's, …) checks our requests:
 *
 *   webhook-id:        the event's id (a UUID), the same on every retry: the receiver's idempotency key
 *   webhook-timestamp: the attempt's time, whole seconds since the epoch (verifiers refuse > 5 min of skew)
 *   webhook-signature: `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`))
 *
 * The key is `WEBHOOK_SECRET`: `whsec_<base64>` (the Standard Webhooks form: the key is the decoded bytes), or any
 * other string, whose UTF-8 bytes are the key (`new Webhook(secret, {format: "raw"})` in the npm library). The body
 * is the JSON of a {@link WebhookEvent}. Web Crypto only: the same code runs in Workers and Node ≥ 20.
 */

export const WEBHOOK_ID_HEADER = "webhook-id";
export const WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp";
export const WEBHOOK_SIGNATURE_HEADER = "webhook-signature";
/** The prefix of a base64 secret in the Standard Webhooks form. */
export const WEBHOOK_SECRET_PREFIX = "whsec_";
/** Shortest accepted key, bytes (Standard Webhooks: secrets SHOULD be 24 to 64 bytes). */
export const WEBHOOK_MIN_KEY_BYTES = 24;

/** A publisher's event (`stream.*`): the stream name, the publisher's mediaSessionId and its WCS status. */
export interface StreamWebhookData {
  name: string;
  mediaSessionId: string;
  /** PUBLISHING (published), UNPUBLISHED (unpublished) or FAILED (failed). */
  status: string;
  /** The WCS `info` of an end ("Stopped by user", "Failed by ICE timeout", …). */
  info?: string;
}

/** A player's event (`player.*`): the stream name, the player's mediaSessionId and its WCS status. */
export interface PlayerWebhookData {
  name: string;
  mediaSessionId: string;
  /** PLAYING (started), STOPPED or FAILED (stopped). */
  status: string;
  info?: string;
}

/** The data of each event type. */
export interface WebhookEventData {
  /** A publisher reached PUBLISHING. */
  "stream.published": StreamWebhookData;
  /** A published stream ended normally (UNPUBLISHED). */
  "stream.unpublished": StreamWebhookData;
  /** A publisher ended with FAILED, also one that never reached PUBLISHING (ICE timeout, media node lost, …). */
  "stream.failed": StreamWebhookData;
  /** A player reached PLAYING. */
  "player.started": PlayerWebhookData;
  /** A player that was PLAYING ended (STOPPED or FAILED), or a player failed before it played. */
  "player.stopped": PlayerWebhookData;
  /** A login joined a room. */
  "room.joined": { room: string; login: string };
  /** A login left a room; `reason`: "leave", "socket closed", "stale session", … */
  "room.left": { room: string; login: string; reason: string };
  /** A room message was delivered: who sent it and to how many participants (never the text). */
  "room.message": { room: string; from: string; recipients: number };
  /** A relay (`/rest-api/pull/*`) changed status (protocol/relay.ts RelayStatus); `info` of a FAILED one. */
  "relay.status": {
    relayId: string;
    direction: "push" | "pull";
    uri: string;
    localStreamName: string;
    remoteStreamName: string;
    status: string;
    info?: string;
    /** Failed attempts since the last success (relays with retry). */
    attempts: number;
  };
  /**
   * A recording's file is in object storage (protocol/recording.ts): its name, the stream and publisher it recorded,
   * its size in bytes and MIME type. `partial`: completed from the parts uploaded before its media node was lost or
   * went silent (playable up to there), not by the node at the stream's end.
   */
  "recording.finished": { recordName: string; streamName: string; mediaSessionId: string; size: number; contentType: string; partial: boolean };
}

export type WebhookType = keyof WebhookEventData;

/** Every event type, in the order of the docs. */
export const WEBHOOK_TYPES: readonly WebhookType[] = [
  "stream.published",
  "stream.unpublished",
  "stream.failed",
  "player.started",
  "player.stopped",
  "room.joined",
  "room.left",
  "room.message",
  "relay.status",
  "recording.finished",
];

/** The body of a webhook request: `{"id", "type", "createdAt", "data"}`. */
export type WebhookEvent = {
  [T in WebhookType]: {
    /** Unique per event, also the `webhook-id` header: deduplicate on it (delivery is at least once). */
    id: string;
    type: T;
    /** When the event happened, ms since the epoch (retries keep it; `webhook-timestamp` is the attempt's). */
    createdAt: number;
    data: WebhookEventData[T];
  };
}[WebhookType];

/** An event before it has an id and a time. */
export type WebhookEventInput = {
  [T in WebhookType]: { type: T; data: WebhookEventData[T] };
}[WebhookType];

const encoder = new TextEncoder();

/**
 * The HMAC key of `secret`: the base64-decoded bytes of `whsec_<base64>`, else the UTF-8 bytes of the string.
 * Returns null for a `whsec_` secret that is not valid base64, or a key shorter than {@link WEBHOOK_MIN_KEY_BYTES}.
 */
export function webhookKey(secret: string): Uint8Array<ArrayBuffer> | null {
  let key: Uint8Array<ArrayBuffer>;
  if (secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
    const b64 = secret.slice(WEBHOOK_SECRET_PREFIX.length);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return null;
    key = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } else {
    key = encoder.encode(secret) as Uint8Array<ArrayBuffer>;
  }
  return key.length >= WEBHOOK_MIN_KEY_BYTES ? key : null;
}

/** `v1,<base64 HMAC-SHA256(key, "<id>.<timestampS>.<body>")>`: the `webhook-signature` value. */
export async function signWebhook(key: Uint8Array<ArrayBuffer>, id: string, timestampS: number, body: string): Promise<string> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, encoder.encode(`${id}.${timestampS}.${body}`)));
  let bin = "";
  for (const b of mac) bin += String.fromCharCode(b);
  return `v1,${btoa(bin)}`;
}

/** The three Standard Webhooks headers of one delivery attempt of event `id` with this `body`, at `now` (ms). */
export async function webhookHeaders(key: Uint8Array<ArrayBuffer>, id: string, body: string, now = Date.now()): Promise<Record<string, string>> {
  const ts = Math.floor(now / 1000);
  return {
    [WEBHOOK_ID_HEADER]: id,
    [WEBHOOK_TIMESTAMP_HEADER]: String(ts),
    [WEBHOOK_SIGNATURE_HEADER]: await signWebhook(key, id, ts, body),
  };
}
