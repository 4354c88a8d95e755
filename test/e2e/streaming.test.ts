/**
 * Publish and play end to end against real parts: `wrangler dev` running the worker, a real media node process,
 * and @roamhq/wrtc clients (child processes) that behave like the WCS Web SDK on the wire.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeAllClients, spawnPlayer, spawnPublisher, WcsSocket, type WcsClientHandle } from "../clients/index.js";
import { startCluster, type Cluster } from "../harness/cluster.js";

const ICE_TIMEOUT_MS = 4000;
let cluster: Cluster;
const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const statusList = (h: WcsClientHandle) => h.statuses.map((s) => (s.info && s.status === "FAILED" ? `${s.status}:${s.info}` : s.status));

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1, vars: { ICE_TIMEOUT_MS: String(ICE_TIMEOUT_MS) } });
});
afterEach(async () => {
  await closeAllClients();
});
afterAll(async () => {
  await cluster?.stop();
});

describe("publish and play", () => {
  it("delivers a publisher's video and audio to two players on separate sessions, statuses in WCS order", async () => {
    const name = uniqueName("e2e");
    const pub = await spawnPublisher({ url: cluster.wsUrl, name });
    await pub.waitForStatus("PUBLISHING", 15_000);
    const players = await Promise.all([spawnPlayer({ url: cluster.wsUrl, name }), spawnPlayer({ url: cluster.wsUrl + "/websocket", name })]);
    await Promise.all(players.map((p) => p.waitForStatus("PLAYING", 15_000)));
    expect(players[0]!.userData.sessionId).not.toEqual(players[1]!.userData.sessionId);

    const first = await Promise.all(players.map((p) => p.waitForStats((s) => s.framesDecoded >= 30, 15_000, "30 decoded frames")));
    await sleep(3000);
    const later = await Promise.all(players.map((p) => p.stats()));
    const pubStats = await pub.stats();
    for (const [i, s] of later.entries()) {
      const f = first[i]!;
      // frames keep coming: ~90 frames in 3 s at 30 fps; accept a generous margin for a loaded 2-core machine
      expect(s.maxFrameIndex! - f.maxFrameIndex!).toBeGreaterThan(40);
      expect(s.uniqueFrames).toBeGreaterThan(f.uniqueFrames + 40);
      expect(s.lastSize).toBe("640x480");
      expect(s.badMarkers).toBe(0);
      // frame indices are the publisher's own: the player cannot be ahead of the publisher
      expect(s.maxFrameIndex!).toBeLessThanOrEqual(pubStats.nextFrameIndex);
      expect(s.audioSamples).toBeGreaterThan(48_000); // > 1 s of 48 kHz audio
      expect(s.audioRms).toBeGreaterThan(1000); // the 440 Hz tone, not silence
    }

    await pub.stop();
    await pub.waitForStatus("UNPUBLISHED", 10_000);
    await Promise.all(players.map((p) => p.waitForStatus("FAILED", 10_000)));
    expect(statusList(pub)).toEqual(["PUBLISHING", "UNPUBLISHED"]);
    for (const p of players) expect(statusList(p)).toEqual(["PLAYING", "FAILED:Stopped by publisher stop"]);
  });

  it("refuses a second publisher of the same name without an answer and leaves the first untouched", async () => {
    const name = uniqueName("dup");
    const first = await spawnPublisher({ url: cluster.wsUrl, name });
    await first.waitForStatus("PUBLISHING");
    const second = await spawnPublisher({ url: cluster.wsUrl, name });
    const failed = await second.waitForStatus("FAILED");
    expect(failed.info).toBe("Stream name is already in use");
    expect(second.answerSdp).toBeUndefined();
    const player = await spawnPlayer({ url: cluster.wsUrl, name });
    await player.waitForStatus("PLAYING");
    await player.waitForStats((s) => s.framesDecoded > 10, 15_000, "frames from the first publisher");
    expect(statusList(first)).toEqual(["PUBLISHING"]);
  });

  it("answers play of a name that is not publishing with FAILED Stream not found", async () => {
    const player = await spawnPlayer({ url: cluster.wsUrl, name: uniqueName("nobody") });
    const st = await player.waitForStatus("FAILED");
    expect(st.info).toBe("Stream not found");
    expect(player.answerSdp).toBeUndefined();
  });

  it("ends players with Stopped by publisher stop when the publisher's socket drops, and frees the name", async () => {
    const name = uniqueName("drop");
    const pub = await spawnPublisher({ url: cluster.wsUrl, name });
    await pub.waitForStatus("PUBLISHING");
    const player = await spawnPlayer({ url: cluster.wsUrl, name });
    await player.waitForStatus("PLAYING");
    await pub.dropSocket();
    const st = await player.waitForStatus("FAILED", 10_000);
    expect(st.info).toBe("Stopped by publisher stop");
    const again = await spawnPublisher({ url: cluster.wsUrl, name });
    await again.waitForStatus("PUBLISHING");
  });

  it("stops one player with STOPPED while the publisher and the other player go on", async () => {
    const name = uniqueName("pstop");
    const pub = await spawnPublisher({ url: cluster.wsUrl, name });
    await pub.waitForStatus("PUBLISHING");
    const [a, b] = await Promise.all([spawnPlayer({ url: cluster.wsUrl, name }), spawnPlayer({ url: cluster.wsUrl, name })]);
    await Promise.all([a!.waitForStatus("PLAYING"), b!.waitForStatus("PLAYING")]);
    await a!.stop();
    await a!.waitForStatus("STOPPED");
    expect(statusList(a!)).toEqual(["PLAYING", "STOPPED"]);
    const before = await b!.waitForStats((s) => s.framesDecoded > 0, 10_000, "frames at b");
    await sleep(1500);
    const after = await b!.stats();
    expect(after.uniqueFrames).toBeGreaterThan(before.uniqueFrames + 15);
    expect(statusList(pub)).toEqual(["PUBLISHING"]);
    expect(statusList(b!)).toEqual(["PLAYING"]);
    // a player whose socket drops does not disturb the others either: a new player still gets frames
    await b!.dropSocket();
    await sleep(1000);
    expect(statusList(pub)).toEqual(["PUBLISHING"]);
    const c = await spawnPlayer({ url: cluster.wsUrl, name });
    await c.waitForStatus("PLAYING");
    await c.waitForStats((s) => s.framesDecoded > 10, 15_000, "frames at a new player after b dropped");
  });

  it("publishes audio-only and video-only streams", async () => {
    const audioName = uniqueName("aonly");
    const videoName = uniqueName("vonly");
    const ap = await spawnPublisher({ url: cluster.wsUrl, name: audioName, video: false });
    const vp = await spawnPublisher({ url: cluster.wsUrl, name: videoName, audio: false });
    await Promise.all([ap.waitForStatus("PUBLISHING"), vp.waitForStatus("PUBLISHING")]);
    const [al, vl] = await Promise.all([spawnPlayer({ url: cluster.wsUrl, name: audioName }), spawnPlayer({ url: cluster.wsUrl, name: videoName })]);
    await Promise.all([al.waitForStatus("PLAYING"), vl.waitForStatus("PLAYING")]);
    await al.waitForStats((s) => s.audioSamples > 24_000 && s.audioRms > 1000, 15_000, "audio at the audio-only player");
    await vl.waitForStats((s) => s.framesDecoded > 20 && s.lastSize === "640x480", 15_000, "video at the video-only player");
    // and nothing of the missing kind: the node answered that m-line inactive
    expect((await al.stats()).framesDecoded).toBe(0);
    expect((await vl.stats()).audioSamples).toBe(0);
  });

  it("fails a leg whose ICE never connects with Failed by ICE timeout", async () => {
    // A real offer from a real client, sent by a session that never runs ICE.
    const name = uniqueName("ice");
    const pub = await spawnPublisher({ url: cluster.wsUrl, name });
    await pub.waitForStatus("PUBLISHING");
    const offer = String(pub.request.sdp);
    const ws = await WcsSocket.connect(cluster.wsUrl);
    try {
      const mediaSessionId = randomUUID();
      ws.send("publishStream", { mediaSessionId, name: uniqueName("ice-dead"), published: true, hasVideo: true, hasAudio: true, status: "PENDING", record: false, mediaProvider: "WebRTC", sdp: offer });
      await ws.waitForMessage("setRemoteSDP", 10_000);
      const failed = await ws.waitForMessage("notifyStreamStatusEvent", ICE_TIMEOUT_MS + 8000);
      expect(failed.data[0]).toMatchObject({ mediaSessionId, status: "FAILED", info: "Failed by ICE timeout" });
    } finally {
      await ws.close();
    }
  });
});
