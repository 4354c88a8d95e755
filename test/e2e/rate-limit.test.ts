/**
 * Rate limits per client address (worker/rate-limit.ts) on `wrangler dev`'s local Rate Limiting binding, with small
 * limits for this run: each trips at its configured rate with the documented refusal (HTTP 429 + Retry-After, WCS
 * FAILED "Too many requests"), and what was admitted keeps working — a publisher admitted before the limit keeps
 * publishing, and other kinds of request from the same address are not affected.
 *
 * The local limiter counts in fixed 10 s windows (miniflare's ratelimit worker), so a burst that crosses a window
 * boundary may see up to twice the limit admitted; the assertions allow that and no more.
 */
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RATE_LIMIT_RETRY_AFTER_S } from "../../protocol/index.js";
import { closeAllClients, spawnPlayer, spawnPublisher, WcsSocket } from "../clients/index.js";
import { uniqueName } from "../harness/browser.js";
import { startCluster, type Cluster } from "../harness/cluster.js";
import { staticOffer } from "../harness/endpoints.js";

const LIMITS = { RATE_LIMIT_CONNECT: 6, RATE_LIMIT_MEDIA: 4, RATE_LIMIT_REST: 5 };
let cluster: Cluster;
const sockets: WcsSocket[] = [];

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1, rateLimits: LIMITS });
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.close()));
  await closeAllClients();
});
afterAll(async () => {
  await cluster?.stop();
});

/**
 * Waits for the start of the next 10 s window of the local limiter: each test then counts from zero, in one window
 * (a test's requests take well under 10 s).
 */
async function freshWindow(): Promise<void> {
  await new Promise((r) => setTimeout(r, 10_000 - (Date.now() % 10_000) + 50));
}

/** Tries a WebSocket upgrade; resolves with 101 when it opened, else the HTTP status and Retry-After. */
function upgrade(url: string): Promise<{ status: number; retryAfter?: string | undefined }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on("open", () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.on("unexpected-response", (_req, res) => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] as string | undefined }));
    ws.on("error", () => undefined);
  });
}

describe("rate limits per client address", () => {
  it("REST: 429 {error: Too many requests} + Retry-After past the limit", async () => {
    await freshWindow();
    const results = [];
    for (let i = 0; i < LIMITS.RATE_LIMIT_REST + 3; i++) {
      const res = await fetch(`${cluster.httpUrl}/rest-api/stream/find_all`, { method: "POST" });
      results.push({ status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() });
    }
    expect(results.slice(0, LIMITS.RATE_LIMIT_REST).map((r) => r.status)).toEqual(Array(LIMITS.RATE_LIMIT_REST).fill(404));
    expect(results.slice(LIMITS.RATE_LIMIT_REST)).toEqual(Array(3).fill({ status: 429, retryAfter: String(RATE_LIMIT_RETRY_AFTER_S), body: { error: "Too many requests" } }));
  });

  it("publish/play: FAILED 'Too many requests' past the limit with no answer; admitted streams keep flowing", async () => {
    await freshWindow();
    const pubName = uniqueName("rl");
    const pub = await spawnPublisher({ url: cluster.wsUrl, name: pubName }); // 1 of the media limit
    await pub.waitForStatus("PUBLISHING");
    const player = await spawnPlayer({ url: cluster.wsUrl, name: pubName }); // 2
    await player.waitForStatus("PLAYING");
    const s = await WcsSocket.connect(cluster.wsUrl);
    sockets.push(s);
    const outcomes: string[] = [];
    for (let i = 0; i < LIMITS.RATE_LIMIT_MEDIA + 2; i++) {
      const mediaSessionId = randomUUID();
      s.send("playStream", { mediaSessionId, name: pubName, published: false, hasVideo: true, hasAudio: true, sdp: staticOffer("recvonly") });
      const f = await s.waitFor(
        (fr) => (fr.message === "setRemoteSDP" && fr.data[0] === mediaSessionId) || (fr.message === "notifyStreamStatusEvent" && (fr.data[0] as { mediaSessionId?: string }).mediaSessionId === mediaSessionId),
        10_000,
      );
      outcomes.push(f.message === "setRemoteSDP" ? "answer" : `${(f.data[0] as { status: string }).status} ${(f.data[0] as { info?: string }).info}`);
    }
    // two media requests went to the publisher and the real player
    expect(outcomes).toEqual([...Array(LIMITS.RATE_LIMIT_MEDIA - 2).fill("answer"), ...Array(4).fill("FAILED Too many requests")]);
    expect(s.framesNamed("setRemoteSDP")).toHaveLength(LIMITS.RATE_LIMIT_MEDIA - 2);
    const before = await player.waitForStats((st) => st.framesDecoded > 0, 10_000, "frames at the admitted player");
    await new Promise((r) => setTimeout(r, 1500));
    expect((await player.stats()).framesDecoded).toBeGreaterThan(before.framesDecoded + 20);
    expect(pub.statuses.map((x) => x.status)).toEqual(["PUBLISHING"]);
    expect(player.statuses.map((x) => x.status)).toEqual(["PLAYING"]);
  });

  it("connections: 429 + Retry-After on the upgrade past the limit, for WCS sessions and the Flussonic-style sockets; REST is counted apart", async () => {
    await freshWindow();
    const results = [];
    for (let i = 0; i < LIMITS.RATE_LIMIT_CONNECT + 2; i++) {
      results.push(await upgrade(i % 2 ? cluster.wsUrl : `${cluster.wsUrl}/${uniqueName("ws")}/webrtc/play`));
    }
    expect(results.slice(0, LIMITS.RATE_LIMIT_CONNECT).every((r) => r.status === 101)).toBe(true);
    expect(results.slice(LIMITS.RATE_LIMIT_CONNECT)).toEqual(Array(2).fill({ status: 429, retryAfter: String(RATE_LIMIT_RETRY_AFTER_S) }));
    const rest = await fetch(`${cluster.httpUrl}/rest-api/pull/find_all`, { method: "POST" });
    expect(rest.status).toBe(404);
    await rest.body?.cancel();
  });
});
