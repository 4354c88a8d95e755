/**
 * Authentication on (AUTH=on, an HS256 AUTH_JWT_SECRET, a REST_API_TOKEN) against real parts: `wrangler dev` + one
 * media node, WCS sessions as raw WCS sockets and @roamhq/wrtc clients with real media, the Flussonic-style sockets,
 * REST and WHIP over HTTP, and the official WCS Web SDK in Chromium passing its token through createSession({custom}).
 * Every refusal is asserted with its documented status and text (protocol/access.ts AuthInfo).
 */
import { randomUUID } from "node:crypto";
import type { Page } from "playwright-core";
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AuthInfo, Info } from "../../protocol/index.js";
import { buildConnectionRequest, closeAllClients, spawnPlayer, spawnPublisher, WcsSocket, type WcsClientHandle } from "../clients/index.js";
import { elementProbe, launchBrowser, sleep, uniqueName, Diagnostics, type BrowserHandle } from "../harness/browser.js";
import { startCluster, type Cluster } from "../harness/cluster.js";
import { restCall, staticOffer } from "../harness/endpoints.js";
import { connectWebSdk, openWebSdkPage, pageEvents, WEBSDK_STREAM_PAGE_HTML, type StreamPageEvent } from "../harness/sdk-pages.js";
import { authVars, mintToken } from "../harness/tokens.js";

const REST_TOKEN = `rest-${randomUUID()}`;
let cluster: Cluster;
let browser: BrowserHandle | undefined;
const sockets: WcsSocket[] = [];
const children: WcsClientHandle[] = [];

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1, vars: { ...authVars(), REST_API_TOKEN: REST_TOKEN } });
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.close()));
  await Promise.all(children.splice(0).map((c) => c.close()));
  await closeAllClients();
});
afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
});

/** A raw WCS socket that sent `connection` with `custom` (not waiting for any answer). */
async function connecting(custom: unknown, opts: { appKey?: string; url?: string } = {}): Promise<WcsSocket> {
  const s = await WcsSocket.open(opts.url ?? cluster.wsUrl);
  sockets.push(s);
  s.send("connection", buildConnectionRequest({ custom, ...(opts.appKey ? { appKey: opts.appKey } : {}) }));
  return s;
}

/** A WCS session established with `custom` (a token in custom.token). */
async function session(custom: unknown, appKey?: string): Promise<WcsSocket> {
  const s = await WcsSocket.connect(cluster.wsUrl, { custom, ...(appKey ? { appKey } : {}) });
  sockets.push(s);
  return s;
}

/** Sends publishStream / playStream with a valid (static) offer; returns the mediaSessionId. */
function requestStream(s: WcsSocket, method: "publishStream" | "playStream", name: string, custom?: unknown): string {
  const mediaSessionId = randomUUID();
  const sdp = staticOffer(method === "publishStream" ? "sendonly" : "recvonly");
  s.send(method, { mediaSessionId, name, published: method === "publishStream", hasVideo: true, hasAudio: true, sdp, ...(custom ? { custom } : {}) });
  return mediaSessionId;
}

/** The first stream status or SDP answer for `mediaSessionId`. */
async function firstAnswer(s: WcsSocket, mediaSessionId: string): Promise<{ message: string; status?: string; info?: string }> {
  const f = await s.waitFor(
    (fr) =>
      (fr.message === "setRemoteSDP" && fr.data[0] === mediaSessionId) ||
      (fr.message === "notifyStreamStatusEvent" && (fr.data[0] as { mediaSessionId?: string }).mediaSessionId === mediaSessionId),
    10_000,
  );
  const obj = f.data[0] as { status?: string; info?: string };
  return f.message === "setRemoteSDP" ? { message: f.message } : { message: f.message, status: obj.status, info: obj.info };
}

/** Sends a Room API command; resolves with its DataStatusEvent. */
async function roomCommand(s: WcsSocket, command: string, options: unknown): Promise<{ status: string; info?: string }> {
  const operationId = randomUUID();
  s.send("sendData", { operationId, payload: { command, options } });
  const f = await s.waitFor((fr) => fr.message === "DataStatusEvent" && (fr.data[0] as { operationId?: string }).operationId === operationId, 10_000);
  return f.data[0] as { status: string; info?: string };
}

