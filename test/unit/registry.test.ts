/**
 * NodeRegistryDO: heartbeats, placement, liveness, the alarm, restarts. Each test uses its own registry instance
 * (the worker uses `idFromName("global")`; these never touch it), and passes `now` explicitly where the code has it.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NodeHeartbeat } from "../../protocol/index.js";
import { MISSED_HEARTBEATS, type NodeRegistryDO } from "../../worker/node-registry-do.js";
import { E, leg, seedSessionStream, describeStream, seedStream, sessionKeys, uniqueName, WcsClient } from "./helpers.js";

/** Long enough that no alarm armed by a heartbeat fires during a test by itself. */
const INTERVAL = 60_000;
/** The clock passed as `now` to heartbeat/allocate/list (real time at the start of each test). */
let T0 = 0;
beforeEach(() => {
  T0 = Date.now();
});

function registry(): DurableObjectStub<NodeRegistryDO> {
  return E.NODE_REGISTRY.get(E.NODE_REGISTRY.idFromName(uniqueName("registry")));
}

/** Heartbeat `seq`s rise across the file, as a node's do (each heartbeat is newer than the last). */
let seq = 0;
function hb(nodeId: string, over: Partial<NodeHeartbeat> = {}, load: Partial<NodeHeartbeat["load"]> = {}): NodeHeartbeat {
  return {
    nodeId,
    bootId: "boot-1",
    controlUrl: `http://127.0.0.1:9/${nodeId}`,
    load: { publishers: 0, players: 0, cpuPercent: 0, ...load },
    maxLegs: 0,
    intervalMs: INTERVAL,
    seq: ++seq,
    ...over,
  };
}

const alarmOf = (stub: DurableObjectStub) => runInDurableObject(stub, (_i, ctx) => ctx.storage.getAlarm());
const clearAlarm = (stub: DurableObjectStub) => runInDurableObject(stub, (_i, ctx) => ctx.storage.deleteAlarm());

const open: WcsClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

describe("heartbeat", () => {
  it("a heartbeat whose seq is not above the last one of its incarnation changes nothing; a new incarnation starts again at 1", async () => {
    const reg = registry();
    expect(await reg.heartbeat(hb("n1", { seq: 50 }, { players: 1 }), T0)).toBe(true);
    expect(await reg.heartbeat(hb("n1", { seq: 50 }, { players: 9 }), T0 + 1000)).toBe(false);
    expect(await reg.heartbeat(hb("n1", { seq: 49 }, { players: 9 }), T0 + 1000)).toBe(false);
    expect((await reg.list(T0 + 1000)).map((n) => [n.seq, n.lastSeen, n.load.players])).toEqual([[50, T0, 1]]);
    expect(await reg.heartbeat(hb("n1", { bootId: "boot-2", seq: 1 }), T0 + 2000)).toBe(true);
    expect((await reg.list(T0 + 2000)).map((n) => [n.bootId, n.seq])).toEqual([["boot-2", 1]]);
    await clearAlarm(reg);
  });

  it("registers a node (persisted) and arms the alarm one interval after the heartbeat", async () => {
    const reg = registry();
    await reg.heartbeat(hb("n1", {}, { publishers: 2, players: 3, cpuPercent: 12.5 }), T0);
    expect(await reg.list(T0)).toEqual([
      { nodeId: "n1", bootId: "boot-1", controlUrl: "http://127.0.0.1:9/n1", lastSeen: T0, intervalMs: INTERVAL, maxLegs: 0, load: { publishers: 2, players: 3, cpuPercent: 12.5 }, streams: [], placedSinceHeartbeat: 0, seq, live: true },
    ]);
    expect(await runInDurableObject(reg, (_i, ctx) => ctx.storage.get("nodes"))).toHaveLength(1);
    expect(await alarmOf(reg)).toBe(T0 + INTERVAL);
    await clearAlarm(reg);
  });

  it("a later heartbeat of the same incarnation refreshes load and keeps its placed streams and the alarm", async () => {
    const reg = registry();
    await reg.heartbeat(hb("n1"), T0);
    expect((await reg.allocate("s1", T0))?.nodeId).toBe("n1");
    await reg.heartbeat(hb("n1", {}, { publishers: 1 }), T0 + 5000);
    const [n] = await reg.list(T0 + 5000);
    expect(n).toMatchObject({ lastSeen: T0 + 5000, load: { publishers: 1, players: 0 }, streams: ["s1"] });
    expect(await alarmOf(reg)).toBe(T0 + INTERVAL);
    await clearAlarm(reg);
  });
});

