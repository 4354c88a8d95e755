/**
 * RelayDO (worker/relay-do.ts, protocol/relay.ts) and `/rest-api/pull/*` without a media node: body validation, the
 * refusals that need no node (404 / 409 / 503, and 500 when the placed node refuses connections), record keeping with
 * seeded relays (find_all, terminate), node relay events (signed, over `/internal/nodes/relay-events`), node loss and
 * the retry alarm. The "global" RelayDO is reset before each test.
 */
import { runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RelayEvent } from "../../protocol/index.js";
import type { NodeRegistryDO } from "../../worker/node-registry-do.js";
import type { RelayDO } from "../../worker/relay-do.js";
import { statusEvent } from "../../worker/stream-types.js";
import { deadNode, describeStream, E, leg, nodeCall, seedStream, streamStub, uniqueName, WcsClient, storedStream } from "./helpers.js";

type Entry = Awaited<ReturnType<RelayDO["describe"]>>[string];

const relayStub = (): DurableObjectStub<RelayDO> => E.RELAY.get(E.RELAY.idFromName("global"));
const globalRegistry = (): DurableObjectStub<NodeRegistryDO> => E.NODE_REGISTRY.get(E.NODE_REGISTRY.idFromName("global"));
const relayAlarm = () => runInDurableObject(relayStub(), (_i, ctx) => ctx.storage.getAlarm());
const describeRelays = () => runInDurableObject(relayStub(), (inst) => inst.describe()) as Promise<Record<string, Entry>>;

async function seedRelays(entries: Entry[], alarmAt?: number): Promise<void> {
  await runInDurableObject(relayStub(), async (inst, ctx) => {
    const relays = Object.fromEntries(entries.map((e) => [e.relayId, structuredClone(e)]));
    (inst as unknown as { relays: object }).relays = relays;
    await ctx.storage.put("relays", relays);
    if (alarmAt !== undefined) await ctx.storage.setAlarm(alarmAt);
  });
}

function entry(over: Partial<Entry> = {}): Entry {
  return {
    relayId: crypto.randomUUID(),
    direction: "push",
    uri: "wss://remote.example:8443/",
    localStreamName: uniqueName("local"),
    remoteStreamName: "remote",
    localMediaSessionId: crypto.randomUUID(),
    remoteMediaSessionId: crypto.randomUUID(),
    status: "PENDING",
    retry: false,
    attempts: 0,
    node: deadNode(),
    legId: crypto.randomUUID(),
    createdAt: 1000,
    ...over,
  };
}

/** The find_all record of an entry (relay-do.ts toRecord). */
function record(e: Entry) {
  return {
    localMediaSessionId: e.localMediaSessionId,
    remoteMediaSessionId: e.remoteMediaSessionId,
    localStreamName: e.localStreamName,
    remoteStreamName: e.remoteStreamName,
    uri: e.uri,
    status: e.status,
    ...(e.info === undefined ? {} : { info: e.info }),
    direction: e.direction,
    retry: e.retry,
    attempts: e.attempts,
    ...(e.node ? { nodeId: e.node.nodeId } : {}),
  };
}

function post(path: string, body?: unknown, method = "POST"): Promise<Response> {
  return SELF.fetch(`http://x/rest-api${path}`, {
    method,
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body), headers: { "Content-Type": "application/json" } }),
  });
}
async function expectJson(res: Response, status: number, body: unknown): Promise<void> {
  expect(res.status).toBe(status);
  expect(await res.json()).toEqual(body);
}

