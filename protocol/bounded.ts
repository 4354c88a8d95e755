/**
 * Bounds of what clients may send in free-form fields and names, checked by the schemas before any state changes:
 *
 * - free-form JSON values (`custom` of a connection or stream, a `sendData` payload): at most
 *   {@link MAX_FREE_FORM_DEPTH} levels of nesting and {@link MAX_FREE_FORM_BYTES} of JSON — a deeper value would
 *   fail later, inside a Durable Object's storage (structured clone), after a name was reserved;
 * - names and ids (stream names, mediaSessionIds, room names, logins): well-formed text — no control characters
 *   (U+0000–U+001F, U+007F) and no lone UTF-16 surrogates, which cannot be encoded as UTF-8 and so cannot be logged,
 *   stored or echoed faithfully.
 *
 * No runtime dependency but zod.
 */
import { z } from "zod";

/** Deepest nesting of a free-form value (a scalar is depth 0, `{}` / `[]` depth 1). */
export const MAX_FREE_FORM_DEPTH = 32;
/** Largest free-form value, as JSON text (UTF-16 code units). */
export const MAX_FREE_FORM_BYTES = 16 * 1024;

/**
 * Whether `value` nests deeper than `max` (iterative: a hostile value cannot overflow the stack).
 * @param value a JSON value (from JSON.parse)
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * A free-form JSON value within {@link MAX_FREE_FORM_DEPTH} levels and `maxBytes` of JSON (default
 * {@link MAX_FREE_FORM_BYTES}; a room message payload may be as large as its frame).
 */
export function freeForm(maxBytes: number = MAX_FREE_FORM_BYTES) {
  return z.unknown().superRefine((v, ctx) => {
    if (nestedDeeperThan(v, MAX_FREE_FORM_DEPTH)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `nests deeper than ${MAX_FREE_FORM_DEPTH} levels` });
      return;
    }
    if (!Number.isFinite(maxBytes)) return;
    const size = JSON.stringify(v ?? null).length;
    if (size > maxBytes) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `is ${size} bytes of JSON, the limit is ${maxBytes}` });
  });
}

/** A `custom` value: {@link freeForm} with the default size. */
export const FreeForm = freeForm();

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `text` is not a well-formed name, or undefined when it is. */
export function nameProblem(text: string): string | undefined {
  if (CONTROL.test(text)) return "must not contain control characters";
  if (LONE_SURROGATE.test(text)) return "must not contain lone surrogates (not valid Unicode)";
  return undefined;
}

/** A name or id: `min`..`max` characters of well-formed text ({@link nameProblem}). */
export function wellFormedName(min: number, max: number) {
  return z
    .string()
    .min(min)
    .max(max)
    .superRefine((s, ctx) => {
      const problem = nameProblem(s);
      if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    });
}
