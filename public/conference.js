// @ts-check
// Conference: the WCS Room API on our SDK (roomApi.connect → join → publish / play each participant's stream,
// messages). /conference?room=NAME is an invite link; &login=NAME prefills the name.

import { ROOM_EVENT, SESSION_STATUS, STREAM_STATUS, WcsError, roomApi } from "/sdk/wcs-sdk.mjs";
import { createErrorBox, createLog, el, messageOf, readFields } from "/common.js";
import { params, random4, rememberInUrl, serverUrl } from "/common.js";
import { closeQuietly, describeSessionLoss, iceOptions, pagePlatform, sessionDown, sessionStatus, watchSession } from "/common.js";
import { describeStreamFailure, isLive, watchStream } from "/common.js";
import { showStatus, showStreamStatus } from "/common.js";
import { frameMemo, streamState, videoState } from "/common.js";
import { createMuteBadge, createMuteToggles, mutedText, showMuteBadge } from "/common.js";

/** @import { ParticipantStream, Room, RoomSession, Stream } from "/sdk/wcs-sdk.mjs" */

/** @param {string} id */
const $ = (id) => document.getElementById(id);
// the elements of conference.html (each one is there)
const ui = {
  joinForm: /** @type {HTMLFormElement} */ ($("join-form")),
  room: /** @type {HTMLInputElement} */ ($("room")),
  login: /** @type {HTMLInputElement} */ ($("login")),
  join: /** @type {HTMLButtonElement} */ ($("join")),
  publish: /** @type {HTMLButtonElement} */ ($("publish")),
  sessionStatus: /** @type {HTMLOutputElement} */ ($("session-status")),
  roomStatus: /** @type {HTMLOutputElement} */ ($("room-status")),
  publishStatus: /** @type {HTMLOutputElement} */ ($("publish-status")),
  error: /** @type {HTMLParagraphElement} */ ($("error")),
  invite: /** @type {HTMLInputElement} */ ($("invite")),
  copyInvite: /** @type {HTMLButtonElement} */ ($("copy-invite")),
  grid: /** @type {HTMLDivElement} */ ($("grid")),
  local: /** @type {HTMLDivElement} */ ($("local")),
  localCaption: /** @type {HTMLSpanElement} */ ($("local-caption")),
  participants: /** @type {HTMLUListElement} */ ($("participants")),
  chatLog: /** @type {HTMLDivElement} */ ($("chat-log")),
  chatForm: /** @type {HTMLFormElement} */ ($("chat-form")),
  recipient: /** @type {HTMLSelectElement} */ ($("recipient")),
  message: /** @type {HTMLInputElement} */ ($("message")),
  send: /** @type {HTMLButtonElement} */ ($("send")),
};

const log = createLog("conference");
const errors = createErrorBox(ui.error, log);
const url = serverUrl();
/** @type {RoomSession | null} */
let roomSession = null;
/** @type {Room | null} */
let room = null;
/** The room we are in or joining. @type {{room: string, login: string, joined: boolean} | null} */
let current = null;
/** A join or leave is under way. */
let busy = false;
/** Our camera in the room. @type {Stream | null} */
let publisher = null;
/**
 * A remote stream: the tile showing it and our player of it.
 * @typedef {object} Remote
 * @property {string} login the participant's login
 * @property {string} name the stream's name
 * @property {ParticipantStream} source
 * @property {Stream | null} stream our player of it
 * @property {HTMLElement} tile
 * @property {HTMLElement} display
 * @property {HTMLOutputElement} status
 * @property {HTMLElement} badge what its publisher muted
 * @property {HTMLButtonElement} retry
 */
/** Remote streams by stream name. @type {Map<string, Remote>} */
const remotes = new Map();
/** Mic / camera mute of our camera, in the local tile. */
const muteToggles = createMuteToggles(() => publisher, log, () => render());
ui.localCaption.after(muteToggles.element);
/** Chat messages received. @type {{from: string, text: string, t: number}[]} */
const messages = [];
/**
 * Room events as the page got them, in the wire's shape ({name, room, info}); for tests and debugging.
 * @type {{name: string, room: string, info: unknown}[]}
 */
const roomEvents = [];

/** @param {number} t */
const time = (t) => new Date(t).toTimeString().slice(0, 5);
/**
 * The server's reason of an SDK error (its `info`), else its message.
 * @param {unknown} e
 */
const errorText = (e) => (e instanceof WcsError && e.info) || messageOf(e);