describe("allocate", () => {
  it("returns null without nodes", async () => {
    expect(await registry().allocate("s", T0)).toBeNull();
  });

  it("picks the least-loaded live node, counting reported legs plus streams placed", async () => {
    const reg = registry();
    await reg.heartbeat(hb("busy", {}, { publishers: 1, players: 3 }), T0); // 4 legs
    await reg.heartbeat(hb("idle", {}, { publishers: 1, players: 0 }), T0); // 1 leg
    // idle: 1 → 2 → 3 (placements add up), then 4 ties with busy (4): the strictly smaller score only
    expect((await reg.allocate("a", T0))?.nodeId).toBe("idle");
    expect((await reg.allocate("b", T0))?.nodeId).toBe("idle");
    expect((await reg.allocate("c", T0))?.nodeId).toBe("idle");
    const ref = await reg.allocate("d", T0);
    expect(ref).toEqual({ nodeId: "busy", bootId: "boot-1", controlUrl: "http://127.0.0.1:9/busy" });
    const byId = Object.fromEntries((await reg.list(T0)).map((n) => [n.nodeId, n.streams]));
    expect(byId).toEqual({ busy: ["d"], idle: ["a", "b", "c"] });
    await clearAlarm(reg);
  });

  it("placing the same name twice records it once", async () => {
    const reg = registry();
    await reg.heartbeat(hb("n1"), T0);
    await reg.allocate("same", T0);
    await reg.allocate("same", T0);
    expect((await reg.list(T0))[0]?.streams).toEqual(["same"]);
    await clearAlarm(reg);
  });

  it("skips a node at its reported maxLegs; 0 means no limit", async () => {
    const reg = registry();
    await reg.heartbeat(hb("full", { maxLegs: 2 }, { publishers: 1, players: 1 }), T0);
    await reg.heartbeat(hb("big", { maxLegs: 0 }, { publishers: 10, players: 40 }), T0);
    expect((await reg.allocate("a", T0))?.nodeId).toBe("big");
    await reg.heartbeat(hb("big", { maxLegs: 50 }, { publishers: 10, players: 40 }), T0);
    expect(await reg.allocate("b", T0)).toBeNull();
    await reg.heartbeat(hb("full", { maxLegs: 3 }, { publishers: 1, players: 1 }), T0);
    expect((await reg.allocate("c", T0))?.nodeId).toBe("full");
    await clearAlarm(reg);
  });

  // The cap counts the legs reported in the last heartbeat plus the placements made since: each placement adds a
  // publisher leg, so with maxLegs 1 and 0 reported legs the second placement must be refused.
  it("does not place more streams than maxLegs between two heartbeats", async () => {
    const reg = registry();
    await reg.heartbeat(hb("n1", { maxLegs: 1 }), T0);
    expect((await reg.allocate("a", T0))?.nodeId).toBe("n1");
    try {
      expect(await reg.allocate("b", T0)).toBeNull();
    } finally {
      await clearAlarm(reg);
    }
  });

  it(`does not allocate a node silent for more than ${MISSED_HEARTBEATS} intervals`, async () => {
    const reg = registry();
    await reg.heartbeat(hb("n1"), T0);
    const limit = T0 + MISSED_HEARTBEATS * INTERVAL;
    expect((await reg.list(limit))[0]?.live).toBe(true);
    expect((await reg.list(limit + 1))[0]?.live).toBe(false);
    expect(await reg.allocate("late", limit + 1)).toBeNull();
    expect((await reg.allocate("ontime", limit))?.nodeId).toBe("n1");
    expect((await reg.list(limit))[0]?.streams).toEqual(["ontime"]);
    await clearAlarm(reg);
  });

  it("prefers a live node to a silent idle one", async () => {
    const reg = registry();
    await reg.heartbeat(hb("silent"), T0);
    await reg.heartbeat(hb("alive", {}, { players: 20 }), T0 + 3.5 * INTERVAL);
    expect((await reg.allocate("x", T0 + 3.5 * INTERVAL))?.nodeId).toBe("alive");
    await clearAlarm(reg);
  });
});

