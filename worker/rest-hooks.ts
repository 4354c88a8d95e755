/**
 * Calling the backend's WCS REST hooks (protocol/rest-hooks.ts has the methods, shapes and semantics): one signed
 * POST per hooked request when REST_HOOK_URL is configured, nothing otherwise. The entry points call it after their
 * own checks (token grants, request validity) and before anything is reserved, so a declined request changes nothing.
 */
import { HookInfo, isTimeout, MAX_HOOK_REASON_CHARS, refusal, RestHookAnswer, signedFetch, type Refusal, type RestHookMethod } from "../protocol/index.js";
import type { Config } from "./config.js";
import { log } from "./log.js";

/** The hook's verdict: allowed (with the backend's `custom` to use instead of the request's), or a `forbidden` refusal. */
export type HookVerdict = { ok: true; custom?: Record<string, unknown> } | Refusal;

type HookConfig = Pick<Config, "REST_HOOK_URL" | "REST_HOOK_SECRET" | "REST_HOOK_TIMEOUT_MS" | "REST_HOOK_ON_TIMEOUT">;

/** The backend's reason for a decline: JSON `reason` / `info` / `error`, else the text body, else the status line. */
async function reasonOf(res: Response): Promise<string> {
  const text = (await res.text().catch(() => "")).trim();
  let reason = text;
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    const field = [json.reason, json.info, json.error].find((v) => typeof v === "string" && v.trim() !== "");
    if (typeof field === "string") reason = field.trim();
  } catch {
    // a text body
  }
  if (reason === "") reason = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
  return reason.length > MAX_HOOK_REASON_CHARS ? `${reason.slice(0, MAX_HOOK_REASON_CHARS)}…` : reason;
}

/**
 * Asks the backend whether `method` with `body` may go on.
 * @returns `{ok: true}` when no hook is configured or the backend answered 200 (with its `custom`, if any); a
 *   `forbidden` refusal with the backend's reason for any other status, and for a timeout or network failure unless
 *   REST_HOOK_ON_TIMEOUT is "allow"
 */
export async function callRestHook(cfg: HookConfig, method: RestHookMethod, body: object): Promise<HookVerdict> {
  if (!cfg.REST_HOOK_URL || !cfg.REST_HOOK_SECRET) return { ok: true };
  const url = `${cfg.REST_HOOK_URL.replace(/\/+$/, "")}/${method}`;
  let res: Response;
  try {
    res = await signedFetch(cfg.REST_HOOK_SECRET, url, "POST", body, cfg.REST_HOOK_TIMEOUT_MS);
  } catch (err) {
    const timedOut = isTimeout(err);
    const allow = cfg.REST_HOOK_ON_TIMEOUT === "allow";
    log("warn", "rest_hook_unanswered", { method, timedOut, error: timedOut ? undefined : String(err), allowed: allow });
    if (allow) return { ok: true };
    return refusal("forbidden", timedOut ? HookInfo.TIMEOUT : HookInfo.UNREACHABLE);
  }
  if (res.status !== 200) {
    const reason = await reasonOf(res);
    log("info", "rest_hook_declined", { method, status: res.status, reason });
    return refusal("forbidden", HookInfo.declined(reason));
  }
  const text = await res.text().catch(() => "");
  if (text.trim() === "") return { ok: true };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    log("warn", "rest_hook_bad_answer", { method, why: "200 with a body that is not JSON: ignored" });
    return { ok: true };
  }
  const answer = RestHookAnswer.safeParse(json);
  if (!answer.success) {
    log("warn", "rest_hook_bad_answer", { method, why: "custom is not an object: ignored" });
    return { ok: true };
  }
  return answer.data.custom ? { ok: true, custom: answer.data.custom } : { ok: true };
}
