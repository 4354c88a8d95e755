/**
 * WebhookOutboxDO: a durable outbox of webhook events (protocol/webhooks.ts), one of the WEBHOOK_SHARDS shards
 * (`idFromName("webhooks-<n>")`, chosen by the event's subject: worker/webhooks.ts).
 *
 * {@link enqueue} stores the events in a SQLite table (in order, before it returns) and arms the alarm. The alarm
 * POSTs them to WEBHOOK_URL one at a time, oldest first, each signed per Standard Webhooks
 * (https://www.standardwebhooks.com/) with a timestamp of the attempt, 5 s timeout: a 2xx deletes the event; anything
 * else (another status, a timeout, no connection) stops the pass and the shard waits 1 s, 2 s, 4 s, … up to
 * WEBHOOK_RETRY_MAX_MS before it tries the same event again. So delivery is at least once (a receiver whose 2xx is
 * lost gets the event again, with the same `webhook-id`) and in order per shard. An event older than
 * WEBHOOK_MAX_AGE_S is dropped with an error log; a shard holding {@link MAX_OUTBOX_EVENTS} events drops its oldest
 * (error log) to take new ones: the newest facts matter most and the storage stays bounded.
 *
 * Why a Durable Object and not Cloudflare Queues: the retry schedule lives in the same storage as the events (no
 * message visibility timeouts to tune, no dead-letter queue to drain), events of one subject keep their order, it
 * needs no other product or binding, and `wrangler dev` runs it exactly as production does.
 */
import { DurableObject } from "cloudflare:workers";
import { webhookHeaders, webhookKey, type WebhookEvent } from "../protocol/webhooks.js";
import { config, type Config, type Env } from "./env.js";
import { configureLog, log } from "./log.js";
import { webhookRetryDelayMs } from "./webhook-events.js";

/** Most events one shard keeps; beyond, the oldest are dropped. */
export const MAX_OUTBOX_EVENTS = 10_000;
/** Timeout of one delivery attempt, ms. */
export const WEBHOOK_TIMEOUT_MS = 5000;
/** One alarm delivers for at most this long, then continues in a new alarm, ms. */
const PASS_BUDGET_MS = 30_000;

interface Row extends Record<string, SqlStorageValue> {
  seq: number;
  id: string;
  type: string;
  created_at: number;
  body: string;
}

export class WebhookOutboxDO extends DurableObject<Env> {
  private readonly cfg: Config;
  private readonly sql: SqlStorage;
  /** True while the alarm delivers: events enqueued meanwhile are picked up by the same pass. */
  private delivering = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.cfg = config(env);
    configureLog(env);
    this.sql = ctx.storage.sql;
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, type TEXT NOT NULL, created_at INTEGER NOT NULL, body TEXT NOT NULL)",
    );
  }

  /** Stores `events` for delivery, in this order; drops the oldest beyond {@link MAX_OUTBOX_EVENTS}. */
  async enqueue(events: WebhookEvent[]): Promise<void> {
    for (const e of events) {
      this.sql.exec("INSERT INTO outbox (id, type, created_at, body) VALUES (?, ?, ?, ?)", e.id, e.type, e.createdAt, JSON.stringify(e));
    }
    const count = this.count();
    if (count > MAX_OUTBOX_EVENTS) {
      const dropped = this.sql.exec<{ id: string; type: string }>("SELECT id, type FROM outbox ORDER BY seq LIMIT ?", count - MAX_OUTBOX_EVENTS).toArray();
      this.sql.exec("DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)", count - MAX_OUTBOX_EVENTS);
      log("error", "webhook_outbox_full", { dropped: dropped.length, ids: dropped.slice(0, 20).map((d) => d.id), types: [...new Set(dropped.map((d) => d.type))] });
    }
    if (!this.delivering && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
  }

  /** The stored events, oldest first (for tests and operators). */
  async pending(): Promise<{ id: string; type: string; createdAt: number }[]> {
    return this.sql.exec<Row>("SELECT seq, id, type, created_at, body FROM outbox ORDER BY seq").toArray().map((r) => ({ id: r.id, type: r.type, createdAt: r.created_at }));
  }

  /** Delivers what is due; schedules the next pass (now, after a backoff, or none when the outbox is empty). */
  override async alarm(): Promise<void> {
    this.delivering = true;
    let next: number | null = null;
    try {
      next = await this.deliver();
    } catch (err) {
      log("error", "webhook_pass_failed", { error: String(err) });
      next = Date.now() + webhookRetryDelayMs(1, this.cfg.WEBHOOK_RETRY_MAX_MS);
    } finally {
      this.delivering = false;
    }
    // events enqueued after the pass saw an empty table
    if (next === null && this.count() > 0) next = Date.now();
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  // ---- internals ----

  /** One pass, oldest first. Returns when the next pass is due, or null when nothing is left. */
  private async deliver(): Promise<number | null> {
    const url = this.cfg.WEBHOOK_URL;
    const key = this.cfg.WEBHOOK_SECRET === undefined ? null : webhookKey(this.cfg.WEBHOOK_SECRET);
    if (url === undefined || key === null) {
      // webhooks were turned off after these events were stored
      log("warn", "webhook_outbox_discarded", { events: this.count(), why: "WEBHOOK_URL is not set" });
      this.sql.exec("DELETE FROM outbox");
      return null;
    }
    const started = Date.now();
    const maxAgeMs = this.cfg.WEBHOOK_MAX_AGE_S * 1000;
    for (;;) {
      const row = this.sql.exec<Row>("SELECT seq, id, type, created_at, body FROM outbox ORDER BY seq LIMIT 1").toArray()[0];
      if (!row) {
        await this.setFailures(0);
        return null;
      }
      const now = Date.now();
      if (now - row.created_at > maxAgeMs) {
        log("error", "webhook_expired", { id: row.id, type: row.type, ageS: Math.round((now - row.created_at) / 1000) });
        this.sql.exec("DELETE FROM outbox WHERE seq = ?", row.seq);
        continue;
      }
      const failures = await this.failures();
      if (!(await this.post(url, key, row, failures + 1))) {
        await this.setFailures(failures + 1);
        return Date.now() + webhookRetryDelayMs(failures + 1, this.cfg.WEBHOOK_RETRY_MAX_MS);
      }
      this.sql.exec("DELETE FROM outbox WHERE seq = ?", row.seq);
      if (failures > 0) {
        log("info", "webhook_delivered_after_retries", { id: row.id, type: row.type, attempts: failures + 1 });
        await this.setFailures(0);
      }
      if (Date.now() - started > PASS_BUDGET_MS) return Date.now();
    }
  }

  /** One signed POST of `row`; true on a 2xx. */
  private async post(url: string, key: Uint8Array<ArrayBuffer>, row: Row, attempt: number): Promise<boolean> {
    const headers = await webhookHeaders(key, row.id, row.body);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", "user-agent": "wcs-edge-webhooks" },
        body: row.body,
        redirect: "manual",
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 300) return true;
      log("warn", "webhook_delivery_failed", { id: row.id, type: row.type, attempt, status: res.status });
    } catch (err) {
      log("warn", "webhook_delivery_failed", { id: row.id, type: row.type, attempt, error: String(err) });
    }
    return false;
  }

  private count(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
  }

  /** Failed attempts in a row (of the oldest event), kept in storage so an evicted shard keeps its backoff. */
  private async failures(): Promise<number> {
    return (await this.ctx.storage.get<number>("failures")) ?? 0;
  }

  private async setFailures(n: number): Promise<void> {
    if ((await this.failures()) !== n) await this.ctx.storage.put("failures", n);
  }
}
