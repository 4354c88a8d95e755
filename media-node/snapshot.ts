/**
 * Snapshots: one PNG of a stream's current video (WCS `snapshot`, REST `/stream/snapshot`; protocol/snapshot.ts),
 * decoded by ffmpeg only when asked. The node never decodes video itself: a snapshot is one short ffmpeg process fed
 * with the stream's RTP through a tap of its router (media-node/ffmpeg-rtp.ts), which depacketizes, decodes and
 * writes one PNG to its stdout, then exits. docs/media-engine.md "Snapshots".
 */
import type { Logger } from "pino";
import { MAX_SNAPSHOT_BYTES, MAX_SNAPSHOT_RUNS, SNAPSHOT_TIMEOUT_MS, SnapshotInfo } from "../protocol/snapshot.js";
import type { RtpTap, StreamRouter } from "./engine/index.js";
import { MediaNodeError } from "./errors.js";
import { FfmpegRtpInput } from "./ffmpeg-rtp.js";
import { rtpTimestamp } from "./rtcp.js";
import type { PublishedTrack } from "./plans.js";
import type { MediaKind } from "./sdp.js";

/** Video codecs ffmpeg depacketizes from RTP (ffmpeg's rtpdec_vp8.c, rtpdec_h264.c, rtpdec_vp9.c), upper case. */
const SNAPSHOT_CODECS: ReadonlySet<string> = new Set(["VP8", "H264", "VP9"]);

/** The PNG signature (PNG spec §5.2) and the IEND chunk every complete PNG ends with (§11.2.5: length 0, type, CRC). */
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const PNG_IEND = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

/**
 * Packets a run keeps while its ffmpeg starts (about 0.1–0.3 s; the GOP replay, at most 400 packets, plus the live
 * packets meanwhile). Beyond it the live packets are dropped and a keyframe is asked for instead (ffmpeg then decodes
 * from the next keyframe).
 */
const MAX_PENDING = 1024;

/**
 * The kept packets go to ffmpeg this many at a time, one slice per {@link PACE_MS}. A GOP sent at once (up to 400
 * packets, about 900 KB of socket memory with the kernel's overhead) can overflow ffmpeg's UDP receive buffer (384 KB
 * asked, capped by net.core.rmem_max) while ffmpeg sets its output up and reads nothing: "RTP: missed 46 packets" in 3
 * of 16 snapshots of 300–400-packet GOPs at 2.5 Mbps on a loaded machine (0 of 16 in another run), and a GOP with a
 * hole decodes nothing until the next keyframe. 8 packets a millisecond send a full GOP in about 50 ms (0 of 24).
 */
const PACE_PACKETS = 8;
const PACE_MS = 1;

/** What a snapshot is taken of: a stream's publisher leg (engine PublisherLeg). */
export interface SnapshotSource {
  readonly streamName: string;
  /** The stream's router: the run is one of its taps while it lasts. */
  readonly router: Pick<StreamRouter, "addTap" | "removeTap" | "requestKeyframe">;
  /** What the publisher sends (undefined: no video, or a pull leg whose remote has not answered yet). */
  readonly video?: PublishedTrack;
}

/** Bounds of a {@link Snapshotter}. */
export interface SnapshotLimits {
  /** Time bound of one snapshot from the request to the PNG, ms (ffmpeg is killed when it passes). */
  timeoutMs: number;
  /** Most ffmpeg snapshot processes running on the node at once (a stream's concurrent snapshots share one). */
  maxRuns: number;
  /** Largest PNG accepted, bytes. */
  maxBytes: number;
}

/** Defaults of {@link SnapshotLimits} (MEDIA_NODE_SNAPSHOT_TIMEOUT_MS, MEDIA_NODE_MAX_SNAPSHOTS; media-node/config.ts). */
export const SNAPSHOT_DEFAULTS: Readonly<SnapshotLimits> = Object.freeze({ timeoutMs: SNAPSHOT_TIMEOUT_MS, maxRuns: MAX_SNAPSHOT_RUNS, maxBytes: MAX_SNAPSHOT_BYTES });

