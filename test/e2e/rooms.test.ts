/**
 * The WCS Room API ("roomApp", protocol/room.ts) end to end: a real `wrangler dev` worker and one media node; room
 * sessions are raw WCS WebSocket clients sending the commands exactly as the Web SDK's room-module.js does
 * (`sendData {operationId, payload: {command, options}}`), room streams are published and played by @roamhq/wrtc
 * clients in child processes that join the room first (like RoomApi's room.publish()).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MAX_FRAME_BYTES, MAX_ROOM_MESSAGE_CHARS, RoomInfo } from "../../protocol/index.js";
import { closeAllClients, spawnPlayer, spawnPublisher, waitUntil, WcsClientHandle, WcsSocket, type ClientOptions } from "../clients/index.js";
import { startCluster, type Cluster } from "../harness/cluster.js";

let cluster: Cluster;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uniqueRoom = (prefix = "room") => `${prefix}-${randomUUID().slice(0, 8)}`;
/** How long "nobody else got anything" is watched for. */
const QUIET_MS = 500;

const sockets: WcsSocket[] = [];
const ownChildren: WcsClientHandle[] = [];

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1 });
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.close()));
  await Promise.all(ownChildren.splice(0).map((h) => h.close()));
  await closeAllClients();
});
afterAll(async () => {
  await cluster?.stop();
});

// ---------- Room API client helpers (room-module.js on the wire) ----------

interface RoomPayload {
  roomName: string;
  name: string;
  info: unknown;
}
interface DataStatus {
  operationId: string;
  status: "ACCEPTED" | "FAILED";
  info?: string;
}

/** A RoomApi.connect() session: appKey roomApp, custom {login}. */
async function member(login: string): Promise<WcsSocket> {
  const ws = await WcsSocket.connect(cluster.wsUrl, { appKey: "roomApp", custom: { login } });
  sockets.push(ws);
  return ws;
}

/** Sends one Room API command and waits for its DataStatusEvent. */
async function command(ws: WcsSocket, cmd: string, options: unknown, timeoutMs = 10_000): Promise<DataStatus & { seq: number }> {
  const operationId = randomUUID();
  const from = ws.frames.length;
  ws.send("sendData", { operationId, payload: { command: cmd, options } });
  const f = await ws.waitFor((fr) => fr.message === "DataStatusEvent" && (fr.data[0] as DataStatus | undefined)?.operationId === operationId, timeoutMs, { from });
  return { ...(f.data[0] as DataStatus), seq: f.seq };
}

/** `session.join({name, record: false})`: asserts ACCEPTED, then STATE (same operationId) right after; returns STATE's info. */
async function join(ws: WcsSocket, room: string): Promise<unknown[]> {
  const st = await command(ws, "join", { name: room, record: false });
  expect(st, `join ${room}`).toMatchObject({ status: "ACCEPTED" });
  expect(Object.keys(st)).toEqual(["operationId", "status", "seq"]);
  const state = await ws.waitFor((f) => f.message === "OnDataEvent" && (f.data[0] as { operationId?: string }).operationId === st.operationId, 5_000, { from: st.seq });
  expect(state.data).toEqual([{ operationId: st.operationId, payload: { roomName: room, name: "STATE", info: expect.any(Array) } }]);
  return (state.data[0] as { payload: { info: unknown[] } }).payload.info;
}

const sendMessage = (ws: WcsSocket, room: string, to: string | string[] | undefined, text: string, broadcast?: boolean) =>
  command(ws, "sendMessage", { roomConfig: { name: room }, ...(to === undefined ? {} : { to }), ...(broadcast ? { broadcast } : {}), text });

/** Room events (OnDataEvent payloads) received from frame index `from`, optionally of one room. */
function events(ws: WcsSocket, room?: string, from = 0): RoomPayload[] {
  return ws.frames
    .slice(from)
    .filter((f) => f.message === "OnDataEvent")
    .map((f) => (f.data[0] as { payload: RoomPayload }).payload)
    .filter((p) => room === undefined || p.roomName === room);
}

/** Waits for a pushed room event (no operationId) and checks its frame is exactly `{payload: {roomName, name, info}}`. */
async function waitEvent(ws: WcsSocket, room: string, name: string, info: unknown, timeoutMs = 5_000): Promise<number> {
  const want = { roomName: room, name, info };
  const f = await ws.waitFor((fr) => fr.message === "OnDataEvent" && isDeepStrictEqual((fr.data[0] as { payload?: unknown }).payload, want), timeoutMs);
  expect(f.data).toEqual([{ payload: want }]);
  return f.t;
}