const open: WcsClient[] = [];
beforeEach(async () => {
  await runInDurableObject(relayStub(), async (inst, ctx) => {
    (inst as unknown as { relays: object }).relays = {};
    await ctx.storage.deleteAll();
  });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const req = (over: Record<string, unknown> = {}) => ({ uri: "wss://remote.example:8443/", localStreamName: uniqueName("l"), remoteStreamName: "r", ...over });

describe("REST body validation", () => {
  it.each([
    ["malformed JSON", "{", "Malformed JSON body"],
    ["an empty body", undefined, "Invalid body: uri Required"],
    ["no uri", { localStreamName: "a", remoteStreamName: "b" }, "Invalid body: uri Required"],
    ["an http uri", req({ uri: "http://remote/" }), "Invalid body: uri must be a ws:// or wss:// URL"],
    ["a uri with spaces", req({ uri: "ws://re mote/" }), "Invalid body: uri must be a ws:// or wss:// URL"],
    ["an empty localStreamName", req({ localStreamName: "" }), "Invalid body: localStreamName String must contain at least 1 character(s)"],
    ["a 257-character remoteStreamName", req({ remoteStreamName: "r".repeat(257) }), "Invalid body: remoteStreamName String must contain at most 256 character(s)"],
    ["a non-boolean retry", req({ retry: "yes" }), "Invalid body: retry Expected boolean, received string"],
  ])("/pull/push and /pull/pull with %s → 400", async (_what, body, error) => {
    for (const path of ["/pull/push", "/pull/pull"]) await expectJson(await post(path, body), 400, { error });
    expect(await relayStub().list()).toEqual([]);
  });

  it("/pull/terminate without any filter field → 400", async () => {
    const error = "Invalid body: body give uri, localStreamName and/or remoteStreamName";
    await expectJson(await post("/pull/terminate", {}), 400, { error });
    await expectJson(await post("/pull/terminate"), 400, { error });
    await expectJson(await post("/pull/terminate", "[1"), 400, { error: "Malformed JSON body" });
  });

  it("GET /pull/push is not a method → 404", async () => {
    await expectJson(await post("/pull/push", undefined, "GET"), 404, { error: "No such REST method: GET /rest-api/pull/push" });
  });
});

describe("refusals without a media node", () => {
  it("push of a local stream that is not publishing → 404 Stream not found; nothing kept", async () => {
    await expectJson(await post("/pull/push", req()), 404, { error: "Stream not found" });
    const name = uniqueName("pending");
    await seedStream({ name, node: deadNode(), publisher: leg("publisher", "0".repeat(64), { status: "PENDING" }), players: {} });
    await expectJson(await post("/pull/push", req({ localStreamName: name })), 404, { error: "Stream not found" });
    expect(await describeRelays()).toEqual({});
    expect(await relayAlarm()).toBeNull();
  });

  it("pull with no media node → 503; the local name is free again", async () => {
    const r = req();
    await expectJson(await post("/pull/pull", r), 503, { error: "Failed by error: no media node available" });
    expect(await describeStream(r.localStreamName)).toEqual({ name: r.localStreamName, node: null, publisher: null, players: {} });
    expect(await describeRelays()).toEqual({});
  });

  it("pull into a local name in use → 409; the holder is untouched", async () => {
    const name = uniqueName("taken");
    const pub = leg("publisher", "0".repeat(64));
    await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    await expectJson(await post("/pull/pull", req({ localStreamName: name })), 409, { error: "Stream name is already in use" });
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: {} });
    expect(await describeRelays()).toEqual({});
  });

  it("pull placed on a node that refuses connections → 500 media node lost; local stream ended, node dropped", async () => {
    const reg = globalRegistry();
    await reg.heartbeat({ nodeId: "relay-dead", bootId: "b1", controlUrl: "http://127.0.0.1:9", load: { publishers: 0, players: 0, cpuPercent: 0 }, maxLegs: 0, intervalMs: 60_000, seq: 1 });
    try {
      const r = req();
      await expectJson(await post("/pull/pull", r), 500, { error: "Failed by error: media node lost" });
      expect(await describeStream(r.localStreamName)).toEqual({ name: r.localStreamName, node: null, publisher: null, players: {} });
      expect(await reg.list()).toEqual([]);
      expect(await describeRelays()).toEqual({});
    } finally {
      await reg.reportUnreachable("relay-dead", "b1");
      await runInDurableObject(reg, async (_i, ctx) => ctx.storage.deleteAlarm());
    }
  });

  it("push of a publishing stream whose node refuses connections → 500 media node lost; the stream is untouched", async () => {
    const name = uniqueName("pushdead");
    const pub = leg("publisher", "0".repeat(64));
    await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    await expectJson(await post("/pull/push", req({ localStreamName: name })), 500, { error: "Failed by error: media node lost" });
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: {} });
    expect(await describeRelays()).toEqual({});
  });

  it("a relay that already exists → 409 (pull: same local name; push: same uri, local and remote names)", async () => {
    const pull = entry({ direction: "pull", localStreamName: uniqueName("pl") });
    const push = entry({ direction: "push", localStreamName: uniqueName("ps") });
    await seedRelays([pull, push]);
    await expectJson(await post("/pull/pull", req({ localStreamName: pull.localStreamName, uri: "ws://other/", remoteStreamName: "x" })), 409, {
      error: `Relay already exists (${pull.localStreamName} <- ${pull.uri} ${pull.remoteStreamName})`,
    });
    await expectJson(await post("/pull/push", { uri: push.uri, localStreamName: push.localStreamName, remoteStreamName: push.remoteStreamName }), 409, {
      error: `Relay already exists (${push.localStreamName} -> ${push.uri} ${push.remoteStreamName})`,
    });
    // another remote name is another relay (refused here only because the local stream is not publishing)
    await expectJson(await post("/pull/push", { uri: push.uri, localStreamName: push.localStreamName, remoteStreamName: "other" }), 404, { error: "Stream not found" });
    expect(await describeRelays()).toEqual({ [pull.relayId]: pull, [push.relayId]: push });
  });
});

