/**
 * The other participants of a room (room-module.js): their published streams, which we can play, and private
 * messages to them.
 */
import type { RoomCommand } from "../protocol/room.js";
import { WcsError } from "./events.js";
import type { Room } from "./room.js";
import type { Stream } from "./stream.js";
import type { StreamOptions } from "./stream-types.js";

/** Options of `participantStream.play()`: a stream's options without name/custom/display. */
export type RoomPlayOptions = Omit<StreamOptions, "name" | "custom" | "display">;

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
    const p = this.#room._command(cmd);
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
    // restored while the participant still publishes it
    const stream = this.#room._createStream({ ...options, name: this.#name, display }, () =>
      this.#participant._hasStream(this.#name),
    );
    this.#player = stream;
    return stream.play();
  }

  /** Stops our player of this stream. */
  stop(): void {
    this.#player?.stop();
  }
}
