// @ts-check
// Two Way Streaming: connect, publish the camera under one name, play another name (our SDK).
// URL parameters prefill the form: ?publish=NAME&play=NAME&server=ws://… (the invite link of the other side swaps
// their names); without ?publish= the page picks a random name to publish as, and Play stays empty until the person
// types the other side's name or creates an invite link, which gives the other side a name.

import { createSession, SESSION_STATUS } from "/sdk/wcs-sdk.mjs";
import { createErrorBox, createLog, messageOf, readFields } from "/common.js";
import { params, prefillServer, random4 } from "/common.js";
import { closeQuietly, iceOptions, pagePlatform, sessionStatus, tokenOptions, watchSession } from "/common.js";
import { describeStreamFailure, failedOnItsOwn, isLive, watchStream } from "/common.js";
import { resolutionText, showStatus, showStreamStatus, showToggle } from "/common.js";
import { frameMemo, streamState, videoState } from "/common.js";
import { createMuteBadge, createMuteToggles, mutedText, showMuteBadge } from "/common.js";
import { createPublishControls, createReceivingFigures } from "/publish-controls.js";
import { createShareLink, pageLink, serverQuery } from "/share-link.js";

/** @import { Session, Stream } from "/sdk/wcs-sdk.mjs" */

/** @param {string} id */
const $ = (id) => document.getElementById(id);
// the elements of two-way.html (each one is there)
const ui = {
  connectForm: /** @type {HTMLFormElement} */ ($("connect-form")),
  url: /** @type {HTMLInputElement} */ ($("url")),
  connect: /** @type {HTMLButtonElement} */ ($("connect")),
  sessionStatus: /** @type {HTMLOutputElement} */ ($("session-status")),
  publishStatus: /** @type {HTMLOutputElement} */ ($("publish-status")),
  playStatus: /** @type {HTMLOutputElement} */ ($("play-status")),
  error: /** @type {HTMLParagraphElement} */ ($("error")),
  local: /** @type {HTMLDivElement} */ ($("local")),
  remote: /** @type {HTMLDivElement} */ ($("remote")),
  resolution: /** @type {HTMLOutputElement} */ ($("resolution")),
  publishForm: /** @type {HTMLFormElement} */ ($("publish-form")),
  publishName: /** @type {HTMLInputElement} */ ($("publish-name")),
  publish: /** @type {HTMLButtonElement} */ ($("publish")),
  playForm: /** @type {HTMLFormElement} */ ($("play-form")),
  playName: /** @type {HTMLInputElement} */ ($("play-name")),
  play: /** @type {HTMLButtonElement} */ ($("play")),
  devices: /** @type {HTMLDivElement} */ ($("devices")),
  localFigures: /** @type {HTMLParagraphElement} */ ($("local-figures")),
  remoteFigures: /** @type {HTMLParagraphElement} */ ($("remote-figures")),
  invite: /** @type {HTMLElement} */ ($("invite")),
  createInvite: /** @type {HTMLButtonElement} */ ($("create-invite")),
};

const log = createLog("two-way");
const errors = createErrorBox(ui.error, log);
/** @type {Session | null} */
let session = null;
/** @type {Stream | null} */
let publisher = null;
/** @type {Stream | null} */
let player = null;
/** Mic / camera mute of our publisher, under the local video. */
const muteToggles = createMuteToggles(() => publisher, log, () => render());
ui.local.after(muteToggles.element);
/** What the played stream's publisher muted, next to the player's resolution. */
const muteBadge = createMuteBadge();
ui.resolution.after(muteBadge);

/** Camera and microphone pickers, the microphone meter and "Sending" under the local video. */
const controls = createPublishControls({ devices: ui.devices, figures: ui.localFigures, publisher: () => publisher });
createReceivingFigures(ui.remoteFigures, () => player);
/** The invite link for the other side (shown once Play has a name). */
const invite = createShareLink({ id: "invite-link", text: "Invite link:", copyLabel: "Copy invite link" });
ui.invite.append(invite.element);

prefillServer(ui.url);
ui.publishName.value = params.get("publish") ?? `stream-${random4()}`;
ui.playName.value = params.get("play") ?? "";

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
  try {
    session = createSession({ urlServer: url, platform: pagePlatform, timeout: 15_000, ...tokenOptions(), ...iceOptions() });
  } catch (e) {
    errors.show(messageOf(e));
    return;
  }
  log.record(`connect ${url}`);
  watchSession(session, { url, log, errors, render, isCurrent: (s) => s === session });
  render();
}

