/**
 * Accessibility of the demo pages (public/) in headless Chromium against one worker + media node: axe-core's WCAG 2.2
 * A/AA rules (test/harness/a11y.ts; colour contrast SC 1.4.3, names and labels SC 4.1.2 / 1.3.1, target size
 * SC 2.5.8, …) must find no serious or critical violation on any page, in the light and the dark colour scheme
 * (`prefers-color-scheme`, emulated), both in the start state and in a live state reached by the keyboard alone:
 *
 * - Streamer `/`: Tab to the name, type, Tab to Publish, Enter → PUBLISHING; Space on Stop → UNPUBLISHED.
 * - Two Way Streaming `/two-way`: Enter on Connect, Space on Publish, type the same name to play, Enter → PLAYING.
 * - Player `/player`: Space on Play of a stream a Streamer tab publishes → PLAYING; an unknown name → the page waits
 *   for it (or shows an error).
 * - Conference `/conference`: type the room and a name, Enter on Join → in the call (its Leave button shows).
 *
 * Every control reached by Tab must show a visible focus ring (SC 2.4.7). Controls are found by role and accessible
 * name, statuses by the `status` role of their <output>, so the test follows what a person (or a screen reader)
 * gets. Screenshots of the dark theme: test-results/a11y-dark-{streamer,two-way,player,player-waiting,conference}.png.
 */
