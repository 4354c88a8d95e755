/**
 * RoomDO (the WCS Room API's room, protocol/room.ts) inside the Workers runtime, no media node: join / leave /
 * sendMessage / onStreamStatus over RPC on the DO stub, with real session sockets wherever delivery matters (room events
 * reach the participants through SessionDO.push), the stale-participant alarm, the participant cap, and the Room API
 * path through a session (`sendData`) including room streams ended on leave / socket close.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_ROOM_MESSAGE_CHARS, MAX_ROOM_PARTICIPANTS, RoomInfo, type LegEvent, type RoomEventPayload } from "../../protocol/index.js";
import { STALE_CHECK_MS, type RoomDO } from "../../worker/room-do.js";
import { deadNode, describeStream, E, leg, seedStream, sessionKeys, uniqueName, WcsClient } from "./helpers.js";

type RoomState = Awaited<ReturnType<RoomDO["describe"]>>;

const open: WcsClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

/** A socket with the handshake a RoomApi.connect() session does: appKey roomApp, custom.login. */
async function participant(login: string | undefined, appKey = "roomApp"): Promise<WcsClient> {
  const c = await WcsClient.open();
  open.push(c);
  c.send("connection", { appKey, clientVersion: "2.0", mediaProviders: ["WebRTC"], ...(login === undefined ? {} : { custom: { login } }) });
  c.sessionId = (await c.expectNext<{ sessionId: string }>("getUserData")).sessionId;
  return c;
}

function roomStub(name: string): DurableObjectStub<RoomDO> {
  return E.ROOM.get(E.ROOM.idFromName(name));
}

/** RoomDO state with its real type (memory), and what its storage holds. */
function describeRoom(name: string): Promise<RoomState> {
  return runInDurableObject(roomStub(name), (inst) => inst.describe());
}
async function roomStorage(name: string): Promise<{ keys: string[]; alarm: number | null }> {
  return runInDurableObject(roomStub(name), async (_inst, ctx) => ({ keys: [...(await ctx.storage.list()).keys()], alarm: await ctx.storage.getAlarm() }));
}

/** The next frame must be a room event; returns its payload. */
async function nextEvent(c: WcsClient): Promise<RoomEventPayload> {
  const d = await c.expectNext<{ payload: RoomEventPayload }>("OnDataEvent");
  return d.payload;
}

/** Sends a Room API command like room-module.js and returns the DataStatusEvent that must come next. */
async function command(c: WcsClient, cmd: string, options: Record<string, unknown>): Promise<{ operationId: string; status: Record<string, unknown> }> {
  const operationId = crypto.randomUUID();
  c.send("sendData", { operationId, payload: { command: cmd, options } });
  return { operationId, status: await c.expectNext("DataStatusEvent") };
}

/** join through the session: ACCEPTED then STATE (both carrying the operationId); returns STATE's info. */
async function joinViaSession(c: WcsClient, room: string): Promise<unknown> {
  const { operationId, status } = await command(c, "join", { name: room, record: false });
  expect(status).toEqual({ operationId, status: "ACCEPTED" });
  const st = await c.expectNext<{ operationId: string; payload: RoomEventPayload }>("OnDataEvent");
  expect(st.operationId).toBe(operationId);
  expect(st.payload.roomName).toBe(room);
  expect(st.payload.name).toBe("STATE");
  return st.payload.info;
}

/** Replaces a RoomDO's state (memory and storage). */
async function seedRoom(state: RoomState): Promise<void> {
  await runInDurableObject(roomStub(state.name), async (inst, ctx) => {
    (inst as unknown as { state: RoomState }).state = structuredClone(state);
    await ctx.storage.put("state", state);
  });
}

/** A session id whose SessionDO has no socket (a participant whose socket is gone). */
const ghostSession = (): string => E.SESSION.newUniqueId().toString();

