/**
 * WsEndpointDO (the Flussonic-style endpoint `/NAME/webrtc/publish|play`, protocol/ws-endpoint.ts) over real
 * WebSockets, without a media node: bad frames, refusals and their close codes, the offer timeout, and the statuses a
 * StreamDO pushes to a socket's leg (owner "ws"). The global node registry of this file stays empty except where a
 * test registers a dead node (which the failed call removes again).
 */
import { runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_WS_FRAME_BYTES, WS_OFFER_TIMEOUT_MS } from "../../protocol/ws-endpoint.js";
import type { NodeRegistryDO } from "../../worker/node-registry-do.js";
import { statusEvent } from "../../worker/stream-types.js";
import {
  CHROME_PLAY_OFFER,
  CHROME_PUBLISH_OFFER,
  deadNode,
  describeStream,
  E,
  leg,
  seedSessionStream,
  seedStream,
  streamStub,
  uniqueName,
  WcsClient,
  WsEndpointClient,
  storedStream,
} from "./helpers.js";

const sockets: Array<WsEndpointClient | WcsClient> = [];
async function open(name: string, action: "publish" | "play"): Promise<WsEndpointClient> {
  const c = await WsEndpointClient.open(name, action);
  sockets.push(c);
  return c;
}
async function direct(name: string, action: "publish" | "play"): Promise<WsEndpointClient> {
  const c = await WsEndpointClient.direct(name, action);
  sockets.push(c);
  return c;
}
async function connected(): Promise<WcsClient> {
  const c = await WcsClient.connected();
  sockets.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((c) => c.close()));
});

const globalRegistry = (): DurableObjectStub<NodeRegistryDO> => E.NODE_REGISTRY.get(E.NODE_REGISTRY.idFromName("global"));
const storedState = storedStream;

interface Att {
  id: string;
  role: "publisher" | "player";
  name: string;
  mediaSessionId: string;
  phase: string;
  legId?: string;
  openedAt: number;
}
/** The socket's attachment in its WsEndpointDO (its only state). */
function attachment(c: WsEndpointClient): Promise<Att> {
  return runInDurableObject(c.stub(), async (_i, ctx) => ctx.getWebSockets()[0]!.deserializeAttachment() as Att);
}
async function setAttachment(c: WsEndpointClient, over: Partial<Att>): Promise<Att> {
  return runInDurableObject(c.stub(), async (_i, ctx) => {
    const ws = ctx.getWebSockets()[0]!;
    const att = { ...(ws.deserializeAttachment() as Att), ...over };
    ws.serializeAttachment(att);
    return att;
  });
}

describe("routing", () => {
  it("a request without an upgrade → 426", async () => {
    const res = await SELF.fetch("http://x/some-stream/webrtc/publish");
    expect(res.status).toBe(426);
    expect(await res.text()).toBe("Expected a WebSocket upgrade");
  });

  it("the DO refuses a path that is not /NAME/webrtc/publish|play with 404", async () => {
    const res = await E.WS_ENDPOINT.get(E.WS_ENDPOINT.newUniqueId()).fetch("http://x/a/b/webrtc/publish", { headers: { Upgrade: "websocket" } });
    expect(res.status).toBe(404);
    await res.body?.cancel();
  });
});

