// Streamer: publish the camera under a name and play it back from the server as a preview (our SDK).

import { createSession, SESSION_STATUS, STREAM_STATUS } from "/sdk/wcs-sdk.mjs";
import {
  createErrorBox,
  createLog,
  describeSessionLoss,
  describeStreamFailure,
  isLive,
  pagePlatform,
  random4,
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
  form: $("controls"),
  name: $("name"),
  publish: $("publish"),
  stop: $("stop"),
  stopPreview: $("stop-preview"),
  sessionStatus: $("session-status"),
  publishStatus: $("publish-status"),
  playStatus: $("play-status"),
  error: $("error"),
  local: $("local"),
  preview: $("preview"),
  resolution: $("preview-resolution"),
  playerLink: $("player-link"),
};

const log = createLog("streamer");
const errors = createErrorBox(ui.error, log);
const url = serverUrl();
/** @type {import("/sdk/wcs-sdk.mjs").Session | null} */
let session = null;
/** @type {import("/sdk/wcs-sdk.mjs").Stream | null} */
let publisher = null;
/** @type {import("/sdk/wcs-sdk.mjs").Stream | null} */
let preview = null;
/** Connecting or starting to publish. */
let busy = false;
const frameMemo = new WeakMap();

ui.name.value = new URLSearchParams(location.search).get("name") ?? `stream-${random4()}`;

// ---- session ---------------------------------------------------------------------------------------------------

function connect() {
  const s = createSession({ urlServer: url, platform: pagePlatform });
  session = s;
  let established = false;
  for (const status of [SESSION_STATUS.CONNECTED, SESSION_STATUS.ESTABLISHED, SESSION_STATUS.DISCONNECTED, SESSION_STATUS.FAILED]) {
    s.on(status, () => {
      if (s !== session) return;
      log.record(`session ${status}`);
      if (status === SESSION_STATUS.ESTABLISHED) established = true;
      if (status === SESSION_STATUS.DISCONNECTED || status === SESSION_STATUS.FAILED) {
        errors.show(describeSessionLoss(status, url, established));
      }
      render();
    });
  }
  render();
  return s;
}

/** The session, reconnecting first if it is down. */
async function ensureSession() {
  const down = !session || session.status() === SESSION_STATUS.DISCONNECTED || session.status() === SESSION_STATUS.FAILED;
  const s = down ? connect() : session;
  await s.established(15_000);
  return s;
}

// ---- publish + preview -----------------------------------------------------------------------------------------

async function publish() {
  const name = ui.name.value.trim();
  if (!name) {
    errors.show("Enter a stream name.");
    ui.name.focus();
    return;
  }
  errors.show("");
  busy = true;
  render();
  try {
    const s = await ensureSession();
    preview = null;
    log.record(`publish ${name}`);
    publisher = watchStream(s.createStream({ name, display: ui.local }), log, onPublishStatus).publish();
  } catch (e) {
    if (!errors.text()) errors.show(e instanceof Error ? e.message : String(e));
  } finally {
    busy = false;
    render();
  }
}

function onPublishStatus(stream) {
  if (stream !== publisher) return;
  if (stream.status() === STREAM_STATUS.PUBLISHING && !preview) startPreview();
  if (!isLive(stream)) {
    preview?.stop();
    if (stream.status() === STREAM_STATUS.FAILED) errors.show(describeStreamFailure(stream));
  }
  render();
}

function startPreview() {
  if (!session || publisher?.status() !== STREAM_STATUS.PUBLISHING) return;
  const stream = session.createStream({ name: publisher.name(), display: ui.preview });
  preview = watchStream(stream, log, onPreviewStatus).play();
  // our own microphone, played back: keep it silent
  const video = preview.getVideoElement();
  if (video) video.muted = true;
  render();
}

function onPreviewStatus(stream) {
  if (stream !== preview) return;
  // the preview ends with "Stopped by publisher stop" when we stop publishing: nothing to report then
  if (stream.status() === STREAM_STATUS.FAILED && isLive(publisher)) errors.show(`Preview: ${describeStreamFailure(stream)}`);
  render();
}

function render() {
  showStatus(ui.sessionStatus, session?.status() ?? "DISCONNECTED");
  showStreamStatus(ui.publishStatus, publisher);
  showStreamStatus(ui.playStatus, preview);
  const publishing = isLive(publisher);
  ui.publish.disabled = busy || publishing;
  ui.name.disabled = busy || publishing;
  ui.stop.disabled = !publishing;
  ui.stop.className = publishing ? "danger" : "";
  ui.stopPreview.disabled = publisher?.status() !== STREAM_STATUS.PUBLISHING;
  ui.stopPreview.textContent = isLive(preview) ? "Stop preview" : "Play preview";
  ui.resolution.textContent = isLive(preview) ? resolutionText(preview.getVideoElement()) : "";
  const name = ui.name.value.trim();
  ui.playerLink.href = name ? `/player?name=${encodeURIComponent(name)}` : "/player";
}

// ---- wiring ----------------------------------------------------------------------------------------------------

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!busy && !isLive(publisher)) publish();
});
ui.stop.addEventListener("click", () => {
  preview?.stop();
  publisher?.stop();
  render();
});
ui.stopPreview.addEventListener("click", () => {
  if (isLive(preview)) preview.stop();
  else startPreview();
  render();
});
ui.name.addEventListener("input", render);
// 'resize' of the SDK's <video> does not bubble: listen in the capture phase
ui.preview.addEventListener("resize", render, true);
addEventListener("pagehide", () => session?.disconnect());

connect();

// ---- for tests and the curious: `await streamer.state()` in the console -----------------------------------------

function memoFor(stream) {
  if (!stream) return {};
  if (!frameMemo.has(stream)) frameMemo.set(stream, {});
  return frameMemo.get(stream);
}

window.streamer = {
  async state() {
    return {
      session: session?.status() ?? "DISCONNECTED",
      publish: streamState(publisher),
      play: streamState(preview),
      error: errors.text(),
      local: await videoState(publisher, memoFor(publisher)),
      preview: await videoState(preview, memoFor(preview)),
      history: [...log.lines],
    };
  },
};
