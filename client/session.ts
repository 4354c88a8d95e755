/**
 * A WCS session: one WebSocket to the server (the Web SDK's `Flashphoner.createSession()`), its status and events,
 * its streams, and reconnection.
 *
 * Wire behaviour, as Web SDK 2.0 (flashphoner-core.js createSession; docs/protocols.md "WCS WebSocket protocol"): on
 * open the client sends `connection` (appKey, mediaProviders, clientVersion "2.0", …, custom) and the server's
 * `getUserData` makes the session ESTABLISHED (the frames and keep-alive are in `session-socket.ts`, what each server
 * message does in `session-dispatch.ts`). A socket close is DISCONNECTED, a socket error FAILED, and either one fails
 * every stream of the session locally. Auto-restore (opt-in) is described in `restore.ts`.
 */
import type { ConnectionRequest } from "../protocol/wcs.js";
import type { SendDataRequest } from "../protocol/room.js";
import { ERROR_INFO, SESSION_STATUS, type SessionStatus } from "./constants.js";
import { Emitter, WcsError, consoleLogger, quiet, withTimeout, type Logger } from "./events.js";
import { IceServerSource, iceServersUrlOf, sessionToken } from "./ice-servers.js";
import { resolvePlatform, type Platform } from "./platform.js";
import { Retries, resolveRestorePolicy, type RestorePolicy } from "./restore.js";
import { DataRequests } from "./session-data.js";
import { dispatchFrame, type FrameHandlers } from "./session-dispatch.js";
import { WcsSocket, type SocketTiming } from "./session-socket.js";
import type { SessionEvents, SessionOptions, UserData } from "./session-types.js";
import { Stream } from "./stream.js";
import type { SessionLink, StreamExtras, StreamMessages } from "./stream-link.js";
import type { StreamOptions } from "./stream-types.js";

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
  readonly #retries: Retries | null;
  readonly #timing: SocketTiming;
  readonly #events: Emitter<SessionEvents>;
  readonly #id: string;
  readonly #streams = new Map<string, Stream>();
  readonly #awaiting = new Set<Stream>();
  readonly #data = new DataRequests();
  readonly #restoreHooks: Array<() => Promise<void>> = [];
  readonly #link: SessionLink;
  readonly #frameHandlers: FrameHandlers;
  /** The server's STUN / TURN servers; undefined when mediaOptions.iceServers are given or asking is off. */
  readonly #iceServers: IceServerSource | undefined;
  #socket: WcsSocket | undefined;
  #lastDisconnect: { code?: number; reason?: string; error?: string } | undefined;
  #status: SessionStatus = SESSION_STATUS.PENDING;
  #userData: UserData | undefined;
  #everEstablished = false;
  #manual = false;
  #reconnecting = false;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  /** @internal Use {@link createSession}. */
  constructor(options: SessionOptions) {
    if (!options || typeof options.urlServer !== "string" || !options.urlServer) {
      throw new TypeError("options.urlServer must be provided");
    }
    this.#opts = { ...options };
    this.#platform = resolvePlatform(options.platform);
    this.#logger = options.logger ?? consoleLogger;
    this.#restore = resolveRestorePolicy(options.autoRestore);
    this.#retries = this.#restore ? new Retries(this.#restore) : null;
    const restoreDefaults = this.#restore !== null;
    this.#timing = {
      timeout: options.timeout,
      pingInterval: options.pingInterval ?? 0,
      receiveProbes: options.receiveProbes ?? (restoreDefaults ? 10 : 0),
      probesInterval: options.probesInterval ?? (restoreDefaults ? 5000 : 0),
    };
    this.#events = new Emitter<SessionEvents>(this.#logger);
    this.#id = this.#platform.randomUUID();
    const iceUrl = options.iceServersUrl === false ? undefined : (options.iceServersUrl ?? iceServersUrlOf(options.urlServer));
    const fetchFn = this.#platform.fetch;
    this.#iceServers =
      options.mediaOptions?.iceServers === undefined && iceUrl !== undefined && fetchFn
        ? new IceServerSource(iceUrl, sessionToken(options.custom, options.urlServer), fetchFn, this.#logger)
        : undefined;
    this.#link = this.#makeLink();
    this.#frameHandlers = this.#makeFrameHandlers();
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
    const done = this.#data.add(operationId, this.#opts.sendDataTimeoutMs ?? 30_000);
    const request: SendDataRequest = { operationId, payload };
    this.#send("sendData", request);
    return done;
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
    this.#socket = new WcsSocket(this.#platform, this.#opts.urlServer, this.#timing, this.#logger, {
      open: () => {
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
      },
      frame: (frame) => dispatchFrame(frame, this.#frameHandlers),
      error: (error) => {
        this.#lastDisconnect = { ...this.#lastDisconnect, error };
        this.#lost(SESSION_STATUS.FAILED);
      },
      close: (code, reason) => {
        this.#lastDisconnect = { ...this.#lastDisconnect, code, reason };
        this.#lost(this.#status === SESSION_STATUS.FAILED ? SESSION_STATUS.FAILED : SESSION_STATUS.DISCONNECTED);
      },
      failed: () => this.#lost(SESSION_STATUS.FAILED),
    });
  }

  /** `getUserData`: ESTABLISHED; after a reconnection, the streams are restored. */
  #established(userData: UserData): void {
    this.#userData = userData;
    this.#everEstablished = true;
    const restored = this.#reconnecting;
    this.#reconnecting = false;
    this.#retries?.reset();
    this.#iceServers?.prefetch();
    this.#setStatus(SESSION_STATUS.ESTABLISHED, userData);
    if (restored) void this.#afterRestore();
  }

  /** The socket is gone (closed, failed, timed out, probes missed, or disconnect()). */
  #lost(status: "DISCONNECTED" | "FAILED"): void {
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
    this.#data.rejectAll(`Session ${status.toLowerCase()}`, ERROR_INFO.SESSION_DISCONNECTED);
    this.#setStatus(status);
    if (willRestore) this.#scheduleReconnect();
  }

  /** Closes the current socket, if any, and cancels a scheduled reconnection. */
  #closeSocket(): void {
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#socket?.close();
    this.#socket = undefined;
  }

  // ---------- auto-restore (restore.ts) ----------

  #scheduleReconnect(): void {
    const retries = this.#retries;
    if (!retries || this.#manual) return;
    const retry = retries.next();
    if (!retry) {
      this.#logger.warn(`gave up reconnecting to ${this.#opts.urlServer} after ${retries.policy.maxAttempts} attempts`);
      this.#reconnecting = false;
      for (const s of [...this.#awaiting]) s._giveUp();
      this.#setStatus(SESSION_STATUS.FAILED);
      return;
    }
    this.#events.emit(SESSION_STATUS.RESTORING, this, retry);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#reconnecting && !this.#manual) this.#connect();
    }, retry.delayMs);
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

  // ---------- status, streams ----------

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
    return this.#socket?.send(message, data) ?? false;
  }

  #createStream(options: StreamOptions, extras: StreamExtras): Stream {
    if (this.#status !== SESSION_STATUS.ESTABLISHED) throw new Error(`Invalid session state ${this.#status}`);
    return new Stream(this.#link, options, extras);
  }

  #makeFrameHandlers(): FrameHandlers {
    return {
      logger: this.#logger,
      pong: () => void this.#send("pong", null),
      established: (userData) => this.#established(userData),
      stream: (id) => this.#streams.get(id),
      dataStatus: (operationId, status, info) => this.#data.settle(operationId, status, info),
      appData: (data) => this.#events.emit(SESSION_STATUS.APP_DATA, data),
      warn: (fail) => this.#events.emit(SESSION_STATUS.WARN, fail),
    };
  }

  #makeLink(): SessionLink {
    return {
      platform: this.#platform,
      logger: this.#logger,
      restorePolicy: this.#restore,
      rtcConfiguration: () => {
        const withServers = (iceServers: RTCIceServer[]): RTCConfiguration => ({ ...this.#opts.mediaOptions, iceServers, bundlePolicy: "max-compat" });
        const servers = this.#iceServers?.current() ?? this.#opts.mediaOptions?.iceServers ?? [];
        return Array.isArray(servers) ? withServers(servers) : servers.then(withServers);
      },
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
}
