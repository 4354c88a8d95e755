/** SDK session state machine against the fake WCS server: handshake, keep-alive, sendData, WARN/APP_DATA, drops. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SESSION_STATUS, STREAM_STATUS, WcsError, type AppData, type FailEvent } from "../../client/index.js";
import { fakeStream, resetFakes } from "./fake-rtc.js";
import { FakeWcsServer } from "./fake-server.js";
import { session, sleep, statuses, until } from "./helpers.js";

let server: FakeWcsServer;
const cleanups: Array<() => void> = [];
beforeEach(async () => {
  resetFakes();
  server = await FakeWcsServer.start();
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await server.close();
});
function open(opts: Parameters<typeof session>[1] = {}) {
  const r = session(server, opts);
  cleanups.push(() => r.s.disconnect());
  return r;
}

describe("handshake", () => {
  it("sends connection as the Web SDK does and becomes ESTABLISHED on getUserData", async () => {
    const { s, events } = open({ custom: { login: "x" }, authToken: "tok" });
    expect(s.status()).toBe(SESSION_STATUS.PENDING);
    let userData: Record<string, unknown> | undefined;
    s.on(SESSION_STATUS.ESTABLISHED, (_s, u) => (userData = u));
    await s.established();
    const conn = server.received("connection");
    expect(conn).toHaveLength(1);
    expect(conn[0]!.data).toHaveLength(1);
    expect(conn[0]!.arg).toEqual({
      appKey: "defaultApp",
      mediaProviders: ["WebRTC"],
      authToken: "tok",
      clientVersion: "2.0",
      clientOSVersion: "test-os",
      clientBrowserVersion: "test-browser",
      msePacketizationVersion: 2,
      custom: { login: "x" },
    });
    expect(events).toEqual(["CONNECTED", "ESTABLISHED"]);
    expect(userData?.sessionId).toBe(server.connections[0]!.sessionId);
    expect(s.getUserData()?.authToken).toBe("token-0");
    expect(s.status()).toBe(SESSION_STATUS.ESTABLISHED);
  });

  it("refuses createStream before ESTABLISHED and without a name", async () => {
    server.on("connection", null); // never answer
    const { s } = open();
    expect(() => s.createStream({ name: "a" })).toThrow(/Invalid session state/);
    await until(() => s.status() === SESSION_STATUS.CONNECTED);
    expect(() => s.createStream({ name: "a" })).toThrow(/Invalid session state CONNECTED/);
  });

  it("rejects established() when the server is unreachable (FAILED/DISCONNECTED)", async () => {
    const url = server.url;
    await server.close();
    const { s, events } = session({ url } as FakeWcsServer);
    await expect(s.established()).rejects.toBeInstanceOf(WcsError);
    expect(["FAILED", "DISCONNECTED"]).toContain(s.status());
    expect(events.filter((e) => e === "FAILED" || e === "DISCONNECTED")).toHaveLength(1);
    server = await FakeWcsServer.start(); // for afterEach
  });

  it("fails a socket that stays connecting beyond `timeout`", async () => {
    // a TCP listener that never answers the HTTP upgrade
    const net = await import("node:net");
    const srv = net.createServer(() => undefined);
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as { port: number }).port;
    const { s, events } = session({ url: `ws://127.0.0.1:${port}` } as FakeWcsServer, { timeout: 150 });
    await expect(s.established()).rejects.toThrow(/FAILED/);
    expect(events).toEqual(["FAILED"]);
    srv.close();
  });
});

describe("keep-alive", () => {
  it("answers the server's ping with pong {data: [null]}", async () => {
    const { s } = open();
    await s.established();
    server.connections[0]!.send("ping");
    const pong = await server.waitFor("pong");
    expect(pong.data).toEqual([null]);
  });

  it("sends client pings every pingInterval", async () => {
    const { s } = open({ pingInterval: 40 });
    await s.established();
    await sleep(150);
    const pings = server.received("ping");
    expect(pings.length).toBeGreaterThanOrEqual(2);
    expect(pings[0]!.data).toEqual([null]);
  });

  it("goes FAILED after receiveProbes intervals without any server message", async () => {
    const { s, events } = open({ receiveProbes: 3, probesInterval: 40 });
    await s.established();
    await until(() => s.status() === SESSION_STATUS.FAILED, 1000, "FAILED");
    expect(events).toEqual(["CONNECTED", "ESTABLISHED", "FAILED"]);
    await until(() => server.connections[0]!.closed, 1000, "socket closed");
  });

  it("keeps a session alive while server messages keep coming", async () => {
    const { s } = open({ receiveProbes: 3, probesInterval: 40 });
    await s.established();
    const timer = setInterval(() => server.connections[0]!.send("ping"), 30);
    await sleep(300);
    clearInterval(timer);
    expect(s.status()).toBe(SESSION_STATUS.ESTABLISHED);
  });
});

describe("sendData", () => {
  it("resolves on DataStatusEvent ACCEPTED and rejects with info on FAILED", async () => {
    const { s } = open();
    await s.established();
    const ok = s.sendData({ hello: 1 });
    const f1 = await server.waitFor("sendData");
    expect(f1.arg.payload).toEqual({ hello: 1 });
    expect(typeof f1.arg.operationId).toBe("string");
    const bad = s.sendData({ hello: 2 });
    const f2 = await server.waitFor("sendData", (f) => f.arg.operationId !== f1.arg.operationId);
    server.connections[0]!.dataStatus(f2.arg.operationId!, "FAILED", "Not allowed");
    server.connections[0]!.dataStatus(f1.arg.operationId!, "ACCEPTED");
    await expect(ok).resolves.toBeUndefined();
    const err = await bad.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WcsError);
    expect((err as WcsError).info).toBe("Not allowed");
  });

  it("ignores a DataStatusEvent of an unknown operationId and rejects pending ones when the socket drops", async () => {
    const { s } = open();
    await s.established();
    const p = s.sendData("x");
    await server.waitFor("sendData");
    server.connections[0]!.dataStatus("nope", "ACCEPTED");
    server.connections[0]!.drop();
    await expect(p).rejects.toMatchObject({ info: "Session disconnected" });
  });

  it("rejects at once when the session is not ESTABLISHED, and after sendDataTimeoutMs", async () => {
    server.on("connection", null);
    const { s } = open({ sendDataTimeoutMs: 100 });
    await expect(s.sendData(1)).rejects.toThrow(/Invalid session state/);
    server.on("connection", (f) => f.conn.send("getUserData", {}));
    s.disconnect();
    const { s: s2 } = open({ sendDataTimeoutMs: 100 });
    await s2.established();
    await expect(s2.sendData(1)).rejects.toThrow(/No DataStatusEvent within 100 ms/);
  });
});

describe("server events", () => {
  it("fires WARN for fail and APP_DATA for OnDataEvent; ignores malformed and unknown frames", async () => {
    const { s } = open();
    const warns: FailEvent[] = [];
    const data: AppData[] = [];
    s.on(SESSION_STATUS.WARN, (f) => warns.push(f)).on(SESSION_STATUS.APP_DATA, (d) => data.push(d));
    await s.established();
    const c = server.connections[0]!;
    c.sendRaw("{not json");
    c.sendRaw(JSON.stringify({ data: [] }));
    c.sendRaw(JSON.stringify({ message: "getVersion", data: ["1.0"] }));
    c.sendRaw(JSON.stringify({ message: "somethingNew" }));
    c.send("fail", { apiMethod: "publishStream", info: "Unknown message" });
    c.send("OnDataEvent", { operationId: "o", payload: { a: 1 } });
    await until(() => data.length === 1);
    expect(warns).toEqual([{ apiMethod: "publishStream", info: "Unknown message" }]);
    expect(data[0]!.payload).toEqual({ a: 1 });
    expect(s.status()).toBe(SESSION_STATUS.ESTABLISHED);
  });
});

describe("disconnects", () => {
  it("reports a server close as DISCONNECTED and fails every stream locally first", async () => {
    const { s, events } = open();
    await s.established();
    const pub = s.createStream({ name: "a", stream: fakeStream() });
    const st = statuses(pub);
    const order: string[] = [];
    pub.on(STREAM_STATUS.FAILED, () => order.push("stream FAILED"));
    s.on(SESSION_STATUS.DISCONNECTED, () => order.push("session DISCONNECTED"));
    pub.publish();
    const req = await server.waitFor("publishStream");
    server.connections[0]!.status(req.arg.mediaSessionId!, "PUBLISHING");
    await pub.active();
    server.connections[0]!.close();
    await until(() => s.status() === SESSION_STATUS.DISCONNECTED);
    expect(order).toEqual(["stream FAILED", "session DISCONNECTED"]);
    expect(st).toEqual(["PENDING", "PUBLISHING", "FAILED:Session disconnected"]);
    expect(events).toEqual(["CONNECTED", "ESTABLISHED", "DISCONNECTED"]);
    expect(s.getStreams()).toEqual([]);
    await expect(pub.ended()).resolves.toBe("FAILED");
    await expect(s.established()).rejects.toThrow(/DISCONNECTED/);
  });

  it("disconnect() emits DISCONNECTED at once, fails NEW streams and closes the socket", async () => {
    const { s, events } = open();
    await s.established();
    const stream = s.createStream({ name: "n" });
    const st = statuses(stream);
    s.disconnect();
    expect(events).toEqual(["CONNECTED", "ESTABLISHED", "DISCONNECTED"]);
    expect(stream.status()).toBe(STREAM_STATUS.FAILED);
    expect(st).toEqual(["FAILED:Session disconnected"]);
    await until(() => server.connections[0]!.closed);
    s.disconnect(); // idempotent
    expect(events).toHaveLength(3);
  });
});
