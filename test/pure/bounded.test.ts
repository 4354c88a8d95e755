/** protocol/bounded.ts: the depth, size and name bounds every entry point applies before any state changes. */
import { describe, expect, it } from "vitest";
import { FreeForm, freeForm, MAX_FREE_FORM_BYTES, MAX_FREE_FORM_DEPTH, nameProblem, nestedDeeperThan, wellFormedName } from "../../protocol/bounded.js";

const nested = (depth: number, wrap: (v: unknown) => unknown = (v) => ({ v })): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = wrap(v);
  return v;
};

describe("nestedDeeperThan", () => {
  it("counts objects and arrays, not scalars; mixed nesting; no stack overflow at 100,000 levels", () => {
    expect(nestedDeeperThan("x", 0)).toBe(false);
    expect(nestedDeeperThan({}, 0)).toBe(true);
    expect(nestedDeeperThan({}, 1)).toBe(false);
    expect(nestedDeeperThan([[[]]], 2)).toBe(true);
    expect(nestedDeeperThan([[[]]], 3)).toBe(false);
    expect(nestedDeeperThan({ a: 1, b: [{ c: [2] }] }, 3)).toBe(true);
    expect(nestedDeeperThan({ a: 1, b: [{ c: [2] }] }, 4)).toBe(false);
    expect(nestedDeeperThan(nested(100_000, (v) => [v]), 32)).toBe(true);
    expect(nestedDeeperThan(JSON.parse("[".repeat(5000) + "]".repeat(5000)), MAX_FREE_FORM_DEPTH)).toBe(true);
  });
});

describe("freeForm", () => {
  it("takes up to 32 levels and 16 KiB; says which bound a value breaks", () => {
    expect(FreeForm.safeParse(nested(MAX_FREE_FORM_DEPTH)).success).toBe(true);
    const deep = FreeForm.safeParse(nested(MAX_FREE_FORM_DEPTH + 1));
    expect(deep.success ? "" : deep.error.issues[0]?.message).toBe("nests deeper than 32 levels");
    expect(FreeForm.safeParse({ s: "x".repeat(MAX_FREE_FORM_BYTES - 10) }).success).toBe(true);
    const big = FreeForm.safeParse({ s: "x".repeat(MAX_FREE_FORM_BYTES) });
    expect(big.success ? "" : big.error.issues[0]?.message).toBe(`is ${MAX_FREE_FORM_BYTES + 8} bytes of JSON, the limit is ${MAX_FREE_FORM_BYTES}`);
    expect(freeForm(Number.POSITIVE_INFINITY).safeParse({ s: "x".repeat(500_000) }).success).toBe(true);
    expect(FreeForm.safeParse(undefined).success).toBe(true);
  });
});

describe("names", () => {
  it.each([
    ["cam1", undefined],
    ["камера-😀", undefined],
    ["a\u0000b", "must not contain control characters"],
    ["tab\there", "must not contain control characters"],
    ["del\u007f", "must not contain control characters"],
    ["x\ud800", "must not contain lone surrogates (not valid Unicode)"],
    ["\udc00x", "must not contain lone surrogates (not valid Unicode)"],
    ["\ude00\ud83d", "must not contain lone surrogates (not valid Unicode)"],
  ])("%j → %s", (name, problem) => {
    expect(nameProblem(name)).toBe(problem);
    expect(wellFormedName(1, 64).safeParse(name).success).toBe(problem === undefined);
  });
  it("lengths", () => {
    expect(wellFormedName(1, 4).safeParse("").success).toBe(false);
    expect(wellFormedName(1, 4).safeParse("abcde").success).toBe(false);
  });
});
