/**
 * Structured logs: one JSON object per line on the console (Workers Logs / `wrangler tail` / the local terminal).
 * `event` names what happened; fields say to what (session, stream, mediaSessionId, leg, node) and why.
 */
export function log(level: "info" | "warn" | "error", event: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, event, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
