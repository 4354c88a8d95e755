/**
 * Test pages of the Chromium test files that drive an SDK through `window.*` functions and record every callback in
 * `window.events`: the event recorder they share, the official Web SDK's stream page, and the Room API pages (the official Web SDK's room API, and our
 * SDK's `roomApi`) that conference.test.ts and cross-platform.test.ts join rooms with.
 */
import type { Page } from "playwright-core";
import { openRoutedPage, websdkFile, type BrowserHandle, type Diagnostics } from "./browser.js";

/**
 * Page script: `window.events` and `record(e)`, which stamps `e.t`, appends it and logs it as `EVENT {...}` (so a
 * failing test prints it with the console).
 */
export const EVENT_RECORDER_JS = `
  window.events = [];
  function record(e) {
    e.t = Date.now();
    window.events.push(e);
    console.log("EVENT " + JSON.stringify(e));
  }
`;

/** `window.events` of a page that uses {@link EVENT_RECORDER_JS}. */
export function pageEvents<E>(page: Page): Promise<E[]> {
  return page.evaluate(() => (window as unknown as { events: unknown[] }).events) as Promise<E[]>;
}

/**
 * Opens `html` at /__test/<entry> on `origin` (see {@link openRoutedPage}), with the official Web SDK's script
 * `sdkFile` (a file of @flashphoner/websdk) at /__test/<sdkFile>.
 */
export function openWebSdkPage(
  browser: BrowserHandle,
  origin: string,
  label: string,
  page: { entry: string; html: string; sdkFile: string },
): Promise<Page> {
  return openRoutedPage(
    browser,
    origin,
    label,
    {
      [page.entry]: { contentType: "text/html", body: page.html },
      [page.sdkFile]: { contentType: "application/javascript", body: websdkFile(page.sdkFile) },
    },
    page.entry,
  );
}

/**
 * Stream test page of the official Web SDK (flashphoner-webrtc-only.js): `connect(urlServer, custom?)` resolves with
 * the session's first ESTABLISHED / FAILED / DISCONNECTED; `startStream(key, name, "publish" | "play", options?)`
 * (`options`: more createStream options, e.g. `stripCodecs`) and `stopStream(key)`. Every session status (with the `info` of a WARN, the server's `fail`) and stream status is
 * recorded in `window.events` ({@link StreamPageEvent}). Each stream plays/publishes into its own div.
 */
export const WEBSDK_STREAM_PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>Web SDK test</title>
<script src="/__test/flashphoner-webrtc-only.js"></script></head>
<body><main id="displays"></main>
<script>
  const { SESSION_STATUS, STREAM_STATUS } = Flashphoner.constants;
  ${EVENT_RECORDER_JS}
  window.streams = {};
  let session = null;
  window.connect = async function (urlServer, custom) {
    await Flashphoner.init({ preferredMediaProviders: ["WebRTC"] });
    return new Promise(function (resolve) {
      session = Flashphoner.createSession(custom === undefined ? { urlServer: urlServer } : { urlServer: urlServer, custom: custom });
      Object.values(SESSION_STATUS).forEach(function (s) {
        session.on(s, function (a, b) {
          // WARN's callback gets the server's fail object; the others get the session (and ESTABLISHED its user data)
          const obj = s === SESSION_STATUS.WARN ? a : b;
          record({ kind: "session", status: s, info: obj && obj.info });
          if (s === SESSION_STATUS.ESTABLISHED || s === SESSION_STATUS.FAILED || s === SESSION_STATUS.DISCONNECTED) resolve(s);
        });
      });
    });
  };
  window.startStream = function (key, name, mode, options) {
    const display = document.createElement("div");
    display.id = "d-" + key;
    display.style.cssText = "width:320px;height:240px;display:inline-block";
    document.getElementById("displays").appendChild(display);
    const stream = session.createStream(Object.assign({ name: name, display: display }, options || {}));
    Object.values(STREAM_STATUS).forEach(function (s) {
      stream.on(s, function (st) {
        record({ kind: "stream", key: key, name: name, status: st.status(), info: st.getInfo() });
      });
    });
    window.streams[key] = stream;
    if (mode === "publish") stream.publish(); else stream.play();
  };
  window.stopStream = function (key) { window.streams[key].stop(); };
</script></body></html>`;

/** What {@link WEBSDK_STREAM_PAGE_HTML} records. */
export interface StreamPageEvent {
  kind: "session" | "stream";
  key?: string;
  name?: string;
  status: string;
  info?: string;
  t: number;
}

/** Connects the page's Web SDK session (`custom` as createSession's); resolves with its first ESTABLISHED / FAILED / DISCONNECTED. */
export function connectWebSdk(page: Page, url: string, custom?: unknown): Promise<string> {
  return page.evaluate(
    ([u, c]) => (window as unknown as { connect(u: string, c?: unknown): Promise<string> }).connect(u, c),
    [url, custom] as const,
  );
}

/** What both room pages record. */
export interface RoomPageEvent {
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

/** The functions both room pages expose (`participants` and `leave`: the official SDK's page only). */
export interface RoomPage {
  events: RoomPageEvent[];
  ready?: boolean;
  joinRoom(url: string, login: string, room: string): Promise<void>;
  publish(): string;
  sendTo(login: string, text: string): void;
  participants(): Array<{ login: string; streams: string[] }>;
  leave(): Promise<void>;
}

/** The part both room pages share: event recording, displays, playing every participant's streams. */
const ROOM_PAGE_COMMON = `
  ${EVENT_RECORDER_JS}
  window.players = {};
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
  window.publish = function () {
    const stream = room.publish({ display: display("local") });
    watch(stream, "publish");
    return stream.name();
  };
