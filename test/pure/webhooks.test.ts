/**
 * Webhook signing (protocol/webhooks.ts) checked by a third-party Standard Webhooks verifier (npm `standardwebhooks`),
 * the retry schedule, the shard choice and which leg changes become events (worker/webhooks.ts), and the webhook
 * settings of the worker config.
 */
import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { StreamStatus } from "../../protocol/index.js";
import { signWebhook, webhookHeaders, webhookKey, WEBHOOK_SIGNATURE_HEADER } from "../../protocol/webhooks.js";
import { config } from "../../worker/config.js";
import { legEndedWebhook, legStartedWebhook, relayWebhook, webhookRetryDelayMs, webhookShard, WEBHOOK_SHARDS } from "../../worker/webhook-events.js";

const whsec = () => `whsec_${randomBytes(32).toString("base64")}`;
const body = JSON.stringify({ id: "e1", type: "stream.published", createdAt: 1, data: { name: "cam1", mediaSessionId: "m1", status: "PUBLISHING" } });

describe("signing (Standard Webhooks)", () => {
  it("is verified by the standardwebhooks library with a whsec_ secret", async () => {
    const secret = whsec();
    const headers = await webhookHeaders(webhookKey(secret)!, "e1", body);
    expect(Object.keys(headers).sort()).toEqual(["webhook-id", "webhook-signature", "webhook-timestamp"]);
    expect(headers["webhook-timestamp"]).toMatch(/^\d{10}$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it("is verified with a raw secret (format: raw) and matches the library's own signature", async () => {
    const secret = "a-raw-webhook-secret-of-32-characters";
    const key = webhookKey(secret)!;
    const ts = 1_700_000_000;
    const wh = new Webhook(secret, { format: "raw" });
    expect(await signWebhook(key, "e1", ts, body)).toBe(wh.sign("e1", new Date(ts * 1000), body));
    expect(wh.verify(body, await webhookHeaders(key, "e1", body))).toEqual(JSON.parse(body));
  });

  it("fails verification for another body, id, secret or an old timestamp", async () => {
    const secret = whsec();
    const key = webhookKey(secret)!;
    const headers = await webhookHeaders(key, "e1", body);
    const wh = new Webhook(secret);
    expect(() => wh.verify(body.replace("cam1", "cam2"), headers)).toThrow(/signature/i);
    expect(() => wh.verify(body, { ...headers, "webhook-id": "e2" })).toThrow(/signature/i);
    expect(() => new Webhook(whsec()).verify(body, headers)).toThrow(/signature/i);
    const old = await webhookHeaders(key, "e1", body, Date.now() - 10 * 60_000);
    expect(() => wh.verify(body, old)).toThrow(/timestamp/i);
    expect(headers[WEBHOOK_SIGNATURE_HEADER]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it("takes whsec_ base64 keys and raw keys of at least 24 bytes", () => {
    const bytes = randomBytes(32);
    expect(Buffer.from(webhookKey(`whsec_${bytes.toString("base64")}`)!)).toEqual(bytes);
    expect(Buffer.from(webhookKey("x".repeat(24))!).toString()).toBe("x".repeat(24));
    expect(webhookKey("x".repeat(23))).toBeNull();
    expect(webhookKey(`whsec_${randomBytes(16).toString("base64")}`)).toBeNull(); // 16 bytes
    expect(webhookKey("whsec_not*base64")).toBeNull();
  });
});

describe("retries and shards", () => {
  it("backs off 1 s, 2 s, 4 s … up to the maximum", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => webhookRetryDelayMs(n, 60_000))).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
    expect([1, 2, 3].map((n) => webhookRetryDelayMs(n, 2000))).toEqual([1000, 2000, 2000]);
    expect(webhookRetryDelayMs(1000, 60_000)).toBe(60_000);
  });

  it("puts a subject always on the same shard, and spreads subjects", () => {
    const shards = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const s = webhookShard(`stream-${i}`);
      expect(s).toBe(webhookShard(`stream-${i}`));
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(WEBHOOK_SHARDS);
      shards.add(s);
    }
    expect(shards.size).toBe(WEBHOOK_SHARDS);
  });
});

describe("events of legs and relays", () => {
  const pub = { role: "publisher" as const, mediaSessionId: "m1", status: StreamStatus.PUBLISHING };
  const player = { role: "player" as const, mediaSessionId: "m2", status: StreamStatus.PLAYING };

  it("started", () => {
    expect(legStartedWebhook("cam1", pub)).toEqual({ type: "stream.published", data: { name: "cam1", mediaSessionId: "m1", status: "PUBLISHING" } });
    expect(legStartedWebhook("cam1", player)).toEqual({ type: "player.started", data: { name: "cam1", mediaSessionId: "m2", status: "PLAYING" } });
  });

  it("ended: unpublished / failed / stopped; a leg stopped before it started has none, a failed one has", () => {
    const unpub = { status: StreamStatus.UNPUBLISHED, info: "Stopped by user" };
    const failed = { status: StreamStatus.FAILED, info: "Failed by ICE timeout" };
    expect(legEndedWebhook("cam1", pub, unpub)).toEqual({ type: "stream.unpublished", data: { name: "cam1", mediaSessionId: "m1", ...unpub } });
    expect(legEndedWebhook("cam1", pub, failed)).toEqual({ type: "stream.failed", data: { name: "cam1", mediaSessionId: "m1", ...failed } });
    expect(legEndedWebhook("cam1", { ...pub, status: StreamStatus.PENDING }, failed)?.type).toBe("stream.failed");
    expect(legEndedWebhook("cam1", { ...pub, status: StreamStatus.PENDING }, unpub)).toBeNull();
    expect(legEndedWebhook("cam1", player, { status: StreamStatus.STOPPED })).toEqual({ type: "player.stopped", data: { name: "cam1", mediaSessionId: "m2", status: "STOPPED" } });
    expect(legEndedWebhook("cam1", { ...player, status: StreamStatus.PENDING }, { status: StreamStatus.STOPPED })).toBeNull();
    expect(legEndedWebhook("cam1", { ...player, status: StreamStatus.PENDING }, failed)?.type).toBe("player.stopped");
  });

  it("relay.status carries the relay's fields, not its node", () => {
    const r = { direction: "pull" as const, uri: "ws://a:8080", localStreamName: "l", remoteStreamName: "r", status: "FAILED" as const, info: "x", attempts: 2 };
    expect(relayWebhook("id1", r)).toEqual({ type: "relay.status", data: { relayId: "id1", ...r } });
  });
});

describe("config", () => {
  it("no webhooks by default; the retry and age defaults", () => {
    const c = config({});
    expect(c.WEBHOOK_URL).toBeUndefined();
    expect(c.WEBHOOK_SECRET).toBeUndefined();
    expect(c).toMatchObject({ WEBHOOK_RETRY_MAX_MS: 60_000, WEBHOOK_MAX_AGE_S: 86_400 });
  });

  it("needs a good secret with a URL, and an http(s) URL", () => {
    expect(() => config({ WEBHOOK_URL: "https://x.example/hook" })).toThrow(/WEBHOOK_SECRET: is required when WEBHOOK_URL is set/);
    expect(() => config({ WEBHOOK_URL: "https://x.example/hook", WEBHOOK_SECRET: "short" })).toThrow(/WEBHOOK_SECRET: must be whsec_<base64> or a raw string, at least 24 bytes/);
    expect(() => config({ WEBHOOK_URL: "ftp://x.example/hook", WEBHOOK_SECRET: whsec() })).toThrow(/WEBHOOK_URL: must be an http\(s\) URL/);
    expect(() => config({ WEBHOOK_RETRY_MAX_MS: "10" })).toThrow(/WEBHOOK_RETRY_MAX_MS/);
    const secret = whsec();
    expect(config({ WEBHOOK_URL: " http://127.0.0.1:9/hook ", WEBHOOK_SECRET: secret, WEBHOOK_RETRY_MAX_MS: "2000" })).toMatchObject({
      WEBHOOK_URL: "http://127.0.0.1:9/hook",
      WEBHOOK_SECRET: secret,
      WEBHOOK_RETRY_MAX_MS: 2000,
    });
  });

  it("never shows the secret in its error", () => {
    const secret = "whsec_" + "A".repeat(8);
    expect(() => config({ WEBHOOK_URL: "https://x.example/hook", WEBHOOK_SECRET: secret })).toThrow(/WEBHOOK_SECRET/);
    try {
      config({ WEBHOOK_URL: "https://x.example/hook", WEBHOOK_SECRET: secret });
    } catch (e) {
      expect(String(e)).not.toContain(secret);
    }
  });
});