describe("bad frames: {type:error, info} and the socket stays open", () => {
  it.each([
    ["not JSON", "{nope", "Malformed JSON"],
    ["JSON without a type", JSON.stringify({ foo: 1 }), 'Invalid request: expected {"type": "offer" | "answer" | "candidate", …}'],
    ["a JSON array", "[]", 'Invalid request: expected {"type": "offer" | "answer" | "candidate", …}'],
    ["a non-string type", JSON.stringify({ type: 7 }), 'Invalid request: expected {"type": "offer" | "answer" | "candidate", …}'],
    ["an unknown type", JSON.stringify({ type: "bye" }), "Unknown message: bye"],
    ["an offer without sdp", JSON.stringify({ type: "offer" }), "Invalid request: sdp Required"],
    ["an offer with an empty sdp", JSON.stringify({ type: "offer", sdp: "" }), "Invalid request: sdp String must contain at least 1 character(s)"],
    ["a malformed candidate", JSON.stringify({ type: "candidate", candidate: "hello" }), "Invalid request: malformed candidate: hello"],
    ["an answer on /publish", JSON.stringify({ type: "answer", sdp: "v=0" }), "Unexpected answer: on /publish the client sends the offer"],
  ])("%s", async (_what, frame, info) => {
    const c = await open(uniqueName("bad"), "publish");
    c.sendRaw(frame);
    expect(await c.next()).toEqual({ type: "error", info });
    await c.expectIdle();
  });

  it("a long unknown type is cut to 64 characters in the info", async () => {
    const c = await open(uniqueName("bad"), "publish");
    c.send({ type: "x".repeat(100) });
    expect(await c.next()).toEqual({ type: "error", info: `Unknown message: ${"x".repeat(64)}` });
    await c.expectIdle();
  });

  it("a binary frame", async () => {
    const c = await open(uniqueName("bin"), "publish");
    c.sendRaw(new Uint8Array([1, 2, 3]));
    expect(await c.next()).toEqual({ type: "error", info: "Binary frames are not supported" });
    await c.expectIdle();
  });

  it("an oversized frame (one character over the limit)", async () => {
    const c = await open(uniqueName("big"), "publish");
    const head = '{"type":"offer","sdp":"';
    const frame = head + "a".repeat(MAX_WS_FRAME_BYTES + 1 - head.length - 2) + '"}';
    expect(frame.length).toBe(MAX_WS_FRAME_BYTES + 1);
    c.sendRaw(frame);
    expect(await c.next()).toEqual({ type: "error", info: `Frame too large: ${MAX_WS_FRAME_BYTES + 1} bytes, the limit is ${MAX_WS_FRAME_BYTES}` });
    await c.expectIdle();
  });

  it("end-of-candidates (null and empty string) and early candidates get no answer; the 65th early one is refused", async () => {
    const c = await open(uniqueName("early"), "publish");
    c.send({ type: "candidate", candidate: null });
    c.send({ type: "candidate", candidate: "" });
    c.send({ type: "candidate", candidate: { candidate: "", sdpMid: "0" } });
    for (let i = 0; i < 64; i++) c.send({ type: "candidate", candidate: `candidate:${i} 1 udp 2122260223 192.0.2.1 ${50000 + i} typ host` });
    await c.expectIdle();
    c.send({ type: "candidate", candidate: { candidate: "candidate:65 1 udp 2122260223 192.0.2.1 40000 typ host", sdpMid: "0", sdpMLineIndex: 0 } });
    expect(await c.next()).toEqual({ type: "error", info: "Invalid request: more than 64 candidates before the SDP exchange completed" });
    await c.expectIdle();
  });
});

