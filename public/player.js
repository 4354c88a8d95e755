// @ts-check
// Player: play a stream by name (our SDK). URL parameters prefill the form: ?name=NAME&server=ws://…; ?token=… is the
// access token, ?relay=1 plays through the TURN server only. A name that is not being published yet ("Stream not
// found") is waited for: the page asks again every few seconds until it plays, or the person cancels.

import { createSession, SESSION_STATUS, STREAM_STATUS, STREAM_STATUS_INFO } from "/sdk/wcs-sdk.mjs";
import { createErrorBox, createLog, readFields } from "/common.js";
import { params, prefillServer, rememberInUrl } from "/common.js";
import { closeQuietly, describeSessionLoss, iceOptions, pagePlatform, sessionDown, sessionStatus, tokenOptions, watchSession } from "/common.js";
import { describeStreamFailure, failedOnItsOwn, isLive, watchStream } from "/common.js";
import { resolutionText, showStatus, showStreamStatus, showToggle } from "/common.js";
import { frameMemo, routeState, streamState, videoState } from "/common.js";
import { createMuteBadge, mutedText, showMuteBadge } from "/common.js";
import { createReceivingFigures } from "/publish-controls.js";
import { createShareLink, pageLink, serverQuery } from "/share-link.js";

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
  waiting: /** @type {HTMLDivElement} */ ($("waiting")),
  waitingText: /** @type {HTMLSpanElement} */ ($("waiting-text")),
  cancelWaiting: /** @type {HTMLButtonElement} */ ($("cancel-waiting")),
  receiving: /** @type {HTMLParagraphElement} */ ($("receiving")),
  share: /** @type {HTMLElement} */ ($("share")),
};

/** How often a name that is not being published is asked for again, ms. */
const RETRY_MS = 2500;

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
/** The name the person asked to play, until they stop or cancel (a "Stream not found" for it starts waiting). @type {string | null} */
let wanted = null;
/** The name being waited for (its last play ended "Stream not found"), null when not waiting. @type {string | null} */
let waitingFor = null;
/** The next try of `waitingFor`. @type {ReturnType<typeof setTimeout> | undefined} */
let retryTimer;

/** "Receiving": bitrate, resolution and frame rate of the played video. */
createReceivingFigures(ui.receiving, () => player);
/** The link to this stream on this page. */
const shareLink = createShareLink({ id: "share-link", text: "Link to this stream:", copyLabel: "Copy link" });
ui.share.append(shareLink.element);

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
    const s = createSession({ urlServer: url, platform: pagePlatform, timeout: 15_000, ...tokenOptions(), ...iceOptions() });
    session = s;
    log.record(`connect ${url}`);
    /** A lost session ends the waiting too. @type {(status: "DISCONNECTED" | "FAILED", established: boolean) => void} */
    const onLost = (status, established) => {
      stopWaiting();
      errors.show(describeSessionLoss(status, url, established, s));
    };
    watchSession(s, { url, log, errors, render, isCurrent: (x) => x === session, onLost });
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
  stopWaiting();
  ui.waitingText.textContent = "";
  busy = true;
  render();
  try {
    const s = await ensureSession(url);
    wanted = name;
    startPlaying(s, name);
    rememberInUrl({ name });
  } catch (e) {
    errors.report(e);
  } finally {
    busy = false;
    render();
  }
}

/**
 * Plays `name` on `s` (a new Stream each try).
 * @param {Session} s
 * @param {string} name
 */
function startPlaying(s, name) {
  player = watchStream(s.createStream({ name, display: ui.display }), log, onStatus).play();
}

/** @param {Stream} stream */
function onStatus(stream) {
  if (stream !== player) return;
  if (stream.status() === STREAM_STATUS.PLAYING && waitingFor !== null) {
    log.record(`${waitingFor} is published now`);
    waitingFor = null;
    ui.waitingText.textContent = "";
  }
  if (failedOnItsOwn(stream, session)) {
    if (stream.getInfo() === STREAM_STATUS_INFO.STREAM_NOT_FOUND) {
      if (wanted === stream.name()) waitFor(stream.name()); // else: the answer to a try the person cancelled
    } else {
      stopWaiting();
      errors.show(describeStreamFailure(stream));
    }
  }
  render();
}

// ---- waiting for a name to be published ------------------------------------------------------------------------

/**
 * Asks for `name` again in {@link RETRY_MS} (the server answers "Stream not found" until someone publishes it; WCS
 * has no notification for a name that appears), showing "Waiting for “NAME” to be published…".
 * @param {string} name
 */
function waitFor(name) {
  if (waitingFor !== name) log.record(`waiting for ${name}`);
  waitingFor = name;
  ui.waitingText.textContent = `Waiting for “${name}” to be published… It plays as soon as it is.`;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => {
    retryTimer = undefined;
    if (waitingFor !== name) return;
    if (!session || session.status() !== SESSION_STATUS.ESTABLISHED) return stopWaiting();
    startPlaying(session, name);
    render();
  }, RETRY_MS);
}

/** Ends waiting (no further tries); the try under way, if any, is stopped. */
function stopWaiting() {
  wanted = null;
  clearTimeout(retryTimer);
  retryTimer = undefined;
  if (waitingFor === null) return;
  log.record(`stopped waiting for ${waitingFor}`);
  ui.waitingText.textContent = `Stopped waiting for “${waitingFor}”.`;
  waitingFor = null;
  if (player && isLive(player)) player.stop();
}

function render() {
  showStatus(ui.sessionStatus, sessionStatus(session));
  // while waiting, each try's PENDING would replace "FAILED (Stream not found)" for a moment: keep the last answer
  if (!(waitingFor && player?.status() === STREAM_STATUS.PENDING)) showStreamStatus(ui.playStatus, player);
  const waiting = waitingFor !== null;
  const playing = isLive(player);
  const video = player && playing ? player.getVideoElement() : undefined;
  showToggle(ui.play, playing || waiting, busy ? "Connecting…" : "Play");
  ui.play.disabled = busy;
  ui.url.disabled = busy || playing || waiting;
  ui.name.disabled = busy || playing || waiting;
  ui.waiting.classList.toggle("active", waiting);
  ui.cancelWaiting.hidden = !waiting;
  const name = ui.name.value.trim();
  shareLink.set(name ? pageLink("/player", { name, ...serverQuery(ui.url.value.trim()) }) : null);
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
  if (waitingFor !== null) stopWaiting();
  else if (player && isLive(player)) {
    wanted = null;
    player.stop();
  }
  else return void play();
  render();
});
ui.cancelWaiting.addEventListener("click", () => {
  stopWaiting();
  render();
  ui.play.focus(); // the Cancel button is hidden now
});
for (const input of [ui.url, ui.name]) input.addEventListener("input", render);
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
      waitingFor,
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
