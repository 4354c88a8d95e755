/**
 * Server-to-server relays (/rest-api/pull/*) between two local deployments A and B, each a real `wrangler dev` worker
 * with its own storage and its own media node: push A → B, pull B → A, find_all, terminate, a killed remote media
 * node, the REST codes, and the SSRF guards (RELAY_ALLOWED_URIS; one error text for every remote that is not WCS).
 */
import { randomUUID } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Server } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeAllClients, spawnPlayer, spawnPublisher, waitUntil } from "../clients/index.js";
import { startCluster, type Cluster } from "../harness/cluster.js";

let A: Cluster;
let B: Cluster;
const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  // relays may reach 127.0.0.1 on any port (the other deployment), nothing else
  const vars = { RELAY_ALLOWED_URIS: "127.0.0.1:*" };
  [A, B] = await Promise.all([startCluster({ nodes: 1, vars }), startCluster({ nodes: 1, vars })]);
});
afterEach(async () => {
  await closeAllClients();
  for (const c of [A, B]) {
    if (!c) continue;
    for (const r of await relays(c).catch(() => [])) await rest(c, "/pull/terminate", { localStreamName: r.localStreamName }).catch(() => undefined);
  }
});
afterAll(async () => {
  await Promise.all([A?.stop(), B?.stop()]);
});

type Json = Record<string, unknown>;

async function rest(cluster: Cluster, path: string, body?: unknown, method = "POST") {
  const res = await fetch(`${cluster.httpUrl}/rest-api${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

async function relays(cluster: Cluster): Promise<Json[]> {
  const res = await rest(cluster, "/pull/find_all", undefined, "GET");
  return res.status === 404 ? [] : (res.json as Json[]);
}

/** Waits until the relay of `localStreamName` on `cluster` has `status`; returns it. */
function relayStatus(cluster: Cluster, localStreamName: string, status: string, timeoutMs = 20_000): Promise<Json> {
  let last: Json[] = [];
  return waitUntil(
    async () => {
      last = await relays(cluster);
      return last.find((r) => r.localStreamName === localStreamName && r.status === status);
    },
    timeoutMs,
    () => `relay ${localStreamName} never reached ${status}; relays: ${JSON.stringify(last)}\n${cluster.logs()}`,
    250,
  );
}

async function streamsNamed(cluster: Cluster, name: string): Promise<Json[]> {
  const res = await rest(cluster, "/stream/find", { name });
  return res.status === 404 ? [] : (res.json as Json[]);
}

describe("REST codes", () => {
  it("answers bad bodies with 400, unknown streams and empty lists with 404", async () => {
    expect((await rest(A, "/pull/find_all", undefined, "GET")).status).toBe(404);
    expect((await rest(A, "/pull/find_all")).status).toBe(404);
    expect(await rest(A, "/pull/push", "{nope")).toEqual({ status: 400, json: { error: "Malformed JSON body" } });
    expect((await rest(A, "/pull/push", { localStreamName: "a", remoteStreamName: "b" })).status).toBe(400);
    expect((await rest(A, "/pull/push", { uri: "http://example.test", localStreamName: "a", remoteStreamName: "b" })).status).toBe(400);
    expect((await rest(A, "/pull/pull", { uri: B.wsUrl, localStreamName: "", remoteStreamName: "b" })).status).toBe(400);
    expect((await rest(A, "/pull/terminate", {})).status).toBe(400);
    const unknown = await rest(A, "/pull/push", { uri: B.wsUrl, localStreamName: uniqueName("ghost"), remoteStreamName: "x" });
    expect(unknown).toEqual({ status: 404, json: { error: "Stream not found" } });
    expect((await rest(A, "/pull/terminate", { localStreamName: "ghost" })).status).toBe(404);
    expect(await relays(A)).toEqual([]);
  });
});

describe("SSRF guards", () => {
  const listening = <S extends Server | ReturnType<typeof createHttpServer>>(s: S) =>
    new Promise<number>((ok) => s.listen(0, "127.0.0.1", () => ok((s.address() as AddressInfo).port)));

  it("a relay to a URI outside RELAY_ALLOWED_URIS is refused with 403 before anything connects to it", async () => {
    let connections = 0;
    const tcp = createTcpServer((sock) => {
      connections++;
      sock.destroy();
    });
    const port = await listening(tcp);
    try {
      // localhost resolves to the listening 127.0.0.1, but only the name 127.0.0.1 is allowed
      for (const path of ["/pull/pull", "/pull/push"]) {
        const res = await rest(A, path, { uri: `ws://localhost:${port}/`, localStreamName: uniqueName("ssrf"), remoteStreamName: "x" });
        expect(res).toEqual({ status: 403, json: { error: `Relay to ws://localhost:${port} is not allowed (RELAY_ALLOWED_URIS)` } });
      }
      await new Promise((r) => setTimeout(r, 500));
      expect(connections).toBe(0);
      expect(await relays(A)).toEqual([]);
    } finally {
      tcp.close();
    }
  });

  it("a closed port and an open port that is no WCS server get the same answer (no port scanning through relays)", async () => {
    const closed = createTcpServer();
    const closedPort = await listening(closed);
    await new Promise<void>((ok) => closed.close(() => ok()));
    const http = createHttpServer((_req, res) => res.writeHead(404).end("not a WCS server"));
    const httpPort = await listening(http);
    const tcp = createTcpServer((sock) => sock.end("SSH-2.0-OpenSSH_9.2\r\n"));
    const tcpPort = await listening(tcp);
    try {
      const answers = [];
      for (const port of [closedPort, httpPort, tcpPort]) {
        answers.push(await rest(A, "/pull/pull", { uri: `ws://127.0.0.1:${port}/`, localStreamName: uniqueName("scan"), remoteStreamName: "x" }));
      }
      expect(answers).toEqual(Array(3).fill({ status: 500, json: { error: "Remote server unreachable" } }));
      expect(await relays(A)).toEqual([]);
    } finally {
      http.close();
      tcp.close();
    }
  });
});

