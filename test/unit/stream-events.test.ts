/**
 * Stream events (docs/protocols.md "Stream events") in the Workers runtime, no media node: `sendStreamEvent` from a
 * seeded stream's publisher session, checked by the SessionDO (worker/session-stream-events.ts) and relayed by the
 * StreamDO (publisherEvent, worker/stream-events.ts) as `notifyStreamEvent` to the players' sessions, observed on real
 * WebSockets; the mute state on the publisher's record, in new players' PLAYING and in REST `/stream/find`; and REST
 * `/stream/event/send`.
 */
import { runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MAX_FREE_FORM_BYTES, MAX_FREE_FORM_DEPTH, StreamEventInfo, type LegEvent } from "../../protocol/index.js";
import type { NodeRegistryDO } from "../../worker/node-registry-do.js";
import type { LegRecord } from "../../worker/stream-types.js";
import { deadNode, describeStream, E, leg, seedSessionStream, seedStream, storedStream, uniqueName, WcsClient, clientsClosedAfterEach } from "./helpers.js";

const clients = clientsClosedAfterEach();
const connected = clients.connected;

/**
 * A PUBLISHING stream on a dead node: its publisher is `pub`'s session, two players are sessions `p1`, `p2`, one is a
 * WebSocket-endpoint socket (no channel for stream events); and another stream whose player is session `other`.
 */
async function scene() {
  const [pubC, p1C, p2C, otherC] = await Promise.all([connected(), connected(), connected(), connected()]);
  const name = uniqueName("events");
  const pub = leg("publisher", pubC.sessionId);
  const p1 = leg("player", p1C.sessionId);
  const p2 = leg("player", p2C.sessionId);
  const ws = leg("player", { kind: "ws", endpointId: E.WS_ENDPOINT.newUniqueId().toString() });
  const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [p1.legId]: p1, [p2.legId]: p2, [ws.legId]: ws } });
  const otherName = uniqueName("other");
  const otherPub = leg("publisher", crypto.randomUUID().replaceAll("-", ""));
  const otherPlayer = leg("player", otherC.sessionId);
  await seedStream({ name: otherName, node: deadNode(), publisher: otherPub, players: { [otherPlayer.legId]: otherPlayer } });
  await Promise.all([
    seedSessionStream(pubC, pub, name),
    seedSessionStream(p1C, p1, name),
    seedSessionStream(p2C, p2, name),
    seedSessionStream(otherC, otherPlayer, otherName),
  ]);
  return { name, stub, pubC, p1C, p2C, otherC, pub, p1, p2, ws };
}

const sendEvent = (c: WcsClient, mediaSessionId: string, type: string, payload?: unknown) =>
  c.send("sendStreamEvent", { mediaSessionId, type, ...(payload === undefined ? {} : { payload }) });

/** The next frame of `c` must be `fail` of sendStreamEvent with `info`. */
async function expectFail(c: WcsClient, info: string): Promise<void> {
  expect(await c.next()).toEqual({ message: "fail", data: [{ apiMethod: "sendStreamEvent", info }] });
}

/** The publisher's record (memory and storage) has these mute states. */
async function expectMute(name: string, stub: Awaited<ReturnType<typeof seedStream>>, audio: boolean | undefined, video: boolean | undefined) {
  const want = (m: boolean | undefined) => (m === undefined ? undefined : { muted: m });
  for (const st of [await describeStream(name), await storedStream(stub)]) {
    expect(st?.publisher?.audioState).toEqual(want(audio));
    expect(st?.publisher?.videoState).toEqual(want(video));
  }
}

