/**
 * The auto-restore policy (opt-in, `createSession({autoRestore: true | {...}})`), modelled on the Web SDK's
 * stream-auto-restore demo (examples/demo/streaming/stream-auto-restore: restart publishing/playback on session
 * FAILED and on stream FAILED, a fixed number of tries; missed server pings mark the session FAILED).
 *
 * Policy:
 * 1. **Session drop.** When a session that had been ESTABLISHED loses its WebSocket (closed by the server or the
 *    network, an error, or `receiveProbes` server pings missed) and the app did not call `disconnect()`, the drop is
 *    reported as usual (streams FAILED with info "Session disconnected", then the session's DISCONNECTED or FAILED
 *    event), then the session reconnects on a new WebSocket after `initialDelayMs`, doubling the delay after every
 *    failed attempt up to `maxDelayMs` (each attempt is announced by a RESTORING event; attempts that fail are not
 *    reported as DISCONNECTED/FAILED). On ESTABLISHED, rooms are re-joined (Room API sessions), then every stream
 *    that was PENDING, PUBLISHING or PLAYING at the drop (and not stopped by the app since) is published or played
 *    again on the same Stream object, with a new `id()`, going PENDING → PUBLISHING/PLAYING again. After
 *    `maxAttempts` failed attempts the session gives up: FAILED is emitted once more and nothing is retried.
 * 2. **Stream failure on a live session.** A stream that had reached PUBLISHING/PLAYING and then ends FAILED (media
 *    node lost, ICE/DTLS failure, a player whose publisher went away, …) is restarted with the same backoff until it
 *    is active again or `maxAttempts` restarts failed. Not restarted: streams the app stopped, local errors
 *    ("Local error": no camera, rejected SDP), streams that never became active (a first "Stream not found" or
 *    "Stream name is already in use" is final), and room streams whose participant no longer publishes them.
 *
 * Every FAILED is still emitted (with `getInfo()`), so the app can show it; `stream.isRestoring()` /
 * `session.isRestoring()` tell whether a retry is scheduled. A publisher captured with getUserMedia keeps its
 * camera while a retry is scheduled; a `stream` passed by the app is never stopped by the SDK.
 */

/** Tuning of auto-restore. All delays in milliseconds. */
export interface AutoRestoreOptions {
  /** Delay before the first retry (default 1000). */
  initialDelayMs?: number;
  /** Largest delay between retries (default 30000); the delay doubles after each failed retry. */
  maxDelayMs?: number;
  /** Retries before giving up (default 100, as the demo's RESTART_MAX_TRIES). */
  maxAttempts?: number;
}

/** The resolved policy. */
export interface RestorePolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
}

/** `undefined`/`false` → no policy; `true` → defaults; an object → defaults completed by it. */
export function resolveRestorePolicy(opt: boolean | AutoRestoreOptions | undefined): RestorePolicy | null {
  if (!opt) return null;
  const o = opt === true ? {} : opt;
  const initialDelayMs = Math.max(0, o.initialDelayMs ?? 1000);
  return {
    initialDelayMs,
    maxDelayMs: Math.max(initialDelayMs, o.maxDelayMs ?? 30_000),
    maxAttempts: Math.max(1, o.maxAttempts ?? 100),
  };
}

/** Delay before retry number `attempt` (1-based): initial × 2^(attempt−1), capped. */
export function backoffDelay(policy: RestorePolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempt - 1));
}

/** Argument of the RESTORING event: which reconnection attempt is about to start, and after how long. */
export interface RestoreAttempt {
  /** 1 for the first attempt after a drop. */
  attempt: number;
  /** Milliseconds until the attempt opens its WebSocket. */
  delayMs: number;
}

/**
 * The consecutive retries of one thing under the policy: a session's reconnections (reset when ESTABLISHED), a
 * stream's restarts (reset when PUBLISHING/PLAYING).
 */
export class Retries {
  readonly policy: RestorePolicy;
  #attempt = 0;

  constructor(policy: RestorePolicy) {
    this.policy = policy;
  }

  /** The next retry (1-based number, backoff delay), or undefined once `maxAttempts` retries were used up. */
  next(): RestoreAttempt | undefined {
    const attempt = ++this.#attempt;
    if (attempt > this.policy.maxAttempts) return undefined;
    return { attempt, delayMs: backoffDelay(this.policy, attempt) };
  }

  /** It worked: the next failure starts again from the first retry. */
  reset(): void {
    this.#attempt = 0;
  }
}
