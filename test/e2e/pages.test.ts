/**
 * Our demo pages (public/, on our SDK at /sdk/wcs-sdk.mjs) in headless Chromium (fake camera/mic) against one worker
 * + media node, driven as a person would: type a name, click Connect / Publish / Play / Stop, read the statuses and
 * errors on the page. Every playing <video> must have a size and advancing frames. The pages expose
 * `window.<page>.state()` (statuses, errors, a debug log) for the assertions and failure reports.
 *
 * - Streamer `/`: a chosen microphone and camera (remembered across a reload), publish + preview from the server, the
 *   microphone meter moving, the Sending / Receiving readouts, the Player link and its Copy button, a second
 *   publisher of the same name refused, a refused camera.
 * - Two Way Streaming `/two-way`: distinct prefilled names, the invite link that swaps them, two pages publish to and
 *   play each other; a dropped connection is reported.
 * - Player `/player?name=`: plays the named stream with its resolution and Receiving readout, Full screen reachable
 *   in a 1280×860 window, publisher stop; a name not published yet is waited for until it plays, and Cancel stops
 *   waiting.
 * Each page's main state passes axe's WCAG 2.2 A/AA rules (serious and critical).
 *
 * Screenshots: test-results/streamer.png, two-way.png, player.png, player-waiting.png and their -phone variants (390
 * px wide, which must not overflow horizontally). At most three pages publish at once.
 */
import type { Page, WebSocketRoute } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Cluster } from "../harness/cluster.js";
import {
  Diagnostics,
  TERMINAL_STATUSES as TERMINAL,
  elementProbe,
  pageState,
  phoneOverflow,
  saveScreenshot,
  sleep,
  startClusterAndBrowser,
  stopClusterAndBrowser,
  uniqueName,
  type BrowserHandle,
} from "../harness/browser.js";
import { expectNoSeriousA11yViolations } from "../harness/a11y.js";

const STATUS_TIMEOUT_MS = 20_000;
const VIDEO_TIMEOUT_MS = 20_000;
const TEST_TIMEOUT_MS = 60_000;

interface StreamInfo {
  id: string;
  name: string;
  status: string;
  info: string;
  error: string;
}
interface VideoInfo {
  videoWidth: number;
  videoHeight: number;
  frames: number;
}
interface StreamerState {
  session: string;
  publish: StreamInfo | null;
  play: StreamInfo | null;
  error: string;
  local: VideoInfo;
  preview: VideoInfo;
  tracks: string[];
  history: string[];
}
interface TwoWayState {
  session: string;
  url: string;
  publish: StreamInfo | null;
  play: StreamInfo | null;
  error: string;
  local: VideoInfo;
  remote: VideoInfo;
  resolution: string;
  history: string[];
}
interface PlayerState {
  session: string;
  play: StreamInfo | null;
  waitingFor: string | null;
  error: string;
  resolution: string;
  muted: boolean | null;
  video: VideoInfo;
  history: string[];
}

const PAGES = [
  { path: "/", global: "streamer", script: "/streamer.js", title: "Streamer" },
  { path: "/two-way", global: "twoWay", script: "/two-way.js", title: "Two Way Streaming" },
  { path: "/player", global: "player", script: "/player.js", title: "Player" },
  { path: "/conference", global: "conference", script: "/conference.js", title: "Conference" },
] as const;
type PageGlobal = (typeof PAGES)[number]["global"];

let cluster: Cluster;
let browser: BrowserHandle;
const diag = new Diagnostics({ browser: () => browser, serverLogs: () => cluster?.logs() });
const open = new Map<string, Page>();

/** Opens one of our pages (path may carry a query) and waits for its `window.<global>`. */
async function openPage(label: string, path: string, global: PageGlobal, init?: (page: Page) => Promise<unknown>): Promise<Page> {
  const page = await browser.newPage(label);
  open.set(label, page);
  diag.reports.set(label, async () => {
    const { history, ...rest } = await pageState<{ history: string[] }>(page, global);
    return [JSON.stringify(rest, null, 1), "history:", ...history.slice(-40)].join("\n");
  });
  await init?.(page);
  const response = await page.goto(cluster.httpUrl + path);
  if (response?.status() !== 200) await diag.fail(`${label}: GET ${path} → ${response?.status()}`);
  await diag.within(`${label}: window.${global} (page script did not load?)`, 10_000, page.waitForFunction((g) => g in window, global));
  return page;
}

