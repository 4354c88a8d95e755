/**
 * Stream snapshots end to end (protocol/snapshot.ts; media-node/snapshot.ts decodes with Debian's ffmpeg): a real
 * worker and media node, the official Web SDK (flashphoner-webrtc-only.js, unchanged) in headless Chromium, @roamhq/wrtc
 * publishers from test/clients, and the PNGs decoded here with ffmpeg (test/harness/png.ts).
 *
 * - A wrtc publisher (VP8 640x480 whose luma carries a frame marker, test/clients/media.ts) played by the Web SDK:
 *   `stream.snapshot()` on the played stream, and on a fresh stream object of the name as the official
 *   stream-snapshot demo does it, both give `snapshotCompleted` whose PNG has the publisher's size and a valid
 *   marker sent moments before; REST `/stream/snapshot` gives the same picture kind.
 * - REST of an unknown stream → 404; an audio-only stream → `snapshotFailed` "Stream has no video" and REST 409.
 * - A Chromium publisher sending H.264 (the Web SDK's `stripCodecs` takes VP8/VP9/AV1 out of its offer): the PNG has
 *   the size Chromium sends and a picture (not a flat one).
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeAllClients, markerLatencyMs, readMarker, spawnPublisher, type WcsClientHandle } from "../clients/index.js";
import type { Cluster } from "../harness/cluster.js";
import {
  Diagnostics,
  startClusterAndBrowser,
  stopClusterAndBrowser,
  TERMINAL_STATUSES as TERMINAL,
  uniqueName,
  type BrowserHandle,
} from "../harness/browser.js";
import { decodePngGray, meanLuma, type GrayPicture } from "../harness/png.js";
import { scrapeMetrics } from "../harness/prometheus.js";
import { connectWebSdk, openWebSdkPage, pageEvents, WEBSDK_STREAM_PAGE_HTML } from "../harness/sdk-pages.js";

const STATUS_TIMEOUT_MS = 20_000;
const SNAPSHOT_TIMEOUT_MS = 15_000;
const TEST_TIMEOUT_MS = 75_000;

/** What the page records: the stream page's statuses, plus (added here) snapshot events. */
interface Rec {
  kind: "session" | "stream" | "snapshot";
  key?: string;
  status?: string;
  info?: string | null;
  type?: string;
  mediaSessionId?: string;
  /** snapshotCompleted: the PNG, base64. */
  snapshot?: string | null;
  t: number;
}

/**
 * The official stream page plus: `snapshotOf(key)` calls `stream.snapshot()` on the page's stream `key`;
 * `freshSnapshot(key, name)` does what the official stream-snapshot demo does (a new stream object of the name, its
 * STREAM_EVENT callback, `.snapshot()`); `outboundVideo(key)` is the publisher stream's outbound-rtp video size and
 * codec (native stats). Each STREAM_EVENT of a snapshot is recorded as `{kind: "snapshot", key, type, info, snapshot}`.
 */
const SNAPSHOT_SCRIPT = `
  function recordSnapshots(stream, key) {
    stream.on(Flashphoner.constants.STREAM_EVENT, function (e) {
      const p = e.payload || {};
      record({ kind: "snapshot", key: key, type: e.type, mediaSessionId: e.mediaSessionId, info: p.info || null, snapshot: p.snapshot || null });
    });
  }
  window.snapshotOf = function (key) {
    const s = window.streams[key];
    if (!s.snapshotRecorded) { recordSnapshots(s, key); s.snapshotRecorded = true; }
    s.snapshot();
  };
  window.freshSnapshot = function (key, name) {
    const s = session.createStream({ name: name });
    recordSnapshots(s, key);
    s.snapshot();
  };
  window.outboundVideo = function (key) {
    return new Promise(function (resolve) {
      window.streams[key].getStats(function (stats) {
        const v = (stats["outbound-rtp"] || []).find(function (r) { return r.kind === "video"; });
        const c = v && (stats.codec || []).find(function (r) { return r.id === v.codecId; });
        resolve(v ? { width: v.frameWidth || 0, height: v.frameHeight || 0, frames: v.framesEncoded || 0, codec: c ? c.mimeType : "" } : null);
      }, true);
    });
  };
`;
const PAGE_HTML = WEBSDK_STREAM_PAGE_HTML.replace("</body></html>", `<script>${SNAPSHOT_SCRIPT}</script></body></html>`);

let cluster: Cluster;
let browser: BrowserHandle;
let page: Page;
const diag = new Diagnostics({ browser: () => browser, serverLogs: () => cluster?.logs() }, 80);
const events = (): Promise<Rec[]> => pageEvents<Rec>(page);
const format = (list: Rec[]): string =>
  list.map(({ t: _t, snapshot, ...e }) => JSON.stringify({ ...e, ...(snapshot ? { snapshot: `${snapshot.length} base64 chars` } : {}) })).join("\n");

