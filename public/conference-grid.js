// @ts-check
// The Conference page's adaptive video grid: how many columns and rows make the tiles as large as possible in the
// area they have (for the tiles' video aspect, 16:9 or 4:3), tiles filling their cells, and pages of at most 16 tiles
// with previous/next buttons. The same layout serves the screen-share stage.

import { el } from "/common.js";

/** Tiles per page of the grid. */
export const PAGE_SIZE = 16;

/**
 * The columns and rows for `count` tiles in a `width` × `height` area (CSS px) with `gap` px between tiles that make
 * the video shown in each tile (fitted inside its cell at `aspect` = width / height) as large as possible. The cell of
 * a tile is the area divided evenly: `cellWidth` × `cellHeight` (the tiles fill it; the video is letterboxed in it).
 * @param {number} count tiles (≥ 1)
 * @param {number} width px
 * @param {number} height px
 * @param {number} aspect of the videos, e.g. 16 / 9
 * @param {number} gap px between cells
 * @returns {{ cols: number, rows: number, cellWidth: number, cellHeight: number }}
 */
export function bestGrid(count, width, height, aspect, gap) {
  const n = Math.max(1, count);
  let best = { cols: 1, rows: n, cellWidth: width, cellHeight: height, area: -1 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    if (cols > 1 && (cols - 1) * rows >= n) continue; // a column would be empty
    const cellWidth = Math.max(0, (width - (cols - 1) * gap) / cols);
    const cellHeight = Math.max(0, (height - (rows - 1) * gap) / rows);
    const videoWidth = Math.min(cellWidth, cellHeight * aspect);
    const area = videoWidth * (videoWidth / aspect);
    if (area > best.area) best = { cols, rows, cellWidth, cellHeight, area };
  }
  const { cols, rows, cellWidth, cellHeight } = best;
  return { cols, rows, cellWidth: Math.floor(cellWidth), cellHeight: Math.floor(cellHeight) };
}

/**
 * The aspect to lay tiles out for: 4:3 when most of the tiles' videos that show something are closer to 4:3 than to
 * 16:9 (Chromium's fake camera, many webcams at 640×480), else 16:9.
 * @param {HTMLElement[]} tiles
 */
export function tileAspect(tiles) {
  let narrow = 0;
  let wide = 0;
  for (const tile of tiles) {
    const video = tile.querySelector("video");
    if (!video || !video.videoWidth || !video.videoHeight) continue;
    const a = video.videoWidth / video.videoHeight;
    if (Math.abs(a - 4 / 3) < Math.abs(a - 16 / 9)) narrow++;
    else wide++;
  }
  return narrow > wide ? 4 / 3 : 16 / 9;
}

/**
 * A grid of tiles in `container` (its size is watched with a ResizeObserver,
 * https://drafts.csswg.org/resize-observer/): `show(tiles)` lays out the current page of `tiles` in the columns and
 * rows of {@link bestGrid}, setting the container's `--cell-w` / `--cell-h` (px) for the CSS. With `pager`, more than
 * {@link PAGE_SIZE} tiles are split into pages with previous/next buttons (the pager element is the caller's to
 * place; it is hidden while there is one page). Videos that resize relayout the grid (their aspect may change).
 * @param {HTMLElement} container
 * @param {{ pager?: boolean, label?: string }} [options] label: what the pages are of ("videos")
 */
export function createGrid(container, { pager = false, label = "videos" } = {}) {
  /** @type {HTMLElement[]} */
  let all = [];
  let page = 0;
  const prev = el("button", { type: "button", textContent: "‹ Previous" });
  const next = el("button", { type: "button", textContent: "Next ›" });
  prev.setAttribute("aria-label", `Previous page of ${label}`);
  next.setAttribute("aria-label", `Next page of ${label}`);
  const position = el("output", { className: "pager-position" });
  position.setAttribute("aria-live", "polite");
  const pagerElement = el("nav", { className: "pager", hidden: true }, prev, position, next);
  pagerElement.setAttribute("aria-label", `Pages of ${label}`);

  const pages = () => (pager ? Math.max(1, Math.ceil(all.length / PAGE_SIZE)) : 1);

  function layout() {
    const count = pages();
    page = Math.min(page, count - 1);
    const visible = pager ? all.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE) : all;
    const gap = parseFloat(getComputedStyle(container).columnGap) || 0;
    const { cols, cellWidth, cellHeight } = bestGrid(visible.length, container.clientWidth, container.clientHeight, tileAspect(visible), gap);
    container.style.setProperty("--cell-w", `${cellWidth}px`);
    container.style.setProperty("--cell-h", `${cellHeight}px`);
    container.dataset.cols = String(cols);
    if (container.children.length !== visible.length || visible.some((t, i) => container.children[i] !== t)) {
      container.replaceChildren(...visible);
      // a <video> taken out of the document is paused (HTML "media element removed from a document"): resume the
      // ones that are back on the page
      for (const video of container.querySelectorAll("video")) if (video.paused && video.srcObject) void video.play().catch(() => undefined);
    }
    pagerElement.hidden = count <= 1;
    position.textContent = `Page ${page + 1} of ${count}`;
    prev.disabled = page === 0;
    next.disabled = page >= count - 1;
  }

  prev.addEventListener("click", () => {
    page = Math.max(0, page - 1);
    layout();
  });
  next.addEventListener("click", () => {
    page = Math.min(pages() - 1, page + 1);
    layout();
  });
  new ResizeObserver(() => layout()).observe(container);
  // a video's first frame (or a new resolution) may change the aspect to lay out for
  container.addEventListener("resize", () => layout(), { capture: true });
  container.addEventListener("loadedmetadata", () => layout(), { capture: true });

  return {
    pager: pagerElement,
    /**
     * Shows `tiles` (in this order), keeping the page unless it no longer exists.
     * @param {HTMLElement[]} tiles
     */
    show(tiles) {
      all = tiles;
      layout();
    },
    /** The current page (0-based) and the number of pages. */
    position: () => ({ page, pages: pages() }),
  };
}
