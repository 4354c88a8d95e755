/**
 * The media node's recordings (WCS `record: true`, and recording on demand; protocol/recording.ts, docs/media-engine.md
 * "Recording"): which publisher legs are recorded, within which bounds, and when each recording starts and ends:
 *
 *   POST /v1/legs {record: {name}} → {@link Recordings.accept} (synchronous, with the answer): the recording is taken
 *     or declined (the answer then has no `record` and the stream is published unrecorded);
 *   the leg connects → its {@link Recorder} starts (ffmpeg, tap, upload);
 *   POST /v1/legs/:legId/recording {name} → {@link Recordings.startNow}: a connected publisher leg is recorded from
 *     now on; DELETE of it → {@link Recordings.stop}: that recording finishes while the stream goes on;
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
import type { RefusalCode } from "../protocol/refusal.js";
import type { PublisherLeg } from "./engine/index.js";
import { FFMPEG } from "./ffmpeg-rtp.js";
import { MediaNodeError } from "./errors.js";
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
  /** Told of each recording's start, end and of each declined one (the node's metrics, media-node/metrics.ts). */
  events?: RecordingEvents;
}

/** What {@link Recordings} reports as recordings start, end or are declined. */
export interface RecordingEvents {
  started(): void;
  /** `code`: why (not_configured, node_full, conflict), as the on-demand call's refusal would say. */
  declined(code: RefusalCode): void;
  /** `bytes`: the file's size when it ended. */
  ended(outcome: NonNullable<Recorder["outcome"]>, bytes: number): void;
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
  /** The current recording of each leg by leg id: waiting for its leg to connect, recording, or finishing. */
  private readonly byLeg = new Map<string, { leg: PublisherLeg; recorder: Recorder }>();
  /** Every recorder until it is done (a leg's finishing one stays here when an on-demand one replaced it). */
  private readonly all = new Set<Recorder>();
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

  /** Recordings accepted and not done yet (finishing ones included). */
  get count(): number {
    return this.all.size;
  }

  /**
   * Takes the recording of publisher leg `leg` under the base name `name` (CreateLegRequest `record`), or declines it
   * (logged; the stream is then published without recording): no ffmpeg, `maxRecordings` reached, too little free
   * disk, or no codec the containers take (protocol/recording.ts recordingFormat). Synchronous: called with the answer.
   * @returns the record name (`<name>.<webm|mp4>`), or undefined when declined
   */
  accept(leg: PublisherLeg, name: string): { recordName: string } | undefined {
    const taken = this.take(leg, name);
    if (taken instanceof MediaNodeError) {
      this.o.events?.declined(taken.code);
      this.o.log.warn({ legId: leg.legId, stream: leg.streamName, why: taken.info }, "recording declined: the stream is published unrecorded");
      return undefined;
    }
    return taken;
  }

  /**
   * Records the connected publisher leg `leg` from now on under `<name>.<webm|mp4>` (recording on demand): its
   * {@link Recorder} starts at once, with the router's cached GOP first.
   * @throws MediaNodeError conflict (the leg is recorded already, or has no codec to record), node_full (as many
   *   recordings as MEDIA_NODE_MAX_RECORDINGS, or too little free disk), not_configured (no ffmpeg, or 0 recordings)
   */
  startNow(leg: PublisherLeg, name: string): { recordName: string } {
    const current = this.byLeg.get(leg.legId);
    if (current && !current.recorder.finished) throw new MediaNodeError("conflict", `The stream is being recorded already (${current.recorder.recordName})`);
    const taken = this.take(leg, name);
    if (taken instanceof MediaNodeError) {
      this.o.events?.declined(taken.code);
      throw taken;
    }
    this.begin(this.byLeg.get(leg.legId)!.recorder);
    this.o.log.info({ legId: leg.legId, stream: leg.streamName, recordName: taken.recordName }, "recording on demand");
    return taken;
  }

  /**
   * Finishes the recording of leg `legId` while its stream goes on (recording on demand); the rest of the file is
   * uploaded in the background. Returns the record name, or undefined when the leg is not being recorded.
   */
  stop(legId: string, why: string): string | undefined {
    const rec = this.byLeg.get(legId);
    if (!rec || rec.recorder.finished) return undefined;
    void rec.recorder.finish(why);
    return rec.recorder.recordName;
  }

  /** Makes the recorder of `leg` (not started), or the refusal that says why not. */
  private take(leg: PublisherLeg, name: string): { recordName: string } | MediaNodeError {
    if (!this.enabled) return new MediaNodeError("not_configured", this.o.maxRecordings > 0 ? "Recording is not available: ffmpeg cannot be run on the media node" : "Recording is off on the media node (MEDIA_NODE_MAX_RECORDINGS is 0)");
    const active = [...this.all].filter((r) => !r.finished).length;
    if (active >= this.o.maxRecordings) return new MediaNodeError("node_full", `The media node records ${active} streams already (MEDIA_NODE_MAX_RECORDINGS)`);
    const free = this.freeBytes();
    if (free < this.o.minFreeBytes) return new MediaNodeError("node_full", `The media node's spool disk is low: ${Math.round(free / 2 ** 20)} MiB free (MEDIA_NODE_RECORD_MIN_FREE_MB)`);
    const format = recordingFormat(leg.video?.codec.name, leg.audio?.codec.name);
    if (!format) return new MediaNodeError("conflict", `No codec to record (video ${leg.video?.codec.name ?? "none"}, audio ${leg.audio?.codec.name ?? "none"})`);
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
    this.all.add(recorder);
    void recorder.done.then(() => {
      this.o.events?.ended(recorder.outcome ?? "failed", recorder.bytes);
      this.all.delete(recorder);
      if (this.byLeg.get(leg.legId)?.recorder === recorder) this.byLeg.delete(leg.legId);
      if (this.all.size === 0) this.stopDiskCheck();
    });
    return { recordName };
  }

  /** Starts a recording when its leg connects; finishes it when its leg ends, whichever way. */
  onLegNotice(n: LegNotice): void {
    const rec = this.byLeg.get(n.legId);
    if (!rec) return;
    if (n.kind === "connected") this.begin(rec.recorder);
    else if (n.kind === "failed" || n.kind === "closed" || n.kind === "removed") {
      void rec.recorder.finish(n.kind === "removed" ? n.cause : n.kind);
    }
  }

  /** Starts `recorder`, and the disk check while anything is recorded. */
  private begin(recorder: Recorder): void {
    this.o.events?.started();
    void recorder.start();
    this.diskTimer ??= setInterval(() => this.checkDisk(), DISK_CHECK_MS);
  }

  /** Finishes every recording (the node stops) and waits for them, at most `timeoutMs`. */
  async finishAll(why: string, timeoutMs: number): Promise<void> {
    const all = [...this.all].map((r) => r.finish(why));
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
