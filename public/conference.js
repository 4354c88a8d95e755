// @ts-check
// Conference: the WCS Room API on our SDK (roomApi.connect → join → publish our camera / play each participant's
// streams, messages). A pre-join screen (preview, devices, mic/camera on or off, room and name), then the call: an
// adaptive grid of participant tiles (conference-grid.js, conference-tiles.js), screen shares large on a stage
// (conference-screen.js), the active speaker highlighted (conference-speaker.js), participants and chat in a side
// panel (conference-chat.js), and banners while the session reconnects (auto-restore). /conference?room=NAME is an
// invite link; &login=NAME prefills the name.

import { ROOM_EVENT, SESSION_STATUS, STREAM_STATUS, WcsError, roomApi } from "/sdk/wcs-sdk.mjs";
import { createErrorBox, createLog, el, messageOf, readFields } from "/common.js";
import { params, random4, rememberInUrl, serverUrl } from "/common.js";
import { closeQuietly, describeSessionLoss, iceOptions, pagePlatform, sessionDown, sessionStatus, watchSession } from "/common.js";
import { describeStreamFailure, isLive, watchStream } from "/common.js";
import { frameMemo, mutedText, mutedWords, streamState, videoState } from "/common.js";
import { createAudioMeter } from "/audio-level.js";
import { createDevicePicker } from "/devices.js";
import { copyText, pageLink } from "/share-link.js";
import { createChat } from "/conference-chat.js";
import { createGrid } from "/conference-grid.js";
import { createLocalMedia } from "/conference-media.js";
import { createScreenShare } from "/conference-screen.js";
import { createSpeakerDetector } from "/conference-speaker.js";
import { createMembers } from "/conference-members.js";
import { createTile, initials } from "/conference-tiles.js";

/** @import { Room, RoomSession, Stream } from "/sdk/wcs-sdk.mjs" */
/** @import { Remote } from "/conference-members.js" */

/** @param {string} id */
const $ = (id) => document.getElementById(id);
// the elements of conference.html (each one is there)
const ui = {
  prejoin: /** @type {HTMLElement} */ ($("prejoin")),
  call: /** @type {HTMLElement} */ ($("call")),
  joinForm: /** @type {HTMLFormElement} */ ($("join-form")),
  room: /** @type {HTMLInputElement} */ ($("room")),
  login: /** @type {HTMLInputElement} */ ($("login")),
  join: /** @type {HTMLButtonElement} */ ($("join")),
  previewTile: /** @type {HTMLElement} */ ($("preview-tile")),
  preview: /** @type {HTMLDivElement} */ ($("preview")),
  previewInitials: /** @type {HTMLElement} */ ($("preview-initials")),
  previewNote: /** @type {HTMLElement} */ ($("preview-note")),
  prejoinMic: /** @type {HTMLButtonElement} */ ($("prejoin-mic")),
  prejoinCamera: /** @type {HTMLButtonElement} */ ($("prejoin-camera")),
  prejoinMeter: /** @type {HTMLElement} */ ($("prejoin-meter")),
  devicePickers: /** @type {HTMLElement} */ ($("device-pickers")),
  devicesInUse: /** @type {HTMLElement} */ ($("devices-in-use")),
  invite: /** @type {HTMLInputElement} */ ($("invite")),
  copyInvite: /** @type {HTMLButtonElement} */ ($("copy-invite")),
  reconnecting: /** @type {HTMLElement} */ ($("reconnecting")),
  failed: /** @type {HTMLElement} */ ($("failed")),
  failedText: /** @type {HTMLElement} */ ($("failed-text")),
  rejoin: /** @type {HTMLButtonElement} */ ($("rejoin")),
  error: /** @type {HTMLParagraphElement} */ ($("error")),
  callTitle: /** @type {HTMLElement} */ ($("call-title")),
  callSummary: /** @type {HTMLOutputElement} */ ($("call-summary")),
  videos: /** @type {HTMLElement} */ ($("videos")),
  stage: /** @type {HTMLElement} */ ($("stage")),
  gridWrap: /** @type {HTMLElement} */ ($("grid-wrap")),
  grid: /** @type {HTMLElement} */ ($("grid")),
  side: /** @type {HTMLElement} */ ($("side")),
  participantsPanel: /** @type {HTMLElement} */ ($("participants-panel")),
  participants: /** @type {HTMLUListElement} */ ($("participants")),
  chatPanel: /** @type {HTMLElement} */ ($("chat-panel")),
  chatLog: /** @type {HTMLDivElement} */ ($("chat-log")),
  chatForm: /** @type {HTMLFormElement} */ ($("chat-form")),
  recipient: /** @type {HTMLSelectElement} */ ($("recipient")),
  message: /** @type {HTMLInputElement} */ ($("message")),
  send: /** @type {HTMLButtonElement} */ ($("send")),
  closeSide: /** @type {HTMLButtonElement} */ ($("close-side")),
  mic: /** @type {HTMLButtonElement} */ ($("mic")),
  callMeter: /** @type {HTMLElement} */ ($("call-meter")),
  camera: /** @type {HTMLButtonElement} */ ($("camera")),
  share: /** @type {HTMLButtonElement} */ ($("share")),
  participantsToggle: /** @type {HTMLButtonElement} */ ($("participants-toggle")),
  peopleCount: /** @type {HTMLElement} */ ($("people-count")),
  chatToggle: /** @type {HTMLButtonElement} */ ($("chat-toggle")),
  unread: /** @type {HTMLElement} */ ($("unread")),
  copyLink: /** @type {HTMLButtonElement} */ ($("copy-link")),
  leave: /** @type {HTMLButtonElement} */ ($("leave")),
};