function disconnect() {
  errors.show("");
  log.record("disconnect");
  if (!session) return;
  closeQuietly(session);
  render();
}

// ---- streams ---------------------------------------------------------------------------------------------------

function publish() {
  const [name] = readFields(errors, [ui.publishName, "Enter a name to publish under."]) ?? [];
  if (!name) return;
  if (!session || !established()) return;
  errors.show("");
  const stream = session.createStream({ name, display: ui.local, constraints: controls.constraints() });
  publisher = watchStream(stream, log, onStatus).publish();
  render();
}

function play() {
  const [name] = readFields(errors, [ui.playName, "Enter the name of the stream to play."]) ?? [];
  if (!name) return;
  if (!session || !established()) return;
  errors.show("");
  player = watchStream(session.createStream({ name, display: ui.remote }), log, onStatus).play();
  render();
}

/** @param {Stream} stream */
function onStatus(stream) {
  if (stream !== publisher && stream !== player) return;
  // a user's Disconnect fails the streams locally ("Session disconnected"): not worth an error message
  if (failedOnItsOwn(stream, session)) errors.show(describeStreamFailure(stream));
  render();
}

function render() {
  showStatus(ui.sessionStatus, sessionStatus(session));
  showToggle(ui.connect, established() || connecting(), "Connect", "Disconnect");
  ui.url.disabled = established() || connecting();

  showStreamStatus(ui.publishStatus, publisher);
  showStreamStatus(ui.playStatus, player);
  const publishing = isLive(publisher);
  showToggle(ui.publish, publishing, "Publish");
  ui.publish.disabled = !established() && !publishing;
  ui.publishName.disabled = publishing;
  const playing = isLive(player);
  showToggle(ui.play, playing, "Play");
  ui.play.disabled = !established() && !playing;
  ui.playName.disabled = playing;
  ui.resolution.textContent = player && playing ? resolutionText(player.getVideoElement()) : "";
  showMuteBadge(muteBadge, playing ? player : null);
  muteToggles.render();
  controls.render();
  renderInvite();
}

/** The invite link: the other side publishes as the name we play and plays ours (on our server). */
function renderInvite() {
  const mine = ui.publishName.value.trim();
  const theirs = ui.playName.value.trim();
  ui.createInvite.hidden = Boolean(theirs);
  invite.set(mine && theirs ? pageLink("/two-way", { publish: theirs, play: mine, ...serverQuery(ui.url.value.trim()) }) : null);
}

/** "Create invite link": a name for the other side to publish as, put into Play; then the link to send them. */
function createInvite() {
  const mine = ui.publishName.value.trim();
  let theirs;
  do theirs = `stream-${random4()}`;
  while (theirs === mine);
  ui.playName.value = theirs;
  log.record(`invite: the other side publishes as ${theirs}`);
  render();
  // the button is gone now: keep the keyboard on the invite's Copy button
  invite.element.querySelector("button")?.focus();
}

// ---- wiring ----------------------------------------------------------------------------------------------------

ui.connectForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (established() || connecting()) disconnect();
  else connect();
});
ui.publishForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (publisher && isLive(publisher)) publisher.stop();
  else publish();
  render();
});
ui.playForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (player && isLive(player)) player.stop();
  else play();
  render();
});
ui.createInvite.addEventListener("click", createInvite);
for (const input of [ui.publishName, ui.playName, ui.url]) input.addEventListener("input", renderInvite);
ui.remote.addEventListener("resize", render, true);
addEventListener("pagehide", () => session?.disconnect());
render();

// ---- for tests and the curious: `await twoWay.state()` in the console -------------------------------------------

window.twoWay = {
  async state() {
    return {
      session: sessionStatus(session),
      url: session?.getServerUrl() ?? "",
      publish: streamState(publisher),
      play: streamState(player),
      error: errors.text(),
      local: await videoState(publisher, frameMemo(publisher)),
      remote: await videoState(player, frameMemo(player)),
      resolution: ui.resolution.textContent,
      publishMuted: { audio: publisher?.isAudioMuted() ?? false, video: publisher?.isVideoMuted() ?? false },
      playMuted: mutedText(player),
      history: [...log.lines],
    };
  },
};
