// Conference page: the WCS Room API ("roomApp") on the plain WCS wire protocol (wcs-client.js), the way the
// official Web SDK's room-module.js uses it:
//   session  appKey "roomApp", connection custom {login}
//   join     sendData {command: "join", options: {name, record: false}}   → ACCEPTED, then OnDataEvent STATE
//   leave    sendData {command: "leave", options: {name}}                  (the server ends our room streams)
//   message  sendData {command: "sendMessage", options: {roomConfig: {name}, to: login, text}}, one per recipient
//   publish  publishStream name `${room}-${login}-${4 random hex}`, custom {name: room}
//   play     playStream of each announced stream, custom {name: room}
// Room events (OnDataEvent payload {roomName, name, info}): STATE, JOINED, LEFT, PUBLISHED, UNPUBLISHED, FAILED,
// MESSAGE.

import { TERMINAL, WcsSession, WcsStream, describeMediaError, serverUrl } from "./wcs-client.js";

const ROOM_APP_KEY = "roomApp";

const $ = (id) => /** @type {any} */ (document.getElementById(id));
const ui = {
  joinForm: $("join-form"),
  joinFields: $("join-fields"),
  room: $("room"),
  login: $("login"),
  join: $("join"),
  publish: $("publish"),
  sessionStatus: $("session-status"),
  roomStatus: $("room-status"),
  publishStatus: $("publish-status"),
  error: $("error"),
  invite: $("invite"),
  copyInvite: $("copy-invite"),
  grid: $("grid"),
  local: $("local"),
  localCaption: $("local-caption"),
  participants: $("participants"),
  chatLog: $("chat-log"),
  chatForm: $("chat-form"),
  recipient: $("recipient"),
  message: $("message"),
  send: $("send"),
};

/** @type {WcsSession | null} */
let session = null;
/** The login `session` was opened with (connection custom {login}). */
let sessionLogin = "";
/** The room we are in or joining. @type {{room: string, login: string, joined: boolean} | null} */
let current = null;
/** A join or leave is under way. */
let busy = false;
/** Other participants: login → names of their published streams. @type {Map<string, Set<string>>} */
const participants = new Map();
/**
 * Remote streams, by stream name: the tile showing it and its current player.
 * @type {Map<string, {login: string, name: string, stream: WcsStream | null, tile: HTMLElement, video: HTMLVideoElement, status: HTMLOutputElement, retry: HTMLButtonElement, frames: number}>}
 */
const remotes = new Map();
/** @type {WcsStream | null} */
let publishStream = null;
/** @type {MediaStream | null} */
let camera = null;
/** Chat messages received. @type {{from: string, text: string, t: number}[]} */
const messages = [];
/** Room events received (for tests and debugging). @type {{name: string, room: string, info: unknown}[]} */
const roomEvents = [];
/** Debug log lines (for tests and failure reports). */
const logLines = [];

// ---- helpers ---------------------------------------------------------------------------------------------------

function record(line) {
  logLines.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
  if (logLines.length > 300) logLines.shift();
  console.log(`conference: ${line}`);
}

function showError(message) {
  if (message) record(`error: ${message}`);
  ui.error.textContent = message;
  ui.error.hidden = !message;
}

function errorText(e) {
  return e instanceof Error ? e.message : String(e);
}

function showStatus(output, status, info) {
  output.textContent = info ? `${status} (${info})` : status;
  output.dataset.status = status;
}

const random4 = () => crypto.randomUUID().slice(0, 4);
const time = (t) => new Date(t).toTimeString().slice(0, 5);
const active = (stream) => stream !== null && !TERMINAL.has(stream.status);

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

// ---- rendering -------------------------------------------------------------------------------------------------

function inviteLink() {
  const room = current?.room ?? ui.room.value.trim();
  const url = new URL(location.pathname, location.origin);
  if (room) url.searchParams.set("room", room);
  return url.href;
}