describe("RoomDO join", () => {
  it("creates the room, returns the OTHER participants as STATE and tells only the others JOINED", async () => {
    const room = uniqueName("room");
    const [a, b, c] = await Promise.all([participant("alice"), participant("bob"), participant("carol")]);
    const stub = roomStub(room);
    expect(await stub.join(room, "alice", a.sessionId)).toEqual({ ok: true, state: [] });
    expect(await stub.join(room, "bob", b.sessionId)).toEqual({ ok: true, state: ["alice"] });
    expect(await nextEvent(a)).toEqual({ roomName: room, name: "JOINED", info: "bob" });
    expect(await stub.join(room, "carol", c.sessionId)).toEqual({ ok: true, state: ["alice", "bob"] });
    expect(await nextEvent(a)).toEqual({ roomName: room, name: "JOINED", info: "carol" });
    expect(await nextEvent(b)).toEqual({ roomName: room, name: "JOINED", info: "carol" });
    await Promise.all([a.expectIdle(), b.expectIdle(), c.expectIdle()]);

    const st = await describeRoom(room);
    expect(st.name).toBe(room);
    expect(st.streams).toEqual([]);
    expect(Object.values(st.participants).map((p) => [p.login, p.sessionId])).toEqual([
      ["alice", a.sessionId],
      ["bob", b.sessionId],
      ["carol", c.sessionId],
    ]);
    const stored = await roomStorage(room);
    expect(stored.keys).toEqual(["state"]);
    expect(stored.alarm).not.toBeNull();
    expect(stored.alarm! - Date.now()).toBeLessThanOrEqual(STALE_CHECK_MS);
  });

  it("refuses a login in use by another session and leaves the first untouched; a re-join from the same session is accepted quietly", async () => {
    const room = uniqueName("room");
    const [a, b, dup] = await Promise.all([participant("alice"), participant("bob"), participant("alice")]);
    const stub = roomStub(room);
    await stub.join(room, "alice", a.sessionId);
    await stub.join(room, "bob", b.sessionId);
    expect(await nextEvent(a)).toEqual({ roomName: room, name: "JOINED", info: "bob" });

    expect(await stub.join(room, "alice", dup.sessionId)).toEqual({ ok: false, info: RoomInfo.LOGIN_IN_USE });
    expect((await describeRoom(room)).participants.alice?.sessionId).toBe(a.sessionId);
    expect(await stub.join(room, "bob", b.sessionId)).toEqual({ ok: true, state: ["alice"] });
    await Promise.all([a.expectIdle(), b.expectIdle(), dup.expectIdle()]);
    // the first alice still gets messages
    expect(await stub.sendMessage("bob", b.sessionId, ["alice"], "still here?")).toEqual({ ok: true });
    expect(await nextEvent(a)).toEqual({ roomName: room, name: "MESSAGE", info: { from: "bob", text: "still here?" } });
  });

  it(`refuses the participant after ${MAX_ROOM_PARTICIPANTS} with "${RoomInfo.ROOM_FULL}"; members can still re-join; a free place can be taken`, async () => {
    const room = uniqueName("full");
    const ghost = ghostSession();
    const participants: RoomState["participants"] = {};
    for (let i = 0; i < MAX_ROOM_PARTICIPANTS; i++) participants[`p${i}`] = { login: `p${i}`, sessionId: ghost, joinedAt: Date.now() };
    await seedRoom({ name: room, participants, streams: [] });
    const stub = roomStub(room);
    const late = await participant("late");

    expect(await stub.join(room, "late", late.sessionId)).toEqual({ ok: false, info: RoomInfo.ROOM_FULL });
    const again = await stub.join(room, "p7", ghost);
    expect(again.ok).toBe(true);
    expect(again.ok && again.state.length).toBe(MAX_ROOM_PARTICIPANTS - 1);
    expect(Object.keys((await describeRoom(room)).participants)).toHaveLength(MAX_ROOM_PARTICIPANTS);

    expect(await stub.leave("p0", ghost)).toEqual({ ok: true });
    const joined = await stub.join(room, "late", late.sessionId);
    expect(joined.ok && joined.state.length).toBe(MAX_ROOM_PARTICIPANTS - 1);
    expect(await stub.join(room, "later", ghost)).toEqual({ ok: false, info: RoomInfo.ROOM_FULL });
    await late.expectIdle();
  });
});

