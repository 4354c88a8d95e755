/**
 * One recording of a publisher's stream (WCS `record: true`; protocol/recording.ts, docs/media-engine.md "Recording"):
 * ffmpeg muxes the RTP the node already forwards into a WebM or fragmented MP4 file without transcoding (`-c copy`),
 * and the file goes to object storage in parts while it grows.
 *
 * Data path: the stream's router → this recorder's tap (media-node/ffmpeg-rtp.ts: RTP over loopback UDP, an SDP on
 * ffmpeg's stdin) → ffmpeg → a spool file on local disk → fixed-size windows of that file → the worker
 * (media-node/recording-link.ts) → parts of an R2 multipart upload. ffmpeg writes to a seekable file, not a pipe, so
 * that it can rewrite the header at the end (WebM: duration, segment size, seek head; measured: only bytes within the
 * first kilobyte change, the rest of the file is final once written; fragmented MP4 changes nothing).
 *
 * Parts: R2 wants every part but the last the same size, at least 5 MiB. Part n is bytes [(n−1)·P, n·P) of the file,
 * sent once the file is longer than n·P. At the end (ffmpeg has exited), part 1 is sent again (it holds the rewritten
 * header; sending a part number again replaces it), then the parts not sent yet (the last one shorter), then the
 * upload is completed. A recording cut short (node lost) is completed by the worker with the parts it has: a prefix of
 * the file, playable up to its last part.
 *
 * While recording, the publisher is asked for a keyframe every {@link KEYFRAME_INTERVAL_MS} (libwebrtc sends keyframes
 * only when asked), so the file can be seeked and a cut-short file decodes from a recent keyframe.
 */
import { open, rm, stat } from "node:fs/promises";
import type { Logger } from "pino";
import { MAX_RECORDING_PARTS, type RecordingFormat } from "../protocol/recording.js";
import type { StreamRouter } from "./engine/index.js";
import { FfmpegRtpInput, type RtpInputTracks } from "./ffmpeg-rtp.js";
import { RecordingRefusedError, type RecordingLink } from "./recording-link.js";

/** How often the publisher is asked for a keyframe while it is recorded, ms. */
export const KEYFRAME_INTERVAL_MS = 10_000;
/** How often the spool file's size is looked at, ms. */
const POLL_MS = 1000;
/** How long ffmpeg may take to close its file after SIGINT, ms. */
const FFMPEG_FINISH_MS = 5000;

/** What a {@link Recorder} records, where, and whom it tells. */
export interface RecorderOptions {
  /** The file's name in object storage (protocol/recording.ts RecordName). */
  recordName: string;
  format: RecordingFormat;
  /** The publisher's tracks that go into the file (those {@link format} keeps). */
  tracks: RtpInputTracks;
  /** The stream's router: the recorder is one of its taps while it records. */
  router: Pick<StreamRouter, "addTap" | "removeTap" | "requestKeyframe">;
  /** The local spool file (its directory exists). */
  spoolPath: string;
  /** Part size, bytes (≥ 5 MiB: protocol/recording.ts MIN_PART_BYTES). */
  partBytes: number;
  link: RecordingLink;
  log: Logger;
}

