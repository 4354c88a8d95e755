/**
 * NonceDO (worker/nonce-do.ts): each nonce of an accepted media-node call is taken once, kept in storage until its
 * request expires, and forgotten by the alarm after that. And the worker's node routes refuse a replayed event.
 */
import { runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { signRequest } from "../../protocol/index.js";
import { noncesOf } from "../../worker/nonce-do.js";
import { E, uniqueName } from "./helpers.js";

const nonceStub = () => E.NONCE.get(E.NONCE.idFromName(uniqueName("nonces")));

describe("NonceDO", () => {
  it("takes a nonce once; the alarm forgets expired nonces and wakes at the next expiry", async () => {
    const stub = nonceStub();
    const now = Date.now();
    expect(await stub.claim("a".repeat(32), now + 30_000)).toBe(true);
    expect(await stub.claim("a".repeat(32), now + 30_000)).toBe(false);
    expect(await stub.claim("b".repeat(32), now + 60_000)).toBe(true);
    expect(await runInDurableObject(stub, (_i, ctx) => ctx.storage.getAlarm())).toBe(now + 30_000);
    // time passes: "a" has expired
    await runInDurableObject(stub, (_i, ctx) => ctx.storage.put("a".repeat(32), now - 1));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runInDurableObject(stub, async (_i, ctx) => [...(await ctx.storage.list()).keys()])).toEqual(["b".repeat(32)]);
    expect(await runInDurableObject(stub, (_i, ctx) => ctx.storage.getAlarm())).toBe(now + 60_000);
    expect(await stub.claim("b".repeat(32), now + 60_000)).toBe(false);
    await runInDurableObject(stub, (_i, ctx) => ctx.storage.deleteAll());
  });

  it("nonces are sharded by their first hex digit", () => {
    expect(noncesOf(E, "0".repeat(32)).id.toString()).toBe(E.NONCE.idFromName("nonces-0").toString());
    expect(noncesOf(E, "f".repeat(32)).id.toString()).toBe(E.NONCE.idFromName("nonces-f").toString());
  });

  it("a replayed leg event is refused with 401", async () => {
    const ev = { nodeId: "n", bootId: "b", legId: "l", streamName: uniqueName("replay"), role: "publisher", state: "connected" };
    const body = JSON.stringify(ev);
    const headers = await signRequest("unit-test-secret", "POST", "/internal/nodes/events", body);
    const first = await SELF.fetch("http://x/internal/nodes/events", { method: "POST", body, headers });
    expect(first.status).toBe(200);
    await first.body?.cancel();
    const again = await SELF.fetch("http://x/internal/nodes/events", { method: "POST", body, headers });
    expect(again.status).toBe(401);
    expect(await again.json()).toEqual({ code: "unauthorized", info: "Replayed request" });
  });
});
