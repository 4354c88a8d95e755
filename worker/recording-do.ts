/**
 * RecordingDO: one per recording (`idFromName(recordName)`; protocol/recording.ts, docs/architecture.md "Recording").
 * It holds the R2 multipart upload of the recording's file, so that the file ends up in object storage however the
 * recording ends — the publisher stops or its socket drops (the media node finishes the file and completes the upload),
 * or the media node is lost (the parts it had uploaded are completed into a file playable up to there).
 *
 * States (one storage key, `state`):
 *
 *   reserved   the StreamDO chose the name and its node took the recording (publishStream answered); nothing in R2
 *   recording  the node's ffmpeg runs and it called begin: the multipart upload exists; parts arrive with their etags
 *   done       the upload was completed: `records/<recordName>` is in R2 (`partial`: from the parts of a lost node)
 *   aborted    nothing playable was recorded; the upload was aborted
 *
 * Calls: {@link reserve} (StreamDO), {@link begin} / {@link partTarget} / {@link partUploaded} / {@link complete} /
 * {@link abort} (the node's signed upload calls, worker/recordings.ts; each names the node's incarnation, which must be
 * the one the recording was placed on), {@link nodeLost} (StreamDO, when the registry lost the node).
 *
 * Safety net, the alarm (every {@link CHECK_MS}): a recording whose publisher leg its StreamDO no longer has, and whose
 * node has uploaded nothing for {@link GRACE_MS}, is completed with the parts it has (the node died, or gave up
 * uploading) or forgotten (never begun). A done or aborted recording's state is forgotten {@link TOMBSTONE_MS} later
 * (until then a late call of its node is refused with `conflict`, after that with `not_found`).
 */
import { DurableObject } from "cloudflare:workers";
import {
  MIN_PART_BYTES,
  NO_RECORDINGS_BUCKET,
  RECORDINGS_PREFIX,
  refusal,
  type RecordingComplete,
  type Result,
} from "../protocol/index.js";
import { streamOf, type Env } from "./env.js";
import { configureLog, log } from "./log.js";
import { emitWebhooks } from "./webhooks.js";

/** How often the alarm checks a reserved or running recording, ms. */
export const CHECK_MS = 120_000;
/** How long a recording whose stream has ended may stay without an upload call before it is closed, ms. */
export const GRACE_MS = 120_000;
/** How long the state of a finished recording is kept, ms. */
export const TOMBSTONE_MS = 3_600_000;

/** What the StreamDO tells about a recording it reserves. */
export interface RecordingMeta {
  recordName: string;
  /** The stream's exact name and its publisher (mediaSessionId, leg id). */
  streamName: string;
  mediaSessionId: string;
  legId: string;
  contentType: string;
  /** When the publish was answered, ms since the epoch. */
  createdAt: number;
  /** The node (incarnation) that records it. */
  nodeId: string;
  bootId: string;
}

/** One uploaded part: its R2 etag and size in bytes. */
interface Part {
  etag: string;
  size: number;
}

type RecordingState =
  | { phase: "reserved"; meta: RecordingMeta }
  | { phase: "recording"; meta: RecordingMeta; uploadId: string; parts: Record<string, Part>; lastActivity: number }
  | { phase: "done"; meta: RecordingMeta; size: number; partial: boolean; forgetAt: number }
  | { phase: "aborted"; meta: RecordingMeta; reason: string; forgetAt: number };

/** The node's incarnation on an upload call. */
export interface NodeOf {
  nodeId: string;
  bootId: string;
}

/** The RecordingDO of `recordName`. */
export const recordingOf = (env: Env, recordName: string) => env.RECORDING.get(env.RECORDING.idFromName(recordName));

/** The R2 key of a recording's file. */
export const recordingKey = (recordName: string) => RECORDINGS_PREFIX + recordName;

