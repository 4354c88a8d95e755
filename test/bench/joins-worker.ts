/**
 * The joins of `npm run bench:joins` (test/bench/joins.ts), and the worker it bundles with esbuild and runs in
 * Miniflare: one Durable Object per (run, layout) holds a published stream whose players join one request at a time.
 * A join makes the saves a real `play` makes in StreamDO (worker/stream-do.ts), naming the leg as StreamDO does:
 *   addPlayer: the PENDING leg is registered → save(leg); the node answered, the ICE deadline is armed → save(leg);
 *   onLegEvent connected: PENDING → PLAYING → save(leg).
 * The response carries what those saves wrote (keys, JSON bytes, deleted keys) and their time on the object's clock
 * (workerd's clock moves in 1 ms steps: only averages of it mean something). The response leaves only once the writes
 * are durable (the Durable Object output gate), so the caller's round trip includes committing them.
 *
 * Requests: POST /<layout>/<run>/publish, /<layout>/<run>/join, /<layout>/<run>/noop.
 */
import { StreamStore, type StoreStorage, type StreamState } from "../../worker/stream-store.js";
import type { LegRecord } from "../../worker/stream-types.js";

/**
 * records: the StreamStore as StreamDO uses it; records-all: the same, naming every player as changed on every save
 * (the JSON of every record compared on every save, what the store did before it looked only at named players);
 * single: the whole state under one key, rewritten on every save (StreamDO before issue 10 item 6).
 */
export type Layout = "records" | "records-all" | "single";
export const LAYOUTS: Layout[] = ["records", "records-all", "single"];

/** What one join wrote and how long its saves took (object clock, ms). */
export interface JoinResult {
  players: number;
  saves: number;
  keys: number;
  bytes: number;
  deletes: number;
  saveMs: number;
}

/** The ICE and media-node timeouts of the default config (wrangler.toml). */
const ICE_TIMEOUT_MS = 15_000;
const MEDIA_NODE_TIMEOUT_MS = 10_000;

/** A leg as StreamDO.newLeg makes it for a WCS session (no room, no custom). */
function newLeg(role: LegRecord["role"]): LegRecord {
  const now = Date.now();
  return {
    legId: crypto.randomUUID(),
    role,
    owner: { kind: "session", sessionId: crypto.randomUUID() },
    mediaSessionId: crypto.randomUUID(),
    appKey: "defaultApp",
    hasAudio: true,
    hasVideo: true,
    status: "PENDING",
    createdAt: now,
    deadline: now + ICE_TIMEOUT_MS + MEDIA_NODE_TIMEOUT_MS,
  };
}

/** A stream published and placed on a node, with no player yet. */
export function publishedStream(): StreamState {
  return {
    name: `bench-${crypto.randomUUID()}`,
    node: { nodeId: "node-a", bootId: crypto.randomUUID(), controlUrl: "http://127.0.0.1:8090" },
    publisher: { ...newLeg("publisher"), status: "PUBLISHING" },
    players: {},
    media: { videoCodec: "VP8", audioCodec: "opus" },
  };
}

/** Saves a stream's state in a layout; `changed`: the leg added, removed or changed, as StreamDO.save names it. */
export type Saver = (changed?: LegRecord) => Promise<void>;

export function saver(layout: Layout, storage: StoreStorage, state: () => StreamState): Saver {
  if (layout === "single") {
    return async () => {
      await storage.put({ state: state() });
    };
  }
  const store = new StreamStore(storage);
  return (changed) => {
    const s = state();
    return store.save(s, layout === "records-all" ? Object.keys(s.players) : changed ? [changed.legId] : []);
  };
}

/** One join, with the saves of StreamDO.play (see the file's docs). */
export async function join(state: StreamState, save: Saver): Promise<void> {
  const leg = newLeg("player");
  state.players[leg.legId] = leg;
  await save(leg);
  leg.deadline = Date.now() + ICE_TIMEOUT_MS;
  await save(leg);
  leg.status = "PLAYING";
  await save(leg);
}

/** Storage that logs what put() and delete() get, for counting after the timed saves (not inside them). */
function logging(storage: StoreStorage): { storage: StoreStorage; puts: Array<[string, unknown]>; deletes: string[] } {
  const puts: Array<[string, unknown]> = [];
  const deletes: string[] = [];
  return {
    puts,
    deletes,
    storage: {
      get: (key) => storage.get(key),
      list: (options) => storage.list(options),
      put: (entries) => {
        puts.push(...Object.entries(entries));
        return storage.put(entries);
      },
      delete: (keys) => {
        deletes.push(...keys);
        return storage.delete(keys);
      },
    },
  };
}

export class JoinsBenchDO {
  private state: StreamState = { name: "", node: null, publisher: null, players: {} };
  private readonly log: ReturnType<typeof logging>;
  private save: Saver | null = null;

  constructor(ctx: { storage: StoreStorage }) {
    this.log = logging(ctx.storage);
  }

  async fetch(req: Request): Promise<Response> {
    const [layout, , op] = new URL(req.url).pathname.split("/").slice(1) as [Layout, string, string];
    if (!LAYOUTS.includes(layout)) return new Response("no such layout", { status: 404 });
    const save = (this.save ??= saver(layout, this.log.storage, () => this.state));
    if (op === "noop") return Response.json({});
    if (op === "publish") {
      this.state = publishedStream();
      await save();
      return Response.json({});
    }
    if (op !== "join") return new Response("no such op", { status: 404 });

    const r: JoinResult = { players: 0, saves: 0, keys: 0, bytes: 0, deletes: 0, saveMs: 0 };
    const utf8 = new TextEncoder();
    await join(this.state, async (changed) => {
      this.log.puts.length = this.log.deletes.length = 0;
      const t0 = performance.now();
      await save(changed);
      r.saveMs += performance.now() - t0;
      r.saves++;
      r.keys += this.log.puts.length;
      for (const [, v] of this.log.puts) r.bytes += utf8.encode(JSON.stringify(v)).length;
      r.deletes += this.log.deletes.length;
    });
    r.players = Object.keys(this.state.players).length;
    return Response.json(r);
  }
}

export default {
  fetch(req: Request, env: { BENCH: { idFromName(name: string): unknown; get(id: unknown): { fetch(req: Request): Promise<Response> } } }): Promise<Response> {
    const [layout, run] = new URL(req.url).pathname.split("/").slice(1);
    return env.BENCH.get(env.BENCH.idFromName(`${layout}/${run}`)).fetch(req);
  },
};
