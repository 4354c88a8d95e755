// Player: play a stream by name (our SDK). URL parameters prefill the form: ?name=NAME&server=ws://…

import { createSession, SESSION_STATUS, STREAM_STATUS } from "/sdk/wcs-sdk.mjs";
import {
  createErrorBox,
  createLog,
  describeSessionLoss,
  describeStreamFailure,
  isLive,
  pagePlatform,
  resolutionText,
  serverUrl,
  showStatus,
  showStreamStatus,
  streamState,
  videoState,
  watchStream,
} from "/common.js";

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("play-form"),
  url: $("url"),
  name: $("name"),
  play: $("play"),
  sessionStatus: $("session-status"),
  playStatus: $("play-status"),
  resolution: $("resolution"),
  error: $("error"),
  display: $("display"),
  caption: $("caption"),
  unmute: $("unmute"),
  fullscreen: $("fullscreen"),
};

const log = createLog("player");
const errors = createErrorBox(ui.error, log);
/** @type {import("/sdk/wcs-sdk.mjs").Session | null} */
let session = null;
/** @type {import("/sdk/wcs-sdk.mjs").Stream | null} */
let player = null;
/** Connecting before playing. */
let busy = false;
const frameMemo = new WeakMap();
/** Sessions this page replaced (their DISCONNECTED is not an error). */
const replaced = new WeakSet();

const params = new URLSearchParams(location.search);
ui.url.value = params.get("server") ?? serverUrl();
ui.name.value = params.get("name") ?? "";

// ---- session ---------------------------------------------------------------------------------------------------

/** The session to `url`, (re)connecting when there is none, it is down, or it goes to another server. */
async function ensureSession(url) {
  const usable =
    session &&
    session.getServerUrl() === url &&
    session.status() !== SESSION_STATUS.DISCONNECTED &&
    session.status() !== SESSION_STATUS.FAILED;
  if (!usable) {
    if (session) {
      replaced.add(session);
      session.disconnect();
    }
    const s = createSession({ urlServer: url, platform: pagePlatform, timeout: 15_000 });
    session = s;
    let wasEstablished = false;
    log.record(`connect ${url}`);
    for (const status of [SESSION_STATUS.CONNECTED, SESSION_STATUS.ESTABLISHED, SESSION_STATUS.DISCONNECTED, SESSION_STATUS.FAILED]) {
      s.on(status, () => {
        if (s !== session) return;
        log.record(`session ${status}`);
        if (status === SESSION_STATUS.ESTABLISHED) wasEstablished = true;
        if ((status === SESSION_STATUS.DISCONNECTED || status === SESSION_STATUS.FAILED) && !replaced.has(s)) {
          errors.show(describeSessionLoss(status, url, wasEstablished));
        }
        render();
      });
    }
    render();
  }
  await session.established(15_000);
  return session;
}

// ---- playback --------------------------------------------------------------------------------------------------

async function play() {
  const url = ui.url.value.trim();
  const name = ui.name.value.trim();
  if (!url || !name) {
    errors.show(!url ? "Enter the server's address (ws://… or wss://…)." : "Enter the name of the stream to play.");
    (!url ? ui.url : ui.name).focus();
    return;
  }
  errors.show("");
  busy = true;
  render();
  try {
    const s = await ensureSession(url);
    player = watchStream(s.createStream({ name, display: ui.display }), log, onStatus).play();
    const link = new URL(location.href);
    link.searchParams.set("name", name);
    history.replaceState(null, "", link);
  } catch (e) {
    if (!errors.text()) errors.show(e instanceof Error ? e.message : String(e));
  } finally {
    busy = false;
    render();
  }
}

function onStatus(stream) {
  if (stream !== player) return;
  const lostWithSession = session?.status() !== SESSION_STATUS.ESTABLISHED; // the session's own message says it
  if (stream.status() === STREAM_STATUS.FAILED && !lostWithSession) errors.show(describeStreamFailure(stream));
  render();
}

function render() {
  showStatus(ui.sessionStatus, session?.status() ?? "DISCONNECTED");
  showStreamStatus(ui.playStatus, player);
  const playing = isLive(player);
  const video = playing ? player.getVideoElement() : undefined;
  ui.play.textContent = playing ? "Stop" : busy ? "Connecting…" : "Play";
  ui.play.className = playing ? "danger" : "primary";
  ui.play.disabled = busy;
  ui.url.disabled = busy || playing;
  ui.name.disabled = busy || playing;
  const resolution = resolutionText(video);
  showStatus(ui.resolution, resolution || "—");
  ui.caption.textContent = playing ? player.name() : "";
  ui.unmute.hidden = !(video && video.muted);
  ui.fullscreen.disabled = !video;
}

// ---- wiring ----------------------------------------------------------------------------------------------------

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (busy) return;
  if (isLive(player)) {
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
    if (player && !frameMemo.has(player)) frameMemo.set(player, {});
    const video = player?.getVideoElement();
    return {
      session: session?.status() ?? "DISCONNECTED",
      play: streamState(player),
      error: errors.text(),
      resolution: ui.resolution.textContent,
      muted: video?.muted ?? null,
      video: await videoState(player, player ? frameMemo.get(player) : {}),
      history: [...log.lines],
    };
  },
};