describe("WCS sessions", () => {
  it("refuses a connection without a valid token: fail {apiMethod: connection, info}, then close 4401 (4403 login ≠ sub); no getUserData", async () => {
    const expired = await mintToken({ sub: "a", exp: Math.floor(Date.now() / 1000) - 120 });
    const forged = await mintToken({ sub: "a" }, { secret: "another-secret-of-at-least-32-characters" });
    const future = await mintToken({ sub: "a", nbf: Math.floor(Date.now() / 1000) + 600 });
    const otherAud = await mintToken({ sub: "a", aud: "someone-else" });
    const cases: Array<[unknown, string, number]> = [
      [undefined, AuthInfo.TOKEN_REQUIRED, 4401],
      [{ login: "a" }, AuthInfo.TOKEN_REQUIRED, 4401],
      [{ token: expired }, AuthInfo.tokenInvalid("expired"), 4401],
      [{ token: forged }, AuthInfo.tokenInvalid("bad signature"), 4401],
      [{ token: future }, AuthInfo.tokenInvalid("not yet valid"), 4401],
      [{ token: otherAud }, AuthInfo.tokenInvalid("wrong audience"), 4401],
      [{ token: 42 }, AuthInfo.tokenInvalid("custom.token must be a string"), 4401],
      [{ token: await mintToken({ sub: "alice" }), login: "mallory" }, AuthInfo.LOGIN_MISMATCH, 4403],
    ];
    for (const [custom, info, code] of cases) {
      const s = await connecting(custom);
      const fail = await s.waitForMessage("fail");
      expect(fail.data[0], JSON.stringify(custom)).toEqual({ apiMethod: "connection", info });
      const closed = await s.waitForClose();
      expect(closed.code).toBe(code);
      expect(closed.reason).toBe(info.slice(0, 123));
      expect(s.framesNamed("getUserData")).toEqual([]);
    }
  });

  it("?token= in the URL: a bad one refuses the upgrade with 401; a good one establishes a session without custom.token", async () => {
    const res = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${cluster.wsUrl}/?token=nope`);
      ws.on("unexpected-response", (_req, r) => resolve(r.statusCode ?? 0));
      ws.on("open", () => reject(new Error("upgraded with a bad token")));
      ws.on("error", () => undefined);
    });
    expect(res).toBe(401);
    const token = await mintToken({ sub: "url-user", publish: ["url-*"] });
    const s = await WcsSocket.connect(`${cluster.wsUrl}/?token=${token}`);
    sockets.push(s);
    expect(s.userData).toMatchObject({ status: "ESTABLISHED" });
    expect(await firstAnswer(s, requestStream(s, "publishStream", uniqueName("url")))).toEqual({ message: "setRemoteSDP" });
  });

  it("publish and play inside the grants with real media; outside them FAILED 'Not authorized…' and no SDP answer", async () => {
    const name = uniqueName("auth-a");
    const pubToken = await mintToken({ sub: "alice", publish: ["auth-a-*"] });
    const pub = await spawnPublisher({ url: cluster.wsUrl, name, custom: { token: pubToken } });
    children.push(pub);
    await pub.waitForStatus("PUBLISHING");
    const player = await spawnPlayer({ url: cluster.wsUrl, name, custom: { token: await mintToken({ play: ["auth-a-*"] }) } });
    children.push(player);
    await player.waitForStatus("PLAYING");
    const stats = await player.waitForStats((st) => st.framesDecoded >= 15, 15_000, "15 decoded frames");
    expect(stats.lastSize).toBe("640x480");

    // the publisher's token grants no play, and no publish outside auth-a-*
    const s = await session({ token: pubToken });
    expect(s.userData?.custom).toEqual({}); // the token is not echoed
    for (const [method, stream, action] of [
      ["publishStream", uniqueName("other"), "publish"],
      ["playStream", name, "play"],
    ] as const) {
      const id = requestStream(s, method, stream);
      expect(await firstAnswer(s, id)).toEqual({ message: "notifyStreamStatusEvent", status: "FAILED", info: AuthInfo.notGranted(action, stream) });
    }
    await sleep(300);
    expect(s.framesNamed("setRemoteSDP")).toEqual([]);
    expect(pub.statuses.map((x) => x.status)).toEqual(["PUBLISHING"]);
  });

  it("rooms: join as the token's sub inside the rooms grant; room streams by room-module names; a non-room stream is not playable through the room", async () => {
    const room = uniqueName("team");
    const alice = { login: "alice", token: await mintToken({ sub: "alice", rooms: ["team-*"] }) };
    const a = await session(alice, "roomApp");
    expect(await roomCommand(a, "join", { name: room })).toEqual({ operationId: expect.any(String), status: "ACCEPTED" });
    expect(await roomCommand(a, "join", { name: "elsewhere" })).toMatchObject({ status: "FAILED", info: AuthInfo.roomNotGranted("elsewhere") });
    // a room stream must carry the publisher's own login
    const bobsName = `${room}-bob-abcd`;
    expect(await firstAnswer(a, requestStream(a, "publishStream", bobsName, { name: room }))).toMatchObject({ status: "FAILED", info: AuthInfo.notGranted("publish", bobsName) });
    expect(await roomCommand(a, "leave", { name: room })).toMatchObject({ status: "ACCEPTED" });

    // alice publishes into the room with real media; bob (same rooms grant) plays it as a room member
    const streamName = `${room}-alice-${randomUUID().slice(0, 4)}`;
    const pub = await spawnPublisher({ url: cluster.wsUrl, name: streamName, appKey: "roomApp", custom: alice, room });
    children.push(pub);
    await pub.waitForStatus("PUBLISHING");
    const bob = { login: "bob", token: await mintToken({ sub: "bob", rooms: ["team-*"] }) };
    const player = await spawnPlayer({ url: cluster.wsUrl, name: streamName, appKey: "roomApp", custom: bob, room });
    children.push(player);
    await player.waitForStatus("PLAYING");
    await player.waitForStats((st) => st.framesDecoded >= 10, 15_000, "room stream frames");

    // a stream named like the room's but published outside it: the room grant does not reach it
    const outside = `${room}-zed-0000`;
    const zed = await spawnPublisher({ url: cluster.wsUrl, name: outside, custom: { token: await mintToken({ publish: [outside] }) } });
    children.push(zed);
    await zed.waitForStatus("PUBLISHING");
    const c = await session({ login: "carol", token: await mintToken({ sub: "carol", rooms: ["team-*"] }) }, "roomApp");
    expect(await roomCommand(c, "join", { name: room })).toMatchObject({ status: "ACCEPTED" });
    expect(await firstAnswer(c, requestStream(c, "playStream", outside, { name: room }))).toMatchObject({ status: "FAILED", info: AuthInfo.notGranted("play", outside) });
    // …while the room's own stream is playable the same way
    expect(await firstAnswer(c, requestStream(c, "playStream", streamName, { name: room }))).toEqual({ message: "setRemoteSDP" });
  });
});

describe("the Flussonic-style sockets take ?token=", () => {
  /** Opens /NAME/webrtc/ACTION with `token`; resolves with the close code and reason. */
  function closeOf(name: string, action: "publish" | "play", token?: string): Promise<{ code: number; reason: string }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${cluster.wsUrl}/${name}/webrtc/${action}${token ? `?token=${token}` : ""}`);
      ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
      ws.on("error", reject);
    });
  }
  it("4401 without a token, 4403 without the grant; a granted play gets past authentication (4404: not publishing)", async () => {
    const name = uniqueName("fl");
    const player = await mintToken({ play: [name] });
    // in parallel: workerd ends the TCP connection of a refused hibernatable socket ~10 s after the close frames
    expect(await Promise.all([closeOf(name, "play"), closeOf(name, "publish", player), closeOf(name, "play", "garbage"), closeOf(name, "play", player)])).toEqual([
      { code: 4401, reason: AuthInfo.TOKEN_REQUIRED },
      { code: 4403, reason: AuthInfo.notGranted("publish", name) },
      { code: 4401, reason: AuthInfo.tokenInvalid("malformed token") },
      { code: 4404, reason: Info.STREAM_NOT_FOUND },
    ]);
  });
});

