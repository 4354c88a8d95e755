/**
 * A published or played stream (the Web SDK's `Stream`, created by `session.createStream()`).
 *
 * Wire behaviour, as Web SDK 2.0 (flashphoner-core.js createStream/publish/play/stop, webrtc-media-provider.js):
 * - one RTCPeerConnection per publish/play: `{iceServers: [] (unless given in mediaOptions), bundlePolicy:
 *   "max-compat"}`;
 * - the client always offers: publish = local tracks with sendonly m-lines, play = recvonly audio + video;
 * - the offer goes out in `publishStream`/`playStream` right after setLocalDescription, before ICE gathering: no
 *   candidates, no trickle (the server finds the client by its STUN checks);
 * - the answer arrives in `setRemoteSDP` [mediaSessionId, sdp] and is applied with setRemoteDescription;
 * - statuses arrive in `notifyStreamStatusEvent` (or `fail` with apiMethod StreamStatusEvent) keyed by
 *   `mediaSessionId` (= `stream.id()`); UNPUBLISHED / STOPPED / FAILED release the stream (peer connection closed)
 *   and every later message for that id is ignored;
 * - `stop()`: NEW → FAILED locally; PENDING → retried every 200 ms until the server moves the stream out of PENDING;
 *   FAILED → nothing; otherwise `unPublishStream`/`stopStream` is sent and the peer connection closed at once, the
 *   final UNPUBLISHED/STOPPED coming from the server.
 * See shared/reference/wcs-protocol.md §1.5–1.7 and §2.2.
 */
import type { StreamRequest, StreamStopRequest } from "../protocol/wcs.js";
import { StreamStatus, TERMINAL_STATUSES, type StreamStatusEvent } from "../protocol/wcs-types.js";
import { ERROR_INFO, type SessionStatus } from "./constants.js";
import { attachVideo, detachVideo } from "./display.js";
import { Emitter, WcsError, quiet, withTimeout, type Logger } from "./events.js";
import type { Platform } from "./platform.js";
import { backoffDelay, type RestorePolicy } from "./restore.js";

/** Video constraints: the browser's MediaTrackConstraints plus the WCS bitrate/quality fields. */
export interface VideoConstraints extends MediaTrackConstraints {
  /** Lowest publishing bitrate, kbps (sent as `minBitrate`). */
  minBitrate?: number;
  /** Highest publishing bitrate, kbps (sent as `maxBitrate`). */
  maxBitrate?: number;
  /** Deprecated WCS field, kbps (sent as `bitrate`). */
  bitrate?: number;
  /** Playback quality 0..100 (sent as `quality` by players). */
  quality?: number;
}

/** Media constraints of a stream (Web SDK `options.constraints`). Default `{audio: true, video: true}`. */
export interface StreamConstraints {
  audio?: boolean | MediaTrackConstraints;
  video?: boolean | VideoConstraints;
}

/** Options of `session.createStream()`. */
export interface StreamOptions {
  /** Stream name (required, non-empty). */
  name: string;
  /**
   * Browser only: an element that gets a <video> for the stream (a publisher's muted local preview, a player's remote
   * media); a <video> element is used as is. Ignored where the platform has no document (Node).
   */
  display?: HTMLElement;
  /** getUserMedia constraints and WCS bitrate/size/quality fields. */
  constraints?: StreamConstraints;
  /** Publish this MediaStream instead of calling getUserMedia (canvas, screen, Node synthetic media). Never stopped by the SDK. */
  stream?: MediaStream;
  /** Any JSON, sent as the stream's `custom` (room streams: `{name: room}`). */
  custom?: unknown;
  /** Ask the server to record (sent as `record`; our server does not record). */
  record?: boolean;
  /** Players: receive audio (default true). */
  receiveAudio?: boolean;
  /** Players: receive video (default true). */
  receiveVideo?: boolean;
  /** Rewrites the server's answer SDP before it is applied (Web SDK `sdpHook`). */
  sdpHook?: (sdp: string) => string;
  /** Set false to exclude this stream from the session's auto-restore. */
  autoRestore?: boolean;
}

/** Stream event callbacks: one per status except NEW, each called with the stream. */
export type StreamEvents = { [S in Exclude<StreamStatus, "NEW">]: (stream: Stream) => void };

/** Mute state the server reports (`audioState` / `videoState` of notifyStreamStatusEvent). */
export interface MuteState {
  muted: boolean;
}

