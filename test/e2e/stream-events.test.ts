/**
 * Stream events (docs/protocols.md "Stream events") with the OFFICIAL WCS Web SDK (flashphoner-webrtc-only.js and
 * flashphoner-room-api-webrtc-only.js, unchanged) in headless Chromium, against one worker + media node:
 *
 * - a publisher page calls `stream.muteAudio()`, `unmuteAudio()`, `muteVideo()`, `unmuteVideo()` and
 *   `sendData({...})`; a player page gets the matching STREAM_EVENTs in order, with its own mediaSessionId and
 *   `payload.streamName`; no `fail` (session WARN) reaches either page;
 * - a second player that joins while video is muted gets `videoState.muted === true` in its stream object, REST
 *   `/stream/find` shows the state, REST `/stream/event/send` reaches both players (and 404 for a name not published);
 * - a room participant (Room API page, as in conference.test.ts) playing another participant's room stream gets that
 *   participant's mute and data events;
 * - our pages (public/, our SDK): the Two Way page's mic / camera toggles mute its publisher, and the Player page
 *   shows the "muted" badge (also to a player that opens after the mute).
 */
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Cluster } from "../harness/cluster.js";
import {
  Diagnostics,
  pageState,
  saveScreenshot,
  startClusterAndBrowser,
  stopClusterAndBrowser,
  uniqueName,
  TERMINAL_STATUSES as TERMINAL,
  type BrowserHandle,
} from "../harness/browser.js";
import {
  connectWebSdk,
  OFFICIAL_ROOM_PAGE_HTML,
  openRoomPage,
  openWebSdkPage,
  pageEvents,
  waitForRoomEvent,
  WEBSDK_STREAM_PAGE_HTML,
} from "../harness/sdk-pages.js";

const STATUS_TIMEOUT_MS = 20_000;
const EVENT_TIMEOUT_MS = 10_000;
const TEST_TIMEOUT_MS = 75_000;

/** What the pages record: the stream page's session/stream statuses and (added here) STREAM_EVENTs and WARNs. */
interface Rec {
  kind: "session" | "stream" | "room" | "error" | "streamEvent" | "warn";
  key?: string;
  status?: string;
  event?: string;
  info?: string | null;
  /** streamEvent: the stream's own id() when the event arrived, and the event's fields. */
  id?: string;
  mediaSessionId?: string;
  type?: string;
  payload?: unknown;
  t: number;
}

let cluster: Cluster;
let browser: BrowserHandle;
const diag = new Diagnostics({ browser: () => browser, serverLogs: () => cluster?.logs() }, 80);
const events = (page: Page): Promise<Rec[]> => pageEvents<Rec>(page);
const format = (list: Rec[]): string => list.map(({ t: _t, ...e }) => JSON.stringify(e)).join("\n");

beforeAll(async () => {
  ({ cluster, browser } = await startClusterAndBrowser());
}, 90_000);

afterAll(() => stopClusterAndBrowser(cluster, browser), 30_000);

