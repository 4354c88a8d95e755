/**
 * Cascade between media nodes (docs/architecture.md "Cascade"), with real parts: node A carries the publisher and
 * has room for one player (MEDIA_NODE_MAX_LEGS=2); node B has room for its pull leg and two players
 * (MEDIA_NODE_MAX_LEGS=3); node C has room. Players 2–3 are placed on B, which pulls the stream from A once; player
 * 4 on C. Every player decodes frames. When B's players leave, B's pull and A's feed to it are removed after the
 * linger (CASCADE_LINGER_MS=1000). Killing edge C fails only C's player; killing origin A fails everyone left.
 * A stream published over WHIP (Debian's simple-whip-client) cascades the same way.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { NodeStatus, signedFetch } from "../../protocol/index.js";
import { closeAllClients, spawnPlayer, spawnPublisher, waitUntil, type WcsClientHandle } from "../clients/index.js";
import { startCluster, type Cluster, type MediaNodeProc } from "../harness/cluster.js";
import { startWhipClient, whipClientShims, type WhipClient, type WhipClientShims } from "../harness/whip-client.js";

let cluster: Cluster;
let shims: WhipClientShims | undefined;
let whip: WhipClient | undefined;
beforeAll(async () => {
  cluster = await startCluster({ nodes: 0, vars: { CASCADE_LINGER_MS: "1000" } });
});
afterEach(async () => {
  whip?.child.kill("SIGKILL");
  await closeAllClients();
});
afterAll(async () => {
  await cluster?.stop();
  shims?.remove();
});

/** The node's own view of its legs (signed GET /v1/status). */
async function legsOn(node: MediaNodeProc): Promise<NodeStatus["legs"]> {
  const res = await signedFetch(cluster.secret, node.controlUrl + "/v1/status", "GET", undefined, 3000);
  if (!res.ok) throw new Error(`GET /v1/status → ${res.status}`);
  return NodeStatus.parse(await res.json()).legs;
}

/** Waits for decoded frames; a failure says what the cascade did (the worker's cascade_* log lines). */
async function frames(p: WcsClientHandle, what: string, size?: string): Promise<void> {
  try {
    await p.waitForStats((s) => s.framesDecoded > 10 && (size === undefined || (s.sizes[size] ?? 0) > 0), 20_000, what);
  } catch (e) {
    const lines = cluster.logs().split("\n").filter((l) => /cascade_|play_|leg failed|media_node_|registered/.test(l));
    throw new Error(`${(e as Error).message}\n--- cascade log ---\n${lines.slice(-30).join("\n")}`);
  }
}

it("places players on edge nodes that pull the stream once from its node; edge and origin losses fail only their players", async () => {
  const a = await cluster.startNode({ MEDIA_NODE_MAX_LEGS: "2" });
  const name = `cascade-${randomUUID().slice(0, 8)}`;
  const pub = await spawnPublisher({ url: cluster.wsUrl, name });
  await pub.waitForStatus("PUBLISHING");
  const b = await cluster.startNode({ MEDIA_NODE_MAX_LEGS: "3" });

  const p1 = await spawnPlayer({ url: cluster.wsUrl, name });
  await frames(p1, "frames at the origin's player");
  const p2 = await spawnPlayer({ url: cluster.wsUrl, name });
  await frames(p2, "frames at the first edge player");
  const p3 = await spawnPlayer({ url: cluster.wsUrl, name });
  await frames(p3, "frames at the second edge player");

  // A: publisher, its player and ONE feed to B; B: one pull and its two players
  const roles = (legs: NodeStatus["legs"]) => legs.map((l) => l.role).sort();
  expect(roles(await legsOn(a))).toEqual(["player", "player", "publisher"]);
  expect(roles(await legsOn(b))).toEqual(["player", "player", "publisher"]);
  for (const p of [p1, p2, p3]) expect(p.statuses.map((s) => s.status)).toEqual(["PLAYING"]);
  // wherever a player is placed it sees the publisher's SSRCs and the payload types it offered
  const sent = (await pub.stats()).rtp;
  for (const p of [p1, p2, p3]) {
    const got = (await p.stats()).rtp;
    expect(got.video?.ssrc).toBe(sent.video?.ssrc);
    expect(got.audio?.ssrc).toBe(sent.audio?.ssrc);
    expect([got.video?.payloadType, got.audio?.payloadType]).toEqual([(await p1.stats()).rtp.video?.payloadType, (await p1.stats()).rtp.audio?.payloadType]);
  }
  expect(sent.video?.ssrc).toBeGreaterThan(0);
  expect(sent.audio?.ssrc).toBeGreaterThan(0);
  expect((await p2.stats()).rtp.video?.payloadType).toBeGreaterThan(0);

  const c = await cluster.startNode();
  const p4 = await spawnPlayer({ url: cluster.wsUrl, name });
  await frames(p4, "frames at the player of a second edge");
  expect(roles(await legsOn(c))).toEqual(["player", "publisher"]);
  expect((await legsOn(a)).length).toBe(4); // a second feed, to C

  // B's players leave: after the linger B holds nothing and A's feed to B is gone
  await p2.close();
  await p3.close();
  await waitUntil(async () => (await legsOn(b)).length === 0, 10_000, "the edge's pull removed after the linger");
  await waitUntil(async () => (await legsOn(a)).length === 3, 5000, "the origin's feed to the edge removed");
  expect(p1.lastStatus).toBe("PLAYING");

  // edge C lost: only its player fails
  await c.kill("SIGKILL");
  const lost = await p4.waitForStatus("FAILED", 10_000);
  expect(lost.info).toBe("Failed by error: media node lost");
  const before = (await p1.stats()).framesDecoded;
  await p1.waitForStats((s) => s.framesDecoded > before + 10, 15_000, "the origin's player plays on");
  expect(pub.lastStatus).toBe("PUBLISHING");

  // a new player goes to B again (A is full), then the origin is lost: everyone fails
  const p5 = await spawnPlayer({ url: cluster.wsUrl, name });
  await frames(p5, "frames at a player of a re-opened edge");
  await a.kill("SIGKILL");
  for (const p of [pub, p1, p5]) expect((await p.waitForStatus("FAILED", 10_000)).info).toBe("Failed by error: media node lost");
  await waitUntil(async () => (await legsOn(b)).length === 0, 5000, "the edge's legs removed when the origin is lost");
}, 180_000);

it("cascades a stream published over WHIP", async () => {
  for (const n of cluster.nodes) if (n.process.exitCode === null && n.process.signalCode === null) await n.kill("SIGTERM");
  const origin = await cluster.startNode({ MEDIA_NODE_MAX_LEGS: "2" });
  const name = `cascade-whip-${randomUUID().slice(0, 8)}`;
  shims ??= whipClientShims();
  whip = startWhipClient(`${cluster.httpUrl}/whip/${name}`, "unused-auth-is-off", shims);
  await waitUntil(async () => (await legsOn(origin)).some((l) => l.role === "publisher" && l.state === "connected"), 20_000, "the WHIP publisher connected");
  const edge = await cluster.startNode();
  const p1 = await spawnPlayer({ url: cluster.wsUrl, name });
  const p2 = await spawnPlayer({ url: cluster.wsUrl, name });
  for (const p of [p1, p2]) await frames(p, "320x240 frames", "320x240");
  expect((await legsOn(edge)).map((l) => l.role).sort()).toEqual(["player", "publisher"]);
}, 90_000);
