/**
 * Webhooks end to end (protocol/webhooks.ts, worker/webhook-outbox-do.ts): a real `wrangler dev` worker with
 * WEBHOOK_URL pointing at a local Node HTTP receiver that verifies every request with the third-party
 * `standardwebhooks` library. Streams, players, rooms and a relay produce their events in order; then the receiver is
 * down for 10 s while events happen, and once it listens again (same port) every one of them arrives exactly once.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { Webhook } from "standardwebhooks";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { WebhookEvent } from "../../protocol/webhooks.js";
import { closeAllClients, spawnPlayer, spawnPublisher, waitUntil, WcsSocket } from "../clients/index.js";
import { freePort, startCluster, type Cluster } from "../harness/cluster.js";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One request the receiver accepted (verified, answered 204). */
interface Delivery {
  id: string;
  event: WebhookEvent;
  at: number;
}

/** A webhook receiver on a fixed port that can be stopped and started again; verifies with `standardwebhooks`. */
class Receiver {
  private server: Server | null = null;
  readonly deliveries: Delivery[] = [];
  readonly rejected: string[] = [];
  private readonly verifier = new Webhook(SECRET);

  constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.onRequest(req).then((code) => res.writeHead(code).end()));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.server = server;
  }

  /** Stops listening and drops every open connection (the worker's next attempt is refused). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async onRequest(req: IncomingMessage): Promise<number> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const header = (n: string) => String(req.headers[n] ?? "");
    const headers = { "webhook-id": header("webhook-id"), "webhook-timestamp": header("webhook-timestamp"), "webhook-signature": header("webhook-signature") };
    try {
      if (req.method !== "POST" || req.url !== "/hook" || !String(req.headers["content-type"]).startsWith("application/json")) throw new Error(`${req.method} ${req.url}`);
      const event = this.verifier.verify(body, headers) as WebhookEvent;
      if (event.id !== headers["webhook-id"]) throw new Error(`body id ${event.id} is not webhook-id ${headers["webhook-id"]}`);
      this.deliveries.push({ id: event.id, event, at: Date.now() });
      return 204;
    } catch (err) {
      this.rejected.push(`${String(err)}: ${body.slice(0, 200)}`);
      return 400;
    }
  }

  /** The events received so far, each once, in arrival order. */
  events(): WebhookEvent[] {
    const seen = new Set<string>();
    return this.deliveries.filter((d) => !seen.has(d.id) && seen.add(d.id)).map((d) => d.event);
  }

  /** Waits until no request has arrived for `quietMs`. */
  async settle(quietMs = 1500, timeoutMs = 20_000): Promise<void> {
    let count = -1;
    let since = Date.now();
    await waitUntil(
      () => {
        if (this.deliveries.length !== count) {
          count = this.deliveries.length;
          since = Date.now();
        }
        return Date.now() - since >= quietMs;
      },
      timeoutMs,
      "webhooks to settle",
      100,
    );
  }
}

/** Events about `name` (stream and player events), as `type` or `type:status:info`. */
function streamTrail(events: WebhookEvent[], name: string): WebhookEvent[] {
  return events.filter((e) => (e.type.startsWith("stream.") || e.type.startsWith("player.")) && (e.data as { name: string }).name === name);
}

let cluster: Cluster;
let receiver: Receiver;

beforeAll(async () => {
  receiver = new Receiver(await freePort());
  await receiver.start();
  cluster = await startCluster({
    nodes: 1,
    vars: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_MAX_MS: "2000", RELAY_ALLOWED_URIS: "127.0.0.1:*" },
  });
});
afterEach(async () => {
  await closeAllClients();
});
afterAll(async () => {
  await cluster?.stop();
  await receiver?.stop();
});

// ---------- Room API on raw WCS sockets (see test/e2e/rooms.test.ts) ----------

async function member(login: string): Promise<WcsSocket> {
  return WcsSocket.connect(cluster.wsUrl, { appKey: "roomApp", custom: { login } });
}

