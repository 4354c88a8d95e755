// @ts-check
// A video tile of the Conference page: a <figure> with the stream's display (the SDK puts its <video> there), an
// avatar with the person's initials shown while there is no video (no camera, camera muted, not playing yet), the
// name, what the person muted, and a full-screen button (Fullscreen API, https://fullscreen.spec.whatwg.org/;
// Escape leaves full screen).

import { createMuteBadge, el } from "/common.js";

/**
 * Up to two initials of a name ("alice" → "A", "Anna Berg" → "AB").
 * @param {string} name
 */
export function initials(name) {
  const words = name.trim().split(/[\s._-]+/).filter(Boolean);
  return words.slice(0, 2).map((w) => w[0]?.toUpperCase() ?? "").join("") || "?";
}

/** The full-screen button's icon: four corners (an inline SVG, so no icon font is needed). */
function fullscreenIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M1 5V1h4M11 1h4v4M15 11v4h-4M5 15H1v-4");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "2");
  svg.append(path);
  return svg;
}

/**
 * A tile: `element` (the <figure>), `display` (give it to the SDK), `status` (an <output> for stream statuses),
 * `extras` (a place in the caption for more controls), and setters for what it shows.
 * @param {object} options
 * @param {string} options.name the person's name shown on the tile
 * @param {"camera" | "screen"} options.kind
 * @param {string} [options.displayId] the display element's id
 */
export function createTile({ name, kind, displayId }) {
  const display = el("div", { className: "display" });
  if (displayId) display.id = displayId;
  const avatar = el("div", { className: "avatar" }, el("span", { className: "avatar-initials", textContent: initials(name) }));
  avatar.setAttribute("aria-hidden", "true");
  const who = el("span", { className: "who", textContent: name });
  const badge = createMuteBadge();
  const status = el("output", { className: "tile-status" });
  const extras = el("span", { className: "tile-extras" });
  const fullscreen = el("button", { type: "button", className: "tile-fullscreen" }, fullscreenIcon());
  const figure = el("figure", { className: `tile ${kind}` }, display, avatar,
    el("figcaption", {}, who, badge, status, extras, fullscreen));
  figure.dataset.video = "off";
  const label = () => who.textContent ?? "";
  const renderFullscreen = () => {
    const on = document.fullscreenElement === figure;
    fullscreen.setAttribute("aria-label", on ? `Exit full screen (${label()})` : `Full screen: ${label()}`);
    fullscreen.setAttribute("aria-pressed", String(on));
  };
  fullscreen.addEventListener("click", () => {
    if (document.fullscreenElement === figure) void document.exitFullscreen().catch(() => undefined);
    else void figure.requestFullscreen?.().catch(() => undefined); // refused (no user activation, a background tab)
  });
  document.addEventListener("fullscreenchange", renderFullscreen);
  renderFullscreen();

  return {
    element: figure,
    display,
    status,
    extras,
    /**
     * @param {string} text the name shown ("You (alice)")
     * @param {string} [person] whose initials the avatar shows (default: `text`)
     */
    setName(text, person = text) {
      who.textContent = text;
      /** @type {HTMLElement} */ (avatar.firstElementChild).textContent = initials(person);
      renderFullscreen();
    },
    /**
     * Shows the video (true) or the avatar (false).
     * @param {boolean} on
     */
    setVideo(on) {
      figure.dataset.video = on ? "on" : "off";
    },
    /**
     * What the person muted ("" for nothing): a badge on the tile.
     * @param {string} text
     */
    setMuted(text) {
      badge.textContent = text;
      badge.hidden = !text;
    },
    /**
     * Marks the tile as the active speaker's.
     * @param {boolean} on
     */
    setSpeaking(on) {
      if (on) figure.dataset.speaking = "true";
      else delete figure.dataset.speaking;
    },
    /** Leaves full screen if this tile has it (the tile is going away). */
    dispose() {
      if (document.fullscreenElement === figure) void document.exitFullscreen().catch(() => undefined);
      document.removeEventListener("fullscreenchange", renderFullscreen);
    },
  };
}

/** @typedef {ReturnType<typeof createTile>} Tile */
