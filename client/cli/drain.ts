/**
 * `wcs-edge drain`: asks a media node to drain (signed `POST /v1/drain`, protocol/media-node.ts DrainRequest) — an
 * operator's way to take a node out of service without cutting its streams short:
 *
 *   wcs-edge drain --node http://10.0.0.5:9000 [--secret "$MEDIA_NODE_SECRET"] [--timeout-ms 60000] [--json]
 *
 * The node stops taking new streams at once, lets its legs flow until it holds none or the timeout (default its
 * MEDIA_NODE_DRAIN_TIMEOUT_MS) has passed, then deregisters and exits 0 (its clients that are left get FAILED
 * "Failed by error: media node shutting down"). Prints the node's answer: the legs it holds and the drain's deadline
 * (with --json: `{"type": "drain", "node", "legs", "timeoutMs", "deadline"}`). Asking again reports the running drain.
 * Exit codes: 0 draining; 1 refused or unreachable (the reason on stderr); 2 bad command line.
 */
import { DrainResponse, MAX_DRAIN_TIMEOUT_MS, MediaNodePaths, type DrainRequest } from "../../protocol/media-node.js";
import { signedFetch } from "../../protocol/signing.js";
import { UsageError } from "./lifecycle.js";
import { out } from "./output.js";

export interface DrainOptions {
  /** The node's control URL (its MEDIA_NODE_PUBLIC_URL, or http://<listen host>:<port>). */
  node: string;
  /** MEDIA_NODE_SECRET, shared by the worker and its nodes. */
  secret?: string;
  /** How long the node's legs may keep flowing, ms (default: the node's MEDIA_NODE_DRAIN_TIMEOUT_MS). */
  timeoutMs?: number;
  json?: boolean;
}

/**
 * Sends the signed drain request and prints the answer.
 * @throws UsageError without a secret, or for a bad --node / --timeout-ms; Error when the node refuses or cannot be reached
 */
export async function drainCommand(o: DrainOptions): Promise<void> {
  out.configure({ url: "", json: !!o.json });
  if (!o.secret) throw new UsageError("Give --secret (or set MEDIA_NODE_SECRET).");
  let base: URL;
  try {
    base = new URL(o.node);
  } catch {
    throw new UsageError(`--node ${o.node} is not a URL (expected http://host:port).`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new UsageError(`--node ${o.node} must be an http:// or https:// URL.`);
  if (o.timeoutMs !== undefined && (!Number.isInteger(o.timeoutMs) || o.timeoutMs < 0 || o.timeoutMs > MAX_DRAIN_TIMEOUT_MS)) {
    throw new UsageError(`--timeout-ms must be an integer in 0..${MAX_DRAIN_TIMEOUT_MS}.`);
  }
  const url = base.href.replace(/\/+$/, "") + MediaNodePaths.drain;
  const body: DrainRequest = o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs };
  let res: Response;
  try {
    res = await signedFetch(o.secret, url, "POST", body, 10_000);
  } catch (e) {
    const err = e as { message?: string; cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } };
    const why = err.cause?.code ?? err.cause?.errors?.[0]?.code ?? err.cause?.message ?? err.message ?? String(e);
    throw new Error(`cannot reach ${url}: ${why}`);
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} refused: HTTP ${res.status} ${text}`);
  const parsed = DrainResponse.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${url} answered something else than a drain: ${text.slice(0, 200)}`);
  const d = parsed.data;
  const deadline = new Date(d.deadline).toISOString();
  out.event(
    "drain",
    { node: base.href, legs: d.legs, timeoutMs: d.timeoutMs, deadline },
    `draining ${base.href}: ${d.legs} legs; they end by ${deadline} at the latest, then the node deregisters and exits`,
  );
}
