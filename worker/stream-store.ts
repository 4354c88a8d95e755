/**
 * How a StreamDO's state is stored: one key for the stream (`meta`: name, node, publisher, media) and one key per
 * player leg (`player:<legId>`), so a join or a player's status change writes one small record, not every player's
 * (issue 10: the whole state used to be rewritten 2–3 times per join, O(players) bytes each time).
 *
 * {@link StreamStore.save} takes the whole in-memory state and writes only the records that changed since the last
 * save or load (compared as JSON), deleting the keys of players that are gone; an empty stream leaves no key. It
 * looks only at the player records the caller names as added, removed or changed (at all of them when the players
 * object was replaced), so a join also costs the same CPU at any audience (`npm run bench:joins`,
 * test/bench/joins.ts). State stored by older versions under the single key `state` is read once and replaced on the
 * next save.
 */
import type { LegMedia } from "../protocol/index.js";
import type { EdgeRecord, LegRecord, NodeRef } from "./stream-types.js";

/** A stream's state (worker/stream-do.ts). */
export interface StreamState {
  name: string;
  node: NodeRef | null;
  publisher: LegRecord | null;
  players: Record<string, LegRecord>;
  /** The codecs the publisher sends (REST `videoCodec` / `audioCodec`). */
  media?: LegMedia;
  /** The cascade's edge nodes by node id (stored with the stream's own record: there are few). */
  edges?: Record<string, EdgeRecord>;
}

const META = "meta";
const PLAYER = "player:";
const LEGACY = "state";
/** Most keys one storage put() / delete() takes (Durable Object storage API limit). */
const BATCH = 128;

type Meta = Omit<StreamState, "players">;

/**
 * What the store uses of Durable Object storage (`DurableObjectStorage` has it), so that the module needs no Workers
 * types (the joins benchmark, test/bench/joins-worker.ts, bundles it).
 */
export interface StoreStorage {
  get<T>(key: string): Promise<T | undefined>;
  list<T>(options: { prefix: string }): Promise<Map<string, T>>;
  put(entries: Record<string, unknown>): Promise<void>;
  delete(keys: string[]): Promise<number>;
}

/** The stored state and whether it is in the older single-key layout; null when nothing is stored. */
async function readStored(storage: StoreStorage): Promise<{ state: StreamState; legacy: boolean } | null> {
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
export async function readStreamState(storage: StoreStorage): Promise<StreamState | null> {
  return (await readStored(storage))?.state ?? null;
}

export class StreamStore {
  /** The stored `meta` record as JSON; null when none is stored. */
  private meta: string | null = null;
  /** Each stored player record: the object last saved (or loaded) for it and its JSON. */
  private players = new Map<string, { leg: LegRecord; json: string }>();
  /** The `players` object of the state last saved or loaded: another one is compared record by record. */
  private seen: StreamState["players"] | null = null;
  /** Legs named as changed since the last save that succeeded. */
  private dirty = new Set<string>();
  /** The older single-key layout is stored (`state`): deleted by the next save. */
  private legacy = false;

  constructor(private readonly storage: StoreStorage) {}

  /** Loads the state (see {@link readStreamState}) and remembers what is stored. */
  async load(): Promise<StreamState | null> {
    const found = await readStored(this.storage);
    this.meta = null;
    this.players.clear();
    this.seen = null;
    this.dirty.clear();
    this.legacy = found?.legacy ?? false;
    if (!found || found.legacy) return found?.state ?? null; // a legacy state is written anew by the next save
    const { players, ...meta } = found.state;
    this.meta = JSON.stringify(meta);
    for (const [legId, leg] of Object.entries(players)) this.players.set(legId, { leg, json: JSON.stringify(leg) });
    this.seen = players;
    return found.state;
  }

  /**
   * Writes what changed in `state` since the last save: changed records in batched puts, removed ones deleted.
   * A stream with no publisher and no player is removed altogether.
   *
   * The cost follows what changed, not the audience. The stream's own record (name, node, publisher, media) is always
   * compared. Player records are compared one by one only when `state.players` is another object than the last save
   * or load saw (the state was replaced); otherwise only the players named in `changed`. So a caller that adds,
   * removes or changes a player in place names it; one that replaces `players` needs not.
   * @param changed ids of the legs added, removed or changed in place since the last save (others are ignored)
   * @throws the storage's error (e.g. a value that cannot be stored); nothing is remembered as written then, and the
   *   legs named in `changed` are compared again by the next save
   */
  async save(state: StreamState, changed: Iterable<string> = []): Promise<void> {
    for (const legId of changed) this.dirty.add(legId);
    const { players, ...meta } = state;
    const empty = !state.publisher && Object.keys(players).length === 0; // players and no publisher: rare
    const all = players !== this.seen;
    const puts: Record<string, unknown> = {};
    const saved: Array<[string, { leg: LegRecord; json: string }]> = [];
    const gone: string[] = [];
    const metaJson = empty ? null : JSON.stringify(meta);
    if (metaJson !== null && metaJson !== this.meta) puts[META] = meta;
    if (empty) gone.push(...this.players.keys());
    else {
      for (const legId of all ? Object.keys(players) : this.dirty) {
        const leg = Object.hasOwn(players, legId) ? players[legId] : undefined;
        const was = this.players.get(legId);
        if (!leg) {
          if (was) gone.push(legId);
          continue;
        }
        if (was?.leg === leg && !this.dirty.has(legId)) continue;
        const json = JSON.stringify(leg);
        saved.push([legId, { leg, json }]);
        if (was?.json !== json) puts[PLAYER + legId] = leg;
      }
      if (all) for (const legId of this.players.keys()) if (!Object.hasOwn(players, legId)) gone.push(legId);
    }
    const deletes = gone.map((id) => PLAYER + id);
    if (this.meta !== null && metaJson === null) deletes.push(META);
    if (this.legacy) deletes.push(LEGACY);
    const keys = Object.keys(puts);
    for (let i = 0; i < keys.length; i += BATCH) {
      await this.storage.put(Object.fromEntries(keys.slice(i, i + BATCH).map((k) => [k, puts[k]])));
    }
    for (let i = 0; i < deletes.length; i += BATCH) await this.storage.delete(deletes.slice(i, i + BATCH));
    this.meta = metaJson;
    for (const id of gone) this.players.delete(id);
    for (const [id, rec] of saved) this.players.set(id, rec);
    this.seen = players;
    this.dirty.clear();
    this.legacy = false;
  }
}
