/**
 * NonceDO: remembers the nonces of the signed media-node calls the worker accepted (protocol/signing.ts), each until
 * its request expires, so that a captured request replayed within the clock window is refused. The nonces are
 * spread over {@link NONCE_SHARDS} objects by their first hex digit (`idFromName("nonces-<digit>")`); each keeps them
 * in storage (an evicted object must still know them) and forgets the expired ones in its alarm.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env.js";
import { configureLog } from "./log.js";

/** How many NonceDOs share the nonces (one per first hex digit). */
export const NONCE_SHARDS = 16;

/** The NonceDO that keeps `nonce` (a 32-hex-digit nonce, as verifyRequest checked). */
export const noncesOf = (env: Env, nonce: string) => env.NONCE.get(env.NONCE.idFromName(`nonces-${nonce.slice(0, 1)}`));

export class NonceDO extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    configureLog(env);
  }

  /**
   * Records `nonce` until `expiresAt` (ms since the epoch).
   * @returns false when it was recorded before: the request is a replay
   */
  async claim(nonce: string, expiresAt: number): Promise<boolean> {
    if ((await this.ctx.storage.get<number>(nonce)) !== undefined) return false;
    await this.ctx.storage.put(nonce, expiresAt);
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > expiresAt) await this.ctx.storage.setAlarm(expiresAt);
    return true;
  }

  /** Forgets the expired nonces; wakes again at the next expiry. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    let next = Infinity;
    const expired: string[] = [];
    for (const [nonce, exp] of await this.ctx.storage.list<number>()) {
      if (exp <= now) expired.push(nonce);
      else next = Math.min(next, exp);
    }
    for (let i = 0; i < expired.length; i += 128) await this.ctx.storage.delete(expired.slice(i, i + 128));
    if (next !== Infinity) await this.ctx.storage.setAlarm(next);
  }
}
