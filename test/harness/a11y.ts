/**
 * Accessibility checks of a Playwright page with axe-core (https://github.com/dequelabs/axe-core, rule list:
 * https://dequeuniversity.com/rules/axe/4.14). The engine's own source (node_modules/axe-core/axe.min.js) is injected
 * into the page with a script tag (our pages send no Content-Security-Policy, so an inline script runs) and
 * `axe.run()` checks the current DOM against the WCAG 2.0/2.1/2.2 level A and AA rules, including colour contrast
 * (SC 1.4.3: 4.5:1 for normal text, 3:1 for large text) in whatever colour scheme the page is showing
 * (`page.emulateMedia({ colorScheme: "dark" })` before the check covers the dark theme).
 *
 * axe reports only what it can decide from the DOM; it does not replace a keyboard walk-through or a screen-reader
 * check. For the keyboard: {@link tabTo} presses Tab until a control has the focus and checks its focus ring
 * (SC 2.4.7), {@link focusRing} reads the focused element's outline.
 *
 * Usage in a Chromium test:
 * ```ts
 * import { expectNoSeriousA11yViolations } from "../harness/a11y.js";
 * await expectNoSeriousA11yViolations(page, "player (dark, playing)");
 * ```
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { ImpactValue, Result } from "axe-core";
import type { Locator, Page } from "playwright-core";

/** axe tags of WCAG 2.0, 2.1 and 2.2 success criteria at levels A and AA (axe's tag list: see the README above). */
export const WCAG_AA_TAGS: readonly string[] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/** Impacts that fail {@link expectNoSeriousA11yViolations} ("minor" and "moderate" are only reported). */
export const SERIOUS_IMPACTS: readonly ImpactValue[] = ["serious", "critical"];

export interface A11yOptions {
  /** axe tags to run (default {@link WCAG_AA_TAGS}). */
  tags?: readonly string[];
  /** Impacts to keep (default {@link SERIOUS_IMPACTS}). */
  impacts?: readonly ImpactValue[];
  /** CSS selectors whose subtrees are not checked (e.g. a third-party widget); default none. */
  exclude?: readonly string[];
  /** axe rule ids to switch off (e.g. "color-contrast" while a page is mid-transition); default none. */
  disableRules?: readonly string[];
}

/** One failing element of a {@link A11yViolation}. */
export interface A11yNode {
  /** axe's CSS selector path of the element (one entry per frame/shadow root level). */
  target: string;
  /** The element's opening HTML, shortened by axe. */
  html: string;
  /**
   * axe's "Fix any/all of the following" text; for colour contrast it carries the ratio and the colours, e.g.
   * "Element has insufficient color contrast of 3.32 (foreground color: #2e7d32, background color: #121212, font
   * size: 10.5pt (14px), font weight: normal). Expected contrast ratio of 4.5:1".
   */
  summary: string;
}

/** One failed axe rule (a trimmed, serialisable `axe.Result`). */
export interface A11yViolation {
  /** axe rule id, e.g. "color-contrast", "label", "button-name". */
  id: string;
  impact: ImpactValue | undefined;
  /** One-line description of what the rule wants. */
  help: string;
  /** Deque University page of the rule (explains the WCAG success criterion and fixes). */
  helpUrl: string;
  /** axe tags, e.g. ["wcag2aa", "wcag143"] (the success criterion number is in the tag). */
  tags: string[];
  nodes: A11yNode[];
}

let axeSource: string | undefined;

/** The text of node_modules/axe-core/axe.min.js, read once. */
function axeScript(): string {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  return axeSource;
}

/** Adds axe-core to the page unless it is already there (a navigation or reload removes it). */
async function injectAxe(page: Page): Promise<void> {
  const present = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe === "object");
  if (!present) await page.addScriptTag({ content: axeScript() });
}

/**
 * Runs axe-core on the whole document of `page` and returns the violations whose impact is in `opts.impacts`
 * (default serious and critical), most severe first. An empty array means axe found none.
 */
