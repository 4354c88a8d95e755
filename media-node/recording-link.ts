/**
 * The media node's side of the recording uploads (protocol/recording.ts): signed calls to the worker that begin a
 * recording's multipart upload, send its parts and complete or abort it. Every call is retried on network errors,
 * timeouts and 5xx / 408 / 429 with backoff (250 ms, doubling, at most 8 s between attempts); any other refusal is
 * final ({@link RecordingRefusedError}: the worker closed the recording, e.g. after declaring this node lost).
 */
import type { Logger } from "pino";
import {
  RecordingCompleted,
  RecordingPaths,
  recordingPartQuery,
  type RecordingAbort,
  type RecordingBegin,
  type RecordingComplete,
} from "../protocol/recording.js";
import { signedFetch, signRequest } from "../protocol/signing.js";
import { describeError, HttpStatusError } from "./signed-post.js";

/** A call the worker refused for good (4xx but 408 / 429): `status` is its HTTP status. */
export class RecordingRefusedError extends Error {
  constructor(
    readonly status: number,
    what: string,
  ) {
    super(`the worker refused ${what} (HTTP ${status})`);
    this.name = "RecordingRefusedError";
  }
}

/** Where and as whom the node uploads. */
export interface RecordingLinkOptions {
  workerUrl: string;
  secret: string;
  /** The node's id (known once its control API listens) and incarnation. */
  nodeId: () => string;
  bootId: string;
  log: Logger;
  /** Attempts per call (default 8: about 40 s of retries). */
  attempts?: number;
}

/** Time bound of one part upload attempt, ms (a part is up to 64 MiB). */
const PART_TIMEOUT_MS = 120_000;
/** Time bound of one JSON call attempt, ms. */
const CALL_TIMEOUT_MS = 15_000;
const MAX_BACKOFF_MS = 8_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Lowercase hex SHA-256 of `bytes` (WebCrypto: hashed off the event loop). */
export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return Buffer.from(await crypto.subtle.digest("SHA-256", bytes)).toString("hex");
}

/** The node → worker upload calls of recordings. */
export class RecordingLink {
  constructor(private readonly o: RecordingLinkOptions) {}

  /** Creates the recording's multipart upload (the worker knows the recording from the StreamDO). */
  async begin(recordName: string): Promise<void> {
    const body: RecordingBegin = { nodeId: this.o.nodeId(), bootId: this.o.bootId, recordName };
    await this.json(RecordingPaths.begin, body, `begin of ${recordName}`);
  }

  /**
   * Uploads part `part` of `recordName`: `bytes` is its whole content (the caller's buffer, sent as is; its SHA-256
   * goes into the signed query).
   * @throws RecordingRefusedError, or the last network error after every attempt failed
   */
  async part(recordName: string, part: number, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    const sha256 = await sha256Hex(bytes);
    const path = RecordingPaths.part + recordingPartQuery({ nodeId: this.o.nodeId(), bootId: this.o.bootId, recordName, part, size: bytes.length, sha256 });
    await this.retried(`part ${part} of ${recordName}`, async () => {
      const headers = await signRequest(this.o.secret, "PUT", path, "");
      const res = await fetch(this.o.workerUrl + path, {
        method: "PUT",
        headers: { ...headers, "content-type": "application/octet-stream" },
        body: bytes,
        signal: AbortSignal.timeout(PART_TIMEOUT_MS),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new HttpStatusError(res.status);
    });
  }

  /** Completes the upload with parts 1..`parts` (`bytes` in all). @returns the object's size */
  async complete(recordName: string, parts: number, bytes: number): Promise<number> {
    const body: RecordingComplete = { nodeId: this.o.nodeId(), bootId: this.o.bootId, recordName, parts, bytes };
    const json = await this.json(RecordingPaths.complete, body, `completion of ${recordName}`);
    const parsed = RecordingCompleted.safeParse(json);
    return parsed.success ? parsed.data.size : bytes;
  }

  /** Gives the recording up (nothing could be recorded). */
  async abort(recordName: string, reason: string): Promise<void> {
    const body: RecordingAbort = { nodeId: this.o.nodeId(), bootId: this.o.bootId, recordName, reason: reason.slice(0, 1024) };
    await this.json(RecordingPaths.abort, body, `abort of ${recordName}`);
  }

  private async json(path: string, body: unknown, what: string): Promise<unknown> {
    let out: unknown;
    await this.retried(what, async () => {
      const res = await signedFetch(this.o.secret, this.o.workerUrl + path, "POST", body, CALL_TIMEOUT_MS);
      if (!res.ok) {
        await res.arrayBuffer().catch(() => undefined);
        throw new HttpStatusError(res.status);
      }
      out = await res.json().catch(() => null);
    });
    return out;
  }

  /** Runs `attempt` until it succeeds, a refusal is final, or the attempts are used up (then the last error is thrown). */
  private async retried(what: string, attempt: () => Promise<void>): Promise<void> {
    const attempts = this.o.attempts ?? 8;
    for (let i = 0; ; i++) {
      try {
        await attempt();
        return;
      } catch (e) {
        if (e instanceof HttpStatusError && e.status < 500 && e.status !== 408 && e.status !== 429) throw new RecordingRefusedError(e.status, what);
        if (i >= attempts - 1) throw e;
        const wait = Math.min(MAX_BACKOFF_MS, 250 * 2 ** i);
        this.o.log.warn({ what, attempt: i + 1, reason: describeError(e), retryInMs: wait }, "recording upload call failed; retrying");
        await sleep(wait);
      }
    }
  }
}
