/**
 * Access-token verification (protocol/access.ts has the claims and the grant rules), with `jose`:
 *
 * - keys from the configuration: AUTH_JWT_SECRET (HS256), AUTH_JWT_PUBLIC_KEY (SPKI PEM; ES256 or Ed25519, found by
 *   importing it), AUTH_JWKS_URL (a remote JWKS, fetched and cached by jose's createRemoteJWKSet; ES256, EdDSA and
 *   RS256 keys). A token is verified with the key of its header's `alg`; an `alg` no configured key has (`none`,
 *   HS256 without a secret, …) is refused before any signature check (jose `algorithms`).
 * - claims: `exp` is required; `exp` / `nbf` are checked with AUTH_CLOCK_SKEW_S of tolerance; `aud` must contain
 *   AUTH_JWT_AUDIENCE; `iss` must equal AUTH_JWT_ISSUER when that is set (RFC 7519 §4.1).
 * - AUTH=off: every client gets {@link OPEN_ACCESS} and no token is looked at (the development profile).
 * - AUTH=on without any key: `not_configured` — the server refuses instead of serving openly.
 *
 * Runs in the worker and in Node (no Workers-only API), so the pure tests exercise it directly.
 */
import { createRemoteJWKSet, errors, importSPKI, jwtVerify, type CryptoKey, type JWTHeaderParameters, type JWTVerifyGetKey } from "jose";
import { timingSafeEqual } from "hono/utils/buffer";
import { AccessClaims, accessOf, AuthInfo, MAX_ACCESS_TOKEN_CHARS, OPEN_ACCESS, refusal, type Access, type Result } from "../protocol/index.js";
import type { Config } from "./config.js";

/** The part of the worker configuration that verification reads. */
export type AuthConfig = Pick<
  Config,
  "AUTH" | "AUTH_JWT_SECRET" | "AUTH_JWT_PUBLIC_KEY" | "AUTH_JWKS_URL" | "AUTH_JWT_AUDIENCE" | "AUTH_JWT_ISSUER" | "AUTH_CLOCK_SKEW_S" | "REST_API_TOKEN"
>;

/** The outcome of authenticating a client: its {@link Access}, or a refusal (`unauthorized`, `not_configured`). */
export type AccessResult = Result<{ access: Access }>;

const JWKS_ALGORITHMS = ["ES256", "EdDSA", "RS256"];
const PUBLIC_KEY_ALGORITHMS = ["ES256", "EdDSA"] as const;

/** Imported public keys and remote key sets, per configured text (an isolate keeps them for its lifetime). */
const publicKeys = new Map<string, Promise<{ alg: string; key: CryptoKey } | null>>();
const keySets = new Map<string, JWTVerifyGetKey>();

/** The algorithm and key of an SPKI PEM: the first of ES256 / EdDSA that imports it; null if neither does. */
function publicKeyOf(pem: string): Promise<{ alg: string; key: CryptoKey } | null> {
  let p = publicKeys.get(pem);
  if (!p) {
    p = (async () => {
      for (const alg of PUBLIC_KEY_ALGORITHMS) {
        try {
          return { alg, key: await importSPKI(pem, alg) };
        } catch {
          // not a key of this algorithm
        }
      }
      return null;
    })();
    publicKeys.set(pem, p);
  }
  return p;
}

function keySetOf(url: string): JWTVerifyGetKey {
  let ks = keySets.get(url);
  if (!ks) {
    ks = createRemoteJWKSet(new URL(url), { timeoutDuration: 5000, cooldownDuration: 30_000 });
    keySets.set(url, ks);
  }
  return ks;
}

/** Whether any token key is configured (else, with AUTH on, media requests are refused as not configured). */
export function hasTokenKeys(cfg: AuthConfig): boolean {
  return cfg.AUTH_JWT_SECRET !== undefined || cfg.AUTH_JWT_PUBLIC_KEY !== undefined || cfg.AUTH_JWKS_URL !== undefined;
}

/** Why jose refused a token, in a few words for the client (never the token itself). */
function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "nbf") return "not yet valid";
    if (err.claim === "aud") return "wrong audience";
    if (err.claim === "iss") return "wrong issuer";
    if (err.claim === "exp") return "no expiry";
    return `bad ${err.claim} claim`;
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return "algorithm not allowed";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "bad signature";
  if (err instanceof errors.JWKSNoMatchingKey) return "no matching key";
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return "key set unavailable";
  if (err instanceof errors.JOSEError) return "malformed token";
  return "key set unavailable"; // a failed JWKS fetch
}

