/**
 * Instant start (GOP cache, media-node/engine/gop-cache.ts) end to end: a real wrtc publisher, real wrtc players and
 * a real media node. A player that joins mid-GOP is sent the cached packets from the last keyframe on, so it decodes
 * at once and the node sends the publisher no keyframe request for it (the node's keyframe counter and the
 * publisher's own PLI count stay put); its frames are the publisher's, from the cached keyframe on, none missing or
 * garbled, and it is live within a second. See docs/media-engine.md "GOP cache (instant start)".
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeAllClients, spawnPlayer, spawnPublisher } from "../clients/index.js";
import { startCluster, type Cluster } from "../harness/cluster.js";
import { scrapeMetrics } from "../harness/prometheus.js";

let cluster: Cluster;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const keyframesSent = async () => (await scrapeMetrics(`${cluster.nodes[0]!.controlUrl}/metrics`)).value("wcs_media_node_keyframe_requests_total", { outcome: "sent" });

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1 }); // the node's default GOP cache: 3 s, 1 MiB, 400 packets
});
afterEach(async () => {
  await closeAllClients();
});
afterAll(async () => {
  await cluster?.stop();
});

describe("instant start", () => {
  it("a player joining mid-GOP decodes the publisher's frames at once, with no keyframe request to the publisher", async () => {
    const name = `instant-${randomUUID().slice(0, 8)}`;
    const pub = await spawnPublisher({ url: cluster.wsUrl, name });
    await pub.waitForStatus("PUBLISHING", 15_000);
    // libwebrtc sends keyframes only when asked: after ~4 s its first GOP is past the cache's bounds (3 s, 400
    // packets), so the first player finds no usable GOP and asks for a keyframe, which starts a fresh one
    await pub.waitForStats((st) => (st.rtp.video?.framesEncoded ?? 0) >= 120, 20_000, "4 s of encoded video");
    const first = await spawnPlayer({ url: cluster.wsUrl, name });
    await first.waitForStatus("PLAYING", 15_000);
    await first.waitForStats((st) => st.framesDecoded >= 10, 15_000, "10 decoded frames at the first player");
    expect((await first.stats()).rtp.video?.keyFramesDecoded).toBe(1);
    // mid-GOP, and past the 500 ms throttle window, so that a keyframe request would go out at once
    await sleep(700);

    const sentBefore = await keyframesSent();
    const pliBefore = (await pub.stats()).rtp.video?.pliCount ?? 0;
    const firstBefore = await first.stats();
    const joiner = await spawnPlayer({ url: cluster.wsUrl, name });
    await joiner.waitForStatus("PLAYING", 15_000);
    const early = await joiner.waitForStats((st) => st.framesDecoded >= 1, 5_000, "a first decoded frame");
    await sleep(2000);
    const s = await joiner.stats();
    const firstNow = await first.stats();

    // no keyframe request for the joiner: the node sent none, the publisher received none
    expect(await keyframesSent()).toBe(sentBefore);
    expect((await pub.stats()).rtp.video?.pliCount ?? 0).toBe(pliBefore);
    expect(s.rtp.video?.pliCount ?? 0).toBe(0);
    expect(s.rtp.video?.keyFramesDecoded).toBe(1); // the cached keyframe, and no other

    // its frames started before it joined (the cached GOP) and run on without a hole into live ones
    expect(early.firstFrameMs).not.toBeNull();
    expect(s.minFrameIndex!).toBeLessThan(firstBefore.maxFrameIndex!);
    expect(s.minFrameIndex!).toBeGreaterThanOrEqual(firstBefore.minFrameIndex!);
    expect(s.maxFrameIndex!).toBeGreaterThanOrEqual(firstNow.maxFrameIndex! - 15);
    expect(s.badMarkers).toBe(0);
    expect(s.duplicateFrames).toBe(0);
    expect(s.reorderedFrames).toBe(0);
    expect(s.lastSize).toBe("640x480");
    // the decoder decoded every frame from the cached keyframe on (the sink skips some of the burst's frames, late
    // by then, as Chromium's renderer does: they are decoded, not shown)
    const span = s.maxFrameIndex! - s.minFrameIndex! + 1;
    expect(s.rtp.video?.framesDecoded ?? 0).toBeGreaterThanOrEqual(span - 2);
    expect(s.rtp.video?.framesDropped ?? 0).toBe(0);
    expect(s.rtp.video?.packetsLost ?? 0).toBe(0);

    // live within the 2 s: the frames of the last second are as recent as the first player's
    const later = await joiner.stats();
    await sleep(1000);
    const last = await joiner.stats();
    const n = last.latencySamples - later.latencySamples;
    expect(n).toBeGreaterThan(15);
    const recentLatencyMs = (last.latencySumMs - later.latencySumMs) / n;
    expect(recentLatencyMs).toBeLessThan(300);
  });
});