// ---- rendering -------------------------------------------------------------------------------------------------

function inviteLink() {
  const name = current?.room ?? ui.room.value.trim();
  const link = new URL(location.pathname, location.origin);
  if (name) link.searchParams.set("room", name);
  return link.href;
}

function participantLogins() {
  return current?.joined && room ? room.getParticipants().map((p) => p.name()) : [];
}

function render() {
  const inRoom = current !== null;
  const joined = current?.joined === true;
  ui.join.textContent = inRoom && !busy ? "Leave" : busy ? (joined ? "Leaving…" : "Joining…") : "Join";
  ui.join.dataset.action = inRoom ? "leave" : "join";
  ui.join.disabled = busy;
  ui.room.disabled = inRoom || busy;
  ui.login.disabled = inRoom || busy;
  ui.publish.disabled = !joined || busy;
  ui.publish.textContent = isLive(publisher) ? "Camera off" : "Camera on";
  ui.publish.dataset.action = isLive(publisher) ? "stop" : "publish";
  ui.message.disabled = !joined;
  ui.send.disabled = !joined;
  ui.recipient.disabled = !joined;
  showStatus(ui.sessionStatus, sessionStatus(roomSession));
  if (current?.joined) showStatus(ui.roomStatus, "JOINED", current.room);
  else if (current) showStatus(ui.roomStatus, "JOINING", current.room);
  else showStatus(ui.roomStatus, "—");
  showStreamStatus(ui.publishStatus, publisher);
  ui.localCaption.textContent = current ? `You (${current.login})` : "You";
  muteToggles.render();
  ui.invite.value = inviteLink();
  renderParticipants();
}

function renderParticipants() {
  const list = [];
  const others = current?.joined && room ? room.getParticipants() : [];
  if (current?.joined) {
    list.push(el("li", { className: "me" }, el("span", { textContent: `${current.login} (you)` }),
      el("span", { className: "badge", textContent: isLive(publisher) ? "camera on" : "" })));
    for (const p of others) {
      list.push(el("li", {}, el("span", { textContent: p.name() }),
        el("span", { className: "badge", textContent: p.getStreams().length > 0 ? "camera on" : "" })));
    }
    if (others.length === 0) list.push(el("li", { className: "empty", textContent: "Nobody else yet — share the invite link" }));
  } else {
    list.push(el("li", { className: "empty", textContent: "Not in a room" }));
  }
  ui.participants.replaceChildren(...list);

  const selected = ui.recipient.value;
  const logins = others.map((p) => p.name());
  const options = [el("option", { value: "", textContent: "Everyone" })];
  for (const login of logins) options.push(el("option", { value: login, textContent: `Only ${login}` }));
  ui.recipient.replaceChildren(...options);
  ui.recipient.value = logins.includes(selected) ? selected : "";
}

/**
 * @param {"system" | "in" | "out"} kind
 * @param {string} from the sender ("" for none)
 * @param {string} text
 */
function addChatLine(kind, from, text, extraClass = "") {
  const line = el("p", { className: `${kind} ${extraClass}`.trim() }, el("time", { textContent: time(Date.now()) }));
  if (from) line.append(el("span", { className: "from", textContent: from }), ": ");
  line.append(text);
  ui.chatLog.append(line);
  ui.chatLog.scrollTop = ui.chatLog.scrollHeight;
}

// ---- session ---------------------------------------------------------------------------------------------------

/**
 * The Room API session for `login` (connection custom {login}), reconnecting when it is down or for another login.
 * @param {string} login
 */
function ensureRoomSession(login) {
  if (roomSession && !sessionDown(roomSession) && roomSession.username() === login) return roomSession;
  dropRoomSession();
  roomSession = roomApi.connect({ urlServer: url, username: login, platform: pagePlatform, ...(params.get("token") ? { token: params.get("token") ?? "" } : {}), ...iceOptions() });
  log.record(`connect as ${login}`);
  return watchSession(roomSession, {
    url,
    log,
    errors,
    render,
    isCurrent: (rs) => rs === roomSession,
    onLost: (status, everEstablished) => {
      if (!current?.joined) return errors.show(describeSessionLoss(status, url, everEstablished, roomSession ?? undefined));
      const was = current.room;
      resetRoom();
      errors.show(`Connection to the server was lost; you are no longer in room ${was}.`);
    },
  });
}

