// @ts-check
// Streamer: publish the camera under a name and play it back from the server as a preview (our SDK).

import { createSession, STREAM_STATUS } from "/sdk/wcs-sdk.mjs";
import { createErrorBox, createLog, readFields } from "/common.js";
import { params, random4, serverUrl } from "/common.js";
import { iceOptions, pagePlatform, sessionDown, sessionStatus, tokenOptions, watchSession } from "/common.js";
import { describeStreamFailure, isLive, watchStream } from "/common.js";
import { resolutionText, showStatus, showStreamStatus } from "/common.js";
import { frameMemo, streamState, videoState } from "/common.js";
import { createPublishControls, createReceivingFigures } from "/publish-controls.js";
import { createShareLink, pageLink } from "/share-link.js";

/** @import { Session, Stream } from "/sdk/wcs-sdk.mjs" */

/** @param {string} id */
const $ = (id) => document.getElementById(id);
// the elements of index.html (each one is there)
const ui = {
  form: /** @type {HTMLFormElement} */ ($("controls")),
  name: /** @type {HTMLInputElement} */ ($("name")),
  publish: /** @type {HTMLButtonElement} */ ($("publish")),
  stop: /** @type {HTMLButtonElement} */ ($("stop")),
  stopPreview: /** @type {HTMLButtonElement} */ ($("stop-preview")),
  sessionStatus: /** @type {HTMLOutputElement} */ ($("session-status")),
  publishStatus: /** @type {HTMLOutputElement} */ ($("publish-status")),
  playStatus: /** @type {HTMLOutputElement} */ ($("play-status")),
  error: /** @type {HTMLParagraphElement} */ ($("error")),
  local: /** @type {HTMLDivElement} */ ($("local")),
  preview: /** @type {HTMLDivElement} */ ($("preview")),
  resolution: /** @type {HTMLOutputElement} */ ($("preview-resolution")),
  devices: /** @type {HTMLDivElement} */ ($("devices")),
  localFigures: /** @type {HTMLParagraphElement} */ ($("local-figures")),
  previewFigures: /** @type {HTMLParagraphElement} */ ($("preview-figures")),
  share: /** @type {HTMLElement} */ ($("share")),
};

const log = createLog("streamer");
const errors = createErrorBox(ui.error, log);
const url = serverUrl();
/** @type {Session | null} */
let session = null;
/** @type {Stream | null} */
let publisher = null;
/** @type {Stream | null} */
let preview = null;
/** Connecting or starting to publish. */
let busy = false;

/** Camera and microphone pickers, the microphone meter and "Sending" under the camera. */
const controls = createPublishControls({ devices: ui.devices, figures: ui.localFigures, publisher: () => publisher });
createReceivingFigures(ui.previewFigures, () => preview);
/** The Player link of the stream, for others to watch. */
const playerLink = createShareLink({ id: "player-link", text: "Watch link:", copyLabel: "Copy link" });
ui.share.append(playerLink.element);

ui.name.value = params.get("name") ?? `stream-${random4()}`;

// ---- session ---------------------------------------------------------------------------------------------------

function connect() {
  session = createSession({ urlServer: url, platform: pagePlatform, ...tokenOptions(), ...iceOptions() });
  watchSession(session, { url, log, errors, render, isCurrent: (s) => s === session });
  render();
  return session;
}

/** The session, reconnecting first if it is down. */
async function ensureSession() {
  const s = session && !sessionDown(session) ? session : connect();
  await s.established(15_000);
  return s;
}

// ---- publish + preview -----------------------------------------------------------------------------------------

async function publish() {
  const [name] = readFields(errors, [ui.name, "Enter a stream name."]) ?? [];
  if (!name) return;
  errors.show("");
  busy = true;
  render();
  try {
    const s = await ensureSession();
    preview = null;
    log.record(`publish ${name}`);
    const stream = s.createStream({ name, display: ui.local, constraints: controls.constraints() });
    publisher = watchStream(stream, log, onPublishStatus).publish();
  } catch (e) {
    errors.report(e);
  } finally {
    busy = false;
    render();
  }
}

/** @param {Stream} stream */
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

/** @param {Stream} stream */
function onPreviewStatus(stream) {
  if (stream !== preview) return;
  // the preview ends with "Stopped by publisher stop" when we stop publishing: nothing to report then
  if (stream.status() === STREAM_STATUS.FAILED && isLive(publisher)) errors.show(`Preview: ${describeStreamFailure(stream)}`);
  render();
}

function render() {
  showStatus(ui.sessionStatus, sessionStatus(session));
  showStreamStatus(ui.publishStatus, publisher);
  showStreamStatus(ui.playStatus, preview);
  const publishing = isLive(publisher);
  ui.publish.disabled = busy || publishing;
  ui.name.disabled = busy || publishing;
  ui.stop.disabled = !publishing;
  ui.stop.className = publishing ? "danger" : "";
  ui.stopPreview.disabled = publisher?.status() !== STREAM_STATUS.PUBLISHING;
  ui.stopPreview.textContent = isLive(preview) ? "Stop preview" : "Play preview";
  ui.resolution.textContent = preview && isLive(preview) ? resolutionText(preview.getVideoElement()) : "";
  controls.render();
  const name = ui.name.value.trim();
  playerLink.set(name ? pageLink("/player", { name }) : null);
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
  if (preview && isLive(preview)) preview.stop();
  else startPreview();
  render();
});
ui.name.addEventListener("input", render);
// 'resize' of the SDK's <video> does not bubble: listen in the capture phase
ui.preview.addEventListener("resize", render, true);
addEventListener("pagehide", () => session?.disconnect());

connect();

// ---- for tests and the curious: `await streamer.state()` in the console -----------------------------------------

window.streamer = {
  async state() {
    return {
      session: sessionStatus(session),
      publish: streamState(publisher),
      play: streamState(preview),
      error: errors.text(),
      local: await videoState(publisher, frameMemo(publisher)),
      preview: await videoState(preview, frameMemo(preview)),
      tracks: publisher?.getLocalMediaStream()?.getTracks().map((t) => `${t.kind}: ${t.label}`) ?? [],
      history: [...log.lines],
    };
  },
};