import type { Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { expectNoSeriousA11yViolations, tabTo } from "../harness/a11y.js";
import type { Cluster } from "../harness/cluster.js";
import {
  Diagnostics,
  pageState,
  saveScreenshot,
  startClusterAndBrowser,
  stopClusterAndBrowser,
  uniqueName,
  type BrowserHandle,
} from "../harness/browser.js";

const STATUS_TIMEOUT_MS = 20_000;
const TEST_TIMEOUT_MS = 120_000;
const THEMES = ["light", "dark"] as const;

let cluster: Cluster;
let browser: BrowserHandle;
const diag = new Diagnostics({ browser: () => browser, serverLogs: () => cluster?.logs() });
const open = new Map<string, Page>();

/** Opens one of our pages (path may carry a query) and waits for its script's `window.<global>`. */
async function openPage(label: string, path: string, global: string): Promise<Page> {
  const page = await browser.newPage(label);
  open.set(label, page);
  diag.reports.set(label, async () => {
    const { history, ...rest } = await pageState<{ history?: string[] }>(page, global);
    return [JSON.stringify(rest, null, 1), "history:", ...(history ?? []).slice(-40)].join("\n");
  });
  const response = await page.goto(cluster.httpUrl + path);
  if (response?.status() !== 200) await diag.fail(`${label}: GET ${path} → ${response?.status()}`);
  await diag.within(`${label}: window.${global} (page script did not load?)`, 10_000, page.waitForFunction((g) => g in window, global));
  return page;
}

/** axe in both colour schemes (the page restyles live, no reload); a dark screenshot when `screenshot` is given. */
async function checkBothThemes(page: Page, label: string, screenshot?: string): Promise<void> {
  for (const colorScheme of THEMES) {
    await page.emulateMedia({ colorScheme });
    await expectNoSeriousA11yViolations(page, `${label} (${colorScheme})`);
    if (colorScheme === "dark" && screenshot) await saveScreenshot(page, screenshot);
  }
  await page.emulateMedia({ colorScheme: null });
}

/** Waits until a `status` element (an <output>) on `page` shows text matching `text`. */
async function waitForStatus(page: Page, label: string, text: RegExp, timeoutMs = STATUS_TIMEOUT_MS): Promise<void> {
  const status = page.getByRole("status").filter({ hasText: text }).first();
  await diag.within(`${label}: a status showing ${text}`, timeoutMs, status.waitFor({ state: "visible", timeout: timeoutMs }));
}

/** Tab to `target` (it must show its focus), with diagnostics on failure. */
async function tab(page: Page, target: Locator, what: string): Promise<void> {
  await diag.within(what, 30_000, tabTo(page, target, what));
}

/** Replaces the text of the focused input by typing, as a person would (select all, type). */
async function typeInFocused(page: Page, text: string): Promise<void> {
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.type(text);
}

beforeAll(async () => {
  ({ cluster, browser } = await startClusterAndBrowser());
}, 90_000);

afterAll(() => stopClusterAndBrowser(cluster, browser), 30_000);

afterEach(async (ctx) => {
  for (const [label, page] of open) {
    if (ctx.task.result?.state === "fail" && !page.isClosed()) await saveScreenshot(page, `a11y-${label}-failed`);
    await page.close().catch(() => undefined);
    diag.reports.delete(label);
  }
  open.clear();
});

// ---------------------------------------------------------------------------------------------------------------
describe("axe-core finds no serious or critical WCAG 2.2 AA violation, light and dark; the keyboard alone works", () => {
  it(
    "Streamer: start state; publish by keyboard (Enter), publishing state; stop by keyboard (Space)",
    async () => {
      const page = await openPage("streamer", "/", "streamer");
      await checkBothThemes(page, "streamer, start");
      await waitForStatus(page, "streamer", /ESTABLISHED/);

      await tab(page, page.getByRole("textbox", { name: /stream name/i }), "streamer: the stream name field");
      await typeInFocused(page, uniqueName("a11y-streamer"));
      await tab(page, page.getByRole("button", { name: /publish/i }), "streamer: the Publish button");
      await page.keyboard.press("Enter");
      await waitForStatus(page, "streamer", /PUBLISHING/);
      await checkBothThemes(page, "streamer, publishing", "a11y-dark-streamer");

      await tab(page, page.getByRole("button", { name: /^stop$/i }), "streamer: the Stop button");
      await page.keyboard.press("Space");
      await waitForStatus(page, "streamer", /UNPUBLISHED/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "Two Way Streaming: start state; connect (Enter), publish (Space) and play it back (Enter) by keyboard",
    async () => {
      const page = await openPage("two-way", "/two-way", "twoWay");
      await checkBothThemes(page, "two-way, start");

      await tab(page, page.getByRole("button", { name: /connect/i }), "two-way: the Connect button");
      await page.keyboard.press("Enter");
      await waitForStatus(page, "two-way", /ESTABLISHED/);

      const name = uniqueName("a11y-two-way");
      await tab(page, page.getByRole("textbox", { name: /publish as/i }), "two-way: the Publish as field");
      await typeInFocused(page, name);
      await tab(page, page.getByRole("button", { name: /^publish$/i }), "two-way: the Publish button");
      await page.keyboard.press("Space");
      await waitForStatus(page, "two-way", /PUBLISHING/);

      await tab(page, page.getByRole("textbox", { name: /^play$/i }), "two-way: the Play field");
      await typeInFocused(page, name);
      await page.keyboard.press("Enter"); // submits the play form
      await waitForStatus(page, "two-way", /PLAYING/);
      await checkBothThemes(page, "two-way, publishing + playing", "a11y-dark-two-way");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "Player: start state; a published stream played by keyboard (Space); an unknown stream's waiting state, with no alert",
    async () => {
      const page = await openPage("player", "/player", "player");
      await checkBothThemes(page, "player, start");

      // a Streamer tab publishes the stream (by mouse: its keyboard flow is tested above)
      const name = uniqueName("a11y-player");
      const streamer = await openPage("player-source", "/", "streamer");
      await waitForStatus(streamer, "player-source", /ESTABLISHED/);
      await streamer.getByRole("textbox", { name: /stream name/i }).fill(name);
      await streamer.getByRole("button", { name: /publish/i }).click();
      await waitForStatus(streamer, "player-source", /PUBLISHING/);

      await page.bringToFront();
      await tab(page, page.getByRole("textbox", { name: /stream name/i }), "player: the stream name field");
      await typeInFocused(page, name);
      await tab(page, page.getByRole("button", { name: /^play$/i }), "player: the Play button");
      await page.keyboard.press("Space");
      await waitForStatus(page, "player", /PLAYING/);
      await checkBothThemes(page, "player, playing", "a11y-dark-player");

      // stop (the same button), then an unknown name: the page says it waits for it, with no alert
      await page.getByRole("button", { name: /stop/i }).click();
      await diag.within("player: Play again", STATUS_TIMEOUT_MS, page.getByRole("button", { name: /^play$/i }).waitFor());
      await page.getByRole("textbox", { name: /stream name/i }).fill(uniqueName("a11y-nobody"));
      await page.getByRole("button", { name: /^play$/i }).click();
      const waiting = page.getByRole("status").filter({ hasText: /waiting for .* to be published/i });
      await diag.within("player: the waiting state shown", STATUS_TIMEOUT_MS, waiting.first().waitFor());
      expect(await page.getByRole("alert").filter({ hasText: /\S/ }).count(), "no error while waiting").toBe(0);
      await checkBothThemes(page, "player, unknown stream", "a11y-dark-player-waiting");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "Conference: start state; join by keyboard (Enter), in-call state",
    async () => {
      const page = await openPage("conference", "/conference", "conference");
      await checkBothThemes(page, "conference, start");

      await tab(page, page.getByRole("textbox", { name: /^room$/i }), "conference: the Room field");
      await typeInFocused(page, uniqueName("a11y-room"));
      await tab(page, page.getByRole("textbox", { name: /your name/i }), "conference: the Your name field");
      await typeInFocused(page, "alice");
      await tab(page, page.getByRole("button", { name: /^join$/i }), "conference: the Join button");
      await page.keyboard.press("Enter");
      // in the room: the call's Leave control appears
      const leave = page.getByRole("button", { name: /^leave/i });
      await diag.within("conference: joined (a Leave button)", STATUS_TIMEOUT_MS, leave.waitFor({ state: "visible", timeout: STATUS_TIMEOUT_MS }));
      await checkBothThemes(page, "conference, joined", "a11y-dark-conference");
    },
    TEST_TIMEOUT_MS,
  );
});

