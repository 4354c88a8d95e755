/**
 * Room API ("roomApp") end to end in headless Chromium, against one worker + media node.
 *
 * a) Three-way video chat. "alice" and "boris" use the OFFICIAL Web SDK room API (flashphoner-room-api-webrtc-only.js,
 *    unchanged, global `RoomApi`) on a test page routed inside the browser on the worker's origin; "anna" uses our
 *    /conference page. A Node participant cannot publish into the room: a spawned wrtc client (test/clients) opens
 *    its own session and has no way to send `join`, and RoomDO.onStreamStatus announces a room stream only when its
 *    publishing session is the participant's session, so a wrtc publisher next to a joined WcsSocket "anna" would
 *    never be PUBLISHED. So anna is a third Chromium tab; the tabs share the fake camera.
 * b) Our /conference page alone (public/conference.js on our SDK): two logins join via the page controls, publish,
 *    see each other, chat, leave; a login already in the room is refused with the server's reason on the page.
 */
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Cluster } from "../harness/cluster.js";
import {
  Diagnostics,
  TERMINAL_STATUSES as TERMINAL,
  elementProbe,
  pageState,
  pageVideoStats,
  phoneOverflow,
  saveScreenshot,
  startClusterAndBrowser,
  stopClusterAndBrowser,
  sleep,
  uniqueName as unique,
  type BrowserHandle,
  type VideoProbe,
} from "../harness/browser.js";
import {
  OFFICIAL_ROOM_PAGE_HTML,
  openRoomPage,
  pageEvents,
  waitForRoomEvent,
  type RoomPage,
  type RoomPageEvent as SdkEvent,
} from "../harness/sdk-pages.js";

const STATUS_TIMEOUT_MS = 20_000;
const VIDEO_TIMEOUT_MS = 20_000;
const TEST_TIMEOUT_MS = 75_000;

interface RemoteState {
  login: string;
  name: string;
  status: string;
  info: string;
  videoWidth: number;
  videoHeight: number;
  framesDecoded: number;
}

interface ConferenceState {
  session: string;
  login: string | null;
  room: string | null;
  participants: string[];
  publish: { id: string; name: string; status: string; info: string } | null;
  remote: RemoteState[];
  messages: Array<{ from: string; text: string; t: number }>;
  events: Array<{ name: string; room: string; info: unknown }>;
  error: string;
  history: string[];
}

let cluster: Cluster;
let browser: BrowserHandle;
const diag = new Diagnostics({ browser: () => browser, serverLogs: () => cluster?.logs() });
const fail = (message: string): Promise<never> => diag.fail(message);
const waitUntil = diag.waitUntil.bind(diag);
const within = diag.within.bind(diag);

// ---- our /conference page --------------------------------------------------------------------------------------

const confState = (page: Page): Promise<ConferenceState> => pageState<ConferenceState>(page, "conference");

function formatConfState(s: ConferenceState): string {
  const { history, events, ...rest } = s;
  return [
    JSON.stringify(rest, null, 1),
    "room events: " + events.map((e) => `${e.name} ${JSON.stringify(e.info)}`).join(" | "),
    "history:",
    ...history.slice(-60),
  ].join("\n");
}

async function openConference(label: string, room: string, login: string): Promise<Page> {
  const page = await browser.newPage(label);
  diag.reports.set(label, async () => formatConfState(await confState(page)));
  const url = `${cluster.httpUrl}/conference?room=${encodeURIComponent(room)}&login=${encodeURIComponent(login)}`;
  const response = await page.goto(url);
  if (response?.status() !== 200) await fail(`${label}: GET ${url} → ${response?.status()}`);
  await within(`${label}: window.conference (conference.js did not load?)`, 10_000, page.waitForFunction(() => "conference" in window));
  return page;
}

/** Clicks Join on our page's pre-join screen and waits until the room is joined (the call view is shown). */
async function joinConference(page: Page, label: string, room: string): Promise<ConferenceState> {
  await page.getByRole("button", { name: "Join", exact: true }).click();
  const s = await waitUntil(`${label}: join ${room}`, () => confState(page), (s) => {
    if (s.error) throw new Error(`page error: ${s.error}`);
    return s.room === room && s.session === "ESTABLISHED";
  });
  await page.getByRole("toolbar", { name: "Call controls" }).waitFor();
  return s;
}

