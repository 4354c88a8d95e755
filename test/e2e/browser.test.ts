/**
 * Real-browser end-to-end tests: headless Chromium (fake camera/mic) against one worker + media node.
 *
 * a) The official Flashphoner WCS Web SDK (flashphoner-webrtc-only.js, unchanged), served from a test page that is
 *    routed inside the browser on the worker's origin (nothing is added to public/).
 * b) Our demo page at `/` (public/index.html + app.js).
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type Cluster } from "../harness/cluster.js";
import { launchBrowser, pageVideoStats, saveScreenshot, type BrowserHandle, type VideoStats } from "../harness/browser.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const WEBSDK_JS = readFileSync(resolve(ROOT, "node_modules/@flashphoner/websdk/flashphoner-webrtc-only.js"));
const STATUS_TIMEOUT_MS = 20_000;
const VIDEO_TIMEOUT_MS = 15_000;
const TEST_TIMEOUT_MS = 60_000;

/**
 * Test page for the Web SDK. Every session/stream callback is recorded in `window.events` (and logged) so the test
 * can wait for statuses and print everything seen when it fails. Each stream plays/publishes into its own div.
 */
const WEBSDK_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>Web SDK test</title>
<script src="/__test/flashphoner-webrtc-only.js"></script></head>
<body><main id="displays"></main>
<script>
  const { SESSION_STATUS, STREAM_STATUS } = Flashphoner.constants;
  window.events = [];
  window.streams = {};
  let session = null;
  function record(e) {
    e.t = Date.now();
    window.events.push(e);
    console.log("EVENT " + JSON.stringify(e));
  }
  window.connect = async function (urlServer) {
    await Flashphoner.init({ preferredMediaProviders: ["WebRTC"] });
    return new Promise(function (resolve, reject) {
      session = Flashphoner.createSession({ urlServer: urlServer });
      Object.values(SESSION_STATUS).forEach(function (s) {
        session.on(s, function (_session, obj) {
          record({ kind: "session", status: s, info: obj && obj.info });
          if (s === SESSION_STATUS.ESTABLISHED) resolve();
          if (s === SESSION_STATUS.FAILED || s === SESSION_STATUS.DISCONNECTED) reject(new Error("session " + s));
        });
      });
    });
  };
  window.startStream = function (key, name, mode) {
    const display = document.createElement("div");
    display.id = "d-" + key;
    display.style.cssText = "width:320px;height:240px;display:inline-block";
    document.getElementById("displays").appendChild(display);
    const stream = session.createStream({ name: name, display: display });
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

interface PageEvent {
  kind: "session" | "stream";
  key?: string;
  name?: string;
  status: string;
  info?: string;
  t: number;
}

interface DemoState {
  session: string;
  publish: { id: string; name: string; status: string; info: string } | null;
  play: { id: string; name: string; status: string; info: string } | null;
  error: string;
  preview: VideoStats;
  history: string[];
}

const TERMINAL = new Set(["UNPUBLISHED", "STOPPED", "FAILED"]);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const uniqueName = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

let cluster: Cluster;
let browser: BrowserHandle;
/** Extra context for failure messages: label → function returning what that page saw. */
const pageReports = new Map<string, () => Promise<string>>();

async function diagnostics(): Promise<string> {
  const parts: string[] = [];
  for (const [label, report] of pageReports) {
    parts.push(`--- ${label} ---`, await report().catch((e: unknown) => `(unavailable: ${String(e)})`));
  }
  parts.push(browser?.consoleDump() ?? "(no browser)");
  parts.push("--- server logs (last lines) ---", cluster?.logs?.() ?? "(none)");
  return parts.join("\n");
}

/** An assertion failure that already carries every page's statuses and console lines. */
class DiagnosedError extends Error {}

async function fail(message: string): Promise<never> {
  throw new DiagnosedError(`${message}\n${await diagnostics()}`);
}

/** Runs `promise` with a deadline; any failure (or the deadline) is reported with diagnostics. */
async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms);
      }),
    ]);
  } catch (e) {
    if (e instanceof DiagnosedError) throw e;
    return fail(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    clearTimeout(timer);
  }
}

beforeAll(async () => {
  cluster = await startCluster();
  browser = await launchBrowser();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
}, 30_000);