describe("REST and WHIP", () => {
  it("REST: 401 without a token, 403 for an access token without admin; the REST_API_TOKEN and an admin token pass", async () => {
    expect(await restCall(cluster, "/stream/find_all", {})).toEqual({ status: 401, json: { error: AuthInfo.TOKEN_REQUIRED } });
    expect(await restCall(cluster, "/stream/find_all", {}, await mintToken({ publish: ["*"], play: ["*"] }))).toEqual({ status: 403, json: { error: AuthInfo.ADMIN_REQUIRED } });
    expect((await restCall(cluster, "/pull/find_all", {}, REST_TOKEN)).status).toBe(404);
    expect(await restCall(cluster, "/pull/find_all", {}, await mintToken({ admin: true }))).toEqual({ status: 404, json: { error: "Relay not found" } });
  });

  it("WHIP: 403 insufficient_scope for a token that may publish other names; WHEP: 401 for an expired token", async () => {
    const name = uniqueName("whip");
    const post = async (kind: string, token: string, direction: "sendonly" | "recvonly") =>
      fetch(`${cluster.httpUrl}/${kind}/${name}`, { method: "POST", body: staticOffer(direction), headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${token}` } });
    const res = await post("whip", await mintToken({ publish: ["cam-*"] }), "sendonly");
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="whip", error="insufficient_scope"');
    expect(await res.text()).toBe(AuthInfo.notGranted("publish", name));
    const expired = await post("whep", await mintToken({ play: ["*"], exp: Math.floor(Date.now() / 1000) - 120 }), "recvonly");
    expect(expired.status).toBe(401);
    expect(await expired.text()).toBe(AuthInfo.tokenInvalid("expired"));
  });
});

describe("the official WCS Web SDK in Chromium with a token in createSession({custom})", () => {
  const diag = new Diagnostics({ browser: () => browser!, serverLogs: () => cluster?.logs() }, 80);
  const pages: Page[] = [];
  async function sdkPage(label: string): Promise<Page> {
    browser ??= await launchBrowser();
    const page = await openWebSdkPage(browser, cluster.httpUrl, label, { entry: "websdk.html", html: WEBSDK_STREAM_PAGE_HTML, sdkFile: "flashphoner-webrtc-only.js" });
    pages.push(page);
    diag.reports.set(label, async () => JSON.stringify(await pageEvents(page)));
    return page;
  }
  const events = (page: Page) => pageEvents<StreamPageEvent>(page);
  async function streamStatus(page: Page, key: string, status: string): Promise<StreamPageEvent> {
    for (let i = 0; i < 200; i++) {
      const hit = (await events(page)).find((e) => e.kind === "stream" && e.key === key && e.status === status);
      if (hit) return hit;
      await sleep(100);
    }
    throw new Error(`no ${status} for ${key}: ${JSON.stringify(await events(page))}`);
  }
  const start = (page: Page, key: string, name: string, mode: "publish" | "play") =>
    page.evaluate(([k, n, m]) => (window as unknown as { startStream(k: string, n: string, m: string): void }).startStream(k, n, m), [key, name, mode] as const);
  afterAll(async () => {
    await Promise.all(pages.map((p) => p.close()));
  });

  it("publishes a granted name and plays it with live video; a name outside the grant gets FAILED 'Not authorized to publish …'", async () => {
    const name = uniqueName("sdk-auth");
    const publisher = await sdkPage("auth-publisher");
    expect(await connectWebSdk(publisher, cluster.wsUrl, { token: await mintToken({ sub: "web", publish: ["sdk-auth-*"] }) })).toBe("ESTABLISHED");
    await start(publisher, "pub", name, "publish");
    await streamStatus(publisher, "pub", "PUBLISHING");
    const player = await sdkPage("auth-player");
    expect(await connectWebSdk(player, cluster.wsUrl, { token: await mintToken({ play: [name] }) })).toBe("ESTABLISHED");
    await start(player, "play", name, "play");
    await streamStatus(player, "play", "PLAYING");
    await diag.expectLiveVideos([elementProbe(player, "player", "#d-play video")], 15_000);

    const other = uniqueName("elsewhere");
    await start(publisher, "other", other, "publish");
    expect((await streamStatus(publisher, "other", "FAILED")).info).toBe(AuthInfo.notGranted("publish", other));
  });

  it("our Player page: without ?token= it shows the server's reason; with one it plays", async () => {
    const name = uniqueName("page-auth");
    const pub = await spawnPublisher({ url: cluster.wsUrl, name, custom: { token: await mintToken({ publish: [name] }) } });
    children.push(pub);
    await pub.waitForStatus("PUBLISHING");
    browser ??= await launchBrowser();
    const page = await browser.newPage("player-page");
    pages.push(page);
    await page.goto(`${cluster.httpUrl}/player.html?name=${name}`);
    await page.click("#play");
    await page.waitForSelector("#error:not([hidden])", { timeout: 10_000 });
    expect(await page.textContent("#error")).toBe(`The server at ${cluster.wsUrl}/ refused the connection: ${AuthInfo.TOKEN_REQUIRED}`);
    await page.goto(`${cluster.httpUrl}/player.html?name=${name}&token=${await mintToken({ play: [name] })}`);
    await page.click("#play");
    await page.waitForFunction(() => document.querySelector("#play-status")?.textContent === "PLAYING", undefined, { timeout: 15_000 });
    await diag.expectLiveVideos([elementProbe(page, "player page", "#display video")], 15_000);
  });

  it("no token, or an expired one: WARN with the reason, then DISCONNECTED; a bad ?token= in the URL: FAILED", async () => {
    const expired = await mintToken({ sub: "web", exp: Math.floor(Date.now() / 1000) - 120 });
    for (const [custom, info] of [
      [undefined, AuthInfo.TOKEN_REQUIRED],
      [{ token: expired }, AuthInfo.tokenInvalid("expired")],
    ] as const) {
      const page = await sdkPage(`auth-refused-${pages.length}`);
      expect(await connectWebSdk(page, cluster.wsUrl, custom)).toBe("DISCONNECTED");
      const statuses = (await events(page)).filter((e) => e.kind === "session").map((e) => [e.status, e.info ?? null]);
      expect(statuses).toEqual([
        ["CONNECTED", null],
        ["WARN", info],
        ["DISCONNECTED", null],
      ]);
    }
    const page = await sdkPage("auth-url");
    expect(await connectWebSdk(page, `${cluster.wsUrl}/?token=nope`)).toBe("FAILED");
  });
});