/** Frame counts now, to check later that nothing arrived since. */
const marks = (wss: WcsSocket[]) => wss.map((w) => w.frames.length);
function expectNoEventsSince(wss: WcsSocket[], m: number[], why: string): void {
  wss.forEach((w, i) => expect(events(w, undefined, m[i]), `${why} (socket ${i})`).toEqual([]));
}

/** Every sendData got exactly one DataStatusEvent, and no DataStatusEvent answers an unknown operationId. */
function expectOneStatusPerCommand(ws: WcsSocket): void {
  const ops = ws.sent
    .map((s) => JSON.parse(s.text) as { message: string; data: [{ operationId?: string }] })
    .filter((m) => m.message === "sendData")
    .map((m) => m.data[0].operationId);
  const statuses = ws.framesNamed("DataStatusEvent").map((f) => (f.data[0] as DataStatus).operationId);
  expect(statuses.slice().sort()).toEqual(ops.slice().sort());
}

// ---------- a wrtc client that can also send room commands on its own session ----------

const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const WCS_SOCKET_URL = new URL("../clients/wcs-socket.ts", import.meta.url).href;
const WRTC_CLIENT_URL = new URL("../clients/wrtc-client.ts", import.meta.url).href;

/**
 * test/clients/wrtc-client.ts, unchanged, in a child process whose WcsSocket.connect is wrapped to keep the session's
 * socket, so that the test can send room commands (e.g. leave) on the publisher's own session: IPC
 * `{type: "roomCommand", operationId, payload}` → `{type: "roomReply", operationId, status, messages}` where
 * `messages` are the frames the session received from the command to its DataStatusEvent.
 */
const CHILD_PRELUDE = `
const { WcsSocket } = await import(${JSON.stringify(WCS_SOCKET_URL)});
let sock;
const connect = WcsSocket.connect.bind(WcsSocket);
WcsSocket.connect = async (...args) => (sock = await connect(...args));
process.on("message", (m) => {
  if (!m || m.type !== "roomCommand") return;
  const reply = (r) => process.connected && process.send({ type: "roomReply", operationId: m.operationId, ...r });
  if (!sock) return reply({ error: "no session yet" });
  const from = sock.frames.length;
  sock.waitFor((f) => f.message === "DataStatusEvent" && f.data[0] && f.data[0].operationId === m.operationId, 10000, { from }).then(
    (f) => reply({ status: f.data[0], messages: sock.frames.slice(from, f.seq + 1).map((x) => x.message).filter((x) => x !== "ping") }),
    (e) => reply({ error: String(e) }),
  );
  sock.send("sendData", { operationId: m.operationId, payload: m.payload });
});
await import(${JSON.stringify(WRTC_CLIENT_URL)});
`;

interface RoomCapableClient {
  handle: WcsClientHandle;
  command(cmd: string, options: unknown): Promise<{ status: DataStatus; messages: string[] }>;
}

