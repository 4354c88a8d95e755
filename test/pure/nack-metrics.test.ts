/**
 * media-node/metrics.ts: the upstream repair counters (wcs_media_node_nack_{requested,repaired,unrepaired}_total) are
 * read from the legs' totals at scrape time and only grow.
 */
import { describe, expect, it } from "vitest";
import type { LegTotals } from "../../media-node/legs.js";
import { NodeMetrics } from "../../media-node/metrics.js";
import { parseMetrics } from "../harness/prometheus.js";

const totals = (nack: Partial<LegTotals>): LegTotals => ({
  packetsIn: 0,
  packetsOut: 0,
  bytesIn: 0,
  bytesOut: 0,
  packetsLost: 0,
  packetsLate: 0,
  keyframesRequested: 0,
  keyframesSent: 0,
  nackRequested: 0,
  nackRepaired: 0,
  nackUnrepaired: 0,
  ...nack,
});

describe("NodeMetrics: NACK counters", () => {
  it("exposes requested / repaired / unrepaired from the totals, from the first scrape on", async () => {
    let t = totals({});
    const m = new NodeMetrics({ legStates: () => [], draining: () => false, totals: () => t });
    const scrape = async () => parseMetrics((await m.render()).body);
    const names = ["wcs_media_node_nack_requested_total", "wcs_media_node_nack_repaired_total", "wcs_media_node_nack_unrepaired_total"];
    let s = await scrape();
    expect(names.map((n) => s.value(n))).toEqual([0, 0, 0]);
    expect(s.families.find((f) => f.name === names[0])?.type).toBe("COUNTER");
    t = totals({ nackRequested: 131, nackRepaired: 129, nackUnrepaired: 2 });
    s = await scrape();
    expect(names.map((n) => s.value(n))).toEqual([131, 129, 2]);
    // a leg that ended is in the totals as "gone": the counters never go back
    t = totals({ nackRequested: 140, nackRepaired: 137, nackUnrepaired: 3 });
    s = await scrape();
    expect(names.map((n) => s.value(n))).toEqual([140, 137, 3]);
  });
});
