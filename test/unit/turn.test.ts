/**
 * `GET /ice-servers` (worker/turn.ts) in the Workers runtime, the worker's fetch called with TURN / AUTH variables in
 * its env: the answer's shape, TURN REST API credentials (checked against vectors computed outside this code with
 * Python's hmac: base64(HMAC-SHA1(secret, "<expiry>:<user>"))), who may ask (AUTH on: Bearer or ?token=, 401 / 400 /
 * 503 otherwise), CORS, and the validation of the TURN variables (worker/config.ts, protocol/turn.ts).
 */
import { createExecutionContext, SELF, waitOnExecutionContext } from "cloudflare:test";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { AuthInfo } from "../../protocol/access.js";
import { isIceServersResponse, parseIceUrls, turnCredentials, turnUserId } from "../../protocol/turn.js";
import { config } from "../../worker/config.js";
import type { Env } from "../../worker/env.js";
import worker from "../../worker/index.js";
import { iceServersFor } from "../../worker/turn.js";
import { E } from "./helpers.js";

const TURN_SECRET = "unit-test-turn-secret-0123456789";
const TURN = {
  TURN_URLS: "turn:turn.example.com:3478?transport=udp, turns:turn.example.com:443?transport=tcp",
  TURN_SECRET,
  TURN_TTL_S: "600",
};
const JWT_SECRET = "unit-test-jwt-secret-of-32-chars!";
const AUTH_ON = { AUTH: "on", AUTH_JWT_SECRET: JWT_SECRET };

