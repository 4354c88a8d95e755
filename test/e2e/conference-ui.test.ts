/**
 * The /conference page's call UI in headless Chromium, driven as a person would (clicks, typing, choosing in
 * selects) against one worker + media node; assertions on what the page shows (texts, visible elements, element
 * sizes, video frames). `window.conference.state()` is read only for failure reports.
 *
 * 1. Pre-join: the preview shows the chosen devices (a non-default fake microphone), the choice survives a reload,
 *    the camera toggle turns the preview off and on, and the call publishes the chosen microphone.
 * 2. Two people: mute / unmute of the microphone and camera show on the other's tile and participant list; a chat
 *    message is counted as unread on the closed Chat button until the chat is opened; a screen
 *    share (getDisplayMedia: Chromium's --use-fake-ui-for-media-stream picks a fake 1280×720 screen) is the largest
 *    video on the other page, with live frames, and goes away when stopped.
 * 3. The grid fills the video area (tiles ≥ 70 % of it) for 1, 2, 4 and 9 participants (the extra ones join with
 *    microphone and camera off: name tiles, no media), and a tile goes full screen and back.
 * Pre-join and in-call states (light and dark) pass the axe-core WCAG 2.2 AA check (test/harness/a11y.ts).
 * 4. The WebSocket dropped under one participant (Playwright's routeWebSocket): "Reconnecting…" (role=status), then
 *    the room and both videos are back on both pages.
 */
import type { Locator, Page, WebSocketRoute } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { expectNoSeriousA11yViolations } from "../harness/a11y.js";
import type { Cluster } from "../harness/cluster.js";
import {
  Diagnostics,
  elementProbe,
  pageState,
  saveScreenshot,
  startClusterAndBrowser,
  stopClusterAndBrowser,
  uniqueName as unique,
  type BrowserHandle,
} from "../harness/browser.js";

const VIDEO_TIMEOUT_MS = 20_000;
const TEST_TIMEOUT_MS = 90_000;
/** Participant counts the grid is measured at. */
const GRID_SIZES = [1, 2, 4, 9];

let cluster: Cluster;
let browser: BrowserHandle;
const diag = new Diagnostics({ browser: () => browser, serverLogs: () => cluster?.logs() });
const waitUntil = diag.waitUntil.bind(diag);
/** Pages opened by the current test (closed after it). */
let pages: Page[] = [];

interface ConferenceState {
  session: string;
  room: string | null;
  publish: { status: string } | null;
  error: string;
  history: string[];
  events: unknown[];
}

/** The page's state, for failure reports only (the log of what it did is the useful part). */
async function report(page: Page): Promise<string> {
  const { history, events: _events, ...rest } = await pageState<ConferenceState>(page, "conference");
  return [JSON.stringify(rest, null, 1), "history:", ...history.slice(-50)].join("\n");
}

/** Opens /conference?room=…&login=… (the invite link with a name) and waits for the page's script. */
async function openConference(label: string, room: string, login: string, setup?: (page: Page) => Promise<void>): Promise<Page> {
  const page = await browser.newPage(label);
  pages.push(page);
  diag.reports.set(label, () => report(page));
  await setup?.(page);
  await page.goto(`${cluster.httpUrl}/conference?room=${encodeURIComponent(room)}&login=${encodeURIComponent(login)}`);
  await diag.within(`${label}: page script`, 10_000, page.waitForFunction(() => "conference" in window));
  return page;
}

/** A toggle button by its exact name (its state is in aria-pressed). */
const toggle = (page: Page, name: string): Locator => page.getByRole("button", { name, exact: true });

/** Sets a toggle button to `on` (clicks it when it is not) and waits until it says so. */
async function setToggle(page: Page, label: string, name: string, on: boolean): Promise<void> {
  const button = toggle(page, name);
  if ((await button.getAttribute("aria-pressed")) !== String(on)) await button.click();
  await waitUntil(`${label}: ${name} ${on ? "on" : "off"}`, () => button.getAttribute("aria-pressed"), (v) => v === String(on));
}

/** In the pre-join screen: microphone and camera on or off, then Join; waits for the call's toolbar. */
async function join(page: Page, label: string, { mic = true, camera = true } = {}): Promise<void> {
  await setToggle(page, label, "Microphone", mic);
  await setToggle(page, label, "Camera", camera);
  await page.getByRole("button", { name: "Join", exact: true }).click();
  await diag.within(`${label}: the call's toolbar`, 20_000, page.getByRole("toolbar", { name: "Call controls" }).waitFor());
}

/** The text of the element, "" when there is none. */
const text = async (locator: Locator): Promise<string> => ((await locator.count()) > 0 ? (await locator.first().textContent()) ?? "" : "");