describe("find_all / terminate", () => {
  it("find_all: 404 Relay not found when empty (GET and POST)", async () => {
    await expectJson(await post("/pull/find_all", undefined, "GET"), 404, { error: "Relay not found" });
    await expectJson(await post("/pull/find_all"), 404, { error: "Relay not found" });
  });

  it("find_all lists every relay in creation order with the WCS fields first", async () => {
    const a = entry({ createdAt: 3000, status: "PROCESSED_REMOTE" });
    const b = entry({ createdAt: 1000, direction: "pull", status: "FAILED", info: "Remote server closed the connection", node: null, remoteMediaSessionId: null, retry: true, attempts: 2, nextAttemptAt: Date.now() + 60_000 });
    const c = entry({ createdAt: 2000, status: "NEW", localMediaSessionId: null, remoteMediaSessionId: null, node: null, legId: null });
    await seedRelays([a, b, c]);
    for (const method of ["GET", "POST"]) {
      const res = await post("/pull/find_all", undefined, method);
      expect(res.status).toBe(200);
      const list = (await res.json()) as Array<Record<string, unknown>>;
      expect(list).toEqual([record(b), record(c), record(a)]);
      expect(Object.keys(list[2]!)).toEqual(["localMediaSessionId", "remoteMediaSessionId", "localStreamName", "remoteStreamName", "uri", "status", "direction", "retry", "attempts", "nodeId"]);
    }
    expect(record(b)).toEqual({
      localMediaSessionId: b.localMediaSessionId, remoteMediaSessionId: null, localStreamName: b.localStreamName, remoteStreamName: "remote", uri: b.uri, status: "FAILED", info: "Remote server closed the connection", direction: "pull", retry: true, attempts: 2,
    });
  });

  it("terminate: 404 when nothing matches; every given field must match", async () => {
    const a = entry({ uri: "ws://a/", remoteStreamName: "x" });
    await seedRelays([a]);
    await expectJson(await post("/pull/terminate", { uri: "ws://b/" }), 404, { error: "Relay not found" });
    await expectJson(await post("/pull/terminate", { uri: "ws://a/", remoteStreamName: "y" }), 404, { error: "Relay not found" });
    await expectJson(await post("/pull/terminate", { localStreamName: "nope" }), 404, { error: "Relay not found" });
    expect(await describeRelays()).toEqual({ [a.relayId]: a });
  });

  it("terminate forgets the matching relays, ends a pull's local stream, keeps the others and re-arms the retry alarm", async () => {
    const v = await WcsClient.connected();
    open.push(v);
    const name = uniqueName("pulled");
    const pull = entry({ direction: "pull", uri: "ws://a/", localStreamName: name, status: "PROCESSED_LOCAL" });
    const push = entry({ uri: "ws://a/", status: "FAILED", node: null, retry: true, nextAttemptAt: Date.now() + 50_000 });
    const keep = entry({ uri: "ws://b/", status: "FAILED", node: null, retry: true, nextAttemptAt: Date.now() + 70_000 });
    await seedRelays([pull, push, keep], push.nextAttemptAt);
    const pub = leg("publisher", { kind: "relay", relayId: pull.relayId }, { legId: pull.legId!, mediaSessionId: pull.localMediaSessionId! });
    const ply = leg("player", v.sessionId);
    await seedStream({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply } });

    await expectJson(await post("/pull/terminate", { uri: "ws://a/" }), 200, { terminated: 2 });
    expect(await describeRelays()).toEqual({ [keep.relayId]: keep });
    expect(await relayAlarm()).toBe(keep.nextAttemptAt);
    expect(await v.expectNext("notifyStreamStatusEvent")).toEqual(statusEvent(name, ply, "FAILED", "Stopped by publisher stop", "node-a"));
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });

    await expectJson(await post("/pull/terminate", { localStreamName: keep.localStreamName }), 200, { terminated: 1 });
    expect(await describeRelays()).toEqual({});
    expect(await relayAlarm()).toBeNull();
  });
});

