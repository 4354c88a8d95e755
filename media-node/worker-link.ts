/**
 * The node → worker link: heartbeats (which also register the node) and leg events, both signed HTTP POSTs
 * (`protocol/signing.ts`, `protocol/media-node.ts`):
 *
 *   POST WORKER_URL/internal/nodes/heartbeat  NodeHeartbeat, every `intervalMs` from start
 *   POST WORKER_URL/internal/nodes/events     LegEvent, in order per leg, retried a few times
 *   POST WORKER_URL/internal/nodes/relay-events  RelayEvent (protocol/relay.ts), in order per relay, retried alike
 *
 * While the worker is unreachable heartbeats keep being tried quietly: one log line per change of state
 * (registered, unreachable with a reason, rejected with a status), not one per attempt.
 */
import type { Logger } from "pino";
import { type LegEvent, MediaNodePaths, type NodeHeartbeat, type NodeLoad } from "../protocol/media-node.js";
import { RelayPaths, type RelayEvent } from "../protocol/relay.js";
import { isTimeout, signedFetch } from "../protocol/signing.js";

export interface WorkerLinkOptions {
  /** Base URL of the worker, without trailing slash. */
  workerUrl: string;
  secret: string;
  nodeId: string;
  bootId: string;
  controlUrl: string;
  /** Heartbeat period, ms. */
  intervalMs: number;
  /** Announced leg cap; 0 = none. */
  maxLegs: number;
  /** Current leg counts. */
  counts: () => Omit<NodeLoad, "cpuPercent">;
  log: Logger;
  /** Attempts per leg event (default 5), with backoff 250 ms × 2^n between them. */
  eventAttempts?: number;
}

/** Leg event without the node identity (added here). */
export type LegEventBody = Omit<LegEvent, "nodeId" | "bootId">;

/** Thrown for a non-2xx answer; `status` is the HTTP status. */
class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/**
 * A signed JSON POST (`signedFetch`, protocol/signing.ts) whose answer is drained (so the connection is reused).
 * @throws HttpStatusError on non-2xx; signedFetch's errors on network failure or timeout
 */
async function signedPost(secret: string, url: string, body: unknown, timeoutMs: number): Promise<void> {
  const res = await signedFetch(secret, url, "POST", body, timeoutMs);
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new HttpStatusError(res.status);
}

function describeError(e: unknown): string {
  if (e instanceof HttpStatusError) return `rejected with HTTP ${e.status}`;
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (isTimeout(e)) return "timed out";
  return `unreachable (${err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e)})`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** CPU use of this process since the previous call, % of one core (process.cpuUsage: user + system µs). */
class CpuMeter {
  private last = process.cpuUsage();
  private lastAt = process.hrtime.bigint();

  sample(): number {
    const now = process.hrtime.bigint();
    const used = process.cpuUsage(this.last);
    const wallUs = Number(now - this.lastAt) / 1000;
    this.last = process.cpuUsage();
    this.lastAt = now;
    if (wallUs <= 0) return 0;
    return Math.max(0, Math.round(((used.user + used.system) / wallUs) * 1000) / 10);
  }
}

export class WorkerLink {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private linkState = "starting";
  private readonly cpu = new CpuMeter();
  private lastCpu = 0;
  /** `seq` of the last heartbeat sent (NodeHeartbeat.seq). */
  private seq = 0;
  /** Tail of each leg's event chain, for ordering. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly o: WorkerLinkOptions) {}

  /** The load reported in the last heartbeat (cpuPercent over the last interval). */
  load(): NodeLoad {
    return { ...this.o.counts(), cpuPercent: this.lastCpu };
  }

  /** Sends the first heartbeat now, then one every `intervalMs`. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.cpu.sample();
    void this.beat();
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    const started = performance.now();
    this.lastCpu = this.cpu.sample();
    const hb: NodeHeartbeat = {
      nodeId: this.o.nodeId,
      bootId: this.o.bootId,
      controlUrl: this.o.controlUrl,
      load: this.load(),
      maxLegs: this.o.maxLegs,
      intervalMs: this.o.intervalMs,
      seq: ++this.seq,
    };
    const timeout = Math.min(5000, Math.max(1000, 2 * this.o.intervalMs));
    try {
      await signedPost(this.o.secret, this.o.workerUrl + MediaNodePaths.heartbeat, hb, timeout);
      this.setLinkState("registered");
    } catch (e) {
      this.setLinkState(describeError(e));
    }
    if (this.stopped) return;
    const wait = Math.max(0, this.o.intervalMs - (performance.now() - started));
    this.timer = setTimeout(() => void this.beat(), wait);
  }

  private setLinkState(state: string): void {
    if (state === this.linkState) return;
    const previous = this.linkState;
    this.linkState = state;
    const url = this.o.workerUrl;
    if (state === "registered") {
      this.o.log.info({ workerUrl: url }, previous === "starting" ? "registered with the worker" : "worker reachable again");
    } else {
      this.o.log.warn(
        { workerUrl: url, intervalMs: this.o.intervalMs },
        `worker heartbeat ${state}; retrying every ${this.o.intervalMs} ms`,
      );
    }
  }

  /**
   * Queues a leg event. Events of one leg are delivered in order; each is retried on network errors and 5xx/408/429
   * (up to `eventAttempts`), then dropped with a warning.
   */
  sendEvent(ev: LegEventBody): void {
    const body: LegEvent = { nodeId: this.o.nodeId, bootId: this.o.bootId, ...ev };
    if (body.detail && body.detail.length > 1024) body.detail = body.detail.slice(0, 1024);
    this.enqueue(ev.legId, MediaNodePaths.events, body);
  }

  /** Queues a relay event (protocol/relay.ts), delivered like leg events (in order per relay, retried). */
  sendRelayEvent(ev: Omit<RelayEvent, "nodeId" | "bootId">): void {
    const body: RelayEvent = { nodeId: this.o.nodeId, bootId: this.o.bootId, ...ev };
    if (body.info && body.info.length > 1024) body.info = body.info.slice(0, 1024);
    this.enqueue(`relay:${ev.relayId}`, RelayPaths.events, body);
  }

  private enqueue(key: string, path: string, body: LegEvent | RelayEvent): void {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.deliver(path, body));
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  private async deliver(path: string, ev: LegEvent | RelayEvent): Promise<void> {
    const attempts = this.o.eventAttempts ?? 5;
    for (let i = 0; i < attempts; i++) {
      try {
        await signedPost(this.o.secret, this.o.workerUrl + path, ev, 5000);
        return;
      } catch (e) {
        const retriable = !(e instanceof HttpStatusError) || e.status >= 500 || e.status === 408 || e.status === 429;
        if (!retriable || i === attempts - 1) {
          this.o.log.warn({ path, event: ev, reason: describeError(e) }, "event dropped");
          return;
        }
        await sleep(250 * 2 ** i);
      }
    }
  }

  /** Waits until queued events are delivered (or dropped), at most `timeoutMs`. */
  async flush(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
    await Promise.race([Promise.all([...this.chains.values()]), timeout]);
    clearTimeout(timer);
  }

  /** Stops heartbeats (queued events still go out; see {@link flush}). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