const log = createLog("conference");
const errors = createErrorBox(ui.error, log);
const url = serverUrl();
/** Auto-restore of the room session (client/restore.ts): reconnect after 1, 2, 4, 8, 8… s; give up after 10 tries. */
const AUTO_RESTORE = { initialDelayMs: 1000, maxDelayMs: 8000, maxAttempts: 10 };

/** @type {RoomSession | null} */
let roomSession = null;
/** @type {Room | null} */
let room = null;
/** The room we are in or joining. @type {{room: string, login: string, joined: boolean} | null} */
let current = null;
/** A join or leave is under way. */
let busy = false;
/** Our camera + microphone in the room. @type {Stream | null} */
let publisher = null;
/** The session is reconnecting (auto-restore): what the banner says. */
let restoring = "";

/** Chat messages received. @type {{from: string, text: string, t: number}[]} */
const messages = [];
/** Room events as the page got them, in the wire's shape ({name, room, info}); for tests and debugging. @type {{name: string, room: string, info: unknown}[]} */
const roomEvents = [];

/**
 * The server's reason of an SDK error (its `info`), else its message.
 * @param {unknown} e
 */
const errorText = (e) => (e instanceof WcsError && e.info) || messageOf(e);

// ---- devices, preview ------------------------------------------------------------------------------------------

const micPicker = createDevicePicker({ kind: "audioinput", id: "mic-device", label: "Microphone" });
const cameraPicker = createDevicePicker({ kind: "videoinput", id: "camera-device", label: "Camera" });
ui.devicePickers.append(micPicker.element, cameraPicker.element);
const media = createLocalMedia({ mic: micPicker, camera: cameraPicker, log: (line) => log.record(line), onChange: () => renderMedia() });
const previewVideo = el("video", { autoplay: true, muted: true, playsInline: true });
previewVideo.setAttribute("aria-label", "Your camera preview");
ui.preview.append(previewVideo);
const prejoinMeter = createAudioMeter("Microphone level");
ui.prejoinMeter.replaceWith(prejoinMeter.element);
const callMeter = createAudioMeter("Your microphone level");
ui.callMeter.replaceWith(callMeter.element);
/** The audio track the meters follow (they are re-attached when it changes). @type {MediaStreamTrack | undefined} */
let meteredTrack;

