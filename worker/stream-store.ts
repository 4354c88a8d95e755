/**
 * How a StreamDO's state is stored: one key for the stream (`meta`: name, node, publisher, media) and one key per
 * player leg (`player:<legId>`), so a join or a player's status change writes one small record, not every player's
 * (issue 10: the whole state used to be rewritten 2–3 times per join, O(players) bytes each time).
 *
 * {@link StreamStore.save} takes the whole in-memory state and writes only the records that changed since the last
 * save or load (compared as JSON), deleting the keys of players that are gone; an empty stream leaves no key. State
 * stored by older versions under the single key `state` is read once and replaced on the next save.
 */
import type { LegMedia } from "../protocol/index.js";
import type { LegRecord, NodeRef } from "./stream-types.js";

/** A stream's state (worker/stream-do.ts). */
export interface StreamState {
  name: string;
  node: NodeRef | null;
  publisher: LegRecord | null;
  players: Record<string, LegRecord>;
  /** The codecs the publisher sends (REST `videoCodec` / `audioCodec`). */
  media?: LegMedia;
}

const META = "meta";
const PLAYER = "player:";
const LEGACY = "state";
/** Most keys one storage put() / delete() takes (Durable Object storage API limit). */
const BATCH = 128;

type Meta = Omit<StreamState, "players">;

/** The stored state and whether it is in the older single-key layout; null when nothing is stored. */
async function readStored(storage: DurableObjectStorage): Promise<{ state: StreamState; legacy: boolean } | null> {
  const meta = await storage.get<Meta>(META);
  if (meta) {
    const players: Record<string, LegRecord> = {};
    for (const [key, leg] of await storage.list<LegRecord>({ prefix: PLAYER })) players[key.slice(PLAYER.length)] = leg;
    return { state: { ...meta, players }, legacy: false };
  }
  const old = await storage.get<StreamState>(LEGACY);
  return old ? { state: old, legacy: true } : null;
}

/** Reads the stored state (either layout); null when nothing is stored. */
export async function readStreamState(storage: DurableObjectStorage): Promise<StreamState | null> {
  return (await readStored(storage))?.state ?? null;
}

export class StreamStore {
  /** What each key holds in storage now, as JSON (what the last save or load saw). */
  private stored = new Map<string, string>();

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Loads the state (see {@link readStreamState}) and remembers what is stored. */
  async load(): Promise<StreamState | null> {
    const found = await readStored(this.storage);
    this.stored.clear();
    if (!found) return null;
    if (found.legacy) this.stored.set(LEGACY, ""); // replaced by the next save
    else for (const [key, value] of this.records(found.state)) this.stored.set(key, JSON.stringify(value));
    return found.state;
  }

  /**
   * Writes what changed in `state` since the last save: changed records in batched puts, removed ones deleted.
   * A stream with no publisher and no player is removed altogether.
   * @throws the storage's error (e.g. a value that cannot be stored); nothing is remembered as written then
   */
  async save(state: StreamState): Promise<void> {
    const empty = !state.publisher && Object.keys(state.players).length === 0;
    const next = new Map<string, string>();
    const puts: Record<string, unknown> = {};
    if (!empty) {
      for (const [key, value] of this.records(state)) {
        const json = JSON.stringify(value);
        next.set(key, json);
        if (this.stored.get(key) !== json) puts[key] = value;
      }
    }
    const gone = [...this.stored.keys()].filter((k) => !next.has(k));
    const keys = Object.keys(puts);
    for (let i = 0; i < keys.length; i += BATCH) {
      await this.storage.put(Object.fromEntries(keys.slice(i, i + BATCH).map((k) => [k, puts[k]])));
    }
    for (let i = 0; i < gone.length; i += BATCH) await this.storage.delete(gone.slice(i, i + BATCH));
    this.stored = next;
  }

  private *records(state: StreamState): Generator<[string, unknown]> {
    const { players, ...meta } = state;
    yield [META, meta];
    for (const [legId, leg] of Object.entries(players)) yield [PLAYER + legId, leg];
  }
}
