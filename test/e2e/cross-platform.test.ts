/**
 * Cross-platform three-way video chat in one room, against one worker + media node:
 * - "web":   a Chromium page on OUR SDK (a page routed on the worker's origin that imports /sdk/wcs-sdk.mjs and uses
 *            `roomApi`),
 * - "flash": a Chromium page on the OFFICIAL @flashphoner/websdk room API (flashphoner-room-api-webrtc-only.js),
 * - "node":  a Node participant, the `wcs-edge room` CLI (client/cli.ts on the Node SDK, @roamhq/wrtc), standing in
 *            for a native mobile client.
 * All three publish; each Chromium page plays the other two (videoWidth > 0, frames advancing) and the CLI reports
 * frames from both pages; JOINED/PUBLISHED reach the pages; messages from the CLI (--say, then a line on its stdin)
 * reach both pages, messages from both pages reach the CLI; Ctrl-C on the CLI makes it leave (LEFT on both pages).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, pageVideoStats, saveScreenshot, type BrowserHandle, type VideoStats } from "../harness/browser.js";
import { CliProcess, type CliEvent } from "../harness/cli.js";
import { ROOT, startCluster, type Cluster } from "../harness/cluster.js";

const OFFICIAL_ROOM_JS = readFileSync(join(ROOT, "node_modules/@flashphoner/websdk/flashphoner-room-api-webrtc-only.js"));
const STATUS_TIMEOUT_MS = 25_000;
const TEST_TIMEOUT_MS = 120_000;

/** What both test pages record in `window.events` (and log as `EVENT {...}`). */
interface PageEvent {
  kind: "session" | "room" | "stream" | "error";
  event?: string;
  status?: string;
  key?: string;
  name?: string;
  login?: string | null;
  from?: string | null;
  text?: string;
  info?: string | null;
  participants?: Array<{ login: string; streams: string[] }>;
  streams?: string[];
  t: number;
}

/** The functions both test pages expose. */
interface RoomPage {
  events: PageEvent[];
  ready?: boolean;
  joinRoom(url: string, login: string, room: string): Promise<void>;
  publish(): string;
  sendTo(login: string, text: string): void;
}

/** The shared part of both pages: event recording, displays, playing every participant's streams. */
const PAGE_COMMON = `
  window.events = [];
  window.players = {};
  function record(e) {
    e.t = Date.now();
    window.events.push(e);
    console.log("EVENT " + JSON.stringify(e));
  }
  function watch(stream, key) {
    ["PENDING", "PUBLISHING", "PLAYING", "UNPUBLISHED", "STOPPED", "FAILED"].forEach(function (s) {
      stream.on(s, function (st) {
        record({ kind: "stream", key: key, name: st.name(), status: s, info: st.getInfo() || null });
      });
    });
  }
  function display(id) {
    let d = document.getElementById(id);
    if (d) d.remove();
    d = document.createElement("div");
    d.id = id;
    d.className = "display";
    document.getElementById("displays").appendChild(d);
    return d;
  }
  function describeParticipant(p) {
    return { login: p.name(), streams: p.getStreams().map(function (s) { return s.streamName(); }) };
  }
  function playParticipant(p) {
    p.getStreams().forEach(function (s) {
      const name = s.streamName();
      if (window.players[name]) return;
      const stream = s.play(display("p-" + p.name()));
      window.players[name] = stream;
      watch(stream, "play:" + p.name());
    });
  }
`;

const PAGE_STYLE = "<style>.display{width:320px;height:240px;display:inline-block;margin:2px;background:#000}video{width:100%;height:100%}</style>";