function render() {
  const inRoom = current !== null;
  const joined = current?.joined === true;
  ui.join.textContent = inRoom && !busy ? "Leave" : busy ? (joined ? "Leaving…" : "Joining…") : "Join";
  ui.join.dataset.action = inRoom ? "leave" : "join";
  ui.join.disabled = busy;
  ui.room.disabled = inRoom || busy;
  ui.login.disabled = inRoom || busy;
  ui.publish.disabled = !joined || busy || (publishStream !== null && publishStream.status === "NEW");
  ui.publish.textContent = active(publishStream) ? "Camera off" : "Camera on";
  ui.publish.dataset.action = active(publishStream) ? "stop" : "publish";
  ui.message.disabled = !joined;
  ui.send.disabled = !joined;
  ui.recipient.disabled = !joined;
  showStatus(ui.sessionStatus, session?.status ?? "DISCONNECTED");
  if (joined) showStatus(ui.roomStatus, "JOINED", current.room);
  else if (inRoom) showStatus(ui.roomStatus, "JOINING", current.room);
  else showStatus(ui.roomStatus, "—");
  ui.localCaption.textContent = current ? `You (${current.login})` : "You";
  ui.invite.value = inviteLink();
  renderParticipants();
}

function renderParticipants() {
  const list = [];
  if (current?.joined) {
    list.push(el("li", { className: "me" }, el("span", { textContent: `${current.login} (you)` }),
      el("span", { className: "badge", textContent: active(publishStream) ? "camera on" : "" })));
    for (const [login, streams] of participants) {
      list.push(el("li", {}, el("span", { textContent: login }),
        el("span", { className: "badge", textContent: streams.size > 0 ? "camera on" : "" })));
    }
    if (participants.size === 0) list.push(el("li", { className: "empty", textContent: "Nobody else yet — share the invite link" }));
  } else {
    list.push(el("li", { className: "empty", textContent: "Not in a room" }));
  }
  ui.participants.replaceChildren(...list);

  const selected = ui.recipient.value;
  const options = [el("option", { value: "", textContent: "Everyone" })];
  for (const login of participants.keys()) options.push(el("option", { value: login, textContent: `Only ${login}` }));
  ui.recipient.replaceChildren(...options);
  ui.recipient.value = participants.has(selected) ? selected : "";
}

/** @param {"system" | "in" | "out"} kind */
function addChatLine(kind, from, text, extraClass = "") {
  const line = el("p", { className: `${kind} ${extraClass}`.trim() }, el("time", { textContent: time(Date.now()) }));
  if (from) line.append(el("span", { className: "from", textContent: from }), ": ");
  line.append(text);
  ui.chatLog.append(line);
  ui.chatLog.scrollTop = ui.chatLog.scrollHeight;
}

// ---- session ---------------------------------------------------------------------------------------------------

/** The roomApp session for `login`, (re)connecting when there is none or it belongs to another login. */
async function ensureSession(login) {
  if (session?.status === "ESTABLISHED" && sessionLogin === login) return session;
  const old = session;
  session = null;
  old?.close();
  const s = new WcsSession(serverUrl(), {
    appKey: ROOM_APP_KEY,
    custom: { login },
    onStatus: onSessionStatus,
    onData: onRoomEvent,
    onWarning: showError,
  });
  session = s;
  sessionLogin = login;
  await s.connect();
  return s;
}

/** @param {WcsSession} s */
function onSessionStatus(s) {
  if (s !== session) return;
  record(`session ${s.status}`);
  if ((s.status === "DISCONNECTED" || s.status === "FAILED") && current) {
    const was = current.room;
    resetRoom();
    showError(`Connection to the server was lost; you are no longer in room ${was}.`);
  }
  render();
}

// ---- join / leave ----------------------------------------------------------------------------------------------

async function join() {
  const room = ui.room.value.trim();
  const login = ui.login.value.trim();
  if (!room || !login) {
    showError(!room ? "Enter a room name." : "Enter your name.");
    (!room ? ui.room : ui.login).focus();
    return;
  }
  showError("");
  busy = true;
  current = { room, login, joined: false };
  render();
  try {
    const s = await ensureSession(login);
    record(`join ${room} as ${login}`);
    await s.sendData({ command: "join", options: { name: room, record: false } });
    if (current?.room !== room) return; // left or disconnected meanwhile
    current.joined = true;
    record(`joined ${room}`);
    const url = new URL(location.href);
    url.searchParams.set("room", room);
    url.searchParams.set("login", login);
    window.history.replaceState(null, "", url);
  } catch (e) {
    record(`join ${room} failed: ${errorText(e)}`);
    if (current?.room === room) current = null;
    showError(`Could not join room ${room}: ${errorText(e)}`);
  } finally {
    busy = false;
    render();
  }
}

async function leave() {
  if (!current) return;
  const room = current.room;
  busy = true;
  render();
  try {
    if (session?.status === "ESTABLISHED") await session.sendData({ command: "leave", options: { name: room } });
    record(`left ${room}`);
  } catch (e) {
    showError(`Leaving room ${room}: ${errorText(e)}`);
  } finally {
    resetRoom();
    addChatLine("system", "", `You left room ${room}.`);
    busy = false;
    render();
  }
}