describe("alarm", () => {
  it("removes a node silent for more than 3 intervals, keeps a live one, and re-arms", async () => {
    const reg = registry();
    const now = Date.now();
    await reg.heartbeat(hb("dead"), now); // arms the alarm one interval ahead
    await reg.heartbeat(hb("live", { intervalMs: 10_000 }), now);
    await reg.heartbeat(hb("dead"), now - (MISSED_HEARTBEATS * INTERVAL + 1)); // its last heartbeat is now that old
    expect(await runDurableObjectAlarm(reg)).toBe(true);
    const after = Date.now();
    expect((await reg.list()).map((n) => n.nodeId)).toEqual(["live"]);
    expect(await runInDurableObject(reg, (_i, ctx) => ctx.storage.get<Array<{ nodeId: string }>>("nodes"))).toMatchObject([{ nodeId: "live" }]);
    const at = await alarmOf(reg);
    expect(at).not.toBeNull();
    expect(at!).toBeGreaterThanOrEqual(now + 5000); // min(10_000, 5000)
    expect(at!).toBeLessThanOrEqual(after + 5000);
    await clearAlarm(reg);
  });

  it("keeps live nodes and re-arms at min(interval, 5000)", async () => {
    const reg = registry();
    await reg.heartbeat(hb("slow", { intervalMs: 30_000 }), Date.now());
    expect(await alarmOf(reg)).toBeGreaterThan(Date.now() + 20_000);
    const before = Date.now();
    expect(await runDurableObjectAlarm(reg)).toBe(true);
    expect((await reg.list()).map((n) => n.nodeId)).toEqual(["slow"]);
    const at = await alarmOf(reg);
    expect(at! - before).toBeGreaterThanOrEqual(5000);
    expect(at! - before).toBeLessThan(6000);
    await clearAlarm(reg);
  });

  it("does not re-arm once no node is left", async () => {
    const reg = registry();
    await reg.heartbeat(hb("gone"), Date.now());
    await reg.heartbeat(hb("gone"), Date.now() - 10 * INTERVAL);
    expect(await runDurableObjectAlarm(reg)).toBe(true);
    expect(await reg.list()).toEqual([]);
    expect(await alarmOf(reg)).toBeNull();
  });

  it("a lost node's streams fail: publisher and players get FAILED media node lost", async () => {
    const reg = registry();
    const owner = await WcsClient.connected();
    const viewer = await WcsClient.connected();
    open.push(owner, viewer);
    const name = uniqueName("onlost");
    await reg.heartbeat(hb("n1"), Date.now());
    const ref = await reg.allocate(name, Date.now());
    expect(ref?.nodeId).toBe("n1");
    const pub = leg("publisher", owner.sessionId);
    const ply = leg("player", viewer.sessionId);
    const stream = await seedStream({ name, node: ref, publisher: pub, players: { [ply.legId]: ply } });
    await seedSessionStream(owner, pub, name);
    await reg.heartbeat(hb("n1"), Date.now() - 10 * INTERVAL); // same incarnation, silent since then

    expect(await runDurableObjectAlarm(reg)).toBe(true);
    expect(await reg.list()).toEqual([]);
    expect(await owner.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: pub.mediaSessionId, status: "FAILED", info: "Failed by error: media node lost" });
    expect(await viewer.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: ply.mediaSessionId, status: "FAILED", info: "Failed by error: media node lost" });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    expect(await sessionKeys(owner)).toEqual([]);
  });
});

