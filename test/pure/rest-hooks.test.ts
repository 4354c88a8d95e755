/**
 * worker/rest-hooks.ts against a real HTTP backend on 127.0.0.1: verdicts, reasons, the timeout policy, and answers
 * that are not what WCS documents (ignored, never trusted).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HookInfo, MAX_HOOK_REASON_CHARS } from "../../protocol/rest-hooks.js";
import { verifyRequest } from "../../protocol/signing.js";
import { config } from "../../worker/config.js";
import { callRestHook } from "../../worker/rest-hooks.js";

const SECRET = "hook-secret-0123456789";
let server: Server;
let base = "";
let lastSigned = false;
/** path → [status, body, delay ms] */
const routes: Record<string, [number, string, number?]> = {
  "/a/connect": [200, JSON.stringify({ custom: { role: "viewer" } })],
  "/b/connect": [200, ""],
  "/c/connect": [200, "<html>ok</html>"],
  "/d/connect": [200, JSON.stringify({ custom: "not an object" })],
  "/e/connect": [403, JSON.stringify({ info: "  banned  " })],
  "/f/connect": [403, JSON.stringify({ error: "nope" })],
  "/g/connect": [500, ""],
  "/h/connect": [403, "x".repeat(500)],
  "/i/connect": [200, "{}", 500],
};

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", async () => {
      lastSigned = (await verifyRequest(SECRET, req.method ?? "", req.url ?? "", body, new Headers(req.headers as Record<string, string>))).ok;
      const [status, text, delay] = routes[req.url ?? ""] ?? [404, ""];
      if (delay) await new Promise((r) => setTimeout(r, delay));
      res.writeHead(status, "Because").end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));

const cfg = (app: string, over: Partial<Parameters<typeof callRestHook>[0]> = {}) => ({
  REST_HOOK_URL: `${base}/${app}/`,
  REST_HOOK_SECRET: SECRET,
  REST_HOOK_TIMEOUT_MS: 200,
  REST_HOOK_ON_TIMEOUT: "deny" as const,
  ...over,
});
const declined = (info: string) => ({ ok: false, code: "forbidden", info });

describe("callRestHook", () => {
  it("no hook configured: allowed without a call", async () => {
    expect(await callRestHook({ ...cfg("a"), REST_HOOK_URL: undefined }, "connect", {})).toEqual({ ok: true });
  });
  it("200: allowed; an object custom overrides; an empty, non-JSON or malformed answer is ignored; calls are signed", async () => {
    expect(await callRestHook(cfg("a"), "connect", { x: 1 })).toEqual({ ok: true, custom: { role: "viewer" } });
    expect(lastSigned).toBe(true);
    for (const app of ["b", "c", "d"]) expect(await callRestHook(cfg(app), "connect", {})).toEqual({ ok: true });
  });
  it("other statuses decline with the backend's reason: JSON info/error, text (cut), or the status line", async () => {
    expect(await callRestHook(cfg("e"), "connect", {})).toEqual(declined(HookInfo.declined("banned")));
    expect(await callRestHook(cfg("f"), "connect", {})).toEqual(declined(HookInfo.declined("nope")));
    expect(await callRestHook(cfg("g"), "connect", {})).toEqual(declined(HookInfo.declined("HTTP 500 Because")));
    expect(await callRestHook(cfg("h"), "connect", {})).toEqual(declined(HookInfo.declined(`${"x".repeat(MAX_HOOK_REASON_CHARS)}…`)));
    expect(await callRestHook(cfg("zz"), "connect", {})).toEqual(declined(HookInfo.declined("HTTP 404 Because")));
  });
  it("a timeout or an unreachable backend declines, unless REST_HOOK_ON_TIMEOUT is allow", async () => {
    expect(await callRestHook(cfg("i"), "connect", {})).toEqual(declined(HookInfo.TIMEOUT));
    expect(await callRestHook(cfg("i", { REST_HOOK_ON_TIMEOUT: "allow" }), "connect", {})).toEqual({ ok: true });
    const down = { REST_HOOK_URL: "http://127.0.0.1:9/app" };
    expect(await callRestHook(cfg("x", down), "connect", {})).toEqual(declined(HookInfo.UNREACHABLE));
    expect(await callRestHook(cfg("x", { ...down, REST_HOOK_ON_TIMEOUT: "allow" }), "connect", {})).toEqual({ ok: true });
  });
});

describe("hook configuration (worker/config.ts)", () => {
  it("REST_HOOK_URL needs a secret; URLs and the timeout policy are validated", () => {
    expect(() => config({ REST_HOOK_URL: "https://backend.example/app" })).toThrow(/REST_HOOK_SECRET: is required when REST_HOOK_URL is set/);
    expect(() => config({ REST_HOOK_URL: "ftp://x", REST_HOOK_SECRET: SECRET })).toThrow(/REST_HOOK_URL: must be an http\(s\) URL/);
    expect(() => config({ REST_HOOK_ON_TIMEOUT: "maybe" })).toThrow(/REST_HOOK_ON_TIMEOUT: expected "deny" or "allow"/);
    expect(config({ REST_HOOK_URL: "https://backend.example/app", REST_HOOK_SECRET: SECRET })).toMatchObject({ REST_HOOK_TIMEOUT_MS: 3000, REST_HOOK_ON_TIMEOUT: "deny" });
  });
});
