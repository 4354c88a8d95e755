/**
 * A WCS session: one WebSocket to the server (the Web SDK's `Flashphoner.createSession()`).
 *
 * Wire behaviour, as Web SDK 2.0 (flashphoner-core.js createSession; shared/reference/wcs-protocol.md §1.2–1.6):
 * frames are `{"message": name, "data": [arg]}`; on open the client sends `connection` (appKey, mediaProviders,
 * clientVersion "2.0", …, custom) and the server's `getUserData` makes the session ESTABLISHED; server `ping` is
 * answered with `pong`; `sendData {operationId, payload}` is settled by `DataStatusEvent` ACCEPTED/FAILED;
 * `OnDataEvent` is the APP_DATA event; `fail` is the WARN event (and a stream status when apiMethod is
 * StreamStatusEvent). A socket close is DISCONNECTED, a socket error FAILED, and either one fails every stream of the
 * session locally. Auto-restore (opt-in) is described in `restore.ts`.
 */
import type { ConnectionRequest } from "../protocol/wcs.js";
import type { SendDataRequest } from "../protocol/room.js";
import { TERMINAL_STATUSES, type FailEvent, type ServerMessages, type StreamStatusEvent } from "../protocol/wcs-types.js";
import { ERROR_INFO, SESSION_STATUS, type SessionStatus } from "./constants.js";
import { Emitter, WcsError, consoleLogger, quiet, withTimeout, type Logger } from "./events.js";
import { resolvePlatform, type Platform } from "./platform.js";
import { backoffDelay, resolveRestorePolicy, type AutoRestoreOptions, type RestorePolicy } from "./restore.js";
import { Stream, type SessionLink, type StreamExtras, type StreamMessages, type StreamOptions } from "./stream.js";

/** The `getUserData` object the server sends when the session is established (sessionId, authToken, …). */
export type UserData = ServerMessages["getUserData"][0];
/** The `OnDataEvent` object of the APP_DATA event (`payload` is what the server's app pushed). */
export type AppData = ServerMessages["OnDataEvent"][0];
/** The `fail` object of the WARN event. */
export type { FailEvent } from "../protocol/wcs-types.js";

/** Argument of the RESTORING event: which reconnection attempt is about to start, and after how long. */
export interface RestoreAttempt {
  /** 1 for the first attempt after a drop. */
  attempt: number;
  /** Milliseconds until the attempt opens its WebSocket. */
  delayMs: number;
}

/** Session event callbacks (`session.on(SESSION_STATUS.X, cb)`). */
export interface SessionEvents {
  CONNECTED: (session: Session) => void;
  ESTABLISHED: (session: Session, userData: UserData) => void;
  DISCONNECTED: (session: Session) => void;
  FAILED: (session: Session) => void;
  WARN: (fail: FailEvent) => void;
  APP_DATA: (data: AppData) => void;
  RESTORING: (session: Session, attempt: RestoreAttempt) => void;
}

/** Options of {@link createSession}. Times in milliseconds. */
export interface SessionOptions {
  /** `ws://host:port` or `wss://host` (any path is accepted by our server). Required. */
  urlServer: string;
  /** The server app (default "defaultApp"; the Room API uses "roomApp"). */
  appKey?: string;
  /** Any JSON, sent as `connection.custom` (the Room API puts `{login, token}` here). */
  custom?: unknown;
  /** Sent as `connection.authToken`. */
  authToken?: string;
  /** Sent as `connection.keepAlive`. */
  keepAlive?: boolean;
  /** RTCPeerConnection configuration of every stream (e.g. `{iceServers: [...]}`); `bundlePolicy` is always "max-compat". */
  mediaOptions?: RTCConfiguration;
  /** Connection timeout: a socket still connecting after this long is closed (FAILED). Default none. */
  timeout?: number;
  /** Send a client `ping` this often (default 0 = never). */
  pingInterval?: number;
  /** FAILED (and socket closed) after this many `probesInterval`s without any server message (default 0 = off; 10 with autoRestore). */
  receiveProbes?: number;
  /** See receiveProbes (default 0; 5000 with autoRestore). */
  probesInterval?: number;
  /** sendData rejects when no DataStatusEvent came within this time (default 30000; 0 = wait forever). */
  sendDataTimeoutMs?: number;
  /** Opt-in reconnection and stream restore; see the policy in `restore.ts` / {@link AutoRestoreOptions}. */
  autoRestore?: boolean | AutoRestoreOptions;
  /** Environment overrides (Node: `nodePlatform()` of the node entry). Defaults: browser globals. */
  platform?: Partial<Platform>;
  /** Where swallowed errors go (default: console warn/error). */
  logger?: Logger;
}

