/**
 * SessionDO over a real WebSocket (SELF → worker → SessionDO). No media node runs: the tests cover the signaling
 * that does not need one. This is the only file that touches the "global" node registry (the one StreamDO uses),
 * and it leaves it empty.
 */
import { runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_FRAME_BYTES, signRequest } from "../../protocol/index.js";
import type { NodeRegistryDO } from "../../worker/node-registry-do.js";
import {
  CHROME_PLAY_OFFER,
  CHROME_PUBLISH_OFFER,
  deadNode,
  E,
  leg,
  seedSessionStream,
  seedStream,
  describeStream,
  sessionKeys,
  streamStub,
  uniqueName,
  WcsClient,
  storedStream,
} from "./helpers.js";

const open: WcsClient[] = [];
async function client(): Promise<WcsClient> {
  const c = await WcsClient.open();
  open.push(c);
  return c;
}
async function connected(appKey?: string): Promise<WcsClient> {
  const c = await WcsClient.connected(appKey);
  open.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const globalRegistry = (): DurableObjectStub<NodeRegistryDO> => E.NODE_REGISTRY.get(E.NODE_REGISTRY.idFromName("global"));

function publishReq(over: Record<string, unknown> = {}) {
  return { mediaSessionId: crypto.randomUUID(), name: uniqueName("s"), published: true, hasVideo: true, hasAudio: true, status: "PENDING", record: false, mediaProvider: "WebRTC", sdp: CHROME_PUBLISH_OFFER, ...over };
}
function playReq(over: Record<string, unknown> = {}) {
  return { mediaSessionId: crypto.randomUUID(), name: uniqueName("s"), published: false, hasVideo: true, hasAudio: true, status: "PENDING", record: false, mediaProvider: "WebRTC", sdp: CHROME_PLAY_OFFER, ...over };
}

describe("handshake", () => {
  it("answers connection with exactly one getUserData: sessionId, authToken, ESTABLISHED, echoed appKey/custom", async () => {
    const c = await client();
    const custom = { login: "alice", n: 1, nested: { a: [1, 2] } };
    c.send("connection", { appKey: "roomApp", mediaProviders: ["WebRTC", "MSE"], clientVersion: "2.0", msePacketizationVersion: 2, authToken: "client-token", custom });
    const f = await c.next();
    expect(f.message).toBe("getUserData");
    expect(f.data).toHaveLength(1);
    const ud = f.data[0] as Record<string, unknown>;
    expect(ud.sessionId).toMatch(/^[0-9a-f]{64}$/);
    expect(ud).toEqual({
      appKey: "roomApp",
      mediaProviders: ["WebRTC", "MSE"],
      clientVersion: "2.0",
      msePacketizationVersion: 2,
      custom,
      sessionId: ud.sessionId,
      authToken: ud.sessionId,
      status: "ESTABLISHED",
    });
    await c.expectIdle();
  });

  it("defaults appKey to defaultApp and gives each socket its own session", async () => {
    const a = await client();
    const b = await client();
    a.send("connection", {});
    b.send("connection", { appKey: "defaultApp" });
    const ua = await a.expectNext<{ appKey: string; sessionId: string }>("getUserData");
    const ub = await b.expectNext<{ appKey: string; sessionId: string }>("getUserData");
    expect(ua.appKey).toBe("defaultApp");
    expect(ub.appKey).toBe("defaultApp");
    expect(ua.sessionId).not.toBe(ub.sessionId);
  });

  it("accepts the upgrade on any path, including / and /websocket", async () => {
    for (const path of ["/", "/websocket", "/stream1/"]) {
      const c = await WcsClient.open(path);
      open.push(c);
      c.send("connection", { appKey: "defaultApp" });
      expect((await c.next()).message).toBe("getUserData");
    }
  });

  it("refuses a connection with wrongly typed fields with a fail, then accepts a good one", async () => {
    const c = await client();
    c.send("connection", { appKey: 42 });
    const fail = await c.expectNext<{ apiMethod: string; info: string }>("fail");
    expect(fail.apiMethod).toBe("connection");
    expect(fail.info).toMatch(/^Invalid request: appKey /);
    c.send("connection", { appKey: "defaultApp" });
    expect((await c.next()).message).toBe("getUserData");
  });
});

/** A valid `pushLogs` frame of exactly `size` characters. */
function pushLogsFrame(size: number): string {
  const base = JSON.stringify({ message: "pushLogs", data: [{ logs: "" }] }).length;
  const frame = JSON.stringify({ message: "pushLogs", data: [{ logs: "x".repeat(size - base) }] });
  expect(frame.length).toBe(size);
  return frame;
}

describe("bad input gets one fail each and the session keeps working", () => {
  it.each([
    ["malformed JSON", "{not json", { apiMethod: "unknown", info: "Malformed JSON" }],
    ["an empty object", "{}", { apiMethod: "unknown", info: 'Invalid request: expected {"message": string, "data": [..]}' }],
    ["data that is not an array", '{"message":"connection","data":{}}', { apiMethod: "unknown", info: 'Invalid request: expected {"message": string, "data": [..]}' }],
    ["a JSON array", "[1,2]", { apiMethod: "unknown", info: 'Invalid request: expected {"message": string, "data": [..]}' }],
    ["an unknown message", '{"message":"fooBar","data":[{}]}', { apiMethod: "fooBar", info: "Unknown message: fooBar" }],
  ])("%s", async (_what, frame, expected) => {
    const c = await connected();
    c.sendRaw(frame);
    expect(await c.next()).toEqual({ message: "fail", data: [expected] });
    await c.expectIdle();
  });

  it("a binary frame", async () => {
    const c = await connected();
    c.sendRaw(new Uint8Array([1, 2, 3]));
    expect(await c.next()).toEqual({ message: "fail", data: [{ apiMethod: "binary", info: "Binary frames are not supported" }] });
    await c.expectIdle();
  });

  it("a frame over MAX_FRAME_BYTES", async () => {
    const c = await connected();
    const size = MAX_FRAME_BYTES + 1;
    const frame = pushLogsFrame(size);
    c.sendRaw(frame);
    expect(await c.next()).toEqual({
      message: "fail",
      data: [{ apiMethod: "unknown", info: `Frame too large: ${size} bytes, the limit is ${MAX_FRAME_BYTES}` }],
    });
    await c.expectIdle();
  });

  it("a frame of exactly MAX_FRAME_BYTES is accepted (pushLogs is ignored silently)", async () => {
    const c = await connected();
    const frame = pushLogsFrame(MAX_FRAME_BYTES);
    c.sendRaw(frame);
    await c.expectIdle();
  });

  it("ignores client ping, pushLogs, sessionDebug and submitBugReport without an answer", async () => {
    const c = await connected();
    c.send("ping", null);
    c.send("pushLogs", { logs: "hello" });
    c.send("sessionDebug", { command: "start" });
    c.send("submitBugReport", { text: "x" });
    await c.expectIdle();
  });
});

describe("bounded inputs: depth, size, well-formed names (protocol/bounded.ts)", () => {
  const nested = (depth: number): unknown => {
    let v: unknown = "leaf";
    for (let i = 0; i < depth; i++) v = { v };
    return v;
  };

  it("a custom nested deeper than 32 levels, or over 16 KiB, is FAILED Invalid request before anything is reserved", async () => {
    const c = await connected();
    for (const [custom, why] of [
      [nested(33), "custom nests deeper than 32 levels"],
      [{ big: "x".repeat(17_000) }, "custom is 17010 bytes of JSON, the limit is 16384"],
    ] as const) {
      const req = publishReq({ custom });
      c.send("publishStream", req);
      const ev = await c.expectNext("notifyStreamStatusEvent");
      expect(ev).toMatchObject({ mediaSessionId: req.mediaSessionId, status: "FAILED", info: `Invalid request: ${why}` });
      expect(await sessionKeys(c)).toEqual([]);
      expect(await storedStream(streamStub(req.name))).toBeUndefined();
    }
    // 32 levels are fine (refused later only because there is no media node here)
    const ok = publishReq({ custom: nested(31) });
    c.send("publishStream", ok);
    expect(await c.expectNext("notifyStreamStatusEvent")).toMatchObject({ status: "FAILED", info: "Failed by error: no media node available" });
  });

  it("a frame nested ~3,000 deep gets fail and the session goes on", async () => {
    const c = await connected();
    c.sendRaw(JSON.stringify({ message: "publishStream", data: [nested(3000)] }));
    expect(await c.next()).toEqual({ message: "fail", data: [{ apiMethod: "unknown", info: "Invalid request: the frame nests deeper than 36 levels" }] });
    c.send("connection", {});
    expect((await c.next()).message).toBe("getUserData");
  });

  it.each([
    ["a lone surrogate in the name", { name: "cam\ud800" }, "name must not contain lone surrogates (not valid Unicode)"],
    ["a control character in the name", { name: "cam\u0000x" }, "name must not contain control characters"],
    ["a lone surrogate in the mediaSessionId", { mediaSessionId: "id-\udc00" }, "mediaSessionId must not contain lone surrogates (not valid Unicode)"],
  ])("%s → FAILED Invalid request, nothing left behind", async (_what, over, why) => {
    const c = await connected();
    const req = publishReq(over);
    c.send("publishStream", req);
    expect(await c.expectNext("notifyStreamStatusEvent")).toMatchObject({ status: "FAILED", info: `Invalid request: ${why}` });
    expect(await sessionKeys(c)).toEqual([]);
    await c.expectIdle();
  });

  it("a sendData payload nested deeper than 32 levels → DataStatusEvent FAILED with its operationId", async () => {
    const c = await connected("roomApp");
    c.send("sendData", { operationId: "op-deep", payload: nested(33) });
    expect(await c.expectNext("DataStatusEvent")).toEqual({ operationId: "op-deep", status: "FAILED", info: "Invalid request: payload nests deeper than 32 levels" });
    await c.expectIdle();
  });

  it("connection custom.login that is not a well-formed 1–128 character string → fail, not established", async () => {
    const c = await client();
    c.send("connection", { custom: { login: "bob\u0007" } });
    expect(await c.next()).toEqual({ message: "fail", data: [{ apiMethod: "connection", info: "Invalid request: custom.login must not contain control characters" }] });
    c.send("connection", { custom: { login: 42 } });
    expect(await c.next()).toEqual({ message: "fail", data: [{ apiMethod: "connection", info: "Invalid request: custom.login must be a string" }] });
    c.send("connection", { custom: { login: "bob" } });
    expect((await c.next()).message).toBe("getUserData");
  });
});

describe("publishStream / playStream refusals (no media needed)", () => {
  it("publishStream before connection → FAILED Session not ready", async () => {
    const c = await client();
    const req = publishReq();
    c.send("publishStream", req);
    const ev = await c.expectNext("notifyStreamStatusEvent");
    expect(ev).toMatchObject({ mediaSessionId: req.mediaSessionId, name: req.name, status: "FAILED", info: "Session not ready", published: true, mediaType: "publish" });
    // still usable: the handshake works afterwards
    c.send("connection", {});
    expect((await c.next()).message).toBe("getUserData");
  });

  it("playStream before connection (no mediaSessionId) → fail Session not ready", async () => {
    const c = await client();
    c.send("playStream", { name: "x", sdp: CHROME_PLAY_OFFER });
    expect(await c.next()).toEqual({ message: "fail", data: [{ apiMethod: "playStream", info: "Session not ready" }] });
  });

  it.each(["publishStream", "playStream"])("%s without mediaSessionId → fail MediaSessionId is null", async (method) => {
    const c = await connected();
    c.send(method, { name: "s1", sdp: CHROME_PUBLISH_OFFER });
    expect(await c.next()).toEqual({ message: "fail", data: [{ apiMethod: method, info: "MediaSessionId is null" }] });
    c.send(method, null);
    expect(await c.next()).toEqual({ message: "fail", data: [{ apiMethod: method, info: "MediaSessionId is null" }] });
    await c.expectIdle();
  });

  it("publishStream without sdp → FAILED Invalid request naming sdp", async () => {
    const c = await connected();
    const req = publishReq({ sdp: undefined });
    c.send("publishStream", req);
    const ev = await c.expectNext<{ status: string; info: string; mediaSessionId: string }>("notifyStreamStatusEvent");
    expect(ev.status).toBe("FAILED");
    expect(ev.mediaSessionId).toBe(req.mediaSessionId);
    expect(ev.info).toMatch(/^Invalid request: sdp /);
  });

  it.each([
    ["publishStream", "hello", "Invalid SDP: does not start with v=0"],
    ["publishStream", "v=0\r\n", "Invalid SDP: no audio or video m-line"],
    ["publishStream", CHROME_PLAY_OFFER, "Invalid SDP: no sendonly/sendrecv m-line in a publish offer"],
    ["playStream", CHROME_PUBLISH_OFFER, "Invalid SDP: no recvonly/sendrecv m-line in a play offer"],
    ["publishStream", CHROME_PUBLISH_OFFER.replace(/a=fingerprint:.*\r\n/g, ""), "Invalid SDP: m=audio has no DTLS fingerprint"],
    ["publishStream", CHROME_PUBLISH_OFFER.replace(/a=ice-pwd:.*\r\n/g, ""), "Invalid SDP: m=audio has no ICE credentials"],
  ].map(([method, sdp, info]) => ({ method: method!, sdp: sdp!, info: info! })))("$method → FAILED $info", async ({ method, sdp, info }) => {
    const c = await connected();
    const req = method === "publishStream" ? publishReq({ sdp }) : playReq({ sdp });
    c.send(method, req);
    const ev = await c.expectNext("notifyStreamStatusEvent");
    expect(ev).toMatchObject({ mediaSessionId: req.mediaSessionId, name: req.name, status: "FAILED", info, sessionId: c.sessionId, appKey: "defaultApp" });
    expect(ev.info).toMatch(/^Invalid SDP/);
    expect(await sessionKeys(c)).toEqual([]);
    await c.expectIdle();
  });

  it("playStream of an unknown name → FAILED Stream not found, with the WCS stream object", async () => {
    const c = await connected();
    const req = playReq({ custom: { k: "v" } });
    c.send("playStream", req);
    const ev = await c.expectNext<Record<string, unknown>>("notifyStreamStatusEvent");
    expect(ev).toEqual({
      mediaSessionId: req.mediaSessionId,
      name: req.name,
      status: "FAILED",
      info: "Stream not found",
      published: false,
      hasVideo: true,
      hasAudio: true,
      sessionId: c.sessionId,
      appKey: "defaultApp",
      mediaProvider: "WebRTC",
      mediaType: "play",
      record: false,
      audioState: { muted: false },
      videoState: { muted: false },
      createDate: ev.createDate,
      custom: { k: "v" },
    });
    expect(typeof ev.createDate).toBe("number");
    // the mediaSessionId is not kept: the same one may be used again (and fails the same way)
    expect(await sessionKeys(c)).toEqual([]);
    c.send("playStream", req);
    expect(await c.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: req.mediaSessionId, info: "Stream not found" });
    expect(await describeStream(req.name as string)).toMatchObject({ publisher: null, players: {} });
  });

  it("publishStream with a valid offer and no media node → FAILED no media node available; the name stays free", async () => {
    expect(await globalRegistry().list()).toEqual([]);
    const c = await connected();
    const req = publishReq({ hasAudio: false });
    c.send("publishStream", req);
    const ev = await c.expectNext("notifyStreamStatusEvent");
    expect(ev).toMatchObject({ mediaSessionId: req.mediaSessionId, name: req.name, status: "FAILED", info: "Failed by error: no media node available", published: true, hasAudio: false, hasVideo: true });
    await c.expectIdle();
  });

  it("a node that refuses connections: FAILED media node lost, the registry forgets it, the name is free", async () => {
    const reg = globalRegistry();
    const node = deadNode("unit-dead-node", "boot-x");
    await reg.heartbeat({ ...node, load: { publishers: 0, players: 0, cpuPercent: 0 }, maxLegs: 0, intervalMs: 60_000, seq: 1 });
    try {
      const c = await connected();
      const req = publishReq();
      c.send("publishStream", req);
      const ev = await c.expectNext("notifyStreamStatusEvent");
      expect(ev).toMatchObject({ mediaSessionId: req.mediaSessionId, name: req.name, status: "FAILED", info: "Failed by error: media node lost" });
      expect(await reg.list()).toEqual([]);
      expect(await describeStream(req.name as string)).toMatchObject({ node: null, publisher: null, players: {} });
      expect(await sessionKeys(c)).toEqual([]);
    } finally {
      await reg.reportUnreachable(node.nodeId, node.bootId);
      await runInDurableObject(reg, async (_i, ctx) => ctx.storage.deleteAlarm());
    }
    expect(await reg.list()).toEqual([]);
  });

  it("publishStream of a name already published → FAILED Stream name is already in use; the owner keeps it", async () => {
    const owner = await connected();
    const name = uniqueName("held");
    const pub = leg("publisher", owner.sessionId);
    await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    const c = await connected();
    const req = publishReq({ name });
    c.send("publishStream", req);
    expect(await c.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: req.mediaSessionId, name, status: "FAILED", info: "Stream name is already in use", published: true });
    expect((await describeStream(name)).publisher?.legId).toBe(pub.legId);
    expect(await sessionKeys(c)).toEqual([]);
    await owner.expectIdle();
  });

  it("publishStream with a mediaSessionId already used in the session → FAILED MediaSessionId is already in use", async () => {
    const c = await connected();
    const req = publishReq();
    await seedSessionStream(c, leg("publisher", c.sessionId, { mediaSessionId: req.mediaSessionId }), "other");
    c.send("publishStream", req);
    expect(await c.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: req.mediaSessionId, status: "FAILED", info: "MediaSessionId is already in use" });
    expect(await sessionKeys(c)).toEqual([`stream:${req.mediaSessionId}`]);
  });

  it("more than MAX_STREAMS_PER_SESSION streams → FAILED Too many streams in this session", async () => {
    const c = await connected();
    for (let i = 0; i < 16; i++) await seedSessionStream(c, leg("player", c.sessionId, { mediaSessionId: `m${i}` }), `n${i}`);
    const req = playReq();
    c.send("playStream", req);
    expect(await c.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: req.mediaSessionId, status: "FAILED", info: "Too many streams in this session" });
  });
});

