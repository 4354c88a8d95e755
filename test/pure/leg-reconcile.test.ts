/**
 * worker/leg-reconcile.ts: when a heartbeat triggers a reconcile of a node's legs with the StreamDOs, and the verdict
 * for one stream (held legs to delete on the node, StreamDO legs to end FAILED).
 */
import { describe, expect, it } from "vitest";
import type { HeldLeg } from "../../protocol/media-node.js";
import { LEG_GRACE_MS, planReconcile, RECONCILE_EVERY_MS, reconcileStream, type ReconcileInput } from "../../worker/leg-reconcile.js";

const NOW = 1_000_000;
const leg = (legId: string, streamName: string, ageMs = 10_000, relay = false): HeldLeg => ({ legId, streamName, ageMs, ...(relay ? { relay: true as const } : {}) });
const input = (o: Partial<ReconcileInput>): ReconcileInput => ({
  placed: [],
  legs: [],
  legCount: 0,
  snapshotAgeMs: 100,
  intervalMs: 1000,
  reconciledAt: NOW - 1000,
  now: NOW,
  ...o,
});

describe("planReconcile", () => {
  it("does nothing for a node that does not list its legs, or whose snapshot is stale (starved main loop)", () => {
    expect(planReconcile(input({ legs: undefined, reconciledAt: undefined }))).toBeNull();
    expect(planReconcile(input({ legs: [leg("a", "zombie")], snapshotAgeMs: 2500 }))).toBeNull();
    expect(planReconcile(input({ legs: [leg("a", "zombie")], snapshotAgeMs: 2500, intervalMs: 2000 }))).not.toBeNull();
  });

  it("reconciles at once when the node holds an old leg of a stream not placed on it (a node back from a false loss)", () => {
    const plan = planReconcile(input({ placed: [], legs: [leg("p", "cam"), leg("q", "cam"), leg("r", "other")], legCount: 3 }));
    expect(plan?.why).toBe("strays");
    expect(plan?.complete).toBe(true);
    expect([...plan!.streams.entries()]).toEqual([
      ["cam", { legIds: ["p", "q"], relayLegIds: [] }],
      ["other", { legIds: ["r"], relayLegIds: [] }],
    ]);
    expect(plan?.missingBefore).toBe(NOW - 100 - LEG_GRACE_MS);
  });

  it("waits for the grace period and ignores relay legs before calling a leg a stray", () => {
    expect(planReconcile(input({ legs: [leg("p", "cam", LEG_GRACE_MS - 1)] }))).toBeNull();
    expect(planReconcile(input({ legs: [leg("p", "cam", 60_000, true)] }))).toBeNull();
    expect(planReconcile(input({ placed: ["cam"], legs: [leg("p", "cam")] }))).toBeNull();
  });

  it("reconciles every placed stream, with or without legs, when due", () => {
    const plan = planReconcile(input({ placed: ["cam", "gone"], legs: [leg("p", "cam"), leg("x", "cam", 5000, true)], legCount: 2, reconciledAt: NOW - RECONCILE_EVERY_MS }));
    expect(plan?.why).toBe("due");
    expect(plan?.streams.get("gone")).toEqual({ legIds: [], relayLegIds: [] });
    expect(plan?.streams.get("cam")).toEqual({ legIds: ["p"], relayLegIds: ["x"] });
    expect(planReconcile(input({ placed: ["cam"], legs: [], reconciledAt: undefined }))?.why).toBe("due");
  });

  it("leaves alone the legs of a stream that ended on the node a moment ago, unless it is placed again", () => {
    const recentlyReleased = new Set(["ended"]);
    expect(planReconcile(input({ legs: [leg("p", "ended")], recentlyReleased }))).toBeNull();
    const plan = planReconcile(input({ legs: [leg("p", "ended"), leg("z", "zombie")], recentlyReleased }));
    expect([...plan!.streams.keys()]).toEqual(["zombie"]);
    expect(planReconcile(input({ placed: ["ended"], legs: [leg("p", "ended")], recentlyReleased, reconciledAt: undefined }))?.streams.get("ended")).toEqual({
      legIds: ["p"],
      relayLegIds: [],
    });
  });

  it("marks a cut list as incomplete", () => {
    expect(planReconcile(input({ placed: ["cam"], legs: [leg("p", "cam")], legCount: 2001, reconciledAt: undefined }))?.complete).toBe(false);
  });
});

describe("reconcileStream", () => {
  const opts = { complete: true, missingBefore: NOW, createTimeoutMs: 10_000 };
  const old = NOW - 60_000;

  it("deletes every held leg, relay legs included, of a stream that is not on this node incarnation", () => {
    expect(reconcileStream({ onThisNode: false, legs: [{ legId: "p", createdAt: old }] }, { legIds: ["p", "q"], relayLegIds: ["r"] }, opts)).toEqual({
      unknown: ["p", "q", "r"],
      missing: [],
    });
  });

  it("deletes held legs the stream does not know, keeps relay legs, and ends old legs the node does not hold", () => {
    const legs = [
      { legId: "pub", createdAt: old },
      { legId: "gone", createdAt: old },
      { legId: "new", createdAt: NOW - 5000 }, // may still be being created on the node
      { legId: "relay-held", createdAt: old },
    ];
    expect(reconcileStream({ onThisNode: true, legs }, { legIds: ["pub", "zombie"], relayLegIds: ["relay-held", "push"] }, opts)).toEqual({
      unknown: ["zombie"],
      missing: ["gone"],
    });
  });

  it("ends nothing for an incomplete list", () => {
    expect(reconcileStream({ onThisNode: true, legs: [{ legId: "gone", createdAt: old }] }, { legIds: ["z"], relayLegIds: [] }, { ...opts, complete: false })).toEqual({
      unknown: ["z"],
      missing: [],
    });
  });
});