describe("push", () => {
  it("republishes a stream from A to B, played on both; duplicates 409, remote refusal 500; terminate unpublishes on B", async () => {
    const local = uniqueName("pushsrc");
    const remote = uniqueName("pushdst");
    const pub = await spawnPublisher({ url: A.wsUrl, name: local });
    await pub.waitForStatus("PUBLISHING");

    const res = await rest(A, "/pull/push", { uri: B.wsUrl, localStreamName: local, remoteStreamName: remote });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json).toMatchObject({ localStreamName: local, remoteStreamName: remote, uri: B.wsUrl, direction: "push", localMediaSessionId: pub.mediaSessionId });
    const active = await relayStatus(A, local, "PROCESSED_REMOTE");
    expect(active.remoteMediaSessionId).toEqual(expect.any(String));

    // on B it is an ordinary publishing stream
    const onB = await streamsNamed(B, remote);
    expect(onB).toHaveLength(1);
    expect(onB[0]).toMatchObject({ published: true, status: "PUBLISHING", mediaSessionId: active.remoteMediaSessionId });

    const [playA, playB] = await Promise.all([spawnPlayer({ url: A.wsUrl, name: local }), spawnPlayer({ url: B.wsUrl, name: remote })]);
    await Promise.all([playA.waitForStatus("PLAYING"), playB.waitForStatus("PLAYING")]);
    const stats = await Promise.all([playA, playB].map((p) => p.waitForStats((s) => s.framesDecoded >= 30 && s.audioSamples > 0, 20_000, "30 decoded frames")));
    for (const s of stats) {
      expect(s.lastSize).toBe("640x480");
      expect(s.badMarkers).toBe(0);
    }

    // the same relay again: 409; another local stream pushed under the same remote name: B refuses → 500 + reason
    expect((await rest(A, "/pull/push", { uri: B.wsUrl, localStreamName: local, remoteStreamName: remote })).status).toBe(409);
    const other = uniqueName("pushother");
    const pub2 = await spawnPublisher({ url: A.wsUrl, name: other });
    await pub2.waitForStatus("PUBLISHING");
    const refused = await rest(A, "/pull/push", { uri: B.wsUrl, localStreamName: other, remoteStreamName: remote });
    expect(refused).toEqual({ status: 500, json: { error: "Stream name is already in use" } });
    expect((await relays(A)).map((r) => r.localStreamName)).toEqual([local]);
    expect((await rest(B, "/pull/find_all")).status).toBe(404);

    // terminate by localStreamName alone: B's stream goes away, its player is told, A keeps playing
    expect(await rest(A, "/pull/terminate", { localStreamName: local })).toEqual({ status: 200, json: { terminated: 1 } });
    const end = await playB.waitForStatus("FAILED", 10_000);
    expect(end.info).toBe("Stopped by publisher stop");
    await waitUntil(async () => (await streamsNamed(B, remote)).length === 0, 10_000, () => "B still lists the pushed stream");
    expect((await rest(A, "/pull/find_all")).status).toBe(404);
    const before = (await playA.stats()).framesDecoded;
    await playA.waitForStats((s) => s.framesDecoded > before + 20, 10_000, "A's player keeps decoding");
    expect(playA.lastStatus).toBe("PLAYING");
  });
});