export class RecordingDO extends DurableObject<Env> {
  private state: RecordingState | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    configureLog(env);
    ctx.blockConcurrencyWhile(async () => {
      this.state = (await ctx.storage.get<RecordingState>("state")) ?? null;
    });
  }

  /** Takes the name for a new recording. False when the name is taken already (a recording of that name exists). */
  async reserve(meta: RecordingMeta): Promise<boolean> {
    if (this.state) return false;
    await this.save({ phase: "reserved", meta });
    await this.ctx.storage.setAlarm(Date.now() + CHECK_MS);
    log("info", "recording_reserved", { recordName: meta.recordName, stream: meta.streamName, nodeId: meta.nodeId });
    return true;
  }

  /** Gives a reserved name back (the node declined the recording before it began); a begun recording stays. */
  async release(): Promise<void> {
    if (this.state?.phase !== "reserved") return;
    log("info", "recording_released", { recordName: this.state.meta.recordName, stream: this.state.meta.streamName });
    this.state = null;
    await this.ctx.storage.deleteAll();
  }

  /**
   * The node starts uploading: creates the multipart upload (idempotent for the same node). Refusals: not_found (no
   * such recording), conflict (another node's, or it has ended), not_configured (no bucket).
   */
  async begin(node: NodeOf): Promise<Result> {
    const s = this.state;
    const bad = this.check(s, node);
    if (bad) return bad;
    if (s!.phase === "recording") return { ok: true };
    const bucket = this.env.RECORDINGS;
    if (!bucket) return refusal("not_configured", NO_RECORDINGS_BUCKET);
    const meta = s!.meta;
    const upload = await bucket.createMultipartUpload(recordingKey(meta.recordName), {
      httpMetadata: { contentType: meta.contentType },
      customMetadata: { streamName: meta.streamName, mediaSessionId: meta.mediaSessionId, createdAt: String(meta.createdAt) },
    });
    await this.save({ phase: "recording", meta, uploadId: upload.uploadId, parts: {}, lastActivity: Date.now() });
    log("info", "recording_begun", { recordName: meta.recordName, stream: meta.streamName, nodeId: node.nodeId });
    return { ok: true };
  }

  /** Where part `part` goes: the object's key and the upload id, for the worker to stream the part into. */
  async partTarget(node: NodeOf): Promise<Result<{ key: string; uploadId: string }>> {
    const s = this.state;
    const bad = this.check(s, node);
    if (bad) return bad;
    if (s!.phase !== "recording") return refusal("conflict", "The recording's upload has not begun");
    return { ok: true, key: recordingKey(s!.meta.recordName), uploadId: s!.uploadId };
  }

  /** Counts an uploaded part (its bytes matched the node's digest). */
  async partUploaded(node: NodeOf, part: number, p: Part): Promise<Result> {
    const s = this.state;
    const bad = this.check(s, node);
    if (bad) return bad;
    if (s!.phase !== "recording") return refusal("conflict", "The recording's upload has not begun");
    await this.save({ ...s!, parts: { ...s!.parts, [part]: p }, lastActivity: Date.now() });
    return { ok: true };
  }

  /**
   * The node finished the file: completes the upload with parts 1..`parts` (each uploaded, all but the last the same
   * size, `bytes` in all). Idempotent once done. Refusals: not_found, conflict (another node's; a part missing or of the
   * wrong size).
   */
  async complete(req: Pick<RecordingComplete, "nodeId" | "bootId" | "parts" | "bytes">): Promise<Result<{ size: number }>> {
    const s = this.state;
    if (s?.phase === "done" && s.meta.nodeId === req.nodeId && s.meta.bootId === req.bootId && !s.partial) return { ok: true, size: s.size };
    const bad = this.check(s, req);
    if (bad) return bad;
    if (s!.phase !== "recording") return refusal("conflict", "The recording's upload has not begun");
    const rec = s as Extract<RecordingState, { phase: "recording" }>;
    const list: { partNumber: number; etag: string; size: number }[] = [];
    for (let n = 1; n <= req.parts; n++) {
      const p = rec.parts[n];
      if (!p) return refusal("conflict", `Part ${n} of ${req.parts} was not uploaded`);
      list.push({ partNumber: n, ...p });
    }
    const total = list.reduce((a, p) => a + p.size, 0);
    if (total !== req.bytes) return refusal("conflict", `The parts hold ${total} bytes, not ${req.bytes}`);
    const unequal = list.slice(0, -1).find((p) => p.size !== list[0]!.size || p.size < MIN_PART_BYTES);
    if (unequal) return refusal("conflict", `Part ${unequal.partNumber} has ${unequal.size} bytes: every part but the last must have the same size, at least ${MIN_PART_BYTES}`);
    const size = await this.completeUpload(rec, list, false, "finished by its node");
    return { ok: true, size };
  }

  /** The node gives the recording up: what was uploaded is kept when it is playable (part 1 there), else aborted. */
  async abort(node: NodeOf, reason: string): Promise<Result> {
    const s = this.state;
    const bad = this.check(s, node);
    if (bad) return bad;
    await this.closeEarly(`given up by its node: ${reason}`);
    return { ok: true };
  }

  /** The registry lost the node this recording is on: complete it with the parts uploaded (or forget it). */
  async nodeLost(nodeId: string, bootId: string): Promise<void> {
    const s = this.state;
    if (!s || s.phase === "done" || s.phase === "aborted" || s.meta.nodeId !== nodeId || s.meta.bootId !== bootId) return;
    await this.closeEarly("media node lost");
  }

  /** The recording's state, for tests and operators. */
  async describe(): Promise<RecordingState | null> {
    return structuredClone(this.state);
  }

  /** The safety net and the forgetting (see the file header). */
  override async alarm(): Promise<void> {
    const s = this.state;
    if (!s) return;
    const now = Date.now();
    if (s.phase === "done" || s.phase === "aborted") {
      if (now >= s.forgetAt) {
        this.state = null;
        await this.ctx.storage.deleteAll();
      } else await this.ctx.storage.setAlarm(s.forgetAt);
      return;
    }
    const quiet = s.phase === "reserved" || now - s.lastActivity >= GRACE_MS;
    if (quiet && !(await streamOf(this.env, s.meta.streamName).leg(s.meta.legId))) {
      await this.closeEarly("its stream ended without the upload being completed");
      return;
    }
    await this.ctx.storage.setAlarm(now + CHECK_MS);
  }

  /**
   * Ends a recording that its node did not finish: completed with the parts 1..k uploaded without a gap (a prefix of
   * the file: part 1 holds its header), else aborted; a recording never begun is forgotten.
   */
  private async closeEarly(why: string): Promise<void> {
    const s = this.state;
    if (!s || s.phase === "done" || s.phase === "aborted") return;
    if (s.phase === "reserved") {
      log("info", "recording_forgotten", { recordName: s.meta.recordName, why });
      this.state = null;
      await this.ctx.storage.deleteAll();
      return;
    }
    const list: { partNumber: number; etag: string; size: number }[] = [];
    for (let n = 1; s.parts[n]; n++) list.push({ partNumber: n, ...s.parts[n]! });
    // every part but the last must have the first one's size (R2): a shorter part can only end the list
    const end = list.findIndex((p, i) => i < list.length - 1 && p.size !== list[0]!.size);
    if (end >= 0) list.length = end + 1;
    if (list.length === 0) {
      await this.bucket()?.resumeMultipartUpload(recordingKey(s.meta.recordName), s.uploadId).abort().catch(() => undefined);
      log("warn", "recording_aborted", { recordName: s.meta.recordName, stream: s.meta.streamName, why });
      await this.save({ phase: "aborted", meta: s.meta, reason: why, forgetAt: Date.now() + TOMBSTONE_MS });
      await this.ctx.storage.setAlarm(Date.now() + TOMBSTONE_MS);
      return;
    }
    await this.completeUpload(s, list, true, why);
  }

  /** Completes the multipart upload with `list`; the state becomes done; emits `recording.finished`. */
  private async completeUpload(
    s: Extract<RecordingState, { phase: "recording" }>,
    list: { partNumber: number; etag: string; size: number }[],
    partial: boolean,
    why: string,
  ): Promise<number> {
    const bucket = this.bucket();
    if (!bucket) throw new Error("no RECORDINGS bucket");
    const obj = await bucket.resumeMultipartUpload(recordingKey(s.meta.recordName), s.uploadId).complete(list.map(({ partNumber, etag }) => ({ partNumber, etag })));
    const m = s.meta;
    await this.save({ phase: "done", meta: m, size: obj.size, partial, forgetAt: Date.now() + TOMBSTONE_MS });
    await this.ctx.storage.setAlarm(Date.now() + TOMBSTONE_MS);
    log(partial ? "warn" : "info", "recording_finished", { recordName: m.recordName, stream: m.streamName, size: obj.size, parts: list.length, partial, why });
    await emitWebhooks(this.env, m.streamName, [
      { type: "recording.finished", data: { recordName: m.recordName, streamName: m.streamName, mediaSessionId: m.mediaSessionId, size: obj.size, contentType: m.contentType, partial } },
    ]);
    return obj.size;
  }

  /** not_found without a recording; conflict when it belongs to another node incarnation or has ended. */
  private check(s: RecordingState | null, node: NodeOf): ReturnType<typeof refusal> | null {
    if (!s) return refusal("not_found", "No such recording");
    if (s.meta.nodeId !== node.nodeId || s.meta.bootId !== node.bootId) return refusal("conflict", "The recording is on another media node");
    if (s.phase === "done" || s.phase === "aborted") return refusal("conflict", "The recording has ended");
    return null;
  }

  private bucket(): R2Bucket | undefined {
    return this.env.RECORDINGS;
  }

  private async save(s: RecordingState): Promise<void> {
    this.state = s;
    await this.ctx.storage.put("state", s);
  }
}
