/**
 * Liveness that load cannot fake, and no zombie legs (docs/architecture.md "Heartbeats and node loss"):
 * - CPU hog: three busy-loop processes pinned to the media node's core for 60 s (the node gets about a quarter of
 *   the core) while a publisher and a player stream through it: the node stays live (no `media_node_lost`), the
 *   stream never ends and the player still gets frames after;
 * - false loss: the node is frozen (SIGSTOP) longer than the loss threshold, so the registry declares it lost and the
 *   clients get FAILED; the publisher client is frozen too, so nothing on the wire closes its leg. After SIGCONT the
 *   node's heartbeat lists the legs it still holds, no StreamDO knows them, the registry deletes them: within 5 s the
 *   node holds no legs and the name can be published again;
 * - heartbeats lost on the way: a node whose heartbeats go through a proxy that the test pauses for 8 s (the node and
 *   its control API stay fine) is probed by the registry instead of being declared lost; its stream plays on;
 * - a control connection reset once: the worker retries the call, the players of the healthy node play.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { NodeStatus, signedFetch } from "../../protocol/index.js";
import { closeAllClients, spawnPlayer, spawnPublisher, waitUntil } from "../clients/index.js";
import { startCluster, type Cluster, type MediaNodeProc } from "../harness/cluster.js";
import { onlyNodeBehindProxy, testProxy } from "../harness/proxy.js";

const HOG_MS = 60_000;

let cluster: Cluster;
const hogs: ChildProcess[] = [];
beforeAll(async () => {
  cluster = await startCluster({ nodes: 1 });
});
afterEach(async () => {
  for (const h of hogs.splice(0)) h.kill("SIGKILL");
  await closeAllClients();
});
afterAll(async () => {
  await cluster?.stop();
});

/** The node's own view (signed GET /v1/status). */
async function nodeStatus(node: MediaNodeProc): Promise<NodeStatus> {
  const res = await signedFetch(cluster.secret, node.controlUrl + "/v1/status", "GET", undefined, 3000);
  if (!res.ok) throw new Error(`GET /v1/status → ${res.status}`);
  return NodeStatus.parse(await res.json());
}

const lostLines = () => cluster.logs().split("\n").filter((l) => l.includes("media_node_lost")).length;

