/**
 * The session's ICE servers (client/ice-servers.ts) against the fake WCS server, with `platform.fetch` recording the
 * `GET /ice-servers` calls: asked once the session is ESTABLISHED, with the session's token, at the signaling
 * server's origin; kept for the session until shortly before the ttl runs out; none (and never asked again) from a
 * server without the endpoint; not asked at all when the app gives mediaOptions.iceServers or iceServersUrl: false.
 * The end-to-end path through a real coturn is test/e2e/turn.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FetchFunction, Session, SessionOptions } from "../../client/index.js";
import { iceServersUrlOf, sessionToken } from "../../client/ice-servers.js";
import { FakePeerConnection, fakeStream, resetFakes } from "./fake-rtc.js";
import { FakeWcsServer } from "./fake-server.js";
import { memoryLogger, session, sleep, until } from "./helpers.js";

let server: FakeWcsServer;
let s: Session | undefined;
beforeEach(async () => {
  resetFakes();
  server = await FakeWcsServer.start();
});
afterEach(async () => {
  s?.disconnect();
  s = undefined;
  await server.close();
});

const TURN = { urls: ["turn:turn.example:3478?transport=udp"], username: "1700000000:alice", credential: "c3VwZXI=" };

/** A fetch that answers with `answer()` after `delayMs`, recording each call's URL and Authorization. */
function fakeFetch(answer: () => Response, delayMs = 0): FetchFunction & { calls: { url: string; auth: string | null }[] } {
  const calls: { url: string; auth: string | null }[] = [];
  const f = async (url: string, init?: RequestInit): Promise<Response> => {
    calls.push({ url, auth: new Headers(init?.headers).get("Authorization") });
    if (delayMs) await sleep(delayMs);
    return answer();
  };
  return Object.assign(f, { calls });
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

async function established(fetch: FetchFunction, opts: Partial<SessionOptions> = {}): Promise<Session> {
  s = session(server, { ...opts, platform: { fetch } }).s;
  await s.established();
  return s;
}

/** Publishes a stream and resolves with its peer connection's configuration once the offer went out. */
async function publishedConfig(sess: Session, name: string): Promise<RTCConfiguration> {
  const before = FakePeerConnection.instances.length;
  sess.createStream({ name, stream: fakeStream() }).publish();
  await server.waitFor("publishStream", (f) => f.arg.name === name);
  return FakePeerConnection.instances[before]!.configuration;
}

describe("session ICE servers", () => {
  it("derives the URL from urlServer and the token from custom.token or ?token=", () => {
    expect(iceServersUrlOf("wss://wcs.example.com/some/path?token=x")).toBe("https://wcs.example.com/ice-servers");
    expect(iceServersUrlOf("ws://127.0.0.1:8787")).toBe("http://127.0.0.1:8787/ice-servers");
    expect(iceServersUrlOf("not a url")).toBeUndefined();
    expect(sessionToken({ login: "a", token: "t1" }, "ws://h/?token=t2")).toBe("t1");
    expect(sessionToken(undefined, "ws://h/?token=t2")).toBe("t2");
    expect(sessionToken({ token: 5 }, "ws://h/")).toBeUndefined();
  });

  it("asks once when ESTABLISHED, with the session's token, and every stream's peer connection uses the answer", async () => {
    const fetch = fakeFetch(() => json({ iceServers: [TURN], ttl: 3600 }));
    const sess = await established(fetch, { custom: { token: "tok-1" }, mediaOptions: { iceTransportPolicy: "relay" } });
    await until(() => fetch.calls.length === 1);
    expect(fetch.calls[0]).toEqual({ url: `${server.url.replace("ws:", "http:")}/ice-servers`, auth: "Bearer tok-1" });
    expect(await publishedConfig(sess, "a")).toEqual({ iceServers: [TURN], iceTransportPolicy: "relay", bundlePolicy: "max-compat" });
    expect(await publishedConfig(sess, "b")).toEqual({ iceServers: [TURN], iceTransportPolicy: "relay", bundlePolicy: "max-compat" });
    const player = sess.createStream({ name: "c" }).play();
    await server.waitFor("playStream");
    expect(player.getPeerConnection() && (player.getPeerConnection() as unknown as FakePeerConnection).configuration.iceServers).toEqual([TURN]);
    expect(fetch.calls).toHaveLength(1);
  });

  it("a stream started while the answer is on its way waits for it", async () => {
    const fetch = fakeFetch(() => json({ iceServers: [TURN], ttl: 3600 }), 300);
    s = session(server, { platform: { fetch } }).s;
    await s.established();
    expect(await publishedConfig(s, "slow")).toEqual({ iceServers: [TURN], bundlePolicy: "max-compat" });
    expect(fetch.calls).toHaveLength(1);
  });

  it("asks again for a stream started once the credentials are about to expire", async () => {
    let n = 0;
    const fetch = fakeFetch(() => json({ iceServers: [{ ...TURN, username: `u${++n}` }], ttl: 1 }));
    const sess = await established(fetch);
    expect((await publishedConfig(sess, "first")).iceServers?.[0]?.username).toBe("u1");
    await sleep(1000); // ttl 1 s: fresh for 0.9 s
    expect((await publishedConfig(sess, "second")).iceServers?.[0]?.username).toBe("u2");
    expect(fetch.calls).toHaveLength(2);
  });

  it("a server without the endpoint (404, or the fake server's own 426) means none, asked no more", async () => {
    for (const [i, fetch] of [fakeFetch(() => new Response("Not found", { status: 404 })), undefined].entries()) {
      const logger = memoryLogger();
      const sess = await established(fetch ?? (globalThis.fetch as FetchFunction), { logger });
      expect(await publishedConfig(sess, `x${i}`)).toEqual({ iceServers: [], bundlePolicy: "max-compat" });
      expect(await publishedConfig(sess, `y${i}`)).toEqual({ iceServers: [], bundlePolicy: "max-compat" });
      if (fetch) expect(fetch.calls).toHaveLength(1);
      expect(logger.lines).toEqual([]); // only debug output: WCS servers have no such endpoint
      sess.disconnect();
    }
  });

  it("a failure (401, a bad body) means none for now, with a warning", async () => {
    const logger = memoryLogger();
    const sess = await established(fakeFetch(() => json({ error: "Not authorized" }, 401)), { logger });
    expect(await publishedConfig(sess, "x")).toEqual({ iceServers: [], bundlePolicy: "max-compat" });
    expect(logger.lines.join("\n")).toMatch(/no ICE servers from .*\/ice-servers: HTTP 401/);
    sess.disconnect();
    const logger2 = memoryLogger();
    const sess2 = await established(fakeFetch(() => json({ iceServers: "nope" })), { logger: logger2 });
    expect(await publishedConfig(sess2, "y")).toEqual({ iceServers: [], bundlePolicy: "max-compat" });
    expect(logger2.lines.join("\n")).toMatch(/not \{iceServers, ttl\}/);
  });

  it("is not asked when the app gives mediaOptions.iceServers or iceServersUrl: false; iceServersUrl overrides the URL", async () => {
    const fetch = fakeFetch(() => json({ iceServers: [TURN], ttl: 3600 }));
    const given = await established(fetch, { mediaOptions: { iceServers: [{ urls: "stun:stun.example" }] } });
    expect(await publishedConfig(given, "g")).toEqual({ iceServers: [{ urls: "stun:stun.example" }], bundlePolicy: "max-compat" });
    given.disconnect();
    const off = await established(fetch, { iceServersUrl: false });
    expect(await publishedConfig(off, "o")).toEqual({ iceServers: [], bundlePolicy: "max-compat" });
    off.disconnect();
    expect(fetch.calls).toHaveLength(0);
    const custom = await established(fetch, { iceServersUrl: "https://api.example/turn-credentials" });
    expect(await publishedConfig(custom, "c")).toEqual({ iceServers: [TURN], bundlePolicy: "max-compat" });
    expect(fetch.calls.map((c) => c.url)).toEqual(["https://api.example/turn-credentials"]);
  });
});
