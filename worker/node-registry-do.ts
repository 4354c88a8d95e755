/**
 * NodeRegistryDO: the one registry of media nodes (a single instance, `idFromName("global")`).
 *
 * Nodes announce themselves with heartbeats (protocol/media-node.ts NodeHeartbeat). A node is live while its last
 * heartbeat is younger than {@link MISSED_HEARTBEATS} periods; the alarm checks every period and declares silent
 * nodes lost, telling each StreamDO placed on them (`onNodeLost`), so their clients get FAILED within seconds and
 * the names become free. A heartbeat with a new `bootId` means the process restarted: the old incarnation is lost.
 * Placement puts a new stream on the live node with the fewest legs (reported load + streams placed since).
 * Heartbeats that list the node's legs are reconciled with the StreamDOs (worker/leg-reconcile.ts): legs no StreamDO
 * knows are deleted on the node (the zombies of a node that was declared lost and came back), StreamDO legs the
 * node no longer holds end FAILED.
 * A draining node (its heartbeats say `draining`) gets no new stream; at the end of its drain it deregisters
 * ({@link NodeRegistryDO.deregister}): forgotten at once, its streams end FAILED "media node shutting down", and a
 * late heartbeat of that incarnation cannot bring it back.
 */
import { DurableObject } from "cloudflare:workers";
import type { EventLoopStats, NodeHeartbeat, NodeLoad } from "../protocol/index.js";
import { config, relaysOf, streamOf, type Env } from "./env.js";
import { planReconcile, RELEASED_GRACE_MS, type ReconcilePlan } from "./leg-reconcile.js";
import { configureLog, log } from "./log.js";
import { MediaNodeClient } from "./media-node-client.js";
import type { NodeRef } from "./stream-types.js";

/** A node is lost after this many heartbeat periods without one (and a failed probe, see {@link PROBE_TIMEOUT_MS}). */
export const MISSED_HEARTBEATS = 3;

/**
 * Before a node whose heartbeats stopped is declared lost, its control API is asked (`GET /v1/status`, signed) for at
 * most this long, ms (a node busy tearing down hundreds of legs answered in over 1.5 s): heartbeats can be late while
 * the node is fine — the worker or the network between them is overloaded (measured with `bench:fanout` at 512 players on one 2-core machine: heartbeats timed out in wrangler dev
 * while the node served). A node whose same incarnation answers stays live; a dead one refuses the connection at
 * once and is lost; a probe that times out is given one more (next alarm): a node whose main loop was blocked over 3 s
 * tearing down 50 legs while wrangler dev answered its heartbeats 503 was otherwise declared lost (`bench:fanout`,
 * N=512). A frozen node therefore costs two of these timeouts.
 */
export const PROBE_TIMEOUT_MS = 3000;

/** How long answered probes may stand in for heartbeats, ms: a node whose heartbeats never come back is lost after it. */
export const PROBE_GRACE_MS = 30_000;

export interface NodeEntry extends NodeRef {
  lastSeen: number;
  intervalMs: number;
  maxLegs: number;
  load: NodeLoad;
  /** Stream names placed on this node (each has its publisher leg there). */
  streams: string[];
  /** Placements since the last heartbeat: legs the reported load does not count yet. */
  placedSinceHeartbeat: number;
  /** `seq` of the last heartbeat taken from this incarnation. */
  seq: number;
  /** When its legs were last reconciled with the StreamDOs (ms), if ever. */
  reconciledAt?: number;
  /** Its main event loop, as last reported (protocol/media-node.ts EventLoopStats). */
  eventLoop?: EventLoopStats;
  /** Legs it holds, as last reported. */
  legCount?: number;
  /** Its last heartbeat said `draining`: no new stream is placed on it. */
  draining?: boolean;
  /** Its software version, as last reported (protocol/media-node.ts NodeHeartbeat `version`). */
  version?: string;
  /** When an answered probe first stood in for its missing heartbeats (ms; cleared by the next heartbeat). */
  probedSince?: number;
  /** A probe of its silence timed out (cleared by a heartbeat or an answered probe): the next timeout loses it. */
  probeTimedOut?: boolean;
}

