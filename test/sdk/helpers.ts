/** Shared setup of the SDK unit tests. */
import { createSession, SESSION_STATUS, STREAM_STATUS, type Session, type SessionOptions, type Stream } from "../../client/index.js";
import type { Logger } from "../../client/index.js";
import { fakePlatform } from "./fake-rtc.js";
import type { FakeWcsServer } from "./fake-server.js";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger that keeps warnings/errors for assertions instead of printing them. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: () => undefined,
    warn: (m) => void lines.push(`warn: ${m}`),
    error: (m) => void lines.push(`error: ${m}`),
  };
}

/** A session on the fake server with the fake platform; every session event is recorded in `events`. */
export function session(server: FakeWcsServer, opts: Partial<SessionOptions> = {}): { s: Session; events: string[] } {
  const events: string[] = [];
  const s = createSession({ urlServer: server.url, logger: memoryLogger(), ...opts, platform: { ...fakePlatform(), ...opts.platform } });
  for (const e of [SESSION_STATUS.CONNECTED, SESSION_STATUS.ESTABLISHED, SESSION_STATUS.DISCONNECTED, SESSION_STATUS.FAILED] as const) {
    s.on(e, () => events.push(e));
  }
  s.on(SESSION_STATUS.RESTORING, (_s, a) => events.push(`RESTORING#${a.attempt}`));
  return { s, events };
}

/** Records every status event of a stream as "STATUS" or "STATUS:info". */
export function statuses(stream: Stream): string[] {
  const out: string[] = [];
  for (const st of [
    STREAM_STATUS.PENDING,
    STREAM_STATUS.PUBLISHING,
    STREAM_STATUS.PLAYING,
    STREAM_STATUS.UNPUBLISHED,
    STREAM_STATUS.STOPPED,
    STREAM_STATUS.FAILED,
  ] as const) {
    stream.on(st, (s) => out.push(st === STREAM_STATUS.FAILED && s.getInfo() ? `${st}:${s.getInfo()}` : st));
  }
  return out;
}

/** Polls `fn` until it returns true (every 5 ms, up to `timeoutMs`). */
export async function until(fn: () => boolean, timeoutMs = 2000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
