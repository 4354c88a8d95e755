/**
 * Cross-platform three-way video chat in one room, against one worker + media node:
 * - "web":   a Chromium page on OUR SDK (a page routed on the worker's origin that imports /sdk/wcs-sdk.mjs and uses
 *            `roomApi`),
 * - "flash": a Chromium page on the OFFICIAL @flashphoner/websdk room API (flashphoner-room-api-webrtc-only.js),
 * - "node":  a Node participant, the `wcs-edge room` CLI (client/cli/ on the Node SDK, @roamhq/wrtc), standing in
 *            for a native mobile client.
 * All three publish; each Chromium page plays the other two (videoWidth > 0, frames advancing) and the CLI reports
 * frames from both pages; JOINED/PUBLISHED reach the pages; messages from the CLI (--say, then a line on its stdin)
 * reach both pages, messages from both pages reach the CLI; Ctrl-C on the CLI makes it leave (LEFT on both pages).
 */
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  Diagnostics,
  elementProbe,
  pageVideoStats,
  saveScreenshot,
  sleep,
  startClusterAndBrowser,
  stopClusterAndBrowser,
  uniqueName as unique,
  type BrowserHandle,
} from "../harness/browser.js";
import { CliProcess, type CliEvent } from "../harness/cli.js";
import type { Cluster } from "../harness/cluster.js";
import {
  OFFICIAL_ROOM_PAGE_HTML,
  OUR_ROOM_PAGE_HTML,
  openRoomPage,
  pageEvents,
  waitForRoomEvent,
  type RoomPage,
  type RoomPageEvent as PageEvent,
} from "../harness/sdk-pages.js";

const STATUS_TIMEOUT_MS = 25_000;
const TEST_TIMEOUT_MS = 120_000;

let cluster: Cluster;
let browser: BrowserHandle;
const pages: Array<{ label: string; page: Page }> = [];
let node: CliProcess | undefined;
const diag = new Diagnostics({ browser: () => browser, serverLogs: () => cluster?.logs() });
diag.reports.set("node (CLI)", async () => node?.dump() ?? "(not started)");

/** Runs `p` (it has its own deadline); a failure is reported with every page's events, the CLI's and the logs. */
const within = <T>(what: string, p: Promise<T>): Promise<T> => diag.within(what, TEST_TIMEOUT_MS, p);

/** Waits for a page event; a session drop, room FAILED or a recorded error on that page fails at once. */
const waitForPageEvent = (page: Page, label: string, what: string, match: (e: PageEvent) => boolean): Promise<PageEvent[]> =>
  waitForRoomEvent(diag, page, label, what, match, { timeoutMs: STATUS_TIMEOUT_MS, failOnError: true });

/** Opens a routed test page on the worker's origin and joins `room` as `login`. */
async function openPage(label: string, html: string, login: string, room: string): Promise<Page> {
  const page = await openRoomPage(browser, diag, cluster, { label, html, login, room, timeoutMs: STATUS_TIMEOUT_MS });
  pages.push({ label, page });
  return page;
}

async function publishFromPage(page: Page, label: string): Promise<string> {
  const name = await page.evaluate(() => (window as unknown as RoomPage).publish());
  await waitForPageEvent(page, label, "publish PUBLISHING", (e) => {
    if (e.kind === "stream" && e.key === "publish" && ["UNPUBLISHED", "STOPPED", "FAILED"].includes(e.status ?? "")) {
      throw new Error(`publish ended: ${e.status} ${e.info}`);
    }
    return e.kind === "stream" && e.key === "publish" && e.status === "PUBLISHING";
  });
  return name;
}

/** Both remote <video>s of a page show video, and ~2 s later both have more frames. */
const expectTwoLiveVideos = (page: Page, label: string, logins: [string, string]) =>
  diag.expectLiveVideos(logins.map((l) => elementProbe(page, `${label} plays ${l}`, `#p-${l} video`)), STATUS_TIMEOUT_MS);

/** The CLI's latest per-second stats for `login`'s stream. */
const cliStats = (cli: CliProcess, login: string): CliEvent[] => cli.events().filter((e) => e.type === "stats" && e.login === login);

