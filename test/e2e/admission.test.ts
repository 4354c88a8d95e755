/**
 * Admission control (issue 10, item 1) with real parts: a media node with MEDIA_NODE_MAX_LEGS=2 carries a publisher
 * and one player; a further player of its stream is refused with FAILED "Media node is full (2 legs)" while the
 * admitted player keeps getting every frame, and a new stream goes to another node. (Refusal by measured load —
 * media-node/admission.ts — is tested in test/pure/admission.test.ts and legs.test.ts.)
 *
 * The worker bounds the queue in front of a node too: with MAX_JOINS_IN_FLIGHT=2, while two players of a stream
 * wait for a node that holds their requests (a paused proxy), a third is refused at once; the two play once the
 * node answers.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { closeAllClients, spawnPlayer, spawnPublisher } from "../clients/index.js";
import { sleep } from "../harness/browser.js";
import { startCluster, type Cluster } from "../harness/cluster.js";
import { onlyNodeBehindProxy } from "../harness/proxy.js";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ nodes: 0, vars: { MAX_JOINS_IN_FLIGHT: "2" } });
  await cluster.startNode({ MEDIA_NODE_MAX_LEGS: "2" });
});
afterEach(async () => {
  await closeAllClients();
});
afterAll(async () => {
  await cluster?.stop();
});

it("refuses a player past the node's capacity with 'Media node is full', keeps the admitted one, and places new streams elsewhere", async () => {
  const name = `adm-${randomUUID().slice(0, 8)}`;
  const pub = await spawnPublisher({ url: cluster.wsUrl, name });
  await pub.waitForStatus("PUBLISHING");
  const admitted = await spawnPlayer({ url: cluster.wsUrl, name });
  await admitted.waitForStatus("PLAYING");
  const before = await admitted.waitForStats((s) => s.framesDecoded > 10, 15_000, "frames at the admitted player");

  const refused = await spawnPlayer({ url: cluster.wsUrl, name });
  const st = await refused.waitForStatus("FAILED");
  expect(st.info).toBe("Media node is full (2 legs)");

  await sleep(1500);
  const after = await admitted.stats();
  expect(after.framesDecoded).toBeGreaterThan(before.framesDecoded + 20);
  expect(after.uniqueFrames - before.uniqueFrames).toBeGreaterThan(20);
  expect(admitted.statuses.map((s) => s.status)).toEqual(["PLAYING"]);

  // a second node: the full one is skipped for a new stream
  const second = await cluster.startNode();
  const other = `adm2-${randomUUID().slice(0, 8)}`;
  const pub2 = await spawnPublisher({ url: cluster.wsUrl, name: other });
  await pub2.waitForStatus("PUBLISHING");
  const placed = (await cluster.listNodes()).find((n) => n.streams.includes(other));
  expect(placed?.nodeId).toBe(second.nodeId);
});

it("refuses a player at once while MAX_JOINS_IN_FLIGHT others wait for the stream's node; the waiting ones play", async () => {
  const { node, proxy } = await onlyNodeBehindProxy(cluster);
  try {
    const name = `inflight-${randomUUID().slice(0, 8)}`;
    const pub = await spawnPublisher({ url: cluster.wsUrl, name });
    await pub.waitForStatus("PUBLISHING");

    proxy.pause(); // the node hears nothing: leg creations wait
    const waiting = [await spawnPlayer({ url: cluster.wsUrl, name }), await spawnPlayer({ url: cluster.wsUrl, name })];
    await sleep(1000);
    const t0 = Date.now();
    const third = await spawnPlayer({ url: cluster.wsUrl, name });
    const st = await third.waitForStatus("FAILED", 5000);
    expect(st.info).toBe("Media node is full (too many players joining at once), try again");
    expect(Date.now() - t0, "refused without waiting for the node").toBeLessThan(3000);
    expect(waiting.map((w) => w.lastStatus)).toEqual([undefined, undefined]);

    proxy.resume(); // the held connections are reset: the worker retries them through
    for (const w of waiting) await w.waitForStats((s) => s.framesDecoded > 10, 15_000, "frames at a player that waited");
    expect(pub.lastStatus).toBe("PUBLISHING");
  } finally {
    await proxy.close().catch(() => undefined);
  }
}, 60_000);
