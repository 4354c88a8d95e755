/**
 * Our demo pages (public/, on our SDK at /sdk/wcs-sdk.mjs) in headless Chromium (fake camera/mic) against one worker
 * + media node, driven as a person would: type a name, click Connect / Publish / Play / Stop, read the statuses and
 * errors on the page. Every playing <video> must have a size and advancing frames. The pages expose
 * `window.<page>.state()` (statuses, errors, a debug log) for the assertions and failure reports.
 *
 * - Streamer `/`: publish + preview from the server, a second publisher of the same name refused, a refused camera.
 * - Two Way Streaming `/two-way`: two pages publish to and play each other; a dropped connection is reported.
 * - Player `/player?name=`: plays the named stream with its resolution shown; publisher stop; unknown name.
 *
 * Screenshots: test-results/streamer.png, two-way.png, player.png and their -phone variants (390 px wide, which
 * must not overflow horizontally). At most three pages publish at once.
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
  startClusterAndBrowser,
  stopClusterAndBrowser,
  uniqueName,
  type BrowserHandle,
} from "../harness/browser.js";

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

beforeAll(async () => {
  ({ cluster, browser } = await startClusterAndBrowser());
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
    "publishes the camera, previews it from the server, refuses a second publisher of the name, and stops",
    async () => {
      const page = await openPage("streamer", "/", "streamer");
      const name = uniqueName("streamer");
      const live = await streamerPublish(page, "streamer", name);
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
      expect(await page.getAttribute("#player-link", "href")).toBe(`/player?name=${name}`);
      expect((await streamerState(page)).error).toBe("");
      await saveScreenshot(page, "streamer");
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
    "connects, publishes under one name, plays the other; both see each other; stop and publisher stop",
    async () => {
      const [nameA, nameB] = [uniqueName("two-way-a"), uniqueName("two-way-b")];
      const a = await openPage("two-way-a", "/two-way", "twoWay");
      const b = await openPage("two-way-b", "/two-way", "twoWay");
      expect(await a.inputValue("#url")).toBe(cluster.wsUrl + "/");
      expect(await a.isDisabled("#publish"), "Publish waits for Connect").toBe(true);
      for (const [page, label, mine, theirs] of [[a, "a", nameA, nameB], [b, "b", nameB, nameA]] as const) {
        await page.click("#connect");
        await diag.waitUntil(`${label}: session ESTABLISHED`, () => twoWayState(page), (s) => s.session === "ESTABLISHED");
        expect(await page.textContent("#connect")).toBe("Disconnect");
        await page.fill("#publish-name", mine);
        await page.fill("#play-name", theirs);
        await page.click("#publish");
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
      await saveScreenshot(a, "two-way");
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
    "plays the stream named in ?name= with its resolution, then reports the publisher stopping",
    async () => {
      const name = uniqueName("player");
      const publisher = await openPage("player-publisher", "/", "streamer");
      await streamerPublish(publisher, "player-publisher", name);

      const page = await openPage("player", `/player?name=${encodeURIComponent(name)}`, "player");
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
      await saveScreenshot(page, "player");
      expect(await phoneOverflow(page, "player-phone"), "horizontal overflow at 390 px").toBeLessThanOrEqual(0);

      await publisher.click("#stop");
      const ended = await diag.waitUntil("player: FAILED by the publisher's stop", () => playerState(page), (x) => x.play?.status === "FAILED");
      expect(ended.play?.info).toBe("Stopped by publisher stop");
      expect(ended.error).toContain(`The publisher of “${name}” stopped it`);
      expect(await page.textContent("#play-status")).toBe("FAILED (Stopped by publisher stop)");
      expect(await page.textContent("#resolution")).toBe("—");
      expect(await page.textContent("#play")).toBe("Play");

      // the same page, a name nobody publishes
      const unknown = uniqueName("nobody");
      await page.fill("#name", unknown);
      await page.click("#play");
      const notFound = await diag.waitUntil("player: Stream not found", () => playerState(page), (x) => x.play?.name === unknown && x.play.status === "FAILED");
      expect(notFound.play?.info).toBe("Stream not found");
      expect(notFound.error).toBe(`Nothing is being published under the name “${unknown}”.`);
      expect(await page.isVisible("#error")).toBe(true);
      expect(notFound.session, "the session survives").toBe("ESTABLISHED");
      await saveScreenshot(page, "player-not-found");
    },
    TEST_TIMEOUT_MS,
  );
});
