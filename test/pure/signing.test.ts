/**
 * protocol/signing.ts: the HMAC request signature of the worker ↔ media-node API (checked against node:crypto), its
 * verification (tampering, wrong secret, clock skew, malformed headers), the replay window of nonces, and signedFetch
 * against a loopback node:http server, including its timeout.
 */
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MAX_SKEW_MS,
  NONCE_HEADER,
  ReplayWindow,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  isTimeout,
  newNonce,
  signRequest,
  signedFetch,
  verifyRequest,
} from "../../protocol/signing.js";

const SECRET = "pure-test-secret";
const NOW = 1_750_000_000_000;
const BODY = '{"legId":"l1","streamName":"s","role":"publisher"}';

const NONCE = "0123456789abcdef0123456789abcdef";

const headersOf = (h: Record<string, string>) => new Headers(h);

/** verifyRequest's verdict: null when valid, else the reason. */
async function verdict(...args: Parameters<typeof verifyRequest>): Promise<string | null> {
  const r = await verifyRequest(...args);
  return r.ok ? null : r.reason;
}

describe("signRequest", () => {
  it("x-wcs-timestamp = the clock in ms; x-wcs-nonce; x-wcs-signature = hex HMAC-SHA256 of `ts\\nnonce\\nMETHOD\\npath\\nbody`", async () => {
    const h = await signRequest(SECRET, "post", "/v1/legs?x=1", BODY, NOW, NONCE);
    const expected = createHmac("sha256", SECRET).update(`${NOW}\n${NONCE}\nPOST\n/v1/legs?x=1\n${BODY}`).digest("hex");
    expect(h).toEqual({ [TIMESTAMP_HEADER]: String(NOW), [NONCE_HEADER]: NONCE, [SIGNATURE_HEADER]: expected });
    expect([TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER, MAX_SKEW_MS]).toEqual(["x-wcs-timestamp", "x-wcs-nonce", "x-wcs-signature", 60_000]);
  });

  it("draws a fresh 128-bit nonce per request", async () => {
    const a = await signRequest(SECRET, "GET", "/v1/status", "", NOW);
    const b = await signRequest(SECRET, "GET", "/v1/status", "", NOW);
    expect(a[NONCE_HEADER]).toMatch(/^[0-9a-f]{32}$/);
    expect(a[NONCE_HEADER]).not.toBe(b[NONCE_HEADER]);
    expect(a[SIGNATURE_HEADER]).not.toBe(b[SIGNATURE_HEADER]);
    expect(new Set(Array.from({ length: 1000 }, newNonce)).size).toBe(1000);
  });

  it("differs per secret (keys are cached per secret)", async () => {
    const a = await signRequest("secret-a", "GET", "/v1/status", "", NOW, NONCE);
    const b = await signRequest("secret-b", "GET", "/v1/status", "", NOW, NONCE);
    const a2 = await signRequest("secret-a", "GET", "/v1/status", "", NOW, NONCE);
    expect(a[SIGNATURE_HEADER]).not.toBe(b[SIGNATURE_HEADER]);
    expect(a2).toEqual(a);
  });
});

