/** SDK auto-restore (opt-in): reconnect with backoff, republish/replay, stream-level restarts, rooms re-joined. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { roomApi, SESSION_STATUS, STREAM_STATUS, type RoomSession, type Session } from "../../client/index.js";
import { fakePlatform, fakeStream, resetFakes } from "./fake-rtc.js";
import { FakeWcsServer } from "./fake-server.js";
import { memoryLogger, session, sleep, statuses, until } from "./helpers.js";

let server: FakeWcsServer;
const open: Array<{ disconnect(): void }> = [];
beforeEach(async () => {
  resetFakes();
  server = await FakeWcsServer.start();
});
afterEach(async () => {
  for (const s of open.splice(0)) s.disconnect();
  await server.close();
});

const FAST = { initialDelayMs: 40, maxDelayMs: 200, maxAttempts: 5 };
function restoring(opts: Parameters<typeof session>[1] = {}): { s: Session; events: string[] } {
  const r = session(server, { autoRestore: FAST, ...opts });
  open.push(r.s);
  return r;
}

/** Publishes `name` on `s` and lets the fake server take it to PUBLISHING. */
async function published(s: Session, name: string, stream = fakeStream()) {
  const pub = s.createStream({ name, stream });
  const st = statuses(pub);
  pub.publish();
  const req = await server.waitFor("publishStream", (f) => f.arg.mediaSessionId === pub.id());
  req.conn.answer(pub.id());
  req.conn.status(pub.id(), "PUBLISHING");
  await pub.active();
  return { pub, st, req };
}

describe("session drop", () => {
  it("reconnects after a drop and republishes the active stream on the same Stream object with a new id", async () => {
    const { s, events } = restoring();
    await s.established();
    const media = fakeStream();
    const { pub, st } = await published(s, "cam", media);
    const firstId = pub.id();

    server.connections[0]!.drop();
    await until(() => pub.status() === STREAM_STATUS.FAILED);
    expect(pub.getInfo()).toBe("Session disconnected");
    expect(pub.isRestoring()).toBe(true);
    expect(s.isRestoring()).toBe(true);

    const c1 = await server.connection(1);
    const req = await server.waitFor("publishStream", (f) => f.conn === c1);
    expect(req.arg.name).toBe("cam");
    expect(req.arg.mediaSessionId).toBe(pub.id());
    expect(pub.id()).not.toBe(firstId);
    c1.answer(pub.id());
    c1.status(pub.id(), "PUBLISHING");
    await pub.active();
    expect(st).toEqual(["PENDING", "PUBLISHING", "FAILED:Session disconnected", "PENDING", "PUBLISHING"]);
    expect(events).toEqual(["CONNECTED", "ESTABLISHED", "DISCONNECTED", "RESTORING#1", "CONNECTED", "ESTABLISHED"]);
    expect(s.isRestoring()).toBe(false);
    expect(media.getTracks().length).toBeGreaterThan(0);
    expect(media.getTracks().every((t) => t.readyState === "live")).toBe(true); // the app's stream is never stopped
    // events for the old id are ignored
    c1.status(firstId, "FAILED", "old");
    c1.send("ping");
    await server.waitFor("pong", (f) => f.conn === c1);
    expect(pub.status()).toBe(STREAM_STATUS.PUBLISHING);
  });

  it("replays a player and leaves stopped streams alone", async () => {
    const { s } = restoring();
    await s.established();
    const c0 = server.connections[0]!;
    const player = s.createStream({ name: "p" }).play();
    const stopped = s.createStream({ name: "q" }).play();
    await server.waitFor("playStream", (f) => f.arg.name === "p");
    await server.waitFor("playStream", (f) => f.arg.name === "q");
    c0.status(player.id(), "PLAYING");
    c0.status(stopped.id(), "PLAYING");
    await Promise.all([player.active(), stopped.active()]);
    stopped.stop();
    await server.waitFor("stopStream");
    c0.drop();
    const c1 = await server.connection(1);
    const replay = await server.waitFor("playStream", (f) => f.conn === c1);
    expect(replay.arg.name).toBe("p");
    c1.status(player.id(), "PLAYING");
    await player.active();
    await sleep(100);
    expect(server.received("playStream", c1)).toHaveLength(1);
    expect(stopped.isRestoring()).toBe(false);
    await expect(stopped.ended()).resolves.toBe("FAILED");
  });

  it("backs off between failed reconnection attempts and gives up after maxAttempts", async () => {
    const { s, events } = restoring({ autoRestore: { initialDelayMs: 30, maxDelayMs: 1000, maxAttempts: 3 } });
    await s.established();
    const { pub } = await published(s, "x");
    server.accept = () => false; // refuse every new socket
    const times: number[] = [];
    s.on(SESSION_STATUS.RESTORING, (_s, a) => times.push(a.delayMs));
    server.connections[0]!.drop();
    await until(() => events.filter((e) => e === "FAILED").length === 1, 3000, "give up");
    expect(times).toEqual([30, 60, 120]);
    // the refused sockets open (CONNECTED) and drop at once; failed attempts are not reported as DISCONNECTED/FAILED
    expect(events).toEqual([
      "CONNECTED",
      "ESTABLISHED",
      "DISCONNECTED",
      "RESTORING#1",
      "CONNECTED",
      "RESTORING#2",
      "CONNECTED",
      "RESTORING#3",
      "CONNECTED",
      "FAILED",
    ]);
    expect(server.connections).toHaveLength(4);
    expect(s.isRestoring()).toBe(false);
    expect(pub.isRestoring()).toBe(false);
    await expect(pub.ended()).resolves.toBe("FAILED");
    await expect(s.established()).rejects.toThrow();
  });

  it("disconnect() during reconnection stops it: DISCONNECTED, no more sockets, streams end", async () => {
    const { s, events } = restoring({ autoRestore: { initialDelayMs: 30, maxDelayMs: 30, maxAttempts: 50 } });
    await s.established();
    const { pub } = await published(s, "y");
    server.accept = () => false;
    server.connections[0]!.drop();
    await until(() => server.connections.length >= 3, 2000, "two attempts");
    s.disconnect();
    const n = server.connections.length;
    expect(s.status()).toBe(SESSION_STATUS.DISCONNECTED);
    expect(s.isRestoring()).toBe(false);
    expect(events.at(-1)).toBe("DISCONNECTED");
    await expect(pub.ended()).resolves.toBe("FAILED");
    await sleep(150);
    expect(server.connections.length).toBe(n);
  });

  it("does not reconnect without autoRestore, nor after disconnect()", async () => {
    const plain = session(server);
    open.push(plain.s);
    await plain.s.established();
    server.connections[0]!.drop();
    await until(() => plain.s.status() === SESSION_STATUS.DISCONNECTED);
    const { s } = restoring();
    await s.established();
    s.disconnect();
    await sleep(200);
    expect(server.connections).toHaveLength(2);
  });
});