describe("RoomDO leave", () => {
  it("tells the others LEFT; a non-member or another session's leave is refused; the empty room forgets everything", async () => {
    const room = uniqueName("room");
    const [a, b, dup] = await Promise.all([participant("alice"), participant("bob"), participant("alice")]);
    const stub = roomStub(room);
    await stub.join(room, "alice", a.sessionId);
    await stub.join(room, "bob", b.sessionId);
    expect((await nextEvent(a)).name).toBe("JOINED");

    expect(await stub.leave("carol", b.sessionId)).toEqual({ ok: false, info: RoomInfo.NOT_A_MEMBER });
    expect(await stub.leave("alice", dup.sessionId)).toEqual({ ok: false, info: RoomInfo.NOT_A_MEMBER });
    await Promise.all([a.expectIdle(), b.expectIdle()]);

    expect(await stub.leave("bob", b.sessionId)).toEqual({ ok: true });
    expect(await nextEvent(a)).toEqual({ roomName: room, name: "LEFT", info: "bob" });
    expect(await stub.leave("bob", b.sessionId)).toEqual({ ok: false, info: RoomInfo.NOT_A_MEMBER });
    expect(Object.keys((await describeRoom(room)).participants)).toEqual(["alice"]);

    expect(await stub.leave("alice", a.sessionId)).toEqual({ ok: true });
    await Promise.all([a.expectIdle(), b.expectIdle()]);
    expect(await roomStorage(room)).toEqual({ keys: [], alarm: null });
    expect((await describeRoom(room)).participants).toEqual({});
  });
});

describe("RoomDO sendMessage", () => {
  async function roomOf4() {
    const room = uniqueName("chat");
    const logins = ["alice", "bob", "carol", "dave"] as const;
    const cs = await Promise.all(logins.map((l) => participant(l)));
    const stub = roomStub(room);
    for (const [i, l] of logins.entries()) await stub.join(room, l, cs[i]!.sessionId);
    // drain the JOINED events
    for (const [i, c] of cs.entries()) for (let k = i + 1; k < cs.length; k++) expect((await nextEvent(c)).name).toBe("JOINED");
    const [a, b, c, d] = cs as [WcsClient, WcsClient, WcsClient, WcsClient];
    return { room, stub, a, b, c, d, all: cs };
  }

  it("delivers MESSAGE {from, text} only to the named recipient(s), once each", async () => {
    const { room, stub, a, b, c, d, all } = await roomOf4();
    expect(await stub.sendMessage("alice", a.sessionId, ["bob"], "hi bob")).toEqual({ ok: true });
    expect(await nextEvent(b)).toEqual({ roomName: room, name: "MESSAGE", info: { from: "alice", text: "hi bob" } });
    await Promise.all(all.map((x) => x.expectIdle()));

    expect(await stub.sendMessage("bob", b.sessionId, ["carol", "dave", "carol"], "to two")).toEqual({ ok: true });
    for (const x of [c, d]) expect(await nextEvent(x)).toEqual({ roomName: room, name: "MESSAGE", info: { from: "bob", text: "to two" } });
    await Promise.all(all.map((x) => x.expectIdle()));

    // to oneself is allowed (it is a member)
    expect(await stub.sendMessage("dave", d.sessionId, ["dave"], "note to self")).toEqual({ ok: true });
    expect(await nextEvent(d)).toEqual({ roomName: room, name: "MESSAGE", info: { from: "dave", text: "note to self" } });
    await Promise.all(all.map((x) => x.expectIdle()));
  });

  it("broadcast reaches every other participant, not the sender", async () => {
    const { room, stub, a, b, c, d, all } = await roomOf4();
    expect(await stub.sendMessage("carol", c.sessionId, "broadcast", "hello all")).toEqual({ ok: true });
    for (const x of [a, b, d]) expect(await nextEvent(x)).toEqual({ roomName: room, name: "MESSAGE", info: { from: "carol", text: "hello all" } });
    await Promise.all(all.map((x) => x.expectIdle()));
  });

  it("a recipient outside the room fails the whole message: nobody gets it", async () => {
    const { stub, a, all } = await roomOf4();
    expect(await stub.sendMessage("alice", a.sessionId, ["bob", "zed", "carol"], "x")).toEqual({ ok: false, info: `${RoomInfo.RECIPIENT_NOT_IN_ROOM}: zed` });
    await Promise.all(all.map((x) => x.expectIdle()));
  });

  it("a sender that is not a member (unknown login, or a member's login from another session) is refused", async () => {
    const { stub, a, all } = await roomOf4();
    const outsider = await participant("eve");
    expect(await stub.sendMessage("eve", outsider.sessionId, "broadcast", "x")).toEqual({ ok: false, info: RoomInfo.NOT_A_MEMBER });
    expect(await stub.sendMessage("alice", outsider.sessionId, ["bob"], "x")).toEqual({ ok: false, info: RoomInfo.NOT_A_MEMBER });
    expect(await stub.sendMessage("alice", a.sessionId, ["bob"], "ok")).toEqual({ ok: true });
    expect((await nextEvent(all[1]!)).info).toEqual({ from: "alice", text: "ok" });
    await Promise.all([...all, outsider].map((x) => x.expectIdle()));
  });
});