describe("pull", () => {
  it("pulls a stream published on B into A under a new name, played on A like any stream", async () => {
    const source = uniqueName("pullsrc");
    const local = uniqueName("pulled");
    const pub = await spawnPublisher({ url: B.wsUrl, name: source });
    await pub.waitForStatus("PUBLISHING");

    const res = await rest(A, "/pull/pull", { uri: B.wsUrl, remoteStreamName: source, localStreamName: local });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json).toMatchObject({ direction: "pull", localStreamName: local, remoteStreamName: source });
    const active = await relayStatus(A, local, "PROCESSED_LOCAL");

    const localStream = await streamsNamed(A, local);
    expect(localStream).toEqual([expect.objectContaining({ published: true, status: "PUBLISHING", mediaSessionId: active.localMediaSessionId })]);
    const remotePlayers = (await streamsNamed(B, source)).filter((s) => !s.published);
    expect(remotePlayers).toEqual([expect.objectContaining({ status: "PLAYING", mediaSessionId: active.remoteMediaSessionId })]);

    const player = await spawnPlayer({ url: A.wsUrl, name: local });
    await player.waitForStatus("PLAYING");
    const s = await player.waitForStats((x) => x.framesDecoded >= 30 && x.audioSamples > 0, 20_000, "30 decoded frames of the pulled stream");
    expect(s.lastSize).toBe("640x480");

    // the local name is taken now
    expect((await rest(A, "/pull/pull", { uri: B.wsUrl, remoteStreamName: source, localStreamName: local })).status).toBe(409);
    const taken = uniqueName("taken");
    const squatter = await spawnPublisher({ url: A.wsUrl, name: taken });
    await squatter.waitForStatus("PUBLISHING");
    expect((await rest(A, "/pull/pull", { uri: B.wsUrl, remoteStreamName: source, localStreamName: taken })).status).toBe(409);
    // a remote stream that does not exist: refused by B
    const missing = await rest(A, "/pull/pull", { uri: B.wsUrl, remoteStreamName: uniqueName("nothing"), localStreamName: uniqueName("l") });
    expect(missing).toEqual({ status: 500, json: { error: "Stream not found" } });

    // terminate: the local stream ends (players FAILED), B's player leg goes away
    expect((await rest(A, "/pull/terminate", { uri: B.wsUrl, remoteStreamName: source })).status).toBe(200);
    expect((await player.waitForStatus("FAILED", 10_000)).info).toBe("Stopped by publisher stop");
    expect(await streamsNamed(A, local)).toEqual([]);
    await waitUntil(async () => (await streamsNamed(B, source)).length === 1, 10_000, () => "B's relay player leg still listed");
  });
});

