/**
 * Access tokens for tests with authentication on (AUTH=on): one HS256 secret per test run, tokens minted with jose
 * exactly as a backend would (claims of protocol/access.ts).
 *
 *   const cluster = await startCluster({ vars: authVars() });
 *   const token = await mintToken({ sub: "alice", publish: ["alice-*"] });
 */
import { randomBytes } from "node:crypto";
import { SignJWT, type JWTPayload } from "jose";

/** The HS256 secret of this test run (the worker's AUTH_JWT_SECRET). */
export const TEST_JWT_SECRET = randomBytes(32).toString("hex");

/** Worker vars that turn authentication on with {@link TEST_JWT_SECRET}. */
export function authVars(): Record<string, string> {
  return { AUTH: "on", AUTH_JWT_SECRET: TEST_JWT_SECRET };
}

/**
 * A signed access token: `claims` (sub, publish, play, rooms, admin, …), `aud` "wcs-edge", expiring in `ttl`
 * (jose time span, default "1h"); `exp` / `nbf` / `aud` in `claims` override the defaults.
 */
export async function mintToken(claims: JWTPayload & Record<string, unknown>, opts: { ttl?: string; secret?: string } = {}): Promise<string> {
  return new SignJWT({ aud: "wcs-edge", ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(claims.exp ?? opts.ttl ?? "1h")
    .sign(new TextEncoder().encode(opts.secret ?? TEST_JWT_SECRET));
}