/** The preview, the meters, the toggles and "devices in use" after the local tracks changed. */
function renderMedia() {
  const tracks = media.stream.getTracks().map((t) => t.id).join();
  if (previewVideo.dataset.tracks !== tracks) {
    previewVideo.dataset.tracks = tracks;
    previewVideo.srcObject = null; // a new track set: reload the element
    previewVideo.srcObject = media.stream;
  }
  const audio = media.stream.getAudioTracks()[0];
  if (audio !== meteredTrack) {
    meteredTrack = audio;
    prejoinMeter.attach(audio ? media.stream : null);
    callMeter.attach(audio ? media.stream : null);
    if (current?.joined && audio) speaker.watch("me", media.stream);
  }
  ui.previewTile.dataset.video = media.want.video && media.label("video") ? "on" : "off";
  const mic = media.want.audio ? media.label("audio") : "";
  const cam = media.want.video ? media.label("video") : "";
  ui.devicesInUse.textContent = `Microphone: ${mic || "off"} · Camera: ${cam || "off"}`;
  ui.previewNote.textContent = !media.want.video ? "Camera is off" : cam ? "" : "Opening the camera…";
  render();
}

/**
 * After the device list changed (labels appear once the page may use the devices): re-open a device that is not
 * the one chosen (e.g. the choice remembered from the last visit, read after the first capture).
 */
async function reconcileDevices() {
  await Promise.all([micPicker.refresh(), cameraPicker.refresh()]);
  if (current) return; // in a call the published tracks stay
  await media.switchDevice("audio", micPicker.deviceId());
  await media.switchDevice("video", cameraPicker.deviceId());
}

/**
 * Pre-join toggle of the microphone or camera.
 * @param {"audio" | "video"} kind
 */
async function togglePreview(kind) {
  const ok = await media.preview(kind, !media.want[kind]);
  if (!ok) errors.show(media.error());
  else if (errors.text() && errors.text() === media.error()) errors.show("");
  await reconcileDevices();
}

// ---- tiles, grid, stage, active speaker ------------------------------------------------------------------------

const localTile = createTile({ name: "You", kind: "camera", displayId: "local" });
localTile.element.id = "local-tile";
localTile.display.classList.add("mirror");
/** Our screen share's tile (in the grid; the others see it on their stage). */
const ownScreenTile = createTile({ name: "Your screen", kind: "screen" });
const grid = createGrid(ui.grid, { pager: true, label: "videos" });
ui.gridWrap.append(grid.pager);
const stage = createGrid(ui.stage, { label: "shared screens" });
const speaker = createSpeakerDetector(() => renderSpeaker());
/** The other participants: their tiles and our players of their streams. */
const members = createMembers({
  log,
  speaker,
  canPlay: () => roomSession?.status() === SESSION_STATUS.ESTABLISHED,
  onChange: () => render(),
  onStatus: () => renderParticipants(),
});
const screen = createScreenShare({
  log: (line) => log.record(line),
  watch: (s) => watchStream(s, log, () => {
    screen.check();
    render();
  }),
  onChange: () => render(),
  onError: (message) => errors.show(message),
});

/** Puts the tiles where they belong: our tile, the participants, our screen in the grid; others' screens on the stage. */
function renderTiles() {
  const tiles = [localTile.element, ...[...members.all()].map((m) => m.tile.element)];
  if (screen.publisher()) tiles.push(ownScreenTile.element);
  grid.show(tiles);
  const shared = [...members.all()].flatMap((m) => [...m.stage.values()].map((r) => r.tile.element));
  ui.stage.hidden = shared.length === 0;
  ui.videos.classList.toggle("has-stage", shared.length > 0);
  stage.show(shared);
}

