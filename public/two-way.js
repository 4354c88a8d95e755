// Two Way Streaming: connect, publish the camera under one name, play another name (our SDK).
// URL parameters prefill the form: ?publish=NAME&play=NAME&server=ws://…

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
  connectForm: $("connect-form"),
  url: $("url"),
  connect: $("connect"),
  sessionStatus: $("session-status"),
  publishStatus: $("publish-status"),
  playStatus: $("play-status"),
  error: $("error"),
  local: $("local"),
  remote: $("remote"),
  resolution: $("resolution"),
  publishForm: $("publish-form"),
  publishName: $("publish-name"),
  publish: $("publish"),
  playForm: $("play-form"),
  playName: $("play-name"),
  play: $("play"),
};

const log = createLog("two-way");
const errors = createErrorBox(ui.error, log);
/** @type {import("/sdk/wcs-sdk.mjs").Session | null} */
let session = null;
/** @type {import("/sdk/wcs-sdk.mjs").Stream | null} */
let publisher = null;
/** @type {import("/sdk/wcs-sdk.mjs").Stream | null} */
let player = null;
const frameMemo = new WeakMap();
/** Sessions the user disconnected (their DISCONNECTED is not an error). */
const closedByUser = new WeakSet();

const params = new URLSearchParams(location.search);
const defaultName = `stream-${random4()}`;
ui.url.value = params.get("server") ?? serverUrl();
ui.publishName.value = params.get("publish") ?? defaultName;
ui.playName.value = params.get("play") ?? params.get("publish") ?? defaultName;

const established = () => session?.status() === SESSION_STATUS.ESTABLISHED;
const connecting = () => session?.status() === SESSION_STATUS.PENDING || session?.status() === SESSION_STATUS.CONNECTED;

// ---- session ---------------------------------------------------------------------------------------------------

function connect() {
  const url = ui.url.value.trim();
  if (!url) {
    errors.show("Enter the server's address (ws://… or wss://…).");
    return;
  }
  errors.show("");
  let s;
  try {
    s = createSession({ urlServer: url, platform: pagePlatform, timeout: 15_000 });
  } catch (e) {
    errors.show(e instanceof Error ? e.message : String(e));
    return;
  }
  session = s;
  let wasEstablished = false;
  log.record(`connect ${url}`);
  for (const status of [SESSION_STATUS.CONNECTED, SESSION_STATUS.ESTABLISHED, SESSION_STATUS.DISCONNECTED, SESSION_STATUS.FAILED]) {
    s.on(status, () => {
      if (s !== session) return;
      log.record(`session ${status}`);
      if (status === SESSION_STATUS.ESTABLISHED) wasEstablished = true;
      if ((status === SESSION_STATUS.DISCONNECTED || status === SESSION_STATUS.FAILED) && !closedByUser.has(s)) {
        errors.show(describeSessionLoss(status, url, wasEstablished));
      }
      render();
    });
  }
  render();
}

function disconnect() {
  errors.show("");
  log.record("disconnect");
  if (!session) return;
  closedByUser.add(session);
  session.disconnect();
  render();
}

// ---- streams ---------------------------------------------------------------------------------------------------

function publish() {
  const name = ui.publishName.value.trim();
  if (!name) {
    errors.show("Enter a name to publish under.");
    ui.publishName.focus();
    return;
  }
  if (!established()) return;
  errors.show("");
  publisher = watchStream(session.createStream({ name, display: ui.local }), log, onStatus).publish();
  render();
}

function play() {
  const name = ui.playName.value.trim();
  if (!name) {
    errors.show("Enter the name of the stream to play.");
    ui.playName.focus();
    return;
  }
  if (!established()) return;
  errors.show("");
  player = watchStream(session.createStream({ name, display: ui.remote }), log, onStatus).play();
  render();
}

function onStatus(stream) {
  if (stream !== publisher && stream !== player) return;
  // a user's Disconnect fails the streams locally ("Session disconnected"): not worth an error message
  const lostWithSession = session?.status() !== SESSION_STATUS.ESTABLISHED;
  if (stream.status() === STREAM_STATUS.FAILED && !lostWithSession) errors.show(describeStreamFailure(stream));
  render();
}

function render() {
  const status = session?.status() ?? "DISCONNECTED";
  showStatus(ui.sessionStatus, status);
  ui.connect.textContent = established() || connecting() ? "Disconnect" : "Connect";
  ui.connect.className = established() || connecting() ? "danger" : "primary";
  ui.url.disabled = established() || connecting();

  showStreamStatus(ui.publishStatus, publisher);
  showStreamStatus(ui.playStatus, player);
  const publishing = isLive(publisher);
  ui.publish.textContent = publishing ? "Stop" : "Publish";
  ui.publish.className = publishing ? "danger" : "primary";
  ui.publish.disabled = !established() && !publishing;
  ui.publishName.disabled = publishing || !established();
  const playing = isLive(player);
  ui.play.textContent = playing ? "Stop" : "Play";
  ui.play.className = playing ? "danger" : "primary";
  ui.play.disabled = !established() && !playing;
  ui.playName.disabled = playing || !established();
  ui.resolution.textContent = playing ? resolutionText(player.getVideoElement()) : "";
}

// ---- wiring ----------------------------------------------------------------------------------------------------

ui.connectForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (established() || connecting()) disconnect();
  else connect();
});
ui.publishForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (isLive(publisher)) publisher.stop();
  else publish();
  render();
});
ui.playForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (isLive(player)) player.stop();
  else play();
  render();
});
ui.remote.addEventListener("resize", render, true);
addEventListener("pagehide", () => session?.disconnect());
render();

// ---- for tests and the curious: `await twoWay.state()` in the console -------------------------------------------

function memoFor(stream) {
  if (!stream) return {};
  if (!frameMemo.has(stream)) frameMemo.set(stream, {});
  return frameMemo.get(stream);
}

window.twoWay = {
  async state() {
    return {
      session: session?.status() ?? "DISCONNECTED",
      url: session?.getServerUrl() ?? "",
      publish: streamState(publisher),
      play: streamState(player),
      error: errors.text(),
      local: await videoState(publisher, memoFor(publisher)),
      remote: await videoState(player, memoFor(player)),
      resolution: ui.resolution.textContent,
      history: [...log.lines],
    };
  },
};