beforeAll(async () => {
  ({ cluster, browser } = await startClusterAndBrowser());
}, 90_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail") {
    for (const { label, page } of pages) if (!page.isClosed()) await saveScreenshot(page, `cross-platform-${label}-failed`);
  }
});

afterAll(async () => {
  node?.kill();
  await stopClusterAndBrowser(cluster, browser);
}, 30_000);

describe("cross-platform room: our SDK in Chromium + the official Web SDK in Chromium + the Node CLI", () => {
  it(
    "all three publish, see and play each other, and chat",
    async () => {
      const room = unique("xroom");
      // 1. our SDK page joins an empty room and publishes the fake camera
      const web = await openPage("web (our SDK)", OUR_ROOM_PAGE_HTML, "web", room);
      const webState = (await pageEvents<PageEvent>(web)).find((e) => e.event === "STATE");
      expect(webState?.participants).toEqual([]);
      const webStream = await publishFromPage(web, "web");
      expect(webStream).toMatch(new RegExp(`^${room}-web-[0-9a-f]{4}$`));

      // 2. the official SDK page joins (STATE lists web and its stream, which it plays) and publishes
      const flash = await openPage("flash (official SDK)", OFFICIAL_ROOM_PAGE_HTML, "flash", room);
      const flashState = (await pageEvents<PageEvent>(flash)).find((e) => e.event === "STATE");
      expect(flashState?.participants).toEqual([{ login: "web", streams: [webStream] }]);
      const flashStream = await publishFromPage(flash, "flash");
      await waitForPageEvent(web, "web", "JOINED + PUBLISHED flash", (e) => e.event === "PUBLISHED" && e.login === "flash");

      // 3. the Node CLI joins, plays both, publishes synthetic media and says hello to everyone
      const hello = unique("hello from node");
      node = new CliProcess(["room", "--name", room, "--login", "node", "--publish", "--play-all", "--say", hello, "--url", cluster.wsUrl, "--json"], 110_000);
      const state = await within("node: STATE", node.waitFor("STATE", (e) => e.type === "state", STATUS_TIMEOUT_MS));
      expect((state.participants as Array<{ login: string; streams: string[] }>).sort((a, b) => a.login.localeCompare(b.login))).toEqual([
        { login: "flash", streams: [flashStream] },
        { login: "web", streams: [webStream] },
      ]);
      const published = await within("node: PUBLISHING", node.waitFor("publish PUBLISHING", (e) => e.type === "status" && e.role === "publish" && e.status === "PUBLISHING", STATUS_TIMEOUT_MS));
      const nodeStream = published.name as string;
      expect(nodeStream).toMatch(new RegExp(`^${room}-node-[0-9a-f]{4}$`));
      await within("node: --say sent", node.waitFor("sent", (e) => e.type === "sent" && e.text === hello, STATUS_TIMEOUT_MS));
      for (const login of ["web", "flash"]) {
        await within(`node plays ${login}`, node.waitFor(`PLAYING ${login}`, (e) => e.type === "status" && e.role === "play" && e.login === login && e.status === "PLAYING", STATUS_TIMEOUT_MS));
      }

      // the pages hear of node: JOINED, PUBLISHED (with its stream), its message
      for (const [page, label] of [[web, "web"], [flash, "flash"]] as const) {
        await waitForPageEvent(page, label, "JOINED node", (e) => e.event === "JOINED" && e.login === "node");
        await waitForPageEvent(page, label, "PUBLISHED node", (e) => e.event === "PUBLISHED" && e.login === "node" && (e.streams ?? []).includes(nodeStream));
        await waitForPageEvent(page, label, "node's --say message", (e) => e.event === "MESSAGE" && e.from === "node" && e.text === hello);
      }
      const webRoomEvents = (await pageEvents<PageEvent>(web)).filter((e) => e.kind === "room" && e.event !== "MESSAGE").map((e) => `${e.event} ${e.login ?? ""}`.trim());
      expect(webRoomEvents).toEqual(["STATE", "JOINED flash", "PUBLISHED flash", "JOINED node", "PUBLISHED node"]);
      const flashRoomEvents = (await pageEvents<PageEvent>(flash)).filter((e) => e.kind === "room" && e.event !== "MESSAGE").map((e) => `${e.event} ${e.login ?? ""}`.trim());
      expect(flashRoomEvents).toEqual(["STATE", "JOINED node", "PUBLISHED node"]);

      // video everywhere: each page plays the two others; the CLI gets frames from both pages
      const [webVideos, flashVideos] = await Promise.all([
        expectTwoLiveVideos(web, "web", ["flash", "node"]),
        expectTwoLiveVideos(flash, "flash", ["web", "node"]),
      ]);
      console.log(`cross-platform videos:\n  web: ${JSON.stringify(webVideos)}\n  flash: ${JSON.stringify(flashVideos)}`);
      for (const login of ["web", "flash"]) {
        const first = await within(
          `node: frames from ${login}`,
          node.waitFor(`frames from ${login}`, (e) => e.type === "stats" && e.login === login && (e.width as number) > 0 && (e.frames as number) > 0, STATUS_TIMEOUT_MS),
        );
        await sleep(2200);
        const last = cliStats(node, login).at(-1)!;
        console.log(`node plays ${login}: ${JSON.stringify(first)} -> ${JSON.stringify(last)}`);
        expect(last.frames as number, await diag.dump()).toBeGreaterThan(first.frames as number);
        expect(last.width as number).toBeGreaterThan(0);
        expect(last.fps as number).toBeGreaterThan(0);
      }
      await saveScreenshot(web, "cross-platform-web-our-sdk");
      await saveScreenshot(flash, "cross-platform-flash-official-sdk");

      // more chat: a line on the CLI's stdin goes to everyone; each page messages node privately
      const typed = unique("typed on stdin");
      node.writeLine(typed);
      for (const [page, label] of [[web, "web"], [flash, "flash"]] as const) {
        await waitForPageEvent(page, label, "node's stdin message", (e) => e.event === "MESSAGE" && e.from === "node" && e.text === typed);
      }
      const fromWeb = unique("web to node");
      const fromFlash = unique("flash to node");
      await web.evaluate(([t]) => (window as unknown as RoomPage).sendTo("node", t), [fromWeb] as const);
      await flash.evaluate(([t]) => (window as unknown as RoomPage).sendTo("node", t), [fromFlash] as const);
      await within("node: message from web", node.waitFor("web's message", (e) => e.type === "message" && e.from === "web" && e.text === fromWeb));
      await within("node: message from flash", node.waitFor("flash's message", (e) => e.type === "message" && e.from === "flash" && e.text === fromFlash));
      for (const [page, label] of [[web, "web"], [flash, "flash"]] as const) {
        const texts = (await pageEvents<PageEvent>(page)).filter((e) => e.event === "MESSAGE").map((e) => `${e.from}: ${e.text}`);
        expect(texts, `${label}'s messages`).toEqual([`node: ${hello}`, `node: ${typed}`]);
      }

      // Ctrl-C: the CLI stops its streams, leaves (LEFT on both pages) and exits 0 with per-stream summaries
      const exit = await node.stop("SIGINT");
      expect(exit, node.dump()).toEqual({ code: 0, signal: null });
      const summaries = node.events().filter((e) => e.type === "summary");
      expect(summaries.map((s) => s.login).sort()).toEqual(["flash", "web"]);
      for (const s of summaries) expect(s.frames as number).toBeGreaterThan(30);
      for (const [page, label] of [[web, "web"], [flash, "flash"]] as const) {
        await waitForPageEvent(page, label, "LEFT node", (e) => e.event === "LEFT" && e.login === "node");
      }
      // the browsers still play each other
      const after = await Promise.all([pageVideoStats(web, "#p-flash video"), pageVideoStats(flash, "#p-web video")]);
      await sleep(1500);
      const later = await Promise.all([pageVideoStats(web, "#p-flash video"), pageVideoStats(flash, "#p-web video")]);
      expect(later[0]!.framesDecoded).toBeGreaterThan(after[0]!.framesDecoded);
      expect(later[1]!.framesDecoded).toBeGreaterThan(after[1]!.framesDecoded);
    },
    TEST_TIMEOUT_MS,
  );
});
