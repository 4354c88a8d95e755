/**
 * Room API (the Web SDK's `RoomApi`, src/room-module.js): a session with appKey "roomApp" and
 * `connection.custom = {login: username, token}`; room commands are `sendData {command, options}` answered by
 * `DataStatusEvent`, room events arrive as `OnDataEvent {payload: {roomName, name, info}}` (protocol/room-types.ts;
 * shared/reference/wcs-protocol.md §3). Room streams are ordinary streams named `${room}-${username}-${4 chars}`
 * with `custom: {name: room}`.
 *
 *   const rs = roomApi.connect({urlServer, username: "alice"});
 *   const room = rs.join({name: "room1"}).on(ROOM_EVENT.PUBLISHED, (p) => p.getStreams()[0]?.play(div));
 *   await room.joined();
 *   room.publish({display: div});
 */
import type { RoomCommand } from "../protocol/room.js";
import { ROOM_APP_KEY, RoomEvent, type RoomEventPayload, type RoomStreamInfo } from "../protocol/room-types.js";
import { ROOM_EVENT, SESSION_STATUS, type SessionStatus } from "./constants.js";
import { Emitter, WcsError, consoleLogger, deferred, quiet, withTimeout, type Deferred, type Logger } from "./events.js";
import { randomUUID } from "./platform.js";
import { Session, createSession, sessionInternals, type AppData, type RestoreAttempt, type SessionOptions } from "./session.js";
import type { Stream, StreamOptions } from "./stream.js";

/** Options of {@link roomApi}.connect: the session options plus the participant's login. */
export interface RoomApiOptions extends Omit<SessionOptions, "appKey" | "custom"> {
  /** The participant's login, unique in each room (sent as `connection.custom.login`). Required. */
  username: string;
  /** Optional token for the server's app (sent as `connection.custom.token`). */
  token?: string;
  /** The server app (default "roomApp"). */
  appKey?: string;
}

/** RoomSession event callbacks (`roomSession.on(SESSION_STATUS.X, cb)`). */
export interface RoomSessionEvents {
  ESTABLISHED: (roomSession: RoomSession) => void;
  DISCONNECTED: (roomSession: RoomSession) => void;
  FAILED: (roomSession: RoomSession) => void;
  RESTORING: (roomSession: RoomSession, attempt: RestoreAttempt) => void;
}

/** A message received in a room. `from` is the sender (a detached Participant if the sender is not known). */
export interface RoomMessage {
  from: Participant;
  text: string;
}

/** Room event callbacks (`room.on(ROOM_EVENT.X, cb)`); see {@link ROOM_EVENT}. */
export interface RoomEvents {
  STATE: (room: Room) => void;
  JOINED: (participant: Participant) => void;
  LEFT: (participant: Participant) => void;
  /** A participant's stream started; `streamName` says which (the Web SDK passes only the participant). */
  PUBLISHED: (participant: Participant, streamName: string) => void;
  UNPUBLISHED: (participant: Participant, streamName: string) => void;
  FAILED: (room: Room, info: string | undefined) => void;
  MESSAGE: (message: RoomMessage) => void;
}

/** Options of `roomSession.join()`. */
export interface JoinOptions {
  /** Room name (created by the server if absent). */
  name: string;
  /** Sent as the join's `record` (room-module.js). */
  record?: boolean;
}

/** Options of `room.publish()`: a stream's options without name/custom (set by the room). */
export interface RoomPublishOptions extends Omit<StreamOptions, "name" | "custom"> {
  /** Suffix appended to the generated stream name (`${room}-${username}-${4 chars}-${name}`), as room-module.js. */
  name?: string;
}

/** Options of `participantStream.play()`: a stream's options without name/custom/display. */
export type RoomPlayOptions = Omit<StreamOptions, "name" | "custom" | "display">;

/** How long a re-join after a reconnection waits for the room's STATE before restoring streams anyway. */
const REJOIN_STATE_TIMEOUT_MS = 5000;