/** @internal Room API hooks: extra stream behaviour and work to do before streams are restored. */
interface SessionInternals {
  createStream(options: StreamOptions, extras: StreamExtras): Stream;
  addRestoreHook(hook: () => Promise<void>): void;
}
const internals = new WeakMap<Session, SessionInternals>();

/** @internal */
export function sessionInternals(session: Session): SessionInternals {
  const i = internals.get(session);
  if (!i) throw new Error("not a Session");
  return i;
}

interface PendingData {
  resolve(): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

type Frame = { message: string; data: unknown[] };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Creates a session and starts connecting at once (like `Flashphoner.createSession`). Add listeners right away
 * (`createSession(o).on(SESSION_STATUS.ESTABLISHED, …)`) or `await session.established()`.
 * @throws TypeError if `urlServer` is missing; Error if the platform lacks WebSocket/RTCPeerConnection/MediaStream.
 */
export function createSession(options: SessionOptions): Session {
  return new Session(options);
}

/** A session; see {@link createSession}. */
export class Session {
  readonly #opts: SessionOptions;
  readonly #platform: Platform;
  readonly #logger: Logger;
  readonly #restore: RestorePolicy | null;
  readonly #events: Emitter<SessionEvents>;
  readonly #id: string;
  readonly #streams = new Map<string, Stream>();
  readonly #awaiting = new Set<Stream>();
  readonly #pendingData = new Map<string, PendingData>();
  readonly #restoreHooks: Array<() => Promise<void>> = [];
  readonly #link: SessionLink;
  #ws: WebSocket | undefined;
  #lastDisconnect: { code?: number; reason?: string; error?: string } | undefined;
  #status: SessionStatus = SESSION_STATUS.PENDING;
  #userData: UserData | undefined;
  #everEstablished = false;
  #manual = false;
  #reconnecting = false;
  #attempt = 0;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #intervals = new Set<ReturnType<typeof setInterval>>();
  #missedProbes = 0;

  /** @internal Use {@link createSession}. */
  constructor(options: SessionOptions) {
    if (!options || typeof options.urlServer !== "string" || !options.urlServer) {
      throw new TypeError("options.urlServer must be provided");
    }
    this.#opts = { ...options };
    this.#platform = resolvePlatform(options.platform);
    this.#logger = options.logger ?? consoleLogger;
    this.#restore = resolveRestorePolicy(options.autoRestore);
    this.#events = new Emitter<SessionEvents>(this.#logger);
    this.#id = this.#platform.randomUUID();
    this.#link = this.#makeLink();
    internals.set(this, {
      createStream: (o, extras) => this.#createStream(o, extras),
      addRestoreHook: (hook) => this.#restoreHooks.push(hook),
    });
    this.#connect();
  }