/** Client → server messages a stream sends, with their argument. */
export interface StreamMessages {
  publishStream: StreamRequest;
  playStream: StreamRequest;
  unPublishStream: StreamStopRequest;
  stopStream: StreamStopRequest;
}

/**
 * @internal What a stream needs from its session (not part of the public API).
 */
export interface SessionLink {
  readonly platform: Platform;
  readonly logger: Logger;
  readonly restorePolicy: RestorePolicy | null;
  rtcConfiguration(): RTCConfiguration;
  status(): SessionStatus;
  send<M extends keyof StreamMessages>(message: M, data: StreamMessages[M]): boolean;
  register(id: string, stream: Stream): void;
  unregister(id: string, stream: Stream): void;
  /** Puts the stream on the list restored when the session is ESTABLISHED again (or restores it now if it is). */
  awaitSession(stream: Stream): void;
  forgetAwaiting(stream: Stream): void;
}

/** @internal Extra behaviour of streams created by the Room API. */
export interface StreamExtras {
  /** Evaluated before each restore attempt: false ends the stream instead (e.g. the participant stopped publishing). */
  restoreIf?: () => boolean;
}

const ACTIVE: ReadonlySet<StreamStatus> = new Set([StreamStatus.PUBLISHING, StreamStatus.PLAYING]);
const SERVER_STATUSES: ReadonlySet<string> = new Set([
  StreamStatus.PENDING,
  StreamStatus.PUBLISHING,
  StreamStatus.PLAYING,
  StreamStatus.UNPUBLISHED,
  StreamStatus.STOPPED,
  StreamStatus.FAILED,
]);
/** Web SDK: stop() in PENDING is retried this often until the server moves the stream out of PENDING. */
export const STOP_RETRY_MS = 200;

type Kind = "publish" | "play";

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/**
 * A stream of a {@link Session}: create with `session.createStream(options)`, then `publish()` or `play()` once.
 * Events: `stream.on(STREAM_STATUS.X, (stream) => …)`. Promise helpers: {@link Stream.active}, {@link Stream.ended}.
 */
export class Stream {
  readonly #link: SessionLink;
  readonly #opts: StreamOptions;
  readonly #extras: StreamExtras;
  readonly #events: Emitter<StreamEvents>;
  #id: string;
  #kind: Kind | undefined;
  #status: StreamStatus = StreamStatus.NEW;
  #info: string | undefined;
  #errorInfo: string | undefined;
  #audioState: MuteState | undefined;
  #videoState: MuteState | undefined;
  #pc: RTCPeerConnection | undefined;
  #local: MediaStream | undefined;
  #captured: MediaStream | undefined;
  #remote: MediaStream | undefined;
  #video: HTMLVideoElement | undefined;
  #stopRequested = false;
  #stopTimer: ReturnType<typeof setTimeout> | undefined;
  #wasActive = false;
  #restoring = false;
  #restoreAttempt = 0;
  #restoreTimer: ReturnType<typeof setTimeout> | undefined;
  #waiters: Array<() => boolean> = [];