/** A snapshot: the PNG and its size in pixels (from its IHDR chunk), and how long it took, ms. */
export interface Snapshot {
  png: Buffer;
  width: number;
  height: number;
  tookMs: number;
}

/**
 * Takes snapshots of the node's streams, with these rules:
 * - a stream without video, or with a codec ffmpeg cannot take from RTP, is refused at once (`conflict`,
 *   {@link SnapshotInfo.NO_VIDEO});
 * - concurrent snapshots of one stream share one ffmpeg run (and its PNG);
 * - at most `maxRuns` runs on the node at once; one more is refused (`node_full`, {@link SnapshotInfo.nodeBusy});
 * - a run lasts at most `timeoutMs` (`timeout`): its ffmpeg is killed; without a picture at half of it, the publisher is
 *   asked for a keyframe (a GOP that did not decode is replaced by a fresh one);
 * - the PNG must start with the PNG signature, end with IEND and be at most `maxBytes` (`error` otherwise);
 * - whatever happens, the run's tap is removed from the router and its ffmpeg ended.
 *
 * How a run gets the current picture: it becomes a tap of the stream's router, which hands it at once the stream's
 * cached GOP (the packets from the last keyframe on, engine/gop-cache.ts), else asks the publisher for a keyframe;
 * then the live packets. The run keeps them (references, no copy) while its ffmpeg starts, then sends them (paced). The
 * newest frame at the moment of the request is the last one of the cached GOP, so ffmpeg decodes the GOP (inter frames
 * need their references) and writes only the first frame whose time is at least that frame's (the `select` filter on
 * RTP time from the GOP's first packet): the picture is the stream as it was when asked, not the up to 3 s old
 * keyframe. Without a usable GOP the first frame decoded after the requested keyframe is taken.
 */
export class Snapshotter {
  private readonly runs = new Map<object, Promise<Snapshot>>();
  private readonly active = new Set<SnapshotRun>();

  /**
   * @param limits see {@link SnapshotLimits}
   * @param log one line per run (stream, codec, time, size, packets, whether it started from the GOP cache)
   */
  constructor(
    readonly limits: SnapshotLimits = SNAPSHOT_DEFAULTS,
    private readonly log?: Logger,
  ) {}

  /** ffmpeg snapshot processes running now. */
  get running(): number {
    return this.runs.size;
  }

  /**
   * A PNG of `source`'s current video (see the class doc for the rules).
   * @throws MediaNodeError conflict (no video / codec) | node_full | timeout | error
   */
  take(source: SnapshotSource): Promise<Snapshot> {
    const video = source.video;
    if (!video) return Promise.reject(new MediaNodeError("conflict", SnapshotInfo.NO_VIDEO));
    const codec = video.codec.name.toUpperCase();
    if (!SNAPSHOT_CODECS.has(codec)) return Promise.reject(new MediaNodeError("conflict", SnapshotInfo.codecNotSupported(video.codec.name)));
    const shared = this.runs.get(source.router);
    if (shared) return shared;
    if (this.runs.size >= this.limits.maxRuns) return Promise.reject(new MediaNodeError("node_full", SnapshotInfo.nodeBusy(this.runs.size)));
    const run = new SnapshotRun(source, video, this.limits);
    this.active.add(run);
    const p = run.result.finally(() => {
      this.runs.delete(source.router);
      this.active.delete(run);
    });
    this.runs.set(source.router, p);
    p.then(
      (s) => this.log?.info({ stream: source.streamName, codec, ms: s.tookMs, bytes: s.png.length, width: s.width, height: s.height, ...run.facts() }, "snapshot taken"),
      (e: unknown) => this.log?.warn({ stream: source.streamName, codec, info: (e as Error).message, ...run.facts() }, "snapshot failed"),
    );
    return p;
  }

  /** Ends every running snapshot now (node shutdown): each fails with `error`. */
  stopAll(): void {
    for (const run of [...this.active]) run.abort(new MediaNodeError("error", SnapshotInfo.failed("the media node is shutting down")));
  }
}