describe("unPublishStream / stopStream", () => {
  it.each(["unPublishStream", "stopStream"])("%s of an unknown mediaSessionId → fail; without one → MediaSessionId is null", async (method) => {
    const c = await connected();
    c.send(method, { mediaSessionId: "nope", name: "s1" });
    expect(await c.next()).toEqual({ message: "fail", data: [{ apiMethod: method, info: "Stream not found: no stream with mediaSessionId nope in this session" }] });
    c.send(method, { name: "s1" });
    expect(await c.next()).toEqual({ message: "fail", data: [{ apiMethod: method, info: "MediaSessionId is null" }] });
    await c.expectIdle();
  });

  it("unPublishStream of a publishing stream → UNPUBLISHED Stopped by user; its players FAILED Stopped by publisher stop", async () => {
    const owner = await connected();
    const viewer = await connected();
    const name = uniqueName("pub");
    const node = deadNode();
    const pub = leg("publisher", owner.sessionId);
    const ply = leg("player", viewer.sessionId);
    await seedStream({ name, node, publisher: pub, players: { [ply.legId]: ply } });
    await seedSessionStream(owner, pub, name);
    await seedSessionStream(viewer, ply, name);

    owner.send("unPublishStream", { mediaSessionId: pub.mediaSessionId, name });
    expect(await owner.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: pub.mediaSessionId, name, status: "UNPUBLISHED", info: "Stopped by user", published: true, nodeId: node.nodeId });
    expect(await viewer.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: ply.mediaSessionId, name, status: "FAILED", info: "Stopped by publisher stop", published: false, mediaType: "play" });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    expect(await sessionKeys(owner)).toEqual([]);
    expect(await sessionKeys(viewer)).toEqual([]);
    // a second stop finds nothing
    owner.send("unPublishStream", { mediaSessionId: pub.mediaSessionId, name });
    expect((await owner.expectNext<{ info: string }>("fail")).info).toMatch(/^Stream not found/);
  });

  it("stopStream of a playing stream → STOPPED Stopped by user; the publisher goes on", async () => {
    const owner = await connected();
    const viewer = await connected();
    const name = uniqueName("play");
    const pub = leg("publisher", owner.sessionId);
    const ply = leg("player", viewer.sessionId);
    await seedStream({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply } });
    await seedSessionStream(viewer, ply, name);

    viewer.send("stopStream", { mediaSessionId: ply.mediaSessionId, name });
    expect(await viewer.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: ply.mediaSessionId, status: "STOPPED", info: "Stopped by user", published: false });
    const st = await describeStream(name);
    expect(st.publisher?.legId).toBe(pub.legId);
    expect(st.players).toEqual({});
    expect(await sessionKeys(viewer)).toEqual([]);
    await owner.expectIdle();
  });

  it("closing the publisher's socket ends its stream: players FAILED Stopped by publisher stop, name free", async () => {
    const owner = await connected();
    const viewer = await connected();
    const name = uniqueName("close");
    const pub = leg("publisher", owner.sessionId);
    const ply = leg("player", viewer.sessionId);
    await seedStream({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply } });
    await seedSessionStream(owner, pub, name);
    await seedSessionStream(viewer, ply, name);

    await owner.close();
    expect(await viewer.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: ply.mediaSessionId, status: "FAILED", info: "Stopped by publisher stop" });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    expect(await sessionKeys(owner)).toEqual([]);
    expect(await runInDurableObject(owner.stub(), (_i, ctx) => ctx.storage.getAlarm())).toBeNull();
  });
});

