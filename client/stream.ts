/**
 * A published or played stream (the Web SDK's `Stream`, created by `session.createStream()`): its status machine and
 * `stop()`. The peer connection and media live in `stream-media.ts`, the messages it sends in `stream-link.ts`, its
 * auto-restore in `stream-restore.ts`.
 *
 * Wire behaviour, as Web SDK 2.0 (flashphoner-core.js createStream/publish/play/stop):
 * - publish/play: PENDING, then the offer goes out in `publishStream`/`playStream`;
 * - the answer arrives in `setRemoteSDP` [mediaSessionId, sdp] and is applied with setRemoteDescription;
 * - statuses arrive in `notifyStreamStatusEvent` (or `fail` with apiMethod StreamStatusEvent) keyed by
 *   `mediaSessionId` (= `stream.id()`); UNPUBLISHED / STOPPED / FAILED release the stream (peer connection closed)
 *   and every later message for that id is ignored;
 * - `stop()`: NEW → FAILED locally; PENDING → retried every 200 ms until the server moves the stream out of PENDING;
 *   FAILED → nothing; otherwise `unPublishStream`/`stopStream` is sent and the peer connection closed at once, the
 *   final UNPUBLISHED/STOPPED coming from the server;
 * - stream events: a publisher's muteAudio() / unmuteAudio() / muteVideo() / unmuteVideo() / sendData() send
 *   `sendStreamEvent {mediaSessionId, type, payload}`; a player gets the events of its stream in `notifyStreamEvent`
 *   (its own mediaSessionId) as STREAM_EVENT.
 * See docs/protocols.md "WCS WebSocket protocol" (messages, statuses), "Stream events" and "SDP offers".
 */
import { isMuteEvent, MUTE_EVENTS, muteEventPayload, StreamEventType, STREAM_EVENT_TYPES, type MuteEventType, type StreamEvent } from "../protocol/stream-events-types.js";
import { StreamStatus, TERMINAL_STATUSES, type StreamStatusEvent } from "../protocol/wcs-types.js";
import { ERROR_INFO, STREAM_EVENT } from "./constants.js";
import { Emitter, WcsError, Waiters } from "./events.js";
import { playRequest, publishRequest, stopMessage, type SessionLink, type StreamExtras } from "./stream-link.js";
import { StreamMedia } from "./stream-media.js";
import { StreamRestore } from "./stream-restore.js";
import type { MuteState, StreamEvents, StreamOptions } from "./stream-types.js";

const ACTIVE: ReadonlySet<StreamStatus> = new Set([StreamStatus.PUBLISHING, StreamStatus.PLAYING]);
const EVENT_TYPES: ReadonlySet<string> = new Set(STREAM_EVENT_TYPES);
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

/**
 * A stream of a {@link Session}: create with `session.createStream(options)`, then `publish()` or `play()` once.
 * Events: `stream.on(STREAM_STATUS.X, (stream) => …)`. Promise helpers: {@link Stream.active}, {@link Stream.ended}.
 */
export class Stream {
  readonly #link: SessionLink;
  readonly #opts: StreamOptions;
  readonly #events: Emitter<StreamEvents>;
  readonly #media: StreamMedia;
  readonly #restore: StreamRestore;
  readonly #waiters = new Waiters();
  #id: string;
  #kind: Kind | undefined;
  #status: StreamStatus = StreamStatus.NEW;
  #info: string | undefined;
  #errorInfo: string | undefined;
  #audioState: MuteState | undefined;
  #recordName: string | undefined;
  #videoState: MuteState | undefined;
  #stopTimer: ReturnType<typeof setTimeout> | undefined;
  #wasActive = false;