async function closePage(label: string): Promise<void> {
  await open.get(label)?.close().catch(() => undefined);
  open.delete(label);
  diag.reports.delete(label);
}

/** Fails at once when a stream that should stay up has ended. */
function alive(what: string, ...streams: Array<StreamInfo | null>): void {
  for (const st of streams) if (st && TERMINAL.has(st.status)) throw new Error(`${what} ended: ${JSON.stringify(st)}`);
}

const streamerState = (page: Page) => pageState<StreamerState>(page, "streamer");
const twoWayState = (page: Page) => pageState<TwoWayState>(page, "twoWay");
const playerState = (page: Page) => pageState<PlayerState>(page, "player");

/** Streamer page: types `name`, clicks Publish, waits for PUBLISHING and the preview PLAYING. */
async function streamerPublish(page: Page, label: string, name: string): Promise<StreamerState> {
  await diag.waitUntil(`${label}: session ESTABLISHED`, () => streamerState(page), (s) => s.session === "ESTABLISHED");
  await page.fill("#name", name);
  await page.click("#publish");
  return diag.waitUntil(`${label}: PUBLISHING + preview PLAYING`, () => streamerState(page), (s) => {
    alive(`${label} stream`, s.publish, s.play);
    return s.publish?.status === "PUBLISHING" && s.play?.status === "PLAYING";
  }, STATUS_TIMEOUT_MS);
}

/** The numbers of a getStats readout ("1,234 kbps · 640×480 · 30 fps"). */
function readout(text: string | null): { kbps: number; size: string } {
  return { kbps: Number(/([\d,]+) kbps/.exec(text ?? "")?.[1]?.replace(/,/g, "") ?? 0), size: /\d+×\d+/.exec(text ?? "")?.[0] ?? "" };
}

/** Waits until the readout named `name` ("Sending", "Receiving") shows a bitrate and `size` (any size when omitted). */
async function expectReadout(page: Page, label: string, name: string, size?: string): Promise<string> {
  const output = page.getByRole("status", { name, exact: true });
  const text = await diag.waitUntil(`${label}: ${name} readout`, () => output.textContent(), (t) => {
    const r = readout(t);
    return r.kbps > 0 && (size ? r.size === size : r.size !== "");
  });
  return text ?? "";
}

beforeAll(async () => {
  ({ cluster, browser } = await startClusterAndBrowser());
  // the Copy buttons write to the clipboard (a person's browser asks, or allows it on a click)
  await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: cluster.httpUrl });
}, 90_000);

afterAll(() => stopClusterAndBrowser(cluster, browser), 30_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail") {
    for (const [label, page] of open) if (!page.isClosed()) await saveScreenshot(page, `pages-${label}-failed`);
  }
  // uncaught exceptions in our page scripts, and exceptions of our SDK listeners (the SDK logs them as console
  // errors), fail the test
  const pageErrors = [...open.values()].flatMap((page) =>
    browser.consoleLines(page).filter((l) => l.includes("[pageerror]") || (l.includes("[error]") && l.includes("[wcs-sdk]"))),
  );
  for (const label of [...open.keys()]) await closePage(label);
  expect(pageErrors, "uncaught errors in the pages").toEqual([]);
});

