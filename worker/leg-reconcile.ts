/**
 * Reconciling a media node's legs with the StreamDOs (no zombie legs): the rules, as pure functions. The registry
 * (worker/node-registry-do.ts) applies them on heartbeats that list the node's legs (protocol/media-node.ts
 * NodeHeartbeat `legs`), each StreamDO on its own legs (worker/stream-do.ts `reconcileNode`).
 *
 * Both ways:
 * - a leg the node holds that no StreamDO knows (its stream ended while the node was declared lost, a DELETE that
 *   failed, a create that timed out on the worker but completed on the node) is deleted on the node. StreamDOs store
 *   a leg before asking the node for it, so "unknown" is never a leg being created;
 * - a leg a StreamDO has on that node (same `nodeId` and `bootId`) that the node no longer holds ends FAILED
 *   ({@link MISSING_LEG_INFO}), but only when the node listed all its legs, the list is fresh, and the leg is older
 *   than the list by more than the node call timeout plus {@link LEG_GRACE_MS} (a create in flight is not missing).
 *
 * When: on a heartbeat whose snapshot is fresh ({@link MAX_SNAPSHOT_AGE_FACTOR}), if the node holds a leg older than
 * {@link LEG_GRACE_MS} of a stream the registry has not placed on it (e.g. every leg of a node that comes back
 * after being declared lost: its entry was removed, its streams ended), else every {@link RECONCILE_EVERY_MS}. Legs of
 * a stream that ended on the node a moment ago ({@link RELEASED_GRACE_MS}) are left out: the snapshot may predate it.
 */
import type { HeldLeg } from "../protocol/media-node.js";
import { Info } from "../protocol/wcs-types.js";

/** A held leg younger than this (ms) does not trigger a reconcile; also the slack of the "missing" rule. */
export const LEG_GRACE_MS = 2000;
/**
 * Held legs of a stream released from the node less than this long ago (ms) and not placed again are left alone: the
 * heartbeat's snapshot may predate the release, and those legs are being deleted anyway.
 */
export const RELEASED_GRACE_MS = 5000;
/** Full reconcile of a node at least this often (ms) while it lists its legs. */
export const RECONCILE_EVERY_MS = 10_000;
/** A heartbeat whose snapshot is older than this many periods (min 2 s) is not used to reconcile: the main loop was starved. */
export const MAX_SNAPSHOT_AGE_FACTOR = 2;
/** The `info` of a leg ended because its node no longer holds it. */
export const MISSING_LEG_INFO = `${Info.FAILED_BY_ERROR}: the media node no longer holds the stream`;

/** What the registry knows of a node when a heartbeat arrives. */
export interface ReconcileInput {
  /** Stream names the registry has placed on this incarnation of the node. */
  placed: readonly string[];
  /** Stream names released from it within {@link RELEASED_GRACE_MS} (their legs are being deleted). */
  recentlyReleased?: ReadonlySet<string>;
  /** The heartbeat's `legs` (undefined: the node does not list them). */
  legs: readonly HeldLeg[] | undefined;
  /** The heartbeat's `legCount`. */
  legCount: number | undefined;
  /** The heartbeat's `eventLoop.snapshotAgeMs`. */
  snapshotAgeMs: number | undefined;
  /** The node's heartbeat period, ms. */
  intervalMs: number;
  /** When this node was last reconciled (ms; undefined: never). */
  reconciledAt: number | undefined;
  now: number;
}

/** A reconcile to run: per stream name, the legs the node holds of it; `complete` when the list has every leg. */
export interface ReconcilePlan {
  why: "strays" | "due";
  streams: Map<string, { legIds: string[]; relayLegIds: string[] }>;
  complete: boolean;
  /** StreamDO legs created before this (ms, minus the node call timeout) and not held are missing. */
  missingBefore: number;
}

/** Whether (and how) to reconcile a node on this heartbeat; null = not now. */
export function planReconcile(i: ReconcileInput): ReconcilePlan | null {
  if (!i.legs) return null;
  const age = i.snapshotAgeMs ?? 0;
  if (age > Math.max(2000, MAX_SNAPSHOT_AGE_FACTOR * i.intervalMs)) return null;
  const placed = new Set(i.placed);
  const released = i.recentlyReleased;
  const settling = (l: HeldLeg) => !placed.has(l.streamName) && !!released?.has(l.streamName);
  const strays = i.legs.some((l) => !l.relay && l.ageMs >= LEG_GRACE_MS && !placed.has(l.streamName) && !settling(l));
  const due = i.reconciledAt === undefined || i.now - i.reconciledAt >= RECONCILE_EVERY_MS;
  if (!strays && !due) return null;
  const streams = new Map<string, { legIds: string[]; relayLegIds: string[] }>();
  for (const name of i.placed) streams.set(name, { legIds: [], relayLegIds: [] });
  for (const l of i.legs) {
    if (settling(l)) continue;
    let s = streams.get(l.streamName);
    if (!s) streams.set(l.streamName, (s = { legIds: [], relayLegIds: [] }));
    (l.relay ? s.relayLegIds : s.legIds).push(l.legId);
  }
  return {
    why: strays ? "strays" : "due",
    streams,
    complete: i.legCount === undefined || i.legCount <= i.legs.length,
    missingBefore: i.now - age - LEG_GRACE_MS,
  };
}

/** One StreamDO's legs, as the reconcile sees them. */
export interface StreamLegs {
  /** Whether the stream is placed on exactly this node incarnation (nodeId and bootId). */
  onThisNode: boolean;
  /** Its legs: id and when the StreamDO created the record (ms). */
  legs: readonly { legId: string; createdAt: number }[];
}

/**
 * The verdict for one stream: `unknown` = held leg ids to delete on the node (every held leg when the stream is not
 * on this node; relay legs only then, since a push relay's leg belongs to the RelayDO); `missing` = the stream's legs
 * to end FAILED (only for a complete list, legs created before `missingBefore - createTimeoutMs`).
 */
export function reconcileStream(
  s: StreamLegs,
  held: { legIds: readonly string[]; relayLegIds: readonly string[] },
  opts: { complete: boolean; missingBefore: number; createTimeoutMs: number },
): { unknown: string[]; missing: string[] } {
  if (!s.onThisNode) return { unknown: [...held.legIds, ...held.relayLegIds], missing: [] };
  const known = new Set(s.legs.map((l) => l.legId));
  const unknown = held.legIds.filter((id) => !known.has(id));
  if (!opts.complete) return { unknown, missing: [] };
  const holds = new Set([...held.legIds, ...held.relayLegIds]);
  const cutoff = opts.missingBefore - opts.createTimeoutMs;
  const missing = s.legs.filter((l) => !holds.has(l.legId) && l.createdAt < cutoff).map((l) => l.legId);
  return { unknown, missing };
}
