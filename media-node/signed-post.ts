/**
 * Signed JSON POSTs from the media node to the worker (`protocol/signing.ts` signedFetch), shared by the worker link
 * (leg and relay events, media-node/worker-link.ts) and the heartbeat thread (media-node/heartbeat-thread.ts).
 */
import { isTimeout, signedFetch } from "../protocol/signing.js";

/** Thrown for a non-2xx answer; `status` is the HTTP status. */
export class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/**
 * A signed JSON POST whose answer is drained (so the connection is reused).
 * @param timeoutMs the request is aborted after this long
 * @throws HttpStatusError on non-2xx; signedFetch's errors on network failure or timeout
 */
export async function signedPost(secret: string, url: string, body: unknown, timeoutMs: number): Promise<void> {
  const res = await signedFetch(secret, url, "POST", body, timeoutMs);
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new HttpStatusError(res.status);
}

/** A short human text for a failed {@link signedPost}: "rejected with HTTP 409", "timed out", "unreachable (ECONNREFUSED)". */
export function describeError(e: unknown): string {
  if (e instanceof HttpStatusError) return `rejected with HTTP ${e.status}`;
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (isTimeout(e)) return "timed out";
  return `unreachable (${err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e)})`;
}