describe("stream failure on a live session", () => {
  it("restarts a stream that failed after being active, and stops after maxAttempts failed restarts", async () => {
    const { s } = restoring({ autoRestore: { initialDelayMs: 20, maxAttempts: 2 } });
    await s.established();
    const c = server.connections[0]!;
    const { pub, st } = await published(s, "node-lost");
    c.status(pub.id(), "FAILED", "Failed by error: media node lost");
    // restart 1
    const r1 = await server.waitFor("publishStream", (f) => f.arg.mediaSessionId === pub.id() && server.received("publishStream").length === 2);
    c.status(r1.arg.mediaSessionId!, "FAILED", "Failed by error: no media node available");
    // restart 2
    const r2 = await server.waitFor("publishStream", (f) => f.arg.mediaSessionId !== r1.arg.mediaSessionId && server.received("publishStream").indexOf(f) === 2);
    c.status(r2.arg.mediaSessionId!, "FAILED", "Failed by error: no media node available");
    await expect(pub.ended()).resolves.toBe("FAILED");
    await sleep(150);
    expect(server.received("publishStream")).toHaveLength(3);
    expect(st).toEqual([
      "PENDING",
      "PUBLISHING",
      "FAILED:Failed by error: media node lost",
      "PENDING",
      "FAILED:Failed by error: no media node available",
      "PENDING",
      "FAILED:Failed by error: no media node available",
    ]);
  });

  it("resets the attempt count once the stream is active again", async () => {
    const { s } = restoring({ autoRestore: { initialDelayMs: 20, maxAttempts: 1 } });
    await s.established();
    const c = server.connections[0]!;
    const { pub } = await published(s, "flaky");
    for (let i = 0; i < 3; i++) {
      c.status(pub.id(), "FAILED", "Failed by ICE timeout");
      const oldId = pub.id();
      await until(() => pub.id() !== oldId && pub.status() === STREAM_STATUS.PENDING, 2000, `restart ${i + 1}`);
      await server.waitFor("publishStream", (f) => f.arg.mediaSessionId === pub.id());
      c.status(pub.id(), "PUBLISHING");
      await pub.active();
    }
    expect(server.received("publishStream")).toHaveLength(4);
  });

  it("does not restart streams that never became active, local errors, or streams stopped while waiting", async () => {
    const { s } = restoring({ autoRestore: { initialDelayMs: 60 } });
    await s.established();
    const c = server.connections[0]!;
    const dup = s.createStream({ name: "dup", stream: fakeStream() }).publish();
    await server.waitFor("publishStream");
    c.status(dup.id(), "FAILED", "Stream name is already in use");
    await expect(dup.ended()).resolves.toBe("FAILED");
    expect(dup.isRestoring()).toBe(false);

    const { pub } = await published(s, "stopme");
    c.status(pub.id(), "FAILED", "Failed by ICE timeout");
    await until(() => pub.status() === STREAM_STATUS.FAILED);
    expect(pub.isRestoring()).toBe(true);
    pub.stop(); // cancels the scheduled restart
    expect(pub.isRestoring()).toBe(false);
    await sleep(150);
    expect(server.received("publishStream")).toHaveLength(2);

    const optOut = s.createStream({ name: "optout", stream: fakeStream(), autoRestore: false }).publish();
    await server.waitFor("publishStream", (f) => f.arg.name === "optout");
    c.status(optOut.id(), "PUBLISHING");
    await optOut.active();
    c.status(optOut.id(), "FAILED", "Failed by ICE timeout");
    await expect(optOut.ended()).resolves.toBe("FAILED");
  });
});