/**
 * Verifies an access token and returns what it grants.
 * @param token the JWT as presented (undefined: none was presented)
 * @returns OPEN_ACCESS when AUTH is off; `not_configured` when AUTH is on without keys; `unauthorized` with
 *   {@link AuthInfo} texts for a missing, malformed, forged, expired, not-yet-valid or wrong-audience token
 */
export async function authenticate(cfg: AuthConfig, token: string | undefined): Promise<AccessResult> {
  if (!cfg.AUTH) return { ok: true, access: OPEN_ACCESS };
  if (!hasTokenKeys(cfg)) return refusal("not_configured", AuthInfo.NOT_CONFIGURED);
  if (token === undefined || token === "") return refusal("unauthorized", AuthInfo.TOKEN_REQUIRED);
  if (token.length > MAX_ACCESS_TOKEN_CHARS) return refusal("unauthorized", AuthInfo.tokenInvalid("too long"));
  const pub = cfg.AUTH_JWT_PUBLIC_KEY === undefined ? null : await publicKeyOf(cfg.AUTH_JWT_PUBLIC_KEY);
  const secret = cfg.AUTH_JWT_SECRET === undefined ? null : new TextEncoder().encode(cfg.AUTH_JWT_SECRET);
  const jwks = cfg.AUTH_JWKS_URL === undefined ? null : keySetOf(cfg.AUTH_JWKS_URL);
  const algorithms = [...(secret ? ["HS256"] : []), ...(pub ? [pub.alg] : []), ...(jwks ? JWKS_ALGORITHMS : [])];
  const keyFor = async (header: JWTHeaderParameters, input: Parameters<JWTVerifyGetKey>[1]) => {
    if (header.alg === "HS256" && secret) return secret;
    if (pub && header.alg === pub.alg) return pub.key;
    if (jwks) return jwks(header, input);
    throw new errors.JOSEAlgNotAllowed(`"alg" (Algorithm) Header Parameter value not allowed`);
  };
  try {
    const { payload } = await jwtVerify(token, keyFor, {
      algorithms: [...new Set(algorithms)],
      audience: cfg.AUTH_JWT_AUDIENCE,
      ...(cfg.AUTH_JWT_ISSUER === undefined ? {} : { issuer: cfg.AUTH_JWT_ISSUER }),
      clockTolerance: cfg.AUTH_CLOCK_SKEW_S,
      requiredClaims: ["exp"],
    });
    const claims = AccessClaims.safeParse(payload);
    if (!claims.success) {
      const issue = claims.error.issues[0];
      return refusal("unauthorized", AuthInfo.tokenInvalid(`bad claims: ${issue?.path.join(".")} ${issue?.message ?? ""}`.trim()));
    }
    return { ok: true, access: accessOf(claims.data) };
  } catch (err) {
    return refusal("unauthorized", AuthInfo.tokenInvalid(reasonOf(err)));
  }
}

/**
 * Authenticates a REST caller. The static REST_API_TOKEN (constant-time compare), when configured, is an admin — even
 * with AUTH off, so a configured REST token always guards the REST API; with AUTH on, an access token works too
 * (the route checks its `admin`). Without REST_API_TOKEN: AUTH off → open; AUTH on without token keys →
 * `not_configured`.
 */
export async function authenticateAdmin(cfg: AuthConfig, token: string | undefined): Promise<AccessResult> {
  const restToken = cfg.REST_API_TOKEN;
  if (restToken !== undefined && token !== undefined && (await timingSafeEqual(restToken, token))) return { ok: true, access: OPEN_ACCESS };
  const wrongRestToken = () => refusal("unauthorized", token ? AuthInfo.tokenInvalid("not the REST API token") : AuthInfo.TOKEN_REQUIRED);
  if (!cfg.AUTH) return restToken === undefined ? { ok: true, access: OPEN_ACCESS } : wrongRestToken();
  if (!hasTokenKeys(cfg) && restToken !== undefined) return wrongRestToken();
  return authenticate(cfg, token);
}