describe("RoomDO onStreamStatus", () => {
  it("PUBLISHED goes to the others and into a late joiner's STATE; UNPUBLISHED and FAILED remove it; an unknown stream's end is ignored", async () => {
    const room = uniqueName("streams");
    const [a, b, c] = await Promise.all([participant("alice"), participant("bob"), participant("carol")]);
    const stub = roomStub(room);
    await stub.join(room, "alice", a.sessionId);
    await stub.join(room, "bob", b.sessionId);
    expect((await nextEvent(a)).name).toBe("JOINED");

    const s1 = `${room}-alice-0001`;
    const s2 = `${room}-alice-0002`;
    await stub.onStreamStatus("alice", a.sessionId, s1, "PUBLISHED");
    expect(await nextEvent(b)).toEqual({ roomName: room, name: "PUBLISHED", info: { login: "alice", name: s1 } });
    await stub.onStreamStatus("alice", a.sessionId, s2, "PUBLISHED");
    expect(await nextEvent(b)).toEqual({ roomName: room, name: "PUBLISHED", info: { login: "alice", name: s2 } });
    await Promise.all([a.expectIdle(), b.expectIdle()]);
    expect((await describeRoom(room)).streams).toEqual([
      { login: "alice", name: s1 },
      { login: "alice", name: s2 },
    ]);

    // a participant with streams appears once per stream; one without, as its login
    expect(await stub.join(room, "carol", c.sessionId)).toEqual({
      ok: true,
      state: [{ login: "alice", name: s1 }, { login: "alice", name: s2 }, "bob"],
    });
    for (const x of [a, b]) expect((await nextEvent(x)).info).toBe("carol");

    await stub.onStreamStatus("alice", a.sessionId, s1, "UNPUBLISHED");
    for (const x of [b, c]) expect(await nextEvent(x)).toEqual({ roomName: room, name: "UNPUBLISHED", info: { login: "alice", name: s1 } });
    await stub.onStreamStatus("alice", a.sessionId, s2, "FAILED");
    for (const x of [b, c]) expect(await nextEvent(x)).toEqual({ roomName: room, name: "FAILED", info: { login: "alice", name: s2 } });
    await stub.onStreamStatus("alice", a.sessionId, "never-published", "UNPUBLISHED");
    await stub.onStreamStatus("alice", a.sessionId, s1, "UNPUBLISHED");
    await Promise.all([a.expectIdle(), b.expectIdle(), c.expectIdle()]);
    expect((await describeRoom(room)).streams).toEqual([]);
  });

  it("ignores a stream status from a login that is not a member, or from a member's login on another session", async () => {
    const room = uniqueName("streams");
    const [a, b, outsider] = await Promise.all([participant("alice"), participant("bob"), participant("alice")]);
    const stub = roomStub(room);
    await stub.join(room, "alice", a.sessionId);
    await stub.join(room, "bob", b.sessionId);
    expect((await nextEvent(a)).name).toBe("JOINED");
    await stub.onStreamStatus("eve", outsider.sessionId, `${room}-eve-1`, "PUBLISHED");
    await stub.onStreamStatus("alice", outsider.sessionId, `${room}-alice-1`, "PUBLISHED");
    await Promise.all([a.expectIdle(), b.expectIdle(), outsider.expectIdle()]);
    expect((await describeRoom(room)).streams).toEqual([]);
    expect(await stub.join(room, "carol", ghostSession())).toEqual({ ok: true, state: ["alice", "bob"] });
  });

  it("a leaving participant's streams leave the room's STATE with it", async () => {
    const room = uniqueName("streams");
    const [a, b] = await Promise.all([participant("alice"), participant("bob")]);
    const stub = roomStub(room);
    await stub.join(room, "alice", a.sessionId);
    await stub.join(room, "bob", b.sessionId);
    await stub.onStreamStatus("alice", a.sessionId, `${room}-alice-1`, "PUBLISHED");
    await stub.leave("alice", a.sessionId);
    expect((await describeRoom(room)).streams).toEqual([]);
    expect(await stub.join(room, "carol", ghostSession())).toEqual({ ok: true, state: ["bob"] });
  });
});

