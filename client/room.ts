/**
 * A joined room of the Room API (room-module.js; docs/protocols.md "Rooms"): the `join` / `leave` /
 * `sendMessage` commands (sendData answered by DataStatusEvent), the room events that keep its participant list
 * (STATE, JOINED, LEFT, PUBLISHED, UNPUBLISHED/FAILED, MESSAGE), our room streams, and the re-join after a
 * reconnection. The connection is in `room-session.ts`, the participants in `participant.ts`.
 */
import type { RoomCommand } from "../protocol/room.js";
import { RoomEvent, type RoomStreamInfo } from "../protocol/room-types.js";
import { Emitter, WcsError, deferred, quiet, withTimeout, type Deferred, type Logger } from "./events.js";
import { Participant } from "./participant.js";
import { randomUUID } from "./platform.js";
import { sessionInternals, type Session } from "./session.js";
import type { Stream } from "./stream.js";
import type { StreamOptions } from "./stream-types.js";

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

/** How long a re-join after a reconnection waits for the room's STATE before restoring streams anyway. */
const REJOIN_STATE_TIMEOUT_MS = 5000;

function isStreamInfo(v: unknown): v is RoomStreamInfo {
  if (typeof v !== "object" || v === null) return false;
  const o = v as { login?: unknown; name?: unknown };
  return typeof o.login === "string" && typeof o.name === "string";
}

/** The `info` of a failed room command: the server's reason (WcsError.info), else the error's text. */
function failureInfo(e: unknown): string | undefined {
  return e instanceof WcsError ? e.info : String(e);
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
    return this._createStream({ ...options, name }).publish();
  }

  /**
   * Leaves the room (`leave`), then stops our streams of this room (published and played), as room-module.js.
   * Resolves with the room; rejects with a {@link WcsError} if the server refused (the streams are stopped anyway).
   */
  leave(): Promise<this> {
    const cleanUp = (): void => {
      this.#left = true;
      for (const s of [...this.#streams]) s.stop();
      this.#streams.clear();
      this.#onLeft();
    };
    return quiet(
      this._command({ command: "leave", options: { name: this.name() } }).then(
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
    return this._command({
      command: "sendMessage",
      options: { roomConfig: { name: this.name() }, broadcast: true, text },
    });
  }

  // ---------- internal: used by RoomSession and the participants ----------

  /** @internal Sends a room command (`sendData {command, options}`). */
  _command(cmd: RoomCommand): Promise<void> {
    return this.#session.sendData(cmd);
  }

  /**
   * @internal A stream of this room (`custom: {name: room}`), stopped when we leave. Auto-restore restarts it only
   * while we are in the room and `wanted()` says yes.
   */
  _createStream(options: Omit<StreamOptions, "custom">, wanted?: () => boolean): Stream {
    const stream = sessionInternals(this.#session).createStream(
      { ...options, custom: { name: this.name() } },
      { restoreIf: () => !this.#left && (!wanted || wanted()) },
    );
    this.#streams.add(stream);
    void stream.ended().then(() => this.#streams.delete(stream));
    return stream;
  }

  /** @internal Sends `join` once the session is ESTABLISHED. */
  _join(): void {
    void this.#session.established().then(
      () => this.#sendJoin(),
      (e: unknown) => this.#joinFailed(failureInfo(e)),
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

  // ---------- internal ----------

  async #sendJoin(): Promise<void> {
    this.#stateWaiter ??= deferred<void>();
    try {
      await this._command({ command: "join", options: { name: this.name(), record: this.#opts.record ?? false } });
    } catch (e) {
      this.#joinFailed(failureInfo(e));
    }
  }

  #joinFailed(info: string | undefined): void {
    this.#onLeft(); // a refused room is forgotten, so join({name}) can be tried again on the same connection
    this.#joined.reject(new WcsError(`Could not join room ${this.name()}${info ? `: ${info}` : ""}`, info));
    this.#stateWaiter?.resolve();
    this.#stateWaiter = undefined;
    this.#events.emit(RoomEvent.FAILED, this, info);
  }

  #participant(login: string): Participant {
    let p = this.#participants.get(login);
    if (!p) this.#participants.set(login, (p = new Participant(this, login)));
    return p;
  }
}