async function call(env: Partial<Env>, path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://x${path}`, init), { ...E, ...env } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const token = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setAudience("wcs-edge").setExpirationTime("5m").sign(new TextEncoder().encode(JWT_SECRET));

interface Answer {
  iceServers: { urls: string | string[]; username?: string; credential?: string }[];
  ttl: number;
}

describe("turn credentials (protocol/turn.ts)", () => {
  it("are the TURN REST API's: username <expiry>:<user>, credential base64(HMAC-SHA1(secret, username))", async () => {
    // vectors from Python: base64.b64encode(hmac.new(secret, username, hashlib.sha1).digest())
    expect(await turnCredentials(TURN_SECRET, "alice", 1_700_000_000)).toEqual({ username: "1700000000:alice", credential: "anrFBBGy+mzfxCw8Dr+pyv+QTbA=" });
    expect(await turnCredentials(TURN_SECRET, undefined, 1_700_003_600)).toEqual({ username: "1700003600", credential: "gIwUaSHTvVQ4/vY++tLBYRAo3GI=" });
  });

  it("take a user id coturn accepts from the token's sub", () => {
    expect(turnUserId("alice@example.com")).toBe("alice@example.com");
    expect(turnUserId(`bob "the" o'neil\\x`)).toBe("bob__the__o_neil_x");
    expect(turnUserId("x".repeat(300))).toHaveLength(128);
    expect(turnUserId("reunion-selector")).toBeUndefined();
    expect(turnUserId(undefined)).toBeUndefined();
  });

  it("iceServersFor: STUN first without credentials, then TURN with credentials expiring TURN_TTL_S from now", async () => {
    const cfg = config({ ...TURN, STUN_URLS: "stun:stun.example.com:3478" });
    const answer = await iceServersFor(cfg, "alice", 1_699_999_400_500);
    expect(answer).toEqual({
      iceServers: [
        { urls: ["stun:stun.example.com:3478"] },
        { urls: ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:443?transport=tcp"], username: "1700000000:alice", credential: "anrFBBGy+mzfxCw8Dr+pyv+QTbA=" },
      ],
      ttl: 600,
    });
    expect(isIceServersResponse(answer)).toBe(true);
    expect(await iceServersFor(config({}), "alice", Date.now())).toEqual({ iceServers: [], ttl: 3600 });
  });
});

describe("GET /ice-servers", () => {
  it("nothing configured (AUTH off): 200 {iceServers: [], ttl}, no-store, CORS", async () => {
    const res = await SELF.fetch("http://x/ice-servers", { headers: { Origin: "https://app.example" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(await res.json()).toEqual({ iceServers: [], ttl: 3600 });
  });

  it("AUTH off with TURN: credentials without a user id, valid for TURN_TTL_S", async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await call(TURN, "/ice-servers");
    expect(res.status).toBe(200);
    const body = (await res.json()) as Answer;
    expect(body.ttl).toBe(600);
    expect(body.iceServers).toHaveLength(1);
    const turn = body.iceServers[0]!;
    expect(turn.urls).toEqual(["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:443?transport=tcp"]);
    const expiry = Number(turn.username);
    expect(expiry).toBeGreaterThanOrEqual(before + 600);
    expect(expiry).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 600);
    expect(turn.credential).toBe((await turnCredentials(TURN_SECRET, undefined, expiry)).credential);
  });

  it("AUTH on: 401 without a token or with a bad one (header or ?token=), 400 non-Bearer, CORS on refusals", async () => {
    const env = { ...AUTH_ON, ...TURN };
    const none = await call(env, "/ice-servers", { headers: { Origin: "https://app.example" } });
    expect(none.status).toBe(401);
    expect(none.headers.get("WWW-Authenticate")).toBe('Bearer realm="ice-servers"');
    expect(none.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(await none.json()).toEqual({ error: AuthInfo.TOKEN_REQUIRED });

    const bad = await call(env, "/ice-servers", { headers: { Authorization: "Bearer nope" } });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ error: AuthInfo.tokenInvalid("malformed token") });

    const badQuery = await call(env, "/ice-servers?token=nope");
    expect(badQuery.status).toBe(401);
    expect(badQuery.headers.get("WWW-Authenticate")).toMatch(/^Bearer realm="ice-servers", error="invalid_token"/);
    expect(await badQuery.json()).toEqual({ error: AuthInfo.tokenInvalid("malformed token") });

    const expired = await new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "HS256" }).setAudience("wcs-edge").setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(new TextEncoder().encode(JWT_SECRET));
    expect((await call(env, `/ice-servers?token=${expired}`)).status).toBe(401);

    const basic = await call(env, "/ice-servers", { headers: { Authorization: "Basic eDp5" } });
    expect(basic.status).toBe(400);
    expect(basic.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });

  it("AUTH on: any valid token gets credentials for its sub (Bearer or ?token=); a token without sub gets the expiry alone", async () => {
    const env = { ...AUTH_ON, ...TURN };
    for (const init of [{ headers: { Authorization: `Bearer ${await token({ sub: "alice", play: ["x"] })}` } }, {}]) {
      const path = "headers" in init ? "/ice-servers" : `/ice-servers?token=${await token({ sub: "alice" })}`;
      const res = await call(env, path, init);
      expect(res.status).toBe(200);
      const turn = ((await res.json()) as Answer).iceServers[0]!;
      expect(turn.username).toMatch(/^\d+:alice$/);
      const expiry = Number(turn.username?.split(":")[0]);
      expect(turn.credential).toBe((await turnCredentials(TURN_SECRET, "alice", expiry)).credential);
    }
    const anonymous = await call(env, "/ice-servers", { headers: { Authorization: `Bearer ${await token({ play: ["*"] })}` } });
    expect(((await anonymous.json()) as Answer).iceServers[0]?.username).toMatch(/^\d+$/);
  });

  it("AUTH on without a key: 503; OPTIONS is a CORS preflight without authentication", async () => {
    const res = await call({ AUTH: "on", ...TURN }, "/ice-servers");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: AuthInfo.NOT_CONFIGURED });
    const pre = await call({ ...AUTH_ON, ...TURN }, "/ice-servers", {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(pre.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain("authorization");
  });

  it("other methods → 405 before any authentication; HEAD works like GET", async () => {
    const res = await call({ ...AUTH_ON, ...TURN }, "/ice-servers", { method: "POST", body: "{}" });
    expect(res.status).toBe(405);
    expect(res.headers.get("Allow")).toBe("GET, HEAD, OPTIONS");
    const head = await SELF.fetch("http://x/ice-servers", { method: "HEAD" });
    expect(head.status).toBe(200);
  });
});

describe("TURN variables are validated", () => {
  it.each([
    [{ TURN_URLS: "turn:a.example" }, /TURN_SECRET: is required when TURN_URLS is set/],
    [{ TURN_URLS: "turn:a.example", TURN_SECRET: "short" }, /TURN_SECRET: must be at least 16 characters/],
    [{ TURN_URLS: "http://a.example", TURN_SECRET }, /TURN_URLS: "http:\/\/a.example": expected turn:/],
    [{ TURN_URLS: "turns:a.example?transport=udp", TURN_SECRET }, /TURN_URLS: .*TURN over TLS/],
    [{ TURN_URLS: "turn:a.example:70000", TURN_SECRET }, /port must be 1 to 65535/],
    [{ STUN_URLS: "stun:a.example?transport=udp" }, /STUN_URLS: .*expected stun:/],
    [{ TURN_TTL_S: "10" }, /TURN_TTL_S/],
  ])("%j is refused", (env, message) => {
    expect(() => config(env)).toThrow(message);
  });

  it("accepts IPv6 literals, ports, both transports, and blanks around commas", () => {
    expect(parseIceUrls(" turn:[2001:db8::1]:3478?transport=udp ,turns:turn.example.com:443?transport=tcp,turn:10.0.0.1 ", "turn")).toEqual({
      ok: true,
      urls: ["turn:[2001:db8::1]:3478?transport=udp", "turns:turn.example.com:443?transport=tcp", "turn:10.0.0.1"],
    });
    expect(parseIceUrls("", "stun")).toEqual({ ok: true, urls: [] });
  });
});