/** Our SDK (ES module bundle served by the worker), used as its docs show. */
const OUR_SDK_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>our SDK room</title>${PAGE_STYLE}</head>
<body><h3>our SDK</h3><main id="displays"></main>
<script type="module">
  import { roomApi, ROOM_EVENT, SESSION_STATUS } from "/sdk/wcs-sdk.mjs";
  ${PAGE_COMMON}
  let room = null;
  window.joinRoom = async function (urlServer, username, roomName) {
    const rs = roomApi.connect({ urlServer: urlServer, username: username });
    [SESSION_STATUS.DISCONNECTED, SESSION_STATUS.FAILED].forEach(function (s) {
      rs.on(s, function () { record({ kind: "session", status: s }); });
    });
    rs.on(SESSION_STATUS.ESTABLISHED, function () { record({ kind: "session", status: "ESTABLISHED" }); });
    room = rs.join({ name: roomName })
      .on(ROOM_EVENT.STATE, function (r) {
        record({ kind: "room", event: "STATE", participants: r.getParticipants().map(describeParticipant) });
        r.getParticipants().forEach(playParticipant);
      })
      .on(ROOM_EVENT.JOINED, function (p) { record({ kind: "room", event: "JOINED", login: p.name() }); })
      .on(ROOM_EVENT.LEFT, function (p) { record({ kind: "room", event: "LEFT", login: p.name() }); })
      .on(ROOM_EVENT.PUBLISHED, function (p) {
        record({ kind: "room", event: "PUBLISHED", login: p.name(), streams: describeParticipant(p).streams });
        playParticipant(p);
      })
      .on(ROOM_EVENT.FAILED, function (r, info) { record({ kind: "room", event: "FAILED", info: info || null }); })
      .on(ROOM_EVENT.MESSAGE, function (m) { record({ kind: "room", event: "MESSAGE", from: m.from.name(), text: m.text }); });
    await room.joined(20000);
  };
  window.publish = function () {
    const stream = room.publish({ display: display("local") });
    watch(stream, "publish");
    return stream.name();
  };
  window.sendTo = function (login, text) {
    const p = room.getParticipant(login);
    if (!p) throw new Error("no participant " + login);
    p.sendMessage(text).catch(function (e) { record({ kind: "error", text: "sendMessage to " + login + ": " + e.message }); });
  };
  window.ready = true;
</script></body></html>`;

/** The official Web SDK's room API, used the way its conference demo does. */
const OFFICIAL_SDK_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>official room API</title>
<script src="/__test/flashphoner-room-api-webrtc-only.js"></script>${PAGE_STYLE}</head>
<body><h3>official @flashphoner/websdk</h3><main id="displays"></main>
<script>
  ${PAGE_COMMON}
  const SDK = RoomApi.sdk;
  const SESSION_STATUS = SDK.constants.SESSION_STATUS;
  const ROOM_EVENT = RoomApi.events;
  let room = null;
  window.joinRoom = async function (urlServer, username, roomName) {
    await SDK.init({ preferredMediaProviders: ["WebRTC"] });
    return new Promise(function (resolve, reject) {
      const connection = RoomApi.connect({ urlServer: urlServer, username: username });
      [SESSION_STATUS.FAILED, SESSION_STATUS.DISCONNECTED].forEach(function (s) {
        connection.on(s, function () { record({ kind: "session", status: s }); reject(new Error("session " + s)); });
      });
      connection.on(SESSION_STATUS.ESTABLISHED, function (session) {
        record({ kind: "session", status: "ESTABLISHED" });
        room = session.join({ name: roomName });
        room.on(ROOM_EVENT.STATE, function (r) {
          const ps = r.getParticipants();
          record({ kind: "room", event: "STATE", participants: ps.map(describeParticipant) });
          ps.forEach(playParticipant);
          resolve();
        }).on(ROOM_EVENT.JOINED, function (p) {
          record({ kind: "room", event: "JOINED", login: p.name() });
        }).on(ROOM_EVENT.LEFT, function (p) {
          record({ kind: "room", event: "LEFT", login: p ? p.name() : null });
        }).on(ROOM_EVENT.PUBLISHED, function (p) {
          record({ kind: "room", event: "PUBLISHED", login: p.name(), streams: describeParticipant(p).streams });
          playParticipant(p);
        }).on(ROOM_EVENT.FAILED, function (r, info) {
          record({ kind: "room", event: "FAILED", info: info || null });
          reject(new Error("room FAILED: " + info));
        }).on(ROOM_EVENT.MESSAGE, function (m) {
          record({ kind: "room", event: "MESSAGE", from: m.from ? m.from.name() : null, text: m.text });
        });
      });
    });
  };
  window.publish = function () {
    const stream = room.publish({ display: display("local") });
    watch(stream, "publish");
    return stream.name();
  };
  window.sendTo = function (login, text) {
    const p = room.getParticipants().find(function (x) { return x.name() === login; });
    if (!p) throw new Error("no participant " + login);
    p.sendMessage(text, function () { record({ kind: "error", text: "sendMessage to " + login }); });
  };
  window.ready = true;
</script></body></html>`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const unique = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

let cluster: Cluster;
let browser: BrowserHandle;
const pages: Array<{ label: string; page: Page }> = [];
let node: CliProcess | undefined;