describe("relay events from a node (POST /internal/nodes/relay-events)", () => {
  const event = (e: Entry, over: Partial<RelayEvent> = {}): RelayEvent => ({ nodeId: "node-a", bootId: "boot-1", relayId: e.relayId, state: "active", ...over });

  it("401 unsigned or signed with another secret, 400 malformed; the relay is untouched", async () => {
    const e = entry();
    await seedRelays([e]);
    const body = JSON.stringify(event(e));
    await expectJson(await SELF.fetch("http://x/internal/nodes/relay-events", { method: "POST", body }), 401, { code: "unauthorized", info: "Bad or missing request signature" });
    await expectJson(await nodeCall("/internal/nodes/relay-events", event(e), "wrong-secret"), 401, { code: "unauthorized", info: "Bad or missing request signature" });
    const bad = await nodeCall("/internal/nodes/relay-events", { ...event(e), state: "connected" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { info: string }).info).toMatch(/^Invalid body: state /);
    expect(await describeRelays()).toEqual({ [e.relayId]: e });
  });

  it("an event of an unknown relay, another node or another incarnation is ignored", async () => {
    const e = entry();
    await seedRelays([e]);
    for (const ev of [event(e, { relayId: "nope" }), event(e, { nodeId: "node-b" }), event(e, { bootId: "boot-0" }), event(e, { bootId: "boot-0", state: "failed" })]) {
      await expectJson(await nodeCall("/internal/nodes/relay-events", ev), 200, { ok: true });
    }
    expect(await describeRelays()).toEqual({ [e.relayId]: e });
  });

  it("active → PROCESSED_REMOTE (push) / PROCESSED_LOCAL (pull); attempts and info reset", async () => {
    const push = entry({ attempts: 3, info: "old" });
    const pull = entry({ direction: "pull" });
    await seedRelays([push, pull]);
    await expectJson(await nodeCall("/internal/nodes/relay-events", event(push)), 200, { ok: true });
    await expectJson(await nodeCall("/internal/nodes/relay-events", event(pull)), 200, { ok: true });
    const after = await describeRelays();
    expect(after[push.relayId]).toEqual({ ...push, status: "PROCESSED_REMOTE", attempts: 0, info: undefined });
    expect(after[pull.relayId]).toEqual({ ...pull, status: "PROCESSED_LOCAL" });
    expect(record(after[push.relayId]!)).not.toHaveProperty("info");
  });

  it("failed (pull, no retry) → FAILED with the node's info; the local stream ends; no alarm", async () => {
    const v = await WcsClient.connected();
    open.push(v);
    const name = uniqueName("pullfail");
    const pull = entry({ direction: "pull", localStreamName: name, status: "PROCESSED_LOCAL" });
    await seedRelays([pull]);
    const pub = leg("publisher", { kind: "relay", relayId: pull.relayId }, { legId: pull.legId!, mediaSessionId: pull.localMediaSessionId! });
    const ply = leg("player", v.sessionId);
    await seedStream({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply } });
    await expectJson(await nodeCall("/internal/nodes/relay-events", event(pull, { state: "failed", info: "Remote server closed the connection" })), 200, { ok: true });
    expect(await relayStub().list()).toEqual([{ ...record(pull), status: "FAILED", info: "Remote server closed the connection", remoteMediaSessionId: null, nodeId: undefined }].map(({ nodeId: _n, ...r }) => r));
    expect(await v.expectNext("notifyStreamStatusEvent")).toEqual(statusEvent(name, ply, "FAILED", "Stopped by publisher stop", "node-a"));
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    expect(await relayAlarm()).toBeNull();
  });

  it("failed without info → Failed by error; with retry the next attempt is 1 s · 2^attempts away and the alarm is armed", async () => {
    const e = entry({ retry: true, attempts: 2 });
    await seedRelays([e]);
    const before = Date.now();
    await expectJson(await nodeCall("/internal/nodes/relay-events", event(e, { state: "failed" })), 200, { ok: true });
    const after = (await describeRelays())[e.relayId]!;
    expect(after).toMatchObject({ status: "FAILED", info: "Failed by error", node: null, remoteMediaSessionId: null, attempts: 3 });
    expect(after.nextAttemptAt! - before).toBeGreaterThanOrEqual(4000);
    expect(after.nextAttemptAt! - Date.now()).toBeLessThanOrEqual(4000);
    expect(await relayAlarm()).toBe(after.nextAttemptAt);
  });
});

