/**
 * StreamDO logic with seeded state (no media node): name reservation, play refusal, leg events, node loss, and the
 * ICE deadline alarm. Statuses pushed to sessions are observed on real WebSockets.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { LegEvent } from "../../protocol/index.js";
import type { OfferLegRequest } from "../../worker/stream-types.js";
import { CHROME_PLAY_OFFER, CHROME_PUBLISH_OFFER, deadNode, leg, seedSessionStream, describeStream, seedStream, sessionKeys, streamStub, uniqueName, storedStream, setStreamState, clientsClosedAfterEach } from "./helpers.js";

const { connected } = clientsClosedAfterEach();

function args(sessionId: string, sdp = CHROME_PUBLISH_OFFER): OfferLegRequest {
  return { legId: crypto.randomUUID(), owner: { kind: "session", sessionId }, mediaSessionId: crypto.randomUUID(), appKey: "defaultApp", sdp, hasAudio: true, hasVideo: true };
}

const alarmOf = (stub: DurableObjectStub) => runInDurableObject(stub, (_i, ctx) => ctx.storage.getAlarm());
const storedState = storedStream;

describe("name reservation", () => {
  it("a second publish while the first is in flight (PENDING) → Stream name is already in use", async () => {
    const name = uniqueName("inflight");
    const first = leg("publisher", "0".repeat(64), { status: "PENDING" });
    const stub = await seedStream({ name, node: null, publisher: first, players: {} });
    expect(await stub.publish(name, args("1".repeat(64)))).toEqual({ ok: false, code: "name_in_use", info: "Stream name is already in use" });
    const st = await describeStream(name);
    expect(st.publisher).toEqual(first);
    expect(st.node).toBeNull();
  });

  it("a second publish while the name is held (PUBLISHING) → Stream name is already in use, players untouched", async () => {
    const name = uniqueName("held");
    const pub = leg("publisher", "0".repeat(64));
    const ply = leg("player", "2".repeat(64));
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply } });
    expect(await stub.publish(name, args("0".repeat(64)))).toEqual({ ok: false, code: "name_in_use", info: "Stream name is already in use" });
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply } });
    expect(await storedState(stub)).toEqual({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply } });
  });
});

describe("play", () => {
  it("while the publisher is PENDING → Stream not found, no player leg", async () => {
    const name = uniqueName("pending");
    const pub = leg("publisher", "0".repeat(64), { status: "PENDING" });
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    expect(await stub.play(name, args("3".repeat(64), CHROME_PLAY_OFFER))).toEqual({ ok: false, code: "not_found", info: "Stream not found" });
    expect((await describeStream(name)).players).toEqual({});
  });

  it("of a name never published → Stream not found, nothing stored", async () => {
    const name = uniqueName("none");
    const stub = streamStub(name);
    expect(await stub.play(name, args("3".repeat(64), CHROME_PLAY_OFFER))).toEqual({ ok: false, code: "not_found", info: "Stream not found" });
    expect(await storedState(stub)).toBeUndefined();
  });

  it("over the WebSocket while the publisher is PENDING → FAILED Stream not found", async () => {
    const c = await connected();
    const name = uniqueName("pending-ws");
    await seedStream({ name, node: deadNode(), publisher: leg("publisher", "0".repeat(64), { status: "PENDING" }), players: {} });
    const mediaSessionId = crypto.randomUUID();
    c.send("playStream", { mediaSessionId, name, published: false, sdp: CHROME_PLAY_OFFER });
    expect(await c.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId, name, status: "FAILED", info: "Stream not found", published: false });
    expect(await sessionKeys(c)).toEqual([]);
  });

  it("when the stream's node refuses connections → FAILED media node lost, the player is not kept", async () => {
    const owner = await connected();
    const viewer = await connected();
    const name = uniqueName("deadnode");
    const pub = leg("publisher", owner.sessionId);
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    const mediaSessionId = crypto.randomUUID();
    viewer.send("playStream", { mediaSessionId, name, published: false, sdp: CHROME_PLAY_OFFER });
    expect(await viewer.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId, name, status: "FAILED", info: "Failed by error: media node lost" });
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: {} });
    expect(await sessionKeys(viewer)).toEqual([]);
    await owner.expectIdle();
  });
});

describe("onLegEvent", () => {
  async function pendingPublisher() {
    const owner = await connected();
    const name = uniqueName("legev");
    const node = deadNode("node-a", "boot-1");
    const pub = leg("publisher", owner.sessionId, { status: "PENDING" });
    const stub = await seedStream({ name, node, publisher: pub, players: {} });
    await seedSessionStream(owner, pub, name);
    const ev = (over: Partial<LegEvent>): LegEvent => ({ nodeId: "node-a", bootId: "boot-1", legId: pub.legId, streamName: name, role: "publisher", state: "connected", ...over });
    return { owner, name, node, pub, stub, ev };
  }

  it("ignores an unknown leg, a wrong bootId and a wrong nodeId; the right one makes it PUBLISHING", async () => {
    const { owner, name, pub, stub, ev } = await pendingPublisher();
    await stub.onLegEvent(ev({ legId: "no-such-leg" }));
    await stub.onLegEvent(ev({ bootId: "boot-0" }));
    await stub.onLegEvent(ev({ nodeId: "node-b" }));
    await stub.onLegEvent(ev({ bootId: "boot-0", state: "failed", failure: "ice" }));
    await stub.onLegEvent(ev({ legId: "no-such-leg", state: "closed" }));
    expect((await describeStream(name)).publisher).toEqual(pub);
    await owner.expectIdle();

    await stub.onLegEvent(ev({}));
    expect((await describeStream(name)).publisher?.status).toBe("PUBLISHING");
    expect(await owner.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: pub.mediaSessionId, name, status: "PUBLISHING", nodeId: "node-a", published: true });
    await owner.expectIdle();
  });

  it("a repeated connected event is not delivered twice", async () => {
    const { owner, stub, ev } = await pendingPublisher();
    await stub.onLegEvent(ev({}));
    await stub.onLegEvent(ev({}));
    expect((await owner.expectNext<{ status: string }>("notifyStreamStatusEvent")).status).toBe("PUBLISHING");
    await owner.expectIdle();
    expect(await sessionKeys(owner)).toHaveLength(1); // PUBLISHING is not terminal: the session keeps the stream
  });

  it.each([
    ["dtls", "Failed by DTLS error"],
    ["ice", "Failed by ICE error"],
    ["error", "Failed by error"],
  ] as const)("failed (%s) → FAILED %s to the owner; the stream is cleared", async (failure, info) => {
    const { owner, name, pub, stub, ev } = await pendingPublisher();
    await stub.onLegEvent(ev({ state: "failed", failure }));
    expect(await owner.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: pub.mediaSessionId, name, status: "FAILED", info });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    expect(await storedState(stub)).toBeUndefined();
    expect(await sessionKeys(owner)).toEqual([]);
  });

  it("a closed player leg → STOPPED to that player only", async () => {
    const { owner, name, pub, stub, ev } = await pendingPublisher();
    await stub.onLegEvent(ev({}));
    await owner.expectNext("notifyStreamStatusEvent");
    const viewer = await connected();
    const ply = leg("player", viewer.sessionId);
    await runInDurableObject(stub, async (inst) => {
      const s = (inst as unknown as { state: { players: Record<string, unknown> } }).state;
      s.players[ply.legId] = ply;
      await setStreamState(inst, s);
    });
    await stub.onLegEvent(ev({ legId: ply.legId, role: "player", state: "closed" }));
    expect(await viewer.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: ply.mediaSessionId, name, status: "STOPPED", published: false });
    const st = await describeStream(name);
    expect(st.players).toEqual({});
    expect(st.publisher?.legId).toBe(pub.legId);
    await owner.expectIdle();
  });
});

describe("onNodeLost", () => {
  it("ignores another node or another incarnation; the right one fails everyone and frees the name", async () => {
    const owner = await connected();
    const viewer = await connected();
    const name = uniqueName("lost");
    const node = deadNode("node-a", "boot-1");
    const pub = leg("publisher", owner.sessionId);
    const ply = leg("player", viewer.sessionId);
    const stub = await seedStream({ name, node, publisher: pub, players: { [ply.legId]: ply } });
    await seedSessionStream(owner, pub, name);
    await seedSessionStream(viewer, ply, name);

    await stub.onNodeLost("node-b", "boot-1");
    await stub.onNodeLost("node-a", "boot-0");
    expect(await describeStream(name)).toEqual({ name, node, publisher: pub, players: { [ply.legId]: ply } });
    await owner.expectIdle();
    await viewer.expectIdle();

    await stub.onNodeLost("node-a", "boot-1");
    expect(await owner.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: pub.mediaSessionId, status: "FAILED", info: "Failed by error: media node lost", nodeId: "node-a" });
    expect(await viewer.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: ply.mediaSessionId, status: "FAILED", info: "Failed by error: media node lost" });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    expect(await sessionKeys(owner)).toEqual([]);
    expect(await sessionKeys(viewer)).toEqual([]);
  });
});

describe("reconcileNode (worker/leg-reconcile.ts)", () => {
  const held = (legIds: string[], relayLegIds: string[] = []) => ({ legIds, relayLegIds });

  it("returns the held legs it does not know, and every held leg when the stream is not on that incarnation", async () => {
    const name = uniqueName("recon-unknown");
    const node = deadNode("node-a", "boot-1");
    const pub = leg("publisher", "0".repeat(64));
    const stub = await seedStream({ name, node, publisher: pub, players: {} });
    const opts = { complete: true, missingBefore: Date.now() };
    expect(await stub.reconcileNode(node, held([pub.legId, "zombie"], ["push-relay"]), opts)).toEqual(["zombie"]);
    expect(await stub.reconcileNode(deadNode("node-a", "boot-0"), held([pub.legId], ["r"]), opts)).toEqual([pub.legId, "r"]);
    expect((await describeStream(name)).publisher).toEqual(pub);
  });

  it("ends FAILED an old publisher the node no longer holds (players too, name free); a young one is left alone", async () => {
    const owner = await connected();
    const viewer = await connected();
    const name = uniqueName("recon-missing");
    const node = deadNode("node-a", "boot-1");
    const pub = leg("publisher", owner.sessionId, { createdAt: Date.now() - 60_000 });
    const ply = leg("player", viewer.sessionId, { createdAt: Date.now() - 60_000 });
    const stub = await seedStream({ name, node, publisher: pub, players: { [ply.legId]: ply } });
    await seedSessionStream(owner, pub, name);
    await seedSessionStream(viewer, ply, name);

    // incomplete list, or legs younger than the node call timeout: nothing ends
    expect(await stub.reconcileNode(node, held([]), { complete: false, missingBefore: Date.now() })).toEqual([]);
    expect(await stub.reconcileNode(node, held([]), { complete: true, missingBefore: Date.now() - 55_000 })).toEqual([]);
    await owner.expectIdle();

    expect(await stub.reconcileNode(node, held([ply.legId]), { complete: true, missingBefore: Date.now() })).toEqual([]);
    expect(await owner.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: pub.mediaSessionId, status: "FAILED", info: "Failed by error: the media node no longer holds the stream" });
    expect(await viewer.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: ply.mediaSessionId, status: "FAILED", info: "Stopped by publisher stop" });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
  });
});

describe("end", () => {
  it("end of an unknown leg id returns null and changes nothing", async () => {
    const name = uniqueName("stop");
    const pub = leg("publisher", "0".repeat(64));
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    expect(await stub.end("other", { kind: "stop" })).toBeNull();
    expect(await stub.end(pub.mediaSessionId, { kind: "gone" })).toBeNull();
    expect((await describeStream(name)).publisher).toEqual(pub);
  });

  it("an end the owner's rules do not allow (a session leg ended as failed) returns null and changes nothing", async () => {
    const name = uniqueName("stop-rule");
    const pub = leg("publisher", "0".repeat(64));
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    expect(await stub.end(pub.legId, { kind: "failed", info: "x" })).toBeNull();
    expect((await describeStream(name)).publisher).toEqual(pub);
  });

  it("stop of the publisher returns UNPUBLISHED Stopped by user (not pushed to the owner)", async () => {
    const owner = await connected();
    const name = uniqueName("stop2");
    const pub = leg("publisher", owner.sessionId);
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    expect(await stub.end(pub.legId, { kind: "stop" })).toMatchObject({ mediaSessionId: pub.mediaSessionId, name, status: "UNPUBLISHED", info: "Stopped by user", nodeId: "node-a" });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    await owner.expectIdle();
  });
});

describe("ICE deadline alarm", () => {
  it("ends a PENDING publisher past its deadline: FAILED Failed by ICE timeout to its session, state cleared", async () => {
    const owner = await connected();
    const name = uniqueName("ice");
    const pub = leg("publisher", owner.sessionId, { status: "PENDING", deadline: Date.now() - 1 });
    // alarm scheduled in the future so that only runDurableObjectAlarm runs it
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: {} }, Date.now() + 60_000);
    await seedSessionStream(owner, pub, name);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await owner.expectNext("notifyStreamStatusEvent")).toMatchObject({
      mediaSessionId: pub.mediaSessionId,
      name,
      status: "FAILED",
      info: "Failed by ICE timeout",
      published: true,
      sessionId: owner.sessionId,
      nodeId: "node-a",
    });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    expect(await storedState(stub)).toBeUndefined();
    expect(await alarmOf(stub)).toBeNull();
    expect(await sessionKeys(owner)).toEqual([]);
    await owner.expectIdle();
  });

  it("ends only the expired PENDING player and re-arms for the next deadline", async () => {
    const owner = await connected();
    const v1 = await connected();
    const v2 = await connected();
    const name = uniqueName("ice2");
    const later = Date.now() + 30_000;
    const pub = leg("publisher", owner.sessionId, { deadline: Date.now() - 10_000 }); // PUBLISHING: deadline irrelevant
    const p1 = leg("player", v1.sessionId, { status: "PENDING", deadline: Date.now() - 1 });
    const p2 = leg("player", v2.sessionId, { status: "PENDING", deadline: later });
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [p1.legId]: p1, [p2.legId]: p2 } }, Date.now() + 60_000);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await v1.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: p1.mediaSessionId, status: "FAILED", info: "Failed by ICE timeout", published: false });
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: { [p2.legId]: p2 } });
    expect(await alarmOf(stub)).toBe(later);
    await owner.expectIdle();
    await v2.expectIdle();
  });

  it("does nothing to a PENDING leg before its deadline", async () => {
    const owner = await connected();
    const name = uniqueName("ice3");
    const deadline = Date.now() + 30_000;
    const pub = leg("publisher", owner.sessionId, { status: "PENDING", deadline });
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: {} }, Date.now() + 60_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await describeStream(name)).publisher).toEqual(pub);
    expect(await alarmOf(stub)).toBe(deadline);
    await owner.expectIdle();
  });
});
