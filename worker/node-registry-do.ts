/**
 * NodeRegistryDO: the one registry of media nodes (a single instance, `idFromName("global")`).
 *
 * Nodes announce themselves with heartbeats (protocol/media-node.ts NodeHeartbeat). A node is live while its last
 * heartbeat is younger than {@link MISSED_HEARTBEATS} periods; the alarm checks every period and declares silent
 * nodes lost, telling each StreamDO placed on them (`onNodeLost`), so their clients get FAILED within seconds and
 * the names become free. A heartbeat with a new `bootId` means the process restarted: the old incarnation is lost.
 * Placement puts a new stream on the live node with the fewest legs (reported load + streams placed since).
 */
import { DurableObject } from "cloudflare:workers";
import type { NodeHeartbeat, NodeLoad } from "../protocol/index.js";
import { relaysOf, streamOf, type Env } from "./env.js";
import { configureLog, log } from "./log.js";
import type { NodeRef } from "./stream-types.js";

/** A node is lost after this many heartbeat periods without one. */
export const MISSED_HEARTBEATS = 3;

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
}

export class NodeRegistryDO extends DurableObject<Env> {
  private nodes = new Map<string, NodeEntry>();

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
    };
    if (!prev || prev.bootId !== hb.bootId) {
      log("info", "media_node_registered", { nodeId: hb.nodeId, bootId: hb.bootId, controlUrl: hb.controlUrl });
    }
    this.nodes.set(hb.nodeId, entry);
    await this.save();
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(now + hb.intervalMs);
    return true;
  }

  /** Picks the least-loaded live node for `streamName` and records the placement; null when no node is live. */
  async allocate(streamName: string, now = Date.now()): Promise<NodeRef | null> {
    let best: NodeEntry | null = null;
    let bestScore = Infinity;
    for (const n of this.nodes.values()) {
      if (!this.isLive(n, now)) continue;
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
    await this.save();
  }

  /** Declares a node lost right away (e.g. it refused connections); its streams are told. */
  async reportUnreachable(nodeId: string, bootId: string): Promise<void> {
    const n = this.nodes.get(nodeId);
    if (!n || n.bootId !== bootId) return;
    log("warn", "media_node_lost", { nodeId, bootId, reason: "unreachable", streams: n.streams.length });
    this.nodes.delete(nodeId);
    await this.save();
    this.notifyLost(n);
  }

  /** Live nodes with their load, for operators and tests. */
  async list(now = Date.now()): Promise<Array<NodeEntry & { live: boolean }>> {
    return [...this.nodes.values()].map((n) => ({ ...n, live: this.isLive(n, now) }));
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    let minInterval = Infinity;
    for (const n of [...this.nodes.values()]) {
      if (this.isLive(n, now)) {
        minInterval = Math.min(minInterval, n.intervalMs);
        continue;
      }
      log("warn", "media_node_lost", { nodeId: n.nodeId, bootId: n.bootId, reason: "missed heartbeats", silentMs: now - n.lastSeen, streams: n.streams.length });
      this.nodes.delete(n.nodeId);
      this.notifyLost(n);
    }
    await this.save();
    if (this.nodes.size > 0) await this.ctx.storage.setAlarm(now + Math.min(minInterval, 5000));
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
