/**
 * Request signing for the worker ↔ media-node API (both directions), with the shared secret.
 *
 * Headers: `x-wcs-timestamp` = sender's clock in ms since the epoch; `x-wcs-nonce` = 32 lowercase hex digits, random
 * per request; `x-wcs-signature` = lowercase hex of
 * HMAC-SHA256(secret, `${timestamp}\n${nonce}\n${METHOD}\n${path}\n${body}`) where `path` includes the query string.
 * The receiver rejects (HTTP 401) a missing or wrong signature, a timestamp more than {@link MAX_SKEW_MS} away from
 * its own clock, and — remembering every nonce until its request expires ({@link ReplayWindow}) — a request it has
 * seen before: a captured request cannot be replayed. Uses only WebCrypto, so the same code runs in Workers and
 * Node ≥ 20.
 */
export const SIGNATURE_HEADER = "x-wcs-signature";
export const TIMESTAMP_HEADER = "x-wcs-timestamp";
export const NONCE_HEADER = "x-wcs-nonce";
/** Largest accepted clock difference between signer and verifier, ms. */
export const MAX_SKEW_MS = 60_000;

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keys.set(secret, key);
  }
  return key;
}

function canonical(timestamp: string, nonce: string, method: string, path: string, body: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${timestamp}\n${nonce}\n${method.toUpperCase()}\n${path}\n${body}`) as Uint8Array<ArrayBuffer>;
}

/** A fresh request nonce: 16 random bytes as 32 lowercase hex digits. */
export function newNonce(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)).buffer);
}

function toHex(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[0-9a-f]{64}$/.test(hex)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Returns the three signature headers for a request. `path` is pathname + search of the target URL; `nonce`
 * defaults to a fresh {@link newNonce} (give one only to reproduce a request in tests).
 */
export async function signRequest(
  secret: string,
  method: string,
  path: string,
  body: string,
  now = Date.now(),
  nonce = newNonce(),
): Promise<Record<string, string>> {
  const timestamp = String(now);
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret), canonical(timestamp, nonce, method, path, body));
  return { [TIMESTAMP_HEADER]: timestamp, [NONCE_HEADER]: nonce, [SIGNATURE_HEADER]: toHex(sig) };
}

/**
 * A validly signed request: its nonce, and when the request expires (its timestamp + {@link MAX_SKEW_MS}; after that
 * the clock check alone refuses it, so the nonce need not be remembered longer), ms since the epoch.
 */
export interface SignedRequest {
  ok: true;
  nonce: string;
  expiresAt: number;
}

/**
 * Verifies a signed request's signature and timestamp. The caller then claims its nonce in a {@link ReplayWindow}
 * (or the worker's NonceDO) to refuse a replay.
 * @returns the request's nonce and expiry, or the reason it is refused (for logs; never send it to the caller beyond
 *   a generic 401)
 */
export async function verifyRequest(
  secret: string,
  method: string,
  path: string,
  body: string,
  headers: { get(name: string): string | null },
  now = Date.now(),
): Promise<SignedRequest | { ok: false; reason: string }> {
  const timestamp = headers.get(TIMESTAMP_HEADER);
  const nonce = headers.get(NONCE_HEADER);
  const signature = headers.get(SIGNATURE_HEADER);
  if (!timestamp || !nonce || !signature) return { ok: false, reason: "missing signature headers" };
  const ts = Number(timestamp);
  if (!Number.isFinite(ts) || Math.abs(now - ts) > MAX_SKEW_MS) return { ok: false, reason: "timestamp outside the allowed window" };
  if (!/^[0-9a-f]{32}$/.test(nonce)) return { ok: false, reason: "malformed nonce" };
  const sig = fromHex(signature);
  if (!sig) return { ok: false, reason: "malformed signature" };
  const ok = await crypto.subtle.verify("HMAC", await hmacKey(secret), sig, canonical(timestamp, nonce, method, path, body));
  return ok ? { ok: true, nonce, expiresAt: ts + MAX_SKEW_MS } : { ok: false, reason: "bad signature" };
}

/**
 * The nonces of the signed requests a receiver has accepted, each until its request expires: a nonce claimed twice
 * is a replay. In memory, for one receiving process (the media node); the worker keeps its nonces in NonceDO.
 */
export class ReplayWindow {
  /** nonce → expiry (ms since the epoch); in insertion order, which is nearly expiry order. */
  private readonly seen = new Map<string, number>();

  /** Nonces remembered now. */
  get size(): number {
    return this.seen.size;
  }

  /**
   * Records `nonce` until `expiresAt`. Expired nonces are forgotten first.
   * @returns false when the nonce is remembered already (a replayed request)
   */
  claim(nonce: string, expiresAt: number, now = Date.now()): boolean {
    for (const [n, exp] of this.seen) {
      if (exp > now) break;
      this.seen.delete(n);
    }
    if (this.seen.has(nonce)) return false;
    this.seen.set(nonce, expiresAt);
    return true;
  }
}

/**
 * The one signed call of the worker ↔ media-node API, both directions: `fetch` with a signed JSON body (or none),
 * aborted after `timeoutMs` (the request is cancelled, not just abandoned).
 * @throws fetch's errors: a network failure, or an error named "TimeoutError" ({@link isTimeout}) when no answer
 *   came within `timeoutMs`
 */
export async function signedFetch(secret: string, url: string, method: string, body: unknown, timeoutMs: number): Promise<Response> {
  const u = new URL(url);
  const text = body === undefined ? "" : JSON.stringify(body);
  const headers: Record<string, string> = await signRequest(secret, method, u.pathname + u.search, text);
  if (body !== undefined) headers["content-type"] = "application/json";
  return fetch(u, { method, headers, body: body === undefined ? undefined : text, signal: AbortSignal.timeout(timeoutMs) });
}

/** Whether an error thrown by {@link signedFetch} is its timeout. */
export function isTimeout(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === "TimeoutError";
}