/** What a probe of a silent node found (see {@link PROBE_TIMEOUT_MS}). */
type ProbeOutcome = "answered" | "timeout" | "failed";

/** How long a deregistered incarnation's late heartbeats are refused, ms. */
export const DEREGISTERED_MEMORY_MS = 10 * 60_000;

/** StreamDOs asked at once, and node DELETEs sent at once, by one reconcile. */
const RECONCILE_CONCURRENCY = 8;

export class NodeRegistryDO extends DurableObject<Env> {
  private nodes = new Map<string, NodeEntry>();
  /** Nodes whose reconcile is running (in memory: an evicted object simply reconciles again). */
  private readonly reconciling = new Set<string>();
  /** nodeId → stream name → when it was released from the node (ms; in memory, pruned after RELEASED_GRACE_MS). */
  private readonly released = new Map<string, Map<string, number>>();
  /** bootId of each incarnation that deregistered → when (ms; in memory, pruned after DEREGISTERED_MEMORY_MS). */
  private readonly deregistered = new Map<string, number>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    configureLog(env);
    ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get<NodeEntry[]>("nodes");
      for (const n of saved ?? []) this.nodes.set(n.nodeId, n);
    });
  }

  /**
   * Registers or refreshes a node. A changed `bootId` ends every stream of the previous incarnation.
   * @returns false (nothing changed) for a stale heartbeat: same incarnation, `seq` not above the last one taken
   */
  async heartbeat(hb: NodeHeartbeat, now = Date.now()): Promise<boolean> {
    const prev = this.nodes.get(hb.nodeId);
    if (this.deregistered.has(hb.bootId)) {
      log("warn", "media_node_heartbeat_after_deregister", { nodeId: hb.nodeId, bootId: hb.bootId, seq: hb.seq });
      return false;
    }
    if (prev && prev.bootId === hb.bootId && hb.seq <= prev.seq) {
      log("warn", "media_node_stale_heartbeat", { nodeId: hb.nodeId, bootId: hb.bootId, seq: hb.seq, lastSeq: prev.seq });
      return false;
    }
    if (prev && prev.bootId !== hb.bootId) {
      log("warn", "media_node_restarted", { nodeId: hb.nodeId, oldBootId: prev.bootId, bootId: hb.bootId });
      this.nodes.delete(hb.nodeId);
      this.notifyLost(prev);
    }
    const entry: NodeEntry = {
      nodeId: hb.nodeId,
      bootId: hb.bootId,
      controlUrl: hb.controlUrl,
      lastSeen: now,
      intervalMs: hb.intervalMs,
      maxLegs: hb.maxLegs,
      load: hb.load,
      streams: prev && prev.bootId === hb.bootId ? prev.streams : [],
      placedSinceHeartbeat: 0,
      seq: hb.seq,
      ...(prev && prev.bootId === hb.bootId && prev.reconciledAt !== undefined ? { reconciledAt: prev.reconciledAt } : {}),
      ...(hb.eventLoop ? { eventLoop: hb.eventLoop } : {}),
      ...(hb.legCount !== undefined ? { legCount: hb.legCount } : {}),
      ...(hb.draining ? { draining: true } : {}),
      ...(hb.version !== undefined ? { version: hb.version } : {}),
    };
    if (!!hb.draining !== !!prev?.draining && prev?.bootId === hb.bootId) {
      log(hb.draining ? "warn" : "info", hb.draining ? "media_node_draining" : "media_node_drain_cancelled", { nodeId: hb.nodeId, bootId: hb.bootId, streams: entry.streams.length, legs: hb.legCount });
    }
    if (!prev || prev.bootId !== hb.bootId) {
      log("info", "media_node_registered", { nodeId: hb.nodeId, bootId: hb.bootId, controlUrl: hb.controlUrl, seq: hb.seq, legs: hb.legCount });
    }
    const starved = (e?: EventLoopStats) => !!e && e.snapshotAgeMs > 2 * hb.intervalMs;
    if (starved(hb.eventLoop) !== starved(prev?.eventLoop)) {
      log(starved(hb.eventLoop) ? "warn" : "info", starved(hb.eventLoop) ? "media_node_loop_starved" : "media_node_loop_recovered", { nodeId: hb.nodeId, ...hb.eventLoop });
    }
    const plan = this.reconciling.has(hb.nodeId)
      ? null
      : planReconcile({
          placed: entry.streams,
          recentlyReleased: this.recentlyReleased(hb.nodeId, now),
          legs: hb.legs,
          legCount: hb.legCount,
          snapshotAgeMs: hb.eventLoop?.snapshotAgeMs,
          intervalMs: hb.intervalMs,
          reconciledAt: entry.reconciledAt,
          now,
        });
    if (plan) entry.reconciledAt = now;
    this.nodes.set(hb.nodeId, entry);
    await this.save();
    if (plan) {
      this.reconciling.add(hb.nodeId);
      this.ctx.waitUntil(
        this.reconcile(entry, plan)
          .catch((err: unknown) => log("error", "node_reconcile_failed", { nodeId: entry.nodeId, error: String(err) }))
          .finally(() => this.reconciling.delete(hb.nodeId)),
      );
    }
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(now + hb.intervalMs);
    return true;
  }

  /**
   * Picks the least-loaded live node for `streamName` (none of `exclude`, node ids that just refused it) and records
   * the placement; null when no node is live.
   */
  async allocate(streamName: string, now = Date.now(), exclude: readonly string[] = []): Promise<NodeRef | null> {
    let best: NodeEntry | null = null;
    let bestScore = Infinity;
    for (const n of this.nodes.values()) {
      if (exclude.includes(n.nodeId)) continue;
      if (!this.isLive(n, now) || n.draining) continue;
      const legs = n.load.publishers + n.load.players;
      if (n.maxLegs > 0 && legs + n.placedSinceHeartbeat >= n.maxLegs) continue;
      const score = legs + n.streams.length;
      if (score < bestScore) (best = n), (bestScore = score);
    }
    if (!best) return null;
    if (!best.streams.includes(streamName)) best.streams.push(streamName);
    best.placedSinceHeartbeat = best.placedSinceHeartbeat + 1;
    await this.save();
    return { nodeId: best.nodeId, bootId: best.bootId, controlUrl: best.controlUrl };
  }

  /** Forgets the placement of `streamName` on `nodeId` (the stream ended); ignored for another incarnation. */
  async release(streamName: string, nodeId: string, bootId?: string): Promise<void> {
    const n = this.nodes.get(nodeId);
    if (!n || (bootId !== undefined && n.bootId !== bootId)) return;
    n.streams = n.streams.filter((s) => s !== streamName);
    let names = this.released.get(nodeId);
    if (!names) this.released.set(nodeId, (names = new Map()));
    names.set(streamName, Date.now());
    await this.save();
  }

  /** The names released from `nodeId` within RELEASED_GRACE_MS (older ones are pruned). */
  private recentlyReleased(nodeId: string, now: number): Set<string> {
    const names = this.released.get(nodeId);
    if (!names) return new Set();
    for (const [name, at] of names) if (now - at > RELEASED_GRACE_MS) names.delete(name);
    if (names.size === 0) this.released.delete(nodeId);
    return new Set(names.keys());
  }

  /**
   * A call to the node failed to connect: declares it lost right away, unless its same incarnation answers a probe
   * (a failed fetch can be the caller's overload, not the node's death); its streams are told.
   */
  async reportUnreachable(nodeId: string, bootId: string): Promise<void> {
    const n = this.nodes.get(nodeId);
    if (!n || n.bootId !== bootId) return;
    const probe = await this.probe(n, Date.now());
    if (probe !== "failed") {
      // answered: the caller's own trouble; timed out: busy or frozen, the heartbeats (and the alarm's probes) decide
      log("warn", probe === "answered" ? "media_node_unreachable_but_answers" : "media_node_unreachable_probe_timed_out", { nodeId, bootId });
      return;
    }
    if (this.nodes.get(nodeId) !== n) return;
    log("warn", "media_node_lost", { nodeId, bootId, reason: "unreachable", streams: n.streams.length });
    this.nodes.delete(nodeId);
    await this.save();
    this.notifyLost(n);
  }

  /**
   * A draining node's goodbye (protocol/media-node.ts NodeDeregister): forgets the incarnation at once, ends every
   * stream still placed on it FAILED "Failed by error: media node shutting down" (awaited, so when this returns the
   * clients have been told and the names are free), fails its relays, and refuses later heartbeats of that `bootId`.
   * @returns `known`: false when that incarnation was not listed (nothing to do); `streams`: how many were told
   */
  async deregister(nodeId: string, bootId: string, now = Date.now()): Promise<{ known: boolean; streams: number }> {
    for (const [b, at] of this.deregistered) if (now - at > DEREGISTERED_MEMORY_MS) this.deregistered.delete(b);
    this.deregistered.set(bootId, now);
    const n = this.nodes.get(nodeId);
    if (!n || n.bootId !== bootId) {
      log("info", "media_node_deregistered", { nodeId, bootId, known: false });
      return { known: false, streams: 0 };
    }
    log("info", "media_node_deregistered", { nodeId, bootId, known: true, streams: n.streams.length });
    this.nodes.delete(nodeId);
    this.released.delete(nodeId);
    await this.save();
    const relays = relaysOf(this.env)
      .onNodeLost(nodeId, bootId)
      .catch((err: unknown) => log("error", "node_lost_relay_notify_failed", { nodeId, error: String(err) }));
    await eachLimited(n.streams, RECONCILE_CONCURRENCY, (name) =>
      streamOf(this.env, name)
        .onNodeLost(nodeId, bootId, true)
        .catch((err: unknown) => log("error", "node_lost_notify_failed", { nodeId, stream: name, error: String(err) })),
    );
    await relays;
    return { known: true, streams: n.streams.length };
  }

  /** Live nodes with their load, for operators and tests. */
  async list(now = Date.now()): Promise<Array<NodeEntry & { live: boolean }>> {
    return [...this.nodes.values()].map((n) => ({ ...n, live: this.isLive(n, now) }));
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    const silent = [...this.nodes.values()].filter((n) => !this.isLive(n, now));
    const probes = await Promise.all(silent.map((n) => this.probe(n, now)));
    silent.forEach((n, i) => {
      if (this.nodes.get(n.nodeId) !== n) return; // a heartbeat or deregistration came meanwhile
      if (probes[i] === "answered") {
        // alive and the same incarnation: live for another loss period, its streams untouched
        const silentMs = now - n.lastSeen;
        n.probedSince ??= now;
        n.probeTimedOut = undefined;
        n.lastSeen = Date.now();
        log("warn", "media_node_heartbeats_late", { nodeId: n.nodeId, bootId: n.bootId, silentMs, probedForMs: now - n.probedSince });
        return;
      }
      if (probes[i] === "timeout" && !n.probeTimedOut) {
        // busy or frozen: not live (no placements) until the next alarm's probe decides
        n.probeTimedOut = true;
        log("warn", "media_node_probe_timed_out", { nodeId: n.nodeId, bootId: n.bootId, silentMs: now - n.lastSeen, timeoutMs: PROBE_TIMEOUT_MS });
        return;
      }
      const reason = n.probedSince !== undefined && now - n.probedSince > PROBE_GRACE_MS ? "no heartbeats (probes answered too long)" : "missed heartbeats";
      log("warn", "media_node_lost", { nodeId: n.nodeId, bootId: n.bootId, reason, silentMs: now - n.lastSeen, streams: n.streams.length });
      this.nodes.delete(n.nodeId);
      this.notifyLost(n);
    });
    await this.save();
    const minInterval = Math.min(...[...this.nodes.values()].map((n) => n.intervalMs));
    if (this.nodes.size > 0) await this.ctx.storage.setAlarm(now + Math.min(minInterval, 5000));
  }

  /**
   * Runs one reconcile of `node` (worker/leg-reconcile.ts): asks each StreamDO of `plan.streams` which held legs it
   * does not know (it ends its own legs the node no longer holds), then deletes those on the node.
   */
  private async reconcile(node: NodeEntry, plan: ReconcilePlan): Promise<void> {
    const ref = { nodeId: node.nodeId, bootId: node.bootId, controlUrl: node.controlUrl };
    const opts = { complete: plan.complete, missingBefore: plan.missingBefore };
    const unknown: string[] = [];
    const names = [...plan.streams.keys()];
    await eachLimited(names, RECONCILE_CONCURRENCY, async (name) => {
      const held = plan.streams.get(name)!;
      try {
        unknown.push(...(await streamOf(this.env, name).reconcileNode(ref, held, opts)));
      } catch (err) {
        log("error", "node_reconcile_stream_failed", { nodeId: node.nodeId, stream: name, error: String(err) });
      }
    });
    if (unknown.length === 0) return;
    log("warn", "zombie_legs_deleted", { nodeId: node.nodeId, bootId: node.bootId, why: plan.why, count: unknown.length, legIds: unknown.slice(0, 20) });
    const client = MediaNodeClient.of(this.env, ref, config(this.env).MEDIA_NODE_TIMEOUT_MS);
    await eachLimited(unknown, RECONCILE_CONCURRENCY, (legId) => client.deleteLeg(legId));
  }

  /** Whether the silent node's same incarnation answers its control API within {@link PROBE_TIMEOUT_MS}, in grace. */
  private async probe(n: NodeEntry, now: number): Promise<ProbeOutcome> {
    if (n.probedSince !== undefined && now - n.probedSince > PROBE_GRACE_MS) return "failed";
    try {
      const res = await MediaNodeClient.of(this.env, n, PROBE_TIMEOUT_MS).status(PROBE_TIMEOUT_MS);
      if (res.ok) return res.bootId === n.bootId ? "answered" : "failed";
      return res.code === "timeout" ? "timeout" : "failed";
    } catch {
      return "failed"; // no secret configured: nothing to ask with
    }
  }

  private isLive(n: NodeEntry, now: number): boolean {
    return now - n.lastSeen <= n.intervalMs * MISSED_HEARTBEATS;
  }

  private notifyLost(n: NodeEntry): void {
    // relays run by the node (worker/relay-do.ts)
    const relays = relaysOf(this.env);
    this.ctx.waitUntil(
      relays.onNodeLost(n.nodeId, n.bootId).catch((err: unknown) => {
        log("error", "node_lost_relay_notify_failed", { nodeId: n.nodeId, error: String(err) });
      }),
    );
    for (const name of n.streams) {
      const stub = streamOf(this.env, name);
      this.ctx.waitUntil(
        stub.onNodeLost(n.nodeId, n.bootId).catch((err: unknown) => {
          log("error", "node_lost_notify_failed", { nodeId: n.nodeId, stream: name, error: String(err) });
        }),
      );
    }
  }

  private save(): Promise<void> {
    return this.ctx.storage.put("nodes", [...this.nodes.values()]);
  }
}

/** Runs `fn` on every item, at most `limit` at once; never rejects (fn's own errors are its business). */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item).catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
