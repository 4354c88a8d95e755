// @ts-check
// Player: play a stream by name (our SDK). URL parameters prefill the form: ?name=NAME&server=ws://…; ?token=… is the
// access token, ?relay=1 plays through the TURN server only.

import { createSession } from "/sdk/wcs-sdk.mjs";
import { createErrorBox, createLog, readFields } from "/common.js";
import { params, prefillServer, rememberInUrl } from "/common.js";
import { closeQuietly, iceOptions, pagePlatform, sessionDown, sessionStatus, tokenOptions, watchSession } from "/common.js";
import { describeStreamFailure, failedOnItsOwn, isLive, watchStream } from "/common.js";
import { resolutionText, showStatus, showStreamStatus, showToggle } from "/common.js";
import { frameMemo, routeState, streamState, videoState } from "/common.js";
import { createMuteBadge, mutedText, showMuteBadge } from "/common.js";

/** @import { Session, Stream } from "/sdk/wcs-sdk.mjs" */

/** @param {string} id */
const $ = (id) => document.getElementById(id);
// the elements of player.html (each one is there)
const ui = {
  form: /** @type {HTMLFormElement} */ ($("play-form")),
  url: /** @type {HTMLInputElement} */ ($("url")),
  name: /** @type {HTMLInputElement} */ ($("name")),
  play: /** @type {HTMLButtonElement} */ ($("play")),
  sessionStatus: /** @type {HTMLOutputElement} */ ($("session-status")),
  playStatus: /** @type {HTMLOutputElement} */ ($("play-status")),
  resolution: /** @type {HTMLOutputElement} */ ($("resolution")),
  error: /** @type {HTMLParagraphElement} */ ($("error")),
  display: /** @type {HTMLDivElement} */ ($("display")),
  caption: /** @type {HTMLSpanElement} */ ($("caption")),
  unmute: /** @type {HTMLButtonElement} */ ($("unmute")),
  fullscreen: /** @type {HTMLButtonElement} */ ($("fullscreen")),
};

/** What the stream's publisher muted (its mute events), next to the stream's name. */
const muteBadge = createMuteBadge();
ui.caption.after(muteBadge);

const log = createLog("player");
const errors = createErrorBox(ui.error, log);
/** @type {Session | null} */
let session = null;
/** @type {Stream | null} */
let player = null;
/** Connecting before playing. */
let busy = false;

prefillServer(ui.url);
ui.name.value = params.get("name") ?? "";

// ---- session ---------------------------------------------------------------------------------------------------

/**
 * The session to `url`, (re)connecting when there is none, it is down, or it goes to another server.
 * @param {string} url
 */
async function ensureSession(url) {
  if (!session || sessionDown(session) || session.getServerUrl() !== url) {
    closeQuietly(session);
    session = createSession({ urlServer: url, platform: pagePlatform, timeout: 15_000, ...tokenOptions(), ...iceOptions() });
    log.record(`connect ${url}`);
    watchSession(session, { url, log, errors, render, isCurrent: (s) => s === session });
    render();
  }
  await session.established(15_000);
  return session;
}

// ---- playback --------------------------------------------------------------------------------------------------

async function play() {
  const fields = readFields(errors, [ui.url, "Enter the server's address (ws://… or wss://…)."], [ui.name, "Enter the name of the stream to play."]);
  if (!fields) return;
  const [url, name] = fields;
  errors.show("");
  busy = true;
  render();
  try {
    const s = await ensureSession(url);
    player = watchStream(s.createStream({ name, display: ui.display }), log, onStatus).play();
    rememberInUrl({ name });
  } catch (e) {
    errors.report(e);
  } finally {
    busy = false;
    render();
  }
}

/** @param {Stream} stream */
function onStatus(stream) {
  if (stream !== player) return;
  if (failedOnItsOwn(stream, session)) errors.show(describeStreamFailure(stream));
  render();
}

function render() {
  showStatus(ui.sessionStatus, sessionStatus(session));
  showStreamStatus(ui.playStatus, player);
  const playing = isLive(player);
  const video = player && playing ? player.getVideoElement() : undefined;
  showToggle(ui.play, playing, busy ? "Connecting…" : "Play");
  ui.play.disabled = busy;
  ui.url.disabled = busy || playing;
  ui.name.disabled = busy || playing;
  const resolution = resolutionText(video);
  showStatus(ui.resolution, resolution || "—");
  ui.caption.textContent = player && playing ? player.name() : "";
  showMuteBadge(muteBadge, playing ? player : null);
  ui.unmute.hidden = !(video && video.muted);
  ui.fullscreen.disabled = !video;
}

// ---- wiring ----------------------------------------------------------------------------------------------------

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (busy) return;
  if (player && isLive(player)) {
    player.stop();
    render();
  } else play();
});
ui.unmute.addEventListener("click", () => {
  const video = player?.getVideoElement();
  if (!video) return;
  video.muted = false;
  video.play().catch(() => undefined);
});
ui.fullscreen.addEventListener("click", () => {
  player?.getVideoElement()?.requestFullscreen?.().catch((e) => errors.show(`Full screen refused: ${e.message}`));
});
// 'resize' and 'volumechange' of the SDK's <video> do not bubble: listen in the capture phase
ui.display.addEventListener("resize", render, true);
ui.display.addEventListener("volumechange", render, true);
addEventListener("pagehide", () => session?.disconnect());
render();

// ---- for tests and the curious: `await player.state()` in the console -------------------------------------------

window.player = {
  async state() {
    const video = player?.getVideoElement();
    return {
      session: sessionStatus(session),
      play: streamState(player),
      error: errors.text(),
      resolution: ui.resolution.textContent,
      muted: video?.muted ?? null,
      publisherMuted: mutedText(player),
      video: await videoState(player, frameMemo(player)),
      route: await routeState(player),
      history: [...log.lines],
    };
  },
};
