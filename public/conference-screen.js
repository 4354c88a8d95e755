// @ts-check
// Screen sharing on the Conference page: the screen (or window, or tab) the person picks in the browser's
// getDisplayMedia() dialog (https://w3c.github.io/mediacapture-screen-share/) is published as a second stream of the
// room, `room.publish({name: "screen", stream})`, so its name ends with "-screen" (the others show it large). It stops
// on the toggle or when the capture ends (the browser's own "Stop sharing" button ends the track).

import { isLive } from "/common.js";

/** @import { Room, Stream } from "/sdk/wcs-sdk.mjs" */

/** Suffix of a screen share's stream name (`${room}-${login}-${4 chars}-screen`). */
export const SCREEN_SUFFIX = "-screen";

/**
 * true for the name of a screen share stream.
 * @param {string} name
 */
export const isScreenName = (name) => name.endsWith(SCREEN_SUFFIX);

/**
 * A sentence for a getDisplayMedia failure ("" when the person just cancelled the dialog).
 * @param {unknown} e
 */
function describeShareError(e) {
  const name = e instanceof Error ? e.name : "";
  if (name === "NotAllowedError" || name === "AbortError") return "";
  if (name === "NotSupportedError" || name === "TypeError") return "This browser cannot share the screen.";
  return `Could not share the screen: ${e instanceof Error ? e.message : String(e)}`;
}

/**
 * @param {object} options
 * @param {(line: string) => void} options.log
 * @param {(stream: Stream) => Stream} options.watch follows the publisher's statuses (the page's watchStream)
 * @param {() => void} options.onChange after it starts or stops
 * @param {(message: string) => void} options.onError
 */
export function createScreenShare({ log, watch, onChange, onError }) {
  /** @type {Stream | null} */
  let publisher = null;
  /** @type {MediaStream | null} */
  let capture = null;
  let starting = false;

  function stop() {
    const p = publisher;
    const c = capture;
    publisher = null;
    capture = null;
    p?.stop();
    for (const t of c?.getTracks() ?? []) t.stop();
    if (p || c) log("screen share stopped");
    onChange();
  }

  return {
    /** The screen share's publisher, while sharing. */
    publisher: () => publisher,
    /** true while sharing (or asking the browser for the screen). */
    active: () => starting || publisher !== null,
    stop,
    /**
     * Asks for a screen and publishes it in `room`, its preview in `display`.
     * @param {Room} room
     * @param {HTMLElement} display
     */
    async start(room, display) {
      if (starting || publisher) return;
      starting = true;
      onChange();
      try {
        const media = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
        starting = false;
        capture = media;
        const track = media.getVideoTracks()[0];
        track?.addEventListener("ended", () => {
          if (capture === media) stop();
        });
        publisher = watch(room.publish({ name: "screen", stream: media, display }));
        log(`screen share ${publisher.name()} (${track?.label ?? "no track"})`);
      } catch (e) {
        starting = false;
        const message = describeShareError(e);
        log(`screen share refused: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        if (message) onError(message);
        stop();
        return;
      }
      onChange();
    },
    /** Called after a status of the publisher: a share that ended on its own is cleaned up. */
    check() {
      if (publisher && !isLive(publisher) && !publisher.isRestoring()) stop();
    },
  };
}
