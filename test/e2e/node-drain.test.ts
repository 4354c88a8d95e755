/**
 * Graceful drain of a media node (media-node/main.ts): SIGTERM under a publisher and players puts the node in
 * draining — new streams go to the other node, its own streams keep flowing (and still take players) — and at
 * MEDIA_NODE_DRAIN_TIMEOUT_MS its clients get FAILED "Failed by error: media node shutting down", the node deregisters
 * (gone from the registry at once, not after missed heartbeats), the name is free and the process exits 0. A node
 * asked to drain with a signed `POST /v1/drain` (or `wcs-edge drain`) while it holds no legs stops at once.
 */
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { MediaNodePaths, signedFetch, type DrainResponse } from "../../protocol/index.js";
import { closeAllClients, spawnPlayer, spawnPublisher, waitUntil, type WcsClientHandle } from "../clients/index.js";
import { runCli } from "../harness/cli.js";
import { startCluster, type Cluster } from "../harness/cluster.js";

const DRAIN_MS = 6000;
const SHUTDOWN = "Failed by error: media node shutting down";
let cluster: Cluster;
const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const statusList = (h: WcsClientHandle) => h.statuses.map((s) => (s.info && s.status === "FAILED" ? `${s.status}:${s.info}` : s.status));
const exitOf = (p: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) =>
    p.exitCode !== null || p.signalCode !== null
      ? r({ code: p.exitCode, signal: p.signalCode, at: Date.now() })
      : p.once("exit", (code, signal) => r({ code, signal, at: Date.now() })),
  );

beforeAll(async () => {
  cluster = await startCluster({ nodes: 0 });
  const env = { MEDIA_NODE_DRAIN_TIMEOUT_MS: String(DRAIN_MS) };
  await cluster.startNode(env);
  await cluster.startNode(env);
});
afterEach(async () => {
  await closeAllClients();
});
afterAll(async () => {
  await cluster?.stop();
});

it("drains on SIGTERM: new streams elsewhere, legs flow until the timeout, then FAILED, deregistered, exit 0", async () => {
  const name = uniqueName("drain");
  const pub = await spawnPublisher({ url: cluster.wsUrl, name });
  await pub.waitForStatus("PUBLISHING", 15_000);
  const players = await Promise.all([spawnPlayer({ url: cluster.wsUrl, name }), spawnPlayer({ url: cluster.wsUrl, name })]);
  await Promise.all(players.map((p) => p.waitForStatus("PLAYING", 15_000)));
  await Promise.all(players.map((p) => p.waitForStats((s) => s.framesDecoded > 10, 15_000, "frames before the drain")));

  const placed = (await cluster.listNodes()).find((n) => n.streams.includes(name));
  expect(placed, "the registry knows where the stream is").toBeDefined();
  const victim = cluster.nodes.find((n) => n.nodeId === placed!.nodeId)!;
  const survivor = cluster.nodes.find((n) => n !== victim)!;
  const exit = exitOf(victim.process);

  const termAt = Date.now();
  victim.process.kill("SIGTERM");
  // the registry hears of the drain with the next heartbeat (1 s here)
  await waitUntil(
    async () => (await cluster.listNodes()).some((n) => n.nodeId === victim.nodeId && (n as { draining?: boolean }).draining),
    5000,
    "the registry to see the node draining",
  );

  // no new placement on the draining node: a new stream goes to the survivor
  const other = uniqueName("drain-other");
  const pub2 = await spawnPublisher({ url: cluster.wsUrl, name: other });
  await pub2.waitForStatus("PUBLISHING", 15_000);
  expect((await cluster.listNodes()).find((n) => n.streams.includes(other))?.nodeId).toBe(survivor.nodeId);

  // the draining node's legs keep flowing, and its stream still takes a player
  const before = await Promise.all(players.map((p) => p.stats()));
  const late = await spawnPlayer({ url: cluster.wsUrl, name });
  await late.waitForStatus("PLAYING", 15_000);
  await sleep(1500);
  const after = await Promise.all(players.map((p) => p.stats()));
  for (const [i, s] of after.entries()) expect(s.framesDecoded - before[i]!.framesDecoded, "frames during the drain").toBeGreaterThan(15);
  expect(statusList(pub)).toEqual(["PUBLISHING"]);

  // the drain timeout: everyone on the node FAILED with the shutdown info, not before
  const ends = await Promise.all([pub, ...players, late].map((c) => c.waitForStatus("FAILED", DRAIN_MS + 10_000)));
  for (const e of ends) {
    expect(e.info).toBe(SHUTDOWN);
    expect(e.t - termAt).toBeGreaterThanOrEqual(DRAIN_MS - 500);
    expect(e.t - termAt).toBeLessThan(DRAIN_MS + 5000);
  }
  expect(statusList(pub)).toEqual(["PUBLISHING", `FAILED:${SHUTDOWN}`]);
  for (const p of [...players, late]) expect(statusList(p)).toEqual(["PLAYING", `FAILED:${SHUTDOWN}`]);

  const { code, signal, at } = await exit;
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(at - termAt).toBeLessThan(DRAIN_MS + 5000);
  // deregistered before exit: gone at once, not 3 missed heartbeats later
  const nodes = await cluster.listNodes();
  expect(nodes.map((n) => n.nodeId)).toEqual([survivor.nodeId]);
  expect(statusList(pub2)).toEqual(["PUBLISHING"]);

  // the name is free, and lands on the survivor
  const again = await spawnPublisher({ url: cluster.wsUrl, name });
  await again.waitForStatus("PUBLISHING", 15_000);
  expect((await cluster.listNodes()).find((n) => n.streams.includes(name))?.nodeId).toBe(survivor.nodeId);
});

