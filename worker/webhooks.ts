/**
 * Emitting webhooks (protocol/webhooks.ts; docs/protocols.md "Webhooks"): the Durable Objects where things happen
 * (StreamDO, RoomDO, RelayDO) hand their events to {@link emitWebhooks}, which stores them in the outbox shard of
 * their subject (worker/webhook-outbox-do.ts); the outbox delivers them, signed, with retries. Without
 * `WEBHOOK_URL` nothing is stored. Storing never fails the caller: an error is logged and signaling goes on.
 */
import type { WebhookEvent, WebhookEventInput } from "../protocol/webhooks.js";
import type { Env } from "./env.js";
import { log } from "./log.js";
import { webhookShard } from "./webhook-events.js";

export { legEndedWebhook, legStartedWebhook, relayWebhook } from "./webhook-events.js";

/** The outbox object of `subject`. */
export const outboxOf = (env: Env, subject: string) => env.WEBHOOKS.get(env.WEBHOOKS.idFromName(`webhooks-${webhookShard(subject)}`));

/** The enqueue in flight per subject in this isolate: the next one of the subject waits for it (order). */
const inFlight = new Map<string, Promise<void>>();

/**
 * Stores `events` (nulls skipped) for delivery, in this order, with a fresh id and time each. `subject` picks the
 * outbox shard: the stream name, `room:<name>` or `relay:<id>`. Events of one subject are stored in the order of
 * the calls, so call it right where the state changes, before any other await (the result may be awaited later).
 * Returns at once when WEBHOOK_URL is unset; never rejects (a failure is logged as `webhook_enqueue_failed`).
 */
export function emitWebhooks(env: Env, subject: string, events: readonly (WebhookEventInput | null)[]): Promise<void> {
  if (!env.WEBHOOK_URL?.trim()) return Promise.resolve();
  const now = Date.now();
  const full = events
    .filter((e): e is WebhookEventInput => e !== null)
    .map((e) => ({ id: crypto.randomUUID(), type: e.type, createdAt: now, data: e.data }) as WebhookEvent);
  if (full.length === 0) return Promise.resolve();
  const store = async () => {
    try {
      await outboxOf(env, subject).enqueue(full);
    } catch (err) {
      log("error", "webhook_enqueue_failed", { subject, ids: full.map((e) => e.id), types: full.map((e) => e.type), error: String(err) });
    }
  };
  const done = (inFlight.get(subject) ?? Promise.resolve()).then(store);
  inFlight.set(subject, done);
  void done.then(() => {
    if (inFlight.get(subject) === done) inFlight.delete(subject);
  });
  return done;
}

