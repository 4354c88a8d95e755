/**
 * A session's `sendData {operationId, payload}` operations awaiting their `DataStatusEvent` (ACCEPTED resolves,
 * FAILED rejects with the server's info), their timeout, and their rejection when the session drops.
 */
import { WcsError, quiet } from "./events.js";

interface PendingData {
  resolve(): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** @internal The pending sendData operations of one session, by operationId. */
export class DataRequests {
  readonly #pending = new Map<string, PendingData>();

  /** The promise of operation `operationId`; it rejects when no status came within `timeoutMs` (0 = wait forever). */
  add(operationId: string, timeoutMs: number): Promise<void> {
    return quiet(
      new Promise<void>((resolve, reject) => {
        const timer =
          timeoutMs > 0
            ? setTimeout(() => {
                this.#pending.delete(operationId);
                reject(new WcsError(`No DataStatusEvent within ${timeoutMs} ms`));
              }, timeoutMs)
            : undefined;
        this.#pending.set(operationId, { resolve, reject, timer });
      }),
    );
  }

  /** `DataStatusEvent`: ACCEPTED resolves, any other status rejects with `info`. Unknown ids are ignored. */
  settle(operationId: string, status: unknown, info: string | undefined): void {
    const pending = this.#pending.get(operationId);
    if (!pending) return;
    this.#pending.delete(operationId);
    if (pending.timer) clearTimeout(pending.timer);
    if (status === "ACCEPTED") pending.resolve();
    else pending.reject(new WcsError(info ?? `sendData ${String(status)}`, info));
  }

  /** The session is down: every pending operation rejects with `message` / `info`. */
  rejectAll(message: string, info: string): void {
    for (const [id, pending] of this.#pending) {
      if (pending.timer) clearTimeout(pending.timer);
      pending.reject(new WcsError(message, info));
      this.#pending.delete(id);
    }
  }
}