describe("verifyRequest", () => {
  let signed: Record<string, string>;
  beforeAll(async () => {
    signed = await signRequest(SECRET, "POST", "/v1/legs", BODY, NOW);
  });

  it("accepts the request as signed (method case ignored): its nonce, expiring MAX_SKEW_MS after its timestamp", async () => {
    const ok = { ok: true, nonce: signed[NONCE_HEADER], expiresAt: NOW + MAX_SKEW_MS };
    expect(await verifyRequest(SECRET, "POST", "/v1/legs", BODY, headersOf(signed), NOW)).toEqual(ok);
    expect(await verifyRequest(SECRET, "post", "/v1/legs", BODY, headersOf(signed), NOW + 1000)).toEqual(ok);
  });

  it.each([
    ["a wrong secret", { secret: "other" }],
    ["another method", { method: "DELETE" }],
    ["another path", { path: "/v1/legs/l1" }],
    ["a query string added", { path: "/v1/legs?x=1" }],
    ["another body", { body: BODY.replace("publisher", "player") }],
    ["an empty body", { body: "" }],
  ])("refuses %s: bad signature", async (_what, change: { secret?: string; method?: string; path?: string; body?: string }) => {
    const r = await verdict(change.secret ?? SECRET, change.method ?? "POST", change.path ?? "/v1/legs", change.body ?? BODY, headersOf(signed), NOW);
    expect(r).toBe("bad signature");
  });

  it("refuses a timestamp or nonce changed after signing (both are signed too)", async () => {
    expect(await verdict(SECRET, "POST", "/v1/legs", BODY, headersOf({ ...signed, [TIMESTAMP_HEADER]: String(NOW + 1) }), NOW)).toBe("bad signature");
    expect(await verdict(SECRET, "POST", "/v1/legs", BODY, headersOf({ ...signed, [NONCE_HEADER]: NONCE }), NOW)).toBe("bad signature");
  });

  it.each([
    [0, null],
    [MAX_SKEW_MS, null],
    [-MAX_SKEW_MS, null],
    [MAX_SKEW_MS + 1, "timestamp outside the allowed window"],
    [-MAX_SKEW_MS - 1, "timestamp outside the allowed window"],
    [3_600_000, "timestamp outside the allowed window"],
  ])("verifier clock %d ms off → %s", async (skew, want) => {
    expect(await verdict(SECRET, "POST", "/v1/legs", BODY, headersOf(signed), NOW + skew)).toBe(want);
  });

  it.each([
    ["no headers", {}, "missing signature headers"],
    ["no signature", { [TIMESTAMP_HEADER]: String(NOW), [NONCE_HEADER]: NONCE }, "missing signature headers"],
    ["no timestamp", { [NONCE_HEADER]: NONCE, [SIGNATURE_HEADER]: "ab".repeat(32) }, "missing signature headers"],
    ["no nonce (a request signed before nonces)", { [TIMESTAMP_HEADER]: String(NOW), [SIGNATURE_HEADER]: "ab".repeat(32) }, "missing signature headers"],
    ["an empty signature", { [TIMESTAMP_HEADER]: String(NOW), [NONCE_HEADER]: NONCE, [SIGNATURE_HEADER]: "" }, "missing signature headers"],
    ["a timestamp that is no number", { [TIMESTAMP_HEADER]: "yesterday", [NONCE_HEADER]: NONCE, [SIGNATURE_HEADER]: "ab".repeat(32) }, "timestamp outside the allowed window"],
    ["a short nonce", { [TIMESTAMP_HEADER]: String(NOW), [NONCE_HEADER]: NONCE.slice(1), [SIGNATURE_HEADER]: "ab".repeat(32) }, "malformed nonce"],
    ["an upper-case nonce", { [TIMESTAMP_HEADER]: String(NOW), [NONCE_HEADER]: NONCE.toUpperCase(), [SIGNATURE_HEADER]: "ab".repeat(32) }, "malformed nonce"],
    ["a short signature", { [TIMESTAMP_HEADER]: String(NOW), [NONCE_HEADER]: NONCE, [SIGNATURE_HEADER]: "ab".repeat(31) }, "malformed signature"],
    ["an upper-case signature", { [TIMESTAMP_HEADER]: String(NOW), [NONCE_HEADER]: NONCE, [SIGNATURE_HEADER]: "AB".repeat(32) }, "malformed signature"],
    ["a signature that is no hex", { [TIMESTAMP_HEADER]: String(NOW), [NONCE_HEADER]: NONCE, [SIGNATURE_HEADER]: "zz".repeat(32) }, "malformed signature"],
  ])("refuses %s", async (_what, h: Record<string, string>, want) => {
    expect(await verdict(SECRET, "POST", "/v1/legs", BODY, headersOf(h), NOW)).toBe(want);
  });

  it("uses the real clock by default", async () => {
    const h = await signRequest(SECRET, "GET", "/v1/status", "");
    expect(await verdict(SECRET, "GET", "/v1/status", "", headersOf(h))).toBeNull();
    expect(await verdict(SECRET, "GET", "/v1/status", "", headersOf(signed))).toBe("timestamp outside the allowed window");
  });
});