  /** @internal Use `session.createStream()`. */
  constructor(link: SessionLink, options: StreamOptions, extras: StreamExtras = {}) {
    if (!options || typeof options !== "object") throw new TypeError("options must be provided");
    if (typeof options.name !== "string" || !options.name) throw new TypeError("options.name must be provided");
    this.#link = link;
    this.#opts = { ...options };
    this.#events = new Emitter<StreamEvents>(link.logger);
    this.#media = new StreamMedia(link.platform, this.#opts, () => link.rtcConfiguration());
    this.#restore = new StreamRestore(link, this, this.#opts, extras, {
      restart: () => {
        this.#id = link.platform.randomUUID();
        link.register(this.#id, this);
        this.#start();
      },
      ended: () => {
        this.#media.dropCaptured();
        this.#waiters.run();
      },
    });
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
  /**
   * The mute state of the stream's audio as the server last said it: the `audioState` of its last status
   * (`notifyStreamStatusEvent`; a new player's PLAYING shows whether its publisher had muted) and, for a player, its
   * publisher's later audioMuted / audioUnmuted events. Undefined before the server said anything. As the Web SDK's
   * getAudioState(). A publisher's own mute calls are in {@link Stream.isAudioMuted}.
   */
  getAudioState(): MuteState | undefined {
    return this.#audioState;
  }
  /**
   * A recorded publisher's recording name (`recordName` of its statuses; the file is served at
   * `/client/records/<recordName>`), as the Web SDK's getRecordInfo(). Undefined when the stream is not recorded
   * (published without `record: true`, or the media node could not record it: its statuses then say `record: false`).
   */
  getRecordInfo(): string | undefined {
    return this.#recordName;
  }
  /** The mute state of the stream's video as the server last said it; see {@link Stream.getAudioState}. */
  getVideoState(): MuteState | undefined {
    return this.#videoState;
  }
  /** Publishers: true after muteAudio() (until unmuteAudio()): the outgoing audio tracks are disabled. */
  isAudioMuted(): boolean {
    return this.#media.isMuted("audio");
  }
  /** Publishers: true after muteVideo() (until unmuteVideo()): the outgoing video tracks are disabled. */
  isVideoMuted(): boolean {
    return this.#media.isMuted("video");
  }
  /** Publishers: the published MediaStream (the app's `stream` or the captured one). */
  getLocalMediaStream(): MediaStream | undefined {
    return this.#media.local;
  }
  /** Players: the received MediaStream (audio + video tracks of the peer connection's receivers). */
  getRemoteMediaStream(): MediaStream | undefined {
    return this.#media.remote;
  }
  /** The <video> element created in `display`, if any (browser only). */
  getVideoElement(): HTMLVideoElement | undefined {
    return this.#media.video;
  }
  /** The current peer connection (undefined before the offer and after release). */
  getPeerConnection(): RTCPeerConnection | undefined {
    return this.#media.peerConnection;
  }
  /** WebRTC statistics of the current peer connection. @throws WcsError when there is none. */
  async getStats(): Promise<RTCStatsReport> {
    const pc = this.#media.peerConnection;
    if (!pc) throw new WcsError(`Stream ${this.name()} has no peer connection`);
    return pc.getStats();
  }
  /** true while auto-restore has scheduled a restart of this FAILED stream. */
  isRestoring(): boolean {
    return this.#restore.pending;
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
    if (this.#restore.cancel()) return; // a scheduled restart is cancelled
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
      default:
        this.#sendStop(this.#id, { hasVideo: true, hasAudio: true, record: false }); // the Web SDK's stop() fields
        this.#media.close();
    }
  }

  /**
   * Publishers: mutes the outgoing audio. The local audio tracks are disabled (`track.enabled = false`: silence goes
   * out, the connection stays) and the server is told (`sendStreamEvent` audioMuted): every player gets STREAM_EVENT
   * `{type: "audioMuted", payload: {streamName}}`, and new players and REST `/stream/find` see `audioState: {muted:
   * true}`. Called before PUBLISHING, or while auto-restore republishes, the event goes out once the stream is
   * PUBLISHING. Web SDK: `src/flashphoner-core.js` Stream muteAudio() (mediaConnection.muteAudio() + sendStreamEvent).
   * @throws Error if this is not a published stream (a player, or publish() not called yet)
   */
  muteAudio(): void {
    this.#mute("muteAudio", StreamEventType.AUDIO_MUTED);
  }
  /** Publishers: undoes {@link Stream.muteAudio} (players get `audioUnmuted`). @throws Error unless published. */
  unmuteAudio(): void {
    this.#mute("unmuteAudio", StreamEventType.AUDIO_UNMUTED);
  }
  /**
   * Publishers: mutes the outgoing video (the local video tracks are disabled: black frames go out) and tells the
   * server (`videoMuted`), as {@link Stream.muteAudio} does for audio.
   * @throws Error if this is not a published stream
   */
  muteVideo(): void {
    this.#mute("muteVideo", StreamEventType.VIDEO_MUTED);
  }
  /** Publishers: undoes {@link Stream.muteVideo} (players get `videoUnmuted`). @throws Error unless published. */
  unmuteVideo(): void {
    this.#mute("unmuteVideo", StreamEventType.VIDEO_UNMUTED);
  }