// ---------------------------------------------------------------------------------------------------------------
describe("every page", () => {
  it("is served at its path with the shared navigation, on the SDK bundle", async () => {
    for (const { path, script, title } of PAGES) {
      const res = await fetch(cluster.httpUrl + path);
      expect(res.status, path).toBe(200);
      const html = await res.text();
      expect(html, path).toContain(`<title>${title}</title>`);
      expect(html, path).toContain(`src="${script}"`);
      for (const link of PAGES) expect(html, `${path} links to ${link.path}`).toContain(`href="${link.path}"`);
      const js = await (await fetch(cluster.httpUrl + script)).text();
      expect(js, script).toContain('from "/sdk/wcs-sdk.mjs"');
    }
    for (const asset of ["/common.js", "/style.css", "/sdk/wcs-sdk.mjs", "/sdk/wcs-sdk.js"]) {
      const r = await fetch(cluster.httpUrl + asset);
      await r.body?.cancel();
      expect(r.status, asset).toBe(200);
    }
    const old = await fetch(cluster.httpUrl + "/wcs-client.js");
    await old.body?.cancel();
    expect(old.status, "the old hand-written client is gone").toBe(404);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("Streamer at /", () => {
  it(
    "publishes the chosen camera and microphone, previews it from the server, shows the mic level, figures and the Player link, refuses a second publisher of the name, stops, and remembers the devices",
    async () => {
      const page = await openPage("streamer", "/", "streamer");
      const name = uniqueName("streamer");
      // Chromium's fake devices: "Fake Default Audio Input", "Fake Audio Input 1/2"; one camera "fake_device_0"
      const mic = page.getByLabel("Microphone", { exact: true });
      const camera = page.getByLabel("Camera", { exact: true });
      await mic.selectOption({ label: "Fake Audio Input 2" });
      await camera.selectOption({ label: "fake_device_0" });
      const live = await streamerPublish(page, "streamer", name);
      expect(live.tracks.sort(), "the chosen devices are published").toEqual(["audio: Fake Audio Input 2", "video: fake_device_0"]);
      expect(await mic.isDisabled(), "no device change while publishing").toBe(true);
      expect(live.publish?.name).toBe(name);
      expect(live.play?.name).toBe(name);
      expect(await page.textContent("#session-status")).toBe("ESTABLISHED");
      expect(await page.textContent("#publish-status")).toBe("PUBLISHING");
      expect(await page.textContent("#play-status")).toBe("PLAYING");
      await diag.expectLiveVideos(
        [elementProbe(page, "streamer camera", "#local video"), elementProbe(page, "streamer preview", "#preview video")],
        VIDEO_TIMEOUT_MS,
      );
      expect(await page.textContent("#preview-resolution")).toBe("640×480"); // Chromium's fake camera
      // the fake microphone beeps: the meter moves
      const meter = page.getByRole("meter", { name: "Microphone level" });
      await diag.waitUntil("streamer: microphone level > 0", async () => Number(await meter.getAttribute("value")), (v) => v > 0, 10_000);
      await expectReadout(page, "streamer", "Sending");
      await expectReadout(page, "streamer", "Receiving", "640×480");
      // the Player link, shown in full, and its Copy button
      const link = page.getByRole("link", { name: `${cluster.httpUrl}/player?name=${name}` });
      expect(await link.getAttribute("href")).toBe(`${cluster.httpUrl}/player?name=${name}`);
      await page.getByRole("button", { name: "Copy link" }).click();
      await page.getByText("Copied.").waitFor();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`${cluster.httpUrl}/player?name=${name}`);
      expect((await streamerState(page)).error).toBe("");
      await saveScreenshot(page, "streamer");
      await expectNoSeriousA11yViolations(page, "streamer (publishing)");
      expect(await phoneOverflow(page, "streamer-phone"), "horizontal overflow at 390 px").toBeLessThanOrEqual(0);

      // a second Streamer tab types the same name: refused, with the reason on the page; the first one is unaffected
      const second = await openPage("streamer-2", "/", "streamer");
      await diag.waitUntil("streamer-2: session ESTABLISHED", () => streamerState(second), (s) => s.session === "ESTABLISHED");
      await second.fill("#name", name);
      await second.click("#publish");
      const refused = await diag.waitUntil("streamer-2: publish FAILED", () => streamerState(second), (s) => s.publish?.status === "FAILED");
      expect(refused.publish?.info).toBe("Stream name is already in use");
      expect(refused.error).toContain("already being published");
      expect(await second.textContent("#error")).toContain(`“${name}” is already being published`);
      expect(await second.isVisible("#error")).toBe(true);
      expect(await second.textContent("#publish-status")).toBe("FAILED (Stream name is already in use)");
      expect(await second.isEnabled("#publish"), "Publish can be tried again").toBe(true);
      expect(await second.locator("#local video").count(), "no camera left on").toBe(0);
      await saveScreenshot(second, "streamer-name-in-use");
      await closePage("streamer-2");
      const still = await streamerState(page);
      alive("first streamer after the refused publish", still.publish, still.play);

      await page.click("#stop");
      const stopped = await diag.waitUntil("streamer: UNPUBLISHED", () => streamerState(page), (s) => s.publish?.status === "UNPUBLISHED" && TERMINAL.has(s.play?.status ?? ""));
      expect(stopped.error).toBe("");
      expect(await page.textContent("#publish-status")).toMatch(/^UNPUBLISHED/);
      expect(await page.locator("video").count(), "videos removed").toBe(0);
      expect(await page.isEnabled("#publish")).toBe(true);
      expect(await meter.getAttribute("value"), "the meter is empty again").toBe("0");

      // a reload (the next visit) keeps the chosen devices
      await page.reload();
      await diag.waitUntil("streamer: the pickers keep the chosen devices after a reload",
        async () => [await mic.locator("option:checked").textContent(), await camera.locator("option:checked").textContent()],
        ([m, c]) => m === "Fake Audio Input 2" && c === "fake_device_0", 10_000);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "tells the user when camera access is refused",
    async () => {
      const page = await openPage("streamer-denied", "/", "streamer", (p) =>
        p.addInitScript(() => {
          navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
        }),
      );
      await diag.waitUntil("streamer-denied: session ESTABLISHED", () => streamerState(page), (s) => s.session === "ESTABLISHED");
      await page.click("#publish");
      const s = await diag.waitUntil("streamer-denied: publish FAILED", () => streamerState(page), (x) => x.publish?.status === "FAILED");
      expect(s.publish?.info).toBe("Local error");
      expect(s.error).toContain("Camera/microphone access was refused");
      expect(await page.isVisible("#error")).toBe(true);
      expect(await page.textContent("#publish-status")).toBe("FAILED (Local error)");
      expect(await page.isEnabled("#publish")).toBe(true);
      await saveScreenshot(page, "streamer-camera-refused");
    },
    TEST_TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------------------------
describe("Two Way Streaming at /two-way", () => {
  it(
    "prefills distinct names, swaps them with the invite link; both publish and play each other; stop and publisher stop",
    async () => {
      const a = await openPage("two-way-a", "/two-way", "twoWay");
      const b = await openPage("two-way-b", "/two-way", "twoWay");
      expect(await a.inputValue("#url")).toBe(cluster.wsUrl + "/");
      expect(await a.isDisabled("#publish"), "Publish waits for Connect").toBe(true);
      // each page publishes under a random name of its own; Play waits for the other side's name
      const publishAs = (page: Page) => page.getByLabel("Publish as");
      const play = (page: Page) => page.getByLabel("Play", { exact: true });
      const nameA = await publishAs(a).inputValue();
      expect(nameA).toMatch(/^stream-[0-9a-f]{4}$/);
      expect(await publishAs(b).inputValue(), "the two pages' names differ").not.toBe(nameA);
      expect(await play(a).inputValue(), "Play is not prefilled with our own name").toBe("");

      // a creates the invite: a name for the other side goes into a's Play, the link swaps the two names
      await a.getByRole("button", { name: "Create invite link" }).click();
      const nameB = await play(a).inputValue();
      expect(nameB).toMatch(/^stream-[0-9a-f]{4}$/);
      expect(nameB).not.toBe(nameA);
      const invite = `${cluster.httpUrl}/two-way?publish=${nameB}&play=${nameA}`;
      expect(await a.locator("#invite-link").textContent()).toBe(invite);
      expect(await a.locator("#invite-link").getAttribute("href")).toBe(invite);
      await a.getByRole("button", { name: "Copy invite link" }).click();
      await a.getByText("Copied.").waitFor();
      // b opens the invite: the names are swapped
      await b.goto(invite);
      await diag.within("b: window.twoWay after the invite", 10_000, b.waitForFunction(() => "twoWay" in window));
      expect(await publishAs(b).inputValue()).toBe(nameB);
      expect(await play(b).inputValue()).toBe(nameA);
      expect(await b.locator("#invite-link").textContent(), "b's invite points back at a").toBe(`${cluster.httpUrl}/two-way?publish=${nameA}&play=${nameB}`);

      for (const [page, label] of [[a, "a"], [b, "b"]] as const) {
        await page.getByRole("button", { name: "Connect" }).click();
        await diag.waitUntil(`${label}: session ESTABLISHED`, () => twoWayState(page), (s) => s.session === "ESTABLISHED");
        expect(await page.textContent("#connect")).toBe("Disconnect");
        await page.getByRole("button", { name: "Publish" }).click();
      }
      for (const [page, label] of [[a, "a"], [b, "b"]] as const) {
        await diag.waitUntil(`${label}: PUBLISHING`, () => twoWayState(page), (s) => {
          alive(`${label} publisher`, s.publish);
          return s.publish?.status === "PUBLISHING";
        });
        await page.click("#play");
      }
      for (const [page, label, theirs] of [[a, "a", nameB], [b, "b", nameA]] as const) {
        const s = await diag.waitUntil(`${label}: PLAYING`, () => twoWayState(page), (x) => {
          alive(`${label} streams`, x.publish, x.play);
          return x.play?.status === "PLAYING";
        });
        expect(s.play?.name).toBe(theirs);
        expect(await page.textContent("#publish-status")).toBe("PUBLISHING");
        expect(await page.textContent("#play-status")).toBe("PLAYING");
        expect(await page.textContent("#publish")).toBe("Stop");
      }
      await diag.expectLiveVideos(
        [
          elementProbe(a, "a camera", "#local video"),
          elementProbe(a, "a plays b", "#remote video"),
          elementProbe(b, "b camera", "#local video"),
          elementProbe(b, "b plays a", "#remote video"),
        ],
        VIDEO_TIMEOUT_MS,
      );
      for (const page of [a, b]) {
        const s = await twoWayState(page);
        expect(s.resolution).toBe("640×480"); // Chromium's fake camera, as played back
        expect(`${s.remote.videoWidth}×${s.remote.videoHeight}`).toBe(s.resolution);
        expect(s.error).toBe("");
      }
      await expectReadout(a, "a", "Sending");
      await expectReadout(a, "a", "Receiving", "640×480");
      const meter = a.getByRole("meter", { name: "Microphone level" });
      await diag.waitUntil("a: microphone level > 0", async () => Number(await meter.getAttribute("value")), (v) => v > 0, 10_000);
      await saveScreenshot(a, "two-way");
      await expectNoSeriousA11yViolations(a, "two-way (publishing and playing)");
      expect(await phoneOverflow(a, "two-way-phone"), "horizontal overflow at 390 px").toBeLessThanOrEqual(0);

      // a stops playing (STOPPED), then stops publishing: b's player ends with the publisher's stop, shown to b
      await a.click("#play");
      await diag.waitUntil("a: play STOPPED", () => twoWayState(a), (s) => s.play?.status === "STOPPED");
      await a.click("#publish");
      await diag.waitUntil("a: UNPUBLISHED", () => twoWayState(a), (s) => s.publish?.status === "UNPUBLISHED");
      const bAfter = await diag.waitUntil("b: player FAILED", () => twoWayState(b), (s) => s.play?.status === "FAILED");
      expect(bAfter.play?.info).toBe("Stopped by publisher stop");
      expect(bAfter.error).toContain(`The publisher of “${nameA}” stopped it`);
      expect(bAfter.publish?.status, "b still publishes").toBe("PUBLISHING");
      expect((await twoWayState(a)).error).toBe("");
      expect(await a.textContent("#publish")).toBe("Publish");

      // Disconnect by the user: no error, the buttons wait for Connect again
      await b.click("#connect");
      const bGone = await diag.waitUntil("b: DISCONNECTED", () => twoWayState(b), (s) => s.session === "DISCONNECTED");
      expect(bGone.error).toBe("");
      expect(await b.textContent("#connect")).toBe("Connect");
      expect(await b.isDisabled("#publish")).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "tells the user when the connection to the server drops",
    async () => {
      const sockets: Array<{ page: WebSocketRoute; server: WebSocketRoute }> = [];
      const page = await openPage("two-way-drop", "/two-way", "twoWay", (p) =>
        // the page's WebSocket goes through Playwright, which forwards every frame to the real server
        p.routeWebSocket(/.*/, (ws) => {
          sockets.push({ page: ws, server: ws.connectToServer() });
        }),
      );
      await page.click("#connect");
      await diag.waitUntil("drop: session ESTABLISHED", () => twoWayState(page), (s) => s.session === "ESTABLISHED");
      await page.click("#publish");
      await diag.waitUntil("drop: PUBLISHING", () => twoWayState(page), (s) => {
        alive("drop publisher", s.publish);
        return s.publish?.status === "PUBLISHING";
      });
      expect(sockets).toHaveLength(1);
      await sockets[0]!.server.close();
      await sockets[0]!.page.close({ code: 1001, reason: "going away" });
      const s = await diag.waitUntil("drop: DISCONNECTED shown", () => twoWayState(page), (x) => x.session === "DISCONNECTED");
      expect(s.error).toBe("Disconnected from the server.");
      expect(s.publish?.status).toBe("FAILED");
      expect(s.publish?.info).toBe("Session disconnected");
      expect(await page.textContent("#error")).toBe("Disconnected from the server.");
      expect(await page.textContent("#session-status")).toBe("DISCONNECTED");
      expect(await page.textContent("#connect")).toBe("Connect");
      await saveScreenshot(page, "two-way-disconnected");
    },
    TEST_TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------------------------
describe("Player at /player", () => {
  it(
    "plays the stream named in ?name= with its resolution and figures, full screen in reach; reports the publisher stopping; waits for an unknown name until Cancel",
    async () => {
      const name = uniqueName("player");
      const publisher = await openPage("player-publisher", "/", "streamer");
      await streamerPublish(publisher, "player-publisher", name);

      const page = await openPage("player", `/player?name=${encodeURIComponent(name)}`, "player");
      await page.setViewportSize({ width: 1280, height: 860 });
      expect(await page.inputValue("#name")).toBe(name);
      expect(await page.inputValue("#url")).toBe(cluster.wsUrl + "/");
      await page.click("#play");
      const playing = await diag.waitUntil("player: PLAYING", () => playerState(page), (s) => {
        alive("player", s.play);
        return s.play?.status === "PLAYING" && s.session === "ESTABLISHED";
      });
      expect(playing.play?.name).toBe(name);
      await diag.expectLiveVideos([elementProbe(page, "player video", "#display video")], VIDEO_TIMEOUT_MS);
      const s = await playerState(page);
      expect(s.video.videoWidth).toBeGreaterThan(0);
      expect(s.resolution).toBe("640×480"); // Chromium's fake camera
      expect(`${s.video.videoWidth}×${s.video.videoHeight}`).toBe(s.resolution);
      expect(await page.textContent("#resolution")).toBe(s.resolution);
      expect(await page.textContent("#play-status")).toBe("PLAYING");
      expect(await page.textContent("#play")).toBe("Stop");
      expect(s.error).toBe("");
      await expectReadout(page, "player", "Receiving", "640×480");
      const share = `${cluster.httpUrl}/player?name=${name}`;
      expect(await page.getByRole("link", { name: share }).getAttribute("href")).toBe(share);
      await saveScreenshot(page, "player");
      await expectNoSeriousA11yViolations(page, "player (playing)");

      // Full screen (and Unmute, next to it) is on screen in a 1280×860 window without scrolling, and works
      const fullscreen = page.getByRole("button", { name: "Full screen" });
      const box = await fullscreen.boundingBox();
      expect(box, "Full screen button laid out").not.toBeNull();
      expect(box!.y + box!.height, `Full screen button ${JSON.stringify(box)} inside the 860 px viewport`).toBeLessThanOrEqual(860);
      expect(box!.y).toBeGreaterThanOrEqual(0);
      expect(await page.evaluate(() => scrollY), "not scrolled").toBe(0);
      await fullscreen.click();
      await diag.waitUntil("player: full screen", () => page.evaluate(() => document.fullscreenElement?.tagName ?? ""), (t) => t === "VIDEO", 5_000);
      await page.evaluate(() => document.exitFullscreen());
      await diag.waitUntil("player: full screen left", () => page.evaluate(() => document.fullscreenElement === null), (v) => v, 5_000);
      expect(await phoneOverflow(page, "player-phone"), "horizontal overflow at 390 px").toBeLessThanOrEqual(0);

      await publisher.click("#stop");
      const ended = await diag.waitUntil("player: FAILED by the publisher's stop", () => playerState(page), (x) => x.play?.status === "FAILED");
      expect(ended.play?.info).toBe("Stopped by publisher stop");
      expect(ended.error).toContain(`The publisher of “${name}” stopped it`);
      expect(await page.textContent("#play-status")).toBe("FAILED (Stopped by publisher stop)");
      expect(await page.textContent("#resolution")).toBe("—");
      expect(await page.textContent("#play")).toBe("Play");

      // the same page, a name nobody publishes: the page says it waits for it, and Cancel stops waiting
      const unknown = uniqueName("nobody");
      await page.getByLabel("Stream name").fill(unknown);
      await page.getByRole("button", { name: "Play" }).click();
      const waiting = page.getByRole("status").filter({ hasText: `Waiting for “${unknown}” to be published…` });
      await diag.within("player: waiting shown", STATUS_TIMEOUT_MS, waiting.waitFor());
      expect(await page.textContent("#play-status")).toBe("FAILED (Stream not found)");
      expect(await page.isVisible("#error"), "waiting is not an error").toBe(false);
      expect(await page.textContent("#play")).toBe("Stop");
      expect((await playerState(page)).session, "the session survives").toBe("ESTABLISHED");
      await saveScreenshot(page, "player-not-found");
      await page.getByRole("button", { name: "Cancel" }).click();
      await page.getByText(`Stopped waiting for “${unknown}”.`).waitFor();
      expect(await waiting.count()).toBe(0);
      expect(await page.textContent("#play")).toBe("Play");
      expect(await page.isEnabled("#name")).toBe(true);
      const tries = (await playerState(page)).history.filter((l) => l.includes(`play ${unknown} PENDING`)).length;
      await sleep(3500); // longer than the page's retry interval
      const after = await playerState(page);
      expect(after.history.filter((l) => l.includes(`play ${unknown} PENDING`)).length, "no more tries after Cancel").toBe(tries);
      expect(after.waitingFor).toBeNull();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "opened before the stream is published: waits for it, then plays it without another click",
    async () => {
      const name = uniqueName("later");
      const page = await openPage("player-waiting", `/player?name=${encodeURIComponent(name)}`, "player");
      await page.getByRole("button", { name: "Play" }).click();
      const waiting = page.getByRole("status").filter({ hasText: `Waiting for “${name}” to be published…` });
      await diag.within("player: waiting shown", STATUS_TIMEOUT_MS, waiting.waitFor());
      expect(await page.getByRole("button", { name: "Cancel" }).isVisible()).toBe(true);
      expect(await page.textContent("#session-status"), "the statuses stay visible").toBe("ESTABLISHED");
      await saveScreenshot(page, "player-waiting");
      expect(await phoneOverflow(page, "player-waiting-phone"), "horizontal overflow at 390 px").toBeLessThanOrEqual(0);
      await expectNoSeriousA11yViolations(page, "player (waiting)");

      const publisher = await openPage("player-waiting-publisher", `/?name=${encodeURIComponent(name)}`, "streamer");
      await diag.waitUntil("publisher: session ESTABLISHED", () => streamerState(publisher), (s) => s.session === "ESTABLISHED");
      await publisher.getByRole("button", { name: "Publish" }).click();
      await diag.waitUntil("player: PLAYING without another click", () => playerState(page), (s) => s.play?.status === "PLAYING", 30_000);
      await diag.expectLiveVideos([elementProbe(page, "player video", "#display video")], VIDEO_TIMEOUT_MS);
      expect(await waiting.count(), "the waiting message is gone").toBe(0);
      expect(await page.textContent("#play-status")).toBe("PLAYING");
      expect(await page.textContent("#play")).toBe("Stop");
      expect((await playerState(page)).error).toBe("");
    },
    TEST_TIMEOUT_MS,
  );
});