function renderSpeaker() {
  const key = speaker.current();
  localTile.setSpeaking(key === "me");
  for (const m of members.all()) m.tile.setSpeaking(key === m.login);
  renderParticipants();
}

// ---- rendering -------------------------------------------------------------------------------------------------

function inviteLink() {
  return pageLink(location.pathname, { room: current?.room ?? ui.room.value.trim() });
}

/** Our publisher is on (or coming back after a reconnection). */
const publishing = () => publisher !== null && (isLive(publisher) || publisher.isRestoring());

function render() {
  const inCall = current?.joined === true;
  const established = roomSession?.status() === SESSION_STATUS.ESTABLISHED;
  if (ui.call.hidden === inCall) {
    ui.call.hidden = !inCall;
    ui.prejoin.hidden = inCall;
    document.body.classList.toggle("in-call", inCall);
    if (inCall) ui.callTitle.focus();
  }
  ui.join.textContent = busy ? (current?.joined ? "Leaving…" : "Joining…") : "Join";
  ui.join.disabled = busy;
  ui.room.disabled = busy || inCall;
  ui.login.disabled = busy || inCall;
  ui.prejoinMic.setAttribute("aria-pressed", String(media.want.audio));
  ui.prejoinCamera.setAttribute("aria-pressed", String(media.want.video));
  ui.previewInitials.textContent = initials(ui.login.value || "?");
  ui.invite.value = inviteLink();

  // the call
  ui.callTitle.textContent = current ? `Room ${current.room}` : "Room";
  const people = members.count() + 1;
  ui.callSummary.textContent = `${people} ${people === 1 ? "person" : "people"} · ${restoring ? "reconnecting" : established ? "connected" : sessionStatus(roomSession).toLowerCase()}`;
  ui.peopleCount.textContent = String(people);
  ui.reconnecting.textContent = restoring;
  ui.reconnecting.hidden = !restoring;
  const on = publishing();
  ui.mic.setAttribute("aria-pressed", String(on && media.want.audio));
  ui.camera.setAttribute("aria-pressed", String(on && media.want.video));
  ui.mic.disabled = ui.camera.disabled = !inCall || busy;
  ui.share.disabled = !inCall || busy || !established;
  ui.share.setAttribute("aria-pressed", String(screen.active()));
  ui.share.textContent = screen.active() ? "Stop sharing" : "Share screen";
  ui.leave.disabled = !inCall || busy;
  chat.setEnabled(inCall && established);

  // our tiles
  localTile.setName(current ? `You (${current.login})` : "You", current?.login ?? "You");
  localTile.setVideo(isLive(publisher) && media.want.video); // not while restoring: the SDK shows no video then
  localTile.setMuted(on ? [media.want.audio ? "" : "mic off", media.want.video ? "" : "camera off"].filter(Boolean).join(", ") : "");
  localTile.status.textContent = publisher && !isLive(publisher) && !publisher.isRestoring() && publisher.status() === STREAM_STATUS.FAILED ? "not sent" : "";
  ownScreenTile.setVideo(screen.publisher() !== null);
  renderTiles();
  renderParticipants();
}