describe("sendData", () => {
  it("answers DataStatusEvent FAILED with the operationId", async () => {
    const c = await connected("myApp");
    c.send("sendData", { operationId: "op-1", payload: { command: "join" } });
    expect(await c.next()).toEqual({
      message: "DataStatusEvent",
      data: [{ operationId: "op-1", status: "FAILED", info: "No application handles sendData for appKey myApp" }],
    });
    c.send("sendData", { payload: 1 });
    expect(await c.next()).toEqual({ message: "fail", data: [{ apiMethod: "sendData", info: "Invalid request: operationId is required" }] });
    await c.expectIdle();
  });
});

describe("keep-alive", () => {
  const PING_INTERVAL_MS = 5000; // wrangler.toml [vars]
  const MISSED_PONGS_LIMIT = 10;

  /** Moves the session's last pong `ms` into the past. */
  async function agePong(c: WcsClient, ms: number): Promise<void> {
    await runInDurableObject(c.stub(), (_inst, ctx) => {
      const sockets = ctx.getWebSockets();
      expect(sockets).toHaveLength(1);
      const ws = sockets[0]!;
      const att = ws.deserializeAttachment() as { lastPongAt: number };
      att.lastPongAt = Date.now() - ms;
      ws.serializeAttachment(att);
    });
  }

  it("schedules the alarm one interval ahead; the alarm sends ping and reschedules", async () => {
    const c = await connected();
    const before = Date.now();
    const at = await runInDurableObject(c.stub(), (_i, ctx) => ctx.storage.getAlarm());
    expect(at).not.toBeNull();
    expect(at! - before).toBeGreaterThan(PING_INTERVAL_MS - 1000);
    expect(at! - before).toBeLessThanOrEqual(PING_INTERVAL_MS);
    expect(await runDurableObjectAlarm(c.stub())).toBe(true);
    expect(await c.next()).toEqual({ message: "ping", data: [] });
    const next = await runInDurableObject(c.stub(), (_i, ctx) => ctx.storage.getAlarm());
    expect(next).not.toBeNull();
    expect(await runDurableObjectAlarm(c.stub())).toBe(true);
    expect(await c.next()).toEqual({ message: "ping", data: [] });
    await c.expectIdle();
  });

  it("still pings when the last pong is a little under the limit", async () => {
    const c = await connected();
    await agePong(c, PING_INTERVAL_MS * MISSED_PONGS_LIMIT + 100); // 10 pings unanswered, still within the limit
    expect(await runDurableObjectAlarm(c.stub())).toBe(true);
    expect(await c.next()).toEqual({ message: "ping", data: [] });
    expect(c.isClosed).toBe(false);
  });

  it("closes the socket (4000 Terminated by keep-alive) after MISSED_PONGS_LIMIT intervals without pong, and forgets the session", async () => {
    const c = await connected();
    await agePong(c, PING_INTERVAL_MS * (MISSED_PONGS_LIMIT + 0.5) + 1);
    expect(await runDurableObjectAlarm(c.stub())).toBe(true);
    expect(await c.closed).toEqual({ code: 4000, reason: "Terminated by keep-alive" });
    expect(c.pending()).toBe(0); // no ping before the close
    expect(await runInDurableObject(c.stub(), (_i, ctx) => ctx.storage.getAlarm())).toBeNull();
  });

  it("a pong keeps the socket open", async () => {
    const c = await connected();
    await agePong(c, PING_INTERVAL_MS * (MISSED_PONGS_LIMIT + 0.5) + 1);
    c.send("pong", null);
    await c.expectIdle(); // the pong has been handled
    expect(await runDurableObjectAlarm(c.stub())).toBe(true);
    expect(await c.next()).toEqual({ message: "ping", data: [] });
    expect(c.isClosed).toBe(false);
    await c.expectIdle();
  });

  it("the keep-alive close ends the session's streams", async () => {
    const owner = await connected();
    const viewer = await connected();
    const name = uniqueName("ka");
    const pub = leg("publisher", owner.sessionId);
    const ply = leg("player", viewer.sessionId);
    await seedStream({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply } });
    await seedSessionStream(owner, pub, name);
    await agePong(owner, PING_INTERVAL_MS * (MISSED_PONGS_LIMIT + 0.5) + 1);
    expect(await runDurableObjectAlarm(owner.stub())).toBe(true);
    expect((await owner.closed).code).toBe(4000);
    expect(await viewer.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: ply.mediaSessionId, status: "FAILED", info: "Stopped by publisher stop" });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
  });
});

