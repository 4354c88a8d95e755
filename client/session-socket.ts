/**
 * One WebSocket of a session (flashphoner-core.js createSession; docs/protocols.md "WCS WebSocket protocol"): opening it
 * (with the optional connection timeout), the text frames `{"message": name, "data": [arg]}` both ways, and
 * keep-alive (a client `ping` every `pingInterval`; the socket counts as failed after `receiveProbes` ×
 * `probesInterval` without any server message). Auto-restore opens a new one for every reconnection attempt.
 */
import type { Logger } from "./events.js";
import type { Platform } from "./platform.js";

/** A WCS frame as received: the message name and its arguments. */
export interface Frame {
  message: string;
  data: unknown[];
}

/** Connect timeout and keep-alive of a socket, in milliseconds (0 = off). */
export interface SocketTiming {
  timeout: number | undefined;
  pingInterval: number;
  receiveProbes: number;
  probesInterval: number;
}

/** What a socket reports to its session; nothing is reported once the socket is closed. */
export interface SocketEvents {
  open(): void;
  frame(frame: Frame): void;
  /** The WebSocket's error event, with its message when it has one. */
  error(message: string): void;
  close(code: number, reason: string): void;
  /** Could not be opened, still connecting after `timeout`, or no server message for `receiveProbes` intervals. */
  failed(): void;
}

/** A JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** @internal One signaling WebSocket and its timers. */
export class WcsSocket {
  readonly #timing: SocketTiming;
  readonly #logger: Logger;
  readonly #events: SocketEvents;
  #ws: WebSocket | undefined;
  #opened = false;
  #closed = false;
  #missedProbes = 0;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #intervals = new Set<ReturnType<typeof setInterval>>();

  /** Starts connecting at once. */
  constructor(platform: Platform, url: string, timing: SocketTiming, logger: Logger, events: SocketEvents) {
    this.#timing = timing;
    this.#logger = logger;
    this.#events = events;
    let ws: WebSocket;
    try {
      ws = new platform.WebSocket(url);
    } catch (e) {
      logger.warn(`cannot open ${url}`, e);
      this.#later(() => events.failed(), 0);
      return;
    }
    this.#ws = ws;
    const timeout = timing.timeout;
    if (timeout && timeout > 0) {
      this.#later(() => {
        if (this.#opened) return;
        logger.warn(`connection to ${url} timed out after ${timeout} ms`);
        events.failed();
      }, timeout);
    }
    ws.onopen = () => {
      this.#opened = true;
      events.open();
      if (!this.#closed) this.#startKeepAlive();
    };
    ws.onmessage = (ev: MessageEvent) => {
      this.#missedProbes = 0;
      if (typeof ev.data !== "string") return; // binary frames are for the non-WebRTC WSPlayer only
      let frame: Frame;
      try {
        const parsed: unknown = JSON.parse(ev.data);
        if (!isObject(parsed) || typeof parsed.message !== "string") throw new Error("not a WCS frame");
        frame = { message: parsed.message, data: Array.isArray(parsed.data) ? parsed.data : [] };
      } catch (e) {
        logger.warn("malformed frame from the server", e);
        return;
      }
      events.frame(frame);
    };
    ws.onerror = (ev: Event) => {
      const message = (ev as Event & { message?: unknown }).message;
      events.error(typeof message === "string" ? message : "WebSocket error");
    };
    ws.onclose = (ev: CloseEvent) => events.close(ev.code, ev.reason);
  }

  /** Sends `{"message": message, "data": [data]}`; false when the socket is not open. */
  send(message: string, data: unknown): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== 1 /* OPEN */) return false;
    ws.send(JSON.stringify({ message, data: [data] }));
    return true;
  }

  /** Stops the timers, detaches the handlers and closes the WebSocket. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    for (const t of this.#intervals) clearInterval(t);
    this.#timers.clear();
    this.#intervals.clear();
    const ws = this.#ws;
    this.#ws = undefined;
    if (!ws) return;
    // no-op handlers rather than null: `ws` (Node) throws on an 'error' event nobody listens to
    const noop = (): void => undefined;
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = noop;
    try {
      ws.close();
    } catch {
      // already closed
    }
  }

  #startKeepAlive(): void {
    const { pingInterval, receiveProbes: probes, probesInterval: probeMs } = this.#timing;
    if (pingInterval > 0) this.#every(() => this.send("ping", null), pingInterval);
    this.#missedProbes = 0;
    if (probes > 0 && probeMs > 0) {
      this.#every(() => {
        if (++this.#missedProbes >= probes) {
          this.#logger.warn(`no message from the server for ${probes} × ${probeMs} ms: connection considered lost`);
          this.#events.failed();
        }
      }, probeMs);
    }
  }

  #later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  #every(fn: () => void, ms: number): void {
    this.#intervals.add(setInterval(fn, ms));
  }
}
