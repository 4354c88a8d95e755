/**
 * worker/stream-store.ts on real Durable Object storage (workerd): a join writes one player record whatever the
 * audience, removed players are deleted, an empty stream leaves no key, a changed record is always written and an
 * unchanged one never (also after a failed save and after a load), and state stored by older versions under `state`
 * is read and replaced.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { readStreamState, StreamStore, type StreamState } from "../../worker/stream-store.js";
import { deadNode, leg, streamStub, uniqueName } from "./helpers.js";

/** Storage that counts what put() writes: keys (and their names) and bytes of JSON; `refuse`: put() fails. */
function counting(storage: DurableObjectStorage) {
  const written = { keys: 0, bytes: 0, deletes: 0, names: [] as string[], refuse: false };
  const wrapped = new Proxy(storage, {
    get(target, prop) {
      if (prop === "put") {
        return async (entries: Record<string, unknown>) => {
          if (written.refuse) throw new Error("storage refused the write");
          await target.put(entries);
          for (const [k, v] of Object.entries(entries)) (written.keys += 1), (written.bytes += JSON.stringify(v).length), written.names.push(k);
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
        await store.save(state, [joiner.legId]);
        perJoin.push({ players: audience, keys: written.keys, bytes: written.bytes });
        // its status changes: one record again
        written.keys = 0;
        joiner.status = joiner.status === "PLAYING" ? "PENDING" : "PLAYING";
        await store.save(state, [joiner.legId]);
        expect(written.keys).toBe(1);
        // it leaves: one delete, nothing written
        written.keys = 0;
        delete state.players[joiner.legId];
        await store.save(state, [joiner.legId]);
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

  it("writes a changed record, never an unchanged one: named, replaced, after a failed save, after a load", async () => {
    await runInDurableObject(streamStub(uniqueName("dirty")), async (_i, ctx) => {
      const { storage, written } = counting(ctx.storage);
      const wrote = async (save: () => Promise<void>): Promise<string[]> => {
        written.names = [];
        written.deletes = 0;
        await save();
        return [...written.names].sort();
      };
      const key = (l: { legId: string }): string => `player:${l.legId}`;
      const [a, b, c] = [leg("player", "a".repeat(64)), leg("player", "b".repeat(64)), leg("player", "c".repeat(64))];
      const state: StreamState = { name: "s", node: deadNode("n"), publisher: leg("publisher", "p".repeat(64)), players: { [a.legId]: a, [b.legId]: b, [c.legId]: c } };
      const store = new StreamStore(storage);
      expect(await wrote(() => store.save(state))).toEqual(["meta", key(a), key(b), key(c)].sort());
      expect(await wrote(() => store.save(state))).toEqual([]);

      // named and changed: written; named and unchanged: not; the stream's own record: compared on every save
      a.status = "PENDING";
      expect(await wrote(() => store.save(state, [a.legId, b.legId, "no-such-leg"]))).toEqual([key(a)]);
      state.node = deadNode("m");
      expect(await wrote(() => store.save(state))).toEqual(["meta"]);
      // a record replaced by an equal one: nothing to write
      state.players[b.legId] = structuredClone(b);
      expect(await wrote(() => store.save(state, [b.legId]))).toEqual([]);

      // players replaced as a whole (nothing named): the changed and the new are written, the gone deleted, the same
      // records not
      const d = leg("player", "d".repeat(64));
      state.players = { [a.legId]: a, [b.legId]: { ...state.players[b.legId]!, hasVideo: false }, [d.legId]: d };
      expect(await wrote(() => store.save(state))).toEqual([key(b), key(d)].sort());
      expect(written.deletes).toBe(1); // c
      expect(await readStreamState(ctx.storage)).toEqual(state);

      // a save the storage refuses leaves what it named to the next save
      a.status = "PLAYING";
      d.status = "PENDING";
      written.refuse = true;
      await expect(store.save(state, [a.legId, d.legId])).rejects.toThrow("refused");
      written.refuse = false;
      d.status = "PLAYING"; // rolled back: d is as stored again
      expect(await wrote(() => store.save(state))).toEqual([key(a)]);
      // a join whose save failed and was undone leaves no key
      const e = leg("player", "e".repeat(64));
      state.players[e.legId] = e;
      written.refuse = true;
      await expect(store.save(state, [e.legId])).rejects.toThrow("refused");
      written.refuse = false;
      delete state.players[e.legId];
      expect(await wrote(() => store.save(state))).toEqual([]);
      expect(written.deletes).toBe(0);
      expect(await readStreamState(ctx.storage)).toEqual(state);

      // after a load: unchanged records are not written again, a changed one is, a removed one is deleted
      const again = new StreamStore(storage);
      const loaded = (await again.load())!;
      expect(loaded).toEqual(state);
      expect(await wrote(() => again.save(loaded))).toEqual([]);
      loaded.players[d.legId]!.status = "PENDING";
      delete loaded.players[a.legId];
      expect(await wrote(() => again.save(loaded, [d.legId, a.legId]))).toEqual([key(d)]);
      expect(written.deletes).toBe(1);
      expect(await readStreamState(ctx.storage)).toEqual(loaded);
      expect(await new StreamStore(ctx.storage).load()).toEqual(loaded);
    });
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