/** After joining with the microphone and camera on (the pre-join default), our page publishes: waits for PUBLISHING. */
async function waitPublishing(page: Page, label: string): Promise<ConferenceState> {
  return waitUntil(`${label}: publish`, () => confState(page), (s) => {
    if (s.publish && TERMINAL.has(s.publish.status)) throw new Error(`publish ended: ${JSON.stringify(s.publish)}`);
    return s.publish?.status === "PUBLISHING";
  });
}

/** Opens the chat panel (unless open) and sends `text` to `recipient` ("" = everyone) with the form. */
async function sendConferenceChat(page: Page, recipient: string, text: string): Promise<void> {
  const toggle = page.getByRole("button", { name: /^Chat/ });
  if ((await toggle.getAttribute("aria-pressed")) !== "true") await toggle.click();
  await page.getByRole("combobox", { name: "Recipient" }).selectOption(recipient);
  await page.getByRole("textbox", { name: "Message" }).fill(text);
  await page.getByRole("button", { name: "Send" }).click();
}

// ---- the SDK room page -----------------------------------------------------------------------------------------

const sdkEvents = (page: Page): Promise<SdkEvent[]> => pageEvents<SdkEvent>(page);

/** The official Web SDK's room API on a page routed on the worker's origin, joined to `room` (STATE expected). */
function openSdkRoom(label: string, login: string, room: string): Promise<Page> {
  return openRoomPage(browser, diag, cluster, { label, html: OFFICIAL_ROOM_PAGE_HTML, login, room, timeoutMs: STATUS_TIMEOUT_MS });
}

/** Waits for an SDK page event matching `match`; fails at once on a session drop or a room FAILED. */
const waitForSdkEvent = (page: Page, label: string, what: string, match: (e: SdkEvent) => boolean): Promise<SdkEvent[]> =>
  waitForRoomEvent(diag, page, label, what, match);

async function waitForSdkStream(page: Page, label: string, key: string, status: string): Promise<void> {
  await waitForSdkEvent(page, label, `stream ${key} ${status}`, (e) => {
    if (e.kind === "stream" && e.key === key && TERMINAL.has(e.status ?? "") && e.status !== status) {
      throw new Error(`stream ${key} ended: ${e.status} (${e.info})`);
    }
    return e.kind === "stream" && e.key === key && e.status === status;
  });
}

// ---- video checks ----------------------------------------------------------------------------------------------

/** Our page: a remote stream's tile (video element size + framesDecoded from getStats). */
function conferenceProbe(page: Page, label: string, login: string): VideoProbe {
  return {
    label,
    async read() {
      const s = await confState(page);
      const r = s.remote.find((x) => x.login === login);
      return { videoWidth: r?.videoWidth ?? 0, videoHeight: r?.videoHeight ?? 0, framesDecoded: r?.framesDecoded ?? 0 };
    },
  };
}

const expectLiveVideos = (probes: VideoProbe[]) => diag.expectLiveVideos(probes, VIDEO_TIMEOUT_MS);

// ---------------------------------------------------------------------------------------------------------------

beforeAll(async () => {
  ({ cluster, browser } = await startClusterAndBrowser());
}, 90_000);

afterAll(() => stopClusterAndBrowser(cluster, browser), 30_000);