  /** Client-side id of this session object (not the server's sessionId, which is in getUserData()). */
  id(): string {
    return this.#id;
  }
  /** The current status (a {@link SESSION_STATUS} value). */
  status(): SessionStatus {
    return this.#status;
  }
  /**
   * Why the WebSocket went away last (for DISCONNECTED/FAILED): the close `code`/`reason` (RFC 6455 §7.4; 4000 with
   * "Terminated by keep-alive" when the server stopped hearing pongs) and the `error` text when the socket errored.
   * Undefined while the first socket is up.
   */
  lastDisconnect(): { code?: number; reason?: string; error?: string } | undefined {
    return this.#lastDisconnect;
  }
  /** The server URL given at creation. */
  getServerUrl(): string {
    return this.#opts.urlServer;
  }
  /** The server's `getUserData` object of the current connection, once ESTABLISHED. */
  getUserData(): UserData | undefined {
    return this.#userData;
  }
  /** The streams of this session that have not ended (NEW, PENDING, PUBLISHING, PLAYING). */
  getStreams(): Stream[] {
    return [...new Set(this.#streams.values())];
  }
  /** The stream whose current id() is `id`. */
  getStream(id: string): Stream | undefined {
    return this.#streams.get(id);
  }
  /** true while auto-restore is reconnecting after a drop. */
  isRestoring(): boolean {
    return this.#reconnecting;
  }

  /** Adds an event listener; chainable like the Web SDK's `session.on(...)`. */
  on<E extends keyof SessionEvents>(event: E, callback: SessionEvents[E]): this {
    this.#events.on(event, callback);
    return this;
  }
  /** Removes a listener added with {@link Session.on}. */
  off<E extends keyof SessionEvents>(event: E, callback: SessionEvents[E]): this {
    this.#events.off(event, callback);
    return this;
  }

  /**
   * Resolves when the session is ESTABLISHED (at once if it is). Rejects with a {@link WcsError} when the session
   * ends first (DISCONNECTED/FAILED with no reconnection under way) or after `timeoutMs`.
   */
  established(timeoutMs?: number): Promise<this> {
    const p = new Promise<this>((resolve, reject) => {
      const check = (): boolean => {
        if (this.#status === SESSION_STATUS.ESTABLISHED) resolve(this);
        else if (this.#isDown() && !this.#reconnecting) reject(new WcsError(`Session ${this.#status}`, this.#status));
        else return false;
        this.off(SESSION_STATUS.ESTABLISHED, check);
        this.off(SESSION_STATUS.DISCONNECTED, check);
        this.off(SESSION_STATUS.FAILED, check);
        return true;
      };
      if (!check()) {
        this.on(SESSION_STATUS.ESTABLISHED, check);
        this.on(SESSION_STATUS.DISCONNECTED, check);
        this.on(SESSION_STATUS.FAILED, check);
      }
    });
    return quiet(withTimeout(p, timeoutMs, "the session to be established"));
  }

  /**
   * Creates a stream (then call `publish()` or `play()` on it).
   * @throws Error unless the session is ESTABLISHED; TypeError if `options.name` is missing.
   */
  createStream(options: StreamOptions): Stream {
    return this.#createStream(options, {});
  }

  /**
   * Sends `sendData {operationId, payload}` to the server's app. Resolves on `DataStatusEvent` ACCEPTED; rejects
   * with a {@link WcsError} whose `info` is the server's reason on FAILED, when the session drops, when it is not
   * ESTABLISHED, or after `sendDataTimeoutMs`.
   */
  sendData(payload: unknown): Promise<void> {
    if (this.#status !== SESSION_STATUS.ESTABLISHED) {
      return quiet(Promise.reject(new WcsError(`Invalid session state ${this.#status}`, this.#status)));
    }
    const operationId = this.#platform.randomUUID();
    return quiet(
      new Promise<void>((resolve, reject) => {
        const ms = this.#opts.sendDataTimeoutMs ?? 30_000;
        const timer =
          ms > 0
            ? setTimeout(() => {
                this.#pendingData.delete(operationId);
                reject(new WcsError(`No DataStatusEvent within ${ms} ms`));
              }, ms)
            : undefined;
        this.#pendingData.set(operationId, { resolve, reject, timer });
        const request: SendDataRequest = { operationId, payload };
        this.#send("sendData", request);
      }),
    );
  }

  /**
   * Closes the session: the WebSocket is closed, DISCONNECTED is emitted at once, every stream still held goes
   * FAILED locally (the server ends them on its side), pending sendData promises reject, auto-restore stops.
   */
  disconnect(): void {
    this.#manual = true;
    const wasReconnecting = this.#reconnecting;
    this.#reconnecting = false;
    if (wasReconnecting) {
      this.#clearTimers();
      this.#closeSocket();
      for (const s of [...this.#awaiting]) s._giveUp();
      this.#setStatus(SESSION_STATUS.DISCONNECTED);
      return;
    }
    if (this.#isDown()) return;
    this.#lost(SESSION_STATUS.DISCONNECTED);
  }

  // ---------- connection ----------

  #connect(): void {
    this.#status = SESSION_STATUS.PENDING;
    this.#userData = undefined;
    let ws: WebSocket;
    try {
      ws = new this.#platform.WebSocket(this.#opts.urlServer);
    } catch (e) {
      this.#logger.warn(`cannot open ${this.#opts.urlServer}`, e);
      this.#later(() => this.#lost(SESSION_STATUS.FAILED), 0);
      return;
    }
    this.#ws = ws;
    const timeout = this.#opts.timeout;
    if (timeout && timeout > 0) {
      this.#later(() => {
        if (this.#ws === ws && this.#status === SESSION_STATUS.PENDING) {
          this.#logger.warn(`connection to ${this.#opts.urlServer} timed out after ${timeout} ms`);
          this.#lost(SESSION_STATUS.FAILED);
        }
      }, timeout);
    }
    ws.onopen = () => {
      if (this.#ws !== ws) return;
      this.#setStatus(SESSION_STATUS.CONNECTED);
      const connection: ConnectionRequest = {
        appKey: this.#opts.appKey || "defaultApp",
        mediaProviders: ["WebRTC"],
        keepAlive: this.#opts.keepAlive,
        authToken: this.#opts.authToken,
        clientVersion: "2.0",
        clientOSVersion: this.#platform.clientInfo.osVersion,
        clientBrowserVersion: this.#platform.clientInfo.browserVersion,
        msePacketizationVersion: 2,
        custom: this.#opts.custom,
      };
      this.#send("connection", connection);
      this.#startKeepAlive(ws);
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.#ws !== ws) return;
      this.#missedProbes = 0;
      if (typeof ev.data !== "string") return; // binary frames are for the non-WebRTC WSPlayer only
      let frame: Frame;
      try {
        const parsed: unknown = JSON.parse(ev.data);
        if (!isObject(parsed) || typeof parsed.message !== "string") throw new Error("not a WCS frame");
        frame = { message: parsed.message, data: Array.isArray(parsed.data) ? parsed.data : [] };
      } catch (e) {
        this.#logger.warn("malformed frame from the server", e);
        return;
      }
      this.#handle(frame);
    };
    ws.onerror = (ev: Event) => {
      if (this.#ws !== ws) return;
      const message = (ev as Event & { message?: unknown }).message;
      this.#lastDisconnect = { ...this.#lastDisconnect, error: typeof message === "string" ? message : "WebSocket error" };
      this.#lost(SESSION_STATUS.FAILED);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.#ws !== ws) return;
      this.#lastDisconnect = { ...this.#lastDisconnect, code: ev.code, reason: ev.reason };
      this.#lost(this.#status === SESSION_STATUS.FAILED ? SESSION_STATUS.FAILED : SESSION_STATUS.DISCONNECTED);
    };
  }

  #startKeepAlive(ws: WebSocket): void {
    const restoreDefaults = this.#restore !== null;
    const pingInterval = this.#opts.pingInterval ?? 0;
    if (pingInterval > 0) this.#every(() => this.#ws === ws && this.#send("ping", null), pingInterval);
    const probes = this.#opts.receiveProbes ?? (restoreDefaults ? 10 : 0);
    const probeMs = this.#opts.probesInterval ?? (restoreDefaults ? 5000 : 0);
    this.#missedProbes = 0;
    if (probes > 0 && probeMs > 0) {
      this.#every(() => {
        if (this.#ws !== ws) return;
        if (++this.#missedProbes >= probes) {
          this.#logger.warn(`no message from the server for ${probes} × ${probeMs} ms: connection considered lost`);
          this.#lost(SESSION_STATUS.FAILED);
        }
      }, probeMs);
    }
  }

  #handle({ message, data }: Frame): void {
    const obj = data[0];
    switch (message) {
      case "ping":
        this.#send("pong", null);
        return;
      case "getUserData": {
        this.#userData = isObject(obj) ? obj : {};
        this.#everEstablished = true;
        const restored = this.#reconnecting;
        this.#reconnecting = false;
        this.#attempt = 0;
        this.#setStatus(SESSION_STATUS.ESTABLISHED, this.#userData);
        if (restored) void this.#afterRestore();
        return;
      }
      case "setRemoteSDP": {
        const [id, sdp] = data;
        if (typeof id === "string" && typeof sdp === "string") this.#streams.get(id)?._applyAnswer(sdp);
        return;
      }
      case "notifyStreamStatusEvent":
      case "notifyVideoFormat":
        if (isObject(obj) && typeof obj.mediaSessionId === "string" && typeof obj.status === "string") {
          this.#streams.get(obj.mediaSessionId)?._serverStatus(obj as Partial<StreamStatusEvent> & { status: string });
        }
        return;
      case "DataStatusEvent": {
        if (!isObject(obj) || typeof obj.operationId !== "string") return;
        const pending = this.#pendingData.get(obj.operationId);
        if (!pending) return;
        this.#pendingData.delete(obj.operationId);
        if (pending.timer) clearTimeout(pending.timer);
        const info = typeof obj.info === "string" ? obj.info : undefined;
        if (obj.status === "ACCEPTED") pending.resolve();
        else pending.reject(new WcsError(info ?? `sendData ${String(obj.status)}`, info));
        return;
      }
      case "OnDataEvent":
        if (isObject(obj)) this.#events.emit(SESSION_STATUS.APP_DATA, obj as AppData);
        return;
      case "fail": {
        if (!isObject(obj)) return;
        const fail = obj as unknown as FailEvent;
        if (fail.apiMethod === "StreamStatusEvent" && typeof fail.id === "string") {
          this.#streams.get(fail.id)?._serverStatus({ ...fail, status: fail.status ?? "FAILED" });
        }
        this.#events.emit(SESSION_STATUS.WARN, fail);
        return;
      }
      default:
        // getVersion, notifyStreamEvent, rate reports, …: nothing the SDK acts on
        this.#logger.debug(`server message ${message} ignored`);
    }
  }

  /** The socket is gone (closed, failed, timed out, probes missed, or disconnect()). */
  #lost(status: "DISCONNECTED" | "FAILED"): void {
    this.#clearTimers();
    this.#closeSocket();
    const willRestore = this.#restore !== null && !this.#manual && this.#everEstablished;
    if (this.#reconnecting) {
      // a reconnection attempt failed: try again (silently) or give up
      this.#status = status;
      this.#scheduleReconnect();
      return;
    }
    // the session is down before the streams hear of it (a stream must not restart on this dead socket)
    this.#status = status;
    this.#reconnecting = willRestore;
    for (const stream of this.getStreams()) stream._sessionLost(willRestore);
    for (const [id, pending] of this.#pendingData) {
      if (pending.timer) clearTimeout(pending.timer);
      pending.reject(new WcsError(`Session ${status.toLowerCase()}`, ERROR_INFO.SESSION_DISCONNECTED));
      this.#pendingData.delete(id);
    }
    this.#setStatus(status);
    if (willRestore) this.#scheduleReconnect();
  }

  /** Detaches and closes the current socket, if any. */
  #closeSocket(): void {
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

  #scheduleReconnect(): void {
    const policy = this.#restore;
    if (!policy || this.#manual) return;
    const attempt = ++this.#attempt;
    if (attempt > policy.maxAttempts) {
      this.#logger.warn(`gave up reconnecting to ${this.#opts.urlServer} after ${policy.maxAttempts} attempts`);
      this.#reconnecting = false;
      for (const s of [...this.#awaiting]) s._giveUp();
      this.#setStatus(SESSION_STATUS.FAILED);
      return;
    }
    const delayMs = backoffDelay(policy, attempt);
    this.#events.emit(SESSION_STATUS.RESTORING, this, { attempt, delayMs });
    this.#later(() => {
      if (this.#reconnecting && !this.#manual) this.#connect();
    }, delayMs);
  }

  /** ESTABLISHED after a drop: run the Room API hooks (re-join), then restart the streams waiting for the session. */
  async #afterRestore(): Promise<void> {
    for (const hook of this.#restoreHooks) {
      try {
        await hook();
      } catch (e) {
        this.#logger.warn("restore hook failed", e);
      }
    }
    if (this.#status !== SESSION_STATUS.ESTABLISHED) return; // dropped again meanwhile: they keep waiting
    for (const stream of [...this.#awaiting]) {
      this.#awaiting.delete(stream);
      stream._resume();
    }
  }

  #setStatus(status: SessionStatus, userData?: UserData): void {
    this.#status = status;
    switch (status) {
      case SESSION_STATUS.CONNECTED:
        this.#events.emit(SESSION_STATUS.CONNECTED, this);
        break;
      case SESSION_STATUS.ESTABLISHED:
        this.#events.emit(SESSION_STATUS.ESTABLISHED, this, userData ?? {});
        break;
      case SESSION_STATUS.DISCONNECTED:
        this.#events.emit(SESSION_STATUS.DISCONNECTED, this);
        break;
      case SESSION_STATUS.FAILED:
        this.#events.emit(SESSION_STATUS.FAILED, this);
        break;
      default:
    }
  }

  #isDown(): boolean {
    return this.#status === SESSION_STATUS.DISCONNECTED || this.#status === SESSION_STATUS.FAILED;
  }

  #send(message: string, data: unknown): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== 1 /* OPEN */) return false;
    ws.send(JSON.stringify({ message, data: [data] }));
    return true;
  }

  #createStream(options: StreamOptions, extras: StreamExtras): Stream {
    if (this.#status !== SESSION_STATUS.ESTABLISHED) throw new Error(`Invalid session state ${this.#status}`);
    return new Stream(this.#link, options, extras);
  }

  #makeLink(): SessionLink {
    return {
      platform: this.#platform,
      logger: this.#logger,
      restorePolicy: this.#restore,
      rtcConfiguration: () => ({
        ...this.#opts.mediaOptions,
        iceServers: this.#opts.mediaOptions?.iceServers ?? [],
        bundlePolicy: "max-compat",
      }),
      status: () => this.#status,
      send: <M extends keyof StreamMessages>(message: M, data: StreamMessages[M]) => this.#send(message, data),
      register: (id, stream) => void this.#streams.set(id, stream),
      unregister: (id, stream) => {
        if (this.#streams.get(id) === stream) this.#streams.delete(id);
      },
      awaitSession: (stream) => {
        if (this.#status === SESSION_STATUS.ESTABLISHED && !this.#reconnecting) stream._resume();
        else if (this.#reconnecting) this.#awaiting.add(stream);
        else stream._giveUp(); // the session is down for good
      },
      forgetAwaiting: (stream) => void this.#awaiting.delete(stream),
    };
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

  #clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    for (const t of this.#intervals) clearInterval(t);
    this.#timers.clear();
    this.#intervals.clear();
  }
}
