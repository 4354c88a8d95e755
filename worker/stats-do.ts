/**
 * StatsDO: the counts the worker's `/metrics` reports that no other object holds in one place — open WCS sessions,
 * active rooms and room participants (a single instance, `idFromName("global")`).
 *
 * The objects that own those things report changes, not state: a SessionDO adds 1 when it accepts its socket and
 * subtracts 1 once when the session ends (it keeps a storage flag so that a second end cannot count twice); a RoomDO
 * adds a participant per join and subtracts one per leave, and a room when its first participant joins / its last
 * one leaves. A scrape then reads three numbers instead of asking every object. Calls are fire-and-forget for the
 * reporters (`ctx.waitUntil`): a lost call skews a gauge, never a session. Gauges never go below zero (a decrement
 * that would is logged as `stats_underflow`: an object reported an end it had not counted, e.g. after this object's
 * storage was reset).
 *
 * One global object takes one call per session open and close and per room join and leave: fine up to the ~1,000
 * requests/s a Durable Object serves; shard it by key (like NonceDO) beyond that.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env.js";
import { configureLog, log } from "./log.js";

/** The gauges StatsDO keeps. */
export interface Gauges {
  /** WCS WebSocket sessions open now. */
  sessions: number;
  /** Rooms with at least one participant. */
  rooms: number;
  /** Participants of all rooms. */
  participants: number;
}

const KEY = "gauges";

/** The one StatsDO. */
export const statsOf = (env: Env) => env.STATS.get(env.STATS.idFromName("global"));

/** Reports `deltas` to the StatsDO without delaying the caller (errors are logged). */
export function reportStats(env: Env, ctx: { waitUntil(p: Promise<unknown>): void }, deltas: Partial<Gauges>): void {
  ctx.waitUntil(statsOf(env).add(deltas).catch((e: unknown) => log("warn", "stats_report_failed", { deltas, error: String(e) })));
}

export class StatsDO extends DurableObject<Env> {
  private gauges: Gauges = { sessions: 0, rooms: 0, participants: 0 };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    configureLog(env);
    ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get<Gauges>(KEY);
      if (saved) this.gauges = { ...this.gauges, ...saved };
    });
  }

  /** Adds each delta (integers, may be negative) to its gauge; a gauge never goes below 0. */
  async add(deltas: Partial<Gauges>): Promise<void> {
    for (const k of Object.keys(this.gauges) as (keyof Gauges)[]) {
      const d = deltas[k];
      if (d === undefined || !Number.isInteger(d) || d === 0) continue;
      const next = this.gauges[k] + d;
      if (next < 0) log("warn", "stats_underflow", { gauge: k, value: this.gauges[k], delta: d });
      this.gauges[k] = Math.max(0, next);
    }
    await this.ctx.storage.put(KEY, this.gauges);
  }

  /** The gauges now. */
  async read(): Promise<Gauges> {
    return { ...this.gauges };
  }
}
