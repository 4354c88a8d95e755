/**
 * Keyframe-request throttle: however many players ask for a keyframe (PLI/FIR, a new player's video track opening
 * without a usable GOP in the stream's cache, a resync), the publisher gets at most one request per interval. The
 * first request of a quiet period (the last one sent is at least `intervalMs` old) goes out at once; the requests that
 * follow within the window coalesce into one trailing request sent when the window ends, which opens the next
 * window. libwebrtc encoders answer every PLI with a full keyframe, so unthrottled requests from N players would make
 * the publisher send keyframes back to back. No WebRTC engine; timers only.
 */
export class KeyframeThrottle {
  /** Requests asked for, and requests sent to the publisher (the rest were coalesced into a sent one). */
  requested = 0;
  sent = 0;
  private last = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  /**
   * @param intervalMs shortest time between two requests sent, ms
   * @param send sends one keyframe request to the publisher
   * @param now clock in ms (default `performance.now`)
   */
  constructor(
    private readonly intervalMs: number,
    private readonly send: () => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Asks for a keyframe: sent now when the last one is `intervalMs` old, else once at the end of the window. */
  request(): void {
    if (this.closed) return;
    this.requested++;
    if (this.timer) return;
    const wait = this.last + this.intervalMs - this.now();
    if (wait <= 0) {
      this.fire();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fire();
    }, wait);
    this.timer.unref?.();
  }

  /** Drops a pending request; later requests are ignored. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    if (this.closed) return;
    this.last = this.now();
    this.sent++;
    this.send();
  }
}