describe("three-way video chat: official Web SDK room API (alice, boris) + our /conference page (anna)", () => {
  const room = unique("room");
  let alice: Page;
  let boris: Page;
  let anna: Page;

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail") {
      for (const [label, page] of [["alice", alice], ["boris", boris], ["anna", anna]] as const) {
        if (page && !page.isClosed()) await saveScreenshot(page, `room-sdk-${label}-failed`);
      }
    }
  });

  afterAll(async () => {
    for (const page of [alice, boris, anna]) await page?.close().catch(() => undefined);
    for (const label of ["alice", "boris", "anna"]) diag.reports.delete(label);
  });

  it(
    "joins, publishes, plays all six streams, delivers private and to-all messages, and announces LEFT",
    async () => {
      // alice: joins an empty room and publishes
      alice = await openSdkRoom("alice", "alice", room);
      const aliceState = (await sdkEvents(alice)).find((e) => e.event === "STATE");
      expect(aliceState?.participants, "alice's STATE").toEqual([]);
      const aliceStream = await alice.evaluate(() => (window as unknown as RoomPage).publish());
      expect(aliceStream).toMatch(new RegExp(`^${room}-alice-[0-9a-f]{4}$`));
      await waitForSdkStream(alice, "alice", "publish", "PUBLISHING");

      // boris: joins (STATE carries alice's stream, which he plays) and publishes (alice gets PUBLISHED and plays it)
      boris = await openSdkRoom("boris", "boris", room);
      const borisState = (await sdkEvents(boris)).find((e) => e.event === "STATE");
      expect(borisState?.participants, "boris's STATE").toEqual([{ login: "alice", streams: [aliceStream] }]);
      await waitForSdkEvent(alice, "alice", "JOINED boris", (e) => e.event === "JOINED" && e.login === "boris");
      const borisStream = await boris.evaluate(() => (window as unknown as RoomPage).publish());
      await waitForSdkStream(boris, "boris", "publish", "PUBLISHING");
      await waitForSdkEvent(alice, "alice", "PUBLISHED boris", (e) => e.event === "PUBLISHED" && e.login === "boris" && !!e.streams?.includes(borisStream));

      // anna (our page): joins (STATE carries both streams) and publishes (both get PUBLISHED)
      anna = await openConference("anna", room, "anna");
      const annaJoined = await joinConference(anna, "anna", room);
      expect([...annaJoined.participants].sort()).toEqual(["alice", "boris"]);
      const annaStateEvent = annaJoined.events.find((e) => e.name === "STATE");
      expect(annaStateEvent?.info, "anna's STATE").toEqual(
        expect.arrayContaining([{ login: "alice", name: aliceStream }, { login: "boris", name: borisStream }]),
      );
      await waitForSdkEvent(alice, "alice", "JOINED anna", (e) => e.event === "JOINED" && e.login === "anna");
      await waitForSdkEvent(boris, "boris", "JOINED anna", (e) => e.event === "JOINED" && e.login === "anna");
      const annaPublished = await waitPublishing(anna, "anna");
      const annaStream = annaPublished.publish!.name;
      expect(annaStream).toMatch(new RegExp(`^${room}-anna-[0-9a-f]{4}$`));
      for (const [page, label] of [[alice, "alice"], [boris, "boris"]] as const) {
        await waitForSdkEvent(page, label, "PUBLISHED anna", (e) => e.event === "PUBLISHED" && e.login === "anna" && !!e.streams?.includes(annaStream));
      }

      // nobody hears about itself
      for (const [page, label] of [[alice, "alice"], [boris, "boris"]] as const) {
        const own = (await sdkEvents(page)).filter((e) => e.kind === "room" && (e.login === label || e.event === "STATE" && e.participants?.some((p) => p.login === label)));
        expect(own, `${label} got events about itself`).toEqual([]);
      }
      expect(annaPublished.events.filter((e) => e.name !== "STATE"), "anna's room events before anyone else acted").toEqual([]);

      // all six players: PLAYING, video size > 0, frames advancing
      await waitForSdkStream(alice, "alice", "play:boris", "PLAYING");
      await waitForSdkStream(alice, "alice", "play:anna", "PLAYING");
      await waitForSdkStream(boris, "boris", "play:alice", "PLAYING");
      await waitForSdkStream(boris, "boris", "play:anna", "PLAYING");
      await waitUntil("anna: both remote streams PLAYING", () => confState(anna), (s) =>
        ["alice", "boris"].every((l) => s.remote.some((r) => r.login === l && r.status === "PLAYING")),
      );
      const videos = await expectLiveVideos([
        elementProbe(alice, "alice plays boris", "#p-boris video"),
        elementProbe(alice, "alice plays anna", "#p-anna video"),
        elementProbe(boris, "boris plays alice", "#p-alice video"),
        elementProbe(boris, "boris plays anna", "#p-anna video"),
        conferenceProbe(anna, "anna plays alice", "alice"),
        conferenceProbe(anna, "anna plays boris", "boris"),
      ]);
      console.log("six players:\n" + videos.map((v) => `  ${v.label}: ${JSON.stringify(v.first)} -> ${JSON.stringify(v.second)}`).join("\n"));
      const annaTiles = await Promise.all(["alice", "boris"].map((l) => pageVideoStats(anna, `figure[data-login="${l}"] video`)));
      for (const v of annaTiles) expect(v.videoWidth).toBeGreaterThan(0);
      await saveScreenshot(anna, "room-anna-three-way");
      await saveScreenshot(alice, "room-sdk-alice-three-way");

      // messages: private alice → boris (SDK), private boris → anna (SDK → our page), anna → everyone (our page)
      const toBoris = unique("for-boris-only");
      const toAnna = unique("for-anna-only");
      const toAll = unique("for-everyone");
      await alice.evaluate(([t]) => (window as unknown as RoomPage).sendTo("boris", t), [toBoris] as const);
      await boris.evaluate(([t]) => (window as unknown as RoomPage).sendTo("anna", t), [toAnna] as const);
      await waitForSdkEvent(boris, "boris", "alice's private message", (e) => e.event === "MESSAGE" && e.from === "alice" && e.text === toBoris);
      await waitUntil("anna: boris's private message", () => confState(anna), (s) => s.messages.some((m) => m.from === "boris" && m.text === toAnna));
      await sendConferenceChat(anna, "", toAll);
      for (const [page, label] of [[alice, "alice"], [boris, "boris"]] as const) {
        await waitForSdkEvent(page, label, "anna's message to everyone", (e) => e.event === "MESSAGE" && e.from === "anna" && e.text === toAll);
      }
      await sleep(300);
      const aliceMsgs = (await sdkEvents(alice)).filter((e) => e.event === "MESSAGE").map((e) => e.text);
      const borisMsgs = (await sdkEvents(boris)).filter((e) => e.event === "MESSAGE").map((e) => e.text);
      const annaMsgs = (await confState(anna)).messages.map((m) => m.text);
      expect(aliceMsgs, "alice's messages").toEqual([toAll]);
      expect(borisMsgs, "boris's messages").toEqual([toBoris, toAll]);
      expect(annaMsgs, "anna's messages").toEqual([toAnna]);
      expect((await sdkEvents(alice)).filter((e) => e.kind === "error"), "alice's sendMessage errors").toEqual([]);
      expect((await confState(anna)).error, "anna's page error").toBe("");

      // boris leaves: alice and anna see LEFT; his stream disappears from both
      await within("boris: room.leave()", STATUS_TIMEOUT_MS, boris.evaluate(() => (window as unknown as RoomPage).leave()));
      await waitForSdkEvent(alice, "alice", "LEFT boris", (e) => e.event === "LEFT" && e.login === "boris");
      const annaAfter = await waitUntil("anna: boris gone (LEFT, no tile)", () => confState(anna), (s) =>
        !s.participants.includes("boris") && !s.remote.some((r) => r.login === "boris") && s.events.some((e) => e.name === "LEFT" && e.info === "boris"),
      );
      expect(annaAfter.participants).toEqual(["alice"]);
      expect(await anna.locator(`figure[data-login="boris"]`).count()).toBe(0);
      await waitForSdkEvent(alice, "alice", "player of boris ended", (e) => e.kind === "stream" && e.key === "play:boris" && TERMINAL.has(e.status ?? ""));
      await waitForSdkStream(boris, "boris", "publish", "UNPUBLISHED");
      expect(await alice.evaluate(() => (window as unknown as RoomPage).participants().map((p) => p.login))).toEqual(["anna"]);
      // the others are unaffected: alice still plays anna and anna still plays alice
      await expectLiveVideos([elementProbe(alice, "alice plays anna (after boris left)", "#p-anna video"), conferenceProbe(anna, "anna plays alice (after boris left)", "alice")]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe("our /conference page", () => {
  const room = unique("conf");
  let carol: Page;
  let dave: Page;

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail") {
      for (const [label, page] of [["carol", carol], ["dave", dave]] as const) {
        if (page && !page.isClosed()) await saveScreenshot(page, `conference-${label}-failed`);
      }
    }
  });

  afterAll(async () => {
    for (const page of [carol, dave]) await page?.close().catch(() => undefined);
    diag.reports.delete("carol");
    diag.reports.delete("dave");
  });

  it("is served at /conference (without .html)", async () => {
    const res = await fetch(`${cluster.httpUrl}/conference?room=x`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain('src="/conference.js"');
    for (const asset of ["/conference.js", "/common.js", "/sdk/wcs-sdk.mjs"]) {
      const r = await fetch(cluster.httpUrl + asset);
      await r.body?.cancel();
      expect(r.status, asset).toBe(200);
    }
  });

  it(
    "two logins join via the page, publish, see each other's video, chat, and one leaves",
    async () => {
      carol = await openConference("carol", room, "carol");
      expect(await carol.getByRole("textbox", { name: "Room" }).inputValue()).toBe(room);
      expect(await carol.getByLabel("Your name").inputValue()).toBe("carol");
      expect(await carol.getByLabel("Invite link").inputValue()).toBe(`${cluster.httpUrl}/conference?room=${room}`);
      const carolJoined = await joinConference(carol, "carol", room);
      expect(carolJoined.participants).toEqual([]);
      await waitPublishing(carol, "carol");

      // dave's page opens with carol's login: refused, with the server's reason shown
      dave = await openConference("dave", room, "carol");
      await dave.getByRole("button", { name: "Join", exact: true }).click();
      const refused = await waitUntil("dave (as carol): join refused", () => confState(dave), (s) => s.error !== "");
      expect(refused.error).toContain("Login is already in use in this room");
      expect(refused.room).toBeNull();
      expect(await dave.textContent("#error")).toContain("Login is already in use in this room");

      await dave.getByLabel("Your name").fill("dave");
      const daveJoined = await joinConference(dave, "dave", room);
      expect(daveJoined.participants).toEqual(["carol"]);
      await waitPublishing(dave, "dave");
      await waitUntil("carol: JOINED + PUBLISHED dave", () => confState(carol), (s) =>
        s.participants.includes("dave") && s.events.some((e) => e.name === "PUBLISHED" && (e.info as { login?: string }).login === "dave"),
      );

      await waitUntil("carol plays dave, dave plays carol", async () => ({ carol: await confState(carol), dave: await confState(dave) }), (s) =>
        s.carol.remote.some((r) => r.login === "dave" && r.status === "PLAYING") && s.dave.remote.some((r) => r.login === "carol" && r.status === "PLAYING"),
      );
      await expectLiveVideos([
        conferenceProbe(carol, "carol plays dave", "dave"),
        conferenceProbe(dave, "dave plays carol", "carol"),
        elementProbe(carol, "carol's tile of dave", `figure[data-login="dave"] video`),
        elementProbe(dave, "dave's tile of carol", `figure[data-login="carol"] video`),
        elementProbe(carol, "carol's camera", "#local video"),
        elementProbe(dave, "dave's camera", "#local video"),
      ]);

      // chat: to everyone, then a private message chosen in the recipient selector
      const hello = unique("hello everyone");
      const secret = unique("just for dave");
      await sendConferenceChat(dave, "", hello);
      await waitUntil("carol receives dave's message", () => confState(carol), (s) => s.messages.some((m) => m.from === "dave" && m.text === hello));
      await sendConferenceChat(carol, "dave", secret);
      await waitUntil("dave receives carol's private message", () => confState(dave), (s) => s.messages.some((m) => m.from === "carol" && m.text === secret));
      expect(await carol.getByRole("log", { name: "Chat messages" }).textContent()).toContain(hello);
      expect(await dave.getByRole("log", { name: "Chat messages" }).textContent()).toContain(secret);
      expect((await confState(carol)).error).toBe("");
      expect((await confState(dave)).error).toBe("");
      await saveScreenshot(carol, "conference");
      await saveScreenshot(dave, "conference-dave");
      expect(await phoneOverflow(dave, "conference-phone"), "horizontal overflow at phone width (px)").toBeLessThanOrEqual(0);

      // carol leaves: her stream ends, dave sees LEFT and loses her tile
      await carol.getByRole("button", { name: "Leave" }).click();
      const carolLeft = await waitUntil("carol: left", () => confState(carol), (s) => s.room === null && s.login === null);
      expect(TERMINAL.has(carolLeft.publish?.status ?? ""), `carol's publish after leave: ${JSON.stringify(carolLeft.publish)}`).toBe(true);
      expect(carolLeft.remote).toEqual([]);
      const daveAfter = await waitUntil("dave: carol LEFT", () => confState(dave), (s) =>
        s.participants.length === 0 && s.remote.length === 0 && s.events.some((e) => e.name === "LEFT" && e.info === "carol"),
      );
      expect(daveAfter.events.filter((e) => e.name === "UNPUBLISHED").map((e) => (e.info as { login: string }).login)).toEqual(["carol"]);
      expect(await dave.getByRole("log", { name: "Chat messages" }).textContent()).toContain("carol left.");
      expect(daveAfter.publish?.status).toBe("PUBLISHING");
      expect(daveAfter.error).toBe("");
      await saveScreenshot(dave, "conference-dave-after-carol-left");
    },
    TEST_TIMEOUT_MS,
  );
});
