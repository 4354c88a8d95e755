/** media-node/admission.ts: the load gate refuses while the event loop is blocked, and admits again once it is not. */
import { afterEach, describe, expect, it } from "vitest";
import { LoadGate } from "../../media-node/admission.js";

const gates: LoadGate[] = [];
afterEach(() => {
  for (const g of gates.splice(0)) g.stop();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a media loop that cannot keep up
  }
}

describe("LoadGate", () => {
  it("admits an idle loop; refuses by lag after a block longer than the limit; admits again later", async () => {
    const gate = new LoadGate({ maxUtilization: 1, maxLagMs: 150, periodMs: 100, holdMs: 400 });
    gates.push(gate);
    await sleep(250);
    expect(gate.refusal()).toBeUndefined();
    busy(500);
    await sleep(150); // the samples that cover the block
    expect(gate.refusal()).toMatch(/^event loop lag \d+ ms$/);
    await sleep(600); // past the hold
    expect(gate.refusal()).toBeUndefined();
  });

  it("refuses by utilization while the loop is busy most of each period", async () => {
    const gate = new LoadGate({ maxUtilization: 0.5, maxLagMs: 0, periodMs: 100, holdMs: 300 });
    gates.push(gate);
    for (let i = 0; i < 8; i++) {
      busy(40);
      await sleep(5);
    }
    expect(gate.refusal()).toMatch(/^event loop \d+% busy$/);
    await sleep(600);
    expect(gate.refusal()).toBeUndefined();
  });

  it("never refuses with both limits off", async () => {
    const gate = new LoadGate({ maxUtilization: 1, maxLagMs: 0, periodMs: 50 });
    gates.push(gate);
    busy(200);
    await sleep(120);
    expect(gate.refusal()).toBeUndefined();
  });
});