  /** @internal Use `session.createStream()`. */
  constructor(link: SessionLink, options: StreamOptions, extras: StreamExtras = {}) {
    if (!options || typeof options !== "object") throw new TypeError("options must be provided");
    if (typeof options.name !== "string" || !options.name) throw new TypeError("options.name must be provided");
    this.#link = link;
    this.#opts = { ...options };
    this.#extras = extras;
    this.#events = new Emitter<StreamEvents>(link.logger);
    this.#id = link.platform.randomUUID();
    link.register(this.#id, this);
  }

  /** The stream's `mediaSessionId` on the wire. Changes when auto-restore restarts the stream. */
  id(): string {
    return this.#id;
  }
  /** The stream name. */
  name(): string {
    return this.#opts.name;
  }
  /** The current status (a {@link STREAM_STATUS} value). */
  status(): StreamStatus {
    return this.#status;
  }
  /** Same as {@link Stream.status}. */
  getStatus(): StreamStatus {
    return this.#status;
  }
  /** The last `info` reason from the server (e.g. "Stream not found"), or an {@link ERROR_INFO} value. */
  getInfo(): string | undefined {
    return this.#info;
  }
  /** The local error message behind {@link ERROR_INFO}.LOCAL_ERROR (e.g. the getUserMedia error). */
  getErrorInfo(): string | undefined {
    return this.#errorInfo;
  }
  /** true for a publisher, false for a player (and before publish()/play()). */
  published(): boolean {
    return this.#kind === "publish";
  }
  /** The mute state the server last reported for audio, if any. */
  getAudioState(): MuteState | undefined {
    return this.#audioState;
  }
  /** The mute state the server last reported for video, if any. */
  getVideoState(): MuteState | undefined {
    return this.#videoState;
  }
  /** Publishers: the published MediaStream (the app's `stream` or the captured one). */
  getLocalMediaStream(): MediaStream | undefined {
    return this.#local;
  }
  /** Players: the received MediaStream (audio + video tracks of the peer connection's receivers). */
  getRemoteMediaStream(): MediaStream | undefined {
    return this.#remote;
  }
  /** The <video> element created in `display`, if any (browser only). */
  getVideoElement(): HTMLVideoElement | undefined {
    return this.#video;
  }
  /** The current peer connection (undefined before the offer and after release). */
  getPeerConnection(): RTCPeerConnection | undefined {
    return this.#pc;
  }
  /** WebRTC statistics of the current peer connection. @throws WcsError when there is none. */
  async getStats(): Promise<RTCStatsReport> {
    if (!this.#pc) throw new WcsError(`Stream ${this.name()} has no peer connection`);
    return this.#pc.getStats();
  }
  /** true while auto-restore has scheduled a restart of this FAILED stream. */
  isRestoring(): boolean {
    return this.#restoring;
  }

  /** Adds a status listener; chainable like the Web SDK's `stream.on(...)`. */
  on<E extends keyof StreamEvents>(event: E, callback: StreamEvents[E]): this {
    this.#events.on(event, callback);
    return this;
  }
  /** Removes a listener added with {@link Stream.on}. */
  off<E extends keyof StreamEvents>(event: E, callback: StreamEvents[E]): this {
    this.#events.off(event, callback);
    return this;
  }

  /**
   * Publishes the stream: getUserMedia (unless `stream` was given), offer with sendonly m-lines, `publishStream`.
   * `status()` is PENDING at once (the PENDING event follows in a microtask); PUBLISHING when the server reports the
   * media flowing; FAILED with getInfo() otherwise ("Local error" + getErrorInfo() when local media or WebRTC failed).
   * @throws Error if the stream is not NEW.
   */
  publish(): this {
    this.#begin("publish");
    return this;
  }

  /**
   * Plays the stream: offer with recvonly audio + video, `playStream`. PENDING at once (event in a microtask), then
   * PLAYING, or FAILED with getInfo() (e.g. "Stream not found").
   * @throws Error if the stream is not NEW.
   */
  play(): this {
    this.#begin("play");
    return this;
  }

  /**
   * Stops publishing/playing, as the Web SDK: NEW → FAILED locally; PENDING → retried every 200 ms until the server
   * answers; FAILED → nothing; PUBLISHING/PLAYING → `unPublishStream`/`stopStream` is sent and the peer connection
   * closed; the server then reports UNPUBLISHED/STOPPED. Also cancels a scheduled auto-restore.
   */
  stop(): void {
    this.#stopRequested = true;
    if (this.#restoring) {
      this.#endRestore();
      return;
    }
    switch (this.#status) {
      case StreamStatus.NEW:
        this.#setStatus(StreamStatus.FAILED);
        return;
      case StreamStatus.PENDING:
        if (this.#stopTimer === undefined) {
          this.#stopTimer = setTimeout(() => {
            this.#stopTimer = undefined;
            this.stop();
          }, STOP_RETRY_MS);
        }
        return;
      case StreamStatus.FAILED:
      case StreamStatus.UNPUBLISHED:
      case StreamStatus.STOPPED:
        return;
      default: {
        const published = this.#kind === "publish";
        this.#link.send(published ? "unPublishStream" : "stopStream", {
          mediaSessionId: this.#id,
          name: this.name(),
          published,
          hasVideo: true,
          hasAudio: true,
          status: this.#status,
          record: false,
        });
        this.#closeMedia();
      }
    }
  }

  /**
   * Resolves when the stream is PUBLISHING or PLAYING. Rejects with a {@link WcsError} (`info` = getInfo()) when it
   * ends first (with auto-restore, only once no restart is scheduled), or after `timeoutMs`.
   */
  active(timeoutMs?: number): Promise<this> {
    return this.#wait(
      (resolve, reject) => {
        if (ACTIVE.has(this.#status)) resolve(this);
        else if (this.#isFinal()) reject(this.#error());
      },
      timeoutMs,
      "PUBLISHING/PLAYING",
    );
  }

  /** Resolves with the final status (UNPUBLISHED, STOPPED or FAILED) once the stream has ended for good. */
  ended(timeoutMs?: number): Promise<StreamStatus> {
    return this.#wait(
      (resolve) => {
        if (this.#isFinal()) resolve(this.#status);
      },
      timeoutMs,
      "the end of the stream",
    );
  }

  // ---------- internal: called by the session ----------

  /** @internal `setRemoteSDP` for this stream's current id. */
  _applyAnswer(sdp: string): void {
    void this.#applyAnswer(sdp);
  }

  /** @internal `notifyStreamStatusEvent` / `notifyVideoFormat` / `fail` (StreamStatusEvent) for the current id. */
  _serverStatus(event: Partial<StreamStatusEvent> & { status: string }): void {
    if (!SERVER_STATUSES.has(event.status)) return; // RESIZE, SNAPSHOT_COMPLETE, …: deprecated, no status change
    if (typeof event.info === "string" && event.info) this.#info = event.info;
    if (event.audioState) this.#audioState = event.audioState;
    if (event.videoState) this.#videoState = event.videoState;
    this.#setStatus(event.status as StreamStatus);
  }

  /**
   * @internal The session lost its WebSocket: the stream goes FAILED locally ("Session disconnected"), as the Web
   * SDK does; `willRestore` = the session is going to reconnect, and this stream is then restored if eligible.
   */
  _sessionLost(willRestore: boolean): void {
    if (TERMINAL_STATUSES.has(this.#status)) return;
    const restore =
      willRestore &&
      this.#restoreAllowed() &&
      (this.#wasActive || this.#status === StreamStatus.PENDING) &&
      this.#kind !== undefined;
    this.#info = ERROR_INFO.SESSION_DISCONNECTED;
    this.#setStatus(StreamStatus.FAILED, restore ? "session" : "none");
  }

  /** @internal The session is ESTABLISHED again: restart now. */
  _resume(): void {
    if (!this.#restoring) return;
    this.#restoreNow();
  }

  /** @internal The session gave up restoring (or was disconnected by the app). */
  _giveUp(): void {
    if (this.#restoring) this.#endRestore();
  }

  // ---------- internal ----------

  #begin(kind: Kind): void {
    if (this.#status !== StreamStatus.NEW) throw new Error(`Invalid stream state ${this.#status}`);
    this.#kind = kind;
    this.#start();
  }

  /** PENDING + negotiation, for the first publish/play and for every restart. */
  #start(): void {
    this.#status = StreamStatus.PENDING;
    const id = this.#id;
    // PENDING is emitted after the current task (as the Web SDK's play() does), so listeners added to a stream that
    // `room.publish()` / `participantStream.play()` returned already started still get it
    queueMicrotask(() => {
      if (this.#id === id && this.#status === StreamStatus.PENDING) this.#events.emit(StreamStatus.PENDING, this);
    });
    this.#runWaiters();
    void this.#negotiate(id).catch((e: unknown) => {
      if (this.#id !== id) return;
      // keep the DOMException name (NotAllowedError, NotFoundError, NotReadableError…): apps tell the cases apart by it
      this.#errorInfo = e instanceof Error ? (e.name && e.name !== "Error" ? `${e.name}: ${e.message}` : e.message) : String(e);
      this.#info = ERROR_INFO.LOCAL_ERROR;
      this.#link.logger.warn(`stream ${this.name()}: ${this.#errorInfo}`);
      this.#setStatus(StreamStatus.FAILED);
    });
  }

  /** True while `id` is still this stream's current attempt and the stream has not been released. */
  #current(id: string): boolean {
    return this.#id === id && !TERMINAL_STATUSES.has(this.#status);
  }

  async #negotiate(id: string): Promise<void> {
    const { platform } = this.#link;
    const publish = this.#kind === "publish";
    let media: MediaStream | undefined;
    if (publish) {
      media = await this.#localMedia();
      if (!this.#current(id)) return; // failed (e.g. session lost) while waiting for the camera
      this.#local = media;
    }
    const pc = new platform.RTCPeerConnection(this.#link.rtcConfiguration());
    this.#pc = pc;
    if (media) {
      for (const track of media.getTracks()) pc.addTrack(track, media);
      for (const tr of pc.getTransceivers()) tr.direction = "sendonly";
      this.#showVideo(media, true);
    } else {
      const audio = this.#opts.receiveAudio ?? true;
      const video = this.#opts.receiveVideo ?? true;
      if (audio) pc.addTransceiver("audio", { direction: "recvonly" });
      if (video) pc.addTransceiver("video", { direction: "recvonly" });
      const tracks = pc.getReceivers().map((r) => r.track);
      const remote = new platform.MediaStream(tracks);
      this.#remote = remote;
      pc.addEventListener("track", (ev: RTCTrackEvent) => {
        if (this.#remote === remote && !remote.getTracks().includes(ev.track)) remote.addTrack(ev.track);
      });
      this.#showVideo(remote, false);
    }
    const offer = await pc.createOffer(publish ? { offerToReceiveAudio: false, offerToReceiveVideo: false } : {});
    await pc.setLocalDescription(offer);
    if (!this.#current(id)) return;
    const sdp = offer.sdp ?? "";
    const v = typeof this.#opts.constraints?.video === "object" ? this.#opts.constraints.video : undefined;
    const common = {
      mediaSessionId: id,
      name: this.name(),
      status: StreamStatus.PENDING,
      mediaProvider: "WebRTC",
      sdp,
      custom: this.#opts.custom,
      bitrate: num(v?.bitrate),
      minBitrate: num(v?.minBitrate),
      maxBitrate: num(v?.maxBitrate),
      ...(this.#opts.constraints ? { constraints: this.#opts.constraints } : {}),
    };
    if (publish && media) {
      this.#link.send("publishStream", {
        ...common,
        published: true,
        hasVideo: media.getVideoTracks().length > 0,
        hasAudio: media.getAudioTracks().length > 0,
        record: this.#opts.record ?? false,
      });
    } else {
      this.#link.send("playStream", {
        ...common,
        published: false,
        hasVideo: true,
        hasAudio: true,
        record: false,
        width: num(v?.width),
        height: num(v?.height),
        quality: num(v?.quality),
      });
    }
  }

  async #localMedia(): Promise<MediaStream> {
    if (this.#opts.stream) return this.#opts.stream;
    const captured = this.#captured;
    if (captured && captured.getTracks().some((t) => t.readyState !== "ended")) return captured;
    const gum = this.#link.platform.getUserMedia;
    if (!gum) throw new Error("getUserMedia is not available here: pass the stream option with the media to publish");
    const c = this.#opts.constraints;
    let video: boolean | MediaTrackConstraints = true;
    if (c?.video !== undefined) {
      if (typeof c.video === "object") {
        const { minBitrate: _a, maxBitrate: _b, bitrate: _c, quality: _d, ...rest } = c.video;
        video = rest;
      } else video = c.video;
    }
    const stream = await gum({ audio: c?.audio ?? true, video });
    this.#captured = stream;
    return stream;
  }

  #showVideo(media: MediaStream, local: boolean): void {
    const { display } = this.#opts;
    const doc = this.#link.platform.document;
    if (!display || !doc) return;
    if (this.#video) detachVideo(display, this.#video);
    this.#video = attachVideo(doc, display, this.#id, media, local);
  }

  async #applyAnswer(sdpIn: string): Promise<void> {
    const pc = this.#pc;
    const id = this.#id;
    if (!pc || !this.#current(id)) return;
    if (pc.signalingState !== "have-local-offer") {
      this.#link.logger.warn(`stream ${this.name()}: setRemoteSDP in signaling state ${pc.signalingState}, ignored`);
      return;
    }
    try {
      const sdp = this.#opts.sdpHook ? this.#opts.sdpHook(sdpIn) : sdpIn;
      await pc.setRemoteDescription({ type: "answer", sdp });
    } catch (e) {
      if (!this.#current(id)) return;
      // tell the server (it would otherwise wait for ICE until its timeout), then fail locally
      const published = this.#kind === "publish";
      this.#link.send(published ? "unPublishStream" : "stopStream", {
        mediaSessionId: id,
        name: this.name(),
        published,
        status: this.#status,
      });
      this.#errorInfo = `The server's answer was refused: ${e instanceof Error ? e.message : String(e)}`;
      this.#info = ERROR_INFO.LOCAL_ERROR;
      this.#setStatus(StreamStatus.FAILED);
    }
  }

  /**
   * The one place statuses change after PENDING. Terminal statuses release the stream; later ones are ignored.
   * `restore`: "auto" = decide by the live-session rule, "session" = restore when the session is back, "none".
   */
  #setStatus(status: StreamStatus, restore: "auto" | "session" | "none" = "auto"): void {
    if (TERMINAL_STATUSES.has(this.#status)) return; // released: late events are ignored
    if (status === StreamStatus.NEW) return;
    this.#status = status;
    if (ACTIVE.has(status)) {
      this.#wasActive = true;
      this.#restoreAttempt = 0;
    }
    let restoring = false;
    if (TERMINAL_STATUSES.has(status)) {
      restoring =
        status === StreamStatus.FAILED &&
        (restore === "session" ||
          (restore === "auto" &&
            this.#wasActive &&
            this.#info !== ERROR_INFO.LOCAL_ERROR &&
            this.#restoreAllowed()));
      this.#restoring = restoring;
      this.#release(!restoring);
    }
    this.#events.emit(status as Exclude<StreamStatus, "NEW">, this);
    if (restoring) {
      if (restore === "session") this.#link.awaitSession(this);
      else this.#scheduleRestore();
    }
    this.#runWaiters();
  }

  #restoreAllowed(): boolean {
    return this.#link.restorePolicy !== null && this.#opts.autoRestore !== false && !this.#stopRequested;
  }

  #isFinal(): boolean {
    return TERMINAL_STATUSES.has(this.#status) && !this.#restoring;
  }

  #error(): WcsError {
    const info = this.#info;
    return new WcsError(`Stream ${this.name()} ${this.#status}${info ? `: ${info}` : ""}`, info);
  }

  /** Releases the attempt: the id stops routing, the peer connection closes; `final` also drops captured media. */
  #release(final: boolean): void {
    if (this.#stopTimer !== undefined) clearTimeout(this.#stopTimer);
    this.#stopTimer = undefined;
    this.#link.unregister(this.#id, this);
    this.#closeMedia();
    if (final) this.#dropCaptured();
  }

  #closeMedia(): void {
    const pc = this.#pc;
    if (pc && pc.signalingState !== "closed") pc.close();
    if (this.#video) detachVideo(this.#opts.display, this.#video);
    this.#video = undefined;
  }

  #dropCaptured(): void {
    for (const t of this.#captured?.getTracks() ?? []) t.stop();
    this.#captured = undefined;
  }

  #scheduleRestore(): void {
    const policy = this.#link.restorePolicy;
    if (!policy) return this.#endRestore();
    const attempt = ++this.#restoreAttempt;
    if (attempt > policy.maxAttempts) {
      this.#link.logger.warn(`stream ${this.name()}: gave up restoring after ${policy.maxAttempts} attempts`);
      return this.#endRestore();
    }
    const delay = backoffDelay(policy, attempt);
    this.#link.logger.debug(`stream ${this.name()}: restore attempt ${attempt} in ${delay} ms`);
    this.#restoreTimer = setTimeout(() => {
      this.#restoreTimer = undefined;
      if (this.#link.status() !== "ESTABLISHED") this.#link.awaitSession(this);
      else this.#restoreNow();
    }, delay);
  }

  #restoreNow(): void {
    if (!this.#restoring) return;
    if (this.#stopRequested || (this.#extras.restoreIf && !this.#extras.restoreIf())) return this.#endRestore();
    if (this.#link.status() !== "ESTABLISHED") return this.#link.awaitSession(this);
    this.#restoring = false;
    this.#id = this.#link.platform.randomUUID();
    this.#link.register(this.#id, this);
    this.#start();
  }

  #endRestore(): void {
    if (this.#restoreTimer !== undefined) clearTimeout(this.#restoreTimer);
    this.#restoreTimer = undefined;
    this.#restoring = false;
    this.#link.forgetAwaiting(this);
    this.#dropCaptured();
    this.#runWaiters();
  }

  #wait<T>(
    check: (resolve: (v: T) => void, reject: (e: Error) => void) => void,
    timeoutMs: number | undefined,
    what: string,
  ): Promise<T> {
    const p = new Promise<T>((resolve, reject) => {
      let done = false;
      const waiter = (): boolean => {
        check(
          (v) => {
            done = true;
            resolve(v);
          },
          (e) => {
            done = true;
            reject(e);
          },
        );
        return done;
      };
      if (!waiter()) this.#waiters.push(waiter);
    });
    return quiet(withTimeout(p, timeoutMs, `stream ${this.name()} ${what}`));
  }

  #runWaiters(): void {
    if (!this.#waiters.length) return;
    this.#waiters = this.#waiters.filter((w) => !w());
  }
}
