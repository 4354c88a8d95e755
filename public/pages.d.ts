// Type declarations for the demo pages' scripts (type-checked by public/tsconfig.json; not served, see .assetsignore).

/** What each page puts on `window` for tests and the curious: `await streamer.state()` in the console. */
interface PageDebug {
  /** The page's state: statuses, errors, video sizes and frame counters, its debug log. */
  state(): Promise<Record<string, unknown>>;
}

interface Window {
  /** Streamer (index.html, streamer.js). */
  streamer?: PageDebug;
  /** Two Way Streaming (two-way.html, two-way.js). */
  twoWay?: PageDebug;
  /** Player (player.html, player.js). */
  player?: PageDebug;
  /** Conference (conference.html, conference.js). */
  conference?: PageDebug;
}