describe("sendStreamEvent from the publisher", () => {
  it("reaches exactly the players of its stream, each with its own mediaSessionId; mute events add streamName", async () => {
    const { name, stub, pubC, p1C, p2C, otherC, pub, p1, p2 } = await scene();
    // one at a time: this test's in-runtime WebSocket (SELF.fetch) was seen to hand a burst of frames of different
    // sizes to the SessionDO out of order (even plain unknown messages); over a real socket to `wrangler dev` a burst
    // keeps its order, and test/e2e/stream-events.test.ts checks the order of a burst there
    const sent: Array<[string, unknown, unknown]> = [
      ["audioMuted", undefined, { streamName: name }], // the Web SDK's muteAudio(): no payload
      ["data", { number: 33, string: "hello", boolean: true, nested: [{ a: null }] }, { number: 33, string: "hello", boolean: true, nested: [{ a: null }] }],
      ["videoMuted", { streamName: "as-the-client-said", extra: 1 }, { streamName: "as-the-client-said", extra: 1 }],
      ["audioUnmuted", null, { streamName: name }],
      ["data", "a string is JSON too", "a string is JSON too"],
    ];
    for (const [type, payload, relayed] of sent) {
      sendEvent(pubC, pub.mediaSessionId, type, payload);
      for (const [c, p] of [[p1C, p1], [p2C, p2]] as const) {
        expect(await c.next()).toEqual({ message: "notifyStreamEvent", data: [{ mediaSessionId: p.mediaSessionId, type, payload: relayed }] });
      }
    }
    await Promise.all([p1C.expectIdle(), p2C.expectIdle()]);
    await pubC.expectIdle(); // no answer on success, as WCS
    await otherC.expectIdle(); // another stream's player hears nothing
    await expectMute(name, stub, false, true);
  });

  it("keeps the mute state on the publisher's record and shows it in a new player's PLAYING and every object of REST /stream/find", async () => {
    const { name, stub, pubC, p1C, pub } = await scene();
    sendEvent(pubC, pub.mediaSessionId, "videoMuted");
    expect(await p1C.expectNext("notifyStreamEvent")).toMatchObject({ type: "videoMuted" });
    // a player that joins now: PENDING, then its node reports it connected
    const late = await connected();
    const newcomer = leg("player", late.sessionId, { status: "PENDING" });
    await seedSessionStream(late, newcomer, name);
    await runInDurableObject(stub, async (inst) => {
      const i = inst as unknown as { state: { players: Record<string, LegRecord> }; save(changed?: LegRecord): Promise<void> };
      i.state.players[newcomer.legId] = newcomer;
      await i.save(newcomer);
    });
    const connectedEv: LegEvent = { nodeId: "node-a", bootId: "boot-1", legId: newcomer.legId, streamName: name, role: "player", state: "connected" };
    await stub.onLegEvent(connectedEv);
    expect(await late.expectNext("notifyStreamStatusEvent")).toMatchObject({
      mediaSessionId: newcomer.mediaSessionId,
      status: "PLAYING",
      audioState: { muted: false },
      videoState: { muted: true },
    });

    await expectMute(name, stub, undefined, true);

    const reg: DurableObjectStub<NodeRegistryDO> = E.NODE_REGISTRY.get(E.NODE_REGISTRY.idFromName("global"));
    await reg.heartbeat({ nodeId: "node-a", bootId: "boot-1", controlUrl: "http://127.0.0.1:9", load: { publishers: 0, players: 0, cpuPercent: 0 }, maxLegs: 0, intervalMs: 60_000, seq: 1 });
    try {
      expect(await reg.allocate(name)).toEqual(deadNode());
      const res = await SELF.fetch("http://x/rest-api/stream/find", { method: "POST", body: JSON.stringify({ name }) });
      expect(res.status).toBe(200);
      const objects = (await res.json()) as Array<{ published: boolean; audioState: unknown; videoState: unknown }>;
      expect(objects).toHaveLength(5); // the publisher, three players, the newcomer
      for (const o of objects) expect([o.published, o.audioState, o.videoState]).toEqual([o.published, { muted: false }, { muted: true }]);
    } finally {
      await reg.reportUnreachable("node-a", "boot-1");
      await runInDurableObject(reg, async (_i, ctx) => ctx.storage.deleteAlarm());
    }
  });
});