it("keeps a media node live and its stream playing under a CPU hog on its core", async () => {
  const node = cluster.nodes[0]!;
  const name = `hog-${randomUUID().slice(0, 8)}`;
  const pub = await spawnPublisher({ url: cluster.wsUrl, name });
  await pub.waitForStatus("PUBLISHING");
  const player = await spawnPlayer({ url: cluster.wsUrl, name });
  await player.waitForStatus("PLAYING");
  await player.waitForStats((s) => s.framesDecoded > 10, 15_000, "frames before the hog");
  const bootId = (await cluster.listNodes())[0]!.bootId;
  const lostBefore = lostLines();

  // the node and three busy loops share one core: the node gets about a quarter of it
  const cpu = String(availableParallelism() - 1);
  const pin = spawnSync("taskset", ["-a", "-p", "-c", cpu, String(node.process.pid)], { encoding: "utf8" });
  expect(pin.status, pin.stderr).toBe(0);
  for (let i = 0; i < 3; i++) {
    hogs.push(spawn("taskset", ["-c", cpu, process.execPath, "-e", "for(;;){}"], { stdio: "ignore" }));
  }
  const until = Date.now() + HOG_MS;
  let maxLoop = { snapshotAgeMs: 0, lagMaxMs: 0 };
  while (Date.now() < until) {
    const n = (await cluster.listNodes()).find((x) => x.nodeId === node.nodeId) as
      | { live: boolean; bootId: string; streams: string[]; eventLoop?: { snapshotAgeMs: number; lagMaxMs: number } }
      | undefined;
    expect(n?.live, "the node stays registered and live").toBe(true);
    expect(n?.bootId).toBe(bootId);
    expect(n?.streams).toContain(name);
    if (n?.eventLoop) {
      maxLoop = { snapshotAgeMs: Math.max(maxLoop.snapshotAgeMs, n.eventLoop.snapshotAgeMs), lagMaxMs: Math.max(maxLoop.lagMaxMs, n.eventLoop.lagMaxMs) };
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  for (const h of hogs.splice(0)) h.kill("SIGKILL");
  spawnSync("taskset", ["-a", "-p", "-c", `0-${availableParallelism() - 1}`, String(node.process.pid)]);

  expect(lostLines(), "no media_node_lost in the worker's log").toBe(lostBefore);
  expect(pub.lastStatus).toBe("PUBLISHING");
  expect(player.lastStatus).toBe("PLAYING");
  const before = (await player.stats()).framesDecoded;
  await player.waitForStats((s) => s.framesDecoded > before + 10, 15_000, "frames after the hog");
  console.log(`event loop under the hog: worst snapshot age ${maxLoop.snapshotAgeMs} ms, worst lag ${maxLoop.lagMaxMs} ms`);
}, HOG_MS + 60_000);

it("deletes the zombie legs of a node back from a false loss: the name is free within 5 s", async () => {
  const node = cluster.nodes[0]!;
  const name = `zombie-${randomUUID().slice(0, 8)}`;
  const pub = await spawnPublisher({ url: cluster.wsUrl, name });
  await pub.waitForStatus("PUBLISHING");
  const player = await spawnPlayer({ url: cluster.wsUrl, name });
  await player.waitForStatus("PLAYING");
  await player.waitForStats((s) => s.framesDecoded > 10, 15_000, "frames before the freeze");
  expect((await nodeStatus(node)).legs.length).toBe(2);

  node.process.kill("SIGSTOP");
  process.kill(pub.pid!, "SIGSTOP"); // nothing on the wire may close the publisher leg: only the registry can
  try {
    const failed = await player.waitForStatus("FAILED", 20_000); // 3 missed heartbeats + two timed-out probes (3 s each)
    expect(failed.info).toBe("Failed by error: media node lost");
    await waitUntil(async () => !(await cluster.listNodes()).some((n) => n.nodeId === node.nodeId), 5000, "the node to be dropped");
  } finally {
    node.process.kill("SIGCONT");
  }
  const contAt = Date.now();

  await waitUntil(async () => (await nodeStatus(node)).legs.length === 0, 5000, "the node to hold no legs");
  const freedMs = Date.now() - contAt;
  expect(cluster.logs()).toContain("zombie_legs_deleted");

  const again = await spawnPublisher({ url: cluster.wsUrl, name });
  await again.waitForStatus("PUBLISHING", 15_000);
  const nodes = await cluster.listNodes();
  expect(nodes.find((n) => n.nodeId === node.nodeId)?.streams).toContain(name);
  process.kill(pub.pid!, "SIGKILL");
  console.log(`zombie legs gone ${freedMs} ms after SIGCONT`);
}, 60_000);

it("probes a node whose heartbeats stop reaching the worker instead of declaring it lost", async () => {
  const proxy = await testProxy(new URL(cluster.httpUrl));
  let node: MediaNodeProc | undefined;
  try {
    node = await cluster.startNode({ WORKER_URL: proxy.url });
    // the harness's first node leaves (deregistered): the stream goes to the proxied one
    await cluster.nodes[0]!.kill("SIGTERM");
    const name = `late-${randomUUID().slice(0, 8)}`;
    const pub = await spawnPublisher({ url: cluster.wsUrl, name });
    await pub.waitForStatus("PUBLISHING");
    expect((await cluster.listNodes()).find((n) => n.streams.includes(name))?.nodeId).toBe(node.nodeId);
    const player = await spawnPlayer({ url: cluster.wsUrl, name });
    await player.waitForStats((s) => s.framesDecoded > 10, 15_000, "frames before the pause");
    const lostBefore = lostLines();

    proxy.pause();
    await new Promise((r) => setTimeout(r, 8000)); // > 3 heartbeat periods: the registry had to probe
    proxy.resume();

    expect(cluster.logs()).toContain("media_node_heartbeats_late");
    expect(lostLines(), "no media_node_lost").toBe(lostBefore);
    expect(pub.lastStatus).toBe("PUBLISHING");
    expect(player.lastStatus).toBe("PLAYING");
    const before = (await player.stats()).framesDecoded;
    await player.waitForStats((s) => s.framesDecoded > before + 10, 15_000, "frames after the pause");
    await waitUntil(async () => (await cluster.listNodes()).find((n) => n.nodeId === node!.nodeId)?.live === true, 5000, "heartbeats again");
  } finally {
    await node?.kill("SIGTERM"); // deregisters through the proxy: later tests do not meet a node that cannot heartbeat
    await proxy.close().catch(() => undefined);
  }
}, 90_000);

it("retries a control call whose connection drops once: players of a healthy node are not failed", async () => {
  const { node, proxy } = await onlyNodeBehindProxy(cluster);
  try {
    const name = `drop-${randomUUID().slice(0, 8)}`;
    const pub = await spawnPublisher({ url: cluster.wsUrl, name });
    await pub.waitForStatus("PUBLISHING");
    expect((await cluster.listNodes()).find((n) => n.streams.includes(name))?.nodeId).toBe(node.nodeId);

    for (let i = 1; i <= 2; i++) {
      proxy.dropNext("POST /v1/legs", 1); // the first attempt; its retry goes through
      const player = await spawnPlayer({ url: cluster.wsUrl, name });
      await player.waitForStats((s) => s.framesDecoded > 10, 15_000, "frames at a player whose leg creation was retried");
      expect(proxy.dropped).toBe(i);
    }
    expect(cluster.logs()).toContain("media_node_connection_retried");

    // the answer is lost after the node created the leg: the retry finds the id taken, the leg is deleted, the
    // player is told to try again and nothing is left behind on the node
    const legsBefore = (await nodeStatus(node)).legs.length;
    proxy.dropNext("POST /v1/legs", 1, "response");
    const unlucky = await spawnPlayer({ url: cluster.wsUrl, name });
    await unlucky.waitForStatus("FAILED");
    expect(unlucky.statuses.at(-1)?.info).toBe("Failed by error: the connection to the media node was interrupted, try again");
    await waitUntil(async () => (await nodeStatus(node)).legs.length === legsBefore, 5000, "the half-created leg deleted");
    expect(pub.lastStatus).toBe("PUBLISHING");
  } finally {
    await proxy.close().catch(() => undefined);
  }
}, 60_000);
