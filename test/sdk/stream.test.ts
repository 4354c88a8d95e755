/**
 * SDK stream state machine against the fake WCS server and a fake RTCPeerConnection: the wire shape of
 * publishStream/playStream, answer handling, statuses keyed by mediaSessionId, stop() retries, late and unknown events,
 * stream events (notifyStreamEvent to STREAM_EVENT; mute calls and sendData as sendStreamEvent).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ERROR_INFO, SESSION_STATUS, STOP_RETRY_MS, STREAM_EVENT, STREAM_EVENT_TYPE, STREAM_STATUS, WcsError, type FailEvent, type Session, type StreamEvent } from "../../client/index.js";
import { fakeMedia, FakePeerConnection, fakeStream, resetFakes } from "./fake-rtc.js";
import { FakeWcsServer, type FakeConnection } from "./fake-server.js";
import { session, sleep, statuses, until } from "./helpers.js";

let server: FakeWcsServer;
let s: Session;
let conn: FakeConnection;
beforeEach(async () => {
  resetFakes();
  server = await FakeWcsServer.start();
  s = session(server).s;
  await s.established();
  conn = server.connections[0]!;
});
afterEach(async () => {
  s.disconnect();
  await server.close();
});

const pcOf = (i = 0) => FakePeerConnection.instances[i]!;

describe("publish", () => {
  it("sends the Web SDK's publishStream with a sendonly offer before any candidate, applies the answer, PUBLISHING", async () => {
    const pub = s.createStream({ name: "cam", stream: fakeStream(), custom: { x: 1 }, constraints: { video: { minBitrate: 300, maxBitrate: 900 } } });
    const st = statuses(pub);
    expect(pub.status()).toBe(STREAM_STATUS.NEW);
    pub.publish();
    expect(pub.status()).toBe(STREAM_STATUS.PENDING);
    expect(() => pub.publish()).toThrow(/Invalid stream state PENDING/);
    const req = await server.waitFor("publishStream");
    const pc = pcOf();
    expect(pc.configuration).toEqual({ iceServers: [], bundlePolicy: "max-compat" });
    expect(req.arg).toEqual({
      mediaSessionId: pub.id(),
      name: "cam",
      published: true,
      hasVideo: true,
      hasAudio: true,
      status: "PENDING",
      record: false,
      mediaProvider: "WebRTC",
      sdp: pc.offers[0],
      custom: { x: 1 },
      bitrate: 0,
      minBitrate: 300,
      maxBitrate: 900,
      constraints: { video: { minBitrate: 300, maxBitrate: 900 } },
    });
    const sdp = req.arg.sdp as string;
    expect(sdp).not.toMatch(/a=candidate/);
    expect(sdp.match(/a=(sendonly|recvonly|sendrecv)/g)).toEqual(["a=sendonly", "a=sendonly"]);
    expect(pc.signalingState).toBe("have-local-offer");

    conn.answer(pub.id());
    await until(() => pc.remoteDescription !== null);
    expect(pc.remoteDescription?.type).toBe("answer");
    expect(pc.remoteDescription?.sdp).toContain("a=fake-answer");
    conn.status(pub.id(), "PUBLISHING");
    await expect(pub.active()).resolves.toBe(pub);
    expect(st).toEqual(["PENDING", "PUBLISHING"]);
    expect(pub.published()).toBe(true);
    expect(pub.getLocalMediaStream()?.getTracks()).toHaveLength(2);
    expect(s.getStreams()).toEqual([pub]);
  });

  it("uses getUserMedia without the WCS-only fields when no stream is given, and hasAudio false for video only", async () => {
    const pub = s.createStream({ name: "gum", constraints: { audio: false, video: { width: 640, minBitrate: 100, quality: 5 } } }).publish();
    const req = await server.waitFor("publishStream");
    expect(fakeMedia.calls).toEqual([{ audio: false, video: { width: 640 } }]);
    expect(req.arg.hasAudio).toBe(false);
    expect(req.arg.hasVideo).toBe(true);
    expect(req.arg.minBitrate).toBe(100);
    conn.status(pub.id(), "UNPUBLISHED");
    await pub.ended();
    // captured media is released with the stream
    expect(pub.getLocalMediaStream()?.getTracks().length).toBeGreaterThan(0);
    expect(pub.getLocalMediaStream()?.getTracks().every((t) => t.readyState === "ended")).toBe(true);
  });

  it("FAILED with Local error when getUserMedia is refused; nothing sent", async () => {
    fakeMedia.refuse = "Permission denied";
    const pub = s.createStream({ name: "nocam" });
    const st = statuses(pub);
    pub.publish();
    await expect(pub.active()).rejects.toMatchObject({ info: ERROR_INFO.LOCAL_ERROR });
    expect(pub.getErrorInfo()).toBe("NotAllowedError: Permission denied"); // the DOMException name is kept
    expect(st).toEqual(["PENDING", "FAILED:Local error"]);
    await sleep(50);
    expect(server.received("publishStream")).toHaveLength(0);
  });

  it("FAILED with Local error and unPublishStream sent when the answer is refused", async () => {
    FakePeerConnection.rejectAnswer = "bad answer";
    const pub = s.createStream({ name: "rej", stream: fakeStream() }).publish();
    await server.waitFor("publishStream");
    conn.answer(pub.id());
    const unpub = await server.waitFor("unPublishStream");
    expect(unpub.arg.mediaSessionId).toBe(pub.id());
    expect(pub.status()).toBe(STREAM_STATUS.FAILED);
    expect(pub.getInfo()).toBe(ERROR_INFO.LOCAL_ERROR);
    expect(pub.getErrorInfo()).toMatch(/bad answer/);
  });

  it("passes the answer through sdpHook and uses mediaOptions.iceServers", async () => {
    s.disconnect();
    s = session(server, { mediaOptions: { iceServers: [{ urls: "stun:example.org" }] } }).s;
    await s.established();
    const c = server.connections[1]!;
    const pub = s.createStream({ name: "h", stream: fakeStream(), sdpHook: (sdp) => sdp + "a=hooked\r\n" }).publish();
    await server.waitFor("publishStream", (f) => f.conn === c);
    c.answer(pub.id());
    const pc = pcOf(0);
    await until(() => pc.remoteDescription !== null);
    expect(pc.remoteDescription?.sdp).toMatch(/a=hooked/);
    expect(pc.configuration).toEqual({ iceServers: [{ urls: "stun:example.org" }], bundlePolicy: "max-compat" });
  });

  it("record: true is sent with the publish; getRecordInfo() is the recordName of its statuses", async () => {
    const pub = s.createStream({ name: "cam", stream: fakeStream(), record: true }).publish();
    const req = await server.waitFor("publishStream");
    expect(req.arg.record).toBe(true);
    expect(pub.getRecordInfo()).toBeUndefined();
    conn.send("notifyStreamStatusEvent", {
      mediaSessionId: pub.id(),
      name: "cam",
      status: "PUBLISHING",
      published: true,
      hasVideo: true,
      hasAudio: true,
      mediaProvider: "WebRTC",
      mediaType: "publish",
      record: true,
      recordName: "cam-1796328148129-abc.webm",
      audioState: { muted: false },
      videoState: { muted: false },
    });
    await pub.active();
    expect(pub.getRecordInfo()).toBe("cam-1796328148129-abc.webm");
  });
});

describe("play", () => {
  it("sends playStream with recvonly audio + video, exposes the remote MediaStream, PLAYING then STOPPED", async () => {
    const player = s.createStream({ name: "cam", constraints: { video: { width: 320, height: 240, quality: 50 } } });
    const st = statuses(player);
    player.play();
    const req = await server.waitFor("playStream");
    expect(req.arg).toMatchObject({
      mediaSessionId: player.id(),
      name: "cam",
      published: false,
      hasVideo: true,
      hasAudio: true,
      status: "PENDING",
      record: false,
      width: 320,
      height: 240,
      quality: 50,
      mediaProvider: "WebRTC",
      bitrate: 0,
      minBitrate: 0,
      maxBitrate: 0,
    });
    expect((req.arg.sdp as string).match(/a=(sendonly|recvonly|sendrecv)/g)).toEqual(["a=recvonly", "a=recvonly"]);
    expect(player.getRemoteMediaStream()?.getTracks().map((t) => t.kind)).toEqual(["audio", "video"]);
    conn.answer(player.id());
    conn.status(player.id(), "PLAYING");
    await player.active();
    player.stop();
    const stop = await server.waitFor("stopStream");
    expect(stop.arg).toEqual({
      mediaSessionId: player.id(),
      name: "cam",
      published: false,
      hasVideo: true,
      hasAudio: true,
      status: "PLAYING",
      record: false,
    });
    expect(pcOf().signalingState).toBe("closed"); // closed at once, before the server confirms
    expect(player.status()).toBe(STREAM_STATUS.PLAYING);
    conn.status(player.id(), "STOPPED");
    await expect(player.ended()).resolves.toBe("STOPPED");
    expect(st).toEqual(["PENDING", "PLAYING", "STOPPED"]);
  });

  it("FAILED with getInfo() from the server; active() rejects with that info", async () => {
    const player = s.createStream({ name: "nobody" }).play();
    await server.waitFor("playStream");
    conn.status(player.id(), "FAILED", "Stream not found");
    const err = await player.active().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WcsError);
    expect((err as WcsError).info).toBe("Stream not found");
    expect(player.getInfo()).toBe("Stream not found");
    expect(pcOf().signalingState).toBe("closed");
    expect(s.getStreams()).toEqual([]);
  });

  it("takes a stream status from fail {apiMethod: StreamStatusEvent} and still fires WARN", async () => {
    const warns: FailEvent[] = [];
    s.on(SESSION_STATUS.WARN, (f) => warns.push(f));
    const player = s.createStream({ name: "x" }).play();
    await server.waitFor("playStream");
    conn.send("fail", { apiMethod: "StreamStatusEvent", id: player.id(), status: "FAILED", info: "Invalid SDP: no m-line" });
    await expect(player.ended()).resolves.toBe("FAILED");
    expect(player.getInfo()).toBe("Invalid SDP: no m-line");
    expect(warns).toHaveLength(1);
  });
});

describe("stop", () => {
  it("in PENDING retries every 200 ms until a status arrives, then sends unPublishStream", async () => {
    const pub = s.createStream({ name: "p", stream: fakeStream() });
    const st = statuses(pub);
    pub.publish();
    await server.waitFor("publishStream");
    pub.stop();
    await sleep(3 * STOP_RETRY_MS + 50);
    expect(server.received("unPublishStream")).toHaveLength(0);
    expect(pub.status()).toBe(STREAM_STATUS.PENDING);
    const t0 = Date.now();
    conn.status(pub.id(), "PUBLISHING");
    const unpub = await server.waitFor("unPublishStream");
    const waited = unpub.t - t0;
    expect(waited).toBeLessThanOrEqual(STOP_RETRY_MS + 100);
    expect(unpub.arg).toMatchObject({ mediaSessionId: pub.id(), status: "PUBLISHING", published: true });
    conn.status(pub.id(), "UNPUBLISHED");
    await pub.ended();
    expect(st).toEqual(["PENDING", "PUBLISHING", "UNPUBLISHED"]);
    expect(server.received("unPublishStream")).toHaveLength(1);
  });

  it("in PENDING followed by FAILED sends nothing", async () => {
    const pub = s.createStream({ name: "p2", stream: fakeStream() }).publish();
    await server.waitFor("publishStream");
    pub.stop();
    await sleep(STOP_RETRY_MS + 20);
    conn.status(pub.id(), "FAILED", "Stream name is already in use");
    await pub.ended();
    await sleep(2 * STOP_RETRY_MS);
    expect(server.received("unPublishStream")).toHaveLength(0);
    expect(pub.getInfo()).toBe("Stream name is already in use");
  });

  it("in NEW fails locally without a message; in FAILED does nothing", async () => {
    const a = s.createStream({ name: "new" });
    const st = statuses(a);
    a.stop();
    expect(a.status()).toBe(STREAM_STATUS.FAILED);
    a.stop();
    expect(st).toEqual(["FAILED"]);
    expect(() => a.play()).toThrow(/Invalid stream state FAILED/);
    await sleep(30);
    expect(server.received("stopStream")).toHaveLength(0);
  });
});

describe("routing by mediaSessionId", () => {
  it("ignores late events after a terminal status", async () => {
    const pub = s.createStream({ name: "late", stream: fakeStream() });
    const st = statuses(pub);
    pub.publish();
    await server.waitFor("publishStream");
    const id = pub.id();
    conn.status(id, "PUBLISHING");
    await pub.active();
    pub.stop();
    await server.waitFor("unPublishStream");
    conn.status(id, "UNPUBLISHED");
    conn.status(id, "FAILED", "late failure");
    conn.status(id, "PUBLISHING");
    conn.answer(id);
    conn.send("ping"); // a marker: once pong comes back, everything before it was processed
    await server.waitFor("pong");
    expect(st).toEqual(["PENDING", "PUBLISHING", "UNPUBLISHED"]);
    expect(pub.status()).toBe(STREAM_STATUS.UNPUBLISHED);
    expect(pub.getInfo()).toBeUndefined();
  });

  it("ignores statuses and answers for unknown mediaSessionIds, and deprecated pseudo-statuses", async () => {
    const pub = s.createStream({ name: "u", stream: fakeStream() });
    const st = statuses(pub);
    pub.publish();
    await server.waitFor("publishStream");
    conn.status("00000000-0000-0000-0000-000000000000", "FAILED", "not yours");
    conn.answer("00000000-0000-0000-0000-000000000000");
    conn.sendRaw(JSON.stringify({ message: "notifyStreamStatusEvent", data: [{ mediaSessionId: pub.id(), status: "RESIZE" }] }));
    conn.sendRaw(JSON.stringify({ message: "notifyStreamStatusEvent", data: [{ status: "FAILED" }] }));
    conn.send("ping");
    await server.waitFor("pong");
    expect(st).toEqual(["PENDING"]);
    expect(pcOf().remoteDescription).toBeNull();
    // notifyVideoFormat is handled like notifyStreamStatusEvent
    conn.sendRaw(JSON.stringify({ message: "notifyVideoFormat", data: [{ mediaSessionId: pub.id(), status: "PUBLISHING" }] }));
    await pub.active();
    expect(st).toEqual(["PENDING", "PUBLISHING"]);
  });

  it("keeps two streams of one session apart", async () => {
    const a = s.createStream({ name: "a", stream: fakeStream() }).publish();
    const b = s.createStream({ name: "a" }).play();
    await server.waitFor("publishStream");
    await server.waitFor("playStream");
    expect(a.id()).not.toBe(b.id());
    conn.status(b.id(), "PLAYING");
    conn.status(a.id(), "FAILED", "boom");
    await b.active();
    await a.ended();
    expect(a.getInfo()).toBe("boom");
    expect(b.status()).toBe(STREAM_STATUS.PLAYING);
    expect(s.getStreams()).toEqual([b]);
  });
});

describe("stream events", () => {
  it("a player emits typed STREAM_EVENTs for its own id (streamName filled in), follows the mute state, drops unknown and malformed ones", async () => {
    const player = s.createStream({ name: "cam" }).play();
    const got: Array<{ type: string; mediaSessionId: string; payload: unknown; same: boolean }> = [];
    player.on(STREAM_EVENT, (e: StreamEvent, st) => got.push({ type: e.type, mediaSessionId: e.mediaSessionId, payload: e.payload, same: st === player }));
    await server.waitFor("playStream");
    conn.status(player.id(), "PLAYING");
    await player.active();
    expect([player.getAudioState(), player.getVideoState()]).toEqual([{ muted: false }, { muted: false }]);
    const id = player.id();
    conn.send("notifyStreamEvent", { mediaSessionId: id, type: "videoMuted", payload: { streamName: "cam" } });
    conn.sendRaw(JSON.stringify({ message: "notifyStreamEvent", data: [{ mediaSessionId: id, type: "audioMuted" }] })); // no payload: a WCS server might
    conn.sendRaw(JSON.stringify({ message: "notifyStreamEvent", data: [{ mediaSessionId: id, type: "snapshotCompleted", payload: {} }] }));
    conn.sendRaw(JSON.stringify({ message: "notifyStreamEvent", data: [{ mediaSessionId: id }] }));
    conn.sendRaw(JSON.stringify({ message: "notifyStreamEvent", data: [{ mediaSessionId: "someone-else", type: "data", payload: 1 }] }));
    conn.send("notifyStreamEvent", { mediaSessionId: id, type: "data", payload: [1, { two: 2 }] });
    await until(() => got.length === 3);
    expect(got).toEqual([
      { type: STREAM_EVENT_TYPE.VIDEO_MUTED, mediaSessionId: id, payload: { streamName: "cam" }, same: true },
      { type: STREAM_EVENT_TYPE.AUDIO_MUTED, mediaSessionId: id, payload: { streamName: "cam" }, same: true },
      { type: STREAM_EVENT_TYPE.DATA, mediaSessionId: id, payload: [1, { two: 2 }], same: true },
    ]);
    expect([player.getAudioState(), player.getVideoState()]).toEqual([{ muted: true }, { muted: true }]);
    conn.send("notifyStreamEvent", { mediaSessionId: id, type: "audioUnmuted", payload: { streamName: "cam" } });
    await until(() => got.length === 4);
    expect(player.getAudioState()).toEqual({ muted: false });
  });

  it("a publisher's mute disables its tracks at once and is sent once PUBLISHING; sendData only when PUBLISHING", async () => {
    const media = fakeStream();
    const pub = s.createStream({ name: "cam", stream: media }).publish();
    await server.waitFor("publishStream");
    pub.muteVideo();
    expect(media.getVideoTracks().map((t) => t.enabled)).toEqual([false]);
    expect(media.getAudioTracks().map((t) => t.enabled)).toEqual([true]);
    expect([pub.isVideoMuted(), pub.isAudioMuted()]).toEqual([true, false]);
    expect(() => pub.sendData({ early: true })).toThrow(/Invalid stream state PENDING/);
    await sleep(50);
    expect(server.received("sendStreamEvent")).toEqual([]); // not PUBLISHING yet
    conn.answer(pub.id());
    conn.status(pub.id(), "PUBLISHING");
    const announced = await server.waitFor("sendStreamEvent");
    expect(announced.arg).toEqual({ mediaSessionId: pub.id(), type: "videoMuted" });
    pub.unmuteVideo();
    pub.muteAudio();
    pub.sendData({ n: 1 });
    await until(() => server.received("sendStreamEvent").length === 4);
    expect(server.received("sendStreamEvent").map((f) => f.arg)).toEqual([
      { mediaSessionId: pub.id(), type: "videoMuted" },
      { mediaSessionId: pub.id(), type: "videoUnmuted" },
      { mediaSessionId: pub.id(), type: "audioMuted" },
      { mediaSessionId: pub.id(), type: "data", payload: { n: 1 } },
    ]);
    expect(media.getTracks().map((t) => [t.kind, t.enabled])).toEqual([["audio", false], ["video", true]]);
    expect(() => pub.sendData(undefined)).toThrow(TypeError);
    const player = s.createStream({ name: "cam" });
    expect(() => player.muteAudio()).toThrow(/only a published stream can be muted \(publish\(\) it first\)/);
    player.play();
    expect(() => player.unmuteVideo()).toThrow(/this one is played/);
  });
});