beforeAll(async () => {
  if (PAGE_HTML === WEBSDK_STREAM_PAGE_HTML) throw new Error("the snapshot script was not added to the stream page");
  ({ cluster, browser } = await startClusterAndBrowser());
  page = await openWebSdkPage(browser, cluster.httpUrl, "sdk", { entry: "websdk.html", html: PAGE_HTML, sdkFile: "flashphoner-webrtc-only.js" });
  diag.reports.set("sdk", async () => format(await events()));
  const status = await diag.within("Web SDK session", STATUS_TIMEOUT_MS, connectWebSdk(page, cluster.wsUrl));
  if (status !== "ESTABLISHED") await diag.fail(`Web SDK session ${status}`);
}, 120_000);

afterAll(async () => {
  await closeAllClients();
  await stopClusterAndBrowser(cluster, browser);
}, 30_000);

/** REST call to the cluster (open: AUTH off, no REST_API_TOKEN). */
async function rest(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${cluster.httpUrl}/rest-api${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Starts the page's stream `key` and waits for PUBLISHING / PLAYING (fails at once on a terminal status). */
async function start(key: string, name: string, mode: "publish" | "play", options?: Record<string, unknown>): Promise<void> {
  await page.evaluate(`window.startStream(${JSON.stringify(key)}, ${JSON.stringify(name)}, ${JSON.stringify(mode)}, ${JSON.stringify(options ?? {})})`);
  const want = mode === "publish" ? "PUBLISHING" : "PLAYING";
  await diag.waitUntil(`${key} ${want}`, () => events(), (l) => {
    const ended = l.find((e) => e.kind === "stream" && e.key === key && TERMINAL.has(e.status ?? ""));
    if (ended) throw new Error(`${key} ended: ${ended.status} (${ended.info})`);
    return l.some((e) => e.kind === "stream" && e.key === key && e.status === want);
  }, STATUS_TIMEOUT_MS);
}

/** Runs `ask` in the page and waits for the snapshot event of `key` it causes; returns it. */
async function snapshotEvent(key: string, ask: string): Promise<Rec> {
  const before = (await events()).filter((e) => e.kind === "snapshot" && e.key === key).length;
  await page.evaluate(ask);
  const list = await diag.waitUntil(`snapshot event of ${key}`, () => events(), (l) => l.filter((e) => e.kind === "snapshot" && e.key === key).length > before, SNAPSHOT_TIMEOUT_MS);
  return list.filter((e) => e.kind === "snapshot" && e.key === key)[before]!;
}

/** A snapshotCompleted event's PNG, decoded (fails with the event when it is not one). */
async function completedPicture(ev: Rec, label: string): Promise<GrayPicture> {
  if (ev.type !== "snapshotCompleted" || !ev.snapshot) return diag.fail(`${label}: expected snapshotCompleted with a PNG, got ${JSON.stringify({ ...ev, snapshot: undefined })}`);
  return decodePngGray(Buffer.from(ev.snapshot, "base64"));
}

/** The outbound video size of a wrtc publisher now. */
async function publishedSize(pub: WcsClientHandle): Promise<string> {
  const v = (await pub.stats()).rtp.video;
  return `${v?.frameWidth ?? 0}x${v?.frameHeight ?? 0}`;
}

/** Expects `pic` to be the wrtc publisher's picture: its size (`sizes`: read before and after) and a marker sent ≤ 3 s before `at`. */
function expectPublisherPicture(pic: GrayPicture, sizes: string[], at: number, label: string): void {
  expect(sizes, `${label}: the publisher's size`).toContain(`${pic.width}x${pic.height}`);
  const marker = readMarker(pic.gray, pic.width, pic.height);
  expect(marker, `${label}: the frame marker of the publisher's picture`).not.toBeNull();
  // the newest frame when asked (a GOP's keyframe could be up to 3 s old): sent moments before the answer came
  expect(markerLatencyMs(marker!.sendTimeMs, at), `${label}: age of the picture`).toBeLessThan(3000);
}

/** The node's count of snapshots taken (media-node/metrics.ts `wcs_media_node_snapshots_total`). */
const snapshotsTaken = async () => (await scrapeMetrics(`${cluster.nodes[0]!.controlUrl}/metrics`)).value("wcs_media_node_snapshots_total", { outcome: "taken" });

describe("snapshots", () => {
  it(
    "official Web SDK: stream.snapshot() of a played wrtc stream, and of a fresh stream object (the official demo), give snapshotCompleted with the publisher's picture; REST too",
    async () => {
      const name = uniqueName("snap");
      const pub = await spawnPublisher({ url: cluster.wsUrl, name });
      await pub.waitForStatus("PUBLISHING", STATUS_TIMEOUT_MS);
      await pub.waitForStats((s) => (s.rtp.video?.framesEncoded ?? 0) > 30, 15_000, "frames encoded");
      // keys are per stream name: a retried test starts with the page's events of the first try
      const play = `play-${name}`;
      await start(play, name, "play");
      const takenBefore = await snapshotsTaken();

      const sizeBefore = await publishedSize(pub);
      const played = await snapshotEvent(play, `window.snapshotOf(${JSON.stringify(play)})`);
      const playedAt = played.t;
      const pic = await completedPicture(played, "played stream");
      const playId = await page.evaluate(`window.streams[${JSON.stringify(play)}].id()`);
      expect(played.mediaSessionId).toBe(playId);
      const sizeAfter = await publishedSize(pub);
      expectPublisherPicture(pic, [sizeBefore, sizeAfter], playedAt, "played stream");

      const fresh = await snapshotEvent(`fresh-${name}`, `window.freshSnapshot(${JSON.stringify(`fresh-${name}`)}, ${JSON.stringify(name)})`);
      expectPublisherPicture(await completedPicture(fresh, "fresh stream object"), [sizeAfter, await publishedSize(pub)], fresh.t, "fresh stream object");

      const asked = Date.now();
      const res = await rest("/stream/snapshot", { streamName: name });
      if (res.status !== 200) await diag.fail(`REST snapshot: ${res.status} ${JSON.stringify(res.json)}`);
      expect(Object.keys(res.json)).toEqual(["data"]);
      const restPic = await decodePngGray(Buffer.from(res.json.data as string, "base64"));
      expectPublisherPicture(restPic, [sizeAfter, await publishedSize(pub)], Date.now(), "REST");
      console.log(`snapshot: REST round trip ${Date.now() - asked} ms, ${restPic.width}x${restPic.height}, ${(res.json.data as string).length} base64 chars`);

      // three snapshots, each counted on the node's /metrics
      expect((await snapshotsTaken()) - takenBefore).toBe(3);

      // the player is not disturbed by the snapshots
      const ended = (await events()).filter((e) => e.kind === "stream" && e.key === play && TERMINAL.has(e.status ?? ""));
      expect(ended).toEqual([]);
      await pub.stop();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "an unknown stream: REST 404, the Web SDK snapshotFailed 'Stream not found'; an audio-only stream: REST 409 and snapshotFailed 'Stream has no video'",
    async () => {
      const unknown = await rest("/stream/snapshot", { streamName: uniqueName("nobody") });
      expect(unknown).toEqual({ status: 404, json: { error: "Stream not found" } });
      const bad = await rest("/stream/snapshot", { name: "x" });
      expect(bad.status).toBe(400);

      const missingKey = uniqueName("missing");
      const missing = await snapshotEvent(missingKey, `window.freshSnapshot(${JSON.stringify(missingKey)}, ${JSON.stringify(uniqueName("nobody"))})`);
      expect([missing.type, missing.info]).toEqual(["snapshotFailed", "Stream not found"]);

      const name = uniqueName("snap-audio");
      const pub = await spawnPublisher({ url: cluster.wsUrl, name, video: false });
      await pub.waitForStatus("PUBLISHING", STATUS_TIMEOUT_MS);
      expect(await rest("/stream/snapshot", { streamName: name })).toEqual({ status: 409, json: { error: "Stream has no video" } });
      const audio = await snapshotEvent(`audio-${name}`, `window.freshSnapshot(${JSON.stringify(`audio-${name}`)}, ${JSON.stringify(name)})`);
      expect([audio.type, audio.info]).toEqual(["snapshotFailed", "Stream has no video"]);
      await pub.stop();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "H.264 from Chromium (Web SDK stripCodecs): snapshotCompleted and REST give a PNG of the size Chromium sends",
    async () => {
      const name = uniqueName("snap-h264");
      const key = `h264-${name}`;
      await start(key, name, "publish", { stripCodecs: "VP8,VP9,AV1" });
      const sent = await diag.waitUntil(
        "H.264 frames sent",
        () => page.evaluate(`window.outboundVideo(${JSON.stringify(key)})`) as Promise<{ width: number; height: number; frames: number; codec: string } | null>,
        (v) => !!v && v.frames > 30 && v.width > 0,
        STATUS_TIMEOUT_MS,
      );
      expect(sent!.codec).toBe("video/H264");

      const ev = await snapshotEvent(key, `window.snapshotOf(${JSON.stringify(key)})`);
      const pic = await completedPicture(ev, "H.264 publisher");
      const now = (await page.evaluate(`window.outboundVideo(${JSON.stringify(key)})`)) as { width: number; height: number };
      expect([`${sent!.width}x${sent!.height}`, `${now.width}x${now.height}`]).toContain(`${pic.width}x${pic.height}`);
      // Chromium's fake camera: a picture, not a flat one (a decoder that gave up would write grey or black)
      const mean = meanLuma(pic, 0, 0, pic.width, pic.height);
      let spread = 0;
      for (const v of pic.gray) spread += Math.abs(v - mean);
      expect(spread / pic.gray.length, "mean absolute luma deviation").toBeGreaterThan(5);

      const res = await rest("/stream/snapshot", { streamName: name });
      if (res.status !== 200) await diag.fail(`REST snapshot: ${res.status} ${JSON.stringify(res.json)}`);
      const restPic = await decodePngGray(Buffer.from(res.json.data as string, "base64"));
      expect([restPic.width, restPic.height]).toEqual([pic.width, pic.height]);
      await page.evaluate(`window.stopStream(${JSON.stringify(key)})`);
    },
    TEST_TIMEOUT_MS,
  );
});