/** The participants panel: each person with what they send (or muted), the active speaker, our devices. */
function renderParticipants() {
  const items = [];
  if (current?.joined) {
    const me = el("li", { className: "me" }, el("span", { textContent: `${current.login} (you)` }),
      el("span", { className: "state", textContent: publishing() ? mutedWords(!media.want.audio, !media.want.video) || "mic and camera on" : "not sending" }));
    if (speaker.current() === "me") me.append(el("span", { className: "speaking", textContent: "speaking" }));
    const local = publisher?.getLocalMediaStream();
    if (local && publishing()) {
      const mic = local.getAudioTracks()[0]?.label ?? "none";
      const cam = local.getVideoTracks()[0]?.label ?? "none";
      me.append(el("span", { className: "devices", textContent: `Microphone: ${mic} · Camera: ${cam}` }));
    }
    items.push(me);
    for (const m of members.all()) {
      const state = m.camera?.stream && isLive(m.camera.stream) ? mutedText(m.camera.stream) || "mic and camera on" : m.camera ? "connecting" : "not sending";
      const li = el("li", {}, el("span", { textContent: m.login }), el("span", { className: "state", textContent: state }));
      if (m.stage.size > 0) li.append(el("span", { className: "state", textContent: "sharing screen" }));
      if (speaker.current() === m.login) li.append(el("span", { className: "speaking", textContent: "speaking" }));
      li.dataset.login = m.login;
      items.push(li);
    }
    if (members.count() === 0) items.push(el("li", { className: "empty", textContent: "Nobody else yet — share the invite link" }));
  }
  ui.participants.replaceChildren(...items);
  chat.setRecipients([...members.all()].map((m) => m.login));
}

// ---- side panel: participants, chat ----------------------------------------------------------------------------

const panels = { participants: false, chat: false };
const chat = createChat(
  { log: ui.chatLog, form: ui.chatForm, recipient: ui.recipient, message: ui.message, send: ui.send, unread: ui.unread },
  () => panels.chat,
  sendChat,
);

/**
 * Opens or closes a side panel.
 * @param {"participants" | "chat"} which
 * @param {boolean} open
 */
function setPanel(which, open) {
  panels[which] = open;
  ui.participantsPanel.hidden = !panels.participants;
  ui.chatPanel.hidden = !panels.chat;
  ui.side.hidden = !panels.participants && !panels.chat;
  ui.participantsToggle.setAttribute("aria-pressed", String(panels.participants));
  ui.chatToggle.setAttribute("aria-pressed", String(panels.chat));
  if (which === "chat" && open) {
    chat.opened();
    ui.message.focus();
  }
}

// ---- session ---------------------------------------------------------------------------------------------------

/**
 * The Room API session for `login` (connection custom {login}), with auto-restore; a new one when it is down or
 * for another login.
 * @param {string} login
 */
function ensureRoomSession(login) {
  if (roomSession && !sessionDown(roomSession) && roomSession.username() === login) return roomSession;
  dropRoomSession();
  const token = params.get("token");
  const rs = roomApi.connect({ urlServer: url, username: login, platform: pagePlatform, autoRestore: AUTO_RESTORE, ...(token ? { token } : {}), ...iceOptions() });
  roomSession = rs;
  log.record(`connect as ${login}`);
  // auto-restore: RESTORING before each reconnection attempt, ESTABLISHED when back (the room is joined again and
  // the streams restored by the SDK), FAILED when it gives up (client/restore.ts)
  rs.on(SESSION_STATUS.RESTORING, (_rs, attempt) => {
    if (rs !== roomSession) return;
    restoring = `Reconnecting to the server… (attempt ${attempt.attempt})`;
    log.record(`session RESTORING attempt ${attempt.attempt} in ${attempt.delayMs} ms`);
    render();
  });
  rs.on(SESSION_STATUS.ESTABLISHED, () => {
    if (rs !== roomSession || !restoring) return;
    restoring = "";
    chat.addLine("system", "", "Reconnected.");
    render();
  });
  return watchSession(rs, {
    url,
    log,
    errors,
    render,
    isCurrent: (s) => s === roomSession,
    onLost: (status, everEstablished) => {
      if (rs.isRestoring()) return; // the RESTORING banner follows
      restoring = "";
      if (!current?.joined) return errors.show(describeSessionLoss(status, url, everEstablished, rs));
      const was = current.room;
      resetRoom();
      showFailed(`The connection to the server was lost and could not be restored; you are no longer in room ${was}.`);
    },
  });
}

function dropRoomSession() {
  const old = roomSession;
  roomSession = null;
  restoring = "";
  closeQuietly(old);
}