/** Opens the participants panel if it is closed. */
async function openPeople(page: Page): Promise<void> {
  const button = page.getByRole("button", { name: /^People/ });
  if ((await button.getAttribute("aria-pressed")) !== "true") await button.click();
}

/** The page logged no error and threw nothing (console errors, uncaught exceptions, failed requests). */
function expectCleanConsole(page: Page, label: string): void {
  const bad = browser.consoleLines(page).filter((l) => /\[(error|pageerror|requestfailed|crash)\]|\[http [45]\d\d\]/.test(l));
  expect(bad, `${label}'s console`).toEqual([]);
}

/** Waits until our page shows `login`'s camera video playing (frames advancing) in their tile. */
const expectTileVideo = (page: Page, label: string, login: string) =>
  diag.expectLiveVideos([elementProbe(page, `${label} sees ${login}`, `figure[data-login="${login}"] video`)], VIDEO_TIMEOUT_MS);

beforeAll(async () => {
  ({ cluster, browser } = await startClusterAndBrowser());
}, 90_000);

afterAll(() => stopClusterAndBrowser(cluster, browser), 30_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail") {
    for (const [i, page] of pages.entries()) if (!page.isClosed()) await saveScreenshot(page, `conference-ui-failed-${i + 1}`);
  }
  for (const page of pages) await page.close().catch(() => undefined);
  pages = [];
  diag.reports.clear();
});

