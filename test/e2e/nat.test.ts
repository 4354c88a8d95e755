/**
 * A media node behind a real 1:1 NAT (issue 11 item 1), in network namespaces this file creates
 * (test/harness/netns.ts): the node runs in a "node" namespace on a private address, its public address exists only
 * on a "router" namespace that translates UDP to it (DNAT + SNAT, ports kept), and WCS clients (@roamhq/wrtc
 * children) run in a "client" namespace on the public side, where the private address is unreachable. The worker
 * (wrangler dev) stays in the root namespace, on the lab's link to the router.
 *
 * - A node whose MEDIA_NODE_BIND_ADDRESS (or the deprecated MEDIA_NODE_ICE_ADDRESS) is the public address cannot
 *   bind it: it exits 1 at start, naming the variable, and never registers (it used to register and fail every
 *   publish with "Failed to gather local ICE candidates").
 * - Without MEDIA_NODE_ANNOUNCED_ADDRESSES the answer offers the private address and the publish fails: the NAT is
 *   real.
 * - With MEDIA_NODE_ANNOUNCED_ADDRESSES = the public address, the answer carries only it, with the bound port; a
 *   publisher and a player in the client namespace connect through the router, and the player decodes frames.
 *
 * Skipped only where namespaces cannot be made (not root, no `ip netns`); `nft` must be installed (.ci/run does).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeAllClients, spawnPlayer, spawnPublisher } from "../clients/index.js";
import { ROOT, startCluster, type Cluster } from "../harness/cluster.js";
import { createNatLab, natLabUnavailable, type NatLab } from "../harness/netns.js";

const unavailable = await natLabUnavailable();

const candidateLines = (sdp: string | undefined) => (sdp ?? "").split(/\r?\n/).filter((l) => l.startsWith("a=candidate:"));
const connectionLines = (sdp: string | undefined) => (sdp ?? "").split(/\r?\n/).filter((l) => l.startsWith("c="));

describe.skipIf(unavailable !== undefined)(`media node behind a 1:1 NAT${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let lab: NatLab;
  let cluster: Cluster;
  let nextPort = 9100;

  beforeAll(async () => {
    lab = await createNatLab();
    cluster = await startCluster({ nodes: 0, host: lab.workerIp });
  });
  afterEach(async () => {
    await closeAllClients();
  });
  afterAll(async () => {
    await closeAllClients();
    await cluster?.stop();
    await lab?.destroy();
  });

  /** The env of a node in the node namespace: control API on the private address (a port of its own). */
  const nodeEnv = (extra: Record<string, string>) => ({ MEDIA_NODE_LISTEN_HOST: lab.nodeIp, MEDIA_NODE_PORT: String(nextPort++), ...extra });

  /** Runs a media node in the node namespace until it exits by itself (at most 20 s); its exit code and output. */
  function runNodeToExit(env: Record<string, string>): Promise<{ code: number | null; output: string; ms: number }> {
    const t0 = Date.now();
    const child = spawn("ip", ["netns", "exec", lab.nodeNs, process.execPath, "--import", "tsx", join(ROOT, "media-node/main.ts")], {
      cwd: ROOT,
      env: { ...process.env, WORKER_URL: cluster.httpUrl, MEDIA_NODE_SECRET: cluster.secret, LOG_LEVEL: "info", ...nodeEnv(env) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    return new Promise((resolve) =>
      child.once("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, output, ms: Date.now() - t0 });
      }),
    );
  }

  it("a node told to bind the public address (not on any of its interfaces) exits 1 at start, naming the variable, and never registers", async () => {
    const nodeId = `nat-bad-${randomUUID().slice(0, 8)}`;
    const r = await runNodeToExit({ MEDIA_NODE_ID: nodeId, MEDIA_NODE_BIND_ADDRESS: lab.publicIp });
    expect(r.code, r.output).toBe(1);
    expect(r.output).toContain("Invalid media node configuration:");
    expect(r.output).toContain(`MEDIA_NODE_BIND_ADDRESS: ICE cannot gather candidates on this address (Failed to gather local ICE candidates)`);
    expect(r.output).toContain(`put the public IP into MEDIA_NODE_ANNOUNCED_ADDRESSES (got "${lab.publicIp}")`);
    expect(r.output).not.toContain("media node started");

    // the setting of the issue report: the deprecated variable set to the public IP — a warning, then the same refusal
    const legacyId = `nat-legacy-${randomUUID().slice(0, 8)}`;
    const legacy = await runNodeToExit({ MEDIA_NODE_ID: legacyId, MEDIA_NODE_ICE_ADDRESS: lab.publicIp });
    expect(legacy.code, legacy.output).toBe(1);
    expect(legacy.output).toContain("MEDIA_NODE_ICE_ADDRESS is deprecated: rename it MEDIA_NODE_BIND_ADDRESS");
    expect(legacy.output).toContain("MEDIA_NODE_BIND_ADDRESS: ICE cannot gather candidates on this address");

    expect((await cluster.listNodes()).map((n) => n.nodeId)).not.toEqual(expect.arrayContaining([nodeId]));
    expect((await cluster.listNodes()).map((n) => n.nodeId)).not.toEqual(expect.arrayContaining([legacyId]));
  });

  it("without announced addresses the answer offers the private address, which the client side cannot reach: the publish fails", async () => {
    const node = await cluster.startNode(nodeEnv({ MEDIA_NODE_BIND_ADDRESS: "0.0.0.0", MEDIA_NODE_CONNECT_TIMEOUT_MS: "3000" }), { netns: lab.nodeNs });
    try {
      const name = `nat-private-${randomUUID().slice(0, 8)}`;
      const pub = await spawnPublisher({ url: cluster.wsUrl, name, netns: lab.clientNs });
      const failed = await pub.waitForStatus("FAILED", 20_000);
      expect(candidateLines(pub.answerSdp).length, pub.answerSdp).toBeGreaterThan(0);
      expect(candidateLines(pub.answerSdp).every((l) => l.includes(` ${lab.nodeIp} `)), pub.answerSdp).toBe(true);
      expect(failed.info).toBeTruthy();
    } finally {
      await node.kill("SIGTERM");
    }
  });

  it("with MEDIA_NODE_ANNOUNCED_ADDRESSES = the public address: the answer carries only it, and a player decodes the stream through the NAT", async () => {
    const before = await lab.dnatPackets();
    // MEDIA_NODE_BIND_ADDRESS unset (empty counts as unset; the harness sets 127.0.0.1): with announced addresses
    // it defaults to 0.0.0.0
    const node = await cluster.startNode(nodeEnv({ MEDIA_NODE_ANNOUNCED_ADDRESSES: lab.publicIp, MEDIA_NODE_BIND_ADDRESS: "" }), { netns: lab.nodeNs });
    try {
      const name = `nat-public-${randomUUID().slice(0, 8)}`;
      const pub = await spawnPublisher({ url: cluster.wsUrl, name, netns: lab.clientNs });
      await pub.waitForStatus("PUBLISHING", 20_000);
      const pubCandidates = candidateLines(pub.answerSdp);
      expect(pubCandidates, pub.answerSdp).toEqual([expect.stringMatching(new RegExp(`^a=candidate:\\S+ 1 UDP \\d+ ${lab.publicIp.replaceAll(".", "\\.")} \\d+ typ host$`))]);
      expect(pub.answerSdp).not.toContain(lab.nodeIp);
      expect(connectionLines(pub.answerSdp).every((l) => l === `c=IN IP4 ${lab.publicIp}`), pub.answerSdp).toBe(true);

      const player = await spawnPlayer({ url: cluster.wsUrl, name, netns: lab.clientNs });
      await player.waitForStatus("PLAYING", 20_000);
      expect(candidateLines(player.answerSdp).every((l) => l.includes(` ${lab.publicIp} `)), player.answerSdp).toBe(true);
      expect(player.answerSdp).not.toContain(lab.nodeIp);
      const stats = await player.waitForStats((s) => s.framesDecoded > 10 && s.audioChunks > 10, 20_000, "decoded frames and audio through the NAT");
      expect(stats.badMarkers).toBe(0);
      // the media went through the router's translation, not around it
      expect(await lab.dnatPackets()).toBeGreaterThan(before);
    } finally {
      await node.kill("SIGTERM");
    }
  });
});
