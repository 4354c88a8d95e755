/**
 * WebhookOutboxDO storage rules (worker/webhook-outbox-do.ts) in the Workers runtime: events kept in order, the size
 * bound drops the oldest, nothing is emitted without WEBHOOK_URL, and stored events are discarded when webhooks are
 * turned off. Delivery itself (signing, retries, a receiver that is down) is tested end to end in
 * test/e2e/webhooks.test.ts.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { WebhookEvent } from "../../protocol/webhooks.js";
import { MAX_OUTBOX_EVENTS } from "../../worker/webhook-outbox-do.js";
import { emitWebhooks, outboxOf } from "../../worker/webhooks.js";
import { E } from "./helpers.js";

const event = (i: number): WebhookEvent => ({ id: `e${i}`, type: "room.joined", createdAt: Date.now(), data: { room: "r", login: `u${i}` } });

describe("WebhookOutboxDO", () => {
  it("keeps events in order and drops the oldest beyond its bound", async () => {
    const stub = outboxOf(E, `bound-${crypto.randomUUID()}`);
    const ids = await runInDurableObject(stub, async (inst) => {
      await inst.enqueue(Array.from({ length: MAX_OUTBOX_EVENTS + 5 }, (_, i) => event(i)));
      return (await inst.pending()).map((p) => p.id);
    });
    expect(ids.length).toBe(MAX_OUTBOX_EVENTS);
    expect(ids[0]).toBe("e5");
    expect(ids.at(-1)).toBe(`e${MAX_OUTBOX_EVENTS + 4}`);
    // the unit bindings have no WEBHOOK_URL: the alarm (armed for now) discards what was stored. The runtime may already
    // have taken the alarm off the schedule to run it itself, so runDurableObjectAlarm can find none: wait for the pass.
    await runDurableObjectAlarm(stub);
    await vi.waitFor(async () => expect(await runInDurableObject(stub, (inst) => inst.pending())).toEqual([]), { timeout: 5000, interval: 50 });
  });

  it("emits nothing without WEBHOOK_URL", async () => {
    const subject = `none-${crypto.randomUUID()}`;
    await emitWebhooks(E, subject, [{ type: "room.joined", data: { room: "r", login: "a" } }]);
    const stub = outboxOf(E, subject);
    expect(await runInDurableObject(stub, (inst) => inst.pending())).toEqual([]);
  });
});