describe("RoomDO stale-participant alarm", () => {
  it("removes participants whose session has no socket or is not in the room, tells the others LEFT, and re-arms", async () => {
    const room = uniqueName("stale");
    const [a, b, notIn] = await Promise.all([participant("alice"), participant("bob"), participant("nojoin")]);
    await joinViaSession(a, room);
    await joinViaSession(b, room);
    expect(await nextEvent(a)).toEqual({ roomName: room, name: "JOINED", info: "bob" });
    const stub = roomStub(room);
    // ghost: its SessionDO has no socket; nojoin: a live session that never joined through sendData
    await stub.join(room, "ghost", ghostSession());
    await stub.join(room, "nojoin", notIn.sessionId);
    for (const x of [a, b]) expect((await nextEvent(x)).info).toBe("ghost");
    for (const x of [a, b]) expect((await nextEvent(x)).info).toBe("nojoin");
    // both have been there a while (a check may rightly spare a participant whose join is still in flight)
    await runInDurableObject(stub, (inst) => {
      const ps = (inst as unknown as { state: RoomState }).state.participants;
      for (const l of ["ghost", "nojoin"]) ps[l]!.joinedAt -= 2 * STALE_CHECK_MS;
    });

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    for (const x of [a, b]) {
      expect(await nextEvent(x)).toEqual({ roomName: room, name: "LEFT", info: "ghost" });
      expect(await nextEvent(x)).toEqual({ roomName: room, name: "LEFT", info: "nojoin" });
    }
    // nojoin was still a participant when ghost was removed
    expect(await nextEvent(notIn)).toEqual({ roomName: room, name: "LEFT", info: "ghost" });
    await Promise.all([a.expectIdle(), b.expectIdle(), notIn.expectIdle()]);
    expect(Object.keys((await describeRoom(room)).participants)).toEqual(["alice", "bob"]);
    const stored = await roomStorage(room);
    expect(stored.keys).toEqual(["state"]);
    expect(stored.alarm).not.toBeNull();

    // nothing stale: nobody is touched
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await Promise.all([a.expectIdle(), b.expectIdle()]);
    expect(Object.keys((await describeRoom(room)).participants)).toEqual(["alice", "bob"]);
  });

  it("forgets the room when every participant is stale", async () => {
    const room = uniqueName("stale");
    const stub = roomStub(room);
    await stub.join(room, "g1", ghostSession());
    await stub.join(room, "g2", ghostSession());
    await runInDurableObject(stub, (inst) => {
      for (const p of Object.values((inst as unknown as { state: RoomState }).state.participants)) p.joinedAt -= 2 * STALE_CHECK_MS;
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await describeRoom(room)).participants).toEqual({});
    expect(await roomStorage(room)).toEqual({ keys: [], alarm: null });
  });
});

