/**
 * The one parser of JSON request bodies on every HTTP API of the project (media-node control API, node → worker
 * calls, the REST API): text → JSON → zod schema, with a refusal that says what is wrong.
 */
import type { z } from "zod";
import { refusal, type Result } from "./refusal.js";

/**
 * Parses `text` as JSON and validates it with `schema`. An empty (or all-blank) text is parsed as `empty` when given
 * (REST calls without a body mean `{}`), else as `undefined`.
 * @returns the parsed value, or an `invalid_request` refusal: "Malformed JSON body" or
 *   "Invalid body: <path> <message>" (the first schema issue)
 */
export function parseJsonBody<S extends z.ZodTypeAny>(text: string, schema: S, empty?: unknown): Result<{ value: z.infer<S> }> {
  let json: unknown = empty;
  if (text.trim() !== "") {
    try {
      json = JSON.parse(text);
    } catch {
      return refusal("invalid_request", "Malformed JSON body");
    }
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return refusal("invalid_request", `Invalid body: ${issue?.path.join(".") || "body"} ${issue?.message ?? ""}`.trim());
  }
  return { ok: true, value: parsed.data };
}
