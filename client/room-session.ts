/**
 * Room API (the Web SDK's `RoomApi`, src/room-module.js): a session with appKey "roomApp" and
 * `connection.custom = {login: username, token}`; room commands are `sendData {command, options}` answered by
 * `DataStatusEvent`, room events arrive as `OnDataEvent {payload: {roomName, name, info}}` (protocol/room-types.ts;
 * docs/protocols.md "Rooms"). Room streams are ordinary streams named `${room}-${username}-${4 chars}`
 * with `custom: {name: room}`. This file holds the entry point and the connection; rooms are in `room.ts`, their
 * participants in `participant.ts`.
 *
 *   const rs = roomApi.connect({urlServer, username: "alice"});
 *   const room = rs.join({name: "room1"}).on(ROOM_EVENT.PUBLISHED, (p) => p.getStreams()[0]?.play(div));
 *   await room.joined();
 *   room.publish({display: div});
 */
import { ROOM_APP_KEY, type RoomEventPayload } from "../protocol/room-types.js";
import { ROOM_EVENT, SESSION_STATUS, type SessionStatus } from "./constants.js";
import { Emitter, consoleLogger, type Logger } from "./events.js";
import type { RestoreAttempt } from "./restore.js";
import { Room, type JoinOptions } from "./room.js";
import { Session, createSession, sessionInternals } from "./session.js";
import type { AppData, SessionOptions } from "./session-types.js";

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
  /** true while auto-restore is reconnecting after a drop (the rooms are joined again once it is back). */
  isRestoring(): boolean {
    return this.#session.isRestoring();
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