/** Forgets the room: stops our streams (the server already ended them on leave), clears participants and tiles. */
function resetRoom() {
  publishStream?.stop();
  releaseCamera();
  for (const name of [...remotes.keys()]) removeRemote(name);
  participants.clear();
  current = null;
}

// ---- room events -----------------------------------------------------------------------------------------------

function onRoomEvent(payload) {
  if (!payload || typeof payload.roomName !== "string") return;
  roomEvents.push({ name: payload.name, room: payload.roomName, info: payload.info });
  if (roomEvents.length > 500) roomEvents.shift();
  record(`room event ${payload.name} ${JSON.stringify(payload.info)}`);
  if (!current || payload.roomName !== current.room) return;
  const info = payload.info;
  switch (payload.name) {
    case "STATE": {
      const others = Array.isArray(info) ? info : [];
      for (const entry of others) {
        if (typeof entry === "string") addParticipant(entry);
        else if (entry && typeof entry.login === "string") {
          addParticipant(entry.login);
          if (typeof entry.name === "string") addRemoteStream(entry.login, entry.name);
        }
      }
      addChatLine("system", "", participants.size > 0 ? `In the room: ${[...participants.keys()].join(", ")}.` : "The room is empty.");
      break;
    }
    case "JOINED":
      if (typeof info !== "string") break;
      addParticipant(info);
      addChatLine("system", "", `${info} joined.`);
      break;
    case "LEFT":
      if (typeof info !== "string") break;
      for (const name of participants.get(info) ?? []) removeRemote(name);
      for (const r of [...remotes.values()]) if (r.login === info) removeRemote(r.name);
      participants.delete(info);
      addChatLine("system", "", `${info} left.`);
      break;
    case "PUBLISHED":
      if (info && typeof info.login === "string" && typeof info.name === "string") {
        addParticipant(info.login);
        addRemoteStream(info.login, info.name);
      }
      break;
    case "UNPUBLISHED":
    case "FAILED":
      if (info && typeof info.name === "string") {
        participants.get(info.login)?.delete(info.name);
        removeRemote(info.name);
      }
      break;
    case "MESSAGE":
      if (info && typeof info.text === "string") {
        const from = String(info.from ?? "?");
        messages.push({ from, text: info.text, t: Date.now() });
        addChatLine("in", from, info.text);
      }
      break;
    default:
  }
  render();
}

function addParticipant(login) {
  if (login === current?.login) return;
  if (!participants.has(login)) participants.set(login, new Set());
}

function addRemoteStream(login, name) {
  if (login === current?.login) return;
  participants.get(login)?.add(name);
  playRemote(login, name);
}

// ---- remote streams --------------------------------------------------------------------------------------------

function playRemote(login, name) {
  if (!session || !current) return;
  let r = remotes.get(name);
  if (r && active(r.stream)) return;
  if (!r) {
    const video = el("video", { autoplay: true, playsInline: true, muted: true, title: "Click to mute / unmute" });
    video.dataset.stream = name;
    const status = el("output", { textContent: "—" });
    const retry = el("button", { type: "button", textContent: "Play again", hidden: true });
    const tile = el("figure", { className: "tile remote" }, video,
      el("figcaption", {}, el("span", { className: "who", textContent: login }), status, retry));
    tile.dataset.login = login;
    tile.dataset.stream = name;
    // autoplay of audible video needs a user gesture in some browsers: start muted, unmute on click
    video.addEventListener("click", () => {
      video.muted = !video.muted;
    });
    ui.grid.append(tile);
    r = { login, name, stream: null, tile, video, status, retry, frames: 0 };
    const entry = r;
    retry.addEventListener("click", () => playRemote(entry.login, entry.name));
    remotes.set(name, r);
  }
  const entry = r;
  entry.retry.hidden = true;
  entry.frames = 0;
  record(`play ${name} (${login})`);
  entry.stream = new WcsStream(session, name, "play", (st) => onRemoteStatus(entry, st), { name: current.room });
  entry.stream.play(entry.video);
}

function onRemoteStatus(r, stream) {
  record(`play ${stream.name} ${stream.status}${stream.info ? ` (${stream.info})` : ""}`);
  if (r.stream !== stream) return;
  showStatus(r.status, stream.status, stream.info);
  if (stream.status === "PLAYING") {
    // the page was opened by a click on Join: sound may play
    r.video.muted = false;
    r.video.play().catch(() => {
      r.video.muted = true;
      r.video.play().catch(() => {});
    });
  }
  if (TERMINAL.has(stream.status) && remotes.get(r.name) === r) r.retry.hidden = false;
}

