/**
 * How a CLI run ends: cleanups registered while it runs (stop streams and sources, leave, disconnect) are undone in
 * reverse order, bounded in time, then the process exits with its code (0 done, 1 failure, 2 bad command line).
 *
 * The process always ends with process.exit(): @roamhq/wrtc keeps the event loop alive and can crash while exiting
 * with live peer connections, so streams are stopped and sessions closed first.
 */
import { out } from "./output.js";

/** How long stopping one stream may take (ms); the whole cleanup gets this plus 2 s. */
export const STOP_TIMEOUT_MS = 5_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A bad command line found after parsing (exit code 2). */
export class UsageError extends Error {}

/** Work to undo before exiting, run last-in first-out. */
const cleanups: Array<() => Promise<unknown> | void> = [];
let exiting = false;

/** Registers work to undo before exiting (run last-in first-out; errors are only logged with --verbose). */
export function onExit(fn: () => Promise<unknown> | void): void {
  cleanups.push(fn);
}

/** True once {@link finish} has started: nothing more should be reported. */
export function isExiting(): boolean {
  return exiting;
}

/** Runs the cleanups (bounded in time), then process.exit(code). Never returns; later calls wait for the first. */
export async function finish(code: number): Promise<never> {
  if (exiting) return new Promise<never>(() => undefined); // the first finish() exits
  exiting = true;
  const all = (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        out.debug(`cleanup: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  })();
  await Promise.race([all, sleep(STOP_TIMEOUT_MS + 2000)]);
  await sleep(200); // let the last frames (unPublishStream, leave, socket close) go out
  process.exit(code);
}

/** Fails the command: prints the error (`fields` go into the JSON line) and exits 1 after cleaning up. */
export async function fail(message: string, fields: Record<string, unknown> = {}): Promise<never> {
  if (!exiting) out.error(message, fields);
  return finish(1);
}

/** Calls `onStop` on the first SIGINT/SIGTERM; a second one exits 130 at once. */
export function onSignals(onStop: () => void): void {
  let count = 0;
  const handler = (signal: NodeJS.Signals): void => {
    if (++count > 1) process.exit(130); // second Ctrl-C: no more waiting
    out.debug(`${signal}: stopping`);
    onStop();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}

/** Keeps a command running: exits 0 after `duration` seconds, else waits for Ctrl-C or an ending elsewhere. */
export async function runFor(duration: number | undefined): Promise<never> {
  if (duration) {
    await sleep(duration * 1000);
    await finish(0);
  }
  return new Promise<never>(() => undefined);
}