/** REST call to the cluster (open: AUTH off, no REST_API_TOKEN). */
async function rest(path: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${cluster.httpUrl}/rest-api${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

/**
 * Records every STREAM_EVENT of the page's stream `expr` (a page expression evaluating to a Web SDK Stream) as
 * `{kind: "streamEvent", key, id: stream.id(), mediaSessionId, type, payload}`. A string, not a function: the page
 * has none of the test file's transform helpers.
 */
function recordStreamEvents(page: Page, expr: string, key: string): Promise<void> {
  return page.evaluate(`(() => {
    const s = ${expr};
    s.on(${JSON.stringify("STREAM_EVENT")}, function (e) {
      record({ kind: "streamEvent", key: ${JSON.stringify(key)}, id: s.id(), mediaSessionId: e.mediaSessionId, type: e.type,
        payload: e.payload === undefined ? null : e.payload });
    });
  })()`);
}

/** Records the session's WARN events (the server's `fail`) of the page's Web SDK session `expr`. */
function recordWarnings(page: Page, expr: string): Promise<void> {
  return page.evaluate(`(() => {
    ${expr}.on("WARN", function (f) { record({ kind: "warn", info: (f && f.info) || null }); });
  })()`);
}

/** Fails when `page` recorded a WARN (a `fail` from the server) or a session WARN status. */
async function expectNoWarnings(page: Page, label: string): Promise<void> {
  const warns = (await events(page)).filter((e) => e.kind === "warn" || (e.kind === "session" && e.status === "WARN"));
  expect(warns, `${label} got fail/WARN from the server`).toEqual([]);
}

/** Waits until `page` recorded `n` STREAM_EVENTs for `key`; returns them in order. */
async function streamEvents(page: Page, label: string, key: string, n: number): Promise<Rec[]> {
  const list = await diag.waitUntil(
    `${label}: ${n} STREAM_EVENTs of ${key}`,
    () => events(page),
    (l) => l.filter((e) => e.kind === "streamEvent" && e.key === key).length >= n,
    EVENT_TIMEOUT_MS,
  );
  return list.filter((e) => e.kind === "streamEvent" && e.key === key);
}

// ---------------------------------------------------------------------------------------------------------------
describe("official Web SDK: mute, unmute and sendData reach the players", () => {
  let publisher: Page;
  let player: Page;
  let player2: Page;

  async function openStreamPage(label: string): Promise<Page> {
    const page = await openWebSdkPage(browser, cluster.httpUrl, label, { entry: "websdk.html", html: WEBSDK_STREAM_PAGE_HTML, sdkFile: "flashphoner-webrtc-only.js" });
    diag.reports.set(label, async () => format(await events(page)));
    const status = await diag.within(`${label}: Web SDK session`, STATUS_TIMEOUT_MS, connectWebSdk(page, cluster.wsUrl));
    if (status !== "ESTABLISHED") await diag.fail(`${label}: Web SDK session ${status}`);
    return page;
  }

  async function start(page: Page, label: string, key: string, name: string, mode: "publish" | "play"): Promise<void> {
    await page.evaluate(([k, n, m]) => (window as unknown as { startStream(k: string, n: string, m: string): void }).startStream(k, n, m), [key, name, mode] as const);
    const want = mode === "publish" ? "PUBLISHING" : "PLAYING";
    await diag.waitUntil(`${label}: ${key} ${want}`, () => events(page), (l) => {
      const ended = l.find((e) => e.kind === "stream" && e.key === key && TERMINAL.has(e.status ?? ""));
      if (ended) throw new Error(`${key} ended: ${ended.status} (${ended.info})`);
      return l.some((e) => e.kind === "stream" && e.key === key && e.status === want);
    }, STATUS_TIMEOUT_MS);
  }

  /** Calls `stream.<method>(...args)` on the page's stream `key`. */
  const call = (page: Page, key: string, method: string, ...args: unknown[]): Promise<void> =>
    page.evaluate(`window.streams[${JSON.stringify(key)}].${method}(...${JSON.stringify(args)})`);
  const streamId = (page: Page, key: string): Promise<string> => page.evaluate(`window.streams[${JSON.stringify(key)}].id()`);

  beforeAll(async () => {
    publisher = await openStreamPage("publisher");
    player = await openStreamPage("player");
    player2 = await openStreamPage("player2");
  }, TEST_TIMEOUT_MS);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail") {
      for (const [label, page] of [["publisher", publisher], ["player", player], ["player2", player2]] as const) {
        if (page && !page.isClosed()) await saveScreenshot(page, `stream-events-${label}-${ctx.task.name}`);
      }
    }
  });

  afterAll(async () => {
    for (const page of [publisher, player, player2]) await page?.close().catch(() => undefined);
    for (const label of ["publisher", "player", "player2"]) diag.reports.delete(label);
  });

  it(
    "the player gets audioMuted, audioUnmuted, videoMuted, videoUnmuted and data in order, with its own mediaSessionId and payload.streamName",
    async () => {
      const name = uniqueName("events");
      await start(publisher, "publisher", "pub", name, "publish");
      await start(player, "player", "play", name, "play");
      await recordStreamEvents(player, "window.streams.play", "play");
      const data = { number: 33, string: "hello", boolean: true, list: [1, { nested: "x" }] };
      const sentAt = Date.now();
      // one task, as fast as the page can: the server must keep their order
      await publisher.evaluate(`(() => {
        const s = window.streams.pub;
        s.muteAudio(); s.unmuteAudio(); s.muteVideo(); s.unmuteVideo(); s.sendData(${JSON.stringify(data)});
      })()`);
      const got = await streamEvents(player, "player", "play", 5);
      console.log(`stream events: 5 events at the player ${got[4]!.t - sentAt} ms after the publisher's calls`);
      const playId = await streamId(player, "play");
      expect(got.map((e) => ({ type: e.type, mediaSessionId: e.mediaSessionId, id: e.id, payload: e.payload }))).toEqual([
        { type: "audioMuted", mediaSessionId: playId, id: playId, payload: { streamName: name } },
        { type: "audioUnmuted", mediaSessionId: playId, id: playId, payload: { streamName: name } },
        { type: "videoMuted", mediaSessionId: playId, id: playId, payload: { streamName: name } },
        { type: "videoUnmuted", mediaSessionId: playId, id: playId, payload: { streamName: name } },
        { type: "data", mediaSessionId: playId, id: playId, payload: data },
      ]);
      expect(playId).not.toBe(await streamId(publisher, "pub"));
      // the publisher's tracks followed its own calls (the Web SDK disables them): all enabled again
      expect(await publisher.evaluate("window.streams.pub.isAudioMuted() || window.streams.pub.isVideoMuted()")).toBe(false);
      await expectNoWarnings(publisher, "publisher");
      await expectNoWarnings(player, "player");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a player joining while video is muted gets videoState.muted in its stream object; REST find shows it; REST event/send reaches every player",
    async () => {
      const name = uniqueName("muted");
      await start(publisher, "publisher", "pub2", name, "publish");
      await start(player, "player", "early", name, "play");
      await recordStreamEvents(player, "window.streams.early", "early");
      await call(publisher, "pub2", "muteVideo");
      expect((await streamEvents(player, "player", "early", 1))[0]).toMatchObject({ type: "videoMuted", payload: { streamName: name } });

      await start(player2, "player2", "late", name, "play");
      await recordStreamEvents(player2, "window.streams.late", "late");
      expect(await player2.evaluate("[window.streams.late.getVideoState(), window.streams.late.getAudioState()]")).toEqual([{ muted: true }, { muted: false }]);

      const found = await rest("/stream/find", { name });
      expect(found.status).toBe(200);
      const objects = JSON.parse(found.text) as Array<{ published: boolean; audioState: unknown; videoState: unknown }>;
      expect(objects.map((o) => [o.published, o.audioState, o.videoState])).toEqual([
        [true, { muted: false }, { muted: true }],
        [false, { muted: false }, { muted: true }],
        [false, { muted: false }, { muted: true }],
      ]);

      const payload = { from: "rest", at: Date.now() };
      expect(await rest("/stream/event/send", { streamName: name, payload })).toEqual({ status: 200, text: "" });
      expect(await rest("/stream/event/send", { streamName: uniqueName("nobody"), payload })).toEqual({ status: 404, text: JSON.stringify({ error: "Stream not found" }) });
      const early = await streamEvents(player, "player", "early", 2);
      const late = await streamEvents(player2, "player2", "late", 1);
      expect(early[1]).toMatchObject({ type: "data", payload, mediaSessionId: await streamId(player, "early") });
      expect(late[0]).toMatchObject({ type: "data", payload, mediaSessionId: await streamId(player2, "late") });

      await call(publisher, "pub2", "unmuteVideo");
      expect((await streamEvents(player, "player", "early", 3))[2]).toMatchObject({ type: "videoUnmuted", payload: { streamName: name } });
      expect((await streamEvents(player2, "player2", "late", 2))[1]).toMatchObject({ type: "videoUnmuted", payload: { streamName: name } });
      const after = JSON.parse((await rest("/stream/find", { name })).text) as Array<{ videoState: unknown }>;
      expect(after.map((o) => o.videoState)).toEqual([{ muted: false }, { muted: false }, { muted: false }]);
      for (const [page, label] of [[publisher, "publisher"], [player, "player"], [player2, "player2"]] as const) await expectNoWarnings(page, label);
    },
    TEST_TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------------------------
describe("official Room API: a participant playing a room stream gets its publisher's events", () => {
  let alice: Page;
  let boris: Page;

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail") {
      for (const [label, page] of [["alice", alice], ["boris", boris]] as const) {
        if (page && !page.isClosed()) await saveScreenshot(page, `stream-events-room-${label}`);
      }
    }
  });

  afterAll(async () => {
    for (const page of [alice, boris]) await page?.close().catch(() => undefined);
    for (const label of ["room-alice", "room-boris"]) diag.reports.delete(label);
  });

  it(
    "boris plays alice's room stream and gets her muteAudio / muteVideo / sendData / unmute events",
    async () => {
      const room = uniqueName("room");
      const open = (label: string, login: string) =>
        openRoomPage(browser, diag, cluster, { label, html: OFFICIAL_ROOM_PAGE_HTML, login, room, timeoutMs: STATUS_TIMEOUT_MS });
      // the room page's Web SDK session (RoomApi.connect makes one): its WARN events are recorded too
      const session = "RoomApi.sdk.getSessions()[0]";
      alice = await open("room-alice", "alice");
      await recordWarnings(alice, session);
      const streamName = await alice.evaluate(() => (window as unknown as { publish(): string }).publish());
      await waitForRoomEvent(diag, alice, "alice", "publish PUBLISHING", (e) => e.kind === "stream" && e.key === "publish" && e.status === "PUBLISHING");

      boris = await open("room-boris", "boris");
      await recordWarnings(boris, session);
      await waitForRoomEvent(diag, boris, "boris", `play ${streamName} PLAYING`, (e) => e.kind === "stream" && e.key === "play:alice" && e.status === "PLAYING");
      const player = `window.players[${JSON.stringify(streamName)}]`;
      await recordStreamEvents(boris, player, "alice");

      const mine = `${session}.getStreams().find(function (s) { return s.name() === ${JSON.stringify(streamName)}; })`;
      await alice.evaluate(`(() => { const s = ${mine}; s.muteAudio(); s.muteVideo(); s.sendData({ hello: "boris" }); s.unmuteAudio(); s.unmuteVideo(); })()`);
      const got = await streamEvents(boris, "boris", "alice", 5);
      const playId = await boris.evaluate(`${player}.id()`);
      expect(got.map((e) => [e.type, e.mediaSessionId, e.payload])).toEqual([
        ["audioMuted", playId, { streamName }],
        ["videoMuted", playId, { streamName }],
        ["data", playId, { hello: "boris" }],
        ["audioUnmuted", playId, { streamName }],
        ["videoUnmuted", playId, { streamName }],
      ]);
      await expectNoWarnings(alice, "alice");
      await expectNoWarnings(boris, "boris");
    },
    TEST_TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------------------------
describe("our pages: the Two Way page's mute toggles, the Player page's muted badge", () => {
  interface TwoWay {
    session: string;
    publish: { status: string } | null;
    publishMuted: { audio: boolean; video: boolean };
    history: string[];
  }
  interface Player {
    play: { status: string } | null;
    publisherMuted: string;
    history: string[];
  }
  const pages: Page[] = [];

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail") for (const [i, page] of pages.entries()) await saveScreenshot(page, `stream-events-pages-${i}`);
    // uncaught errors of our page scripts or of the SDK's listeners fail the test (as in pages.test.ts)
    const errors = pages.flatMap((page) => browser.consoleLines(page).filter((l) => l.includes("[pageerror]") || (l.includes("[error]") && l.includes("[wcs-sdk]"))));
    for (const page of pages.splice(0)) await page.close().catch(() => undefined);
    for (const label of ["two-way", "player-page", "late-player-page"]) diag.reports.delete(label);
    expect(errors, "uncaught errors in the pages").toEqual([]);
  });

  async function openOurPage<S extends { history: string[] }>(label: string, path: string, global: string): Promise<Page> {
    const page = await browser.newPage(label);
    pages.push(page);
    diag.reports.set(label, async () => JSON.stringify(await pageState<S>(page, global), null, 1));
    await page.goto(cluster.httpUrl + path);
    await diag.within(`${label}: window.${global}`, 10_000, page.waitForFunction((g) => g in window, global));
    return page;
  }

  it(
    "Mute video / Mute mic on Two Way show 'video muted' / 'audio and video muted' on the Player page; unmute hides it",
    async () => {
      const name = uniqueName("page-mute");
      const twoWay = await openOurPage<TwoWay>("two-way", `/two-way?publish=${name}`, "twoWay");
      const twoWayState = () => pageState<TwoWay>(twoWay, "twoWay");
      expect(await twoWay.isDisabled(".mute-toggle[data-kind=video]"), "no stream to mute yet").toBe(true);
      await twoWay.click("#connect");
      await diag.waitUntil("two-way: ESTABLISHED", twoWayState, (s) => s.session === "ESTABLISHED");
      await twoWay.click("#publish");
      await diag.waitUntil("two-way: PUBLISHING", twoWayState, (s) => s.publish?.status === "PUBLISHING", STATUS_TIMEOUT_MS);

      const player = await openOurPage<Player>("player-page", `/player?name=${name}`, "player");
      const playerState = () => pageState<Player>(player, "player");
      await player.click("#play");
      await diag.waitUntil("player: PLAYING", playerState, (s) => s.play?.status === "PLAYING", STATUS_TIMEOUT_MS);
      expect(await player.isHidden(".mute-badge"), "nothing muted yet").toBe(true);

      await twoWay.click(".mute-toggle[data-kind=video]");
      expect(await twoWay.textContent(".mute-toggle[data-kind=video]")).toBe("Unmute video");
      expect((await twoWayState()).publishMuted).toEqual({ audio: false, video: true });
      await diag.waitUntil("player: video muted", playerState, (s) => s.publisherMuted === "video muted", EVENT_TIMEOUT_MS);
      expect(await player.textContent(".mute-badge")).toBe("video muted");
      expect(await player.isVisible(".mute-badge")).toBe(true);

      await twoWay.click(".mute-toggle[data-kind=audio]");
      await diag.waitUntil("player: audio and video muted", playerState, (s) => s.publisherMuted === "audio and video muted", EVENT_TIMEOUT_MS);

      // a player opened now starts with the badge (the state comes in its PLAYING stream object)
      const late = await openOurPage<Player>("late-player-page", `/player?name=${name}`, "player");
      await late.click("#play");
      await diag.waitUntil("late player: PLAYING, audio and video muted", () => pageState<Player>(late, "player"),
        (s) => s.play?.status === "PLAYING" && s.publisherMuted === "audio and video muted", STATUS_TIMEOUT_MS);
      await saveScreenshot(late, "stream-events-player-muted");

      await twoWay.click(".mute-toggle[data-kind=audio]");
      await twoWay.click(".mute-toggle[data-kind=video]");
      await diag.waitUntil("player: nothing muted", playerState, (s) => s.publisherMuted === "", EVENT_TIMEOUT_MS);
      expect(await player.isHidden(".mute-badge")).toBe(true);
      expect((await twoWayState()).publishMuted).toEqual({ audio: false, video: false });
    },
    TEST_TIMEOUT_MS,
  );
});
