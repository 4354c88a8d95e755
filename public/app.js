// Streamer demo: publish the camera under a name and play it back from the server as a preview.
// The WCS client itself is in wcs-client.js (shared with the conference page).

import { TERMINAL, WcsSession, WcsStream, describeMediaError, serverUrl } from "./wcs-client.js";

// ---------------------------------------------------------------------------------------------------------------
// Page

const $ = (id) => /** @type {any} */ (document.getElementById(id));
const ui = {
  form: $("controls"),
  name: $("name"),
  publish: $("publish"),
  stop: $("stop"),
  stopPreview: $("stop-preview"),
  status: $("status"),
  publishStatus: $("publish-status"),
  playStatus: $("play-status"),
  error: $("error"),
  local: $("local"),
  preview: $("preview"),
};

const wsUrl = serverUrl();
/** @type {WcsSession | null} */
let session = null;
/** @type {WcsStream | null} */
let publishStream = null;
/** @type {WcsStream | null} */
let playStream = null;
/** @type {MediaStream | null} */
let camera = null;
let lastFramesDecoded = 0;
const history = [];

ui.name.value = `stream-${Math.random().toString(16).slice(2, 6)}`;

function record(line) {
  history.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
  if (history.length > 100) history.shift();
}

function showError(message) {
  if (message) record(`error: ${message}`);
  ui.error.textContent = message;
  ui.error.hidden = !message;
}

function showStatus(output, status, info) {
  output.textContent = info ? `${status} (${info})` : status;
  output.dataset.status = status;
}

function updateButtons() {
  const busy = publishStream !== null && !TERMINAL.has(publishStream.status);
  ui.publish.disabled = busy;
  ui.name.disabled = busy;
  ui.stop.disabled = !busy;
  ui.stopPreview.disabled = playStream === null || TERMINAL.has(playStream.status);
}

function onSessionStatus(s) {
  record(`session ${s.status}`);
  showStatus(ui.status, s.status);
}

async function ensureSession() {
  if (session?.status === "ESTABLISHED") return session;
  session = new WcsSession(wsUrl, { onStatus: onSessionStatus, onWarning: showError });
  await session.connect();
  return session;
}

/** @param {WcsStream} stream */
function onPublishStatus(stream) {
  record(`publish ${stream.name} ${stream.status}${stream.info ? ` (${stream.info})` : ""}`);
  if (stream !== publishStream) return;
  showStatus(ui.publishStatus, stream.status, stream.info);
  if (stream.status === "PUBLISHING" && playStream === null) startPreview(stream.name);
  if (TERMINAL.has(stream.status)) {
    camera?.getTracks().forEach((track) => track.stop());
    camera = null;
    ui.local.srcObject = null;
    playStream?.stop();
    if (stream.status === "FAILED") showError(`Publishing failed: ${stream.info || "unknown reason"}`);
  }
  updateButtons();
}

/** @param {WcsStream} stream */
function onPlayStatus(stream) {
  record(`play ${stream.name} ${stream.status}${stream.info ? ` (${stream.info})` : ""}`);
  if (stream !== playStream) return;
  showStatus(ui.playStatus, stream.status, stream.info);
  if (TERMINAL.has(stream.status)) {
    ui.preview.srcObject = null;
    if (stream.status === "FAILED" && stream.info !== "Stopped by publisher stop") {
      showError(`Preview failed: ${stream.info || "unknown reason"}`);
    }
  }
  updateButtons();
}

function startPreview(name) {
  if (!session) return;
  playStream = new WcsStream(session, name, "play", onPlayStatus);
  playStream.play(ui.preview);
}

async function publish() {
  const name = ui.name.value.trim();
  if (!name) {
    showError("Enter a stream name.");
    return;
  }
  showError("");
  ui.publish.disabled = true;
  try {
    try {
      camera = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    } catch (e) {
      throw new Error(describeMediaError(e));
    }
    ui.local.srcObject = camera;
    const s = await ensureSession();
    playStream = null;
    showStatus(ui.playStatus, "—");
    publishStream = new WcsStream(s, name, "publish", onPublishStatus);
    await publishStream.publish(camera);
  } catch (e) {
    camera?.getTracks().forEach((track) => track.stop());
    camera = null;
    ui.local.srcObject = null;
    showError(e instanceof Error ? e.message : String(e));
  }
  updateButtons();
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  publish();
});
ui.stop.addEventListener("click", () => {
  playStream?.stop();
  publishStream?.stop();
});
ui.stopPreview.addEventListener("click", () => playStream?.stop());

ensureSession().catch((e) => showError(e.message));

function streamState(stream) {
  return stream && { id: stream.id, name: stream.name, status: stream.status, info: stream.info };
}

async function previewStats() {
  const video = ui.preview;
  const pc = playStream?.pc;
  if (pc && pc.connectionState !== "closed") {
    const stats = await pc.getStats();
    stats.forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") lastFramesDecoded = report.framesDecoded ?? 0;
    });
  }
  return { videoWidth: video.videoWidth, videoHeight: video.videoHeight, framesDecoded: lastFramesDecoded };
}

// For tests and the curious: `await demo.state()` in the console.
window.demo = {
  async state() {
    return {
      session: session?.status ?? "DISCONNECTED",
      publish: streamState(publishStream),
      play: streamState(playStream),
      error: ui.error.hidden ? "" : ui.error.textContent,
      preview: await previewStats(),
      history: [...history],
    };
  },
};