function dropRoomSession() {
  const old = roomSession;
  roomSession = null;
  closeQuietly(old);
}

// ---- join / leave ----------------------------------------------------------------------------------------------

async function join() {
  const fields = readFields(errors, [ui.room, "Enter a room name."], [ui.login, "Enter your name."]);
  if (!fields) return;
  const [name, login] = fields;
  errors.show("");
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
  } finally {
    busy = false;
    render();
  }
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
    addChatLine("system", "", `You left room ${name}.`);
    busy = false;
    render();
  }
}

/** Forgets the room: stops our streams (room.leave() already did), removes the tiles. */
function resetRoom() {
  publisher?.stop();
  for (const name of [...remotes.keys()]) removeRemote(name);
  room = null;
  current = null;
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
  const mine = () => r === room;
  r.on(ROOM_EVENT.STATE, () => {
    // each participant's streams, or the login of one without any
    const info = r.getParticipants().flatMap(
      /** @returns {(string | {login: string, name: string})[]} */
      (p) =>
        p.getStreams().length ? p.getStreams().map((s) => ({ login: p.name(), name: s.streamName() })) : [p.name()],
    );
    recordEvent(r, "STATE", info);
    if (!mine()) return;
    for (const p of r.getParticipants()) for (const s of p.getStreams()) playRemote(p.name(), s);
    const logins = r.getParticipants().map((p) => p.name());
    addChatLine("system", "", logins.length > 0 ? `In the room: ${logins.join(", ")}.` : "The room is empty.");
    render();
  })
    .on(ROOM_EVENT.JOINED, (p) => {
      recordEvent(r, "JOINED", p.name());
      if (!mine()) return;
      addChatLine("system", "", `${p.name()} joined.`);
      render();
    })
    .on(ROOM_EVENT.LEFT, (p) => {
      recordEvent(r, "LEFT", p.name());
      if (!mine()) return;
      for (const x of [...remotes.values()]) if (x.login === p.name()) removeRemote(x.name);
      addChatLine("system", "", `${p.name()} left.`);
      render();
    })
    .on(ROOM_EVENT.PUBLISHED, (p) => {
      const streams = p.getStreams();
      const newest = streams[streams.length - 1];
      recordEvent(r, "PUBLISHED", { login: p.name(), name: newest?.streamName() });
      if (!mine()) return;
      for (const s of streams) if (!remotes.has(s.streamName())) playRemote(p.name(), s);
      render();
    })
    .on(ROOM_EVENT.UNPUBLISHED, (p, streamName) => {
      recordEvent(r, "UNPUBLISHED", { login: p.name(), name: streamName });
      if (!mine()) return;
      removeRemote(streamName);
      render();
    })
    .on(ROOM_EVENT.FAILED, (_r, info) => {
      recordEvent(r, "FAILED", info ?? null);
    })
    .on(ROOM_EVENT.MESSAGE, (m) => {
      recordEvent(r, "MESSAGE", { from: m.from.name(), text: m.text });
      if (!mine()) return;
      messages.push({ from: m.from.name(), text: m.text, t: Date.now() });
      addChatLine("in", m.from.name(), m.text);
    });
}

// ---- remote streams --------------------------------------------------------------------------------------------

/**
 * Plays a participant's stream in its tile (created on first use).
 * @param {string} login
 * @param {ParticipantStream} source
 */
function playRemote(login, source) {
  if (!current || !room || roomSession?.status() !== SESSION_STATUS.ESTABLISHED) return;
  const name = source.streamName();
  let r = remotes.get(name);
  if (r && isLive(r.stream)) return;
  if (!r) {
    const display = el("div", { className: "display", title: "Click to mute / unmute" });
    display.dataset.empty = "Not playing";
    const status = el("output", { textContent: "—" });
    const retry = el("button", { type: "button", textContent: "Play again", hidden: true });
    const badge = createMuteBadge();
    const tile = el("figure", { className: "tile remote" }, display,
      el("figcaption", {}, el("span", { className: "who", textContent: login }), badge, status, retry));
    tile.dataset.login = login;
    tile.dataset.stream = name;
    // autoplay with sound may be refused (the SDK then plays muted): a click toggles the sound
    display.addEventListener("click", () => {
      const video = remotes.get(name)?.stream?.getVideoElement();
      if (!video) return;
      video.muted = !video.muted;
      video.play().catch(() => undefined);
    });
    ui.grid.append(tile);
    r = { login, name, source, stream: null, tile, display, status, badge, retry };
    const entry = r;
    retry.addEventListener("click", () => playRemote(entry.login, entry.source));
    remotes.set(name, r);
  }
  const entry = r;
  entry.source = source;
  entry.retry.hidden = true;
  log.record(`play ${name} (${login})`);
  entry.stream = watchStream(source.play(entry.display), log, (s) => onRemoteStatus(entry, s));
}

