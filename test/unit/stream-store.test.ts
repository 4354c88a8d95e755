/**
 * worker/stream-store.ts on real Durable Object storage (workerd): a join writes one player record whatever the
 * audience, removed players are deleted, an empty stream leaves no key, and state stored by older versions under
 * `state` is read and replaced.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { readStreamState, StreamStore, type StreamState } from "../../worker/stream-store.js";
import { deadNode, leg, streamStub, uniqueName } from "./helpers.js";

/** Storage that counts what put() writes: keys and bytes of JSON. */
function counting(storage: DurableObjectStorage) {
  const written = { keys: 0, bytes: 0, deletes: 0 };
  const wrapped = new Proxy(storage, {
    get(target, prop) {
      if (prop === "put") {
        return (entries: Record<string, unknown>) => {
          for (const v of Object.values(entries)) (written.keys += 1), (written.bytes += JSON.stringify(v).length);
          return target.put(entries);
        };
      }
      if (prop === "delete") {
        return (keys: string[]) => {
          written.deletes += keys.length;
          return target.delete(keys);
        };
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { storage: wrapped, written };
}

describe("StreamStore", () => {
  it("a join writes one record (same bytes at 1 and at 500 players); a leave deletes one key; empty = nothing", async () => {
    const perJoin: Array<{ players: number; keys: number; bytes: number }> = [];
    for (const audience of [1, 100, 500]) {
      await runInDurableObject(streamStub(uniqueName("store")), async (_i, ctx) => {
        const { storage, written } = counting(ctx.storage);
        const store = new StreamStore(storage);
        const state: StreamState = { name: "s", node: deadNode("n"), publisher: leg("publisher", "a".repeat(64)), players: {} };
        for (let i = 0; i < audience; i++) {
          const p = leg("player", "b".repeat(64));
          state.players[p.legId] = p;
        }
        await store.save(state);
        written.keys = written.bytes = 0;
        const joiner = leg("player", "c".repeat(64));
        state.players[joiner.legId] = joiner;
        await store.save(state);
        perJoin.push({ players: audience, keys: written.keys, bytes: written.bytes });
        // its status changes: one record again
        written.keys = 0;
        joiner.status = joiner.status === "PLAYING" ? "PENDING" : "PLAYING";
        await store.save(state);
        expect(written.keys).toBe(1);
        // it leaves: one delete, nothing written
        written.keys = 0;
        delete state.players[joiner.legId];
        await store.save(state);
        expect(written).toMatchObject({ keys: 0, deletes: 1 });
        // everyone goes: no key left
        state.publisher = null;
        state.players = {};
        await store.save(state);
        expect([...(await ctx.storage.list()).keys()]).toEqual([]);
      });
    }
    expect(perJoin.map((j) => j.keys)).toEqual([1, 1, 1]);
    expect(new Set(perJoin.map((j) => j.bytes)).size).toBe(1);
  });

  it("reads state stored by older versions under `state`, and replaces it on the next save", async () => {
    await runInDurableObject(streamStub(uniqueName("legacy")), async (_i, ctx) => {
      const p = leg("player", "d".repeat(64));
      const old: StreamState = { name: "old", node: null, publisher: leg("publisher", "e".repeat(64)), players: { [p.legId]: p } };
      await ctx.storage.put("state", old);
      const store = new StreamStore(ctx.storage);
      expect(await store.load()).toEqual(old);
      await store.save(old);
      expect((await ctx.storage.list()).has("state")).toBe(false);
      expect(await readStreamState(ctx.storage)).toEqual(old);
      expect(await new StreamStore(ctx.storage).load()).toEqual(old);
    });
  });
});