/**
 * One ffmpeg snapshot run of one stream: a tap of the stream's router that keeps the packets while ffmpeg starts, then
 * passes them on. Per packet: a store into a preallocated array, or one UDP send (FfmpegRtpInput); no allocation.
 */
class SnapshotRun implements RtpTap {
  /** Settles once: the snapshot, or the MediaNodeError that ended the run. */
  readonly result: Promise<Snapshot>;
  private readonly started = performance.now();
  private readonly pending: (Buffer | undefined)[] = new Array<Buffer | undefined>(MAX_PENDING).fill(undefined);
  private pendingCount = 0;
  private overflowed = false;
  private firstTs = -1;
  private lastTs = -1;
  private replayed = 0;
  private fromCache = false;
  private input?: FfmpegRtpInput;
  /** Whether the kept packets are all sent: live packets then go straight to ffmpeg. */
  private live = false;
  /** Whether a keyframe was asked for because no picture came in half the time bound. */
  private keyframeAsked = false;
  private settle!: { resolve: (s: Snapshot) => void; reject: (e: MediaNodeError) => void };
  private done = false;
  private readonly timer: NodeJS.Timeout;
  private readonly halfway: NodeJS.Timeout;

  constructor(
    private readonly source: SnapshotSource,
    private readonly video: PublishedTrack,
    private readonly limits: SnapshotLimits,
  ) {
    this.result = new Promise<Snapshot>((resolve, reject) => (this.settle = { resolve, reject }));
    this.timer = setTimeout(() => this.abort(new MediaNodeError("timeout", SnapshotInfo.timedOut(limits.timeoutMs))), limits.timeoutMs);
    // no picture yet: the GOP may not have decoded (a packet lost on the way to ffmpeg); a fresh keyframe replaces it
    this.halfway = setTimeout(() => {
      this.keyframeAsked = true;
      this.source.router.requestKeyframe();
    }, limits.timeoutMs / 2);
    void this.run();
  }

  /** The run's figures, for the log line. */
  facts(): { fromCache: boolean; replayed: number; packetsSent: number; keyframeAsked: boolean } {
    return { fromCache: this.fromCache, replayed: this.replayed, packetsSent: this.input?.packetsSent ?? 0, keyframeAsked: this.keyframeAsked };
  }

  /** One RTP packet of the stream (RtpTap): kept until ffmpeg has been sent the kept ones, then sent to it. Audio is not wanted. */
  rtp(kind: MediaKind, buf: Buffer): void {
    if (kind !== "video" || this.done) return;
    if (this.live) {
      this.input!.rtp(kind, buf);
      return;
    }
    if (this.pendingCount === MAX_PENDING) {
      this.overflowed = true;
      return;
    }
    if (this.firstTs < 0) this.firstTs = rtpTimestamp(buf);
    this.lastTs = rtpTimestamp(buf);
    this.pending[this.pendingCount++] = buf;
  }

  /** Ends the run with `err` (unless it already ended): tap removed, ffmpeg killed. */
  abort(err: MediaNodeError): void {
    if (this.done) return;
    this.finish();
    this.settle.reject(err);
  }

