/**
 * Structured logs: one JSON object per line on the console (Workers Logs / `wrangler tail` / the local terminal).
 * `event` names what happened; fields say to what (session, stream, mediaSessionId, leg, node) and why.
 * The LOG_LEVEL var ("info" | "warn" | "error" | "silent", default "info") filters them; {@link configureLog} applies
 * it (called by the fetch handler and every Durable Object constructor).
 */
type Level = "info" | "warn" | "error";
const RANK: Record<Level | "silent", number> = { info: 0, warn: 1, error: 2, silent: 3 };
let threshold = RANK.info;

export function configureLog(env: { LOG_LEVEL?: string }): void {
  const level = (env.LOG_LEVEL ?? "info") as keyof typeof RANK;
  threshold = RANK[level] ?? RANK.info;
}

export function log(level: Level, event: string, fields: Record<string, unknown> = {}): void {
  if (RANK[level] < threshold) return;
  const line = JSON.stringify({ level, event, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
