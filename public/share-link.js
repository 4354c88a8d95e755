// @ts-check
// Links to share from the demo pages (Streamer: the Player of the stream; Player: this stream; Two Way: the invite for
// the other side): the link itself, shown in full so it can be selected, and a Copy button that puts it on the
// clipboard (https://w3c.github.io/clipboard-apis/#dom-clipboard-writetext; pages on https:// or localhost only), or
// selects it for Ctrl+C where the clipboard is refused.

import { el, serverUrl } from "/common.js";

/**
 * An absolute link to one of our pages on this origin: `path` with `query` (empty values left out).
 * @param {string} path "/player", "/two-way"
 * @param {Record<string, string>} query
 */
export function pageLink(path, query) {
  const link = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query)) if (value) link.searchParams.set(key, value);
  return link.href;
}

/**
 * `{server: url}` when `url` is not this page's own server (so the shared page connects to the same one), else {}.
 * @param {string} url a ws(s):// address typed on the page
 * @returns {Record<string, string>}
 */
export const serverQuery = (url) => (url && url !== serverUrl() ? { server: url } : {});

/**
 * Puts `text` on the clipboard; where the clipboard is refused (no permission, plain http) calls `select()`, which
 * selects the text on the page so Ctrl+C or the context menu copies it.
 * @param {string} text
 * @param {() => void} select
 * @returns {Promise<boolean>} whether the text is on the clipboard
 */
export async function copyText(text, select) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    select();
    return false;
  }
}

/**
 * A share link: `element` (a <p>: `text`, the link, a Copy button named `copyLabel` and a status saying "Copied.");
 * `set(href)` shows `href` (null hides the whole line).
 * @param {object} options
 * @param {string} options.id the <a>'s id
 * @param {string} options.text what the link is for, shown before it ("Watch link:")
 * @param {string} options.copyLabel the Copy button's text ("Copy link")
 */
export function createShareLink({ id, text, copyLabel }) {
  const link = el("a", { id });
  const copy = el("button", { type: "button", className: "copy-link", textContent: copyLabel });
  const done = el("output", { className: "copy-done" });
  const element = el("p", { className: "share-link", hidden: true }, el("span", { className: "share-text" }, text), " ", link, " ", copy, " ", done);
  copy.addEventListener("click", async () => {
    const copied = await copyText(link.href, () => getSelection()?.selectAllChildren(link));
    done.textContent = copied ? "Copied." : "Selected: press Ctrl+C to copy.";
  });
  return {
    element,
    /** @param {string | null} href */
    set(href) {
      element.hidden = !href;
      if (!href || href === link.href) return;
      link.href = href;
      link.textContent = href;
      done.textContent = "";
    },
  };
}
