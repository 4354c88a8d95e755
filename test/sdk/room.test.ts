/** SDK Room API against the fake WCS server: connection fields, commands, and room events building participants. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ROOM_EVENT, roomApi, SESSION_STATUS, STREAM_STATUS, WcsError, type Participant, type RoomMessage, type RoomSession } from "../../client/index.js";
import { fakePlatform, fakeStream, resetFakes } from "./fake-rtc.js";
import { FakeWcsServer, type FakeConnection, type ReceivedFrame } from "./fake-server.js";
import { memoryLogger, until } from "./helpers.js";

let server: FakeWcsServer;
let rs: RoomSession;
beforeEach(async () => {
  resetFakes();
  server = await FakeWcsServer.start();
});
afterEach(async () => {
  rs?.disconnect();
  await server.close();
});

function connect(username = "alice", token?: string): RoomSession {
  rs = roomApi.connect({ urlServer: server.url, username, token, platform: fakePlatform(), logger: memoryLogger() });
  return rs;
}
/** Answers the next sendData whose payload.command is `command`. */
async function command(command: string, status: "ACCEPTED" | "FAILED" = "ACCEPTED", info?: string, after = 0): Promise<ReceivedFrame> {
  const f = await server.waitFor("sendData", (x) => (x.arg.payload as { command?: string }).command === command && server.frames.indexOf(x) >= after);
  f.conn.dataStatus(f.arg.operationId!, status, info);
  return f;
}