function removeRemote(name) {
  const r = remotes.get(name);
  if (!r) return;
  remotes.delete(name);
  r.stream?.stop();
  r.video.srcObject = null;
  r.tile.remove();
  record(`removed ${name}`);
}

// ---- my camera -------------------------------------------------------------------------------------------------

function releaseCamera() {
  camera?.getTracks().forEach((track) => track.stop());
  camera = null;
  ui.local.srcObject = null;
}

async function publish() {
  if (!current?.joined || !session) return;
  showError("");
  const { room, login } = current;
  ui.publish.disabled = true;
  try {
    try {
      camera = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    } catch (e) {
      throw new Error(describeMediaError(e));
    }
    if (!current?.joined || current.room !== room) {
      releaseCamera();
      return;
    }
    ui.local.srcObject = camera;
    const name = `${room}-${login}-${random4()}`;
    record(`publish ${name}`);
    publishStream = new WcsStream(session, name, "publish", onPublishStatus, { name: room });
    await publishStream.publish(camera);
  } catch (e) {
    releaseCamera();
    showError(errorText(e));
  }
  render();
}

/** @param {WcsStream} stream */
function onPublishStatus(stream) {
  record(`publish ${stream.name} ${stream.status}${stream.info ? ` (${stream.info})` : ""}`);
  if (stream !== publishStream) return;
  showStatus(ui.publishStatus, stream.status, stream.info);
  if (TERMINAL.has(stream.status)) {
    releaseCamera();
    if (stream.status === "FAILED" && current) showError(`Camera stream failed: ${stream.info || "unknown reason"}`);
  }
  render();
}

// ---- chat ------------------------------------------------------------------------------------------------------

async function sendChat() {
  if (!current?.joined || !session) return;
  const text = ui.message.value;
  if (!text.trim()) return;
  const to = ui.recipient.value;
  const recipients = to ? [to] : [...participants.keys()];
  if (recipients.length === 0) {
    showError("Nobody else is in the room yet.");
    return;
  }
  showError("");
  const room = current.room;
  ui.message.value = "";
  addChatLine("out", `${current.login} → ${to || "everyone"}`, text, to ? "private" : "");
  // like the Web SDK: one sendMessage per recipient
  const results = await Promise.allSettled(
    recipients.map((login) => session?.sendData({ command: "sendMessage", options: { roomConfig: { name: room }, to: login, text } })),
  );
  const failed = results
    .map((res, i) => (res.status === "rejected" ? `${recipients[i]}: ${errorText(res.reason)}` : ""))
    .filter(Boolean);
  if (failed.length > 0) showError(`Message not delivered to ${failed.join("; ")}`);
}

// ---- wiring ----------------------------------------------------------------------------------------------------

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (busy) return;
  if (current) leave();
  else join();
});
ui.publish.addEventListener("click", () => {
  if (active(publishStream)) publishStream?.stop();
  else publish();
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
addEventListener("pagehide", () => session?.close());

const params = new URLSearchParams(location.search);
ui.room.value = params.get("room") ?? `room-${random4()}`;
ui.login.value = params.get("login") ?? "";
render();

// ---- for tests and the curious: `await conference.state()` in the console -------------------------------------

function streamState(stream) {
  return stream && { id: stream.id, name: stream.name, status: stream.status, info: stream.info };
}

async function remoteState(r) {
  const frames = r.stream ? await r.stream.framesDecoded().catch(() => null) : null;
  if (frames !== null) r.frames = frames;
  return {
    login: r.login,
    name: r.name,
    status: r.stream?.status ?? "NEW",
    info: r.stream?.info ?? "",
    videoWidth: r.video.videoWidth,
    videoHeight: r.video.videoHeight,
    framesDecoded: r.frames,
  };
}

window.conference = {
  async state() {
    return {
      session: session?.status ?? "DISCONNECTED",
      login: current?.login ?? null,
      room: current?.joined ? current.room : null,
      participants: [...participants.keys()],
      publish: streamState(publishStream),
      remote: await Promise.all([...remotes.values()].map(remoteState)),
      messages: [...messages],
      events: [...roomEvents],
      error: ui.error.hidden ? "" : ui.error.textContent,
      history: [...logLines],
    };
  },
};
