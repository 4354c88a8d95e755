/**
 * Keyframe-request throttle: however many players ask for a keyframe (PLI/FIR, a new player's track opening), the
 * publisher gets at most one request per interval — a request inside the window is sent once when the window ends
 * (one trailing request for all of them). libwebrtc encoders answer every PLI with a full keyframe, so unthrottled
 * requests from N players would make the publisher send keyframes back to back. No WebRTC engine; timers only.
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
