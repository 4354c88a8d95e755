/**
 * The media node's recordings (WCS `record: true`; protocol/recording.ts, docs/media-engine.md "Recording"): which
 * publisher legs are recorded, within which bounds, and when each recording starts and ends. No extra control call:
 *
 *   POST /v1/legs {record: {name}} → {@link Recordings.accept} (synchronous, with the answer): the recording is taken
 *     or declined (the answer then has no `record` and the stream is published unrecorded);
 *   the leg connects → its {@link Recorder} starts (ffmpeg, tap, upload);
 *   the leg ends for any reason (publisher stop, socket drop, ICE/DTLS failure, DELETE, drain) → the recorder finishes
 *     (ffmpeg closes the file, the rest is uploaded, the upload completed).
 *
 * Bounds: at most `maxRecordings` at once on the node; none while the spool directory's file system has less than
 * `minFreeBytes` free, and every recording is finished early when it falls under half of that; a node without ffmpeg
 * records nothing (warned at start). Spool files live in `<dir>/<nodeId>/`; those a previous process of the same node
 * id left behind (a crash: the worker has completed or aborted their uploads since) are deleted at start.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, statfsSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { recordingFormat } from "../protocol/recording.js";
import type { PublisherLeg } from "./engine/index.js";
import { FFMPEG } from "./ffmpeg-rtp.js";
import type { LegNotice } from "./legs.js";
import { Recorder } from "./recorder.js";
import type { RecordingLink } from "./recording-link.js";

/** Bounds and places of a node's recordings (media-node/config.ts: MEDIA_NODE_RECORD_*). */
export interface RecordingsOptions {
  /** Spool root (MEDIA_NODE_RECORD_DIR); this node's files go to `<dir>/<nodeId>/`. */
  dir: string;
  nodeId: string;
  /** Most recordings at once (MEDIA_NODE_MAX_RECORDINGS); 0 = the node records nothing. */
  maxRecordings: number;
  /** Free space the spool's file system must have for a new recording, bytes (MEDIA_NODE_RECORD_MIN_FREE_MB). */
  minFreeBytes: number;
  /** Upload part size, bytes (MEDIA_NODE_RECORD_PART_BYTES). */
  partBytes: number;
  link: RecordingLink;
  log: Logger;
}

/** How often the spool's free space is checked while something is recorded, ms. */
const DISK_CHECK_MS = 5000;

/** Whether ffmpeg can be run (`ffmpeg -version` exits 0 within 5 s). */
export function ffmpegAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(FFMPEG, ["-version"], { timeout: 5000 }, (err) => resolve(!err));
  });
}

/** The recordings of one media node (see the file header). */
export class Recordings {
  /** Accepted recordings by leg id: waiting for their leg to connect (`leg`), then recording. */
  private readonly byLeg = new Map<string, { leg: PublisherLeg; recorder: Recorder }>();
  private readonly spool: string;
  private diskTimer?: NodeJS.Timeout;
  private enabled: boolean;

  /**
   * Creates the spool directory and deletes what a previous process of this node id left in it.
   * @param ffmpeg whether ffmpeg is available ({@link ffmpegAvailable}); without it nothing is recorded
   */
  constructor(
    private readonly o: RecordingsOptions,
    ffmpeg: boolean,
  ) {
    this.spool = join(o.dir, o.nodeId.replace(/[^A-Za-z0-9_.-]/g, "_"));
    this.enabled = ffmpeg && o.maxRecordings > 0;
    if (!ffmpeg) o.log.warn({ ffmpeg: FFMPEG }, "ffmpeg cannot be run: streams published with record=true are not recorded");
    mkdirSync(this.spool, { recursive: true });
    const left = readdirSync(this.spool);
    for (const f of left) rmSync(join(this.spool, f), { force: true, recursive: true });
    if (left.length) o.log.warn({ dir: this.spool, files: left.length }, "deleted spool files of a previous run");
  }

  /** Recordings accepted and not finished yet. */
  get count(): number {
    return this.byLeg.size;
  }

