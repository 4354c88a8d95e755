/**
 * A small typed WCS WebSocket client (the `ws` package), behaving on the wire like Flashphoner Web SDK 2.0's session:
 * `connection` first, `pong` for every server `ping`, every frame `{message, data: [obj]}`. It keeps a log of every
 * received frame so tests can wait for frames that arrived before they started waiting. No WebRTC in here: bad-input
 * tests use it alone, and the wrtc child process uses it for its session.
 */
import os from "node:os";
import WebSocket from "ws";
import { ServerEnvelope, type ConnectionRequest } from "../../protocol/index.js";

/** One frame received from the server, as logged. */
export interface ReceivedFrame {
  /** Position in {@link WcsSocket.frames}. */
  seq: number;
  /** `Date.now()` at reception. */
  t: number;
  /** `message` of a valid envelope; "" for anything else (see `valid`). */
  message: string;
  /** `data` of a valid envelope; [] otherwise. */
  data: unknown[];
  /** The frame as received (binary frames: base64). */
  raw: string;
  binary: boolean;
  /** True when the frame is JSON of the shape `{message: string, data: unknown[]}`. */
  valid: boolean;
}

export interface SentFrame {
  t: number;
  text: string;
}

export interface SocketCloseInfo {
  code: number;
  reason: string;
  t: number;
}

export interface WcsOpenOptions {
  /** Rejects `open()` after this long (default 10,000 ms). */
  timeoutMs?: number;
  /** Answer server `ping` with `pong` (default true). Can be changed later with {@link WcsSocket.autoPong}. */
  autoPong?: boolean;
  headers?: Record<string, string>;
}

export interface WcsConnectOptions extends WcsOpenOptions {
  /** Default "defaultApp" (the Web SDK's default; the Room API uses "roomApp"). */
  appKey?: string;
  /** `options.custom` of Flashphoner.createSession (omitted when undefined, like the SDK). */
  custom?: unknown;
  authToken?: string;
  keepAlive?: boolean;
  /** Fields added to (or overriding) the `connection` object, e.g. SIP fields or a different clientVersion. */
  extra?: Record<string, unknown>;
}

/** The `connection` object exactly as Web SDK 2.0 builds it (core.js, wsConnection.onopen), Node flavoured. */
export function buildConnectionRequest(opts: WcsConnectOptions = {}): ConnectionRequest {
  const req: ConnectionRequest = {
    appKey: opts.appKey ?? "defaultApp",
    mediaProviders: ["WebRTC"],
    keepAlive: opts.keepAlive,
    authToken: opts.authToken,
    clientVersion: "2.0",
    clientOSVersion: `5.0 (${os.type()} ${os.arch()}; ${os.release()})`,
    clientBrowserVersion: `Mozilla/5.0 (${os.type()} ${os.arch()}) Node.js/${process.versions.node} wcs-test-client/1.0`,
    msePacketizationVersion: 2,
    custom: opts.custom,
  };
  return { ...req, ...opts.extra };
}

type FrameListener = (frame: ReceivedFrame) => void;

export class WcsSocket {
  /** Every frame received, in order. */
  readonly frames: ReceivedFrame[] = [];
  /** Every text frame sent, in order. */
  readonly sent: SentFrame[] = [];
  /** Answer server pings (default true). */
  autoPong: boolean;
  pingsReceived = 0;
  pongsSent = 0;
  /** `getUserData` object after {@link handshake}. */
  userData: Record<string, unknown> | undefined;
  /** Set once the socket has closed. */
  closeInfo: SocketCloseInfo | undefined;
  /** Resolves when the socket closes (never rejects). */
  readonly closed: Promise<SocketCloseInfo>;

  private readonly listeners = new Set<FrameListener>();
  private readonly closeListeners = new Set<(info: SocketCloseInfo) => void>();
  private resolveClosed!: (info: SocketCloseInfo) => void;
  lastError: Error | undefined;

  private constructor(
    readonly url: string,
    private readonly ws: WebSocket,
    autoPong: boolean,
  ) {
    this.autoPong = autoPong;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    ws.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    ws.on("error", (err) => {
      this.lastError = err;
    });
    ws.on("close", (code, reason) => {
      const info = { code, reason: reason.toString(), t: Date.now() };
      this.closeInfo = info;
      this.resolveClosed(info);
      for (const l of this.closeListeners) l(info);
    });
  }