`;

const PAGE_STYLE = "<style>.display{width:320px;height:240px;display:inline-block;margin:2px;background:#000}video{width:100%;height:100%}</style>";

/** Our SDK (ES module bundle served by the worker), used as its docs show. */
export const OUR_ROOM_PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>our SDK room</title>${PAGE_STYLE}</head>
<body><h3>our SDK</h3><main id="displays"></main>
<script type="module">
  import { roomApi, ROOM_EVENT, SESSION_STATUS } from "/sdk/wcs-sdk.mjs";
  let room = null;
  ${ROOM_PAGE_COMMON}
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
  window.sendTo = function (login, text) {
    const p = room.getParticipant(login);
    if (!p) throw new Error("no participant " + login);
    p.sendMessage(text).catch(function (e) { record({ kind: "error", text: "sendMessage to " + login + ": " + e.message }); });
  };
  window.ready = true;
</script></body></html>`;

/**
 * The official Web SDK's room API (flashphoner-room-api-webrtc-only.js, unchanged, global `RoomApi`), used the way
 * its conference demo does: connect → join on ESTABLISHED → play every participant's streams (on STATE and
 * PUBLISHED). `joinRoom` resolves on STATE.
 */
export const OFFICIAL_ROOM_PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>official room API</title>
<script src="/__test/flashphoner-room-api-webrtc-only.js"></script>${PAGE_STYLE}</head>
<body><h3>official @flashphoner/websdk</h3><main id="displays"></main>
<script>
  const SDK = RoomApi.sdk;
  const SESSION_STATUS = SDK.constants.SESSION_STATUS;
  const ROOM_EVENT = RoomApi.events;
  let room = null;
  ${ROOM_PAGE_COMMON}
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
  window.participants = function () { return room.getParticipants().map(describeParticipant); };
  window.sendTo = function (login, text) {
    const p = room.getParticipants().find(function (x) { return x.name() === login; });
    if (!p) throw new Error("no participant " + login);
    p.sendMessage(text, function () { record({ kind: "error", text: "sendMessage to " + login }); });
  };
  window.leave = function () {
    return room.leave().then(function () { record({ kind: "room", event: "LEFT_SELF" }); });
  };
  window.ready = true;
</script></body></html>`;

/**
 * Opens a room page (`html`: {@link OUR_ROOM_PAGE_HTML} or {@link OFFICIAL_ROOM_PAGE_HTML}) routed on `origin`,
 * registers its events as `label`'s report in `diag`, and joins `room` as `login` at `wsUrl` (the official page:
 * until STATE; ours: until joined).
 */
export async function openRoomPage(
  browser: BrowserHandle,
  diag: Diagnostics,
  urls: { httpUrl: string; wsUrl: string },
  opts: { label: string; html: string; login: string; room: string; timeoutMs: number },
): Promise<Page> {
  const { label, html, login, room, timeoutMs } = opts;
  const page = await openWebSdkPage(browser, urls.httpUrl, label, { entry: "room.html", html, sdkFile: "flashphoner-room-api-webrtc-only.js" });
  diag.reports.set(label, async () => formatRoomEvents(await pageEvents<RoomPageEvent>(page)));
  await diag.within(`${label}: page scripts loaded`, 15_000, page.waitForFunction(() => (window as unknown as RoomPage).ready === true));
  await diag.within(
    `${label}: join ${room} as ${login}`,
    timeoutMs,
    page.evaluate(([url, user, r]) => (window as unknown as RoomPage).joinRoom(url, user, r), [urls.wsUrl, login, room] as const),
  );
  return page;
}

function formatRoomEvents(list: RoomPageEvent[]): string {
  return list
    .map((e) => {
      const { kind, t: _t, ...rest } = e;
      return `${kind} ${JSON.stringify(rest)}`;
    })
    .join("\n");
}

/**
 * Waits for an event of a room page matching `match`; fails at once on a session drop or a room FAILED (and, with
 * `failOnError`, on a recorded error).
 */
export function waitForRoomEvent(
  diag: Diagnostics,
  page: Page,
  label: string,
  what: string,
  match: (e: RoomPageEvent) => boolean,
  opts: { timeoutMs?: number; failOnError?: boolean } = {},
): Promise<RoomPageEvent[]> {
  return diag.waitUntil(
    `${label}: ${what}`,
    () => pageEvents<RoomPageEvent>(page),
    (list) => {
      const bad = list.find(
        (e) => (e.kind === "session" && e.status !== "ESTABLISHED") || (e.kind === "room" && e.event === "FAILED") || (opts.failOnError === true && e.kind === "error"),
      );
      if (bad) throw new Error(`unexpected ${JSON.stringify(bad)}`);
      return list.some(match);
    },
    opts.timeoutMs,
  );
}
