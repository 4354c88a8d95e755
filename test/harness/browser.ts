/**
 * Headless Chromium for real-browser tests (Debian's /usr/bin/chromium driven by playwright-core).
 *
 * Flags: see docs/testing.md "Headless Chromium". The fake camera/mic plus fake media UI give
 * getUserMedia without prompts; `--allow-loopback-in-peer-connection` (which needs the media permission that fake-ui
 * grants) makes Chromium gather 127.0.0.1 candidates, without which ICE never starts on a loopback-only host. Never
 * pass `--disable-features`: Chromium keeps only the last copy and Playwright's own list would be lost.
 *
 * Also the helpers the Chromium test files share: {@link Diagnostics} (failure messages with every page's report,
 * console and the server logs; polling; live-video checks), {@link openRoutedPage} (a test page such as the official
 * Web SDK's, routed on the worker's origin), {@link pageState} (our pages' `window.<page>.state()`), screenshots and
 * {@link phoneOverflow}.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startCluster, type Cluster, type ClusterOptions } from "./cluster.js";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--allow-loopback-in-peer-connection",
];

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Where screenshots go (gitignored). */
export const TEST_RESULTS_DIR = join(ROOT, "test-results");

export interface BrowserHandle {
  context: BrowserContext;
  /** Opens a page (the context's initial blank page first) and starts capturing its console. */
  newPage(label?: string): Promise<Page>;
  /** Console lines, page errors and failed requests of one page, oldest first. */
  consoleLines(page: Page): string[];
  /** Every page's captured lines, labelled; for failure messages. */
  consoleDump(maxLinesPerPage?: number): string;
  /** Closes the browser and removes the temporary profile. Safe to call twice. */
  close(): Promise<void>;
}