  /**
   * Takes the recording of publisher leg `leg` under the base name `name` (CreateLegRequest `record`), or declines it
   * (logged; the stream is then published without recording): no ffmpeg, `maxRecordings` reached, too little free
   * disk, or no codec the containers take (protocol/recording.ts recordingFormat). Synchronous: called with the answer.
   * @returns the record name (`<name>.<webm|mp4>`), or undefined when declined
   */
  accept(leg: PublisherLeg, name: string): { recordName: string } | undefined {
    const decline = (why: string) => {
      this.o.log.warn({ legId: leg.legId, stream: leg.streamName, why }, "recording declined: the stream is published unrecorded");
      return undefined;
    };
    if (!this.enabled) return decline(this.o.maxRecordings > 0 ? "ffmpeg is not available" : "MEDIA_NODE_MAX_RECORDINGS is 0");
    if (this.byLeg.size >= this.o.maxRecordings) return decline(`the node records ${this.byLeg.size} streams already (MEDIA_NODE_MAX_RECORDINGS)`);
    const free = this.freeBytes();
    if (free < this.o.minFreeBytes) return decline(`${Math.round(free / 2 ** 20)} MiB free in ${this.spool} (MEDIA_NODE_RECORD_MIN_FREE_MB)`);
    const format = recordingFormat(leg.video?.codec.name, leg.audio?.codec.name);
    if (!format) return decline(`no codec to record (video ${leg.video?.codec.name ?? "none"}, audio ${leg.audio?.codec.name ?? "none"})`);
    const recordName = `${name}.${format.container}`;
    const recorder = new Recorder({
      recordName,
      format,
      tracks: { ...(format.video ? { video: leg.video } : {}), ...(format.audio ? { audio: leg.audio } : {}) },
      router: leg.router,
      spoolPath: join(this.spool, recordName),
      partBytes: this.o.partBytes,
      link: this.o.link,
      log: this.o.log,
    });
    this.byLeg.set(leg.legId, { leg, recorder });
    void recorder.done.then(() => {
      if (this.byLeg.get(leg.legId)?.recorder === recorder) this.byLeg.delete(leg.legId);
      if (this.byLeg.size === 0) this.stopDiskCheck();
    });
    return { recordName };
  }

  /** Starts a recording when its leg connects; finishes it when its leg ends, whichever way. */
  onLegNotice(n: LegNotice): void {
    const rec = this.byLeg.get(n.legId);
    if (!rec) return;
    if (n.kind === "connected") {
      void rec.recorder.start();
      this.diskTimer ??= setInterval(() => this.checkDisk(), DISK_CHECK_MS);
    } else if (n.kind === "failed" || n.kind === "closed" || n.kind === "removed") {
      void rec.recorder.finish(n.kind === "removed" ? n.cause : n.kind);
    }
  }

  /** Finishes every recording (the node stops) and waits for them, at most `timeoutMs`. */
  async finishAll(why: string, timeoutMs: number): Promise<void> {
    const all = [...this.byLeg.values()].map((r) => r.recorder.finish(why));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(all), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.stopDiskCheck();
  }

  /** Free bytes of the spool's file system (Infinity when it cannot be read). */
  private freeBytes(): number {
    try {
      const s = statfsSync(this.spool);
      return s.bavail * s.bsize;
    } catch {
      return Infinity;
    }
  }

  /** Every recording finishes early when the spool's file system has less than half of `minFreeBytes` left. */
  private checkDisk(): void {
    const free = this.freeBytes();
    if (free >= this.o.minFreeBytes / 2) return;
    this.o.log.error({ dir: this.spool, freeMiB: Math.round(free / 2 ** 20), recordings: this.byLeg.size }, "disk almost full: every recording is finished now");
    for (const r of this.byLeg.values()) void r.recorder.finish("disk almost full");
  }

  private stopDiskCheck(): void {
    clearInterval(this.diskTimer);
    this.diskTimer = undefined;
  }
}