/** The ffmpeg output options of a format: stream copy into the container, to `path`. */
export function recorderOutputArgs(format: RecordingFormat, path: string): string[] {
  const container =
    format.container === "mp4"
      ? // fragmented: a file cut short keeps every complete fragment playable; fragments at keyframes and at least every 2 s
        ["-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "2000000"]
      : ["-f", "webm"];
  return ["-map", "0", "-c", "copy", ...container, "-y", path];
}

/**
 * One recording: {@link start} when the publisher's leg connects, {@link finish} when it ends (idempotent, never
 * throws). The recorder ends by itself when ffmpeg exits, the file reaches the most parts an upload can have, or the
 * worker refuses an upload for good; `done` resolves then too.
 */
export class Recorder {
  /** Resolves when the recording is over (uploaded and completed, or given up) and its spool file deleted. */
  readonly done: Promise<void>;
  /** Bytes of the file so far, and parts sent (part 1 counted once). */
  bytes = 0;
  partsSent = 0;
  /**
   * How the recording ended, once `done`: completed (the file is stored), aborted (nothing was recorded, or the upload
   * never began) or failed (ffmpeg, the spool file or the upload failed: the worker keeps what was uploaded).
   */
  outcome?: "completed" | "aborted" | "failed";
  private input?: FfmpegRtpInput;
  private timer?: NodeJS.Timeout;
  private uploading: Promise<void> = Promise.resolve();
  /** An upload pass is running (a tick meanwhile does nothing: the pass sends every full window). */
  private busy = false;
  /** Parts 1..uploaded have been sent while recording (full windows). */
  private uploaded = 0;
  /** The part being sent (one per recorder, made at its first part). */
  private buf?: Uint8Array<ArrayBuffer>;
  private lastKeyframeAsk = 0;
  private began?: Promise<boolean>;
  private finishing?: Promise<void>;
  private failed?: string;
  /** The worker refused a call for good (e.g. it completed the recording after declaring this node lost). */
  private refused = false;
  private markDone!: () => void;

  constructor(private readonly o: RecorderOptions) {
    this.done = new Promise((r) => (this.markDone = r));
  }

  get recordName(): string {
    return this.o.recordName;
  }

  /** Whether {@link finish} was called (or the recording failed): it is ending or over. */
  get finished(): boolean {
    return this.finishing !== undefined;
  }

  /**
   * Starts ffmpeg on the spool file, feeds it the stream (the router's GOP cache first) and begins the upload. A
   * failure ends the recording (logged, the upload aborted); it never fails the stream.
   */
  async start(): Promise<void> {
    const { log, recordName } = this.o;
    this.began = this.o.link.begin(recordName).then(
      () => true,
      (e: unknown) => {
        this.refused = true;
        this.fail(`the upload could not begin: ${(e as Error).message}`);
        return false;
      },
    );
    try {
      const input = await FfmpegRtpInput.start(this.o.tracks, recorderOutputArgs(this.o.format, this.o.spoolPath), ["-threads", "1"]);
      this.input = input;
      if (this.finishing || this.failed) {
        input.kill();
        return;
      }
      this.o.router.addTap(input);
      this.lastKeyframeAsk = Date.now();
      void input.exited.then((exit) => {
        if (!this.finishing) this.fail(`ffmpeg exited (${exit.signal ?? exit.code}): ${exit.stderrTail.slice(-500) || "no output"}`);
      });
      this.timer = setInterval(() => this.tick(), POLL_MS);
      log.info({ recordName, container: this.o.format.container, video: !!this.o.tracks.video, audio: !!this.o.tracks.audio }, "recording started");
    } catch (e) {
      this.fail(`ffmpeg did not start: ${(e as Error).message}`);
    }
  }

  /** Ends the recording: ffmpeg closes the file, the rest is uploaded, the upload completed. Idempotent. */
  finish(why: string): Promise<void> {
    this.finishing ??= this.close(why).finally(() => this.markDone());
    return this.finishing;
  }

  /** Ends the recording because something failed (logged); what was uploaded is kept by the worker when playable. */
  private fail(why: string): void {
    if (this.failed || this.finishing) return;
    this.failed = why;
    this.o.log.error({ recordName: this.o.recordName, why }, "recording failed");
    void this.finish(why);
  }

  /** Every POLL_MS: a keyframe request when due, and the next full window once the file has grown past it. */
  private tick(): void {
    const now = Date.now();
    if (now - this.lastKeyframeAsk >= KEYFRAME_INTERVAL_MS) {
      this.lastKeyframeAsk = now;
      this.o.router.requestKeyframe();
    }
    if (this.busy) return;
    this.busy = true;
    this.uploading = this.uploadFullWindows()
      .catch((e: unknown) => this.fail(`the spool file could not be read: ${(e as Error).message}`))
      .finally(() => (this.busy = false));
  }

  /** Sends every full window not sent yet (part n once the file is at least n·P long). */
  private async uploadFullWindows(): Promise<void> {
    if (this.finishing || this.failed || !(await this.began)) return;
    const size = await fileSize(this.o.spoolPath);
    this.bytes = size;
    const P = this.o.partBytes;
    while (!this.failed && !this.finishing && size >= (this.uploaded + 1) * P) {
      if (this.uploaded + 1 >= MAX_RECORDING_PARTS) {
        // the last part of the upload must stay for the end: the file is as long as a recording can be
        void this.finish(`the file reached ${MAX_RECORDING_PARTS - 1} parts`);
        return;
      }
      if (!(await this.sendPart(this.uploaded + 1, size))) return;
      this.uploaded++;
    }
  }

  /** Reads window `part` of the spool file and uploads it; false (and the recording failed) when it could not. */
  private async sendPart(part: number, fileBytes: number): Promise<boolean> {
    const P = this.o.partBytes;
    const offset = (part - 1) * P;
    const length = Math.min(P, fileBytes - offset);
    this.buf ??= new Uint8Array(P);
    const fh = await open(this.o.spoolPath, "r");
    try {
      const { bytesRead } = await fh.read(this.buf, 0, length, offset);
      if (bytesRead !== length) throw new Error(`read ${bytesRead} of ${length} bytes at ${offset}`);
    } finally {
      await fh.close();
    }
    try {
      await this.o.link.part(this.o.recordName, part, this.buf.subarray(0, length));
      this.partsSent++;
      this.o.log.info({ recordName: this.o.recordName, part, bytes: length }, "recording part uploaded");
      return true;
    } catch (e) {
      if (e instanceof RecordingRefusedError) this.refused = true;
      const why = e instanceof RecordingRefusedError ? e.message : `part ${part} could not be uploaded: ${(e as Error).message}`;
      if (this.finishing) throw new Error(why);
      this.fail(why);
      return false;
    }
  }

  private async close(why: string): Promise<void> {
    const { log, recordName } = this.o;
    clearInterval(this.timer);
    const input = this.input;
    if (input) {
      this.o.router.removeTap(input);
      const exit = await input.finish(FFMPEG_FINISH_MS);
      if (exit.code !== 0 && exit.code !== 255 && !this.failed) log.warn({ recordName, code: exit.code, signal: exit.signal, ffmpeg: exit.stderrTail.slice(-500) }, "ffmpeg ended badly");
    }
    await this.uploading.catch(() => undefined);
    this.busy = true; // no pass from here on: the windows left are sent below
    try {
      const began = (await this.began) ?? false;
      const size = input ? await fileSize(this.o.spoolPath) : 0;
      this.bytes = size;
      // refused for good: the worker has closed the recording (it keeps what it has); nothing begun: its timer forgets it
      if (!began || this.refused) {
        this.outcome = this.failed ? "failed" : "aborted";
        return;
      }
      if (size === 0) {
        this.outcome = this.failed ? "failed" : "aborted";
        await this.o.link.abort(recordName, this.failed ?? `nothing was recorded (${why})`);
        log.warn({ recordName, why }, "recording empty: aborted");
        return;
      }
      // after a failure (ffmpeg died, the worker was unreachable for a while) the file is still sent as it is
      const P = this.o.partBytes;
      const parts = Math.min(Math.ceil(size / P), MAX_RECORDING_PARTS);
      const bytes = Math.min(size, parts * P);
      // part 1 again (ffmpeg rewrote the header at the end), then the windows not sent yet
      for (let n = 1; n <= parts; n++) if (n === 1 || n > this.uploaded) await this.sendPart(n, bytes);
      const stored = await this.o.link.complete(recordName, parts, bytes);
      this.outcome = this.failed ? "failed" : "completed";
      log.info({ recordName, why, bytes: stored, parts, partsSent: this.partsSent }, "recording finished");
    } catch (e) {
      this.outcome = "failed";
      log.error({ recordName, why, error: (e as Error).message }, "recording could not be finished: the worker completes what was uploaded");
    } finally {
      this.buf = undefined;
      await rm(this.o.spoolPath, { force: true }).catch(() => undefined);
    }
  }
}

/** The size of `path`, bytes (0 when it does not exist). */
async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