  /**
   * Publishers: sends `payload` (any JSON value) to every player of the stream (`sendStreamEvent` type "data"; they
   * get STREAM_EVENT `{type: "data", payload}`). The server takes at most 32 levels of nesting and 16 KiB of JSON
   * (protocol/bounded.ts); a larger payload is refused with the session's WARN event (`fail`, its `info` says why) and
   * reaches nobody. Nothing confirms delivery (WCS sends no answer). Web SDK: Stream sendData().
   * @throws Error if the stream is not PUBLISHING; TypeError if `payload` is undefined or not JSON (a cycle, a BigInt)
   */
  sendData(payload: unknown): void {
    if (this.#kind !== "publish" || this.#status !== StreamStatus.PUBLISHING) {
      throw new Error(`Invalid stream state ${this.#status}: sendData needs a PUBLISHING stream`);
    }
    if (payload === undefined) throw new TypeError("sendData: payload must be given");
    JSON.stringify(payload); // throws TypeError for what JSON cannot carry, before anything is sent
    this.#link.send("sendStreamEvent", { mediaSessionId: this.#id, type: StreamEventType.DATA, payload });
  }

  /**
   * Resolves when the stream is PUBLISHING or PLAYING. Rejects with a {@link WcsError} (`info` = getInfo()) when it
   * ends first (with auto-restore, only once no restart is scheduled), or after `timeoutMs`.
   */
  active(timeoutMs?: number): Promise<this> {
    return this.#waiters.wait(
      (resolve, reject) => {
        if (ACTIVE.has(this.#status)) resolve(this);
        else if (this.#isFinal()) reject(this.#error());
      },
      timeoutMs,
      `stream ${this.name()} PUBLISHING/PLAYING`,
    );
  }

  /** Resolves with the final status (UNPUBLISHED, STOPPED or FAILED) once the stream has ended for good. */
  ended(timeoutMs?: number): Promise<StreamStatus> {
    return this.#waiters.wait(
      (resolve) => {
        if (this.#isFinal()) resolve(this.#status);
      },
      timeoutMs,
      `stream ${this.name()} the end of the stream`,
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
    if (typeof event.recordName === "string" && event.recordName) this.#recordName = event.recordName;
    if (event.videoState) this.#videoState = event.videoState;
    this.#setStatus(event.status as StreamStatus);
  }

  /**
   * @internal `notifyStreamEvent` for the current id: an event of the played stream. Mute events update
   * getAudioState() / getVideoState(); every known type is emitted as STREAM_EVENT (a mute event's payload always has
   * `streamName`). Types this SDK does not know (a WCS server's snapshotCompleted, resize, …) are logged and dropped.
   */
  _streamEvent(event: { mediaSessionId: string; type: string; payload?: unknown }): void {
    if (!EVENT_TYPES.has(event.type)) {
      this.#link.logger.debug(`stream ${this.name()}: stream event ${event.type} ignored`);
      return;
    }
    let typed: StreamEvent;
    if (isMuteEvent(event.type)) {
      typed = { mediaSessionId: event.mediaSessionId, type: event.type, payload: muteEventPayload(event.payload, this.name()) };
      const { kind, muted } = MUTE_EVENTS[event.type];
      if (kind === "audio") this.#audioState = { muted };
      else this.#videoState = { muted };
    } else {
      typed = { mediaSessionId: event.mediaSessionId, type: StreamEventType.DATA, payload: event.payload };
    }
    this.#events.emit(STREAM_EVENT, typed, this);
  }

  /**
   * @internal The session lost its WebSocket: the stream goes FAILED locally ("Session disconnected"), as the Web
   * SDK does; `willRestore` = the session is going to reconnect, and this stream is then restored if eligible.
   */
  _sessionLost(willRestore: boolean): void {
    if (TERMINAL_STATUSES.has(this.#status)) return;
    const restore =
      willRestore &&
      this.#restore.allowed() &&
      (this.#wasActive || this.#status === StreamStatus.PENDING) &&
      this.#kind !== undefined;
    this.#info = ERROR_INFO.SESSION_DISCONNECTED;
    this.#setStatus(StreamStatus.FAILED, restore ? "session" : "none");
  }

  /** @internal The session is ESTABLISHED again: restart now. */
  _resume(): void {
    this.#restore.resume();
  }

  /** @internal The session gave up restoring (or was disconnected by the app). */
  _giveUp(): void {
    this.#restore.giveUp();
  }

  // ---------- internal: stream events ----------

  /** muteAudio() … unmuteVideo(): the local tracks now, the event now if PUBLISHING (else once it is). */
  #mute(method: string, type: MuteEventType): void {
    if (this.#kind !== "publish") {
      throw new Error(`${method}(): only a published stream can be muted (${this.#kind === "play" ? "this one is played" : "publish() it first"})`);
    }
    const { kind, muted } = MUTE_EVENTS[type];
    this.#media.setMuted(kind, muted);
    if (this.#status === StreamStatus.PUBLISHING) this.#link.send("sendStreamEvent", { mediaSessionId: this.#id, type });
  }

  /** PUBLISHING (first time or restored): the server starts unmuted, so tell it what the app muted meanwhile. */
  #announceMuted(): void {
    if (this.#media.isMuted("audio")) this.#link.send("sendStreamEvent", { mediaSessionId: this.#id, type: StreamEventType.AUDIO_MUTED });
    if (this.#media.isMuted("video")) this.#link.send("sendStreamEvent", { mediaSessionId: this.#id, type: StreamEventType.VIDEO_MUTED });
  }

  // ---------- internal: negotiation ----------

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
    this.#waiters.run();
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
    const offer = await this.#media.offer(this.#kind === "publish", id, () => this.#current(id));
    if (!offer) return;
    const { sdp, media } = offer;
    if (media) this.#link.send("publishStream", publishRequest(id, this.#opts, sdp, media));
    else this.#link.send("playStream", playRequest(id, this.#opts, sdp));
  }

  async #applyAnswer(sdp: string): Promise<void> {
    const id = this.#id;
    const state = this.#media.signalingState();
    if (state === undefined || !this.#current(id)) return;
    if (state !== "have-local-offer") {
      this.#link.logger.warn(`stream ${this.name()}: setRemoteSDP in signaling state ${state}, ignored`);
      return;
    }
    try {
      await this.#media.answer(sdp);
    } catch (e) {
      if (!this.#current(id)) return;
      // tell the server (it would otherwise wait for ICE until its timeout), then fail locally
      this.#sendStop(id);
      this.#errorInfo = `The server's answer was refused: ${e instanceof Error ? e.message : String(e)}`;
      this.#info = ERROR_INFO.LOCAL_ERROR;
      this.#setStatus(StreamStatus.FAILED);
    }
  }

  /** `unPublishStream` / `stopStream` for attempt `id` in the current status, plus `extra` fields. */
  #sendStop(id: string, extra: { hasVideo?: boolean; hasAudio?: boolean; record?: boolean } = {}): void {
    const published = this.#kind === "publish";
    this.#link.send(stopMessage(published), {
      mediaSessionId: id,
      name: this.name(),
      published,
      ...extra,
      status: this.#status,
    });
  }

  // ---------- internal: status machine ----------

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
      this.#restore.succeeded();
      if (status === StreamStatus.PUBLISHING) this.#announceMuted();
    }
    let restoring = false;
    if (TERMINAL_STATUSES.has(status)) {
      restoring =
        status === StreamStatus.FAILED &&
        (restore === "session" ||
          (restore === "auto" &&
            this.#wasActive &&
            this.#info !== ERROR_INFO.LOCAL_ERROR &&
            this.#restore.allowed()));
      this.#restore.terminal(restoring);
      this.#release(!restoring);
    }
    this.#events.emit(status as Exclude<StreamStatus, "NEW">, this);
    if (restoring) this.#restore.begin(restore === "session" ? "session" : "backoff");
    this.#waiters.run();
  }

  #isFinal(): boolean {
    return TERMINAL_STATUSES.has(this.#status) && !this.#restore.pending;
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
    this.#media.close();
    if (final) this.#media.dropCaptured();
  }
}
