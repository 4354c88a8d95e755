/**
 * Access tokens: worker/access.ts (jose verification with every kind of key the worker takes) and the grant rules of
 * protocol/access.ts. Keys are generated per run; the JWKS is served by a real HTTP server on 127.0.0.1.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthInfo, OPEN_ACCESS, granted, nameMatches, streamAllowed, type Access } from "../../protocol/access.js";
import { authenticate, authenticateAdmin, type AuthConfig } from "../../worker/access.js";
import { config } from "../../worker/config.js";

const SECRET = "s".repeat(16) + "e".repeat(16);
const base: AuthConfig = { ...config({} as never), AUTH: true };
const hs: AuthConfig = { ...base, AUTH_JWT_SECRET: SECRET };
const now = () => Math.floor(Date.now() / 1000);

async function sign(
  key: CryptoKey | Uint8Array,
  claims: JWTPayload = {},
  opts: { alg?: string; aud?: string | null; exp?: number | null; nbf?: number; kid?: string } = {},
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? "HS256", ...(opts.kid ? { kid: opts.kid } : {}) }).setIssuedAt();
  if (opts.aud !== null) jwt.setAudience(opts.aud ?? "wcs-edge");
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? now() + 300);
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(key);
}
const hsKey = new TextEncoder().encode(SECRET);
const unsigned = (payload: object, alg = "none") =>
  `${Buffer.from(JSON.stringify({ alg, typ: "JWT" })).toString("base64url")}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.`;
const refused = (info: string, code = "unauthorized") => ({ ok: false, code, info });

describe("authenticate: HS256", () => {
  it("a valid token gives its grants; sub is the login; exp in ms", async () => {
    const exp = now() + 120;
    const r = await authenticate(hs, await sign(hsKey, { sub: "alice", publish: ["alice-*"], play: ["*"], rooms: ["r1"], admin: false }, { exp }));
    expect(r).toEqual({ ok: true, access: { sub: "alice", publish: ["alice-*"], play: ["*"], rooms: ["r1"], admin: false, expiresAt: exp * 1000 } });
  });

  it("refuses: none presented, forged signature, alg none, wrong algorithm, expired, not yet valid, wrong audience, no exp, bad claims, too long", async () => {
    expect(await authenticate(hs, undefined)).toEqual(refused(AuthInfo.TOKEN_REQUIRED));
    const forged = await sign(new TextEncoder().encode("x".repeat(32)), { sub: "alice" });
    expect(await authenticate(hs, forged)).toEqual(refused(AuthInfo.tokenInvalid("bad signature")));
    expect(await authenticate(hs, unsigned({ sub: "a", aud: "wcs-edge", exp: now() + 60 }))).toEqual(refused(AuthInfo.tokenInvalid("algorithm not allowed")));
    const es = await generateKeyPair("ES256");
    expect(await authenticate(hs, await sign(es.privateKey, {}, { alg: "ES256" }))).toEqual(refused(AuthInfo.tokenInvalid("algorithm not allowed")));
    expect(await authenticate(hs, await sign(hsKey, {}, { exp: now() - 31 }))).toEqual(refused(AuthInfo.tokenInvalid("expired")));
    expect(await authenticate(hs, await sign(hsKey, {}, { nbf: now() + 60 }))).toEqual(refused(AuthInfo.tokenInvalid("not yet valid")));
    expect(await authenticate(hs, await sign(hsKey, {}, { aud: "other" }))).toEqual(refused(AuthInfo.tokenInvalid("wrong audience")));
    expect(await authenticate(hs, await sign(hsKey, {}, { aud: null }))).toEqual(refused(AuthInfo.tokenInvalid("wrong audience")));
    expect(await authenticate(hs, await sign(hsKey, {}, { exp: null }))).toEqual(refused(AuthInfo.tokenInvalid("no expiry")));
    expect(await authenticate(hs, await sign(hsKey, { publish: "cam" }))).toEqual(refused(AuthInfo.tokenInvalid("bad claims: publish Expected array, received string")));
    expect(await authenticate(hs, "not.a.jwt")).toEqual(refused(AuthInfo.tokenInvalid("malformed token")));
    expect(await authenticate(hs, "x".repeat(9000))).toEqual(refused(AuthInfo.tokenInvalid("too long")));
  });

  it("tolerates AUTH_CLOCK_SKEW_S on exp and nbf; checks iss when configured", async () => {
    expect((await authenticate(hs, await sign(hsKey, {}, { exp: now() - 10 }))).ok).toBe(true);
    expect((await authenticate(hs, await sign(hsKey, {}, { nbf: now() + 10 }))).ok).toBe(true);
    expect(await authenticate({ ...hs, AUTH_CLOCK_SKEW_S: 0 }, await sign(hsKey, {}, { exp: now() - 2 }))).toEqual(refused(AuthInfo.tokenInvalid("expired")));
    const withIss = { ...hs, AUTH_JWT_ISSUER: "https://backend.example" };
    expect(await authenticate(withIss, await sign(hsKey, { iss: "https://other.example" }))).toEqual(refused(AuthInfo.tokenInvalid("wrong issuer")));
    expect((await authenticate(withIss, await sign(hsKey, { iss: "https://backend.example" }))).ok).toBe(true);
    expect((await authenticate({ ...hs, AUTH_JWT_AUDIENCE: "my-app" }, await sign(hsKey, {}, { aud: "my-app" }))).ok).toBe(true);
  });

  it("AUTH off: everything, no token looked at; AUTH on without keys: not configured", async () => {
    expect(await authenticate({ ...base, AUTH: false }, undefined)).toEqual({ ok: true, access: OPEN_ACCESS });
    expect(await authenticate({ ...base, AUTH: false }, "garbage")).toEqual({ ok: true, access: OPEN_ACCESS });
    expect(await authenticate(base, await sign(hsKey))).toEqual(refused(AuthInfo.NOT_CONFIGURED, "not_configured"));
  });
});

describe("authenticate: public keys", () => {
  it.each(["ES256", "EdDSA"] as const)("%s: AUTH_JWT_PUBLIC_KEY verifies its own tokens, refuses another key's and HS256", async (alg) => {
    const pair = await generateKeyPair(alg, { extractable: true });
    const other = await generateKeyPair(alg);
    const cfg = { ...base, AUTH_JWT_PUBLIC_KEY: await exportSPKI(pair.publicKey) };
    expect(await authenticate(cfg, await sign(pair.privateKey, { sub: "bob", play: ["x"] }, { alg }))).toMatchObject({ ok: true, access: { sub: "bob", play: ["x"] } });
    expect(await authenticate(cfg, await sign(other.privateKey, {}, { alg }))).toEqual(refused(AuthInfo.tokenInvalid("bad signature")));
    // HS256 signed with the public key's text as secret: the classic key-confusion attack
    expect(await authenticate(cfg, await sign(new TextEncoder().encode(cfg.AUTH_JWT_PUBLIC_KEY)))).toEqual(refused(AuthInfo.tokenInvalid("algorithm not allowed")));
  });

  describe("AUTH_JWKS_URL (a JWKS served on 127.0.0.1)", () => {
    let server: Server;
    let url = "";
    let es: CryptoKeyPair;
    let ed: CryptoKeyPair;
    beforeAll(async () => {
      es = await generateKeyPair("ES256", { extractable: true });
      ed = await generateKeyPair("EdDSA", { extractable: true });
      const keys = [
        { ...(await exportJWK(es.publicKey)), kid: "es-1", alg: "ES256", use: "sig" },
        { ...(await exportJWK(ed.publicKey)), kid: "ed-1", alg: "EdDSA", use: "sig" },
      ];
      server = createServer((_req, res) => res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ keys })));
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it("verifies ES256 and EdDSA tokens by kid; refuses an unknown kid and an unreachable key set", async () => {
      const cfg = { ...base, AUTH_JWKS_URL: url };
      expect(await authenticate(cfg, await sign(es.privateKey, { sub: "es" }, { alg: "ES256", kid: "es-1" }))).toMatchObject({ ok: true, access: { sub: "es" } });
      expect(await authenticate(cfg, await sign(ed.privateKey, { sub: "ed" }, { alg: "EdDSA", kid: "ed-1" }))).toMatchObject({ ok: true, access: { sub: "ed" } });
      const stranger = await generateKeyPair("ES256");
      expect(await authenticate(cfg, await sign(stranger.privateKey, {}, { alg: "ES256", kid: "es-9" }))).toEqual(refused(AuthInfo.tokenInvalid("no matching key")));
      expect(await authenticate(cfg, await sign(hsKey))).toEqual(refused(AuthInfo.tokenInvalid("algorithm not allowed")));
      const down = { ...base, AUTH_JWKS_URL: "http://127.0.0.1:9/jwks.json" };
      expect(await authenticate(down, await sign(es.privateKey, {}, { alg: "ES256", kid: "es-1" }))).toEqual(refused(AuthInfo.tokenInvalid("key set unavailable")));
    });
  });
});

describe("authenticateAdmin (REST)", () => {
  const rest = { ...base, REST_API_TOKEN: "rest-admin-token" };
  it("REST_API_TOKEN is an admin with AUTH on or off; a wrong one or none is refused", async () => {
    expect(await authenticateAdmin(rest, "rest-admin-token")).toEqual({ ok: true, access: OPEN_ACCESS });
    expect(await authenticateAdmin({ ...rest, AUTH: false }, "rest-admin-token")).toEqual({ ok: true, access: OPEN_ACCESS });
    expect(await authenticateAdmin({ ...rest, AUTH: false }, "nope")).toEqual(refused(AuthInfo.tokenInvalid("not the REST API token")));
    expect(await authenticateAdmin(rest, undefined)).toEqual(refused(AuthInfo.TOKEN_REQUIRED));
  });
  it("without REST_API_TOKEN: open with AUTH off, an access token with AUTH on, not configured without keys", async () => {
    expect(await authenticateAdmin({ ...base, AUTH: false }, undefined)).toEqual({ ok: true, access: OPEN_ACCESS });
    expect(await authenticateAdmin(hs, await sign(hsKey, { admin: true }))).toMatchObject({ ok: true, access: { admin: true } });
    expect(await authenticateAdmin(base, undefined)).toEqual(refused(AuthInfo.NOT_CONFIGURED, "not_configured"));
    // both configured: either works
    const both = { ...hs, REST_API_TOKEN: "rest-admin-token" };
    expect((await authenticateAdmin(both, "rest-admin-token")).ok).toBe(true);
    expect(await authenticateAdmin(both, await sign(hsKey, { admin: true }))).toMatchObject({ ok: true, access: { admin: true } });
  });
});

describe("grants (protocol/access.ts)", () => {
  const a: Access = { sub: "alice", publish: ["alice-*", "lobby"], play: ["news"], rooms: ["team-*"], admin: false };
  it("patterns: exact, trailing *, *", () => {
    expect(nameMatches("cam", "cam")).toBe(true);
    expect(nameMatches("cam", "cam2")).toBe(false);
    expect(nameMatches("cam*", "cam2")).toBe(true);
    expect(nameMatches("cam*", "ca")).toBe(false);
    expect(nameMatches("*", "anything")).toBe(true);
    expect(granted(a, "publish", "alice-cam")).toBe(true);
    expect(granted(a, "publish", "bob-cam")).toBe(false);
    expect(granted(a, "play", "news")).toBe(true);
    expect(granted(a, "play", "news2")).toBe(false);
    expect(granted(a, "rooms", "team-red")).toBe(true);
  });
  it("streamAllowed: by the grant, or inside a joined, granted room by the room-module names", () => {
    expect(streamAllowed(a, "publisher", "lobby")).toEqual({ ok: true });
    expect(streamAllowed(a, "player", "lobby")).toEqual({ ok: false });
    const room = { name: "team-red", login: "alice" };
    expect(streamAllowed(a, "publisher", "team-red-alice-x1y2", room)).toEqual({ ok: true, inRoom: "team-red" });
    expect(streamAllowed(a, "publisher", "team-red-bob-x1y2", room)).toEqual({ ok: false });
    expect(streamAllowed(a, "player", "team-red-bob-x1y2", room)).toEqual({ ok: true, inRoom: "team-red" });
    expect(streamAllowed(a, "player", "other-bob-x1y2", room)).toEqual({ ok: false });
    expect(streamAllowed(a, "player", "team-blue-bob-x1y2", { name: "team-blue", login: "alice" })).toEqual({ ok: true, inRoom: "team-blue" });
    expect(streamAllowed({ ...a, rooms: [] }, "player", "team-red-bob", room)).toEqual({ ok: false });
  });
});

describe("worker configuration of authentication (worker/config.ts)", () => {
  it("AUTH is on unless exactly \"off\"; keys are validated; blanks are unset", () => {
    expect(config({}).AUTH).toBe(true);
    expect(config({ AUTH: "off" }).AUTH).toBe(false);
    expect(() => config({ AUTH: "no" })).toThrow(/AUTH: expected "on" or "off"/);
    expect(() => config({ AUTH_JWT_SECRET: "short" })).toThrow(/AUTH_JWT_SECRET: must be at least 32 characters/);
    expect(() => config({ AUTH_JWT_PUBLIC_KEY: "MFkw..." })).toThrow(/AUTH_JWT_PUBLIC_KEY: must be an SPKI PEM/);
    expect(() => config({ AUTH_JWKS_URL: "file:///etc/keys" })).toThrow(/AUTH_JWKS_URL: must be an http\(s\) URL/);
    expect(config({ AUTH_JWT_SECRET: "  ", REST_API_TOKEN: "" })).toMatchObject({ AUTH_JWT_SECRET: undefined, REST_API_TOKEN: undefined });
    expect(config({}).AUTH_JWT_AUDIENCE).toBe("wcs-edge");
  });
});
