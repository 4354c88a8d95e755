/**
 * Probes and metrics against a real worker + media node + wrtc clients: the worker's `/healthz`, `/readyz` and
 * admin-only `/metrics` (worker/metrics.ts), the node's unsigned `/healthz` and Prometheus `/metrics`
 * (media-node/metrics.ts). Both metric texts are parsed with a Prometheus text-format parser. During a real stream the
 * counters move; a room join moves the room gauges; readiness flips to 503 when the last node is gone.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { closeAllClients, spawnPlayer, spawnPublisher, waitUntil, WcsSocket } from "../clients/index.js";
import { startCluster, type Cluster } from "../harness/cluster.js";
import { scrapeMetrics, type Scrape } from "../harness/prometheus.js";

const TOKEN = "ops-test-admin-token";
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1, vars: { REST_API_TOKEN: TOKEN } });
});
afterEach(async () => {
  await closeAllClients();
});
afterAll(async () => {
  await cluster?.stop();
});

const workerMetrics = () => scrapeMetrics(`${cluster.httpUrl}/metrics`, TOKEN);
const nodeMetrics = () => scrapeMetrics(`${cluster.nodes[0]!.controlUrl}/metrics`);

/** Polls `f` until it holds (heartbeats and scrapes lag by up to a second or two). */
async function until(what: string, f: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  await waitUntil(f, timeoutMs, what);
}

it("answers /healthz and /readyz, and /metrics only to an admin", async () => {
  const health = await fetch(`${cluster.httpUrl}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: "ok" });
  const ready = await fetch(`${cluster.httpUrl}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ status: "ready", liveNodes: 1 });

  expect((await fetch(`${cluster.httpUrl}/metrics`)).status).toBe(401);
  expect((await fetch(`${cluster.httpUrl}/metrics`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
  const m = await workerMetrics();
  expect(m.value("wcs_media_nodes", { state: "live" })).toBe(1);
  expect(m.value("wcs_registry_node_up", { node_id: cluster.nodes[0]!.nodeId })).toBe(1);

  const nodeHealth = await fetch(`${cluster.nodes[0]!.controlUrl}/healthz`);
  expect(await nodeHealth.json()).toEqual({ status: "ok", nodeId: cluster.nodes[0]!.nodeId });
});

it("moves the counters during a real stream and the room gauges with a join", async () => {
  const name = `ops-${randomUUID().slice(0, 8)}`;
  const w0 = await workerMetrics();
  const n0 = await nodeMetrics();
  const pub = await spawnPublisher({ url: cluster.wsUrl, name });
  await pub.waitForStatus("PUBLISHING");
  const player = await spawnPlayer({ url: cluster.wsUrl, name });
  await player.waitForStatus("PLAYING");
  await player.waitForStats((s) => s.framesDecoded > 30, 15_000, "frames");

  let w: Scrape = w0;
  await until("the worker to count the stream, its sessions and the node's legs", async () => {
    w = await workerMetrics();
    const node = { node_id: cluster.nodes[0]!.nodeId };
    return (
      w.value("wcs_streams") >= 1 &&
      w.value("wcs_sessions") >= w0.value("wcs_sessions") + 2 &&
      w.value("wcs_registry_node_publishers", node) >= 1 &&
      w.value("wcs_registry_node_players", node) >= 1
    );
  });
  const n1 = await nodeMetrics();
  expect(n1.value("wcs_media_node_legs", { role: "publisher", state: "connected" })).toBeGreaterThanOrEqual(1);
  expect(n1.value("wcs_media_node_legs", { role: "player", state: "connected" })).toBeGreaterThanOrEqual(1);
  // ~1.5 s of 30 fps video at least went in and out
  expect(n1.value("wcs_media_node_packets_total", { direction: "in" }) - n0.value("wcs_media_node_packets_total", { direction: "in" })).toBeGreaterThan(100);
  expect(n1.value("wcs_media_node_packets_total", { direction: "out" }) - n0.value("wcs_media_node_packets_total", { direction: "out" })).toBeGreaterThan(100);
  expect(n1.value("wcs_media_node_bytes_total", { direction: "out" }) - n0.value("wcs_media_node_bytes_total", { direction: "out" })).toBeGreaterThan(50_000);
  expect(n1.value("wcs_media_node_keyframe_requests_total", { outcome: "sent" })).toBeGreaterThanOrEqual(1);
  expect(n1.value("process_resident_memory_bytes")).toBeGreaterThan(10 * 2 ** 20);
  expect(n1.value("nodejs_eventloop_lag_p99_seconds")).toBeGreaterThanOrEqual(0);

  // a room join: one room, one participant more; the socket's close takes them back
  const room = `ops-room-${randomUUID().slice(0, 8)}`;
  const member = await WcsSocket.connect(cluster.wsUrl, { appKey: "roomApp", custom: { login: "alice" } });
  const operationId = randomUUID();
  member.send("sendData", { operationId, payload: { command: "join", options: { name: room, record: false } } });
  await member.waitFor((f) => f.message === "DataStatusEvent" && (f.data[0] as { operationId?: string }).operationId === operationId, 10_000);
  await until("the room gauges to count the join", async () => {
    const m = await workerMetrics();
    return m.value("wcs_rooms") === w0.value("wcs_rooms") + 1 && m.value("wcs_room_participants") === w0.value("wcs_room_participants") + 1;
  });
  member.close();
  await pub.stop();
  await closeAllClients();
  await until("the gauges to go back when the sockets close", async () => {
    const m = await workerMetrics();
    return m.value("wcs_rooms") === w0.value("wcs_rooms") && m.value("wcs_room_participants") === w0.value("wcs_room_participants") && m.value("wcs_sessions") === w0.value("wcs_sessions");
  }, 20_000);
});

it("is not ready once the last media node is gone", async () => {
  await cluster.nodes[0]!.kill("SIGKILL");
  await until("/readyz to answer 503", async () => (await fetch(`${cluster.httpUrl}/readyz`)).status === 503, 15_000);
  const res = await fetch(`${cluster.httpUrl}/readyz`);
  expect(await res.json()).toEqual({ status: "not_ready", reason: "no live media node" });
  expect((await fetch(`${cluster.httpUrl}/healthz`)).status).toBe(200);
  const m = await workerMetrics();
  expect(m.value("wcs_media_nodes", { state: "live" })).toBe(0);
});
