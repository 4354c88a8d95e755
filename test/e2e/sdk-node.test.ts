/**
 * The client SDK in Node (client/node.ts: ws + @roamhq/wrtc) against a real cluster (wrangler dev + a media node):
 * a synthetic 640x480 stream published by one SDK session and played by another, and two Room API participants that
 * message each other while one publishes and the other plays. The wrtc parts run in a child process
 * (test/sdk/node-scenarios.ts), which prints its results as JSON and ends with process.exit().
 * Also checks that the worker serves the browser bundles built by wrangler's [build] step, and that the ES module
 * bundle publishes and plays in headless Chromium (display elements get a live <video>).
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, pageVideoStats, saveScreenshot } from "../harness/browser.js";
import { ROOT, startCluster, type Cluster } from "../harness/cluster.js";

const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const SCRIPT = join(ROOT, "test/sdk/node-scenarios.ts");

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ nodes: 1 });
});
afterAll(async () => {
  await cluster?.stop();
});

interface FrameStats {
  frames: number;
  width: number;
  height: number;
  fps: number;
  lastCounter: number | null;
  framesWithCounter: number;
}
interface ScenarioResult {
  ok: boolean;
  error?: string;
  first: FrameStats;
  later: FrameStats;
  firstFrameMs: number;
  pubStatuses: string[];
  playStatuses: string[];
  playerEnd: string;
  pubEnd: string;
  [k: string]: unknown;
}

/** Runs one scenario in a child process; resolves with its RESULT line. `onStep` gets its `STEP x` lines. */
function runScenario(scenario: "stream" | "room" | "restore" | "events", onStep?: (step: string) => void): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", TSX_LOADER, SCRIPT, scenario, cluster.wsUrl], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      const before = out.split("\n").length - 1;
      out += d.toString();
      const lines = out.split("\n");
      for (const l of lines.slice(before, -1)) if (l.startsWith("STEP ")) onStep?.(l.slice(5));
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 115_000);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      if (!line) return reject(new Error(`scenario ${scenario} exited ${signal ?? code} without a result\n${out}\n${err}\n${cluster.logs()}`));
      const result = JSON.parse(line.slice("RESULT ".length)) as ScenarioResult;
      if (!result.ok) return reject(new Error(`scenario ${scenario} failed: ${result.error}\n${err}\n${cluster.logs()}`));
      resolve(result);
    });
  });
}

/** Frames keep coming at 640x480 with the publisher's counters in them. */
function expectLiveVideo(r: ScenarioResult, windowMs: number): void {
  expect(r.first.width).toBe(640);
  expect(r.first.height).toBe(480);
  expect(r.later.width).toBe(640);
  expect(r.later.height).toBe(480);
  const gained = r.later.frames - r.first.frames;
  // ~30 fps; a generous floor for a loaded 2-core machine
  expect(gained).toBeGreaterThan((windowMs / 1000) * 12);
  expect(r.later.framesWithCounter).toBeGreaterThan(r.later.frames * 0.9);
  expect(r.later.lastCounter!).toBeGreaterThan(r.first.lastCounter!);
}