// ---------------------------------------------------------------------------------------------------------------
describe("official WCS Web SDK in Chromium", () => {
  let publisher: Page;
  let player: Page;

  const events = (page: Page): Promise<PageEvent[]> =>
    page.evaluate(() => (window as unknown as { events: PageEvent[] }).events);

  const formatEvents = (list: PageEvent[]): string =>
    list.map((e) => `${e.kind} ${e.key ?? ""} ${e.name ?? ""} ${e.status}${e.info ? ` (${e.info})` : ""}`).join("\n");

  async function openSdkPage(label: string): Promise<Page> {
    // A document fulfilled by page.route() has no server address, so Chromium's Local Network Access checks treat it
    // as public and block its WebSocket to 127.0.0.1 (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS). A page really
    // served by the worker is loopback→loopback and needs nothing; grant the permission for the routed test page.
    await browser.context.grantPermissions(["local-network-access"], { origin: cluster.httpUrl });
    const page = await browser.newPage(label);
    await page.route(`${cluster.httpUrl}/__test/*`, (route) => {
      const path = new URL(route.request().url()).pathname;
      if (path === "/__test/websdk.html") return route.fulfill({ contentType: "text/html", body: WEBSDK_HTML });
      if (path === "/__test/flashphoner-webrtc-only.js") {
        return route.fulfill({ contentType: "application/javascript", body: WEBSDK_JS });
      }
      return route.fulfill({ status: 404, body: "not found" });
    });
    pageReports.set(label, async () => formatEvents(await events(page)));
    await page.goto(`${cluster.httpUrl}/__test/websdk.html`);
    await within(
      `${label}: Web SDK session to ${cluster.wsUrl} not ESTABLISHED`,
      STATUS_TIMEOUT_MS,
      page.evaluate((url) => (window as unknown as { connect(u: string): Promise<void> }).connect(url), cluster.wsUrl),
    );
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

  /** Waits for a decoding <video> and checks that frames keep coming over ~2 s. */
  async function expectLiveVideo(page: Page, label: string, selector: string): Promise<void> {
    const deadline = Date.now() + VIDEO_TIMEOUT_MS;
    let first: VideoStats = await pageVideoStats(page, selector);
    while (first.videoWidth === 0 || first.framesDecoded === 0) {
      if (Date.now() > deadline) {
        await fail(`${label}: ${selector} shows no video within ${VIDEO_TIMEOUT_MS} ms (${JSON.stringify(first)})`);
      }
      await sleep(200);
      first = await pageVideoStats(page, selector);
    }
    await sleep(2000);
    const second = await pageVideoStats(page, selector);
    if (!(second.framesDecoded > first.framesDecoded)) {
      await fail(`${label}: ${selector} frames not advancing: ${JSON.stringify(first)} -> ${JSON.stringify(second)}`);
    }
    expect(second.videoWidth).toBeGreaterThan(0);
    expect(second.videoHeight).toBeGreaterThan(0);
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
    pageReports.delete("sdk-publisher");
    pageReports.delete("sdk-player");
  });

  it(
    "publishes, plays with live video, and the player fails with 'Stopped by publisher stop' when the publisher stops",
    async () => {
      const name = uniqueName("sdk");
      await startStream(publisher, "pub", name, "publish");
      await waitForStatus(publisher, "publisher", "pub", "PUBLISHING");

      await startStream(player, "play", name, "play");
      await waitForStatus(player, "player", "play", "PLAYING");
      await expectLiveVideo(player, "player", "#d-play video");
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

// ---------------------------------------------------------------------------------------------------------------
describe("demo page at /", () => {
  let page: Page;
  const state = (): Promise<DemoState> => page.evaluate(() => (window as unknown as { demo: { state(): Promise<DemoState> } }).demo.state());

  async function waitForState(what: string, ok: (s: DemoState) => boolean, timeoutMs = STATUS_TIMEOUT_MS): Promise<DemoState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await state();
      if (ok(s)) return s;
      if (Date.now() > deadline) await fail(`demo page: ${what} not reached within ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  beforeAll(async () => {
    page = await browser.newPage("demo");
    pageReports.set("demo", async () => JSON.stringify(await state(), null, 2));
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail") await saveScreenshot(page, `demo-${ctx.task.name}`);
  });

  afterAll(async () => {
    await page?.close();
    pageReports.delete("demo");
  });

  it(
    "publishes the camera, previews it from the server, and stops",
    async () => {
      const response = await page.goto(`${cluster.httpUrl}/`);
      expect(response?.status(), "GET / status").toBe(200);
      await within("window.demo (app.js did not load?)", 10_000, page.waitForFunction(() => "demo" in window));
      await waitForState("session ESTABLISHED", (s) => s.session === "ESTABLISHED");

      const name = uniqueName("demo");
      await page.fill("#name", name);
      await page.click("#publish");

      const live = await within(
        "demo page",
        STATUS_TIMEOUT_MS + VIDEO_TIMEOUT_MS + 5000,
        waitForState(
          "PUBLISHING + preview PLAYING with video",
          (s) => {
            for (const st of [s.publish, s.play]) {
              if (st && TERMINAL.has(st.status)) throw new Error(`stream ended early: ${JSON.stringify(st)}`);
            }
            return (
              s.publish?.status === "PUBLISHING" &&
              s.play?.status === "PLAYING" &&
              s.preview.videoWidth > 0 &&
              s.preview.framesDecoded > 0
            );
          },
          STATUS_TIMEOUT_MS + VIDEO_TIMEOUT_MS,
        ),
      );
      expect(live.publish?.name).toBe(name);
      expect(live.play?.name).toBe(name);
      await expect.poll(() => page.textContent("#publish-status")).toContain("PUBLISHING");
      await expect.poll(() => page.textContent("#play-status")).toContain("PLAYING");

      await sleep(2000);
      const later = await state();
      if (!(later.preview.framesDecoded > live.preview.framesDecoded)) {
        await fail(`demo preview frames not advancing: ${JSON.stringify(live.preview)} -> ${JSON.stringify(later.preview)}`);
      }
      const element = await pageVideoStats(page, "#preview");
      expect(element.videoWidth).toBeGreaterThan(0);
      await saveScreenshot(page, "demo-publishing");

      await page.click("#stop");
      const stopped = await waitForState("publish UNPUBLISHED", (s) => s.publish?.status === "UNPUBLISHED");
      expect(TERMINAL.has(stopped.play?.status ?? ""), `preview ended: ${JSON.stringify(stopped.play)}`).toBe(true);
      await expect.poll(() => page.textContent("#publish-status")).toContain("UNPUBLISHED");
      expect(stopped.error).toBe("");
      await saveScreenshot(page, "demo-stopped");
    },
    TEST_TIMEOUT_MS,
  );
});