/** @param {string} text "" hides the failed banner */
function showFailed(text) {
  ui.failedText.textContent = text;
  ui.failed.hidden = !text;
}

// ---- join / leave ----------------------------------------------------------------------------------------------

async function join() {
  const fields = readFields(errors, [ui.room, "Enter a room name."], [ui.login, "Enter your name."]);
  if (!fields) return;
  const [name, login] = fields;
  errors.show("");
  showFailed("");
  busy = true;
  current = { room: name, login, joined: false };
  render();
  try {
    const rs = ensureRoomSession(login);
    log.record(`join ${name} as ${login}`);
    const r = rs.join({ name });
    room = r;
    wireRoom(r);
    await r.joined(20_000);
    if (current?.room !== name || room !== r) return; // left or disconnected meanwhile
    current.joined = true;
    log.record(`joined ${name}`);
    rememberInUrl({ room: name, login });
  } catch (e) {
    log.record(`join ${name} failed: ${errorText(e)}`);
    const lost = sessionDown(roomSession);
    if (current?.room === name) {
      current = null;
      room = null;
    }
    if (!lost || !errors.text()) errors.show(`Could not join room ${name}: ${errorText(e)}`);
    // The SDK keeps a refused Room in its session (join() of the same name would return that dead Room), and the
    // usual reason (login in use) needs a new login anyway: start the next join on a fresh session.
    dropRoomSession();
    return;
  } finally {
    busy = false;
    render();
  }
  syncMembers();
  if (media.want.audio || media.want.video) await startPublishing();
}

async function leave() {
  if (!current) return;
  const name = current.room;
  busy = true;
  render();
  try {
    if (room && roomSession?.status() === SESSION_STATUS.ESTABLISHED) await room.leave();
    log.record(`left ${name}`);
  } catch (e) {
    errors.show(`Leaving room ${name}: ${errorText(e)}`);
  } finally {
    resetRoom();
    chat.addLine("system", "", `You left room ${name}.`);
    busy = false;
    render();
    ui.join.focus();
  }
}

/** Forgets the room: stops our streams (room.leave() already did), removes the tiles, back to the pre-join screen. */
function resetRoom() {
  screen.stop();
  publisher?.stop();
  members.clear();
  speaker.unwatch("me");
  room = null;
  current = null;
  media.afterCall();
  void reconcileDevices();
  render();
}

// ---- room events -----------------------------------------------------------------------------------------------

/**
 * @param {Room} r
 * @param {string} name
 * @param {unknown} info
 */
function recordEvent(r, name, info) {
  roomEvents.push({ name, room: r.name(), info });
  if (roomEvents.length > 500) roomEvents.shift();
  log.record(`room event ${name} ${JSON.stringify(info)}`);
}

/** @param {Room} r */
function wireRoom(r) {
  const mine = () => r === room && current?.joined === true;
  r.on(ROOM_EVENT.STATE, () => {
    // each participant's streams, or the login of one without any
    const info = r.getParticipants().flatMap(
      /** @returns {(string | {login: string, name: string})[]} */
      (p) =>
        p.getStreams().length ? p.getStreams().map((s) => ({ login: p.name(), name: s.streamName() })) : [p.name()],
    );
    recordEvent(r, "STATE", info);
    const logins = r.getParticipants().map((p) => p.name());
    chat.addLine("system", "", logins.length > 0 ? `In the room: ${logins.join(", ")}.` : "The room is empty.");
    if (mine()) syncMembers();
  })
    .on(ROOM_EVENT.JOINED, (p) => {
      recordEvent(r, "JOINED", p.name());
      if (!mine()) return;
      chat.addLine("system", "", `${p.name()} joined.`);
      syncMembers();
    })
    .on(ROOM_EVENT.LEFT, (p) => {
      recordEvent(r, "LEFT", p.name());
      if (!mine()) return;
      chat.addLine("system", "", `${p.name()} left.`);
      syncMembers();
    })
    .on(ROOM_EVENT.PUBLISHED, (p, streamName) => {
      recordEvent(r, "PUBLISHED", { login: p.name(), name: streamName });
      if (mine()) syncMembers();
    })
    .on(ROOM_EVENT.UNPUBLISHED, (p, streamName) => {
      recordEvent(r, "UNPUBLISHED", { login: p.name(), name: streamName });
      if (mine()) syncMembers();
    })
    .on(ROOM_EVENT.FAILED, (_r, info) => {
      recordEvent(r, "FAILED", info ?? null);
    })
    .on(ROOM_EVENT.MESSAGE, (m) => {
      recordEvent(r, "MESSAGE", { from: m.from.name(), text: m.text });
      if (r !== room) return;
      messages.push({ from: m.from.name(), text: m.text, t: Date.now() });
      chat.received(m.from.name(), m.text);
    });
}

