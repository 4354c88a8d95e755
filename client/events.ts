/** Small typed event emitter, error class and promise helpers shared by the SDK's classes. */

/** Any listener; the `never[]` parameter list accepts every function type. */
type Listener = (...args: never[]) => void;

/** Where the SDK reports what it swallowed (listener exceptions, unexpected frames). Defaults to `console`. */
export interface Logger {
  debug(message: string, ...details: unknown[]): void;
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

/** The default logger: console warnings and errors, no debug output. */
export const consoleLogger: Logger = {
  debug: () => undefined,
  warn: (m, ...d) => console.warn(`[wcs-sdk] ${m}`, ...d),
  error: (m, ...d) => console.error(`[wcs-sdk] ${m}`, ...d),
};

/**
 * Typed listeners per event name. Unlike the Web SDK (one callback per event, the last `on()` wins) any number of
 * listeners can be added; a listener that throws is logged and does not stop the others or the SDK.
 */
export class Emitter<M extends { [K in keyof M]: Listener }> {
  readonly #listeners = new Map<keyof M, Set<M[keyof M]>>();

  constructor(private readonly logger: Logger) {}

  on<K extends keyof M>(event: K, listener: M[K]): void {
    if (typeof listener !== "function") throw new TypeError("listener must be a function");
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
  }

  off<K extends keyof M>(event: K, listener: M[K]): void {
    this.#listeners.get(event)?.delete(listener);
  }

  emit<K extends keyof M>(event: K, ...args: Parameters<M[K]>): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as unknown as (...a: Parameters<M[K]>) => void)(...args);
      } catch (e) {
        this.logger.error(`listener of ${String(event)} threw`, e);
      }
    }
  }
}

/**
 * The error of a rejected SDK promise: `info` is the server's (or the SDK's) reason, e.g. "Stream not found",
 * "Login is already in use in this room", {@link ERROR_INFO}.SESSION_DISCONNECTED.
 */
export class WcsError extends Error {
  /** The reason in WCS wording, when there is one. */
  readonly info: string | undefined;
  constructor(message: string, info?: string) {
    super(message);
    this.name = "WcsError";
    this.info = info;
  }
}

/**
 * Returns `p` after attaching a no-op rejection handler to it, so that a caller who ignores the promise (Web SDK
 * style: `participant.sendMessage("hi")`) does not get an unhandled rejection (fatal in Node), while a caller who
 * awaits it still sees the rejection.
 */
export function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** A promise with its resolve/reject functions. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise: quiet(promise), resolve, reject };
}

/** Rejects with a WcsError after `ms` (no timeout when `ms` is undefined or <= 0). */
export function withTimeout<T>(p: Promise<T>, ms: number | undefined, what: string): Promise<T> {
  if (!ms || ms <= 0) return p;
  return quiet(
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new WcsError(`Timed out after ${ms} ms waiting for ${what}`)), ms);
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    }),
  );
}

/**
 * Promises that settle once a condition on an object's state holds (a stream's `active()` / `ended()`): each check
 * runs at once, then again on every {@link Waiters.run} (called after each state change) until it settles its
 * promise.
 */
export class Waiters {
  #pending: Array<() => boolean> = [];

  /**
   * A promise settled by `check` (which calls resolve or reject, or neither while the state does not tell yet),
   * rejected with a WcsError after `timeoutMs` ("… waiting for `what`").
   */
  wait<T>(
    check: (resolve: (v: T) => void, reject: (e: Error) => void) => void,
    timeoutMs: number | undefined,
    what: string,
  ): Promise<T> {
    const p = new Promise<T>((resolve, reject) => {
      let done = false;
      const waiter = (): boolean => {
        check(
          (v) => {
            done = true;
            resolve(v);
          },
          (e) => {
            done = true;
            reject(e);
          },
        );
        return done;
      };
      if (!waiter()) this.#pending.push(waiter);
    });
    return quiet(withTimeout(p, timeoutMs, what));
  }

  /** Re-runs the pending checks; the settled ones are dropped. */
  run(): void {
    if (!this.#pending.length) return;
    this.#pending = this.#pending.filter((w) => !w());
  }
}