it("a signed POST /v1/drain on a node without legs deregisters it and exits 0 at once", async () => {
  const node = await cluster.startNode({ MEDIA_NODE_DRAIN_TIMEOUT_MS: "60000" });
  const exit = exitOf(node.process);
  const unsigned = await fetch(node.controlUrl + MediaNodePaths.drain, { method: "POST", body: "{}" });
  expect(unsigned.status).toBe(401);
  const asked = Date.now();
  const res = await signedFetch(cluster.secret, node.controlUrl + MediaNodePaths.drain, "POST", { timeoutMs: 30_000 }, 5000);
  expect(res.status).toBe(200);
  const body = (await res.json()) as DrainResponse;
  expect(body).toMatchObject({ ok: true, draining: true, timeoutMs: 30_000, legs: 0 });
  const { code, at } = await exit;
  expect(code).toBe(0);
  expect(at - asked).toBeLessThan(5000);
  expect((await cluster.listNodes()).some((n) => n.nodeId === node.nodeId)).toBe(false);
});

it("wcs-edge drain asks a node to drain (signed with MEDIA_NODE_SECRET) and prints its answer", async () => {
  const node = await cluster.startNode({ MEDIA_NODE_DRAIN_TIMEOUT_MS: "60000" });
  const exit = exitOf(node.process);
  const wrong = await runCli(["drain", "--node", node.controlUrl, "--secret", "not-the-secret", "--json"]);
  expect(wrong.code, wrong.cli.stderr).toBe(1);
  expect(wrong.cli.stderr).toContain("HTTP 401");
  const ok = await runCli(["drain", "--node", node.controlUrl, "--secret", cluster.secret, "--timeout-ms", "20000", "--json"]);
  expect(ok.code, ok.cli.stderr).toBe(0);
  expect(ok.cli.events()).toMatchObject([{ type: "drain", legs: 0, timeoutMs: 20_000 }]);
  expect((await exit).code).toBe(0);
  expect((await cluster.listNodes()).some((n) => n.nodeId === node.nodeId)).toBe(false);
});