describe("restart, release, unreachable", () => {
  it("a heartbeat with a new bootId replaces the node: streams released, the old incarnation's streams fail", async () => {
    const reg = registry();
    const owner = await WcsClient.connected();
    open.push(owner);
    const name = uniqueName("reboot");
    await reg.heartbeat(hb("n1", { bootId: "boot-1" }), T0);
    const ref = await reg.allocate(name, T0);
    expect(ref).toEqual({ nodeId: "n1", bootId: "boot-1", controlUrl: "http://127.0.0.1:9/n1" });
    const pub = leg("publisher", owner.sessionId);
    const stream = await seedStream({ name, node: ref, publisher: pub, players: {} });

    await reg.heartbeat(hb("n1", { bootId: "boot-2", controlUrl: "http://127.0.0.1:9/n1-new" }), T0 + 100);
    expect(await reg.list(T0 + 100)).toMatchObject([{ nodeId: "n1", bootId: "boot-2", controlUrl: "http://127.0.0.1:9/n1-new", streams: [], live: true }]);
    expect(await owner.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: pub.mediaSessionId, name, status: "FAILED", info: "Failed by error: media node lost" });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    // the new incarnation is allocatable
    expect(await reg.allocate("next", T0 + 100)).toEqual({ nodeId: "n1", bootId: "boot-2", controlUrl: "http://127.0.0.1:9/n1-new" });
    await clearAlarm(reg);
  });

  it("release() forgets one placement; unknown node or name is a no-op", async () => {
    const reg = registry();
    await reg.heartbeat(hb("n1"), T0);
    await reg.allocate("a", T0);
    await reg.allocate("b", T0);
    await reg.release("a", "n1");
    await reg.release("zzz", "n1");
    await reg.release("b", "no-such-node");
    expect((await reg.list(T0))[0]?.streams).toEqual(["b"]);
    // the released stream no longer counts: n1 (0 legs + 1 stream) beats n2 (2 legs)
    await reg.heartbeat(hb("n2", {}, { players: 2 }), T0);
    expect((await reg.allocate("c", T0))?.nodeId).toBe("n1");
    await clearAlarm(reg);
  });

  it("reportUnreachable removes the node (only with its current bootId) and fails its streams", async () => {
    const reg = registry();
    const owner = await WcsClient.connected();
    open.push(owner);
    const name = uniqueName("unreach");
    await reg.heartbeat(hb("n1"), T0);
    await reg.heartbeat(hb("n2"), T0);
    const ref = await reg.allocate(name, T0);
    expect(ref?.nodeId).toBe("n1");
    const pub = leg("publisher", owner.sessionId);
    const stream = await seedStream({ name, node: ref, publisher: pub, players: {} });

    await reg.reportUnreachable("n1", "boot-0");
    await reg.reportUnreachable("nx", "boot-1");
    expect((await reg.list(T0)).map((n) => n.nodeId)).toEqual(["n1", "n2"]);
    await owner.expectIdle();

    await reg.reportUnreachable("n1", "boot-1");
    expect((await reg.list(T0)).map((n) => n.nodeId)).toEqual(["n2"]);
    expect(await owner.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: pub.mediaSessionId, status: "FAILED", info: "Failed by error: media node lost" });
    expect(await describeStream(name)).toMatchObject({ publisher: null, node: null });
    expect((await reg.allocate("again", T0))?.nodeId).toBe("n2");
    await clearAlarm(reg);
  });

  it("state survives a restart of the object (persisted)", async () => {
    const id = E.NODE_REGISTRY.idFromName(uniqueName("registry"));
    const reg = E.NODE_REGISTRY.get(id);
    await reg.heartbeat(hb("n1"), T0);
    await reg.allocate("p", T0);
    const saved = await reg.list(T0);
    const before = await runInDurableObject(reg, (inst) => inst);
    // evict the instance; the next call builds a new one from storage
    await runInDurableObject(reg, (_i, ctx) => ctx.abort("test restart")).catch(() => undefined);
    const again = E.NODE_REGISTRY.get(id);
    expect(await runInDurableObject(again, (inst) => inst === before)).toBe(false);
    expect(await again.list(T0)).toEqual(saved);
    await clearAlarm(again);
  });
});

describe("drain and deregister", () => {
  it("places no new stream on a draining node; its placed streams stay", async () => {
    const reg = registry();
    await reg.heartbeat(hb("n1"), T0);
    expect((await reg.allocate("kept", T0))?.nodeId).toBe("n1");
    await reg.heartbeat(hb("n1", { draining: true }), T0 + 100);
    expect(await reg.list(T0 + 100)).toMatchObject([{ nodeId: "n1", draining: true, streams: ["kept"], live: true }]);
    expect(await reg.allocate("new", T0 + 100)).toBeNull();
    await reg.heartbeat(hb("n2", {}, { players: 50 }), T0 + 100);
    expect((await reg.allocate("new", T0 + 100))?.nodeId).toBe("n2");
    await clearAlarm(reg);
  });

  it("deregister forgets the node at once, fails its streams with the shutdown info, and refuses its late heartbeats", async () => {
    const reg = registry();
    const owner = await WcsClient.connected();
    const viewer = await WcsClient.connected();
    open.push(owner, viewer);
    const name = uniqueName("dereg");
    await reg.heartbeat(hb("n1"), T0);
    const ref = await reg.allocate(name, T0);
    const pub = leg("publisher", owner.sessionId);
    const ply = leg("player", viewer.sessionId);
    await seedStream({ name, node: ref, publisher: pub, players: { [ply.legId]: ply } });
    await seedSessionStream(owner, pub, name);

    expect(await reg.deregister("n1", "boot-0")).toEqual({ known: false, streams: 0 }); // another incarnation
    expect((await reg.list(T0)).map((n) => n.nodeId)).toEqual(["n1"]);
    await owner.expectIdle();

    expect(await reg.deregister("n1", "boot-1")).toEqual({ known: true, streams: 1 });
    expect(await reg.list(T0)).toEqual([]);
    // told before deregister() returned
    const info = "Failed by error: media node shutting down";
    expect(await owner.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: pub.mediaSessionId, status: "FAILED", info });
    expect(await viewer.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: ply.mediaSessionId, status: "FAILED", info });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    // a heartbeat of that incarnation still in flight cannot bring it back; a new incarnation registers
    expect(await reg.heartbeat(hb("n1"), T0 + 100)).toBe(false);
    expect(await reg.list(T0 + 100)).toEqual([]);
    expect(await reg.heartbeat(hb("n1", { bootId: "boot-2" }), T0 + 200)).toBe(true);
    expect((await reg.allocate("next", T0 + 200))?.bootId).toBe("boot-2");
    await clearAlarm(reg);
  });
});
