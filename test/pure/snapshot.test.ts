/**
 * Snapshots (media-node/snapshot.ts) with real ffmpeg on both ends: an ffmpeg encoder sends VP8 or H.264 RTP to a UDP
 * socket, whose packets go through a real StreamRouter (with its GOP cache; the publisher leg is a stand-in, as in
 * gop-router.test.ts), and the Snapshotter's ffmpeg decodes them into a PNG, which ffmpeg decodes again here.
 *
 * The source's luma is uniform and says which frame it is (16 + 4 × (frame mod 50)), so the test can tell that the
 * snapshot is the stream's newest frame at the request, not the older keyframe its GOP starts with.
 * Rules checked: no video / an unsupported codec refused at once; concurrent snapshots of a stream share one ffmpeg;
 * the node-wide bound refuses one more (node_full) and frees its slot afterwards; a PNG over the size bound and an
 * incomplete one are refused; a stream that sends nothing times out (after asking for keyframes at the start and at half
 * the bound), and its ffmpeg is killed and its tap removed.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import type { PublisherLeg } from "../../media-node/engine/publisher-leg.js";
import { StreamRouter } from "../../media-node/engine/stream-router.js";
import { MediaNodeError } from "../../media-node/errors.js";
import type { PublishedTrack } from "../../media-node/plans.js";
import { pngSize, Snapshotter, type SnapshotSource } from "../../media-node/snapshot.js";
import { decodePngGray, meanLuma } from "../harness/png.js";

const FFMPEG = process.env.FFMPEG_PATH || "ffmpeg";
const WIDTH = 320;
const HEIGHT = 240;
/** Frame n has luma 16 + 4 × (n mod 50) (limited range; a PNG's gray is (Y − 16) × 255 / 219). */
const FRAME_SOURCE = `nullsrc=s=${WIDTH}x${HEIGHT}:r=30,geq=lum='16+4*mod(N,50)':cb=128:cr=128,format=yuv420p`;