describe("refused stream events: fail, nothing relayed, nothing changed", () => {
  it("from a player (by the session, and by the StreamDO itself)", async () => {
    const { name, stub, pubC, p1C, p2C, p1 } = await scene();
    sendEvent(p1C, p1.mediaSessionId, "audioMuted");
    await expectFail(p1C, StreamEventInfo.NOT_PUBLISHER);
    sendEvent(p1C, p1.mediaSessionId, "data", { x: 1 });
    await expectFail(p1C, StreamEventInfo.NOT_PUBLISHER);
    expect(await stub.publisherEvent(p1.legId, "videoMuted", undefined)).toEqual({ ok: false, code: "invalid_request", info: StreamEventInfo.NOT_PUBLISHER });
    await Promise.all([pubC.expectIdle(), p1C.expectIdle(), p2C.expectIdle()]);
    await expectMute(name, stub, undefined, undefined);
  });

  it("a payload over the size or depth bound, an unknown or missing type, a data event without payload, a mute payload that is no object", async () => {
    const { name, stub, pubC, p1C, p2C, pub } = await scene();
    const id = pub.mediaSessionId;
    const big = { text: "x".repeat(MAX_FREE_FORM_BYTES) };
    sendEvent(pubC, id, "data", big);
    await expectFail(pubC, `Invalid request: payload is ${JSON.stringify(big).length} bytes of JSON, the limit is ${MAX_FREE_FORM_BYTES}`);
    let deep: unknown = 1;
    for (let i = 0; i <= MAX_FREE_FORM_DEPTH; i++) deep = [deep]; // 33 levels: within the frame's bound, over the payload's
    sendEvent(pubC, id, "data", deep);
    await expectFail(pubC, `Invalid request: payload nests deeper than ${MAX_FREE_FORM_DEPTH} levels`);
    sendEvent(pubC, id, "audioMuted", { big: "x".repeat(MAX_FREE_FORM_BYTES) });
    expect((await pubC.expectNext<{ info: string }>("fail")).info).toMatch(/^Invalid request: payload is \d+ bytes of JSON, the limit is 16384$/);
    const types = "audioMuted, audioUnmuted, videoMuted, videoUnmuted, data";
    sendEvent(pubC, id, "snapshotCompleted"); // server → client only in WCS
    await expectFail(pubC, `Invalid request: type must be one of ${types}`);
    pubC.send("sendStreamEvent", { mediaSessionId: id, payload: {} });
    await expectFail(pubC, `Invalid request: type must be one of ${types}`);
    sendEvent(pubC, id, "data");
    await expectFail(pubC, "Invalid request: payload is required for a data event");
    sendEvent(pubC, id, "videoMuted", "muted!");
    await expectFail(pubC, "Invalid request: payload of videoMuted must be an object");
    pubC.send("sendStreamEvent", { type: "data", payload: 1 });
    await expectFail(pubC, "Invalid request: mediaSessionId Required");
    await Promise.all([pubC.expectIdle(), p1C.expectIdle(), p2C.expectIdle()]);
    await expectMute(name, stub, undefined, undefined);
  });

  it("for a mediaSessionId the session does not have, a publisher not PUBLISHING yet, a session not established", async () => {
    const { pubC, p1C } = await scene();
    const unknown = crypto.randomUUID();
    sendEvent(pubC, unknown, "audioMuted");
    await expectFail(pubC, StreamEventInfo.unknownStream(unknown));

    const pendingName = uniqueName("pending");
    const owner = await connected();
    const pending = leg("publisher", owner.sessionId, { status: "PENDING" });
    const viewer = leg("player", p1C.sessionId);
    const stub = await seedStream({ name: pendingName, node: deadNode(), publisher: pending, players: { [viewer.legId]: viewer } });
    await seedSessionStream(owner, pending, pendingName);
    sendEvent(owner, pending.mediaSessionId, "data", { early: true });
    await expectFail(owner, StreamEventInfo.notPublishing(pendingName, "PENDING"));
    expect((await describeStream(pendingName)).publisher).toEqual(pending);
    expect(await stub.dataEvent({ early: true })).toEqual({ ok: false, code: "not_found", info: "Stream not found" });

    const fresh = await WcsClient.open();
    clients.track(fresh);
    fresh.send("sendStreamEvent", { mediaSessionId: unknown, type: "audioMuted" });
    expect(await fresh.next()).toEqual({ message: "fail", data: [{ apiMethod: "sendStreamEvent", info: "Session not ready" }] });
    await Promise.all([p1C.expectIdle(), pubC.expectIdle(), owner.expectIdle()]);
  });
});

describe("REST /rest-api/stream/event/send", () => {
  const post = (body: unknown) =>
    SELF.fetch("http://x/rest-api/stream/event/send", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });

  it("sends a data event to every player of a published stream: 200 with an empty body", async () => {
    const { name, pubC, p1C, p2C, otherC, p1, p2 } = await scene();
    const res = await post({ streamName: name, payload: { from: "rest", n: [1, 2] } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
    for (const [c, p] of [[p1C, p1], [p2C, p2]] as const) {
      expect(await c.next()).toEqual({ message: "notifyStreamEvent", data: [{ mediaSessionId: p.mediaSessionId, type: "data", payload: { from: "rest", n: [1, 2] } }] });
    }
    await Promise.all([pubC.expectIdle(), otherC.expectIdle(), p1C.expectIdle()]);
  });

  it("404 Stream not found for a stream that is not published; 400 for a bad body; nothing relayed", async () => {
    const { name, p1C } = await scene();
    const missing = await post({ streamName: uniqueName("nobody"), payload: {} });
    expect([missing.status, await missing.json()]).toEqual([404, { error: "Stream not found" }]);
    const cases: Array<[unknown, string]> = [
      ["{", "Malformed JSON body"],
      [{ payload: {} }, "Invalid body: streamName Required"],
      [{ streamName: name }, "Invalid body: payload is required"],
      [{ streamName: name, type: "audioMuted", payload: {} }, 'Invalid body: type Invalid literal value, expected "data"'],
      [{ streamName: name, payload: "x".repeat(MAX_FREE_FORM_BYTES) }, `Invalid body: payload is ${MAX_FREE_FORM_BYTES + 2} bytes of JSON, the limit is ${MAX_FREE_FORM_BYTES}`],
    ];
    for (const [body, error] of cases) {
      const res = await post(body);
      expect([res.status, await res.json()], JSON.stringify(body).slice(0, 80)).toEqual([400, { error }]);
    }
    await p1C.expectIdle();
  });
});