async function command(ws: WcsSocket, cmd: string, options: unknown): Promise<void> {
  const operationId = randomUUID();
  const from = ws.frames.length;
  ws.send("sendData", { operationId, payload: { command: cmd, options } });
  const f = await ws.waitFor((fr) => fr.message === "DataStatusEvent" && (fr.data[0] as { operationId?: string }).operationId === operationId, 10_000, { from });
  expect(f.data[0], `${cmd} ${JSON.stringify(options)}`).toMatchObject({ status: "ACCEPTED" });
}

/** Publishes `name`, waits for PUBLISHING, unpublishes, waits for UNPUBLISHED; returns the mediaSessionId. */
async function publishOnce(name: string): Promise<string> {
  const pub = await spawnPublisher({ url: cluster.wsUrl, name });
  await pub.waitForStatus("PUBLISHING", 15_000);
  await pub.stop();
  await pub.waitForStatus("UNPUBLISHED", 10_000);
  await pub.close();
  return pub.mediaSessionId;
}

describe("webhooks", () => {
  it("delivers signed stream, player and room events, in order, with their exact fields", async () => {
    const name = uniqueName("wh");
    const pub = await spawnPublisher({ url: cluster.wsUrl, name });
    await pub.waitForStatus("PUBLISHING", 15_000);
    const player = await spawnPlayer({ url: cluster.wsUrl, name });
    await player.waitForStatus("PLAYING", 15_000);
    await player.stop();
    await player.waitForStatus("STOPPED", 10_000);
    await pub.stop();
    await pub.waitForStatus("UNPUBLISHED", 10_000);

    const room = uniqueName("whroom");
    const alice = await member("alice");
    const bob = await member("bob");
    await command(alice, "join", { name: room, record: false });
    await command(bob, "join", { name: room, record: false });
    await command(alice, "sendMessage", { roomConfig: { name: room }, to: "bob", text: "secret text" });
    await command(bob, "leave", { name: room });
    await alice.close();
    await bob.close();

    const p = pub.mediaSessionId;
    const pl = player.mediaSessionId;
    const expectedStream = [
      { type: "stream.published", data: { name, mediaSessionId: p, status: "PUBLISHING" } },
      { type: "player.started", data: { name, mediaSessionId: pl, status: "PLAYING" } },
      { type: "player.stopped", data: { name, mediaSessionId: pl, status: "STOPPED", info: "Stopped by user" } },
      { type: "stream.unpublished", data: { name, mediaSessionId: p, status: "UNPUBLISHED", info: "Stopped by user" } },
    ];
    const expectedRoom = [
      { type: "room.joined", data: { room, login: "alice" } },
      { type: "room.joined", data: { room, login: "bob" } },
      { type: "room.message", data: { room, from: "alice", recipients: 1 } },
      { type: "room.left", data: { room, login: "bob", reason: "leave" } },
      { type: "room.left", data: { room, login: "alice", reason: "socket closed" } },
    ];
    const roomTrail = () => receiver.events().filter((e) => e.type.startsWith("room.") && (e.data as { room: string }).room === room);
    await waitUntil(() => streamTrail(receiver.events(), name).length >= 4 && roomTrail().length >= 5, 20_000, () => `events: ${JSON.stringify(receiver.events())}`);
    await receiver.settle();

    expect(receiver.rejected).toEqual([]);
    expect(streamTrail(receiver.events(), name).map(({ type, data }) => ({ type, data }))).toEqual(expectedStream);
    expect(roomTrail().map(({ type, data }) => ({ type, data }))).toEqual(expectedRoom);
    for (const e of [...streamTrail(receiver.events(), name), ...roomTrail()]) {
      expect(Object.keys(e)).toEqual(["id", "type", "createdAt", "data"]);
      expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Math.abs(Date.now() - e.createdAt)).toBeLessThan(60_000);
    }
    expect(JSON.stringify(receiver.deliveries)).not.toContain("secret text");
    // every request verified and answered 2xx once: no id came twice
    expect(new Set(receiver.deliveries.map((d) => d.id)).size).toBe(receiver.deliveries.length);
  });

  it("reports a relay's statuses", async () => {
    const source = uniqueName("whsrc");
    const local = uniqueName("whpulled");
    const pub = await spawnPublisher({ url: cluster.wsUrl, name: source });
    await pub.waitForStatus("PUBLISHING", 15_000);
    const rest = (path: string, body: unknown) =>
      fetch(`${cluster.httpUrl}/rest-api${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const res = await rest("/pull/pull", { uri: cluster.wsUrl, remoteStreamName: source, localStreamName: local });
    expect(res.status, await res.text()).toBe(200);
    const relayTrail = () => receiver.events().filter((e) => e.type === "relay.status" && e.data.localStreamName === local);
    await waitUntil(() => relayTrail().some((e) => e.type === "relay.status" && e.data.status === "PROCESSED_LOCAL"), 20_000, () => `events: ${JSON.stringify(receiver.events())}`);
    expect((await rest("/pull/terminate", { localStreamName: local })).status).toBe(200);
    await receiver.settle();

    const trail = relayTrail().map((e) => e.data);
    // PENDING (the remote answered) comes first unless the node reported the relay active before its start returned
    expect(trail.map((d) => (d as { status: string }).status).join(",")).toMatch(/^(PENDING,)?PROCESSED_LOCAL$/);
    expect(trail.at(-1)).toEqual({ relayId: expect.any(String), direction: "pull", uri: cluster.wsUrl, localStreamName: local, remoteStreamName: source, status: "PROCESSED_LOCAL", attempts: 0 });
    // the pulled stream is an ordinary stream: published, then unpublished by the terminate
    expect(streamTrail(receiver.events(), local).map((e) => e.type)).toEqual(["stream.published", "stream.unpublished"]);
    expect(receiver.rejected).toEqual([]);
  });

  it("keeps the events while the receiver is down for 10 s and delivers each exactly once when it is back", async () => {
    await receiver.settle();
    const before = receiver.deliveries.length;
    await receiver.stop();
    const downAt = Date.now();

    const names: string[] = [];
    const sessions: string[] = [];
    const room = uniqueName("whdown");
    const carol = await member("carol");
    await command(carol, "join", { name: room, record: false });
    for (let i = 0; i < 3; i++) {
      const name = uniqueName(`whdown${i}`);
      names.push(name);
      sessions.push(await publishOnce(name));
    }
    await carol.close();
    await sleep(Math.max(0, 10_000 - (Date.now() - downAt)));
    expect(receiver.deliveries.length).toBe(before); // nothing got through while down

    const upAt = Date.now();
    await receiver.start();
    const expected = [
      ...names.flatMap((name, i) => [
        { type: "stream.published", data: { name, mediaSessionId: sessions[i], status: "PUBLISHING" } },
        { type: "stream.unpublished", data: { name, mediaSessionId: sessions[i], status: "UNPUBLISHED", info: "Stopped by user" } },
      ]),
      { type: "room.joined", data: { room, login: "carol" } },
      { type: "room.left", data: { room, login: "carol", reason: "socket closed" } },
    ];
    const got = () => receiver.deliveries.slice(before).map((d) => d.event);
    // the outbox retries at most every WEBHOOK_RETRY_MAX_MS (2 s)
    await waitUntil(() => got().length >= expected.length, 20_000, () => `got ${JSON.stringify(got())}`);
    await receiver.settle(3000);

    expect(receiver.rejected).toEqual([]);
    const deliveries = receiver.deliveries.slice(before);
    // exactly once: as many requests as events, each id once
    expect(deliveries.length).toBe(expected.length);
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(expected.length);
    for (const d of deliveries) {
      expect(d.at).toBeGreaterThanOrEqual(upAt);
      expect(d.event.createdAt).toBeLessThan(upAt);
      expect(d.event.createdAt).toBeGreaterThanOrEqual(downAt);
    }
    // none lost, none extra; in order per subject
    const pick = (events: WebhookEvent[]) => events.map(({ type, data }) => ({ type, data }));
    for (const name of names) expect(pick(streamTrail(got(), name))).toEqual(expected.filter((e) => (e.data as { name?: string }).name === name));
    expect(pick(got().filter((e) => e.type.startsWith("room.")))).toEqual(expected.slice(-2));
  });
});
