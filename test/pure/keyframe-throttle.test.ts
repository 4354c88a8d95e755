/**
 * KeyframeThrottle (media-node/engine/keyframe-throttle.ts): at most one keyframe request per interval; requests
 * inside the window become exactly one trailing request. Fake timers, with the throttle's clock on the faked
 * `performance.now()` (its default) or on an injected clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { KeyframeThrottle } from "../../media-node/engine/keyframe-throttle.js";

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance", "Date"] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("KeyframeThrottle", () => {
  it("sends the first request at once", () => {
    const send = vi.fn();
    new KeyframeThrottle(500, send).request();
    expect(send).toHaveBeenCalledTimes(1);
  });

  it("coalesces the requests of a window into one, sent when the window ends", () => {
    const send = vi.fn();
    const t = new KeyframeThrottle(500, send);
    t.request(); // t=0: sent
    vi.advanceTimersByTime(100);
    t.request(); // t=100: due at 500
    vi.advanceTimersByTime(200);
    t.request(); // t=300: already pending
    t.request();
    expect(send).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(199); // t=499
    expect(send).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1); // t=500
    expect(send).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(5000);
    expect(send).toHaveBeenCalledTimes(2);
    expect(vi.getTimerCount()).toBe(0);
    // the metrics' view: 4 asked, 2 sent (2 coalesced)
    expect({ requested: t.requested, sent: t.sent }).toEqual({ requested: 4, sent: 2 });
  });

  it("the trailing request starts a new window", () => {
    const send = vi.fn();
    const t = new KeyframeThrottle(500, send);
    t.request(); // 0
    vi.advanceTimersByTime(400);
    t.request(); // due at 500
    vi.advanceTimersByTime(100); // 500: trailing sent
    expect(send).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(300);
    t.request(); // 800: inside the window of the trailing request → due at 1000
    expect(send).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(200);
    expect(send).toHaveBeenCalledTimes(3);
  });

  it("a request after a quiet window is sent at once", () => {
    const send = vi.fn();
    const t = new KeyframeThrottle(500, send);
    t.request();
    vi.advanceTimersByTime(500);
    t.request();
    expect(send).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(10_000);
    t.request();
    expect(send).toHaveBeenCalledTimes(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("close() drops the pending request, and later ones are ignored", () => {
    const send = vi.fn();
    const t = new KeyframeThrottle(500, send);
    t.request();
    t.request(); // pending
    expect(vi.getTimerCount()).toBe(1);
    t.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    t.request();
    expect(send).toHaveBeenCalledTimes(1);
    t.close(); // idempotent
  });

  it("close() before anything was sent: nothing is ever sent", () => {
    const send = vi.fn();
    const t = new KeyframeThrottle(500, send);
    t.close();
    t.request();
    expect(send).not.toHaveBeenCalled();
  });

  it("uses the injected clock to decide (the timer only wakes it up)", () => {
    let now = 10_000;
    const send = vi.fn();
    const t = new KeyframeThrottle(1000, send, () => now);
    t.request(); // clock 10 000: sent
    now = 10_250;
    t.request(); // due in 750 ms of timer time
    expect(send).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(749);
    expect(send).toHaveBeenCalledTimes(1);
    now = 11_000;
    vi.advanceTimersByTime(1);
    expect(send).toHaveBeenCalledTimes(2);
    now = 11_999;
    t.request(); // 999 ms after the last one: 1 ms to wait
    vi.advanceTimersByTime(1);
    expect(send).toHaveBeenCalledTimes(3);
  });

  it("many players asking at once: one request per interval", () => {
    const send = vi.fn();
    const t = new KeyframeThrottle(500, send);
    for (let ms = 0; ms < 5000; ms += 10) {
      for (let p = 0; p < 20; p++) t.request();
      vi.advanceTimersByTime(10);
    }
    // sent at 0, 500, …, 4500, and the trailing one at 5000
    vi.advanceTimersByTime(1000);
    expect(send).toHaveBeenCalledTimes(11);
  });
});
