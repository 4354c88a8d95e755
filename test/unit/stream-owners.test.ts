/**
 * StreamDO legs of every owner kind ("session" | "http" | "ws" | "relay", worker/stream-types.ts LegOwner; the rules
 * in worker/leg-owners.ts) with seeded state and no media node: who hears a leg's statuses, which ends an owner may
 * use, leg / addRemoteCandidates, terminate, streamObjects, the relay leg API (publishRelay, relayStarted,
 * relaySource) and the server-offer play API. Open WCS sessions next to them prove that statuses of other owners
 * reach no session.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { LegEvent } from "../../protocol/index.js";
import type { NodeRegistryDO } from "../../worker/node-registry-do.js";
import type { RelayDO } from "../../worker/relay-do.js";
import { statusEvent, type LegOwner, type LegRecord } from "../../worker/stream-types.js";
import { deadNode, describeStream, E, leg, seedStream, streamStub, uniqueName, storedStream, setStreamState, clientsClosedAfterEach } from "./helpers.js";

const { connected } = clientsClosedAfterEach();
afterEach(async () => {
  await runInDurableObject(relayStub(), async (inst, ctx) => {
    (inst as unknown as { relays: object }).relays = {};
    await ctx.storage.deleteAll();
  });
});

const relayStub = (): DurableObjectStub<RelayDO> => E.RELAY.get(E.RELAY.idFromName("global"));
const globalRegistry = (): DurableObjectStub<NodeRegistryDO> => E.NODE_REGISTRY.get(E.NODE_REGISTRY.idFromName("global"));
const storedState = storedStream;
const alarmOf = (stub: DurableObjectStub) => runInDurableObject(stub, (_i, ctx) => ctx.storage.getAlarm());

const httpOwner = (etag = '"e1"'): LegOwner => ({ kind: "http", etag, iceUfrag: "Qy7m", icePwd: "8rNhE3pQ0Bf6lQyq1ZC0Sx5u" });
const wsOwner = (endpointId: string = E.WS_ENDPOINT.newUniqueId().toString()): LegOwner => ({ kind: "ws", endpointId });
const relayOwner = (relayId: string): LegOwner => ({ kind: "relay", relayId });
function ev(name: string, l: LegRecord, over: Partial<LegEvent> = {}): LegEvent {
  return { nodeId: "node-a", bootId: "boot-1", legId: l.legId, streamName: name, role: l.role, state: "connected", ...over };
}

describe('"http" legs: their statuses change the stream; no session is told (leg-owners.ts: http is only logged)', () => {
  it("connected → PUBLISHING, then failed → the stream ends and the name is free; the WCS player gets its FAILED", async () => {
    const v = await connected();
    const name = uniqueName("http-ev");
    const pub = leg("publisher", httpOwner(), { status: "PENDING" });
    const ply = leg("player", v.sessionId);
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply } });

    await stub.onLegEvent(ev(name, pub));
    expect((await describeStream(name)).publisher).toEqual({ ...pub, status: "PUBLISHING" });
    await v.expectIdle(); // the publisher's status is not the player's business

    await stub.onLegEvent(ev(name, pub, { state: "failed", failure: "ice" }));
    expect(await v.expectNext("notifyStreamStatusEvent")).toEqual(statusEvent(name, ply, "FAILED", "Stopped by publisher stop", "node-a"));
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    await v.expectIdle();
  });

  it("an http player's PLAYING and its ICE timeout change only that player; the publisher's session hears nothing", async () => {
    const owner = await connected();
    const name = uniqueName("http-ply");
    const pub = leg("publisher", owner.sessionId);
    const ply = leg("player", httpOwner(), { status: "PENDING" });
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply } });
    await stub.onLegEvent(ev(name, ply));
    expect((await describeStream(name)).players[ply.legId]?.status).toBe("PLAYING");
    const ply2 = leg("player", httpOwner(), { status: "PENDING", deadline: Date.now() - 1 });
    await seedStream({ name, node: deadNode(), publisher: pub, players: { [ply2.legId]: ply2 } }, Date.now() + 60_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: {} });
    await owner.expectIdle();
  });
});

describe("end / leg", () => {
  it("end (stop) of the http publisher ends the stream: WCS players get FAILED Stopped by publisher stop", async () => {
    const c = await connected();
    const v1 = await connected();
    const v2 = await connected();
    const name = uniqueName("stop-pub");
    const pub = leg("publisher", httpOwner());
    const p1 = leg("player", v1.sessionId);
    const p2 = leg("player", v2.sessionId);
    const p3 = leg("player", httpOwner('"e3"'));
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [p1.legId]: p1, [p2.legId]: p2, [p3.legId]: p3 } }, Date.now() + 60_000);
    expect(await stub.end(pub.legId, { kind: "stop" })).toMatchObject({ mediaSessionId: pub.mediaSessionId, status: "UNPUBLISHED", info: "Stopped by user" });
    for (const [v, p] of [[v1, p1], [v2, p2]] as const) {
      expect(await v.expectNext("notifyStreamStatusEvent")).toEqual(statusEvent(name, p, "FAILED", "Stopped by publisher stop", "node-a"));
      await v.expectIdle();
    }
    await c.expectIdle();
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    expect(await storedState(stub)).toBeUndefined();
    expect(await stub.end(pub.legId, { kind: "stop" })).toBeNull();
  });

  it("end (stop) of an http player ends only that player; nobody is told", async () => {
    const owner = await connected();
    const v = await connected();
    const name = uniqueName("stop-ply");
    const pub = leg("publisher", owner.sessionId);
    const wcs = leg("player", v.sessionId);
    const hp = leg("player", httpOwner());
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [wcs.legId]: wcs, [hp.legId]: hp } });
    expect(await stub.end(hp.legId, { kind: "stop" })).toMatchObject({ status: "STOPPED", info: "Stopped by user" });
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: { [wcs.legId]: wcs } });
    await owner.expectIdle();
    await v.expectIdle();
  });

  it("end refuses the ends an owner's rules do not allow, and unknown ids; leg gives any leg's facts", async () => {
    const name = uniqueName("stop-other");
    const pub = leg("publisher", "0".repeat(64));
    const ws = leg("player", wsOwner());
    const ses = leg("player", "2".repeat(64));
    const hp = leg("player", httpOwner());
    const rl = leg("player", relayOwner("r1"));
    const state = { name, node: deadNode(), publisher: pub, players: { [ws.legId]: ws, [ses.legId]: ses, [hp.legId]: hp, [rl.legId]: rl } };
    const stub = await seedStream(state);
    expect(await stub.end(ws.legId, { kind: "stop" })).toBeNull(); // a ws leg ends with its socket only
    expect(await stub.end(hp.legId, { kind: "gone" })).toBeNull(); // an http resource has no socket to lose
    expect(await stub.end(ses.legId, { kind: "failed", info: "x" })).toBeNull();
    expect(await stub.end(rl.legId, { kind: "gone" })).toBeNull();
    expect(await stub.end("no-such-leg", { kind: "stop" })).toBeNull();
    expect(await stub.leg("no-such-leg")).toBeNull();
    const { custom: _c, ...facts } = hp;
    expect(await stub.leg(hp.legId)).toEqual(facts);
    expect(await describeStream(name)).toEqual(state);
  });
});

describe("addRemoteCandidates", () => {
  const cands = [{ candidate: "candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host", mid: "0" }];

  it("not_found No such resource for session and relay legs, unknown ids, and an http leg of a stream without a node", async () => {
    const name = uniqueName("cand");
    const pub = leg("publisher", relayOwner("r1"));
    const ses = leg("player", "0".repeat(64));
    const hp = leg("player", httpOwner());
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [ses.legId]: ses } });
    const notFound = { ok: false, code: "not_found", info: "No such resource" };
    for (const id of [pub.legId, ses.legId, "nope"]) expect(await stub.addRemoteCandidates(id, cands)).toEqual(notFound);
    await seedStream({ name, node: null, publisher: pub, players: { [hp.legId]: hp } });
    expect(await stub.addRemoteCandidates(hp.legId, cands)).toEqual(notFound);
  });

  it.each(["http", "ws"] as const)("an %s leg's candidates go to its node (refusing connections → node_lost media node lost)", async (owner) => {
    const name = uniqueName("cand2");
    const pub = leg("publisher", owner === "http" ? httpOwner() : wsOwner());
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    expect(await stub.addRemoteCandidates(pub.legId, cands)).toEqual({ ok: false, code: "node_lost", info: "Failed by error: media node lost" });
    expect((await describeStream(name)).publisher).toEqual(pub);
  });
});

describe("terminate (REST /stream/terminate)", () => {
  it("of an http publisher: players of every owner end with STOPPED Stopped by rest /terminate; only session players hear it", async () => {
    const c = await connected();
    const v = await connected();
    const name = uniqueName("term-http");
    const pub = leg("publisher", httpOwner());
    const wcs = leg("player", v.sessionId);
    const hp = leg("player", httpOwner());
    const ws = leg("player", wsOwner()); // no socket there: deliver → false
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [wcs.legId]: wcs, [hp.legId]: hp, [ws.legId]: ws } });
    expect(await stub.terminate([pub.mediaSessionId, hp.mediaSessionId, ws.mediaSessionId])).toBe(1);
    expect(await v.expectNext("notifyStreamStatusEvent")).toEqual(statusEvent(name, wcs, "STOPPED", "Stopped by rest /terminate", "node-a"));
    await v.expectIdle();
    await c.expectIdle();
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
  });

  it("of http and ws players only: both end, the publisher and the other players stay", async () => {
    const owner = await connected();
    const v = await connected();
    const name = uniqueName("term-ply");
    const pub = leg("publisher", owner.sessionId);
    const wcs = leg("player", v.sessionId);
    const hp = leg("player", httpOwner());
    const ws = leg("player", wsOwner());
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [wcs.legId]: wcs, [hp.legId]: hp, [ws.legId]: ws } });
    expect(await stub.terminate([hp.mediaSessionId, ws.mediaSessionId, "unknown"])).toBe(2);
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: { [wcs.legId]: wcs } });
    await owner.expectIdle();
    await v.expectIdle();
    expect(await stub.terminate(["unknown"])).toBe(0);
  });

  it("of a relay publisher: its relay hears UNPUBLISHED and fails; WCS players get STOPPED", async () => {
    const v = await connected();
    const name = uniqueName("term-relay");
    const relayId = crypto.randomUUID();
    const pub = leg("publisher", relayOwner(relayId));
    const ply = leg("player", v.sessionId);
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply } });
    await runInDurableObject(relayStub(), async (inst, ctx) => {
      const relays = {
        [relayId]: { relayId, direction: "pull", uri: "wss://remote.example/", localStreamName: name, remoteStreamName: "r", localMediaSessionId: pub.mediaSessionId, remoteMediaSessionId: "rm", status: "PROCESSED_LOCAL", retry: false, attempts: 0, node: deadNode(), legId: pub.legId, createdAt: 1 },
      };
      (inst as unknown as { relays: object }).relays = relays;
      await ctx.storage.put("relays", relays);
    });
    expect(await stub.terminate([pub.mediaSessionId])).toBe(1);
    expect(await v.expectNext("notifyStreamStatusEvent")).toEqual(statusEvent(name, ply, "STOPPED", "Stopped by rest /terminate", "node-a"));
    expect(await relayStub().list()).toEqual([
      { localMediaSessionId: pub.mediaSessionId, remoteMediaSessionId: null, localStreamName: name, remoteStreamName: "r", uri: "wss://remote.example/", status: "FAILED", info: "Local stream UNPUBLISHED: Stopped by rest /terminate", direction: "pull", retry: false, attempts: 0 },
    ]);
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
  });
});

describe("streamObjects", () => {
  it("lists the publisher first, then players of every owner kind, with codecs on the publisher only", async () => {
    const name = uniqueName("objs");
    const pub = leg("publisher", relayOwner("relay-1"), { createdAt: 1000, custom: { a: 1 } });
    const s = leg("player", "0".repeat(64), { createdAt: 2000, appKey: undefined });
    const h = leg("player", httpOwner(), { createdAt: 3000, status: "PENDING", hasAudio: false });
    const w = leg("player", wsOwner("1".repeat(64)), { createdAt: 4000 });
    const stub = streamStub(name);
    await runInDurableObject(stub, async (inst) => {
      const st = { name, node: deadNode("node-x"), publisher: pub, players: { [s.legId]: s, [h.legId]: h, [w.legId]: w }, media: { videoCodec: "VP8", audioCodec: "opus" } };
      await setStreamState(inst, st);
    });
    const objs = await stub.streamObjects();
    expect(objs).toEqual([
      { ...statusEvent(name, pub, "PUBLISHING", undefined, "node-x"), videoCodec: "VP8", audioCodec: "opus" },
      statusEvent(name, s, "PLAYING", undefined, "node-x"),
      statusEvent(name, h, "PENDING", undefined, "node-x"),
      statusEvent(name, w, "PLAYING", undefined, "node-x"),
    ]);
    expect(objs[0]).toMatchObject({ published: true, mediaType: "publish", sessionId: "relay-1", custom: { a: 1 }, createDate: 1000 });
    expect(objs[1]).not.toHaveProperty("appKey");
    expect(objs[2]).toMatchObject({ hasAudio: false, hasVideo: true, published: false, mediaType: "play", sessionId: `whep-${h.mediaSessionId}` });
    expect(objs[3]).toMatchObject({ sessionId: "1".repeat(64) });
  });

  it("is empty for a stream that does not exist", async () => {
    expect(await streamStub(uniqueName("none")).streamObjects()).toEqual([]);
  });
});

describe("relay legs", () => {
  it("relaySource: not_found without a publisher or while it is PENDING; node and mediaSessionId when PUBLISHING", async () => {
    const name = uniqueName("src");
    const stub = streamStub(name);
    const notFound = { ok: false, code: "not_found", info: "Stream not found" };
    expect(await stub.relaySource()).toEqual(notFound);
    const pub = leg("publisher", "0".repeat(64), { status: "PENDING" });
    await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    expect(await stub.relaySource()).toEqual(notFound);
    await seedStream({ name, node: null, publisher: { ...pub, status: "PUBLISHING" }, players: {} });
    expect(await stub.relaySource()).toEqual(notFound);
    await seedStream({ name, node: deadNode(), publisher: { ...pub, status: "PUBLISHING" }, players: {} });
    expect(await stub.relaySource()).toEqual({ ok: true, node: deadNode(), mediaSessionId: pub.mediaSessionId });
  });

  it("publishRelay: name in use → refused and untouched; no media node → refused and the name is free", async () => {
    const name = uniqueName("prelay");
    const pub = leg("publisher", "0".repeat(64), { status: "PENDING" });
    const stub = await seedStream({ name, node: null, publisher: pub, players: {} });
    const args = { legId: crypto.randomUUID(), owner: relayOwner("r1"), mediaSessionId: crypto.randomUUID() };
    expect(await stub.publishRelay(name, args)).toEqual({ ok: false, code: "name_in_use", info: "Stream name is already in use" });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: pub, players: {} });

    const free = uniqueName("prelay2");
    expect(await streamStub(free).publishRelay(free, args)).toEqual({ ok: false, code: "no_media_node", info: "Failed by error: no media node available" });
    expect(await describeStream(free)).toEqual({ name: free, node: null, publisher: null, players: {} });
    expect(await storedState(streamStub(free))).toBeUndefined();
  });

  it("publishRelay with a live node: a PENDING relay-owned publisher with the given ids, placed, deadline armed; relayStarted sets its media", async () => {
    const reg = globalRegistry();
    await reg.heartbeat({ nodeId: "relay-node", bootId: "b1", controlUrl: "http://127.0.0.1:9", load: { publishers: 0, players: 0, cpuPercent: 0 }, maxLegs: 0, intervalMs: 60_000, seq: 1 });
    try {
      const name = uniqueName("prelay3");
      const stub = streamStub(name);
      const args = { legId: crypto.randomUUID(), owner: relayOwner("relay-42"), mediaSessionId: crypto.randomUUID() };
      const node = { nodeId: "relay-node", bootId: "b1", controlUrl: "http://127.0.0.1:9" };
      expect(await stub.publishRelay(name, args)).toEqual({ ok: true, node });
      const st = await describeStream(name);
      expect(st.node).toEqual(node);
      expect(st.publisher).toMatchObject({ legId: args.legId, role: "publisher", mediaSessionId: args.mediaSessionId, owner: { kind: "relay", relayId: "relay-42" }, status: "PENDING", hasAudio: false, hasVideo: false });
      expect(await alarmOf(stub)).toBe(st.publisher!.deadline);
      expect((await reg.list()).map((n) => n.streams)).toEqual([[name]]);
      expect(await stub.relayStarted("other-leg", { videoCodec: "VP8" })).toBe(false);
      expect(await stub.relayStarted(args.legId, { videoCodec: "VP8" })).toBe(true);
      expect(await describeStream(name)).toMatchObject({ publisher: { hasAudio: false, hasVideo: true }, media: { videoCodec: "VP8" } });
      expect(await stub.end(args.legId, { kind: "stop" })).toMatchObject({ status: "UNPUBLISHED", info: "Stopped by user" });
      expect((await reg.list()).map((n) => n.streams)).toEqual([[]]);
    } finally {
      await reg.reportUnreachable("relay-node", "b1");
      await runInDurableObject(reg, async (_i, ctx) => ctx.storage.deleteAlarm());
    }
  });

  it("end (failed) ends only the relay publisher with that leg id: players FAILED Stopped by publisher stop", async () => {
    const v = await connected();
    const name = uniqueName("endrelay");
    const pub = leg("publisher", relayOwner("relay-1"));
    const ply = leg("player", v.sessionId);
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply } });
    expect(await stub.end("other-leg", { kind: "failed", info: "x" })).toBeNull();
    expect(await stub.end(ply.legId, { kind: "failed", info: "x" })).toBeNull();
    await v.expectIdle();
    expect(await stub.end(pub.legId, { kind: "failed", info: "Relay failed: Remote server closed the connection" })).toMatchObject({ status: "FAILED", info: "Relay failed: Remote server closed the connection" });
    expect(await v.expectNext("notifyStreamStatusEvent")).toEqual(statusEvent(name, ply, "FAILED", "Stopped by publisher stop", "node-a"));
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
  });

  it("a relay publisher's connected goes to nobody; its failure reaches its relay (FAILED with the local info)", async () => {
    const c = await connected();
    const name = uniqueName("relayev");
    const relayId = crypto.randomUUID();
    const pub = leg("publisher", relayOwner(relayId), { status: "PENDING" });
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    await runInDurableObject(relayStub(), async (inst, ctx) => {
      const relays = {
        [relayId]: { relayId, direction: "pull", uri: "ws://remote/", localStreamName: name, remoteStreamName: "r", localMediaSessionId: pub.mediaSessionId, remoteMediaSessionId: "rm", status: "PENDING", retry: false, attempts: 0, node: deadNode(), legId: pub.legId, createdAt: 1 },
      };
      (inst as unknown as { relays: object }).relays = relays;
      await ctx.storage.put("relays", relays);
    });
    await stub.onLegEvent(ev(name, pub));
    expect((await describeStream(name)).publisher?.status).toBe("PUBLISHING");
    expect((await relayStub().list())[0]).toMatchObject({ status: "PENDING", remoteMediaSessionId: "rm", nodeId: "node-a" });
    await stub.onLegEvent(ev(name, pub, { state: "failed", failure: "dtls" }));
    expect((await relayStub().list())[0]).toEqual({
      localMediaSessionId: pub.mediaSessionId, remoteMediaSessionId: null, localStreamName: name, remoteStreamName: "r", uri: "ws://remote/", status: "FAILED", info: "Local stream FAILED: Failed by DTLS error", direction: "pull", retry: false, attempts: 0,
    });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    await c.expectIdle();
  });
});

describe("server-offer play (playWithServerOffer / answerLeg)", () => {
  const args = (owner: LegOwner = wsOwner()) => ({ legId: crypto.randomUUID(), owner, mediaSessionId: crypto.randomUUID() });

  it("Stream not found without a PUBLISHING publisher; nothing kept; refused for owners that take no server offer", async () => {
    const name = uniqueName("so");
    expect(await streamStub(name).playWithServerOffer(name, args())).toEqual({ ok: false, code: "not_found", info: "Stream not found" });
    expect(await streamStub(name).playWithServerOffer(name, args(httpOwner()))).toEqual({ ok: false, code: "invalid_request", info: "Invalid request: http legs take no server offer" });
    expect(await storedState(streamStub(name))).toBeUndefined();
    const pub = leg("publisher", "0".repeat(64), { status: "PENDING" });
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    expect(await stub.playWithServerOffer(name, args())).toEqual({ ok: false, code: "not_found", info: "Stream not found" });
    expect((await describeStream(name)).players).toEqual({});
  });

  it("a node that refuses connections → media node lost; the player is not kept", async () => {
    const name = uniqueName("so2");
    const pub = leg("publisher", "0".repeat(64));
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    expect(await stub.playWithServerOffer(name, args())).toEqual({ ok: false, code: "node_lost", info: "Failed by error: media node lost" });
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: {} });
  });

  it("answerLeg: Stream not found for a publisher, a session player and unknown ids; media node lost for a ws player on a dead node", async () => {
    const name = uniqueName("so3");
    const pub = leg("publisher", wsOwner());
    const ses = leg("player", "1".repeat(64));
    const ws = leg("player", wsOwner(), { status: "PENDING" });
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [ses.legId]: ses, [ws.legId]: ws } });
    for (const id of [pub.legId, ses.legId, "nope"]) expect(await stub.answerLeg(id, "v=0")).toEqual({ ok: false, code: "not_found", info: "Stream not found" });
    expect(await stub.answerLeg(ws.legId, "v=0")).toEqual({ ok: false, code: "node_lost", info: "Failed by error: media node lost" });
    expect((await describeStream(name)).players[ws.legId]).toEqual(ws);
  });
});