describe("publish refusals: {type:error, info} then the documented close code", () => {
  it("an offer that is not SDP → Invalid SDP, 4400; nothing reserved", async () => {
    const name = uniqueName("badsdp");
    const c = await open(name, "publish");
    c.send({ type: "offer", sdp: "hello" });
    expect(await c.next()).toEqual({ type: "error", info: "Invalid SDP: does not start with v=0" });
    expect(await c.closed).toEqual({ code: 4400, reason: "Invalid SDP: does not start with v=0" });
    expect(c.pending()).toBe(0);
    expect(await storedState(streamStub(name))).toBeUndefined();
  });

  it("a recvonly (play) offer on /publish → Invalid SDP, 4400", async () => {
    const c = await open(uniqueName("recvonly"), "publish");
    c.send({ type: "offer", sdp: CHROME_PLAY_OFFER });
    const info = "Invalid SDP: no sendonly/sendrecv m-line in a publish offer";
    expect(await c.next()).toEqual({ type: "error", info });
    expect(await c.closed).toEqual({ code: 4400, reason: info });
  });

  it("a name in use → Stream name is already in use, 4409; the holder is untouched", async () => {
    const name = uniqueName("inuse");
    const pub = leg("publisher", "0".repeat(64));
    await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    const c = await open(name, "publish");
    c.send({ type: "offer", sdp: CHROME_PUBLISH_OFFER });
    expect(await c.next()).toEqual({ type: "error", info: "Stream name is already in use" });
    expect(await c.closed).toEqual({ code: 4409, reason: "Stream name is already in use" });
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: {} });
  });

  it("no media node → Failed by error: no media node available, 4503; the name is free again", async () => {
    const name = uniqueName("nonode");
    const c = await open(name, "publish");
    c.send({ type: "offer", sdp: CHROME_PUBLISH_OFFER });
    const info = "Failed by error: no media node available";
    expect(await c.next()).toEqual({ type: "error", info });
    expect(await c.closed).toEqual({ code: 4503, reason: info });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    expect(await storedState(streamStub(name))).toBeUndefined();
  });

  it("a placed node that refuses connections → media node lost, 4503; the node is dropped from the registry", async () => {
    const reg = globalRegistry();
    await reg.heartbeat({ nodeId: "ws-dead", bootId: "b1", controlUrl: "http://127.0.0.1:9", load: { publishers: 0, players: 0, cpuPercent: 0 }, maxLegs: 0, intervalMs: 60_000, seq: 1 });
    try {
      const name = uniqueName("deadnode");
      const c = await open(name, "publish");
      c.send({ type: "offer", sdp: CHROME_PUBLISH_OFFER });
      const info = "Failed by error: media node lost";
      expect(await c.next()).toEqual({ type: "error", info });
      expect(await c.closed).toEqual({ code: 4503, reason: info });
      expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
      expect(await reg.list()).toEqual([]);
    } finally {
      await reg.reportUnreachable("ws-dead", "b1");
      await runInDurableObject(reg, async (_i, ctx) => ctx.storage.deleteAlarm());
    }
  });

  it.each([
    ["257 characters", "a".repeat(257), "must be 1 to 256 characters"],
    ["a broken percent-encoding", "%E0%A4%A", "must be 1 to 256 characters"],
    ["a control character", "cam%00x", "must not contain control characters"],
  ])("a stream name of %s → Invalid request, 4400 (right after the upgrade)", async (_what, raw, why) => {
    const res = await SELF.fetch(`http://x/${raw}/webrtc/publish`, { headers: { Upgrade: "websocket" } });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    const frames: unknown[] = [];
    ws.addEventListener("message", (ev) => frames.push(JSON.parse(ev.data as string)));
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.addEventListener("close", (ev) => resolve({ code: ev.code, reason: ev.reason })));
    ws.accept();
    const info = `Invalid request: the stream name ${why}`;
    expect(await closed).toEqual({ code: 4400, reason: info });
    expect(frames).toEqual([{ type: "error", info }]);
  });

  it("no offer within WS_OFFER_TIMEOUT_MS → Invalid request: no offer within 30 s, 4408", async () => {
    const c = await direct(uniqueName("slow"), "publish");
    const att = await attachment(c);
    expect(att).toMatchObject({ id: c.id!.toString(), role: "publisher", phase: "new" });
    expect(await runInDurableObject(c.stub(), (_i, ctx) => ctx.storage.getAlarm())).toBe(att.openedAt + WS_OFFER_TIMEOUT_MS);
    // not yet due: the alarm re-arms and nothing is sent
    expect(await runDurableObjectAlarm(c.stub())).toBe(true);
    await c.expectIdle();
    await setAttachment(c, { openedAt: Date.now() - WS_OFFER_TIMEOUT_MS - 1 });
    await runInDurableObject(c.stub(), (_i, ctx) => ctx.storage.setAlarm(Date.now() + 60_000));
    expect(await runDurableObjectAlarm(c.stub())).toBe(true);
    const info = `Invalid request: no offer within ${WS_OFFER_TIMEOUT_MS / 1000} s`;
    expect(await c.next()).toEqual({ type: "error", info });
    expect(await c.closed).toEqual({ code: 4408, reason: info });
  });
});