describe("/conference call UI", () => {
  it(
    "pre-join: previews the chosen microphone, remembers it after a reload, and publishes it",
    async () => {
      const room = unique("prejoin");
      const page = await openConference("ann", room, "ann");
      const inUse = page.locator("#devices-in-use");
      await waitUntil("ann: preview devices", () => text(inUse), (t) => /^Microphone: Fake .+ · Camera: fake_device_0$/.test(t));
      await diag.expectLiveVideos([elementProbe(page, "preview", "#preview video")], VIDEO_TIMEOUT_MS);

      // a non-default microphone, chosen in the picker
      const micPicker = page.getByLabel("Microphone", { exact: true });
      await micPicker.selectOption({ label: "Fake Audio Input 2" });
      await waitUntil("ann: preview on Fake Audio Input 2", () => text(inUse), (t) => t.startsWith("Microphone: Fake Audio Input 2 ·"));
      await saveScreenshot(page, "conference-prejoin");
      await expectNoSeriousA11yViolations(page, "conference pre-join");

      // camera off: the preview shows the initials instead; on again: video again
      await setToggle(page, "ann", "Camera", false);
      await waitUntil("ann: camera off", () => text(inUse), (t) => t.endsWith("Camera: off"));
      expect(await page.locator("#preview-tile .avatar").isVisible()).toBe(true);
      expect(await page.getByText("Camera is off").isVisible()).toBe(true);
      await setToggle(page, "ann", "Camera", true);
      await waitUntil("ann: camera on again", () => text(inUse), (t) => t.endsWith("Camera: fake_device_0"));
      expect(await page.locator("#preview-tile .avatar").isVisible()).toBe(false);

      // the choice is remembered
      await page.reload();
      await diag.within("ann: page script after reload", 10_000, page.waitForFunction(() => "conference" in window));
      await waitUntil("ann: remembered microphone in use", () => text(inUse), (t) => t.startsWith("Microphone: Fake Audio Input 2 ·"));
      expect(await micPicker.evaluate((s: HTMLSelectElement) => s.selectedOptions[0]?.textContent)).toBe("Fake Audio Input 2");

      // the call publishes that microphone (the participants panel lists our devices)
      await join(page, "ann");
      await diag.expectLiveVideos([elementProbe(page, "ann's own tile", "#local video")], VIDEO_TIMEOUT_MS);
      await openPeople(page);
      const me = page.locator("#participants li.me");
      await waitUntil("ann: devices listed", () => text(me), (t) => t.includes("Microphone: Fake Audio Input 2 · Camera: fake_device_0"));
      expect(await text(me)).toContain("mic and camera on");
      await page.getByRole("button", { name: "Leave" }).click();
      await diag.within("ann: back to the pre-join screen", 20_000, page.getByRole("button", { name: "Join", exact: true }).waitFor());
      expectCleanConsole(page, "ann");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "two people: mute and unmute show on the other's page; a screen share is the largest video there",
    async () => {
      const room = unique("call");
      const ann = await openConference("ann", room, "ann");
      await join(ann, "ann");
      const bob = await openConference("bob", room, "bob");
      await join(bob, "bob");
      await Promise.all([expectTileVideo(ann, "ann", "bob"), expectTileVideo(bob, "bob", "ann")]);
      await openPeople(bob);
      await saveScreenshot(bob, "conference-call-2");
      await expectNoSeriousA11yViolations(bob, "conference in a call (participants panel open)");

      const annTile = bob.locator('figure[data-login="ann"]');
      const badge = annTile.locator(".mute-badge");
      const annInList = bob.locator('#participants li[data-login="ann"]');
      const seen = async () => ({ badge: (await badge.isVisible()) ? await text(badge) : "", list: await text(annInList) });

      await toggle(ann, "Microphone").click();
      await waitUntil("bob sees ann's mic muted", seen, (s) => s.badge === "audio muted" && s.list.includes("audio muted"));
      await toggle(ann, "Camera").click();
      await waitUntil("bob sees ann's camera muted", seen, (s) => s.badge === "audio and video muted" && s.list.includes("audio and video muted"));
      expect(await annTile.locator(".avatar").isVisible(), "ann's initials instead of her video").toBe(true);
      expect(await ann.locator("#local-tile .mute-badge").textContent()).toBe("mic off, camera off");
      await toggle(ann, "Microphone").click();
      await toggle(ann, "Camera").click();
      await waitUntil("bob sees ann unmuted", seen, (s) => s.badge === "" && s.list.includes("mic and camera on"));
      expect(await annTile.locator(".avatar").isVisible()).toBe(false);

      // active speaker: with only ann's microphone on (Chromium's fake microphone beeps), bob's page highlights her
      // tile from the level of her received audio; once she mutes, the highlight goes
      const speaking = () => annTile.getAttribute("data-speaking");
      await toggle(bob, "Microphone").click();
      await waitUntil("bob sees ann as the active speaker", speaking, (v) => v === "true");
      await toggle(ann, "Microphone").click();
      await waitUntil("ann's highlight gone once she muted", speaking, (v) => v === null);
      await toggle(ann, "Microphone").click();
      await toggle(bob, "Microphone").click();

      // a message while bob's chat is closed: counted on his Chat button until he opens the chat
      await ann.getByRole("button", { name: /^Chat/ }).click();
      await ann.getByRole("textbox", { name: "Message" }).fill("hello bob");
      await ann.getByRole("textbox", { name: "Message" }).press("Enter");
      const bobChat = bob.getByRole("button", { name: /^Chat/ });
      await waitUntil("bob: 1 unread", async () => (await bobChat.textContent())?.trim(), (t) => t === "Chat 1");
      expect(await bobChat.getAttribute("aria-pressed")).toBe("false");
      await bobChat.click();
      await waitUntil("bob: read", async () => (await bobChat.textContent())?.trim(), (t) => t === "Chat");
      expect(await text(bob.getByRole("log", { name: "Chat messages" }))).toContain("ann: hello bob");
      await bobChat.click();

      // ann shares her screen: on bob's page it is on the stage, the largest video, playing
      await ann.getByRole("button", { name: "Share screen" }).click();
      await waitUntil("ann: sharing", () => ann.getByRole("button", { name: "Stop sharing" }).getAttribute("aria-pressed"), (v) => v === "true");
      const shared = 'figure[data-screen="ann"] video';
      await diag.expectLiveVideos([elementProbe(bob, "bob sees ann's screen", shared)], VIDEO_TIMEOUT_MS);
      const sizes = await bob.locator("video").evaluateAll((videos) =>
        videos.map((v) => {
          const r = v.getBoundingClientRect();
          return { screen: v.closest("figure")?.hasAttribute("data-screen") ?? false, area: r.width * r.height, visible: r.width > 0 };
        }),
      );
      const screenArea = Math.max(...sizes.filter((s) => s.screen).map((s) => s.area));
      const others = sizes.filter((s) => !s.screen && s.visible).map((s) => s.area);
      expect(others.length, "bob's camera videos").toBeGreaterThan(0);
      expect(screenArea, `screen ${screenArea} px² vs cameras ${others.join(", ")} px²`).toBeGreaterThan(Math.max(...others));
      expect(await text(annInList)).toContain("sharing screen");
      await saveScreenshot(bob, "conference-screenshare");
      await bob.getByRole("button", { name: /^Chat/ }).click();
      await bob.emulateMedia({ colorScheme: "dark" });
      await expectNoSeriousA11yViolations(bob, "conference with a screen share and the chat open, dark theme");
      await saveScreenshot(bob, "conference-screenshare-dark");
      await bob.emulateMedia({ colorScheme: "light" });

      await ann.getByRole("button", { name: "Stop sharing" }).click();
      await waitUntil("bob: ann's screen gone", () => bob.locator("figure[data-screen]").count(), (n) => n === 0);
      expect(await bob.locator("#stage").isVisible()).toBe(false);
      expectCleanConsole(ann, "ann");
      expectCleanConsole(bob, "bob");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "the grid fills the video area for 1, 2, 4 and 9 participants; a tile goes full screen",
    async () => {
      const room = unique("grid");
      const host = await openConference("p1", room, "p1");
      await join(host, "p1", { mic: false, camera: false });
      /** The share of the video area covered by tiles, and how many tiles the grid shows. */
      const coverage = () =>
        host.evaluate(() => {
          const region = document.getElementById("videos")!.getBoundingClientRect();
          const tiles = Array.from(document.querySelectorAll("#grid > figure")).map((t) => t.getBoundingClientRect());
          const area = tiles.reduce((sum, r) => sum + r.width * r.height, 0);
          return { tiles: tiles.length, share: area / (region.width * region.height) };
        });
      const results: string[] = [];
      let joined = 1;
      for (const n of GRID_SIZES) {
        for (; joined < n; joined++) {
          const page = await openConference(`p${joined + 1}`, room, `p${joined + 1}`);
          await join(page, `p${joined + 1}`, { mic: false, camera: false });
        }
        const c = await waitUntil(`p1: ${n} tiles`, coverage, (c) => c.tiles === n);
        results.push(`${n}: ${(c.share * 100).toFixed(1)} %`);
        expect(c.share, `tiles cover ${(c.share * 100).toFixed(1)} % of the video area with ${n} participants`).toBeGreaterThanOrEqual(0.7);
        if (n === 4 || n === 9) await saveScreenshot(host, `conference-grid-${n}`);
      }
      console.log(`grid coverage: ${results.join(", ")}`);
      const last = `p${GRID_SIZES[GRID_SIZES.length - 1]}`;
      expect(await host.locator(`figure[data-login="${last}"]`).getByText(last, { exact: true }).isVisible(), `${last}'s name tile`).toBe(true);
      expect(await host.getByRole("navigation", { name: "Pages of videos" }).isVisible(), "no pager for 9").toBe(false);

      // full screen (of the tab in front, as the person's): p2's tile fills the viewport; the button leaves it again
      await host.bringToFront();
      const before = (await host.locator('figure[data-login="p2"]').boundingBox())!;
      await host.getByRole("button", { name: "Full screen: p2" }).click();
      const viewport = host.viewportSize()!;
      await waitUntil("p1: p2's tile full screen", () => host.locator('figure[data-login="p2"]').boundingBox(), (b) => !!b && b.width >= viewport.width - 1);
      await host.getByRole("button", { name: "Exit full screen (p2)" }).click();
      await waitUntil("p1: back from full screen", () => host.locator('figure[data-login="p2"]').boundingBox(), (b) => !!b && Math.abs(b.width - before.width) < 2 && Math.abs(b.height - before.height) < 2);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a dropped connection shows Reconnecting…, then the room and both videos are back",
    async () => {
      const room = unique("drop");
      const sockets: { page: WebSocketRoute; server: WebSocketRoute }[] = [];
      const ann = await openConference("ann", room, "ann", (p) =>
        p.routeWebSocket(/.*/, (ws) => {
          sockets.push({ page: ws, server: ws.connectToServer() });
        }),
      );
      await join(ann, "ann");
      const bob = await openConference("bob", room, "bob");
      await join(bob, "bob");
      await Promise.all([expectTileVideo(ann, "ann", "bob"), expectTileVideo(bob, "bob", "ann")]);
      expect(sockets).toHaveLength(1);

      await sockets[0]!.server.close();
      await sockets[0]!.page.close({ code: 1001, reason: "going away" });
      const banner = ann.getByRole("status").filter({ hasText: /^Reconnecting to the server/ });
      await diag.within("ann: Reconnecting banner", 10_000, banner.waitFor());
      await saveScreenshot(ann, "conference-reconnecting");
      await diag.within("ann: banner gone", 30_000, banner.waitFor({ state: "hidden" }));
      expect(sockets.length, "a new WebSocket").toBeGreaterThanOrEqual(2);
      expect(await ann.locator("#failed").isVisible()).toBe(false);

      // the room is back: each sees the other's video again, and the participant lists agree
      await Promise.all([expectTileVideo(ann, "ann", "bob"), expectTileVideo(bob, "bob", "ann")]);
      await openPeople(ann);
      await waitUntil("ann: bob listed", () => text(ann.locator('#participants li[data-login="bob"]')), (t) => t.includes("mic and camera on"));
      await ann.getByRole("button", { name: /^Chat/ }).click();
      expect(await text(ann.getByRole("log", { name: "Chat messages" }))).toContain("Reconnected.");
      await saveScreenshot(ann, "conference-reconnected");
      expectCleanConsole(bob, "bob");
      expectCleanConsole(ann, "ann");
    },
    TEST_TIMEOUT_MS,
  );
});
