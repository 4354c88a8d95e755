/**
 * Auto-restore of one stream (the policy is described in `restore.ts`): a FAILED stream the status machine decided to
 * restore is restarted after a backoff delay (failure on a live session) or once its session is ESTABLISHED again
 * (session drop); the restarts stop when the app stops the stream, when `restoreIf` says no (room streams), after
 * `maxAttempts`, or when the session gives up.
 */
import { SESSION_STATUS } from "./constants.js";
import { Retries } from "./restore.js";
import type { Stream } from "./stream.js";
import type { SessionLink, StreamExtras } from "./stream-link.js";
import type { StreamOptions } from "./stream-types.js";

/** What the restore does to its stream. */
export interface RestoreActions {
  /** Restart on a new id; the session is ESTABLISHED. */
  restart(): void;
  /** No restart any more: release what was kept for one (captured media) and settle the waiting promises. */
  ended(): void;
}

/** @internal The auto-restore state of one {@link Stream}. */
export class StreamRestore {
  readonly #link: SessionLink;
  readonly #stream: Stream;
  readonly #opts: StreamOptions;
  readonly #extras: StreamExtras;
  readonly #actions: RestoreActions;
  readonly #retries: Retries | null;
  #pending = false;
  #cancelled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(link: SessionLink, stream: Stream, opts: StreamOptions, extras: StreamExtras, actions: RestoreActions) {
    this.#link = link;
    this.#stream = stream;
    this.#opts = opts;
    this.#extras = extras;
    this.#actions = actions;
    this.#retries = link.restorePolicy ? new Retries(link.restorePolicy) : null;
  }

  /** true while a restart is scheduled or waits for the session. */
  get pending(): boolean {
    return this.#pending;
  }

  /** The stream may be restored at all: a session policy, `autoRestore` not false, not stopped by the app. */
  allowed(): boolean {
    return this.#retries !== null && this.#opts.autoRestore !== false && !this.#cancelled;
  }

  /** The stream is PUBLISHING/PLAYING: the next failure starts again from the first delay. */
  succeeded(): void {
    this.#retries?.reset();
  }

  /** The stream went UNPUBLISHED/STOPPED/FAILED; `restoring`: the status machine chose to restore it (see begin()). */
  terminal(restoring: boolean): void {
    this.#pending = restoring;
  }

  /** Starts the restore decided by `terminal(true)`: once the session is back, or after the backoff delay. */
  begin(when: "session" | "backoff"): void {
    if (when === "session") this.#link.awaitSession(this.#stream);
    else this.#schedule();
  }

  /** The session is ESTABLISHED again: restart now. */
  resume(): void {
    if (this.#pending) this.#now();
  }

  /** The session gave up restoring (or was disconnected by the app). */
  giveUp(): void {
    if (this.#pending) this.#end();
  }

  /** The app stopped the stream: never restore it. Returns true if a pending restore was cancelled. */
  cancel(): boolean {
    this.#cancelled = true;
    if (!this.#pending) return false;
    this.#end();
    return true;
  }

  #schedule(): void {
    const retries = this.#retries;
    if (!retries) return this.#end();
    const name = this.#stream.name();
    const retry = retries.next();
    if (!retry) {
      this.#link.logger.warn(`stream ${name}: gave up restoring after ${retries.policy.maxAttempts} attempts`);
      return this.#end();
    }
    this.#link.logger.debug(`stream ${name}: restore attempt ${retry.attempt} in ${retry.delayMs} ms`);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#link.status() !== SESSION_STATUS.ESTABLISHED) this.#link.awaitSession(this.#stream);
      else this.#now();
    }, retry.delayMs);
  }

  #now(): void {
    if (!this.#pending) return;
    if (this.#cancelled || (this.#extras.restoreIf && !this.#extras.restoreIf())) return this.#end();
    if (this.#link.status() !== SESSION_STATUS.ESTABLISHED) return this.#link.awaitSession(this.#stream);
    this.#pending = false;
    this.#actions.restart();
  }

  #end(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = false;
    this.#link.forgetAwaiting(this.#stream);
    this.#actions.ended();
  }
}