describe("play refusals", () => {
  it("of an unknown stream → Stream not found, 4404; no player leg", async () => {
    const name = uniqueName("unknown");
    const c = await open(name, "play");
    expect(await c.next()).toEqual({ type: "error", info: "Stream not found" });
    expect(await c.closed).toEqual({ code: 4404, reason: "Stream not found" });
    expect(await storedState(streamStub(name))).toBeUndefined();
  });

  it("of a stream whose publisher is PENDING → Stream not found, 4404", async () => {
    const name = uniqueName("pending");
    const pub = leg("publisher", "0".repeat(64), { status: "PENDING" });
    await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    const c = await open(name, "play");
    expect(await c.next()).toEqual({ type: "error", info: "Stream not found" });
    expect(await c.closed).toEqual({ code: 4404, reason: "Stream not found" });
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: {} });
  });

  it("when the stream's node refuses connections → media node lost, 4503; the player is not kept", async () => {
    const name = uniqueName("deadplay");
    const pub = leg("publisher", "0".repeat(64));
    await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    const c = await open(name, "play");
    expect(await c.next()).toEqual({ type: "error", info: "Failed by error: media node lost" });
    expect(await c.closed).toEqual({ code: 4503, reason: "Failed by error: media node lost" });
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: {} });
  });
});