export async function axeViolations(page: Page, opts: A11yOptions = {}): Promise<A11yViolation[]> {
  await injectAxe(page);
  const impacts = opts.impacts ?? SERIOUS_IMPACTS;
  const raw = await page.evaluate(
    async ({ tags, exclude, disableRules }) => {
      // (no named inner functions here: tsx/esbuild would wrap them in a __name() helper the page does not have)
      const axe = (window as unknown as { axe: typeof import("axe-core") }).axe;
      const context = exclude.length > 0 ? { include: [document], exclude: exclude.map((s) => [s]) } : document;
      const results = await axe.run(context as Parameters<typeof axe.run>[0], {
        runOnly: { type: "tag", values: tags },
        rules: Object.fromEntries(disableRules.map((id) => [id, { enabled: false }])),
        resultTypes: ["violations"],
      });
      return results.violations.map((v: Result) => ({
        id: v.id,
        impact: v.impact ?? undefined,
        help: v.help,
        helpUrl: v.helpUrl,
        tags: v.tags,
        nodes: v.nodes.map((n) => ({ target: n.target.map((t) => String(t)).join(" >> "), html: n.html, summary: n.failureSummary ?? "" })),
      }));
    },
    { tags: [...(opts.tags ?? WCAG_AA_TAGS)], exclude: [...(opts.exclude ?? [])], disableRules: [...(opts.disableRules ?? [])] },
  );
  const rank = (i: ImpactValue | undefined): number => ["critical", "serious", "moderate", "minor"].indexOf(i ?? "minor");
  return raw.filter((v) => impacts.includes(v.impact ?? null)).sort((a, b) => rank(a.impact) - rank(b.impact));
}

/** Readable multi-line text of `violations`: per rule its id, impact, help and URL, then each element and why. */
export function formatViolations(violations: readonly A11yViolation[]): string {
  return violations
    .map((v) =>
      [
        `[${v.impact ?? "?"}] ${v.id}: ${v.help} (${v.helpUrl})`,
        ...v.nodes.map((n) => `  - ${n.target}\n      ${n.html}\n      ${n.summary.replace(/\n/g, "\n      ")}`),
      ].join("\n"),
    )
    .join("\n");
}

/**
 * Fails (throws an Error naming `label`) when axe finds a serious or critical WCAG 2.2 A/AA violation on `page`;
 * the message lists every such violation as {@link formatViolations} prints it.
 */
export async function expectNoSeriousA11yViolations(page: Page, label: string, opts: A11yOptions = {}): Promise<void> {
  const violations = await axeViolations(page, opts);
  if (violations.length > 0) {
    const count = violations.reduce((n, v) => n + v.nodes.length, 0);
    throw new Error(`${label}: ${violations.length} axe rule(s) failed on ${count} element(s) (${page.url()}):\n${formatViolations(violations)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Keyboard: reaching a control with Tab only, and seeing where the focus is.

/** How the focused element shows its focus (computed style of `document.activeElement`). */
export interface FocusRing {
  /** e.g. `BUTTON "Publish"`, `INPUT#name`. */
  element: string;
  /** `:focus-visible` matches (the browser decided this focus came from the keyboard). */
  focusVisible: boolean;
  outlineStyle: string;
  /** CSS pixels. */
  outlineWidth: number;
  outlineColor: string;
}

/** The focus indicator of the element that has the focus now. */
export function focusRing(page: Page): Promise<FocusRing> {
  return page.evaluate(() => {
    const el = document.activeElement ?? document.body;
    const cs = getComputedStyle(el);
    const text = (el.textContent ?? "").trim().slice(0, 30);
    return {
      element: `${el.tagName}${el.id ? `#${el.id}` : ""}${text && el.tagName === "BUTTON" ? ` "${text}"` : ""}`,
      focusVisible: el.matches(":focus-visible"),
      outlineStyle: cs.outlineStyle,
      outlineWidth: parseFloat(cs.outlineWidth) || 0,
      outlineColor: cs.outlineColor,
    };
  });
}

/**
 * Presses Tab (at most `maxTabs` times) until `target` has the focus, then checks that the focus is visible
 * (WCAG 2.2 SC 2.4.7: `:focus-visible` matches and an outline of at least 2 CSS px is drawn). Returns how many
 * Tabs it took; throws, listing every element the focus visited, when `target` was not reached or shows no ring.
 * `target` is a Playwright locator (e.g. `page.getByRole("button", { name: /publish/i })`).
 */
export async function tabTo(page: Page, target: Locator, what: string, maxTabs = 40): Promise<number> {
  // one element, resolved before the first Tab (a missing or ambiguous locator fails here, saying so)
  const element = await target.elementHandle({ timeout: 10_000 });
  const visited: string[] = [];
  for (let tabs = 1; tabs <= maxTabs; tabs++) {
    await page.keyboard.press("Tab");
    const ring = await focusRing(page);
    visited.push(ring.element);
    if (await element.evaluate((el) => el === document.activeElement)) {
      if (!ring.focusVisible || ring.outlineStyle === "none" || ring.outlineWidth < 2) {
        throw new Error(`${what}: reached by Tab but its focus is not visible: ${JSON.stringify(ring)}`);
      }
      return tabs;
    }
  }
  throw new Error(`${what}: not reached within ${maxTabs} Tab presses; the focus went ${visited.join(" → ")}`);
}