/**
 * Connects to the Room API (`RoomApi.connect`): returns at once, connecting in the background.
 * @throws TypeError if `urlServer` or `username` is missing.
 */
function connect(options: RoomApiOptions): RoomSession {
  return new RoomSession(options);
}

/** The Room API entry point: `roomApi.connect(options)` and `roomApi.events` (= {@link ROOM_EVENT}). */
export const roomApi = { connect, events: ROOM_EVENT } as const;

/** A Room API connection; see {@link roomApi}. */
export class RoomSession {
  readonly #session: Session;
  readonly #username: string;
  readonly #rooms = new Map<string, Room>();
  readonly #events: Emitter<RoomSessionEvents>;
  readonly #logger: Logger;

  /** @internal Use `roomApi.connect()`. */
  constructor(options: RoomApiOptions) {
    if (!options || typeof options.username !== "string" || !options.username) {
      throw new TypeError("options.username must be provided");
    }
    const { username, token, appKey, ...sessionOptions } = options;
    this.#username = username;
    this.#session = createSession({
      ...sessionOptions,
      appKey: appKey || ROOM_APP_KEY,
      custom: { login: username, token },
    });
    this.#logger = options.logger ?? consoleLogger;
    this.#events = new Emitter<RoomSessionEvents>(this.#logger);
    this.#session
      .on(SESSION_STATUS.ESTABLISHED, () => this.#events.emit(SESSION_STATUS.ESTABLISHED, this))
      .on(SESSION_STATUS.DISCONNECTED, () => this.#events.emit(SESSION_STATUS.DISCONNECTED, this))
      .on(SESSION_STATUS.FAILED, () => this.#events.emit(SESSION_STATUS.FAILED, this))
      .on(SESSION_STATUS.RESTORING, (_s, attempt) => this.#events.emit(SESSION_STATUS.RESTORING, this, attempt))
      .on(SESSION_STATUS.APP_DATA, (data) => this.#onAppData(data));
    sessionInternals(this.#session).addRestoreHook(async () => {
      await Promise.all([...this.#rooms.values()].map((room) => room._rejoin()));
    });
  }

  /** The underlying {@link Session} (for plain streams, sendData, status). */
  getSession(): Session {
    return this.#session;
  }
  /** The participant's login. */
  username(): string {
    return this.#username;
  }
  /** The session's client-side id. */
  id(): string {
    return this.#session.id();
  }
  /** The session status. */
  status(): SessionStatus {
    return this.#session.status();
  }
  /** The server URL. */
  getServerUrl(): string {
    return this.#session.getServerUrl();
  }
  /** The rooms joined (and not left). */
  getRooms(): Room[] {
    return [...this.#rooms.values()];
  }
  /** Adds a listener; chainable. */
  on<E extends keyof RoomSessionEvents>(event: E, callback: RoomSessionEvents[E]): this {
    this.#events.on(event, callback);
    return this;
  }
  /** Removes a listener. */
  off<E extends keyof RoomSessionEvents>(event: E, callback: RoomSessionEvents[E]): this {
    this.#events.off(event, callback);
    return this;
  }
  /** Resolves when the session is ESTABLISHED; see {@link Session.established}. */
  async established(timeoutMs?: number): Promise<this> {
    await this.#session.established(timeoutMs);
    return this;
  }

  /**
   * Joins a room: sends `join` as soon as the session is ESTABLISHED. The server answers with STATE (the other
   * participants), or FAILED (e.g. "Login is already in use in this room"). `await room.joined()` to wait for it.
   */
  join(options: JoinOptions): Room {
    if (!options || typeof options.name !== "string" || !options.name) throw new TypeError("options.name must be provided");
    const existing = this.#rooms.get(options.name);
    if (existing) return existing;
    const room = new Room(this.#session, this.#username, options, this.#logger, () => this.#rooms.delete(options.name));
    this.#rooms.set(options.name, room);
    room._join();
    return room;
  }

  /** Disconnects the session (the server makes us leave every room). */
  disconnect(): void {
    this.#session.disconnect();
  }

  #onAppData(data: AppData): void {
    const payload = data.payload;
    if (typeof payload !== "object" || payload === null) return;
    const p = payload as Partial<RoomEventPayload>;
    if (typeof p.roomName !== "string" || typeof p.name !== "string") return;
    this.#rooms.get(p.roomName)?._handle(p.name, p.info);
  }
}

/** A joined room; see {@link RoomSession.join}. */
export class Room {
  readonly #session: Session;
  readonly #username: string;
  readonly #opts: JoinOptions;
  readonly #onLeft: () => void;
  readonly #events: Emitter<RoomEvents>;
  readonly #participants = new Map<string, Participant>();
  readonly #streams = new Set<Stream>();
  #joined: Deferred<Room> = deferred<Room>();
  #stateWaiter: Deferred<void> | undefined;
  #left = false;

  /** @internal Use `roomSession.join()`. */
  constructor(session: Session, username: string, options: JoinOptions, logger: Logger, onLeft: () => void) {
    this.#session = session;
    this.#username = username;
    this.#opts = { ...options };
    this.#onLeft = onLeft;
    this.#events = new Emitter<RoomEvents>(logger);
  }

  /** The room name. */
  name(): string {
    return this.#opts.name;
  }
  /** The other participants (not us), as of the last room events. */
  getParticipants(): Participant[] {
    return [...this.#participants.values()];
  }
  /** The participant with this login, if present. */
  getParticipant(name: string): Participant | undefined {
    return this.#participants.get(name);
  }
  /** Adds a listener; chainable. */
  on<E extends keyof RoomEvents>(event: E, callback: RoomEvents[E]): this {
    this.#events.on(event, callback);
    return this;
  }
  /** Removes a listener. */
  off<E extends keyof RoomEvents>(event: E, callback: RoomEvents[E]): this {
    this.#events.off(event, callback);
    return this;
  }

  /** Resolves once the join succeeded and STATE arrived; rejects with a {@link WcsError} if the join failed. */
  joined(timeoutMs?: number): Promise<this> {
    return quiet(withTimeout(this.#joined.promise, timeoutMs, `room ${this.name()} to be joined`).then(() => this));
  }

  /**
   * Publishes our stream in the room (room-module.js publish): name `${room}-${username}-${4 chars}` (plus
   * `-${options.name}`), `custom: {name: room}`. The others get PUBLISHED once it is PUBLISHING.
   * @throws Error unless the session is ESTABLISHED.
   */
  publish(options: RoomPublishOptions = {}): Stream {
    const suffix = randomUUID().slice(0, 4);
    const name = `${this.name()}-${this.#username}-${suffix}${options.name ? `-${options.name}` : ""}`;
    const stream = sessionInternals(this.#session).createStream(
      { ...options, name, custom: { name: this.name() } },
      { restoreIf: () => !this.#left },
    );
    this.#track(stream);
    return stream.publish();
  }

  /**
   * Leaves the room (`leave`), then stops our streams of this room (published and played), as room-module.js.
   * Resolves with the room; rejects with a {@link WcsError} if the server refused (the streams are stopped anyway).
   */
  leave(): Promise<this> {
    const cmd: RoomCommand = { command: "leave", options: { name: this.name() } };
    const cleanUp = (): void => {
      this.#left = true;
      for (const s of [...this.#streams]) s.stop();
      this.#streams.clear();
      this.#onLeft();
    };
    return quiet(
      this.#session.sendData(cmd).then(
        () => {
          cleanUp();
          return this;
        },
        (e: unknown) => {
          cleanUp();
          throw e;
        },
      ),
    );
  }

  /**
   * Sends `text` to every other participant (our server's extension: `sendMessage` with `broadcast: true`).
   * Resolves on ACCEPTED; rejects with a {@link WcsError} (e.g. "Message too large…").
   */
  sendMessageToAll(text: string): Promise<void> {
    const cmd: RoomCommand = {
      command: "sendMessage",
      options: { roomConfig: { name: this.name() }, broadcast: true, text },
    };
    return this.#session.sendData(cmd);
  }

  // ---------- internal ----------

  /** @internal Sends `join` once the session is ESTABLISHED. */
  _join(): void {
    void this.#session.established().then(
      () => this.#sendJoin(),
      (e: unknown) => this.#joinFailed(e instanceof WcsError ? e.info : String(e)),
    );
  }

  /** @internal After a reconnection: join again and wait for the fresh STATE. */
  async _rejoin(): Promise<void> {
    if (this.#left) return;
    this.#joined = deferred<Room>();
    const state = (this.#stateWaiter = deferred<void>());
    await this.#sendJoin();
    await withTimeout(state.promise, REJOIN_STATE_TIMEOUT_MS, "STATE").catch(() => undefined);
  }

  async #sendJoin(): Promise<void> {
    const cmd: RoomCommand = { command: "join", options: { name: this.name(), record: this.#opts.record ?? false } };
    this.#stateWaiter ??= deferred<void>();
    try {
      await this.#session.sendData(cmd);
    } catch (e) {
      this.#joinFailed(e instanceof WcsError ? e.info : String(e));
    }
  }

  #joinFailed(info: string | undefined): void {
    this.#onLeft(); // a refused room is forgotten, so join({name}) can be tried again on the same connection
    this.#joined.reject(new WcsError(`Could not join room ${this.name()}${info ? `: ${info}` : ""}`, info));
    this.#stateWaiter?.resolve();
    this.#stateWaiter = undefined;
    this.#events.emit(RoomEvent.FAILED, this, info);
  }

  /** @internal One room event (`OnDataEvent.payload` for this room). Malformed events are ignored. */
  _handle(name: string, info: unknown): void {
    switch (name) {
      case RoomEvent.STATE: {
        if (!Array.isArray(info)) return;
        const seen = new Map<string, Set<string>>();
        for (const entry of info as unknown[]) {
          if (typeof entry === "string") {
            if (!seen.has(entry)) seen.set(entry, new Set());
          } else if (isStreamInfo(entry)) {
            const set = seen.get(entry.login) ?? new Set<string>();
            set.add(entry.name);
            seen.set(entry.login, set);
          }
        }
        for (const login of [...this.#participants.keys()]) if (!seen.has(login)) this.#participants.delete(login);
        for (const [login, names] of seen) this.#participant(login)._setStreams(names);
        this.#joined.resolve(this);
        this.#stateWaiter?.resolve();
        this.#stateWaiter = undefined;
        this.#events.emit(RoomEvent.STATE, this);
        return;
      }
      case RoomEvent.JOINED:
        if (typeof info !== "string") return;
        this.#events.emit(RoomEvent.JOINED, this.#participant(info));
        return;
      case RoomEvent.LEFT: {
        if (typeof info !== "string") return;
        const p = this.#participants.get(info) ?? new Participant(this, info);
        this.#participants.delete(info);
        this.#events.emit(RoomEvent.LEFT, p);
        return;
      }
      case RoomEvent.PUBLISHED: {
        if (!isStreamInfo(info)) return;
        const p = this.#participant(info.login);
        p._addStream(info.name);
        this.#events.emit(RoomEvent.PUBLISHED, p, info.name);
        return;
      }
      case RoomEvent.UNPUBLISHED:
      case RoomEvent.FAILED: {
        if (!isStreamInfo(info)) return;
        const p = this.#participants.get(info.login);
        if (p?._removeStream(info.name)) this.#events.emit(RoomEvent.UNPUBLISHED, p, info.name);
        return;
      }
      case RoomEvent.MESSAGE: {
        if (typeof info !== "object" || info === null) return;
        const m = info as { from?: unknown; text?: unknown };
        if (typeof m.from !== "string" || typeof m.text !== "string") return;
        this.#events.emit(RoomEvent.MESSAGE, {
          from: this.#participants.get(m.from) ?? new Participant(this, m.from),
          text: m.text,
        });
        return;
      }
      default:
    }
  }

  /** @internal */
  _session(): Session {
    return this.#session;
  }
  /** @internal */
  _track(stream: Stream): void {
    this.#track(stream);
  }
  /** @internal */
  _isLeft(): boolean {
    return this.#left;
  }

  #track(stream: Stream): void {
    this.#streams.add(stream);
    void stream.ended().then(() => this.#streams.delete(stream));
  }

  #participant(login: string): Participant {
    let p = this.#participants.get(login);
    if (!p) this.#participants.set(login, (p = new Participant(this, login)));
    return p;
  }
}

/** Another participant of a room. */
export class Participant {
  readonly #room: Room;
  readonly #name: string;
  readonly #streams = new Map<string, ParticipantStream>();

  /** @internal */
  constructor(room: Room, name: string) {
    this.#room = room;
    this.#name = name;
  }

  /** The participant's login. */
  name(): string {
    return this.#name;
  }
  /** The participant's published streams (usually zero or one). */
  getStreams(): ParticipantStream[] {
    return [...this.#streams.values()];
  }
  /**
   * Sends `text` to this participant only (`sendMessage {roomConfig: {name}, to, text}`). Resolves on ACCEPTED;
   * rejects with a {@link WcsError} (e.g. "Recipient is not in this room"). `onError` is the Web SDK's error callback.
   */
  sendMessage(text: string, onError?: (error: WcsError) => void): Promise<void> {
    const cmd: RoomCommand = {
      command: "sendMessage",
      options: { roomConfig: { name: this.#room.name() }, to: this.#name, text },
    };
    const p = this.#room._session().sendData(cmd);
    if (onError) p.catch((e: unknown) => onError(e instanceof WcsError ? e : new WcsError(String(e))));
    return p;
  }

  /** @internal */
  _hasStream(name: string): boolean {
    return this.#streams.has(name);
  }
  /** @internal */
  _addStream(name: string): void {
    if (!this.#streams.has(name)) this.#streams.set(name, new ParticipantStream(this.#room, this, name));
  }
  /** @internal */
  _removeStream(name: string): boolean {
    return this.#streams.delete(name);
  }
  /** @internal Replaces the stream list (STATE), keeping the objects of streams still present. */
  _setStreams(names: Set<string>): void {
    for (const n of [...this.#streams.keys()]) if (!names.has(n)) this.#streams.delete(n);
    for (const n of names) this._addStream(n);
  }
}

/** A participant's published stream, which we can play. */
export class ParticipantStream {
  readonly #room: Room;
  readonly #participant: Participant;
  readonly #name: string;
  #player: Stream | undefined;

  /** @internal */
  constructor(room: Room, participant: Participant, name: string) {
    this.#room = room;
    this.#participant = participant;
    this.#name = name;
  }

  /** The stream name. */
  streamName(): string {
    return this.#name;
  }
  /** The id() of our player of this stream, if playing. */
  id(): string | undefined {
    return this.#player?.id();
  }
  /** Our player of this stream, if any. */
  getPlayer(): Stream | undefined {
    return this.#player;
  }

  /**
   * Plays the stream (`playStream` with `custom: {name: room}`) into `display` (browser). Returns the player Stream.
   * @throws Error unless the session is ESTABLISHED.
   */
  play(display?: HTMLElement, options: RoomPlayOptions = {}): Stream {
    const stream = sessionInternals(this.#room._session()).createStream(
      { ...options, name: this.#name, display, custom: { name: this.#room.name() } },
      { restoreIf: () => !this.#room._isLeft() && this.#participant._hasStream(this.#name) },
    );
    this.#player = stream;
    this.#room._track(stream);
    return stream.play();
  }

  /** Stops our player of this stream. */
  stop(): void {
    this.#player?.stop();
  }
}

function isStreamInfo(v: unknown): v is RoomStreamInfo {
  if (typeof v !== "object" || v === null) return false;
  const o = v as { login?: unknown; name?: unknown };
  return typeof o.login === "string" && typeof o.name === "string";
}