describe("a socket's leg in its StreamDO (owner ws; socket state seeded)", () => {
  /** A publish socket whose attachment says `role`/`phase`, and a leg of it in the StreamDO. */
  async function wsLeg(name: string, role: "publisher" | "player", phase: string, status?: "PENDING") {
    const c = await direct(name, "publish"); // /publish: its alarm is 30 s away, so nothing races the seeding
    const legId = crypto.randomUUID();
    const att = await setAttachment(c, { role, phase, legId });
    const l = leg(role, { kind: "ws", endpointId: att.id }, { legId, mediaSessionId: att.mediaSessionId, ...(status ? { status } : {}) });
    return { c, att, l };
  }

  it("connected → {type:status, PUBLISHING}; a status of another mediaSessionId is ignored", async () => {
    const name = uniqueName("wspub");
    const { c, l } = await wsLeg(name, "publisher", "live", "PENDING");
    const stub = await seedStream({ name, node: deadNode("node-a", "boot-1"), publisher: l, players: {} });
    await stub.onLegEvent({ nodeId: "node-a", bootId: "boot-1", legId: l.legId, streamName: name, role: "publisher", state: "connected" });
    expect(await c.next()).toEqual({ type: "status", status: "PUBLISHING" });
    expect(await c.stub().deliver(statusEvent(name, { ...l, mediaSessionId: "other" }, "FAILED", "x"))).toBe(true);
    await c.expectIdle();
  });

  it("closing the publisher socket ends the stream: its WCS player gets FAILED Stopped by publisher stop", async () => {
    const name = uniqueName("wsclose");
    const viewer = await connected();
    const { c, l } = await wsLeg(name, "publisher", "live");
    const ply = leg("player", viewer.sessionId);
    await seedStream({ name, node: deadNode(), publisher: l, players: { [ply.legId]: ply } });
    await seedSessionStream(viewer, ply, name);
    await c.close();
    expect(await viewer.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: ply.mediaSessionId, name, status: "FAILED", info: "Stopped by publisher stop" });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
  });

  it("a ws player whose publisher stops → {type:status, FAILED, Stopped by publisher stop}, close 4000", async () => {
    const name = uniqueName("wsply");
    const owner = await connected();
    const pub = leg("publisher", owner.sessionId);
    const { c, l } = await wsLeg(name, "player", "live");
    const stub = await seedStream({ name, node: deadNode(), publisher: pub, players: { [l.legId]: l } });
    expect(await stub.end(pub.legId, { kind: "stop" })).toMatchObject({ status: "UNPUBLISHED", info: "Stopped by user" });
    expect(await c.next()).toEqual({ type: "status", status: "FAILED", info: "Stopped by publisher stop" });
    expect(await c.closed).toEqual({ code: 4000, reason: "Stopped by publisher stop" });
    // the endpoint let go of the socket: nothing of it is left in the DO
    expect(await runInDurableObject(c.stub(), async (_i, ctx) => ctx.getWebSockets().length)).toBe(0);
  });

  it("REST terminate of a ws publisher → {type:status, UNPUBLISHED, Stopped by rest /terminate}, close 1000", async () => {
    const name = uniqueName("wsterm");
    const { c, l } = await wsLeg(name, "publisher", "live");
    const stub = await seedStream({ name, node: deadNode(), publisher: l, players: {} });
    expect(await stub.terminate([l.mediaSessionId])).toBe(1);
    expect(await c.next()).toEqual({ type: "status", status: "UNPUBLISHED", info: "Stopped by rest /terminate" });
    expect(await c.closed).toEqual({ code: 1000, reason: "Stopped by rest /terminate" });
  });

  it("the ICE deadline of a PENDING ws leg → {type:status, FAILED, Failed by ICE timeout}, close 4000", async () => {
    const name = uniqueName("wsice");
    const { c, l } = await wsLeg(name, "publisher", "live", "PENDING");
    const stub = await seedStream({ name, node: deadNode(), publisher: { ...l, deadline: Date.now() - 1 }, players: {} }, Date.now() + 60_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await c.next()).toEqual({ type: "status", status: "FAILED", info: "Failed by ICE timeout" });
    expect(await c.closed).toEqual({ code: 4000, reason: "Failed by ICE timeout" });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
  });

  it("a live socket's candidate goes to the (dead) node: refusal only logged, no frame", async () => {
    const name = uniqueName("wscand");
    const { c, l } = await wsLeg(name, "publisher", "live");
    await seedStream({ name, node: deadNode(), publisher: l, players: {} });
    c.send({ type: "candidate", candidate: "a=candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host" });
    await c.expectIdle();
    expect((await describeStream(name)).publisher).toEqual(l);
  });

  it("a second offer on a live publisher → Offer already received; an offer on a player socket → refused; both stay open", async () => {
    const name = uniqueName("wsoffer");
    const { c } = await wsLeg(name, "publisher", "live");
    c.send({ type: "offer", sdp: CHROME_PUBLISH_OFFER });
    expect(await c.next()).toEqual({ type: "error", info: "Offer already received" });
    await c.expectIdle();
    const { c: p } = await wsLeg(uniqueName("wsoffer2"), "player", "offered");
    p.send({ type: "offer", sdp: CHROME_PUBLISH_OFFER });
    expect(await p.next()).toEqual({ type: "error", info: "Unexpected offer: on /play the server sends the offer" });
    await p.expectIdle();
  });

  it("an answer while no offer waits → refused, the socket stays open", async () => {
    const { c } = await wsLeg(uniqueName("wsans"), "player", "live");
    c.send({ type: "answer", sdp: CHROME_PUBLISH_OFFER });
    expect(await c.next()).toEqual({ type: "error", info: "Unexpected answer: no offer is waiting for one" });
    await c.expectIdle();
  });

  it("an answer for a leg the stream no longer has → Stream not found, 4404", async () => {
    const name = uniqueName("wsans2");
    const pub = leg("publisher", "0".repeat(64));
    await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    const { c } = await wsLeg(name, "player", "offered");
    c.send({ type: "answer", sdp: CHROME_PUBLISH_OFFER });
    expect(await c.next()).toEqual({ type: "error", info: "Stream not found" });
    expect(await c.closed).toEqual({ code: 4404, reason: "Stream not found" });
  });

  it("an answer the (dead) node cannot take → media node lost, 4503", async () => {
    const name = uniqueName("wsans3");
    const pub = leg("publisher", "0".repeat(64));
    const { c, l } = await wsLeg(name, "player", "offered", "PENDING");
    await seedStream({ name, node: deadNode(), publisher: pub, players: { [l.legId]: l } });
    c.send({ type: "answer", sdp: CHROME_PUBLISH_OFFER });
    expect(await c.next()).toEqual({ type: "error", info: "Failed by error: media node lost" });
    expect(await c.closed).toEqual({ code: 4503, reason: "Failed by error: media node lost" });
  });

  // A refused answer closes the socket with the socket marked ended, so the refusal itself must end the leg
  // (otherwise it would stay listed until its ICE deadline).
  it("a refused answer ends the player leg in the StreamDO", async () => {
    const name = uniqueName("wsans4");
    const pub = leg("publisher", "0".repeat(64));
    const { c, l } = await wsLeg(name, "player", "offered", "PENDING");
    await seedStream({ name, node: deadNode(), publisher: pub, players: { [l.legId]: l } });
    c.send({ type: "answer", sdp: CHROME_PUBLISH_OFFER });
    expect(await c.next()).toEqual({ type: "error", info: "Failed by error: media node lost" });
    expect((await c.closed).code).toBe(4503);
    await new Promise((r) => setTimeout(r, 200));
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: {} });
  });
});
