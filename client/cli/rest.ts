/**
 * The REST API from the CLI (`nodes`, `streams`): the server's `/rest-api/…` at the origin of `--url` (ws:// → http://,
 * wss:// → https://), with `--token` as the bearer token (the worker's REST_API_TOKEN, or an access token with
 * `admin: true`; README "REST API"). WCS answers an empty `find_all` with 404, which is returned here as `null`.
 */
import type { z } from "zod";

/** How long one REST call may take (ms). */
export const REST_TIMEOUT_MS = 10_000;

/** `https://host:port/rest-api` for `wss://host:port/…` (http for ws). */
export function restBase(url: string): string {
  const u = new URL(url);
  const scheme = u.protocol === "wss:" || u.protocol === "https:" ? "https:" : "http:";
  return `${scheme}//${u.host}/rest-api`;
}

/** The error text of a failed fetch: the socket's code (ECONNREFUSED, ENOTFOUND, …) when there is one. */
function fetchError(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } };
  if (err.name === "TimeoutError") return `no answer within ${REST_TIMEOUT_MS} ms`;
  return err.cause?.code ?? err.cause?.errors?.[0]?.code ?? err.cause?.message ?? err.message ?? String(e);
}

/**
 * POSTs `body` to `/rest-api/<path>` and validates the answer with `schema`.
 * @returns the answer, or null for a 404 (nothing found)
 * @throws Error with the server's `{error}` (401 no or bad token, 403 not an admin, 429, …) or the network error
 */
export async function restCall<S extends z.ZodTypeAny>(url: string, path: string, schema: S, token?: string, body: unknown = {}): Promise<z.infer<S> | null> {
  const target = `${restBase(url)}/${path}`;
  let res: Response;
  try {
    res = await fetch(target, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REST_TIMEOUT_MS),
    });
  } catch (e) {
    throw new Error(`cannot reach ${target}: ${fetchError(e)}`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (res.status === 404 && json && typeof json === "object" && "error" in json && !String((json as { error: unknown }).error).startsWith("No such REST method")) {
    return null;
  }
  if (!res.ok) {
    const why = json && typeof json === "object" && "error" in json ? String((json as { error: unknown }).error) : text.slice(0, 200);
    const hint = res.status === 401 || res.status === 403 ? " (give --token: the REST_API_TOKEN or an admin access token)" : "";
    throw new Error(`${target}: HTTP ${res.status} ${why}${hint}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new Error(`${target} answered something unexpected: ${text.slice(0, 200)}`);
  return parsed.data as z.infer<S>;
}