async function spawnRoomPublisher(name: string, options: ClientOptions): Promise<RoomCapableClient> {
  const child = spawn(process.execPath, ["--import", TSX_LOADER, "--input-type=module", "-e", CHILD_PRELUDE], {
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "json",
  });
  const handle = new WcsClientHandle("publisher", name, `roompub:${name}`, child);
  ownChildren.push(handle);
  await handle.start(cluster.wsUrl, options, 20_000);
  return {
    handle,
    command(cmd, opts) {
      const operationId = randomUUID();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${cmd}: no roomReply\n${handle.describe()}`)), 15_000);
        const onMsg = (m: unknown) => {
          const r = m as { type?: string; operationId?: string; status?: DataStatus; messages?: string[]; error?: string };
          if (r.type !== "roomReply" || r.operationId !== operationId) return;
          clearTimeout(timer);
          child.off("message", onMsg);
          if (r.error) reject(new Error(`${cmd}: ${r.error}`));
          else resolve({ status: r.status!, messages: r.messages! });
        };
        child.on("message", onMsg);
        child.send({ type: "roomCommand", operationId, payload: { command: cmd, options: opts } });
      });
    },
  };
}

// ---------- tests ----------

describe("join", () => {
  it("creates the room: the joiner gets ACCEPTED then STATE of the OTHER participants, the others get JOINED, one status per command", async () => {
    const room = uniqueRoom();
    const [alice, bob, carol] = await Promise.all([member("alice"), member("bob"), member("carol")]);
    expect(await join(alice, room)).toEqual([]);
    expect(await join(bob, room)).toEqual(["alice"]);
    await waitEvent(alice, room, "JOINED", "bob");
    expect(await join(carol, room)).toEqual(["alice", "bob"]);
    await Promise.all([waitEvent(alice, room, "JOINED", "carol"), waitEvent(bob, room, "JOINED", "carol")]);
    await sleep(QUIET_MS);
    expect(events(alice)).toEqual([
      { roomName: room, name: "STATE", info: [] },
      { roomName: room, name: "JOINED", info: "bob" },
      { roomName: room, name: "JOINED", info: "carol" },
    ]);
    expect(events(bob)).toEqual([
      { roomName: room, name: "STATE", info: ["alice"] },
      { roomName: room, name: "JOINED", info: "carol" },
    ]);
    expect(events(carol)).toEqual([{ roomName: room, name: "STATE", info: ["alice", "bob"] }]);
    for (const ws of [alice, bob, carol]) {
      expectOneStatusPerCommand(ws);
      expect(ws.framesNamed("fail")).toEqual([]);
    }
  });

  it("refuses a second session with a login already in the room; the first participant is untouched", async () => {
    const room = uniqueRoom();
    const [alice, bob, alice2] = await Promise.all([member("alice"), member("bob"), member("alice")]);
    await join(alice, room);
    await join(bob, room);
    await waitEvent(alice, room, "JOINED", "bob");
    const m = marks([alice, bob]);
    const st = await command(alice2, "join", { name: room, record: false });
    expect(st).toMatchObject({ status: "FAILED", info: "Login is already in use in this room" });
    await sleep(QUIET_MS);
    expectNoEventsSince([alice, bob], m, "nobody hears of the refused duplicate");
    expect(events(alice2)).toEqual([]);
    // the first alice is still the member: she gets messages, and the duplicate cannot talk for her
    expect(await sendMessage(bob, room, "alice", "still you?")).toMatchObject({ status: "ACCEPTED" });
    await waitEvent(alice, room, "MESSAGE", { from: "bob", text: "still you?" });
    expect(await sendMessage(alice2, room, "bob", "impostor")).toMatchObject({ status: "FAILED", info: RoomInfo.NOT_A_MEMBER });
    expect(await command(alice2, "leave", { name: room })).toMatchObject({ status: "FAILED", info: RoomInfo.NOT_A_MEMBER });
    // the duplicate's socket closing does not make alice leave
    await alice2.close();
    await sleep(QUIET_MS);
    expect(events(bob, room).filter((e) => e.name === "LEFT")).toEqual([]);
    expect(await sendMessage(bob, room, "alice", "and now?")).toMatchObject({ status: "ACCEPTED" });
    await waitEvent(alice, room, "MESSAGE", { from: "bob", text: "and now?" });
    for (const ws of [alice, bob, alice2]) expectOneStatusPerCommand(ws);
  });

  it("one session in two rooms: both work independently, every event carries its room's name", async () => {
    const [ra, rb] = [uniqueRoom("ra"), uniqueRoom("rb")];
    const [alice, bob, carol] = await Promise.all([member("alice"), member("bob"), member("carol")]);
    await join(alice, ra);
    await join(alice, rb);
    expect(await join(bob, ra)).toEqual(["alice"]);
    expect(await join(carol, rb)).toEqual(["alice"]);
    await waitEvent(alice, ra, "JOINED", "bob");
    await waitEvent(alice, rb, "JOINED", "carol");

    let m = marks([alice, bob, carol]);
    expect(await sendMessage(bob, ra, undefined, "in A", true)).toMatchObject({ status: "ACCEPTED" });
    await waitEvent(alice, ra, "MESSAGE", { from: "bob", text: "in A" });
    expect(await sendMessage(carol, rb, undefined, "in B", true)).toMatchObject({ status: "ACCEPTED" });
    await waitEvent(alice, rb, "MESSAGE", { from: "carol", text: "in B" });
    await sleep(QUIET_MS);
    expect(events(alice, undefined, m[0])).toEqual([
      { roomName: ra, name: "MESSAGE", info: { from: "bob", text: "in A" } },
      { roomName: rb, name: "MESSAGE", info: { from: "carol", text: "in B" } },
    ]);
    expectNoEventsSince([bob, carol], m.slice(1), "room A's message stays in A, B's in B");

    // members of one room cannot reach the other room's members
    expect(await sendMessage(bob, ra, "carol", "x")).toMatchObject({ status: "FAILED", info: `${RoomInfo.RECIPIENT_NOT_IN_ROOM}: carol` });
    expect(await sendMessage(bob, rb, "alice", "x")).toMatchObject({ status: "FAILED", info: RoomInfo.NOT_A_MEMBER });

    // leaving A keeps alice in B
    m = marks([alice, bob, carol]);
    expect(await command(alice, "leave", { name: ra })).toMatchObject({ status: "ACCEPTED" });
    await waitEvent(bob, ra, "LEFT", "alice");
    expect(await sendMessage(carol, rb, "alice", "still in B?")).toMatchObject({ status: "ACCEPTED" });
    await waitEvent(alice, rb, "MESSAGE", { from: "carol", text: "still in B?" });
    expect(await sendMessage(alice, ra, "bob", "x")).toMatchObject({ status: "FAILED", info: RoomInfo.NOT_A_MEMBER });
    await sleep(QUIET_MS);
    expectNoEventsSince([carol], m.slice(2), "carol (room B only) hears nothing of room A");
    for (const ws of [alice, bob, carol]) expectOneStatusPerCommand(ws);
  });
});

describe("sendMessage", () => {
  async function roomOf4() {
    const room = uniqueRoom("chat");
    const all = await Promise.all(["alice", "bob", "carol", "dave"].map((l) => member(l)));
    for (const ws of all) await join(ws, room);
    const [alice, bob, carol, dave] = all as [WcsSocket, WcsSocket, WcsSocket, WcsSocket];
    await waitEvent(carol, room, "JOINED", "dave");
    return { room, all, alice, bob, carol, dave };
  }

  it("to one login, to a list, and broadcast: MESSAGE {from, text} reaches exactly the recipients", async () => {
    const { room, all, alice, bob, carol, dave } = await roomOf4();

    let m = marks(all);
    expect(await sendMessage(alice, room, "bob", "hi bob")).toEqual({ operationId: expect.any(String), status: "ACCEPTED", seq: expect.any(Number) });
    await waitEvent(bob, room, "MESSAGE", { from: "alice", text: "hi bob" });
    await sleep(QUIET_MS);
    expect(events(bob, undefined, m[1])).toHaveLength(1);
    expectNoEventsSince([alice, carol, dave], [m[0]!, m[2]!, m[3]!], "a message to bob reaches bob only");

    m = marks(all);
    expect(await sendMessage(bob, room, ["carol", "dave"], "to two")).toMatchObject({ status: "ACCEPTED" });
    await Promise.all([carol, dave].map((w) => waitEvent(w, room, "MESSAGE", { from: "bob", text: "to two" })));
    await sleep(QUIET_MS);
    expect(events(carol, undefined, m[2])).toHaveLength(1);
    expect(events(dave, undefined, m[3])).toHaveLength(1);
    expectNoEventsSince([alice, bob], [m[0]!, m[1]!], "a message to [carol, dave] reaches them only");

    m = marks(all);
    expect(await sendMessage(dave, room, undefined, "hello all", true)).toMatchObject({ status: "ACCEPTED" });
    await Promise.all([alice, bob, carol].map((w) => waitEvent(w, room, "MESSAGE", { from: "dave", text: "hello all" })));
    await sleep(QUIET_MS);
    for (const [i, w] of [alice, bob, carol].entries()) expect(events(w, undefined, m[i])).toHaveLength(1);
    expectNoEventsSince([dave], [m[3]!], "broadcast does not come back to the sender");

    // unicode and a large (but allowed) text arrive intact
    const big = "ünï©ødé 🎥 ".repeat(10) + "z".repeat(MAX_ROOM_MESSAGE_CHARS - 200);
    expect(big.length).toBeLessThanOrEqual(MAX_ROOM_MESSAGE_CHARS);
    expect(await sendMessage(carol, room, "alice", big)).toMatchObject({ status: "ACCEPTED" });
    await waitEvent(alice, room, "MESSAGE", { from: "carol", text: big }, 10_000);
    for (const ws of all) expectOneStatusPerCommand(ws);
  });

  it("fails for a recipient outside the room (nobody gets it) and for a sender that is not a member", async () => {
    const { room, all, alice } = await roomOf4();
    const eve = await member("eve");
    let m = marks(all);
    expect(await sendMessage(alice, room, "zed", "x")).toMatchObject({ status: "FAILED", info: "Recipient is not in this room: zed" });
    expect(await sendMessage(alice, room, ["bob", "eve"], "x")).toMatchObject({ status: "FAILED", info: "Recipient is not in this room: eve" });
    await sleep(QUIET_MS);
    expectNoEventsSince(all, m, "a message with a recipient outside the room is not delivered to anyone");

    m = marks(all);
    expect(await sendMessage(eve, room, "alice", "let me in")).toMatchObject({ status: "FAILED", info: "Not a member of this room" });
    expect(await sendMessage(eve, room, undefined, "let me in", true)).toMatchObject({ status: "FAILED", info: "Not a member of this room" });
    await sleep(QUIET_MS);
    expectNoEventsSince([...all, eve], [...m, 0], "a non-member's message is not delivered");
    for (const ws of [...all, eve]) expectOneStatusPerCommand(ws);
  });

  it("refuses a text over the room limit and a frame over 1 MiB with a FAILED status for the operationId; the socket stays open", async () => {
    const { room, all, alice, bob } = await roomOf4();
    const m = marks(all);
    const tooLong = "y".repeat(MAX_ROOM_MESSAGE_CHARS + 1);
    const st = await sendMessage(alice, room, "bob", tooLong);
    expect(st).toMatchObject({ status: "FAILED", info: RoomInfo.MESSAGE_TOO_LARGE });

    const huge = "h".repeat(MAX_FRAME_BYTES + 50_000);
    const op = randomUUID();
    const from = alice.frames.length;
    alice.send("sendData", { operationId: op, payload: { command: "sendMessage", options: { roomConfig: { name: room }, to: "bob", text: huge } } });
    const f = await alice.waitFor((fr) => fr.message === "DataStatusEvent", 10_000, { from });
    expect(f.data).toEqual([{ operationId: op, status: "FAILED", info: expect.stringMatching(/^Frame too large: \d+ bytes, the limit is 1048576$/) }]);
    await sleep(QUIET_MS);
    expectNoEventsSince(all, m, "refused messages are not delivered");
    expect(alice.isOpen).toBe(true);
    expect(await sendMessage(alice, room, "bob", "after the big ones")).toMatchObject({ status: "ACCEPTED" });
    await waitEvent(bob, room, "MESSAGE", { from: "alice", text: "after the big ones" });
    expectOneStatusPerCommand(alice);
    expect(alice.framesNamed("fail")).toEqual([]);
  });
});

describe("leave and refused commands", () => {
  it("leave: the others get LEFT; leaving again or without joining fails with Not a member of this room", async () => {
    const room = uniqueRoom();
    const [alice, bob, carol] = await Promise.all([member("alice"), member("bob"), member("carol")]);
    await join(alice, room);
    await join(bob, room);
    expect(await command(carol, "leave", { name: room })).toMatchObject({ status: "FAILED", info: "Not a member of this room" });
    expect(await command(bob, "leave", { name: room })).toMatchObject({ status: "ACCEPTED" });
    await waitEvent(alice, room, "LEFT", "bob");
    expect(await command(bob, "leave", { name: room })).toMatchObject({ status: "FAILED", info: "Not a member of this room" });
    expect(await sendMessage(alice, room, "bob", "gone?")).toMatchObject({ status: "FAILED", info: "Recipient is not in this room: bob" });
    // bob can come back
    expect(await join(bob, room)).toEqual(["alice"]);
    await waitEvent(alice, room, "JOINED", "bob");
    await sleep(QUIET_MS);
    expect(events(alice).map((e) => [e.name, e.info])).toEqual([
      ["STATE", []],
      ["JOINED", "bob"],
      ["LEFT", "bob"],
      ["JOINED", "bob"],
    ]);
    expect(events(carol)).toEqual([]);
    for (const ws of [alice, bob, carol]) expectOneStatusPerCommand(ws);
  });

  it("refuses commands before `connection`, on a defaultApp session, without custom.login, and malformed payloads", async () => {
    const room = uniqueRoom();
    const raw = await WcsSocket.open(cluster.wsUrl);
    sockets.push(raw);
    const early = await command(raw, "join", { name: room, record: false });
    expect(early).toMatchObject({ status: "FAILED", info: "Session not ready" });

    const def = await WcsSocket.connect(cluster.wsUrl, { custom: { login: "alice" } });
    sockets.push(def);
    expect(await command(def, "join", { name: room })).toMatchObject({ status: "FAILED", info: "No application handles sendData for appKey defaultApp" });

    const anon = await WcsSocket.connect(cluster.wsUrl, { appKey: "roomApp" });
    sockets.push(anon);
    expect(await command(anon, "join", { name: room })).toMatchObject({ status: "FAILED", info: "Room commands need connection.custom.login" });

    const alice = await member("alice");
    const bad: Array<[string, unknown]> = [
      ["dance", { name: room }],
      ["join", {}],
      ["join", { name: "" }],
      ["join", undefined],
      ["leave", { room }],
      ["sendMessage", { roomConfig: { name: room }, text: "no recipient" }],
      ["sendMessage", { roomConfig: {}, to: "bob", text: "no room" }],
      ["sendMessage", { roomConfig: { name: room }, to: "bob", text: 42 }],
    ];
    for (const [cmd, options] of bad) {
      const st = await command(alice, cmd, options);
      expect(st.status, `${cmd} ${JSON.stringify(options)}`).toBe("FAILED");
      expect(st.info, `${cmd} ${JSON.stringify(options)}`).toMatch(/^Invalid request/);
    }
    // nothing above created or joined the room
    expect(await join(alice, room)).toEqual([]);
    for (const ws of [raw, def, anon, alice]) {
      expectOneStatusPerCommand(ws);
      expect(ws.framesNamed("fail")).toEqual([]);
      expect(ws.isOpen).toBe(true);
    }
  });

  it("a dropped socket (no close frame) makes its participant leave: the others get LEFT within a few seconds", async () => {
    const room = uniqueRoom();
    const [alice, bob, carol] = await Promise.all([member("alice"), member("bob"), member("carol")]);
    for (const ws of [alice, bob, carol]) await join(ws, room);
    await waitEvent(alice, room, "JOINED", "carol");
    const t0 = Date.now();
    bob.terminate();
    const [ta, tc] = await Promise.all([waitEvent(alice, room, "LEFT", "bob", 10_000), waitEvent(carol, room, "LEFT", "bob", 10_000)]);
    console.log(`[rooms] LEFT after a socket drop: ${ta - t0} ms / ${tc - t0} ms`);
    expect(Math.max(ta, tc) - t0).toBeLessThan(5_000);
    expect(await sendMessage(alice, room, "bob", "x")).toMatchObject({ status: "FAILED", info: "Recipient is not in this room: bob" });
    // the login is free again
    const bob2 = await member("bob");
    expect(await join(bob2, room)).toEqual(["alice", "carol"]);
  });
});

describe("room streams", () => {
  it("PUBLISHED when the stream publishes, in a late joiner's STATE, playable by a participant, UNPUBLISHED when it stops", async () => {
    const room = uniqueRoom("conf");
    const bob = await member("bob");
    await join(bob, room);
    const name = `${room}-alice-${randomUUID().slice(0, 4)}`;
    const pub = await spawnPublisher({ url: cluster.wsUrl, name, appKey: "roomApp", custom: { login: "alice" }, room });
    expect(pub.request.custom).toEqual({ name: room });
    await waitEvent(bob, room, "JOINED", "alice");
    await pub.waitForStatus("PUBLISHING", 15_000);
    await waitEvent(bob, room, "PUBLISHED", { login: "alice", name }, 10_000);
    expect(events(bob, room).map((e) => e.name)).toEqual(["STATE", "JOINED", "PUBLISHED"]);

    const carol = await member("carol");
    expect(await join(carol, room)).toEqual(["bob", { login: "alice", name }]);

    const player = await spawnPlayer({ url: cluster.wsUrl, name, appKey: "roomApp", custom: { login: "dave" }, room });
    expect(player.request.custom).toEqual({ name: room });
    await player.waitForStatus("PLAYING", 15_000);
    await player.waitForStats((s) => s.framesDecoded >= 30 && s.badMarkers === 0, 15_000, "30 decoded frames of the room stream");
    await Promise.all([bob, carol].map((w) => waitEvent(w, room, "JOINED", "dave")));

    await pub.stop();
    await pub.waitForStatus("UNPUBLISHED", 10_000);
    await Promise.all([bob, carol].map((w) => waitEvent(w, room, "UNPUBLISHED", { login: "alice", name }, 10_000)));
    const st = await player.waitForStatus("FAILED", 10_000);
    expect(st.info).toBe("Stopped by publisher stop");
    await sleep(QUIET_MS);
    // alice stopped her stream but is still in the room; dave (a player) never published
    expect(events(bob, room).map((e) => [e.name, e.info])).toEqual([
      ["STATE", []],
      ["JOINED", "alice"],
      ["PUBLISHED", { login: "alice", name }],
      ["JOINED", "carol"],
      ["JOINED", "dave"],
      ["UNPUBLISHED", { login: "alice", name }],
    ]);
    const erin = await member("erin");
    expect(await join(erin, room)).toEqual(["bob", "alice", "carol", "dave"]);
  });

  it("leave with a published room stream ends it: UNPUBLISHED to the publisher, UNPUBLISHED then LEFT to the others", async () => {
    const room = uniqueRoom("conf");
    const bob = await member("bob");
    await join(bob, room);
    const name = `${room}-alice-${randomUUID().slice(0, 4)}`;
    const alice = await spawnRoomPublisher(name, { appKey: "roomApp", custom: { login: "alice" }, room });
    await alice.handle.waitForStatus("PUBLISHING", 15_000);
    await waitEvent(bob, room, "PUBLISHED", { login: "alice", name }, 10_000);
    const player = await spawnPlayer({ url: cluster.wsUrl, name, streamCustom: { name: room } });
    await player.waitForStatus("PLAYING", 15_000);

    const res = await alice.command("leave", { name: room });
    expect(res.status).toMatchObject({ status: "ACCEPTED" });
    expect(res.messages).toEqual(["notifyStreamStatusEvent", "DataStatusEvent"]);
    const unpub = await alice.handle.waitForStatus("UNPUBLISHED", 5_000);
    expect(unpub.info).toBe("Stopped by user");
    await waitEvent(bob, room, "LEFT", "alice", 5_000);
    expect(events(bob, room).map((e) => [e.name, e.info])).toEqual([
      ["STATE", []],
      ["JOINED", "alice"],
      ["PUBLISHED", { login: "alice", name }],
      ["UNPUBLISHED", { login: "alice", name }],
      ["LEFT", "alice"],
    ]);
    expect((await player.waitForStatus("FAILED", 10_000)).info).toBe("Stopped by publisher stop");
    // the name is free again
    const again = await spawnPublisher({ url: cluster.wsUrl, name });
    await again.waitForStatus("PUBLISHING", 15_000);
  });

  it("a publisher's dropped socket: UNPUBLISHED then LEFT to the others", async () => {
    const room = uniqueRoom("conf");
    const bob = await member("bob");
    await join(bob, room);
    const name = `${room}-alice-${randomUUID().slice(0, 4)}`;
    const pub = await spawnPublisher({ url: cluster.wsUrl, name, appKey: "roomApp", custom: { login: "alice" }, room });
    await pub.waitForStatus("PUBLISHING", 15_000);
    await waitEvent(bob, room, "PUBLISHED", { login: "alice", name }, 10_000);
    await pub.dropSocket();
    await waitEvent(bob, room, "LEFT", "alice", 10_000);
    expect(events(bob, room).map((e) => e.name)).toEqual(["STATE", "JOINED", "PUBLISHED", "UNPUBLISHED", "LEFT"]);
  });

  it("a stream naming a room its publisher is not a member of produces no event there", async () => {
    const room = uniqueRoom("conf");
    const bob = await member("bob");
    await join(bob, room);
    const m = marks([bob]);
    // mallory never joined; "bob" on another session is not the member bob either
    const mallory = await spawnPublisher({ url: cluster.wsUrl, name: `${room}-mallory-1`, appKey: "roomApp", custom: { login: "mallory" }, streamCustom: { name: room } });
    const fakeBob = await spawnPublisher({ url: cluster.wsUrl, name: `${room}-bob-1`, appKey: "roomApp", custom: { login: "bob" }, streamCustom: { name: room } });
    await Promise.all([mallory.waitForStatus("PUBLISHING", 15_000), fakeBob.waitForStatus("PUBLISHING", 15_000)]);
    await sleep(1_000);
    await Promise.all([mallory.stop(), fakeBob.stop()]);
    await Promise.all([mallory.waitForStatus("UNPUBLISHED"), fakeBob.waitForStatus("UNPUBLISHED")]);
    await sleep(QUIET_MS);
    expectNoEventsSince([bob], m, "non-members' streams are not announced");
    const carol = await member("carol");
    expect(await join(carol, room)).toEqual(["bob"]);
  });
});

describe("scale", () => {
  it("200 participants in one room all end with the right participant list; after half of them leave, too", async () => {
    const N = 200;
    const BATCH = 5;
    const room = uniqueRoom("big");
    const logins = Array.from({ length: N }, (_, i) => `user${String(i).padStart(3, "0")}`);
    const t0 = Date.now();
    const ws: WcsSocket[] = [];
    for (let i = 0; i < N; i += 20) ws.push(...(await Promise.all(logins.slice(i, i + 20).map((l) => member(l)))));
    const tConnected = Date.now();

    /** What a room-module.js client knows: STATE adds, JOINED adds, LEFT removes (in arrival order). */
    const known = ws.map(() => new Set<string>());
    const selfSeen: string[] = [];
    ws.forEach((w, i) =>
      w.onFrame((f) => {
        if (f.message !== "OnDataEvent") return;
        const p = (f.data[0] as { payload: RoomPayload }).payload;
        if (p.roomName !== room) return;
        const k = known[i]!;
        if (p.name === "STATE") for (const x of p.info as Array<string | { login: string }>) k.add(typeof x === "string" ? x : x.login);
        else if (p.name === "JOINED") k.add(p.info as string);
        else if (p.name === "LEFT") k.delete(p.info as string);
        if ((p.name === "JOINED" || p.name === "LEFT") && p.info === logins[i]) selfSeen.push(`${logins[i]} ${p.name}`);
      }),
    );

    const joinMs: number[] = [];
    for (let i = 0; i < N; i += BATCH) {
      await Promise.all(
        ws.slice(i, i + BATCH).map(async (w) => {
          const t = Date.now();
          const st = await command(w, "join", { name: room, record: false }, 30_000);
          joinMs.push(Date.now() - t);
          expect(st.status).toBe("ACCEPTED");
        }),
      );
    }
    const tJoined = Date.now();
    const stats = (a: number[]) => {
      const s = a.slice().sort((x, y) => x - y);
      const avg = s.reduce((x, y) => x + y, 0) / s.length;
      return `avg ${avg.toFixed(1)} ms, p50 ${s[Math.floor(s.length / 2)]} ms, p95 ${s[Math.floor(s.length * 0.95)]} ms, max ${s[s.length - 1]} ms`;
    };
    const firstLast = (a: number[], n: number) => `first ${n}: ${stats(a.slice(0, n))}; last ${n}: ${stats(a.slice(-n))}`;
    console.log(`[rooms] ${N} sockets connected in ${tConnected - t0} ms`);
    console.log(`[rooms] ${N} joins (batches of ${BATCH}) in ${tJoined - tConnected} ms; per join ${stats(joinMs)}; ${firstLast(joinMs, 20)}`);

    const expectedFor = (members: string[]) => (i: number) => members.filter((l) => l !== logins[i]).sort();
    const converged = async (idx: number[], members: string[], what: string) => {
      const want = expectedFor(members);
      await waitUntil(
        () => idx.every((i) => known[i]!.size === members.length - 1),
        30_000,
        () => `${what}: sizes ${JSON.stringify(idx.map((i) => known[i]!.size).filter((s) => s !== members.length - 1).slice(0, 10))}`,
        100,
      );
      await sleep(1_000); // late or duplicate events would show up here
      for (const i of idx) expect([...known[i]!].sort(), `${logins[i]}: ${what}`).toEqual(want(i));
    };
    await converged(
      ws.map((_, i) => i),
      logins,
      `all ${N} joined`,
    );
    const tJoinConverged = Date.now();
    console.log(`[rooms] every participant knew the ${N - 1} others ${tJoinConverged - tJoined} ms after the last ACCEPTED (incl. 1 s settle)`);

    const leaving = ws.map((_, i) => i).filter((i) => i % 2 === 1);
    const staying = ws.map((_, i) => i).filter((i) => i % 2 === 0);
    const leaveMs: number[] = [];
    for (let k = 0; k < leaving.length; k += BATCH) {
      await Promise.all(
        leaving.slice(k, k + BATCH).map(async (i) => {
          const t = Date.now();
          const st = await command(ws[i]!, "leave", { name: room }, 30_000);
          leaveMs.push(Date.now() - t);
          expect(st.status).toBe("ACCEPTED");
        }),
      );
    }
    const tLeft = Date.now();
    console.log(`[rooms] ${leaving.length} leaves (batches of ${BATCH}) in ${tLeft - tJoinConverged} ms; per leave ${stats(leaveMs)}`);
    await converged(staying, staying.map((i) => logins[i]!), `after ${leaving.length} left`);
    console.log(`[rooms] total ${Date.now() - t0} ms`);
    expect(selfSeen).toEqual([]);
    for (const w of ws) expectOneStatusPerCommand(w);
  }, 180_000);
});