describe("node loss and retries", () => {
  it("onNodeLost fails the relays of that node and incarnation only", async () => {
    const a = entry();
    const b = entry({ node: deadNode("node-a", "boot-0") });
    const c = entry({ node: deadNode("node-b") });
    await seedRelays([a, b, c]);
    await relayStub().onNodeLost("node-a", "boot-1");
    const after = await describeRelays();
    expect(after[a.relayId]).toEqual({ ...a, status: "FAILED", info: "Failed by error: media node lost", node: null, remoteMediaSessionId: null });
    expect(after[b.relayId]).toEqual(b);
    expect(after[c.relayId]).toEqual(c);
  });

  it("the alarm retries a due push: still no local stream → FAILED Stream not found, backoff doubles, alarm re-armed", async () => {
    const due = entry({ status: "FAILED", info: "x", node: null, retry: true, attempts: 1, nextAttemptAt: Date.now() - 1 });
    const later = entry({ status: "FAILED", info: "y", node: null, retry: true, attempts: 1, nextAttemptAt: Date.now() + 50_000 });
    const noRetry = entry({ status: "FAILED", info: "z", node: null, retry: false });
    await seedRelays([due, later, noRetry], Date.now() + 60_000);
    const before = Date.now();
    expect(await runDurableObjectAlarm(relayStub())).toBe(true);
    const after = await describeRelays();
    expect(after[later.relayId]).toEqual(later);
    expect(after[noRetry.relayId]).toEqual(noRetry);
    const d = after[due.relayId]!;
    expect(d).toMatchObject({ status: "FAILED", info: "Stream not found", attempts: 2, node: null, remoteMediaSessionId: null });
    expect(d.nextAttemptAt! - before).toBeGreaterThanOrEqual(2000);
    expect(d.nextAttemptAt! - Date.now()).toBeLessThanOrEqual(2000);
    expect(await relayAlarm()).toBe(d.nextAttemptAt);
  });

  it("the backoff is capped at RELAY_RETRY_MAX_MS (30 s); a due pull without a node fails with no media node", async () => {
    const name = uniqueName("retrypull");
    const due = entry({ direction: "pull", localStreamName: name, status: "FAILED", node: null, legId: null, retry: true, attempts: 9, nextAttemptAt: Date.now() - 1 });
    await seedRelays([due], Date.now() + 60_000);
    const before = Date.now();
    expect(await runDurableObjectAlarm(relayStub())).toBe(true);
    const d = (await describeRelays())[due.relayId]!;
    expect(d).toMatchObject({ status: "FAILED", info: "Failed by error: no media node available", attempts: 10 });
    expect(d.nextAttemptAt! - before).toBeGreaterThanOrEqual(30_000);
    expect(d.nextAttemptAt! - Date.now()).toBeLessThanOrEqual(30_000);
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    expect(await storedStream(streamStub(name))).toBeUndefined();
  });
});
