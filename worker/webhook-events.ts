/**
 * What becomes a webhook (protocol/webhooks.ts) and where it is stored: the events of legs and relays, the outbox
 * shard of a subject, the retry schedule. Pure functions (no Workers API): worker/webhooks.ts emits, the outbox
 * (worker/webhook-outbox-do.ts) delivers, and Node tests check them.
 */
import { StreamStatus } from "../protocol/wcs-types.js";
import type { LegRole } from "../protocol/media-node.js";
import type { RelayRecord } from "../protocol/relay.js";
import type { WebhookEventInput } from "../protocol/webhooks.js";

/**
 * How many outbox objects share the events (`idFromName("webhooks-<n>")`). Events of one subject (a stream, a room,
 * a relay) always go to the same shard, which delivers them in order; different subjects are delivered in parallel
 * by different shards, so a slow receiver holds at most one request per shard and no single object carries every
 * event of the deployment.
 */
export const WEBHOOK_SHARDS = 8;

/** The outbox shard of `subject` (FNV-1a of the subject, mod {@link WEBHOOK_SHARDS}). */
export function webhookShard(subject: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < subject.length; i++) h = Math.imul(h ^ subject.charCodeAt(i), 0x01000193);
  return (h >>> 0) % WEBHOOK_SHARDS;
}

/**
 * Wait before the next attempt after `failures` (≥ 1) failed attempts in a row, ms: 1 s, 2 s, 4 s, … at most
 * `maxMs` (WEBHOOK_RETRY_MAX_MS).
 */
export function webhookRetryDelayMs(failures: number, maxMs: number): number {
  return Math.min(maxMs, 1000 * 2 ** Math.min(Math.max(failures, 1) - 1, 30));
}

/** The leg facts the webhooks of legs need (a LegRecord; `status` is the status before an end). */
interface LegFacts {
  role: LegRole;
  mediaSessionId: string;
  status: StreamStatus;
}

/** `stream.published` / `player.started` of a leg that just connected (PUBLISHING / PLAYING). */
export function legStartedWebhook(name: string, leg: Omit<LegFacts, "status">): WebhookEventInput {
  return leg.role === "publisher"
    ? { type: "stream.published", data: { name, mediaSessionId: leg.mediaSessionId, status: StreamStatus.PUBLISHING } }
    : { type: "player.started", data: { name, mediaSessionId: leg.mediaSessionId, status: StreamStatus.PLAYING } };
}

/**
 * The webhook of a leg's end with its terminal status `end`: `stream.unpublished` / `stream.failed` for a publisher,
 * `player.stopped` for a player. Only legs that were started (PUBLISHING / PLAYING) or that FAILED get one: a
 * leg stopped before it connected was never announced.
 */
export function legEndedWebhook(name: string, leg: LegFacts, end: { status: StreamStatus; info?: string }): WebhookEventInput | null {
  const failed = end.status === StreamStatus.FAILED;
  if (leg.status === StreamStatus.PENDING && !failed) return null;
  const data = { name, mediaSessionId: leg.mediaSessionId, status: end.status, ...(end.info === undefined ? {} : { info: end.info }) };
  if (leg.role === "player") return { type: "player.stopped", data };
  return { type: failed ? "stream.failed" : "stream.unpublished", data };
}

/** `relay.status` of a relay (its REST record plus its id). */
export function relayWebhook(relayId: string, r: Pick<RelayRecord, "direction" | "uri" | "localStreamName" | "remoteStreamName" | "status" | "info" | "attempts">): WebhookEventInput {
  return {
    type: "relay.status",
    data: {
      relayId,
      direction: r.direction,
      uri: r.uri,
      localStreamName: r.localStreamName,
      remoteStreamName: r.remoteStreamName,
      status: r.status,
      ...(r.info === undefined ? {} : { info: r.info }),
      attempts: r.attempts,
    },
  };
}