/**
 * @param {Remote} r
 * @param {Stream} stream
 */
function onRemoteStatus(r, stream) {
  if (r.stream !== stream) return;
  showStreamStatus(r.status, stream);
  showMuteBadge(r.badge, isLive(stream) ? stream : null);
  if (!isLive(stream) && remotes.get(r.name) === r) r.retry.hidden = false;
}

/** @param {string} name */
function removeRemote(name) {
  const r = remotes.get(name);
  if (!r) return;
  remotes.delete(name);
  r.stream?.stop();
  r.tile.remove();
  log.record(`removed ${name}`);
}

// ---- my camera -------------------------------------------------------------------------------------------------

function publish() {
  if (!current?.joined || !room) return;
  errors.show("");
  try {
    publisher = watchStream(room.publish({ display: ui.local }), log, onPublishStatus);
    log.record(`publish ${publisher.name()}`);
  } catch (e) {
    errors.show(errorText(e));
  }
  render();
}

/** @param {Stream} stream */
function onPublishStatus(stream) {
  if (stream !== publisher) return;
  if (stream.status() === STREAM_STATUS.FAILED && current && !sessionDown(roomSession)) {
    errors.show(`Camera: ${describeStreamFailure(stream)}`);
  }
  render();
}

// ---- chat ------------------------------------------------------------------------------------------------------

async function sendChat() {
  if (!current?.joined || !room) return;
  const text = ui.message.value;
  if (!text.trim()) return;
  const to = ui.recipient.value;
  const others = room.getParticipants();
  if (others.length === 0) {
    errors.show("Nobody else is in the room yet.");
    return;
  }
  const recipient = to ? others.find((p) => p.name() === to) : undefined;
  if (to && !recipient) {
    errors.show(`${to} is no longer in the room.`);
    return;
  }
  errors.show("");
  ui.message.value = "";
  addChatLine("out", `${current.login} → ${to || "everyone"}`, text, to ? "private" : "");
  try {
    if (recipient) await recipient.sendMessage(text);
    else await room.sendMessageToAll(text);
  } catch (e) {
    errors.show(`Message not delivered to ${to || "everyone"}: ${errorText(e)}`);
  }
}

// ---- wiring ----------------------------------------------------------------------------------------------------

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (busy) return;
  if (current) leave();
  else join();
});
ui.publish.addEventListener("click", () => {
  if (publisher && isLive(publisher)) publisher.stop();
  else publish();
  render();
});
ui.chatForm.addEventListener("submit", (event) => {
  event.preventDefault();
  sendChat();
});
ui.room.addEventListener("input", () => {
  ui.invite.value = inviteLink();
});
ui.copyInvite.addEventListener("click", async () => {
  const link = inviteLink();
  try {
    await navigator.clipboard.writeText(link);
  } catch {
    ui.invite.select();
    document.execCommand?.("copy");
  }
  ui.copyInvite.textContent = "Copied";
  setTimeout(() => {
    ui.copyInvite.textContent = "Copy";
  }, 1500);
});
addEventListener("pagehide", () => roomSession?.disconnect());

ui.room.value = params.get("room") ?? `room-${random4()}`;
ui.login.value = params.get("login") ?? "";
render();

// ---- for tests and the curious: `await conference.state()` in the console -------------------------------------

/** @param {Remote} r */
async function remoteState(r) {
  const v = await videoState(r.stream, frameMemo(r.stream));
  return {
    login: r.login,
    name: r.name,
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
    return {
      session: sessionStatus(roomSession),
      login: current?.login ?? null,
      room: current?.joined ? current.room : null,
      participants: participantLogins(),
      publish: streamState(publisher),
      publishMuted: { audio: publisher?.isAudioMuted() ?? false, video: publisher?.isVideoMuted() ?? false },
      local: await videoState(publisher),
      remote: await Promise.all([...remotes.values()].map(remoteState)),
      messages: [...messages],
      events: [...roomEvents],
      error: errors.text(),
      history: [...log.lines],
    };
  },
};