/** The tiles and players after a room event (after a re-join too: its STATE may differ from before). */
function syncMembers() {
  if (room && current?.joined) members.sync(room);
}

// ---- our camera and microphone in the call ---------------------------------------------------------------------

/** Publishes our camera + microphone (the preview's tracks; the one turned off muted), when not publishing yet. */
async function startPublishing() {
  if (!current?.joined || !room || publishing()) return;
  const r = room;
  if (!(await media.forCall())) {
    errors.show(media.error());
    media.want.audio = media.want.video = false;
    render();
    return;
  }
  if (r !== room || publishing()) return;
  errors.show("");
  try {
    const p = watchStream(r.publish({ display: localTile.display, stream: media.stream }), log, onPublishStatus);
    publisher = p;
    if (!media.want.audio) p.muteAudio();
    if (!media.want.video) p.muteVideo();
    speaker.watch("me", media.stream);
    log.record(`publish ${p.name()}`);
  } catch (e) {
    errors.show(errorText(e));
  }
  render();
}

/** @param {Stream} stream */
function onPublishStatus(stream) {
  if (stream !== publisher) return;
  if (stream.status() === STREAM_STATUS.FAILED && !stream.isRestoring() && current && !sessionDown(roomSession)) {
    errors.show(`Your camera: ${describeStreamFailure(stream)}`);
  }
  render();
}

/**
 * In-call toggle: mutes / unmutes our published track of `kind` (the others are told: stream events), or starts
 * publishing when we were not.
 * @param {"audio" | "video"} kind
 */
async function toggleInCall(kind) {
  const on = !(publishing() && media.want[kind]);
  media.want[kind] = on;
  const p = publisher;
  if (p && publishing()) {
    if (kind === "audio") on ? p.unmuteAudio() : p.muteAudio();
    else on ? p.unmuteVideo() : p.muteVideo();
    log.record(`publish ${p.name()} ${on ? "unmute" : "mute"} ${kind}`);
    render();
  } else if (on) {
    media.want[kind === "audio" ? "video" : "audio"] = false;
    await startPublishing();
  }
}

// ---- chat ------------------------------------------------------------------------------------------------------

/**
 * Sends a chat message to `to` ("" = everyone). false when it was not sent (nobody there, recipient gone).
 * @param {string} text
 * @param {string} to
 */
async function sendChat(text, to) {
  if (!current?.joined || !room) return false;
  const others = room.getParticipants();
  if (others.length === 0) {
    errors.show("Nobody else is in the room yet.");
    return false;
  }
  const recipient = to ? others.find((p) => p.name() === to) : undefined;
  if (to && !recipient) {
    errors.show(`${to} is no longer in the room.`);
    return false;
  }
  errors.show("");
  chat.addLine("out", `${current.login} → ${to || "everyone"}`, text, to ? "private" : "");
  try {
    if (recipient) await recipient.sendMessage(text);
    else await room.sendMessageToAll(text);
  } catch (e) {
    errors.show(`Message not delivered to ${to || "everyone"}: ${errorText(e)}`);
  }
  return true;
}

