/**
 * media-node/engine/queue-delay.ts QueueDelayGuard: packets that waited in the callback queue beyond the bound are
 * flagged; network jitter within the bound, timestamp wrap and a lasting clock shift are not.
 */
import { describe, expect, it } from "vitest";
import { QueueDelayGuard } from "../../media-node/engine/queue-delay.js";

const VIDEO = 90_000;
/** 30 fps video: one frame every 3000 ticks / 33.3 ms. */
const FRAME_TICKS = 3000;
const FRAME_MS = 1000 / 30;

/** Feeds `frames` frames on time (plus `jitter(i)` ms) from timestamp `ts0` at wall time `t0`; returns late flags. */
function feed(g: QueueDelayGuard, ts0: number, t0: number, frames: number, jitter: (i: number) => number = () => 0): boolean[] {
  const out: boolean[] = [];
  for (let i = 0; i < frames; i++) out.push(g.late((ts0 + i * FRAME_TICKS) >>> 0, t0 + i * FRAME_MS + jitter(i)));
  return out;
}

describe("QueueDelayGuard", () => {
  it("passes media on time and with jitter inside the bound", () => {
    const g = new QueueDelayGuard(VIDEO, { maxDelayMs: 500 });
    const late = feed(g, 1000, 0, 600, (i) => (i % 7) * 40); // up to 240 ms of jitter
    expect(late.every((x) => !x)).toBe(true);
    expect(g.dropped).toBe(0);
  });

  it("flags a backlog drained after the loop was blocked, then forwards current packets", () => {
    const g = new QueueDelayGuard(VIDEO, { maxDelayMs: 500 });
    feed(g, 0, 0, 90); // 3 s on time
    // the loop blocks for 2 s: 60 frames queue up and are handled within 5 ms at t = 5000
    const blockedFrom = 90;
    const flags: boolean[] = [];
    for (let i = 0; i < 60; i++) flags.push(g.late((blockedFrom + i) * FRAME_TICKS, 5000 + i * 0.08));
    // a frame queued at t=3000+i*33 waited 2000-i*33 ms: those that waited over 500 ms are flagged
    const expectedLate = flags.map((_, i) => 5000 + i * 0.08 - (3000 + i * FRAME_MS) > 500);
    expect(flags).toEqual(expectedLate);
    expect(g.dropped).toBe(expectedLate.filter(Boolean).length);
    expect(g.inLateStreak).toBe(false);
    // afterwards media flows on time again
    expect(feed(g, 150 * FRAME_TICKS, 5000, 30).some((x) => x)).toBe(false);
  });

  it("handles the 32-bit timestamp wrap", () => {
    const g = new QueueDelayGuard(VIDEO, { maxDelayMs: 100 });
    const late = feed(g, 0xffffffff - 10 * FRAME_TICKS, 0, 40);
    expect(late.some((x) => x)).toBe(false);
  });

  it("takes a lasting shift (sender clock jumped back) as the new baseline after rebaseAfterMs", () => {
    const g = new QueueDelayGuard(VIDEO, { maxDelayMs: 200, rebaseAfterMs: 1000 });
    feed(g, 900_000, 0, 30);
    // timestamps jump back by 10 s while wall time runs on
    const late = feed(g, 900_000 + 30 * FRAME_TICKS - 10 * VIDEO, 1000, 90);
    const firstOk = late.indexOf(false);
    expect(firstOk).toBeGreaterThan(0);
    expect((firstOk - 1) * FRAME_MS).toBeGreaterThanOrEqual(1000 - FRAME_MS); // late for ~1 s, then passed
    expect(late.slice(firstOk).every((x) => !x)).toBe(true);
  });

  it("follows a slow clock drift through its sliding window", () => {
    // the sender's clock runs 0.1 % slow: 10 ms per 10 s of offset growth, 60 ms over a minute
    const g = new QueueDelayGuard(VIDEO, { maxDelayMs: 50, windowMs: 10_000 });
    const late = feed(g, 0, 0, 1800, (i) => i * FRAME_MS * 0.001);
    expect(late.some((x) => x)).toBe(false);
  });

  it("does nothing when disabled", () => {
    const g = new QueueDelayGuard(VIDEO, { maxDelayMs: 0 });
    expect(g.late(0, 0)).toBe(false);
    expect(g.late(0, 60_000)).toBe(false);
  });
});
