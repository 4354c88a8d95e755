/**
 * Request signing for the worker ↔ media-node API (both directions), with the shared secret.
 *
 * Headers: `x-wcs-timestamp` = sender's clock in ms since the epoch; `x-wcs-signature` = lowercase hex of
 * HMAC-SHA256(secret, `${timestamp}\n${METHOD}\n${path}\n${body}`) where `path` includes the query string.
 * The receiver rejects (HTTP 401) a missing or wrong signature and a timestamp more than {@link MAX_SKEW_MS} away
 * from its own clock. Uses only WebCrypto, so the same code runs in Workers and Node ≥ 20.
 */
export const SIGNATURE_HEADER = "x-wcs-signature";
export const TIMESTAMP_HEADER = "x-wcs-timestamp";
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

function canonical(timestamp: string, method: string, path: string, body: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${timestamp}\n${method.toUpperCase()}\n${path}\n${body}`) as Uint8Array<ArrayBuffer>;
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

/** Returns the two signature headers for a request. `path` is pathname + search of the target URL. */
export async function signRequest(
  secret: string,
  method: string,
  path: string,
  body: string,
  now = Date.now(),
): Promise<Record<string, string>> {
  const timestamp = String(now);
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret), canonical(timestamp, method, path, body));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: toHex(sig) };
}

/**
 * Verifies a signed request. Returns null when valid, else the reason (for logs; never send it to the caller beyond
 * a generic 401).
 */
export async function verifyRequest(
  secret: string,
  method: string,
  path: string,
  body: string,
  headers: { get(name: string): string | null },
  now = Date.now(),
): Promise<string | null> {
  const timestamp = headers.get(TIMESTAMP_HEADER);
  const signature = headers.get(SIGNATURE_HEADER);
  if (!timestamp || !signature) return "missing signature headers";
  const ts = Number(timestamp);
  if (!Number.isFinite(ts) || Math.abs(now - ts) > MAX_SKEW_MS) return "timestamp outside the allowed window";
  const sig = fromHex(signature);
  if (!sig) return "malformed signature";
  const ok = await crypto.subtle.verify("HMAC", await hmacKey(secret), sig, canonical(timestamp, method, path, body));
  return ok ? null : "bad signature";
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