const ENCODERS = {
  VP8: { pt: 96, fmtp: "", args: ["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "800k", "-g", "60"] },
  // 2.5 Mbps of noisy frames, a keyframe every 86: the GOP cache holds 300–400 packets about 1.3–1.6 s into a GOP
  VP8_BURST: {
    pt: 96,
    fmtp: "",
    noise: true,
    args: ["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "2500k", "-minrate", "2500k", "-maxrate", "2500k", "-bufsize", "500k", "-g", "86"],
  },
  // SPS/PPS in-band before every IDR, as browsers send them (no sprop-parameter-sets)
  H264: {
    pt: 102,
    fmtp: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    args: ["-c:v", "libx264", "-profile:v", "baseline", "-tune", "zerolatency", "-g", "60", "-x264-params", "repeat-headers=1"],
  },
} as const;

/** A stream fed by an ffmpeg encoder over loopback RTP: its router, the stand-in publisher, the RTP times seen. */
interface Feed {
  source: SnapshotSource;
  router: StreamRouter;
  /** RTP timestamp of the first packet (frame 0) and of the newest one. */
  firstTs: number;
  lastTs: number;
  packets: number;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function videoTrack(codec: "VP8" | "H264" | "AV1", pt = 96, fmtp = ""): PublishedTrack {
  return { kind: "video", mid: "0", ssrc: 0x1234, codec: { pt, name: codec, clockRate: 90_000, fmtp, params: {} } };
}

/** A router whose stand-in publisher has `video` (counting keyframe requests). */
function makeRouter(name: string, video?: PublishedTrack) {
  const publisher = { video, opts: { gopCache: { maxAgeMs: 3000, maxBytes: 1 << 20 } }, sendKeyframeRequest: () => undefined } as unknown as PublisherLeg;
  const router = new StreamRouter(name, publisher, 500);
  cleanups.push(() => router.close());
  return router;
}

/** Starts an ffmpeg encoder of {@link FRAME_SOURCE} sending `codec` RTP to a socket that feeds a router. */
async function startFeed(name: string, codec: keyof typeof ENCODERS): Promise<Feed> {
  const enc: { pt: number; fmtp: string; args: readonly string[]; noise?: boolean } = ENCODERS[codec];
  const video = videoTrack(codec === "H264" ? "H264" : "VP8", enc.pt, enc.fmtp);
  const router = makeRouter(name, video);
  const feed: Feed = { source: { streamName: name, router, video }, router, firstTs: -1, lastTs: -1, packets: 0 };
  const sock: Socket = createSocket("udp4");
  sock.on("message", (m) => {
    const ts = m.readUInt32BE(4);
    if (feed.firstTs < 0) feed.firstTs = ts;
    feed.lastTs = ts;
    feed.packets++;
    router.forwardRtp("video", m);
  });
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", () => resolve()));
  const port = sock.address().port;
  const src = enc.noise ? `${FRAME_SOURCE},noise=alls=20:allf=t` : FRAME_SOURCE;
  const args = ["-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", src, "-threads", "1", ...enc.args];
  const sender: ChildProcess = spawn(FFMPEG, [...args, "-payload_type", String(enc.pt), "-f", "rtp", `rtp://127.0.0.1:${port}`], { stdio: "ignore" });
  cleanups.push(() => {
    sender.kill("SIGKILL");
    sock.close();
  });
  return feed;
}

/** Waits until `ok()` holds (polling every 20 ms), at most `ms`. */
async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The frame number (mod 50) a picture of {@link FRAME_SOURCE} shows. */
async function frameOf(png: Buffer): Promise<{ frame: number; width: number; height: number }> {
  const pic = await decodePngGray(png);
  const y = (meanLuma(pic, 0, 0, pic.width, pic.height) * 219) / 255 + 16;
  return { frame: Math.round((y - 16) / 4), width: pic.width, height: pic.height };
}

/** ffmpeg processes that are children of this test process. */
function ffmpegChildren(): number {
  const ps = spawnSync("ps", ["--ppid", String(process.pid), "-o", "args="], { encoding: "utf8" });
  return ps.stdout.split("\n").filter((l) => l.includes("ffmpeg") && l.includes("-f sdp")).length;
}

/** The refusal a promise rejects with. */
async function refusalOf(p: Promise<unknown>): Promise<{ code: string; info: string }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MediaNodeError);
    return { code: (e as MediaNodeError).code, info: (e as MediaNodeError).info };
  }
  throw new Error("expected a refusal");
}

describe("Snapshotter (real ffmpeg both ways)", () => {
  for (const codec of ["VP8", "H264"] as const) {
    it(`${codec}: the PNG has the published size and shows the newest frame at the request, not the GOP's keyframe`, async () => {
      const feed = await startFeed(`s-${codec}`, codec);
      // 1.5 s in: the GOP cache holds frames 0…~45 (keyframe = frame 0, one every 60)
      await until(() => feed.firstTs >= 0 && ((feed.lastTs - feed.firstTs) >>> 0) >= 45 * 3000, 8000, "45 frames sent");
      const snaps = new Snapshotter({ timeoutMs: 5000, maxRuns: 2, maxBytes: 8 << 20 });
      const asked = Math.round(((feed.lastTs - feed.firstTs) >>> 0) / 3000);
      const shot = await snaps.take(feed.source);
      expect(shot.width).toBe(WIDTH);
      expect(shot.height).toBe(HEIGHT);
      const seen = await frameOf(shot.png);
      expect([seen.width, seen.height]).toEqual([WIDTH, HEIGHT]);
      // the frame at the request (or the one just after, still on its way); the keyframe would be frame 0
      const behind = (asked - seen.frame + 50) % 50;
      expect(behind === 0 || behind === 49 || behind === 48 || behind === 1, `asked at frame ${asked}, got frame ${seen.frame}`).toBe(true);
      expect(asked % 50).toBeGreaterThan(5);
      expect(shot.tookMs).toBeLessThan(5000);
      // the PNG check: a cut PNG or another format is refused
      expect(pngSize(shot.png)).toEqual({ width: WIDTH, height: HEIGHT });
      expect(pngSize(shot.png.subarray(0, shot.png.length - 1))).toBeNull();
      expect(pngSize(Buffer.from("GIF89a, not a PNG at all, but long enough to be one"))).toBeNull();
      expect(feed.router.tapCount).toBe(0);
      expect(snaps.running).toBe(0);
    }, 20_000);
  }

  it("a GOP of 300–400 packets reaches ffmpeg whole (paced): twice the newest frame, never a later keyframe", async () => {
    const feed = await startFeed("burst", "VP8_BURST");
    const snaps = new Snapshotter({ timeoutMs: 5000, maxRuns: 1, maxBytes: 8 << 20 });
    for (let i = 0; i < 2; i++) {
      await until(() => {
        const g = feed.router.gopCacheStats;
        return g.usable && g.packets >= 300 && g.packets <= 400;
      }, 8000, `a GOP of 300–400 packets cached (${JSON.stringify(feed.router.gopCacheStats)})`);
      const cached = feed.router.gopCacheStats.packets;
      const asked = Math.round(((feed.lastTs - feed.firstTs) >>> 0) / 3000);
      const shot = await snaps.take(feed.source);
      const seen = await frameOf(shot.png);
      // a packet lost on the way to ffmpeg would leave the GOP undecodable: the picture would be the next keyframe's
      const behind = (asked - seen.frame + 50) % 50;
      expect(behind <= 2 || behind >= 48, `GOP of ${cached} packets: asked at frame ${asked}, got frame ${seen.frame}`).toBe(true);
      await new Promise((r) => setTimeout(r, 1200)); // into the next GOP
    }
  }, 30_000);

  it("refuses a stream without video and an unsupported codec at once (conflict), without running ffmpeg", async () => {
    const snaps = new Snapshotter();
    const audioOnly = makeRouter("audio-only");
    expect(await refusalOf(snaps.take({ streamName: "audio-only", router: audioOnly }))).toEqual({ code: "conflict", info: "Stream has no video" });
    const av1 = makeRouter("av1", videoTrack("AV1"));
    expect(await refusalOf(snaps.take({ streamName: "av1", router: av1, video: videoTrack("AV1") }))).toEqual({
      code: "conflict",
      info: "Snapshots of AV1 video are not supported",
    });
    expect(snaps.running).toBe(0);
    expect(audioOnly.tapCount + av1.tapCount).toBe(0);
  });

  it("shares one ffmpeg run between concurrent snapshots of a stream; the node-wide bound refuses one more (node_full); a PNG over the size bound is refused", async () => {
    const a = await startFeed("share-a", "VP8");
    const b = await startFeed("share-b", "VP8");
    await until(() => a.packets > 20 && b.packets > 20, 8000, "both streams flowing");
    const snaps = new Snapshotter({ timeoutMs: 5000, maxRuns: 1, maxBytes: 8 << 20 });
    const first = snaps.take(a.source);
    const second = snaps.take(a.source);
    expect(second).toBe(first);
    expect(snaps.running).toBe(1);
    expect(a.router.tapCount).toBe(1);
    expect(await refusalOf(snaps.take(b.source))).toEqual({ code: "node_full", info: "Media node is full (1 snapshots in progress), try again" });
    const [s1, s2] = await Promise.all([first, second]);
    expect(s2.png).toBe(s1.png);
    // the slot is free again
    const shotB = await snaps.take(b.source);
    expect([shotB.width, shotB.height]).toEqual([WIDTH, HEIGHT]);
    expect(snaps.running).toBe(0);
    // a picture over the size bound is refused (ffmpeg killed as soon as its output passes it; this flat one is ~600 B)
    const tiny = new Snapshotter({ timeoutMs: 5000, maxRuns: 1, maxBytes: 200 });
    expect(await refusalOf(tiny.take(b.source))).toEqual({ code: "error", info: "Snapshot failed: the picture is larger than 200 bytes" });
    expect(b.router.tapCount).toBe(0);
  }, 20_000);

  it("times out on a stream that sends nothing: keyframes asked for at the start and at half the bound; timeout, ffmpeg killed, tap removed", async () => {
    let keyframeRequests = 0;
    const video = videoTrack("VP8");
    const publisher = { video, opts: {}, sendKeyframeRequest: () => keyframeRequests++ } as unknown as PublisherLeg;
    const router = new StreamRouter("silent", publisher, 500);
    cleanups.push(() => router.close());
    const snaps = new Snapshotter({ timeoutMs: 1500, maxRuns: 1, maxBytes: 8 << 20 });
    const started = Date.now();
    const p = snaps.take({ streamName: "silent", router, video });
    await until(() => ffmpegChildren() === 1, 3000, "ffmpeg running");
    expect(await refusalOf(p)).toEqual({ code: "timeout", info: "Snapshot failed: no video frame decoded within 1500 ms" });
    expect(Date.now() - started).toBeLessThan(2500);
    // no GOP cached: one request at once; no picture at half the bound: one more (750 ms later, past the 500 ms throttle)
    expect(keyframeRequests).toBe(2);
    expect(router.tapCount).toBe(0);
    expect(snaps.running).toBe(0);
    await until(() => ffmpegChildren() === 0, 2000, "ffmpeg gone");
  }, 10_000);
});