export async function launchBrowser(opts: { headless?: boolean } = {}): Promise<BrowserHandle> {
  const profile = mkdtempSync(join(tmpdir(), "wcs-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: opts.headless ?? true,
      args: [...CHROMIUM_ARGS],
      viewport: { width: 1024, height: 768 },
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }

  const logs = new Map<Page, { label: string; lines: string[] }>();
  let unusedBlank: Page | undefined = context.pages()[0];
  let closed = false;
  const t0 = Date.now();

  const capture = (page: Page, label: string): void => {
    const entry = { label, lines: [] as string[] };
    logs.set(page, entry);
    const push = (line: string): void => {
      entry.lines.push(`+${((Date.now() - t0) / 1000).toFixed(2)}s ${line}`);
      if (entry.lines.length > 2000) entry.lines.shift();
    };
    page.on("console", (m) => push(`[${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => push(`[pageerror] ${e.stack ?? e.message}`));
    page.on("requestfailed", (r) => push(`[requestfailed] ${r.method()} ${r.url()}: ${r.failure()?.errorText ?? ""}`));
    page.on("response", (r) => {
      if (r.status() >= 400) push(`[http ${r.status()}] ${r.request().method()} ${r.url()}`);
    });
    page.on("crash", () => push("[crash] page crashed"));
  };

  return {
    context,
    async newPage(label?: string): Promise<Page> {
      const page = unusedBlank ?? (await context.newPage());
      unusedBlank = undefined;
      capture(page, label ?? `page${logs.size + 1}`);
      return page;
    },
    consoleLines(page: Page): string[] {
      return [...(logs.get(page)?.lines ?? [])];
    },
    consoleDump(maxLinesPerPage = 80): string {
      const parts: string[] = [];
      for (const { label, lines } of logs.values()) {
        const shown = lines.slice(-maxLinesPerPage);
        const skipped = lines.length - shown.length;
        parts.push(
          `--- console of ${label} (${lines.length} lines${skipped > 0 ? `, first ${skipped} omitted` : ""}) ---`,
          ...shown,
        );
      }
      return parts.join("\n");
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        await context.close();
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}

/** A worker + media node cluster and a browser, for a test file's beforeAll (the cluster is stopped if Chromium fails). */
export async function startClusterAndBrowser(opts: ClusterOptions = {}): Promise<{ cluster: Cluster; browser: BrowserHandle }> {
  const cluster = await startCluster(opts);
  try {
    return { cluster, browser: await launchBrowser() };
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}

/** afterAll of {@link startClusterAndBrowser}: closes the browser, then stops the cluster (either may be missing). */
export async function stopClusterAndBrowser(cluster: Cluster | undefined, browser: BrowserHandle | undefined): Promise<void> {
  await browser?.close();
  await cluster?.stop();
}

/** Writes a PNG of the page to test-results/<name>.png and returns its path. Never throws (logs instead). */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  const file = join(TEST_RESULTS_DIR, `${name.replace(/[^A-Za-z0-9._-]+/g, "_")}.png`);
  try {
    mkdirSync(TEST_RESULTS_DIR, { recursive: true });
    await page.screenshot({ path: file, fullPage: true });
  } catch (e) {
    console.warn(`screenshot ${file} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  return file;
}

export interface VideoStats {
  videoWidth: number;
  videoHeight: number;
  /**
   * Frames shown so far: requestVideoFrameCallback's `presentedFrames` when a frame arrives within the wait, else
   * getVideoPlaybackQuality().totalVideoFrames. Compare two readings to see that video is advancing.
   */
  framesDecoded: number;
}

/**
 * Size and frame counter of the first <video> matching `selector`; all zero while no such element exists.
 * Waits up to `frameWaitMs` for the next video frame so a live video always reports a current count.
 */
export async function pageVideoStats(page: Page, selector: string, frameWaitMs = 1000): Promise<VideoStats> {
  return page.evaluate(
    async ({ selector, frameWaitMs }) => {
      const el = document.querySelector(selector);
      if (!(el instanceof HTMLVideoElement)) return { videoWidth: 0, videoHeight: 0, framesDecoded: 0 };
      // (no named inner functions here: tsx/esbuild would wrap them in a __name() helper the page does not have)
      let presented = 0;
      if (typeof el.requestVideoFrameCallback === "function" && el.srcObject) {
        presented = await new Promise<number>((done) => {
          const timer = setTimeout(() => done(0), frameWaitMs);
          el.requestVideoFrameCallback((_now, meta) => {
            clearTimeout(timer);
            done(meta.presentedFrames);
          });
        });
      }
      return {
        videoWidth: el.videoWidth,
        videoHeight: el.videoHeight,
        framesDecoded: Math.max(presented, el.getVideoPlaybackQuality?.().totalVideoFrames ?? 0),
      };
    },
    { selector, frameWaitMs },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Shared helpers of the Chromium test files: diagnostics on failure, polling, live-video checks, routed test pages.

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(["UNPUBLISHED", "STOPPED", "FAILED"]);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const uniqueName = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

/** An assertion failure that already carries every page's report, console lines and the server logs. */
export class DiagnosedError extends Error {}

/** Something that reads a video's size and frame counter (a <video> element, or a page's own state()). */
export interface VideoProbe {
  label: string;
  read(): Promise<VideoStats>;
}

export interface LiveVideo {
  label: string;
  first: VideoStats;
  second: VideoStats;
}

/** A probe of the first <video> matching `selector` on `page` (see {@link pageVideoStats}). */
export function elementProbe(page: Page, label: string, selector: string): VideoProbe {
  return { label, read: () => pageVideoStats(page, selector) };
}

/**
 * Failure reporting for a test file: `reports` maps a label to what that page saw (statuses, events); `fail()`,
 * `within()`, `waitUntil()` and `expectLiveVideos()` throw a {@link DiagnosedError} carrying every report, the
 * browser's console lines and the server logs.
 */
export class Diagnostics {
  readonly reports = new Map<string, () => Promise<string>>();

  constructor(
    private readonly sources: { browser(): BrowserHandle | undefined; serverLogs(): string | undefined },
    private readonly consoleLinesPerPage = 60,
  ) {}

  /** Every report, the console of every page and the last server log lines. */
  async dump(): Promise<string> {
    const parts: string[] = [];
    for (const [label, report] of this.reports) {
      parts.push(`--- ${label} ---`, await report().catch((e: unknown) => `(unavailable: ${String(e)})`));
    }
    parts.push(this.sources.browser()?.consoleDump(this.consoleLinesPerPage) ?? "(no browser)");
    parts.push("--- server logs (last lines) ---", this.sources.serverLogs() ?? "(none)");
    return parts.join("\n");
  }

  async fail(message: string): Promise<never> {
    throw new DiagnosedError(`${message}\n${await this.dump()}`);
  }

  /** Runs `promise` with a deadline; any failure (or the deadline) is reported with diagnostics. */
  async within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
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
      return this.fail(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Polls `read` until `ok` holds and returns that value; an error thrown by `ok` (or `read`) fails at once. */
  async waitUntil<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: T | undefined;
    for (;;) {
      try {
        last = await read();
        if (ok(last)) return last;
      } catch (e) {
        if (e instanceof DiagnosedError) throw e;
        return this.fail(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (Date.now() > deadline) {
        const shown = JSON.stringify(last, (k, v: unknown) => (k === "history" || k === "events" ? undefined : v));
        return this.fail(`${what}: not reached within ${timeoutMs} ms; last value: ${shown?.slice(0, 1500)}`);
      }
      await sleep(200);
    }
  }

  /** Every probe shows video (width > 0, frames > 0), and ~2 s later every probe's frame count has grown. */
  async expectLiveVideos(probes: VideoProbe[], timeoutMs = 20_000): Promise<LiveVideo[]> {
    const firsts = await Promise.all(
      probes.map((p) =>
        this.waitUntil(`${p.label}: video (videoWidth > 0, frames > 0)`, () => p.read(), (v) => v.videoWidth > 0 && v.framesDecoded > 0, timeoutMs),
      ),
    );
    await sleep(2000);
    const seconds = await Promise.all(probes.map((p) => p.read()));
    const results = probes.map((p, i) => ({ label: p.label, first: firsts[i]!, second: seconds[i]! }));
    const stalled = results.filter((r) => !(r.second.framesDecoded > r.first.framesDecoded) || r.second.videoWidth === 0);
    if (stalled.length > 0) {
      await this.fail(`video not advancing: ${stalled.map((r) => `${r.label} ${JSON.stringify(r.first)} -> ${JSON.stringify(r.second)}`).join("; ")}`);
    }
    return results;
  }
}

/** A file of the official Web SDK package (node_modules/@flashphoner/websdk/<name>). */
export function websdkFile(name: string): Buffer {
  return readFileSync(join(ROOT, "node_modules/@flashphoner/websdk", name));
}

/** A body served by {@link openRoutedPage}. */
export interface RoutedFile {
  contentType: string;
  body: string | Buffer;
}

/**
 * Opens `origin` + `/__test/<entry>` in a new page whose `/__test/*` requests are answered from `files` (keyed by
 * the name after /__test/) inside the browser, so a test page (e.g. the official Web SDK's) runs on the worker's
 * origin without adding anything to public/.
 *
 * A document fulfilled by page.route() has no server address, so Chromium's Local Network Access checks treat it as
 * public and block its WebSocket to 127.0.0.1 (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS). A page really
 * served by the worker is loopback→loopback and needs nothing; the routed page gets the permission granted.
 */
export async function openRoutedPage(
  browser: BrowserHandle,
  origin: string,
  label: string,
  files: Record<string, RoutedFile>,
  entry: string,
): Promise<Page> {
  await browser.context.grantPermissions(["local-network-access"], { origin });
  const page = await browser.newPage(label);
  await page.route(`${origin}/__test/*`, (route) => {
    const name = new URL(route.request().url()).pathname.slice("/__test/".length);
    const file = files[name];
    if (!file) return route.fulfill({ status: 404, body: "not found" });
    return route.fulfill({ contentType: file.contentType, body: file.body });
  });
  await page.goto(`${origin}/__test/${entry}`);
  return page;
}

/** `await window[global].state()` of one of our demo pages (public/*.js expose it for tests). */
export function pageState<T>(page: Page, global: string): Promise<T> {
  return page.evaluate(async (g) => {
    const api = (window as unknown as Record<string, { state(): Promise<unknown> } | undefined>)[g];
    if (!api) throw new Error(`window.${g} is missing (did the page's script load?)`);
    return api.state();
  }, global) as Promise<T>;
}

/**
 * Horizontal overflow in CSS pixels of `page` at a phone-sized viewport (default 390 × 844), 0 when none; when
 * `screenshot` is given, a full-page PNG at that size is saved under that name. The viewport is restored afterwards.
 */
export async function phoneOverflow(page: Page, screenshot?: string, size = { width: 390, height: 844 }): Promise<number> {
  const before = page.viewportSize();
  await page.setViewportSize(size);
  try {
    await page.waitForTimeout(200); // layout + video resize
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (screenshot) await saveScreenshot(page, screenshot);
    return overflow;
  } finally {
    if (before) await page.setViewportSize(before);
  }
}