describe("room API", () => {
  it("connects with appKey roomApp and custom {login, token}", async () => {
    connect("alice", "jwt");
    const established: RoomSession[] = [];
    rs.on(SESSION_STATUS.ESTABLISHED, (r) => established.push(r));
    await rs.established();
    expect(server.received("connection")[0]!.arg).toMatchObject({ appKey: "roomApp", custom: { login: "alice", token: "jwt" } });
    expect(established).toEqual([rs]);
    expect(rs.username()).toBe("alice");
  });

  it("joins, builds participants from STATE/JOINED/PUBLISHED/UNPUBLISHED/LEFT and relays MESSAGE", async () => {
    connect();
    const events: string[] = [];
    const room = rs.join({ name: "room1" });
    room
      .on(ROOM_EVENT.STATE, (r) => events.push(`STATE ${r.getParticipants().map((p) => p.name()).join(",")}`))
      .on(ROOM_EVENT.JOINED, (p) => events.push(`JOINED ${p.name()}`))
      .on(ROOM_EVENT.PUBLISHED, (p) => events.push(`PUBLISHED ${p.name()} ${p.getStreams().map((s) => s.streamName()).join(",")}`))
      .on(ROOM_EVENT.UNPUBLISHED, (p, name) => events.push(`UNPUBLISHED ${p.name()} ${name}`))
      .on(ROOM_EVENT.LEFT, (p) => events.push(`LEFT ${p.name()}`));
    const messages: RoomMessage[] = [];
    room.on(ROOM_EVENT.MESSAGE, (m) => messages.push(m));
    const join = await command("join");
    expect(join.arg.payload).toEqual({ command: "join", options: { name: "room1", record: false } });
    const c = join.conn;
    c.roomEvent("room1", "STATE", ["carol", { login: "bob", name: "room1-bob-1a2b" }]);
    await room.joined(1000);
    expect(room.getParticipants().map((p) => [p.name(), p.getStreams().map((s) => s.streamName())])).toEqual([
      ["carol", []],
      ["bob", ["room1-bob-1a2b"]],
    ]);

    c.roomEvent("room1", "JOINED", "dave");
    c.roomEvent("room1", "PUBLISHED", { login: "dave", name: "room1-dave-9f3c" });
    c.roomEvent("other-room", "JOINED", "mallory"); // not our room: ignored
    c.roomEvent("room1", "MESSAGE", { from: "bob", text: "hello" });
    c.roomEvent("room1", "MESSAGE", { from: "stranger", text: "hi" });
    c.roomEvent("room1", "UNPUBLISHED", { login: "bob", name: "room1-bob-1a2b" });
    c.roomEvent("room1", "LEFT", "carol");
    await until(() => events.length === 5 && messages.length === 2);
    expect(events).toEqual([
      "STATE carol,bob",
      "JOINED dave",
      "PUBLISHED dave room1-dave-9f3c",
      "UNPUBLISHED bob room1-bob-1a2b",
      "LEFT carol",
    ]);
    expect(messages.map((m) => `${m.from.name()}: ${m.text}`)).toEqual(["bob: hello", "stranger: hi"]);
    expect(messages[0]!.from).toBe(room.getParticipant("bob"));
    expect(room.getParticipants().map((p) => p.name())).toEqual(["bob", "dave"]);
    expect(room.getParticipant("bob")!.getStreams()).toEqual([]);
  });

  it("plays a participant's stream with custom {name: room} and sends messages (to one, to all)", async () => {
    connect();
    const room = rs.join({ name: "r" });
    const join = await command("join");
    join.conn.roomEvent("r", "STATE", [{ login: "bob", name: "r-bob-0001" }]);
    await room.joined();
    const bob = room.getParticipant("bob")!;
    const player = bob.getStreams()[0]!.play();
    const req = await server.waitFor("playStream");
    expect(req.arg).toMatchObject({ name: "r-bob-0001", custom: { name: "r" }, published: false });
    expect(bob.getStreams()[0]!.id()).toBe(player.id());

    const sent = bob.sendMessage("hi bob");
    const m1 = await command("sendMessage");
    await sent;
    expect(m1.arg.payload).toEqual({ command: "sendMessage", options: { roomConfig: { name: "r" }, to: "bob", text: "hi bob" } });
    const all = room.sendMessageToAll("hi all");
    const m2 = await command("sendMessage", "ACCEPTED", undefined, server.frames.indexOf(m1) + 1);
    await all;
    expect(m2.arg.payload).toEqual({ command: "sendMessage", options: { roomConfig: { name: "r" }, broadcast: true, text: "hi all" } });

    // a refused message: the promise rejects with the server's info and the Web SDK-style error callback fires
    let cbError: WcsError | undefined;
    const refused = bob.sendMessage("x".repeat(10), (e) => (cbError = e));
    await command("sendMessage", "FAILED", "Recipient is not in this room", server.frames.indexOf(m2) + 1);
    await expect(refused).rejects.toMatchObject({ info: "Recipient is not in this room" });
    expect(cbError?.info).toBe("Recipient is not in this room");
  });

  it("publishes as ${room}-${username}-xxxx with custom {name: room}", async () => {
    connect("alice");
    const room = rs.join({ name: "r2" });
    const join = await command("join");
    join.conn.roomEvent("r2", "STATE", []);
    await room.joined();
    const pub = room.publish({ stream: fakeStream() });
    const req = await server.waitFor("publishStream");
    expect(req.arg.name).toMatch(/^r2-alice-[0-9a-f]{4}$/);
    expect(req.arg.name).toBe(pub.name());
    expect(req.arg.custom).toEqual({ name: "r2" });
    const named = room.publish({ stream: fakeStream(), name: "screen" });
    expect(named.name()).toMatch(/^r2-alice-[0-9a-f]{4}-screen$/);
  });

  it("reports a refused join as FAILED with the server's info and rejects joined()", async () => {
    connect("alice");
    const room = rs.join({ name: "full" });
    const failed: Array<string | undefined> = [];
    room.on(ROOM_EVENT.FAILED, (_r, info) => failed.push(info));
    await command("join", "FAILED", "Login is already in use in this room");
    await expect(room.joined()).rejects.toMatchObject({ info: "Login is already in use in this room" });
    expect(failed).toEqual(["Login is already in use in this room"]);
  });

  it("leave() sends leave and stops this room's streams", async () => {
    connect("alice");
    const room = rs.join({ name: "l" });
    const join = await command("join");
    const c: FakeConnection = join.conn;
    c.roomEvent("l", "STATE", [{ login: "bob", name: "l-bob-0001" }]);
    await room.joined();
    const pub = room.publish({ stream: fakeStream() });
    const player = room.getParticipant("bob")!.getStreams()[0]!.play();
    const preq = await server.waitFor("publishStream");
    const qreq = await server.waitFor("playStream");
    c.status(preq.arg.mediaSessionId!, "PUBLISHING");
    c.status(qreq.arg.mediaSessionId!, "PLAYING");
    await Promise.all([pub.active(), player.active()]);
    const left = room.leave();
    const leave = await command("leave");
    expect(leave.arg.payload).toEqual({ command: "leave", options: { name: "l" } });
    await expect(left).resolves.toBe(room);
    await server.waitFor("unPublishStream");
    await server.waitFor("stopStream");
    expect(rs.getRooms()).toEqual([]);
    expect([pub.status(), player.status()]).toEqual([STREAM_STATUS.PUBLISHING, STREAM_STATUS.PLAYING]); // until the server confirms
  });

  it("ignores malformed room events", async () => {
    connect();
    const room = rs.join({ name: "m" });
    const join = await command("join");
    const c = join.conn;
    const seen: Participant[] = [];
    room.on(ROOM_EVENT.JOINED, (p) => seen.push(p));
    c.roomEvent("m", "STATE", "not-a-list");
    c.roomEvent("m", "JOINED", { login: "x" });
    c.roomEvent("m", "PUBLISHED", "x");
    c.send("OnDataEvent", { payload: "garbage" });
    c.roomEvent("m", "JOINED", "ok");
    await until(() => seen.length === 1);
    expect(seen[0]!.name()).toBe("ok");
  });
});