  /** Opens a WebSocket without sending anything (for tests that craft their own first frame). */
  static open(url: string, opts: WcsOpenOptions = {}): Promise<WcsSocket> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: opts.headers, handshakeTimeout: timeoutMs });
      const sock = new WcsSocket(url, ws, opts.autoPong ?? true);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`WebSocket ${url}: not open after ${timeoutMs} ms`));
      }, timeoutMs);
      ws.once("open", () => {
        clearTimeout(timer);
        resolve(sock);
      });
      ws.once("close", (code, reason) => {
        clearTimeout(timer);
        reject(new Error(`WebSocket ${url}: closed before open (${code} ${reason.toString()}) ${sock.lastError?.message ?? ""}`));
      });
      ws.once("unexpected-response", (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`WebSocket ${url}: HTTP ${res.statusCode} instead of an upgrade`));
        ws.terminate();
      });
    });
  }

  /** Opens the socket and performs the Web SDK handshake (`connection` → `getUserData`). */
  static async connect(url: string, opts: WcsConnectOptions = {}): Promise<WcsSocket> {
    const sock = await WcsSocket.open(url, opts);
    try {
      await sock.handshake(opts, opts.timeoutMs ?? 10_000);
    } catch (e) {
      sock.terminate();
      throw e;
    }
    return sock;
  }

  /** Sends `connection` and waits for `getUserData`; returns (and stores) its object. */
  async handshake(opts: WcsConnectOptions = {}, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const from = this.frames.length;
    this.send("connection", buildConnectionRequest(opts));
    const f = await this.waitFor((fr) => fr.message === "getUserData", timeoutMs, { from });
    const obj = f.data[0];
    this.userData = obj && typeof obj === "object" ? (obj as Record<string, unknown>) : {};
    return this.userData;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends `{message, data: [obj]}` like the Web SDK's send() (undefined fields dropped by JSON.stringify). */
  send(message: string, obj: unknown): void {
    this.sendRaw(JSON.stringify({ message, data: [obj === undefined ? null : obj] }));
  }

  /** Sends any text (or, with a Buffer, a binary frame) as-is. Throws when the socket is not open. */
  sendRaw(payload: string | Buffer): void {
    if (this.ws.readyState !== WebSocket.OPEN) throw new Error(`WebSocket ${this.url} is not open`);
    if (typeof payload === "string") this.sent.push({ t: Date.now(), text: payload });
    this.ws.send(payload, { binary: typeof payload !== "string" });
  }

  /** Subscribes to future frames; returns the unsubscribe function. */
  onFrame(listener: FrameListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribes to the close event; returns the unsubscribe function. */
  onClose(listener: (info: SocketCloseInfo) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Received frames named `message` (in order). */
  framesNamed(message: string): ReceivedFrame[] {
    return this.frames.filter((f) => f.message === message);
  }

  /**
   * First received frame (past or future) matching `predicate`, considering frames from index `opts.from` (default 0).
   * Rejects on timeout, or as soon as the socket is closed with no match, listing the frames received.
   */
  waitFor(
    predicate: (frame: ReceivedFrame) => boolean,
    timeoutMs = 5_000,
    opts: { from?: number } = {},
  ): Promise<ReceivedFrame> {
    const from = opts.from ?? 0;
    for (let i = from; i < this.frames.length; i++) {
      const f = this.frames[i];
      if (f && predicate(f)) return Promise.resolve(f);
    }
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        offFrame();
        offClose();
      };
      const offFrame = this.onFrame((f) => {
        if (f.seq >= from && predicate(f)) {
          done();
          resolve(f);
        }
      });
      const fail = (why: string): void => {
        done();
        reject(new Error(`${this.url}: ${why}; received: ${this.describeFrames(from)}`));
      };
      const offClose = this.onClose((c) => fail(`socket closed (${c.code} ${c.reason}) before a matching frame`));
      const timer = setTimeout(() => fail(`no matching frame within ${timeoutMs} ms`), timeoutMs);
      if (this.closeInfo) fail(`socket already closed (${this.closeInfo.code} ${this.closeInfo.reason})`);
    });
  }

  /** Shorthand: first frame named `message` (optionally also matching `predicate`). */
  waitForMessage(message: string, timeoutMs = 5_000, predicate?: (f: ReceivedFrame) => boolean): Promise<ReceivedFrame> {
    return this.waitFor((f) => f.message === message && (!predicate || predicate(f)), timeoutMs);
  }

  /** Resolves with the close info, or rejects if still open after `timeoutMs`. */
  waitForClose(timeoutMs = 5_000): Promise<SocketCloseInfo> {
    if (this.closeInfo) return Promise.resolve(this.closeInfo);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${this.url}: still open after ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onClose((c) => {
        clearTimeout(timer);
        off();
        resolve(c);
      });
    });
  }

  /** Graceful close (close frame); resolves when closed, dropping the TCP connection after `graceMs`. */
  async close(code = 1000, reason = ""): Promise<SocketCloseInfo> {
    if (this.closeInfo) return this.closeInfo;
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    const timer = setTimeout(() => this.ws.terminate(), 2_000);
    const info = await this.closed;
    clearTimeout(timer);
    return info;
  }

  /** Abrupt drop: destroys the TCP connection without a close frame (the server sees 1006). */
  terminate(): void {
    this.ws.terminate();
  }

  /** One line per received frame (message names and a prefix of the raw text), for failure messages. */
  describeFrames(from = 0, maxChars = 2_000): string {
    const parts = this.frames.slice(from).map((f) => (f.valid ? f.message : `<${f.binary ? "binary" : "invalid"}> `) + (f.valid ? "" : f.raw.slice(0, 80)));
    const s = parts.length ? parts.join(", ") : "(nothing)";
    return s.length > maxChars ? s.slice(0, maxChars) + "…" : s;
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const frame: ReceivedFrame = {
      seq: this.frames.length,
      t: Date.now(),
      message: "",
      data: [],
      raw: isBinary ? buf.toString("base64") : buf.toString("utf8"),
      binary: isBinary,
      valid: false,
    };
    if (!isBinary) {
      try {
        const parsed = ServerEnvelope.safeParse(JSON.parse(frame.raw));
        if (parsed.success) {
          frame.message = parsed.data.message;
          frame.data = parsed.data.data;
          frame.valid = true;
        }
      } catch {
        // not JSON: logged as invalid
      }
    }
    this.frames.push(frame);
    if (frame.message === "ping") {
      this.pingsReceived++;
      if (this.autoPong && this.isOpen) {
        this.send("pong", null);
        this.pongsSent++;
      }
    }
    for (const l of [...this.listeners]) l(frame);
  }
}

/** Opens a WCS session like `Flashphoner.createSession({urlServer})`: resolves once `getUserData` arrived. */
export function connect(url: string, opts: WcsConnectOptions = {}): Promise<WcsSocket> {
  return WcsSocket.connect(url, opts);
}