// ---- wiring ----------------------------------------------------------------------------------------------------

/** @param {HTMLButtonElement} button */
async function copyInvite(button) {
  const link = inviteLink();
  const text = button.textContent;
  const copied = await copyText(link, () => {
    ui.invite.value = link;
    ui.invite.select();
  });
  button.textContent = copied ? "Copied" : "Selected: press Ctrl+C to copy";
  setTimeout(() => {
    button.textContent = text;
  }, 1500);
}

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!busy && !current) void join();
});
ui.leave.addEventListener("click", () => void leave());
ui.rejoin.addEventListener("click", () => void join());
ui.prejoinMic.addEventListener("click", () => void togglePreview("audio"));
ui.prejoinCamera.addEventListener("click", () => void togglePreview("video"));
micPicker.onChange((id) => void media.switchDevice("audio", id));
cameraPicker.onChange((id) => void media.switchDevice("video", id));
ui.mic.addEventListener("click", () => void toggleInCall("audio"));
ui.camera.addEventListener("click", () => void toggleInCall("video"));
ui.share.addEventListener("click", () => {
  if (screen.active()) screen.stop();
  else if (room && current?.joined) void screen.start(room, ownScreenTile.display);
});
ui.participantsToggle.addEventListener("click", () => setPanel("participants", !panels.participants));
ui.chatToggle.addEventListener("click", () => setPanel("chat", !panels.chat));
ui.closeSide.addEventListener("click", () => {
  setPanel("participants", false);
  setPanel("chat", false);
  ui.participantsToggle.focus();
});
ui.side.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && matchMedia("(max-width: 48rem)").matches) ui.closeSide.click();
});
ui.room.addEventListener("input", () => render());
ui.login.addEventListener("input", () => render());
ui.copyInvite.addEventListener("click", () => void copyInvite(ui.copyInvite));
ui.copyLink.addEventListener("click", () => void copyInvite(ui.copyLink));
addEventListener("pagehide", () => roomSession?.disconnect());

ui.room.value = params.get("room") ?? `room-${random4()}`;
ui.login.value = params.get("login") ?? "";
render();
void media.sync().then(reconcileDevices);

// ---- for tests and the curious: `await conference.state()` in the console -------------------------------------

/** @param {Remote} r */
async function remoteState(r) {
  const v = await videoState(r.stream, frameMemo(r.stream));
  return {
    login: r.login,
    name: r.name,
    kind: r.kind,
    status: r.stream?.status() ?? "NEW",
    info: r.stream?.getInfo() ?? "",
    muted: mutedText(r.stream),
    videoWidth: v.videoWidth,
    videoHeight: v.videoHeight,
    framesDecoded: v.frames,
  };
}

window.conference = {
  async state() {
    const remotes = [...members.all()].flatMap((m) => [...(m.camera ? [m.camera] : []), ...m.stage.values()]);
    remotes.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "camera" ? -1 : 1));
    return {
      session: sessionStatus(roomSession),
      restoring,
      login: current?.login ?? null,
      room: current?.joined ? current.room : null,
      participants: current?.joined && room ? room.getParticipants().map((p) => p.name()) : [],
      publish: streamState(publisher),
      publishMuted: { audio: publisher?.isAudioMuted() ?? false, video: publisher?.isVideoMuted() ?? false },
      screen: streamState(screen.publisher()),
      local: await videoState(publisher),
      remote: await Promise.all(remotes.map(remoteState)),
      speaker: speaker.current(),
      speakerLevels: speaker.levels(),
      grid: grid.position(),
      unread: chat.unread(),
      devices: { audio: media.label("audio"), video: media.label("video") },
      messages: [...messages],
      events: [...roomEvents],
      error: errors.text(),
      history: [...log.lines],
    };
  },
};