async function diagnostics(): Promise<string> {
  const parts: string[] = [];
  for (const { label, page } of pages) {
    const list = await pageEvents(page).catch(() => [] as PageEvent[]);
    parts.push(`--- ${label} events ---`, ...list.map(({ t: _t, ...e }) => JSON.stringify(e)));
  }
  if (node) parts.push(node.dump());
  parts.push(browser?.consoleDump(60) ?? "(no browser)", "--- server logs ---", cluster?.logs() ?? "");
  return parts.join("\n");
}

class DiagnosedError extends Error {}
async function fail(message: string): Promise<never> {
  throw new DiagnosedError(`${message}\n${await diagnostics()}`);
}

/** Polls `read` until `ok` holds; an exception in `ok` fails at once. Failures carry every page's events. */
async function waitUntil<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = STATUS_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let v: T;
    try {
      v = await read();
      if (ok(v)) return v;
    } catch (e) {
      if (e instanceof DiagnosedError) throw e;
      return fail(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (Date.now() > deadline) return fail(`${what}: not reached within ${timeoutMs} ms`);
    await sleep(200);
  }
}

async function within<T>(what: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof DiagnosedError) throw e;
    return fail(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const pageEvents = (page: Page): Promise<PageEvent[]> => page.evaluate(() => (window as unknown as RoomPage).events);

/** Waits for a page event; a session drop or room FAILED on that page fails at once. */
function waitForPageEvent(page: Page, label: string, what: string, match: (e: PageEvent) => boolean): Promise<PageEvent[]> {
  return waitUntil(`${label}: ${what}`, () => pageEvents(page), (list) => {
    const bad = list.find((e) => (e.kind === "session" && e.status !== "ESTABLISHED") || (e.kind === "room" && e.event === "FAILED") || e.kind === "error");
    if (bad) throw new Error(`unexpected ${JSON.stringify(bad)}`);
    return list.some(match);
  });
}

/** Opens a routed test page on the worker's origin and joins `room` as `login`. */
async function openRoomPage(label: string, html: string, login: string, room: string): Promise<Page> {
  const page = await browser.newPage(label);
  pages.push({ label, page });
  await page.route(`${cluster.httpUrl}/__test/*`, (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === "/__test/room.html") return route.fulfill({ contentType: "text/html", body: html });
    if (path === "/__test/flashphoner-room-api-webrtc-only.js") return route.fulfill({ contentType: "application/javascript", body: OFFICIAL_ROOM_JS });
    return route.fulfill({ status: 404, body: "not found" });
  });
  await page.goto(`${cluster.httpUrl}/__test/room.html`);
  await within(`${label}: page scripts loaded`, page.waitForFunction(() => (window as unknown as RoomPage).ready === true, undefined, { timeout: 15_000 }));
  await within(
    `${label}: join ${room}`,
    page.evaluate(([url, user, r]) => (window as unknown as RoomPage).joinRoom(url, user, r), [cluster.wsUrl, login, room] as const),
  );
  return page;
}

async function publishFromPage(page: Page, label: string): Promise<string> {
  const name = await page.evaluate(() => (window as unknown as RoomPage).publish());
  await waitForPageEvent(page, label, "publish PUBLISHING", (e) => {
    if (e.kind === "stream" && e.key === "publish" && ["UNPUBLISHED", "STOPPED", "FAILED"].includes(e.status ?? "")) {
      throw new Error(`publish ended: ${e.status} ${e.info}`);
    }
    return e.kind === "stream" && e.key === "publish" && e.status === "PUBLISHING";
  });
  return name;
}

/** Both remote <video>s of a page show video, and ~2 s later both have more frames. */
async function expectTwoLiveVideos(page: Page, label: string, logins: [string, string]): Promise<Array<{ login: string; first: VideoStats; second: VideoStats }>> {
  const read = (login: string) => pageVideoStats(page, `#p-${login} video`);
  const firsts = await Promise.all(
    logins.map((l) => waitUntil(`${label} plays ${l}: videoWidth > 0`, () => read(l), (v) => v.videoWidth > 0 && v.framesDecoded > 0)),
  );
  await sleep(2000);
  const seconds = await Promise.all(logins.map(read));
  const out = logins.map((login, i) => ({ login, first: firsts[i]!, second: seconds[i]! }));
  const stalled = out.filter((v) => !(v.second.framesDecoded > v.first.framesDecoded) || v.second.videoWidth === 0);
  if (stalled.length) await fail(`${label}: video not advancing: ${JSON.stringify(stalled)}`);
  return out;
}