describe("worker routes", () => {
  const hb = { nodeId: "n", bootId: "b", controlUrl: "http://127.0.0.1:9", load: { publishers: 0, players: 0, cpuPercent: 0 }, maxLegs: 0, intervalMs: 1000, seq: 1 };

  it("a plain GET that is not an upgrade does not reach a session", async () => {
    const res = await SELF.fetch("http://x/no-such-file-here.txt");
    expect(res.status).toBe(404);
    await res.body?.cancel();
  });

  it("node calls: 401 unsigned or badly signed, 400 malformed; the registry is untouched", async () => {
    const body = JSON.stringify(hb);
    const unsigned = await SELF.fetch("http://x/internal/nodes/heartbeat", { method: "POST", body });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toEqual({ code: "unauthorized", info: "Bad or missing request signature" });

    const wrong = await signRequest("not-the-secret", "POST", "/internal/nodes/heartbeat", body);
    const badSig = await SELF.fetch("http://x/internal/nodes/heartbeat", { method: "POST", body, headers: wrong });
    expect(badSig.status).toBe(401);
    await badSig.body?.cancel();

    const stale = await signRequest("unit-test-secret", "POST", "/internal/nodes/heartbeat", body, Date.now() - 120_000);
    const staleRes = await SELF.fetch("http://x/internal/nodes/heartbeat", { method: "POST", body, headers: stale });
    expect(staleRes.status).toBe(401);
    await staleRes.body?.cancel();

    const badBody = JSON.stringify({ ...hb, intervalMs: -1 });
    const h = await signRequest("unit-test-secret", "POST", "/internal/nodes/heartbeat", badBody);
    const bad = await SELF.fetch("http://x/internal/nodes/heartbeat", { method: "POST", body: badBody, headers: h });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { info: string }).info).toMatch(/^Invalid body: intervalMs /);

    const notJson = "{";
    const h2 = await signRequest("unit-test-secret", "POST", "/internal/nodes/events", notJson);
    const nj = await SELF.fetch("http://x/internal/nodes/events", { method: "POST", body: notJson, headers: h2 });
    expect(nj.status).toBe(400);
    expect(await nj.json()).toEqual({ code: "invalid_request", info: "Malformed JSON body" });

    const lh = await signRequest("unit-test-secret", "GET", "/internal/nodes", "");
    const list = await SELF.fetch("http://x/internal/nodes", { headers: lh });
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual([]);
  });

  it("a signed heartbeat registers the node in the global registry; its replay is refused (401), an older seq too (409)", async () => {
    const reg = globalRegistry();
    const beat = async (seq: number) => {
      const body = JSON.stringify({ ...hb, nodeId: "route-node", seq });
      return { body, headers: await signRequest("unit-test-secret", "POST", "/internal/nodes/heartbeat", body) };
    };
    const post = (r: { body: string; headers: Record<string, string> }) => SELF.fetch("http://x/internal/nodes/heartbeat", { method: "POST", ...r });
    try {
      const first = await beat(2);
      const res = await post(first);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
      expect((await reg.list()).map((n) => [n.nodeId, n.bootId, n.live, n.seq])).toEqual([["route-node", "b", true, 2]]);

      const replay = await post(first); // the same signed request again, within the clock window
      expect(replay.status).toBe(401);
      expect(await replay.json()).toEqual({ code: "unauthorized", info: "Replayed request" });

      const older = await post(await beat(1)); // freshly signed, but older than the last heartbeat taken
      expect(older.status).toBe(409);
      expect(await older.json()).toEqual({ code: "conflict", info: "Stale heartbeat: seq 1 is not above the last one" });
      expect((await reg.list()).map((n) => n.seq)).toEqual([2]);
      expect((await post(await beat(3))).status).toBe(200);
    } finally {
      await reg.reportUnreachable("route-node", "b");
      await runInDurableObject(reg, async (_i, ctx) => ctx.storage.deleteAlarm());
    }
  });
});