describe("Room API through a session (sendData)", () => {
  it("join answers ACCEPTED then STATE, exactly one status; leave answers ACCEPTED and the session forgets the room", async () => {
    const room = uniqueName("sess");
    const [a, b] = await Promise.all([participant("alice"), participant("bob")]);
    expect(await joinViaSession(a, room)).toEqual([]);
    expect(await joinViaSession(b, room)).toEqual(["alice"]);
    expect(await nextEvent(a)).toEqual({ roomName: room, name: "JOINED", info: "bob" });
    await Promise.all([a.expectIdle(), b.expectIdle()]);
    expect(await sessionKeys(b)).toEqual([`room:${room}`]);
    expect(await runInDurableObject(b.stub(), (inst) => inst.inRoom(room, "bob"))).toBe(true);

    const { operationId, status } = await command(b, "leave", { name: room });
    expect(status).toEqual({ operationId, status: "ACCEPTED" });
    expect(await nextEvent(a)).toEqual({ roomName: room, name: "LEFT", info: "bob" });
    await Promise.all([a.expectIdle(), b.expectIdle()]);
    expect(await sessionKeys(b)).toEqual([]);
  });

  it("fails bad commands with exactly one DataStatusEvent and keeps the session working", async () => {
    const room = uniqueName("sess");
    const a = await participant("alice");
    const fails: Array<[string, Record<string, unknown>, string | RegExp]> = [
      ["leave", { name: room }, RoomInfo.NOT_A_MEMBER],
      ["sendMessage", { roomConfig: { name: room }, to: "bob", text: "x" }, RoomInfo.NOT_A_MEMBER],
      ["dance", { name: room }, /^Invalid request: command /],
      ["join", {}, /^Invalid request: options\.name /],
      ["sendMessage", { roomConfig: { name: room }, text: "no recipient" }, /^Invalid request/],
    ];
    for (const [cmd, options, info] of fails) {
      const { operationId, status } = await command(a, cmd, options);
      expect(status, cmd).toEqual({ operationId, status: "FAILED", info: typeof info === "string" ? info : expect.stringMatching(info) });
    }
    await joinViaSession(a, room);
    const big = await command(a, "sendMessage", { roomConfig: { name: room }, broadcast: true, text: "x".repeat(MAX_ROOM_MESSAGE_CHARS + 1) });
    expect(big.status).toEqual({ operationId: big.operationId, status: "FAILED", info: RoomInfo.MESSAGE_TOO_LARGE });
    const ok = await command(a, "sendMessage", { roomConfig: { name: room }, broadcast: true, text: "x".repeat(MAX_ROOM_MESSAGE_CHARS) });
    expect(ok.status).toEqual({ operationId: ok.operationId, status: "ACCEPTED" });
    a.send("sendData", { payload: { command: "join", options: { name: room } } });
    expect(await a.expectNext("fail")).toEqual({ apiMethod: "sendData", info: "Invalid request: operationId is required" });
    await a.expectIdle();
  });

  it("refuses sendData before connection, on another appKey and without custom.login", async () => {
    const room = uniqueName("sess");
    const raw = await WcsClient.open();
    open.push(raw);
    raw.send("sendData", { operationId: "op-1", payload: { command: "join", options: { name: room } } });
    expect(await raw.expectNext("DataStatusEvent")).toEqual({ operationId: "op-1", status: "FAILED", info: "Session not ready" });
    const def = await participant("alice", "defaultApp");
    expect((await command(def, "join", { name: room })).status).toMatchObject({ status: "FAILED", info: "No application handles sendData for appKey defaultApp" });
    const anon = await participant(undefined);
    expect((await command(anon, "join", { name: room })).status).toMatchObject({ status: "FAILED", info: RoomInfo.LOGIN_REQUIRED });
    await Promise.all([def.expectIdle(), anon.expectIdle()]);
    expect((await describeRoom(room)).participants).toEqual({});
  });

  it("a closed socket leaves every room of the session: LEFT to the others", async () => {
    const [r1, r2] = [uniqueName("r1"), uniqueName("r2")];
    const [a, b, c] = await Promise.all([participant("alice"), participant("bob"), participant("carol")]);
    await joinViaSession(a, r1);
    await joinViaSession(a, r2);
    await joinViaSession(b, r1);
    await joinViaSession(c, r2);
    expect(await nextEvent(a)).toEqual({ roomName: r1, name: "JOINED", info: "bob" });
    expect(await nextEvent(a)).toEqual({ roomName: r2, name: "JOINED", info: "carol" });
    await a.close();
    expect(await nextEvent(b)).toEqual({ roomName: r1, name: "LEFT", info: "alice" });
    expect(await nextEvent(c)).toEqual({ roomName: r2, name: "LEFT", info: "alice" });
    await Promise.all([b.expectIdle(), c.expectIdle()]);
    expect(Object.keys((await describeRoom(r1)).participants)).toEqual(["bob"]);
    expect(Object.keys((await describeRoom(r2)).participants)).toEqual(["carol"]);
  });

  /** alice and bob in a room; alice has a PUBLISHING room stream (seeded; its node is dead, so calls to it fail fast). */
  async function roomWithStream() {
    const room = uniqueName("rs");
    const [a, b] = await Promise.all([participant("alice"), participant("bob")]);
    await joinViaSession(a, room);
    await joinViaSession(b, room);
    expect((await nextEvent(a)).info).toBe("bob");
    const name = `${room}-alice-1a2b`;
    const pub = leg("publisher", a.sessionId, { appKey: "roomApp", room: { name: room, login: "alice" }, status: "PENDING", custom: { name: room } });
    const stream = await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    await runInDurableObject(a.stub(), (_inst, ctx) => ctx.storage.put(`stream:${pub.mediaSessionId}`, { name, role: "publisher", legId: pub.legId, room }));
    // the media node reports the publisher connected: PUBLISHING to alice, PUBLISHED to the room (StreamDO.tellRoom)
    const connected: LegEvent = { nodeId: "node-a", bootId: "boot-1", legId: pub.legId, streamName: name, role: "publisher", state: "connected" };
    await stream.onLegEvent(connected);
    expect(await a.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: pub.mediaSessionId, name, status: "PUBLISHING" });
    expect(await nextEvent(b)).toEqual({ roomName: room, name: "PUBLISHED", info: { login: "alice", name } });
    await Promise.all([a.expectIdle(), b.expectIdle()]);
    return { room, a, b, name, pub };
  }

  it("leave with a published room stream ends it: UNPUBLISHED to the publisher, UNPUBLISHED then LEFT to the others", async () => {
    const { room, a, b, name, pub } = await roomWithStream();
    const operationId = crypto.randomUUID();
    a.send("sendData", { operationId, payload: { command: "leave", options: { name: room } } });
    expect(await a.expectNext("notifyStreamStatusEvent")).toMatchObject({ mediaSessionId: pub.mediaSessionId, name, status: "UNPUBLISHED" });
    expect(await a.expectNext("DataStatusEvent")).toEqual({ operationId, status: "ACCEPTED" });
    expect(await nextEvent(b)).toEqual({ roomName: room, name: "UNPUBLISHED", info: { login: "alice", name } });
    expect(await nextEvent(b)).toEqual({ roomName: room, name: "LEFT", info: "alice" });
    await Promise.all([a.expectIdle(), b.expectIdle()]);
    expect((await describeStream(name)).publisher).toBeNull();
    expect(await sessionKeys(a)).toEqual([]);
    expect(await describeRoom(room)).toMatchObject({ streams: [] });
  });

  it("a closed socket with a published room stream: UNPUBLISHED then LEFT to the others", async () => {
    const { room, a, b, name } = await roomWithStream();
    await a.close();
    expect(await nextEvent(b)).toEqual({ roomName: room, name: "UNPUBLISHED", info: { login: "alice", name } });
    expect(await nextEvent(b)).toEqual({ roomName: room, name: "LEFT", info: "alice" });
    await b.expectIdle();
    expect((await describeStream(name)).publisher).toBeNull();
  });

  it("a room stream whose publisher is not a member of that room announces nothing there", async () => {
    const room = uniqueName("rs");
    const [a, b] = await Promise.all([participant("alice"), participant("bob")]);
    await joinViaSession(b, room);
    const name = `${room}-alice-9999`;
    const pub = leg("publisher", a.sessionId, { appKey: "roomApp", room: { name: room, login: "alice" }, status: "PENDING", custom: { name: room } });
    const stream = await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    await stream.onLegEvent({ nodeId: "node-a", bootId: "boot-1", legId: pub.legId, streamName: name, role: "publisher", state: "connected" });
    expect(await a.expectNext("notifyStreamStatusEvent")).toMatchObject({ status: "PUBLISHING" });
    await b.expectIdle();
    expect((await describeRoom(room)).streams).toEqual([]);
  });

  it("a socket that closes while its join is in flight does not leave its participant behind", async () => {
    // SessionDO.onSendData awaits RoomDO.join, then stores `room:<name>`. If the socket closes during that await,
    // endSession runs first (it sees no room to leave), and the join then completes for a session that is gone.
    const room = uniqueName("race");
    const [a, slow, b] = await Promise.all([participant("alice"), participant("slow"), participant("bob")]);
    await joinViaSession(a, room);
    await joinViaSession(slow, room);
    expect((await nextEvent(a)).info).toBe("slow");
    // slow's session is busy for a while, so the JOINED push to it (inside RoomDO.join) keeps bob's join in flight
    const busy = runInDurableObject(slow.stub(), (_i, ctx) => ctx.blockConcurrencyWhile(() => new Promise((r) => setTimeout(r, 1000))));
    await new Promise((r) => setTimeout(r, 50));
    b.send("sendData", { operationId: "op-join", payload: { command: "join", options: { name: room } } });
    for (let i = 0; i < 50 && !(await describeRoom(room)).participants.bob; i++) await new Promise((r) => setTimeout(r, 10));
    expect(Object.keys((await describeRoom(room)).participants)).toEqual(["alice", "slow", "bob"]); // bob's join is in flight
    expect(await sessionKeys(b)).toEqual([]);
    await b.close();
    await busy;
    await new Promise((r) => setTimeout(r, 300));
    expect(await nextEvent(a)).toEqual({ roomName: room, name: "JOINED", info: "bob" });
    // bob's socket is gone: the room must not keep him until the stale-participant alarm (up to 30 s later)
    expect(Object.keys((await describeRoom(room)).participants)).toEqual(["alice", "slow"]);
    expect(await nextEvent(a)).toEqual({ roomName: room, name: "LEFT", info: "bob" });
    expect(await sessionKeys(b)).toEqual([]);
  });
});