/** The CLI's latest per-second stats for `login`'s stream. */
const cliStats = (cli: CliProcess, login: string): CliEvent[] => cli.events().filter((e) => e.type === "stats" && e.login === login);

beforeAll(async () => {
  cluster = await startCluster();
  browser = await launchBrowser();
  // a document fulfilled by page.route() has no server address, so Chromium's Local Network Access checks treat it
  // as public and block its WebSocket to 127.0.0.1 (see browser.test.ts)
  await browser.context.grantPermissions(["local-network-access"], { origin: cluster.httpUrl });
}, 90_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail") {
    for (const { label, page } of pages) if (!page.isClosed()) await saveScreenshot(page, `cross-platform-${label}-failed`);
  }
});

afterAll(async () => {
  node?.kill();
  await browser?.close();
  await cluster?.stop();
}, 30_000);

describe("cross-platform room: our SDK in Chromium + the official Web SDK in Chromium + the Node CLI", () => {
  it(
    "all three publish, see and play each other, and chat",
    async () => {
      const room = unique("xroom");
      // 1. our SDK page joins an empty room and publishes the fake camera
      const web = await openRoomPage("web (our SDK)", OUR_SDK_HTML, "web", room);
      const webState = (await pageEvents(web)).find((e) => e.event === "STATE");
      expect(webState?.participants).toEqual([]);
      const webStream = await publishFromPage(web, "web");
      expect(webStream).toMatch(new RegExp(`^${room}-web-[0-9a-f]{4}$`));

      // 2. the official SDK page joins (STATE lists web and its stream, which it plays) and publishes
      const flash = await openRoomPage("flash (official SDK)", OFFICIAL_SDK_HTML, "flash", room);
      const flashState = (await pageEvents(flash)).find((e) => e.event === "STATE");
      expect(flashState?.participants).toEqual([{ login: "web", streams: [webStream] }]);
      const flashStream = await publishFromPage(flash, "flash");
      await waitForPageEvent(web, "web", "JOINED + PUBLISHED flash", (e) => e.event === "PUBLISHED" && e.login === "flash");

      // 3. the Node CLI joins, plays both, publishes synthetic media and says hello to everyone
      const hello = unique("hello from node");
      node = new CliProcess(["room", "--name", room, "--login", "node", "--publish", "--play-all", "--say", hello, "--url", cluster.wsUrl, "--json"], 110_000);
      const state = await within("node: STATE", node.waitFor("STATE", (e) => e.type === "state", STATUS_TIMEOUT_MS));
      expect((state.participants as Array<{ login: string; streams: string[] }>).sort((a, b) => a.login.localeCompare(b.login))).toEqual([
        { login: "flash", streams: [flashStream] },
        { login: "web", streams: [webStream] },
      ]);
      const published = await within("node: PUBLISHING", node.waitFor("publish PUBLISHING", (e) => e.type === "status" && e.role === "publish" && e.status === "PUBLISHING", STATUS_TIMEOUT_MS));
      const nodeStream = published.name as string;
      expect(nodeStream).toMatch(new RegExp(`^${room}-node-[0-9a-f]{4}$`));
      await within("node: --say sent", node.waitFor("sent", (e) => e.type === "sent" && e.text === hello, STATUS_TIMEOUT_MS));
      for (const login of ["web", "flash"]) {
        await within(`node plays ${login}`, node.waitFor(`PLAYING ${login}`, (e) => e.type === "status" && e.role === "play" && e.login === login && e.status === "PLAYING", STATUS_TIMEOUT_MS));
      }

      // the pages hear of node: JOINED, PUBLISHED (with its stream), its message
      for (const [page, label] of [[web, "web"], [flash, "flash"]] as const) {
        await waitForPageEvent(page, label, "JOINED node", (e) => e.event === "JOINED" && e.login === "node");
        await waitForPageEvent(page, label, "PUBLISHED node", (e) => e.event === "PUBLISHED" && e.login === "node" && (e.streams ?? []).includes(nodeStream));
        await waitForPageEvent(page, label, "node's --say message", (e) => e.event === "MESSAGE" && e.from === "node" && e.text === hello);
      }
      const webRoomEvents = (await pageEvents(web)).filter((e) => e.kind === "room" && e.event !== "MESSAGE").map((e) => `${e.event} ${e.login ?? ""}`.trim());
      expect(webRoomEvents).toEqual(["STATE", "JOINED flash", "PUBLISHED flash", "JOINED node", "PUBLISHED node"]);
      const flashRoomEvents = (await pageEvents(flash)).filter((e) => e.kind === "room" && e.event !== "MESSAGE").map((e) => `${e.event} ${e.login ?? ""}`.trim());
      expect(flashRoomEvents).toEqual(["STATE", "JOINED node", "PUBLISHED node"]);

      // video everywhere: each page plays the two others; the CLI gets frames from both pages
      const [webVideos, flashVideos] = await Promise.all([
        expectTwoLiveVideos(web, "web", ["flash", "node"]),
        expectTwoLiveVideos(flash, "flash", ["web", "node"]),
      ]);
      console.log(`cross-platform videos:\n  web: ${JSON.stringify(webVideos)}\n  flash: ${JSON.stringify(flashVideos)}`);
      for (const login of ["web", "flash"]) {
        const first = await within(
          `node: frames from ${login}`,
          node.waitFor(`frames from ${login}`, (e) => e.type === "stats" && e.login === login && (e.width as number) > 0 && (e.frames as number) > 0, STATUS_TIMEOUT_MS),
        );
        await sleep(2200);
        const last = cliStats(node, login).at(-1)!;
        console.log(`node plays ${login}: ${JSON.stringify(first)} -> ${JSON.stringify(last)}`);
        expect(last.frames as number, await diagnostics()).toBeGreaterThan(first.frames as number);
        expect(last.width as number).toBeGreaterThan(0);
        expect(last.fps as number).toBeGreaterThan(0);
      }
      await saveScreenshot(web, "cross-platform-web-our-sdk");
      await saveScreenshot(flash, "cross-platform-flash-official-sdk");

      // more chat: a line on the CLI's stdin goes to everyone; each page messages node privately
      const typed = unique("typed on stdin");
      node.writeLine(typed);
      for (const [page, label] of [[web, "web"], [flash, "flash"]] as const) {
        await waitForPageEvent(page, label, "node's stdin message", (e) => e.event === "MESSAGE" && e.from === "node" && e.text === typed);
      }
      const fromWeb = unique("web to node");
      const fromFlash = unique("flash to node");
      await web.evaluate(([t]) => (window as unknown as RoomPage).sendTo("node", t), [fromWeb] as const);
      await flash.evaluate(([t]) => (window as unknown as RoomPage).sendTo("node", t), [fromFlash] as const);
      await within("node: message from web", node.waitFor("web's message", (e) => e.type === "message" && e.from === "web" && e.text === fromWeb));
      await within("node: message from flash", node.waitFor("flash's message", (e) => e.type === "message" && e.from === "flash" && e.text === fromFlash));
      for (const [page, label] of [[web, "web"], [flash, "flash"]] as const) {
        const texts = (await pageEvents(page)).filter((e) => e.event === "MESSAGE").map((e) => `${e.from}: ${e.text}`);
        expect(texts, `${label}'s messages`).toEqual([`node: ${hello}`, `node: ${typed}`]);
      }

      // Ctrl-C: the CLI stops its streams, leaves (LEFT on both pages) and exits 0 with per-stream summaries
      const exit = await node.stop("SIGINT");
      expect(exit, node.dump()).toEqual({ code: 0, signal: null });
      const summaries = node.events().filter((e) => e.type === "summary");
      expect(summaries.map((s) => s.login).sort()).toEqual(["flash", "web"]);
      for (const s of summaries) expect(s.frames as number).toBeGreaterThan(30);
      for (const [page, label] of [[web, "web"], [flash, "flash"]] as const) {
        await waitForPageEvent(page, label, "LEFT node", (e) => e.event === "LEFT" && e.login === "node");
      }
      // the browsers still play each other
      const after = await Promise.all([pageVideoStats(web, "#p-flash video"), pageVideoStats(flash, "#p-web video")]);
      await sleep(1500);
      const later = await Promise.all([pageVideoStats(web, "#p-flash video"), pageVideoStats(flash, "#p-web video")]);
      expect(later[0]!.framesDecoded).toBeGreaterThan(after[0]!.framesDecoded);
      expect(later[1]!.framesDecoded).toBeGreaterThan(after[1]!.framesDecoded);
    },
    TEST_TIMEOUT_MS,
  );
});
