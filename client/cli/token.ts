/**
 * `wcs-edge token`: mints an access token (a JWT with the grant claims of protocol/access.ts) with `jose`, for
 * development and scripts — a production backend mints its tokens itself with any JWT library.
 *
 *   wcs-edge token --secret "$AUTH_JWT_SECRET" --sub alice --publish 'alice-*' --play '*' --rooms room1 --ttl 1h
 *   wcs-edge token --key private.pem --admin                      (ES256 or Ed25519 PKCS#8 PEM)
 *
 * Prints the token alone on stdout (with --json: `{"type": "token", "token", "expiresAt"}`).
 */
import { readFileSync } from "node:fs";
import { decodeJwt, importPKCS8, SignJWT, type CryptoKey } from "jose";
import { UsageError } from "./lifecycle.js";
import { out } from "./output.js";

export interface TokenOptions {
  /** HS256 secret (AUTH_JWT_SECRET of the worker). */
  secret?: string;
  /** A PKCS#8 PEM private key file (ES256 or Ed25519; the worker has its public key). */
  key?: string;
  sub?: string;
  publish?: string[];
  play?: string[];
  rooms?: string[];
  admin?: boolean;
  /** Lifetime: jose's time span ("30s", "15m", "1h", "7d"). */
  ttl: string;
  audience: string;
  issuer?: string;
  json?: boolean;
}

/** The signing key and its algorithm: the HS256 secret, or the first of ES256 / EdDSA that imports the PEM. */
async function signingKey(o: TokenOptions): Promise<{ alg: string; key: CryptoKey | Uint8Array }> {
  if ((o.secret === undefined) === (o.key === undefined)) throw new UsageError("Give exactly one of --secret and --key.");
  if (o.secret !== undefined) {
    if (o.secret.length < 32) throw new UsageError("--secret must be at least 32 characters (as AUTH_JWT_SECRET).");
    return { alg: "HS256", key: new TextEncoder().encode(o.secret) };
  }
  let pem: string;
  try {
    pem = readFileSync(o.key!, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read --key ${o.key}: ${(e as Error).message}`);
  }
  for (const alg of ["ES256", "EdDSA"]) {
    try {
      return { alg, key: await importPKCS8(pem, alg) };
    } catch {
      // not a key of this algorithm
    }
  }
  throw new UsageError(`--key ${o.key} is not an ES256 or Ed25519 private key in PKCS#8 PEM.`);
}

/** Signs the token and prints it. @throws UsageError for a bad key, secret or --ttl. */
export async function tokenCommand(o: TokenOptions): Promise<void> {
  out.configure({ url: "", json: !!o.json });
  const { alg, key } = await signingKey(o);
  const claims = {
    ...(o.publish?.length ? { publish: o.publish } : {}),
    ...(o.play?.length ? { play: o.play } : {}),
    ...(o.rooms?.length ? { rooms: o.rooms } : {}),
    ...(o.admin ? { admin: true } : {}),
  };
  const jwt = new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" }).setIssuedAt().setAudience(o.audience);
  if (o.sub) jwt.setSubject(o.sub);
  if (o.issuer) jwt.setIssuer(o.issuer);
  try {
    jwt.setExpirationTime(o.ttl);
  } catch {
    throw new UsageError(`--ttl ${o.ttl} is not a time span such as 30s, 15m, 1h or 7d.`);
  }
  const token = await jwt.sign(key);
  const { exp } = decodeJwt(token);
  out.event("token", { token, expiresAt: new Date((exp ?? 0) * 1000).toISOString() }, token);
}
