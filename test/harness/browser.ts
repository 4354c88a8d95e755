/**
 * Headless Chromium for real-browser tests (Debian's /usr/bin/chromium driven by playwright-core).
 *
 * Flags: see shared/reference/platform-notes.md, "Headless Chromium". The fake camera/mic plus fake media UI give
 * getUserMedia without prompts; `--allow-loopback-in-peer-connection` (which needs the media permission that fake-ui
 * grants) makes Chromium gather 127.0.0.1 candidates, without which ICE never starts on a loopback-only host. Never
 * pass `--disable-features`: Chromium keeps only the last copy and Playwright's own list would be lost.
 */
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";

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

/** Where screenshots go (gitignored). */
export const TEST_RESULTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../test-results");

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
