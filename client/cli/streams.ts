/** Streams in the CLI: status events, waiting for a stream to go live, stopping it, and its failure messages. */
import { STREAM_STATUS, WcsError, type Stream } from "../node.js";
import { fail, STOP_TIMEOUT_MS } from "./lifecycle.js";
import { out } from "./output.js";

/** How long a stream may take to become PUBLISHING/PLAYING (ms). */
export const ACTIVE_TIMEOUT_MS = 30_000;

/** Reports every status of `stream` as a `status` event (`role` "publish" or "play"; `extra` goes into the JSON). */
export function reportStatuses(stream: Stream, role: string, extra: Record<string, unknown> = {}): void {
  for (const st of [STREAM_STATUS.PENDING, STREAM_STATUS.PUBLISHING, STREAM_STATUS.PLAYING, STREAM_STATUS.UNPUBLISHED, STREAM_STATUS.STOPPED, STREAM_STATUS.FAILED] as const) {
    stream.on(st, (s) => {
      const info = s.getInfo();
      const detail = s.getErrorInfo();
      out.event(
        "status",
        { role, name: s.name(), status: st, ...(info ? { info } : {}), ...(detail ? { detail } : {}), ...extra },
        `${role} ${s.name()}: ${st}${info ? ` (${info}${detail ? `: ${detail}` : ""})` : ""}`,
      );
    });
  }
}

/** Waits until `stream` is PUBLISHING/PLAYING; fails the command (exit 1, the server's info) when it does not. */
export async function activeOrFail(stream: Stream): Promise<void> {
  try {
    await stream.active(ACTIVE_TIMEOUT_MS);
  } catch (e) {
    return fail(streamFailure(stream, e), { name: stream.name(), info: stream.getInfo() ?? null });
  }
}

/** Stops a stream and waits (bounded) for its final status. */
export async function stopStream(stream: Stream): Promise<void> {
  stream.stop();
  await stream.ended(STOP_TIMEOUT_MS).catch(() => undefined);
}

/** "publish NAME failed: INFO (DETAIL)" for a stream that did not go live (`e`: what active() rejected with). */
export function streamFailure(stream: Stream, e: unknown): string {
  const info = stream.getInfo() ?? (e instanceof WcsError ? e.info : undefined);
  const detail = stream.getErrorInfo();
  const base = info ?? (e instanceof Error ? e.message : String(e));
  return `${stream.published() ? "publish" : "play"} ${stream.name()} failed: ${base}${detail ? ` (${detail})` : ""}`;
}

/** "stream NAME ended: STATUS (INFO)" for a stream that ended while the command ran. */
export function streamEnded(stream: Stream, status: string): string {
  const info = stream.getInfo();
  return `stream ${stream.name()} ended: ${status}${info ? ` (${info})` : ""}`;
}