describe("rooms", () => {
  it("re-joins the room before republishing, and replays only streams still published", async () => {
    let rs: RoomSession | undefined;
    rs = roomApi.connect({ urlServer: server.url, username: "alice", autoRestore: FAST, platform: fakePlatform(), logger: memoryLogger() });
    open.push(rs);
    // the fake server accepts every join and answers with the room's current state
    let state: unknown[] = [{ login: "bob", name: "r-bob-0001" }, { login: "carol", name: "r-carol-0002" }];
    server.on("sendData", (f) => {
      const payload = f.arg.payload as { command: string; options: { name: string } };
      f.conn.dataStatus(f.arg.operationId!, "ACCEPTED");
      if (payload.command === "join") f.conn.roomEvent(payload.options.name, "STATE", state);
    });
    const room = rs.join({ name: "r" });
    await room.joined();
    const pub = room.publish({ stream: fakeStream() });
    const bobPlayer = room.getParticipant("bob")!.getStreams()[0]!.play();
    const carolPlayer = room.getParticipant("carol")!.getStreams()[0]!.play();
    const c0 = server.connections[0]!;
    await until(() => server.received("publishStream").length === 1 && server.received("playStream").length === 2);
    for (const st of [pub, bobPlayer, carolPlayer]) c0.status(st.id(), st.published() ? "PUBLISHING" : "PLAYING");
    await Promise.all([pub.active(), bobPlayer.active(), carolPlayer.active()]);

    state = [{ login: "bob", name: "r-bob-0001" }, "carol"]; // carol stopped publishing while we were away
    c0.drop();
    const c1 = await server.connection(1);
    const rejoin = await server.waitFor("sendData", (f) => f.conn === c1);
    const republish = await server.waitFor("publishStream", (f) => f.conn === c1);
    const replay = await server.waitFor("playStream", (f) => f.conn === c1);
    expect((rejoin.arg.payload as { command: string }).command).toBe("join");
    expect(rejoin.t).toBeLessThanOrEqual(republish.t);
    expect(c1.received.indexOf(rejoin)).toBeLessThan(c1.received.indexOf(republish));
    expect(republish.arg.name).toBe(pub.name());
    expect(replay.arg.name).toBe("r-bob-0001");
    await sleep(150);
    expect(server.received("playStream", c1)).toHaveLength(1);
    expect(carolPlayer.isRestoring()).toBe(false);
    expect(room.getParticipant("carol")!.getStreams()).toEqual([]);
    rs.disconnect();
    rs = undefined;
  });
});

describe("stream events across a restart", () => {
  it("a publisher muted before its stream failed announces the mute again once restarted and PUBLISHING", async () => {
    const { s } = restoring({ autoRestore: { initialDelayMs: 20, maxAttempts: 2 } });
    await s.established();
    const c = server.connections[0]!;
    const media = fakeStream();
    const { pub } = await published(s, "muted-restart", media);
    pub.muteAudio();
    await server.waitFor("sendStreamEvent", (f) => f.arg.mediaSessionId === pub.id() && f.arg.type === "audioMuted");
    const firstId = pub.id();
    c.status(firstId, "FAILED", "Failed by error: media node lost");
    const again = await server.waitFor("publishStream", (f) => f.arg.mediaSessionId !== firstId);
    expect(media.getAudioTracks().map((t) => t.enabled)).toEqual([false]); // still muted while restarting
    c.answer(pub.id());
    c.status(pub.id(), "PUBLISHING");
    await server.waitFor("sendStreamEvent", (f) => f.arg.mediaSessionId === again.arg.mediaSessionId);
    expect(server.received("sendStreamEvent").map((f) => [f.arg.mediaSessionId, f.arg.type])).toEqual([
      [firstId, "audioMuted"],
      [again.arg.mediaSessionId, "audioMuted"],
    ]);
  });
});