describe("retry", () => {
  it("starts a failed relay again with backoff when retry is set", async () => {
    const local = uniqueName("rsrc");
    const remote = uniqueName("rdst");
    const pub = await spawnPublisher({ url: A.wsUrl, name: local });
    await pub.waitForStatus("PUBLISHING");
    expect((await rest(A, "/pull/push", { uri: B.wsUrl, localStreamName: local, remoteStreamName: remote, retry: true })).status).toBe(200);
    const first = await relayStatus(A, local, "PROCESSED_REMOTE");
    // B's operator ends the republished stream: the relay fails, then comes back by itself
    expect((await rest(B, "/stream/terminate", { name: remote })).status).toBe(200);
    const failed = await relayStatus(A, local, "FAILED", 10_000);
    expect(failed).toMatchObject({ info: "Stopped by rest /terminate", retry: true, attempts: 1 });
    const again = await relayStatus(A, local, "PROCESSED_REMOTE", 15_000);
    expect(again.remoteMediaSessionId).not.toBe(first.remoteMediaSessionId);
    expect(await streamsNamed(B, remote)).toEqual([expect.objectContaining({ published: true, status: "PUBLISHING" })]);
    const player = await spawnPlayer({ url: B.wsUrl, name: remote });
    await player.waitForStats((x) => x.framesDecoded >= 10, 20_000, "frames after the retry");
  });
});

describe("remote failure", () => {
  it("reports FAILED on A when B's media node dies, and leaves no half-open stream", async () => {
    const aSrc = uniqueName("ksrc");
    const pushed = uniqueName("kpushed");
    const bSrc = uniqueName("kbsrc");
    const pulled = uniqueName("kpulled");
    const [pubA, pubB] = await Promise.all([spawnPublisher({ url: A.wsUrl, name: aSrc }), spawnPublisher({ url: B.wsUrl, name: bSrc })]);
    await Promise.all([pubA.waitForStatus("PUBLISHING"), pubB.waitForStatus("PUBLISHING")]);
    expect((await rest(A, "/pull/push", { uri: B.wsUrl, localStreamName: aSrc, remoteStreamName: pushed })).status).toBe(200);
    expect((await rest(A, "/pull/pull", { uri: B.wsUrl, remoteStreamName: bSrc, localStreamName: pulled })).status).toBe(200);
    await relayStatus(A, aSrc, "PROCESSED_REMOTE");
    await relayStatus(A, pulled, "PROCESSED_LOCAL");
    const [playLocal, playPulled] = await Promise.all([spawnPlayer({ url: A.wsUrl, name: aSrc }), spawnPlayer({ url: A.wsUrl, name: pulled })]);
    await Promise.all([playLocal, playPulled].map((p) => p.waitForStats((s) => s.framesDecoded > 10, 20_000, "frames before the kill")));

    await B.nodes[0]!.kill("SIGKILL");
    const [push, pull] = await Promise.all([relayStatus(A, aSrc, "FAILED", 20_000), relayStatus(A, pulled, "FAILED", 20_000)]);
    expect(push.info).toBe("Failed by error: media node lost");
    expect(pull.info).toBe("Failed by error: media node lost");
    expect(push.remoteMediaSessionId).toBeNull();

    // the pulled stream ended on A (its player told), A's own stream is untouched
    expect((await playPulled.waitForStatus("FAILED", 10_000)).info).toBe("Stopped by publisher stop");
    expect(await streamsNamed(A, pulled)).toEqual([]);
    expect((await streamsNamed(A, aSrc)).map((s) => s.status).sort()).toEqual(["PLAYING", "PUBLISHING"]);
    const before = (await playLocal.stats()).framesDecoded;
    await playLocal.waitForStats((s) => s.framesDecoded > before + 20, 10_000, "A's local player keeps decoding");

    // failed relays stay listed until terminated
    expect((await rest(A, "/pull/terminate", { uri: B.wsUrl })).json).toEqual({ terminated: 2 });
    expect((await rest(A, "/pull/find_all")).status).toBe(404);
  });
});
