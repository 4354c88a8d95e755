/**
 * The node → worker link: heartbeats (which also register the node) and leg events, both signed HTTP POSTs
 * (`protocol/signing.ts`, `protocol/media-node.ts`):
 *
 *   POST WORKER_URL/internal/nodes/heartbeat  NodeHeartbeat, every `intervalMs` from start, sent by a thread of its own
 *                                             (media-node/heartbeat.ts) so that a starved media loop still heartbeats
 *   POST WORKER_URL/internal/nodes/events     LegEvent, in order per leg, retried a few times
 *   POST WORKER_URL/internal/nodes/relay-events  RelayEvent (protocol/relay.ts), in order per relay, retried alike
 *   POST WORKER_URL/internal/nodes/deregister NodeDeregister, once, at the end of a drain (media-node/main.ts)
 *
 * While the worker is unreachable heartbeats keep being tried quietly: one log line per change of state
 * (registered, unreachable with a reason, rejected with a status), not one per attempt.
 */
import type { Logger } from "pino";
import { DeregisterResponse, type LegEvent, MediaNodePaths, type NodeDeregister, type NodeLoad } from "../protocol/media-node.js";
import { signedFetch } from "../protocol/signing.js";
import { RelayPaths, type RelayEvent } from "../protocol/relay.js";
import { HeartbeatThread, type HeartbeatThreadConfig, type NodeSnapshot } from "./heartbeat.js";
import { describeError, HttpStatusError, signedPost } from "./signed-post.js";

/** The node's identity and heartbeat settings (as the heartbeat thread takes them), plus what the link reads. */
export interface WorkerLinkOptions extends Omit<HeartbeatThreadConfig, "firstSeq"> {
  /** Current leg counts. */
  counts: () => Omit<NodeLoad, "cpuPercent">;
  /** The legs held now (protocol/media-node.ts HeldLeg, oldest first, at most MAX_HEARTBEAT_LEGS) and their number. */
  held: () => Pick<NodeSnapshot, "legs" | "legCount">;
  log: Logger;
  /** Whether the node is draining now (heartbeats say so); default never. */
  draining?: () => boolean;
  /** Attempts per leg event (default 5), with backoff 250 ms × 2^n between them. */
  eventAttempts?: number;
}

/** Leg event without the node identity (added here). */
export type LegEventBody = Omit<LegEvent, "nodeId" | "bootId">;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class WorkerLink {
  private linkState = "starting";
  private readonly heartbeats: HeartbeatThread;
  /** Tail of each leg's event chain, for ordering. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly o: WorkerLinkOptions) {
    const { workerUrl, secret, nodeId, bootId, controlUrl, intervalMs, maxLegs } = o;
    this.heartbeats = new HeartbeatThread({
      config: { workerUrl, secret, nodeId, bootId, controlUrl, intervalMs, maxLegs },
      snapshot: () => ({ counts: o.counts(), ...o.held(), ...(o.draining?.() ? { draining: true } : {}) }),
      onBeat: (state) => this.setLinkState(state),
      log: o.log,
    });
  }

  /** The node's load: current leg counts, and the process CPU measured over the last heartbeat period. */
  load(): NodeLoad {
    return { ...this.o.counts(), cpuPercent: this.heartbeats.cpuPercent };
  }

  /** Starts the heartbeat thread: the first heartbeat at once (with the first snapshot), then one every `intervalMs`. */
  start(): void {
    this.heartbeats.start();
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

  /**
   * Deregisters this incarnation (`POST /internal/nodes/deregister`): the worker ends the streams still placed here
   * FAILED "media node shutting down" before it answers. Stop heartbeats first ({@link stop}): the registry refuses
   * any later heartbeat of this `bootId` anyway. One attempt; never throws.
   * @param timeoutMs the call is aborted after this long
   * @returns the worker's answer, or the reason it failed ("unreachable (ECONNREFUSED)", "rejected with HTTP 404" …)
   */
  async deregister(timeoutMs: number): Promise<{ ok: true; known: boolean; streams: number } | { ok: false; reason: string }> {
    const body: NodeDeregister = { nodeId: this.o.nodeId, bootId: this.o.bootId };
    try {
      const res = await signedFetch(this.o.secret, this.o.workerUrl + MediaNodePaths.deregister, "POST", body, timeoutMs);
      if (!res.ok) {
        await res.arrayBuffer().catch(() => undefined);
        throw new HttpStatusError(res.status);
      }
      const parsed = DeregisterResponse.safeParse(await res.json());
      if (!parsed.success) return { ok: false, reason: "malformed answer" };
      return { ok: true, known: parsed.data.known, streams: parsed.data.streams };
    } catch (e) {
      return { ok: false, reason: describeError(e) };
    }
  }

  /** Stops heartbeats (queued events still go out; see {@link flush}). */
  stop(): void {
    this.heartbeats.stop();
  }
}
