/**
 * Stream events in the StreamDO (docs/protocols.md "Stream events"; WCS docs "Stream event passing to subscribers"):
 * a publisher's `sendStreamEvent` (or REST `/stream/event/send`) is relayed as `notifyStreamEvent` to every player of
 * the stream, each with its own mediaSessionId, through the owner table (worker/leg-owners.ts `notifyEvent`). Mute
 * events also set the stream's `audioState` / `videoState`, kept on the publisher's leg record (persisted with it),
 * which every stream object of the stream shows: its players' PLAYING status and REST `/stream/find`. Pure functions
 * and one delivery loop; the StreamDO (worker/stream-do.ts) decides who may send and when.
 */
import { isMuteEvent, muteEventPayload, MUTE_EVENTS, type StreamEvent, type StreamEventType } from "../protocol/index.js";
import type { Env } from "./env.js";
import { ownerRules } from "./leg-owners.js";
import type { LegRecord } from "./stream-types.js";

/**
 * Records the mute state a mute event announces on the publisher's leg (`audioState` / `videoState` `{muted}`).
 * @returns false for an event that is not a mute event (nothing changed)
 */
export function applyMuteEvent(publisher: LegRecord, type: StreamEventType): boolean {
  if (!isMuteEvent(type)) return false;
  const { kind, muted } = MUTE_EVENTS[type];
  if (kind === "audio") publisher.audioState = { muted };
  else publisher.videoState = { muted };
  return true;
}

/**
 * `leg` as its stream object shows it (worker/stream-types.ts statusEvent): a player shows its publisher's mute
 * states (a Web SDK player reads them with getAudioState() / getVideoState()); a publisher shows its own.
 */
export function withPublisherMute(leg: LegRecord, publisher: LegRecord | null): LegRecord {
  if (leg.role !== "player" || !publisher) return leg;
  const { audioState, videoState } = publisher;
  return { ...leg, ...(audioState ? { audioState } : {}), ...(videoState ? { videoState } : {}) };
}

/**
 * Tells every player in `players` the event `type` of the stream `stream`, each with its own mediaSessionId, through
 * its owner's `notifyEvent` (owners without a channel for stream events are skipped). A mute event's payload gets the
 * stream's name (`payload.streamName`, protocol/stream-events-types.ts muteEventPayload); a data event's payload goes
 * as it is. Deliveries run in parallel and never throw.
 * @param payload the validated payload (protocol/stream-events.ts SendStreamEventRequest / StreamEventSendBody)
 * @returns how many players were told
 */
export async function relayToPlayers(env: Env, stream: string, players: LegRecord[], type: StreamEventType, payload: unknown): Promise<number> {
  const relayed = isMuteEvent(type) ? muteEventPayload(payload, stream) : payload;
  const tasks: Promise<void>[] = [];
  for (const player of players) {
    const notify = ownerRules(player.owner).notifyEvent;
    if (!notify) continue;
    const event = { mediaSessionId: player.mediaSessionId, type, payload: relayed } as StreamEvent;
    tasks.push(notify(env, player.owner, player, stream, event));
  }
  await Promise.all(tasks);
  return tasks.length;
}

/**
 * Runs tasks one after the other, in the order they were given, each after the previous one settled (its failure
 * does not stop the next). Stream events go through one per SessionDO (a Durable Object takes the next WebSocket frame
 * while the previous one waits for the StreamDO) and one per StreamDO, so players get a stream's events in the order
 * they were sent. In memory only: an evicted or hibernated object has nothing in flight.
 */
export class InOrder {
  #last: Promise<unknown> = Promise.resolve();

  /** Runs `task` after the tasks given before it; settles as `task` does. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#last.then(task);
    this.#last = next.catch(() => undefined);
    return next;
  }
}