describe("SDK in Node", () => {
  it("serves the browser bundles built by wrangler's [build]", async () => {
    for (const path of ["/sdk/wcs-sdk.mjs", "/sdk/wcs-sdk.js"]) {
      const res = await fetch(cluster.httpUrl + path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/javascript/);
      const body = await res.text();
      expect(body).toContain("createSession");
      expect(body).not.toMatch(/@roamhq\/wrtc|from "ws"|require\("ws"\)|zod/);
      if (path.endsWith(".js")) expect(body).toMatch(/var WcsSdk = /);
      else expect(body).toMatch(/export \{/);
    }
  });

  it("publishes a synthetic 640x480 stream and plays it from another session", async () => {
    const r = await runScenario("stream");
    console.log(
      `sdk stream: publish→PUBLISHING ${r.publishMs} ms, play→PLAYING ${r.playMs} ms, first frame ${r.firstFrameMs} ms, ` +
        `${r.later.fps} fps, ${r.later.frames} frames (${r.later.width}x${r.later.height}), sent ${r.framesSent}`,
    );
    expect(r.pubStatuses).toEqual(["PENDING", "PUBLISHING", "UNPUBLISHED"]);
    expect(r.playStatuses).toEqual(["PENDING", "PLAYING", "STOPPED"]);
    expect(r.playerEnd).toBe("STOPPED");
    expect(r.pubEnd).toBe("UNPUBLISHED");
    expect(new Set(r.sessionIds as string[]).size).toBe(2);
    expectLiveVideo(r, 3000);
    expect(r.later.fps).toBeGreaterThanOrEqual(15);
  });

  it("room API: two participants message each other, one publishes, the other gets PUBLISHED and plays it", async () => {
    const r = await runScenario("room");
    console.log(`sdk room: first frame ${r.firstFrameMs} ms, ${r.later.fps} fps, ${r.later.frames} frames`);
    expect(r.aliceStateAtJoin).toEqual([]);
    expect(r.bobStateAtJoin).toEqual([r.aliceName]);
    expect(r.aliceEvents).toEqual([`JOINED ${r.bobName}`, `LEFT ${r.bobName}`]);
    expect(r.bobMessages).toEqual([{ from: r.aliceName, text: "hello bob" }]);
    expect(r.aliceMessages).toEqual([{ from: r.bobName, text: "hi all" }]);
    expect(r.pubName).toMatch(new RegExp(`^${r.roomName}-${r.aliceName}-[0-9a-f]{4}$`));
    expect(r.bobEvents).toEqual([`PUBLISHED ${r.aliceName} ${r.pubName}`]);
    expect(r.pubStatuses).toEqual(["PENDING", "PUBLISHING", "UNPUBLISHED"]);
    expect(r.playStatuses).toEqual(["PENDING", "PLAYING", "STOPPED"]);
    expectLiveVideo(r, 2000);
  });
});

describe("SDK stream events in Node", () => {
  it("mute calls disable the published tracks and reach the player as typed STREAM_EVENTs; sendData; states; refusals", async () => {
    const r = await runScenario("events");
    const muted = { streamName: r.name };
    expect(r.events).toEqual([
      { type: "audioMuted", mediaSessionId: r.playerId, payload: muted, same: true },
      { type: "videoMuted", mediaSessionId: r.playerId, payload: muted, same: true },
      { type: "data", mediaSessionId: r.playerId, payload: { hello: "node", list: [1, 2, 3] }, same: true },
      { type: "audioUnmuted", mediaSessionId: r.playerId, payload: muted, same: true },
      { type: "data", mediaSessionId: r.playerId, payload: "after the big one", same: true },
    ]);
    expect(r.stateAtPlay).toEqual({ audio: { muted: false }, video: { muted: false } });
    expect(r.afterMuteAudio).toEqual({ enabled: [false], muted: true });
    expect(r.afterMuteVideo).toEqual({ enabled: [false], muted: true });
    expect(r.stateAfter).toEqual({ audio: { muted: false }, video: { muted: true } });
    expect(r.lateState).toEqual({ audio: { muted: false }, video: { muted: true } });
    expect(r.playerBState).toEqual({ audio: { muted: false }, video: { muted: true } });
    const big = JSON.stringify({ big: "x".repeat(20_000) }).length;
    expect(r.pubWarnings).toEqual([`sendStreamEvent: Invalid request: payload is ${big} bytes of JSON, the limit is 16384`]);
    expect(r.playWarnings).toEqual([]);
    expect(r.refusals).toEqual({
      beforePublish: "Error: muteAudio(): only a published stream can be muted (publish() it first)",
      pendingSendData: "Error: Invalid stream state PENDING: sendData needs a PUBLISHING stream",
      playerMute: "Error: muteVideo(): only a published stream can be muted (this one is played)",
      playerSendData: "Error: Invalid stream state PLAYING: sendData needs a PUBLISHING stream",
      undefinedData: "TypeError: sendData: payload must be given",
      cyclicData: expect.stringMatching(/^TypeError: .*circular/i),
    });
  });
});

describe("SDK auto-restore in Node", () => {
  it("restores a publisher and its player after their media node is lost, on another node", { timeout: 120_000 }, async () => {
    let killed: Promise<void> | undefined;
    const r = await runScenario("restore", (step) => {
      if (step !== "active") return;
      killed = (async () => {
        const [old] = cluster.nodes;
        await old!.kill("SIGKILL");
        await cluster.startNode();
      })();
    });
    await killed;
    console.log(
      `sdk restore: publisher back ${r.pubBackMs} ms and player back ${r.playBackMs} ms after the failure, ` +
        `${r.later.fps} fps after restore`,
    );
    expect(r.pubFailInfo).toBe("Failed by error: media node lost");
    expect(r.restoringAfterFail).toBe(true);
    expect(r.newPubId).toBe(true);
    expect(r.pubStatuses.slice(0, 3)).toEqual(["PENDING", "PUBLISHING", "FAILED:Failed by error: media node lost"]);
    expect(r.pubStatuses.slice(-3)).toEqual(["PENDING", "PUBLISHING", "UNPUBLISHED"]);
    expect(r.playStatuses.slice(0, 2)).toEqual(["PENDING", "PLAYING"]);
    expect(r.playStatuses[2]).toMatch(/^FAILED:/);
    expect(r.playStatuses.slice(-3)).toEqual(["PENDING", "PLAYING", "STOPPED"]);
    expectLiveVideo(r, 2000);
  });
});

describe("SDK bundle in Chromium", () => {
  it("loads both bundles, publishes the fake camera into a display and plays it back into another", async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage("sdk-bundle");
      await page.goto(cluster.httpUrl + "/");
      await page.addScriptTag({ url: "/sdk/wcs-sdk.js" });
      await page.addScriptTag({ type: "module", content: 'import * as sdk from "/sdk/wcs-sdk.mjs"; window.__sdk = sdk;' });
      await page.waitForFunction("window.__sdk !== undefined", undefined, { timeout: 10_000 });
      expect(await page.evaluate("typeof window.WcsSdk.createSession + ' ' + typeof window.WcsSdk.roomApi.connect")).toBe("function function");
      const name = `sdk-browser-${Date.now().toString(36)}`;
      // a string, not a function: the test file's transform would wrap named functions in helpers the page lacks
      const result = (await page.evaluate(`(async () => {
        const { createSession, STREAM_STATUS } = window.__sdk;
        const statuses = [];
        const track = (label, stream) => { for (const st of Object.values(STREAM_STATUS)) stream.on(st, () => statuses.push(label + " " + st)); return stream; };
        const session = await createSession({ urlServer: location.origin.replace(/^http/, "ws") }).established(10000);
        for (const id of ["pubDisplay", "playDisplay"]) { const d = document.createElement("div"); d.id = id; document.body.prepend(d); }
        const pub = track("pub", session.createStream({ name: ${JSON.stringify(name)}, display: document.getElementById("pubDisplay") })).publish();
        await pub.active(20000);
        const player = track("play", session.createStream({ name: ${JSON.stringify(name)}, display: document.getElementById("playDisplay") })).play();
        await player.active(20000);
        window.__sdkStreams = { pub, player, session };
        return {
          statuses,
          pubVideoId: document.querySelector("#pubDisplay video")?.id === pub.id(),
          playVideoId: document.querySelector("#playDisplay video")?.id === player.id(),
          remoteTracks: player.getRemoteMediaStream().getTracks().map((t) => t.kind).sort().join(","),
        };
      })()`)) as { statuses: string[]; pubVideoId: boolean; playVideoId: boolean; remoteTracks: string };
      expect(result.statuses).toEqual(["pub PENDING", "pub PUBLISHING", "play PENDING", "play PLAYING"]);
      expect(result.pubVideoId).toBe(true);
      expect(result.playVideoId).toBe(true);
      expect(result.remoteTracks).toBe("audio,video");
      await page.waitForFunction('document.querySelector("#playDisplay video")?.videoWidth > 0', undefined, { timeout: 15_000 });
      const a = await pageVideoStats(page, "#playDisplay video");
      await new Promise((r) => setTimeout(r, 1500));
      const b = await pageVideoStats(page, "#playDisplay video");
      await saveScreenshot(page, "sdk-bundle-chromium");
      expect(b.videoWidth).toBeGreaterThan(0);
      expect(b.framesDecoded).toBeGreaterThan(a.framesDecoded + 10);
      const ended = (await page.evaluate(`(async () => {
        const { pub, player, session } = window.__sdkStreams;
        player.stop();
        const p = await player.ended(10000);
        pub.stop();
        const q = await pub.ended(10000);
        const videosLeft = document.querySelectorAll("#pubDisplay video, #playDisplay video").length;
        session.disconnect();
        return [p, q, videosLeft];
      })()`)) as [string, string, number];
      expect(ended).toEqual(["STOPPED", "UNPUBLISHED", 0]);
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${browser.consoleDump()}`);
    } finally {
      await browser.close();
    }
  });
});
