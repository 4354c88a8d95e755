/**
 * The official Flashphoner WCS Web SDK (flashphoner-webrtc-only.js, unchanged) in headless Chromium (fake
 * camera/mic) against one worker + media node: WCS compatibility of the server. The SDK runs on a test page routed
 * inside the browser on the worker's origin (nothing is added to public/). Our own pages are tested in pages.test.ts
 * and conference.test.ts.
 */
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, it } from "vitest";
import type { Cluster } from "../harness/cluster.js";
import {
  Diagnostics,
  TERMINAL_STATUSES as TERMINAL,
  elementProbe,
  saveScreenshot,
  startClusterAndBrowser,
  stopClusterAndBrowser,
  sleep,
  uniqueName,
  type BrowserHandle,
} from "../harness/browser.js";
import { connectWebSdk, openWebSdkPage, pageEvents, WEBSDK_STREAM_PAGE_HTML, type StreamPageEvent as PageEvent } from "../harness/sdk-pages.js";

const STATUS_TIMEOUT_MS = 20_000;
const VIDEO_TIMEOUT_MS = 15_000;
const TEST_TIMEOUT_MS = 60_000;


let cluster: Cluster;
let browser: BrowserHandle;
const diag = new Diagnostics({ browser: () => browser, serverLogs: () => cluster?.logs() }, 80);
const fail = (message: string): Promise<never> => diag.fail(message);

beforeAll(async () => {
  ({ cluster, browser } = await startClusterAndBrowser());
}, 90_000);

afterAll(() => stopClusterAndBrowser(cluster, browser), 30_000);

// ---------------------------------------------------------------------------------------------------------------
describe("official WCS Web SDK in Chromium", () => {
  let publisher: Page;
  let player: Page;

  const events = (page: Page): Promise<PageEvent[]> => pageEvents<PageEvent>(page);

  const formatEvents = (list: PageEvent[]): string =>
    list.map((e) => `${e.kind} ${e.key ?? ""} ${e.name ?? ""} ${e.status}${e.info ? ` (${e.info})` : ""}`).join("\n");

  async function openSdkPage(label: string): Promise<Page> {
    const page = await openWebSdkPage(browser, cluster.httpUrl, label, { entry: "websdk.html", html: WEBSDK_STREAM_PAGE_HTML, sdkFile: "flashphoner-webrtc-only.js" });
    diag.reports.set(label, async () => formatEvents(await events(page)));
    const status = await diag.within(`${label}: Web SDK session to ${cluster.wsUrl} not ESTABLISHED`, STATUS_TIMEOUT_MS, connectWebSdk(page, cluster.wsUrl));
    if (status !== "ESTABLISHED") await fail(`${label}: Web SDK session ${status}`);
    return page;
  }

  function startStream(page: Page, key: string, name: string, mode: "publish" | "play"): Promise<void> {
    return page.evaluate(
      ([k, n, m]) => (window as unknown as { startStream(k: string, n: string, m: string): void }).startStream(k, n, m),
      [key, name, mode] as const,
    );
  }

  function stopStream(page: Page, key: string): Promise<void> {
    return page.evaluate((k) => (window as unknown as { stopStream(k: string): void }).stopStream(k), key);
  }

  /**
   * Waits until stream `key` on `page` reports `status` (and `info`, if given). Fails at once if the stream reaches
   * a different terminal status first.
   */
  async function waitForStatus(page: Page, label: string, key: string, status: string, info?: string): Promise<PageEvent> {
    const deadline = Date.now() + STATUS_TIMEOUT_MS;
    for (;;) {
      const seen = (await events(page)).filter((e) => e.kind === "stream" && e.key === key);
      const hit = seen.find((e) => e.status === status);
      if (hit) {
        if (info !== undefined && hit.info !== info) {
          await fail(`${label} stream "${key}": got ${status} with info ${JSON.stringify(hit.info)}, expected ${JSON.stringify(info)}`);
        }
        return hit;
      }
      const other = seen.find((e) => TERMINAL.has(e.status));
      if (other) {
        await fail(`${label} stream "${key}": expected ${status}, got ${other.status} (info: ${JSON.stringify(other.info)})`);
      }
      if (Date.now() > deadline) {
        await fail(
          `${label} stream "${key}": no ${status} within ${STATUS_TIMEOUT_MS} ms; statuses seen: ${seen.map((e) => e.status).join(", ") || "none"}`,
        );
      }
      await sleep(100);
    }
  }

  beforeAll(async () => {
    publisher = await openSdkPage("sdk-publisher");
    player = await openSdkPage("sdk-player");
  }, TEST_TIMEOUT_MS);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail") {
      await saveScreenshot(publisher, `websdk-publisher-${ctx.task.name}`);
      await saveScreenshot(player, `websdk-player-${ctx.task.name}`);
    }
  });

  afterAll(async () => {
    await publisher?.close();
    await player?.close();
    diag.reports.delete("sdk-publisher");
    diag.reports.delete("sdk-player");
  });

  it(
    "publishes, plays with live video, and the player fails with 'Stopped by publisher stop' when the publisher stops",
    async () => {
      const name = uniqueName("sdk");
      await startStream(publisher, "pub", name, "publish");
      await waitForStatus(publisher, "publisher", "pub", "PUBLISHING");

      await startStream(player, "play", name, "play");
      await waitForStatus(player, "player", "play", "PLAYING");
      await diag.expectLiveVideos([elementProbe(player, "player", "#d-play video")], VIDEO_TIMEOUT_MS);
      await saveScreenshot(player, "websdk-player");

      await stopStream(publisher, "pub");
      await waitForStatus(publisher, "publisher", "pub", "UNPUBLISHED");
      await waitForStatus(player, "player", "play", "FAILED", "Stopped by publisher stop");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "refuses a second publisher of the same name with 'Stream name is already in use'",
    async () => {
      const name = uniqueName("sdk-dup");
      await startStream(publisher, "pub-dup", name, "publish");
      await waitForStatus(publisher, "publisher", "pub-dup", "PUBLISHING");
      await startStream(player, "dup", name, "publish");
      await waitForStatus(player, "player", "dup", "FAILED", "Stream name is already in use");
      // the first publisher is unaffected
      const ended = (await events(publisher)).filter((e) => e.key === "pub-dup" && TERMINAL.has(e.status));
      if (ended.length > 0) await fail(`first publisher ended by the refused second publish: ${JSON.stringify(ended)}`);
      await stopStream(publisher, "pub-dup");
      await waitForStatus(publisher, "publisher", "pub-dup", "UNPUBLISHED");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "fails playing an unknown name with 'Stream not found'",
    async () => {
      await startStream(player, "unknown", uniqueName("no-such-stream"), "play");
      await waitForStatus(player, "player", "unknown", "FAILED", "Stream not found");
    },
    TEST_TIMEOUT_MS,
  );
});