  private async run(): Promise<void> {
    const router = this.source.router;
    try {
      // the cached GOP arrives inside addTap (synchronously); its last packet is the stream's newest frame now
      this.fromCache = router.addTap(this);
      this.replayed = this.pendingCount;
      const since = this.replayed > 0 ? ((this.lastTs - this.firstTs) >>> 0) / this.video.codec.clockRate : 0;
      const input = await FfmpegRtpInput.start({ video: this.video }, outputArgs(since), INPUT_ARGS);
      if (this.done) {
        input.kill();
        return;
      }
      this.input = input;
      const chunks: Buffer[] = [];
      let bytes = 0;
      input.stdout.on("data", (d: Buffer) => {
        bytes += d.length;
        if (bytes > this.limits.maxBytes) this.abort(new MediaNodeError("error", SnapshotInfo.failed(`the picture is larger than ${this.limits.maxBytes} bytes`)));
        else chunks.push(d);
      });
      await this.sendKept(input);
      // packets were dropped while ffmpeg started: its picture comes from the next keyframe
      if (this.overflowed) router.requestKeyframe();
      const exit = await input.exited;
      if (this.done) return;
      const png = Buffer.concat(chunks);
      if (exit.code !== 0 || png.length === 0) {
        const why = lastLine(exit.stderrTail) || (exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`);
        throw new MediaNodeError("error", SnapshotInfo.failed(`ffmpeg produced no picture (${why})`));
      }
      const size = pngSize(png);
      if (!size) throw new MediaNodeError("error", SnapshotInfo.failed("ffmpeg's output is not a complete PNG"));
      this.finish();
      this.settle.resolve({ png, ...size, tookMs: Math.round(performance.now() - this.started) });
    } catch (e) {
      this.abort(e instanceof MediaNodeError ? e : new MediaNodeError("error", SnapshotInfo.failed((e as Error).message)));
    }
  }

  /**
   * Sends the kept packets to ffmpeg in order, {@link PACE_PACKETS} per {@link PACE_MS}, with the ones that arrive
   * meanwhile; once none is left, live packets go straight on (the switch is synchronous: nothing can slip between).
   */
  private async sendKept(input: FfmpegRtpInput): Promise<void> {
    let i = 0;
    for (;;) {
      const end = Math.min(this.pendingCount, i + PACE_PACKETS);
      for (; i < end; i++) {
        input.rtp("video", this.pending[i]!);
        this.pending[i] = undefined;
      }
      if (i === this.pendingCount) {
        this.pendingCount = 0;
        this.live = true;
        return;
      }
      await new Promise((r) => setTimeout(r, PACE_MS));
      if (this.done) return;
    }
  }

  private finish(): void {
    this.done = true;
    clearTimeout(this.timer);
    clearTimeout(this.halfway);
    this.source.router.removeTap(this);
    this.input?.kill();
    this.pending.fill(undefined, 0, this.pendingCount);
    this.pendingCount = 0;
  }
}

/**
 * ffmpeg's input options: one decoding thread (frame threads would hold the wanted frame back until more arrive, and
 * one snapshot should not take every core), and no frame-rate probing: by default ffmpeg reads 20 frames before it
 * starts (avformat_find_stream_info's fps probe), which a GOP of a few frames makes it wait for live, 0.75–3.2 s
 * measured; the stream's frame rate does not matter for one picture.
 */
const INPUT_ARGS = ["-threads", "1", "-fpsprobesize", "0"];

/**
 * ffmpeg's output options: no audio, the first decoded frame whose time (seconds from the first packet sent) is at
 * least `since` (less 1 ms for rounding), as it is (`-fps_mode passthrough`: no frame-rate conversion), one PNG on
 * stdout.
 */
function outputArgs(since: number): string[] {
  const from = Math.max(0, since - 0.001).toFixed(4);
  return ["-an", "-vf", `select='gte(t,${from})'`, "-fps_mode", "passthrough", "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "pipe:1"];
}

/**
 * Width and height of a complete PNG (signature, IHDR first, IEND last; PNG spec §5.2, §11.2.2, §11.2.5), or null
 * when `png` is not one.
 */
export function pngSize(png: Buffer): { width: number; height: number } | null {
  if (png.length < 8 + 25 + 12 || !png.subarray(0, 8).equals(PNG_SIGNATURE)) return null;
  if (png.readUInt32BE(8) !== 13 || png.toString("latin1", 12, 16) !== "IHDR") return null;
  if (!png.subarray(png.length - 12).equals(PNG_IEND)) return null;
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  return width > 0 && height > 0 ? { width, height } : null;
}

/** The last non-empty line of ffmpeg's stderr, at most 300 characters. */
function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  return (lines[lines.length - 1] ?? "").slice(0, 300);
}