describe("ReplayWindow", () => {
  it("takes a nonce once until it expires; forgets expired nonces", () => {
    const w = new ReplayWindow();
    expect(w.claim("a", NOW + 100, NOW)).toBe(true);
    expect(w.claim("a", NOW + 100, NOW + 50)).toBe(false); // the replay
    expect(w.claim("b", NOW + 200, NOW + 50)).toBe(true);
    expect(w.size).toBe(2);
    expect(w.claim("c", NOW + 300, NOW + 150)).toBe(true); // "a" expired and is dropped
    expect(w.size).toBe(2);
    expect(w.claim("b", NOW + 200, NOW + 199)).toBe(false);
    expect(w.claim("b", NOW + 400, NOW + 250)).toBe(true); // expired: its request is refused by the clock by then anyway
  });

  it("a replay of a verified request is caught: verifyRequest accepts both copies, the window only the first", async () => {
    const w = new ReplayWindow();
    const h = headersOf(await signRequest(SECRET, "POST", "/v1/legs", BODY, NOW));
    const first = await verifyRequest(SECRET, "POST", "/v1/legs", BODY, h, NOW);
    const again = await verifyRequest(SECRET, "POST", "/v1/legs", BODY, h, NOW + 30_000);
    expect(first.ok && again.ok).toBe(true);
    if (!first.ok || !again.ok) return;
    expect(w.claim(first.nonce, first.expiresAt, NOW)).toBe(true);
    expect(w.claim(again.nonce, again.expiresAt, NOW + 30_000)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("signedFetch against a loopback server", () => {
  interface Seen {
    method: string;
    url: string;
    headers: IncomingMessage["headers"];
    body: string;
    verdict: string | null;
  }
  const seen: Seen[] = [];
  let server: Server;
  let base: string;
  /** Requests to /slow are never answered (until the server closes). */
  const held: ServerResponse[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const get = (name: string) => {
          const v = req.headers[name];
          return typeof v === "string" ? v : null;
        };
        void verdict(SECRET, req.method ?? "", req.url ?? "", body, { get }).then((verdict) => {
          seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, verdict });
          if (req.url === "/slow") {
            held.push(res);
            return;
          }
          res.writeHead(verdict === null ? 200 : 401, { "content-type": "application/json" }).end(JSON.stringify({ ok: verdict === null }));
        });
      });
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const r of held) r.destroy();
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
  });

  it("POST with a JSON body: signed over path + query and the exact body text", async () => {
    const res = await signedFetch(SECRET, `${base}/v1/legs?trace=1`, "POST", { legId: "l1", n: 1 }, 5000);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    const s = seen.at(-1)!;
    expect({ method: s.method, url: s.url, body: s.body, verdict: s.verdict, type: s.headers["content-type"] }).toEqual({
      method: "POST",
      url: "/v1/legs?trace=1",
      body: '{"legId":"l1","n":1}',
      verdict: null,
      type: "application/json",
    });
    expect(Math.abs(Number(s.headers[TIMESTAMP_HEADER]) - Date.now())).toBeLessThan(5000);
  });

  it("DELETE without a body: no content-type, empty body signed", async () => {
    const res = await signedFetch(SECRET, `${base}/v1/legs/l%201`, "DELETE", undefined, 5000);
    expect(res.status).toBe(200);
    const s = seen.at(-1)!;
    expect({ method: s.method, url: s.url, body: s.body, verdict: s.verdict, type: s.headers["content-type"] }).toEqual({
      method: "DELETE",
      url: "/v1/legs/l%201",
      body: "",
      verdict: null,
      type: undefined,
    });
  });

  it("a receiver with another secret refuses it", async () => {
    const res = await signedFetch("not-the-secret", `${base}/v1/status`, "GET", undefined, 5000);
    expect(res.status).toBe(401);
    expect(seen.at(-1)!.verdict).toBe("bad signature");
  });

  it("no answer within timeoutMs: rejects with a TimeoutError (isTimeout)", async () => {
    const started = performance.now();
    const err = await signedFetch(SECRET, `${base}/slow`, "POST", { x: 1 }, 150).then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = performance.now() - started;
    expect(isTimeout(err)).toBe(true);
    expect((err as Error).name).toBe("TimeoutError");
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(3000);
  });

  it("a network failure is no timeout", async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, "127.0.0.1", ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((ok) => closed.close(() => ok()));
    const err = await signedFetch(SECRET, `http://127.0.0.1:${port}/v1/status`, "GET", undefined, 2000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(isTimeout(err)).toBe(false);
  });

  it.each([
    [null, false],
    [undefined, false],
    ["TimeoutError", false],
    [new Error("x"), false],
    [{ name: "TimeoutError" }, true],
    [new DOMException("t", "TimeoutError"), true],
    [new DOMException("a", "AbortError"), false],
  ])("isTimeout(%o) → %s", (err, want) => {
    expect(isTimeout(err)).toBe(want);
  });
});
