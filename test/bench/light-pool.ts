/**
 * Parent side of light-player.ts: one forked process holding many node-datachannel WCS players.
 *
 *   const pool = await LightPool.start("light#1");
 *   await pool.add(wsUrl, "stream1", [1, 2, 3]);
 *   await pool.waitAll("PLAYING", 60_000);
 *   const snap = await pool.snapshot();
 *   await pool.stop(); await pool.close();
 */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { TERMINAL_STATUSES, type StreamStatus } from "../../protocol/index.js";
import { forkTs, LogTail, reap } from "./common.js";
import type { LightFromChild, LightPlayerInfo, LightToChild } from "./light-player.js";

const CHILD = fileURLToPath(new URL("./light-player.ts", import.meta.url));

type Req = LightToChild extends infer M ? (M extends { reqId: number } ? Omit<M, "reqId"> : never) : never;

export interface LightSnapshot {
  t: number;
  players: LightPlayerInfo[];
}

export class LightPool {
  /** id → last status. */
  readonly statuses = new Map<number, { status: string; info?: string; t: number }>();
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextReq = 1;
  private listeners = new Set<() => void>();
  private exitInfo: string | undefined;

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
    readonly log: LogTail,
  ) {
    child.on("message", (m) => this.onMessage(m as LightFromChild));
    child.once("exit", (code, sig) => {
      this.exitInfo = `exited code=${code} signal=${sig}`;
      for (const p of this.pending.values()) p.reject(new Error(`${label}: child ${this.exitInfo}\n${this.log.text()}`));
      this.pending.clear();
      this.changed();
    });
  }

  static async start(label: string): Promise<LightPool> {
    const log = new LogTail();
    const child = forkTs(CHILD, (l) => log.push(`[${label}] ${l}`));
    const pool = new LightPool(label, child, log);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${label}: not ready after 20 s\n${pool.log.text()}`)), 20_000);
      child.on("message", (m) => {
        if ((m as LightFromChild).type === "ready") {
          clearTimeout(t);
          resolve();
        }
      });
      child.once("exit", () => {
        clearTimeout(t);
        reject(new Error(`${label}: exited before ready\n${pool.log.text()}`));
      });
    });
    return pool;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private onMessage(m: LightFromChild): void {
    switch (m.type) {
      case "reply": {
        const p = this.pending.get(m.reqId);
        if (!p) return;
        this.pending.delete(m.reqId);
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(`${this.label}: ${m.error}`));
        return;
      }
      case "status":
        this.statuses.set(m.id, { status: m.status, ...(m.info ? { info: m.info } : {}), t: m.t });
        this.changed();
        return;
      case "log":
        this.log.push(`[${this.label}] ${m.msg}`);
        return;
    }
  }

  private changed(): void {
    for (const l of [...this.listeners]) l();
  }

  private call<T>(req: Req, timeoutMs = 60_000): Promise<T> {
    if (this.exitInfo || !this.child.connected) return Promise.reject(new Error(`${this.label}: child not running`));
    const reqId = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(reqId);
        reject(new Error(`${this.label}: ${req.type} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(reqId, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.child.send({ ...req, reqId } as LightToChild);
    });
  }

  /** Starts players `ids` on stream `name` (sessions opened `concurrency` at a time); resolves once every playStream was sent. */
  add(url: string, name: string, ids: number[], concurrency = 8): Promise<{ started: number; failed: { id: number; error: string }[] }> {
    // ids are reused round after round: a status left from an earlier round would count as this player's
    for (const id of ids) this.statuses.delete(id);
    return this.call({ type: "add", url, name, ids, concurrency }, 30_000 + ids.length * 1_000);
  }

  snapshot(): Promise<LightSnapshot> {
    return this.call<LightSnapshot>({ type: "snapshot" }, 15_000);
  }

  /** stopStream + close for `ids` (default: all); those players are forgotten by the child. */
  stop(ids?: number[]): Promise<{ stopped: number }> {
    return this.call({ type: "stop", ...(ids ? { ids } : {}) }, 30_000);
  }

  /**
   * Waits until every id in `ids` has `status` or a terminal status (or the timeout); returns the ids per outcome.
   * Never rejects on timeout: the caller reports what it got.
   */
  waitAll(ids: number[], status: string, timeoutMs: number): Promise<{ ok: number[]; failed: number[]; pending: number[] }> {
    const classify = (): { ok: number[]; failed: number[]; pending: number[] } => {
      const ok: number[] = [];
      const failed: number[] = [];
      const pending: number[] = [];
      for (const id of ids) {
        const s = this.statuses.get(id)?.status;
        if (s === status) ok.push(id);
        else if (s && TERMINAL_STATUSES.has(s as StreamStatus)) failed.push(id);
        else pending.push(id);
      }
      return { ok, failed, pending };
    };
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.listeners.delete(check);
        resolve(classify());
      };
      const check = (): void => {
        if (classify().pending.length === 0 || this.exitInfo) done();
      };
      const t = setTimeout(done, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    await reap(this.child, () => this.child.send({ type: "quit" } satisfies LightToChild), 5_000);
  }
}
