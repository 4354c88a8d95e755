// @ts-check
// Helpers shared by the demo pages (Streamer, Two Way Streaming, Player, Conference). The pages use our SDK
// (/sdk/wcs-sdk.mjs, built from client/); this file only adds page-level things: readable error texts, status
// outputs, the debug log behind `window.<page>.state()`, video statistics.

import { ERROR_INFO, SESSION_STATUS, STREAM_EVENT, STREAM_STATUS, STREAM_STATUS_INFO, Session } from "/sdk/wcs-sdk.mjs";

/** @import { Platform, RoomSession, SessionStatus, Stream, StreamStatus } from "/sdk/wcs-sdk.mjs" */
/** @typedef {ReturnType<typeof createLog>} Log */
/** @typedef {ReturnType<typeof createErrorBox>} ErrorBox */
/** @typedef {{ frames?: number }} FrameMemo */

/** Stream statuses after which a stream is over. @type {ReadonlySet<StreamStatus>} */
export const TERMINAL = new Set([STREAM_STATUS.UNPUBLISHED, STREAM_STATUS.STOPPED, STREAM_STATUS.FAILED]);

/**
 * true while `stream` exists and has not ended.
 * @param {Stream | null | undefined} stream
 */
export const isLive = (stream) => stream != null && !TERMINAL.has(stream.status());

/** ws(s)://host/ of the page's own origin: the worker serving the page also speaks WCS signaling. */
export function serverUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
}

/** A random 4-hex-digit suffix for default names. */
export const random4 = () => Math.random().toString(16).slice(2, 6).padEnd(4, "0");

// ---- the page's URL --------------------------------------------------------------------------------------------

/** The page's query parameters (they prefill the forms). */
export const params = new URLSearchParams(location.search);

/**
 * The access token the page was opened with (`?token=…`; README "Security"), for a server with authentication on. It
 * is sent as the session's `connection` `custom.token`.
 * @returns {{ custom: { token: string } } | {}} options to spread into createSession()
 */
export function tokenOptions() {
  const token = params.get("token");
  return token ? { custom: { token } } : {};
}

/**
 * Peer-connection options from the page's URL: `?relay=1` makes every peer connection relay-only
 * (`iceTransportPolicy: "relay"`), to try a TURN deployment the way a player on a UDP-blocking network uses it
 * (README "TURN"). The SDK asks the server for the TURN servers and their credentials itself.
 * @returns {{ mediaOptions: RTCConfiguration } | {}} options to spread into createSession() / roomApi.connect()
 */
export function iceOptions() {
  return params.get("relay") === "1" ? { mediaOptions: { iceTransportPolicy: "relay" } } : {};
}

/**
 * Prefills a server address input: ?server=…, else this page's own server.
 * @param {HTMLInputElement} input
 */
export function prefillServer(input) {
  input.value = params.get("server") ?? serverUrl();
}

/**
 * Puts `values` into the address bar's query (without a reload), so the link reopens the same thing.
 * @param {Record<string, string>} values
 */
export function rememberInUrl(values) {
  const link = new URL(location.href);
  for (const [key, value] of Object.entries(values)) link.searchParams.set(key, value);
  history.replaceState(null, "", link);
}

// ---- sessions --------------------------------------------------------------------------------------------------

/**
 * The status to show for the page's session (none yet: DISCONNECTED).
 * @param {Session | RoomSession | null} session
 * @returns {SessionStatus}
 */
export const sessionStatus = (session) => session?.status() ?? "DISCONNECTED";

/**
 * true when there is no session or it has ended.
 * @param {Session | RoomSession | null} session
 */
export const sessionDown = (session) =>
  !session || session.status() === SESSION_STATUS.DISCONNECTED || session.status() === SESSION_STATUS.FAILED;

/** Sessions the page closed on purpose (their DISCONNECTED is not an error). @type {WeakSet<Session | RoomSession>} */
const closedByPage = new WeakSet();

/**
 * Disconnects a session of the page without reporting it as lost.
 * @param {Session | RoomSession | null} session
 */
export function closeQuietly(session) {
  if (!session) return;
  closedByPage.add(session);
  session.disconnect();
}

/**
 * Follows one of the page's sessions (a Session or a RoomSession): logs its statuses, and when it goes down without
 * the page closing it ({@link closeQuietly}) calls `onLost(status, everEstablished)`, by default showing
 * {@link describeSessionLoss} in `errors`; then `render()`. Events of a session that is no longer
 * `isCurrent(session)` are ignored.
 * @template {Session | RoomSession} S
 * @param {S} session
 * @param {object} options
 * @param {string} options.url the server's address, for the messages
 * @param {Log} options.log
 * @param {ErrorBox} options.errors
 * @param {() => void} options.render
 * @param {(session: S) => boolean} options.isCurrent
 * @param {(status: "DISCONNECTED" | "FAILED", everEstablished: boolean) => void} [options.onLost]
 * @returns {S}
 */
export function watchSession(session, { url, log, errors, render, isCurrent, onLost }) {
  let everEstablished = false;
  const lost = onLost ?? ((status, established) => errors.show(describeSessionLoss(status, url, established, session)));
  /** @param {SessionStatus} status */
  const follow = (status) => () => {
    if (!isCurrent(session)) return;
    log.record(`session ${status}`);
    if (status === SESSION_STATUS.ESTABLISHED) everEstablished = true;
    if ((status === SESSION_STATUS.DISCONNECTED || status === SESSION_STATUS.FAILED) && !closedByPage.has(session)) {
      lost(status, everEstablished);
    }
    render();
  };
  const { CONNECTED, ESTABLISHED, DISCONNECTED, FAILED } = SESSION_STATUS;
  if (session instanceof Session) {
    for (const status of [CONNECTED, ESTABLISHED, DISCONNECTED, FAILED]) session.on(status, follow(status));
  } else {
    // a RoomSession has no CONNECTED (it reports ESTABLISHED first)
    for (const status of [ESTABLISHED, DISCONNECTED, FAILED]) session.on(status, follow(status));
  }
  return session;
}

/**
 * A sentence for a getUserMedia failure.
 * @param {unknown} e what getUserMedia threw (a DOMException)
 */
export function describeMediaError(e) {
  switch (e instanceof Error ? e.name : undefined) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera/microphone access was refused. Allow it in the browser's site settings and try again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera or microphone found.";
    case "NotReadableError":
    case "AbortError":
      return "The camera or microphone is in use by another application.";
    default:
      return `Could not open the camera/microphone: ${messageOf(e)}`;
  }
}

/**
 * Platform override for createSession/roomApi.connect: the browser's getUserMedia, with its errors turned into
 * sentences a person can act on (the SDK's `stream.getErrorInfo()` would give "NotAllowedError: Permission denied").
 * @satisfies {Partial<Platform>}
 */
export const pagePlatform = {
  async getUserMedia(constraints) {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new Error("This page cannot use the camera: open it over HTTPS (or on localhost).");
    }
    try {
      return await navigator.mediaDevices.getUserMedia(constraints);
    } catch (e) {
      throw new Error(describeMediaError(e));
    }
  },
};

/**
 * A sentence for a session that went down (`everEstablished`: it had been connected), with the server's reason when
 * it closed the socket with one (a refused connection: "Not authorized: an access token is required" — open the page
 * with `?token=…`).
 * @param {SessionStatus} status
 * @param {string} url
 * @param {boolean} everEstablished
 * @param {Session | RoomSession} [session]
 */
export function describeSessionLoss(status, url, everEstablished, session) {
  const reason = (session instanceof Session ? session : session?.getSession())?.lastDisconnect()?.reason;
  if (!everEstablished) return reason ? `The server at ${url} refused the connection: ${reason}` : `Could not connect to the server at ${url}.`;
  return status === SESSION_STATUS.FAILED
    ? "The connection to the server failed."
    : "Disconnected from the server.";
}

/**
 * A sentence for a stream that ended FAILED.
 * @param {Stream} stream
 */
export function describeStreamFailure(stream) {
  const name = stream.name();
  const info = stream.getInfo();
  switch (info) {
    case STREAM_STATUS_INFO.STREAM_NAME_ALREADY_IN_USE:
      return `The name “${name}” is already being published. Choose another name.`;
    case STREAM_STATUS_INFO.STREAM_NOT_FOUND:
      return `Nothing is being published under the name “${name}”.`;
    case STREAM_STATUS_INFO.STOPPED_BY_PUBLISHER_STOP:
      return `The publisher of “${name}” stopped it.`;
    case ERROR_INFO.LOCAL_ERROR:
      return stream.getErrorInfo() || "Local error.";
    case ERROR_INFO.SESSION_DISCONNECTED:
      return "Disconnected from the server.";
    default:
      return `${stream.published() ? "Publishing" : "Playing"} “${name}” failed${info ? `: ${info}` : ""}.`;
  }
}

/**
 * Shows `status` (and `info`) in an <output>; CSS colours it by `data-status`.
 * @param {HTMLOutputElement} output
 * @param {string} status
 * @param {string} [info]
 */
export function showStatus(output, status, info) {
  output.textContent = info ? `${status} (${info})` : status;
  output.dataset.status = status;
}

/**
 * Shows a stream's status (or "—" when there is none).
 * @param {HTMLOutputElement} output
 * @param {Stream | null} stream
 */
export function showStreamStatus(output, stream) {
  if (!stream) showStatus(output, "—");
  else showStatus(output, stream.status(), stream.getInfo());
}

/**
 * A start/stop button: red `activeText` while `active`, else the primary `idleText`.
 * @param {HTMLButtonElement} button
 * @param {boolean} active
 * @param {string} idleText
 */
export function showToggle(button, active, idleText, activeText = "Stop") {
  button.textContent = active ? activeText : idleText;
  button.className = active ? "danger" : "primary";
}

/**
 * The page's debug log (kept for `state().history` and echoed to the console).
 * @param {string} page
 */
export function createLog(page) {
  /** @type {string[]} */
  const lines = [];
  return {
    lines,
    /** @param {string} line */
    record(line) {
      lines.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
      if (lines.length > 300) lines.shift();
      console.log(`${page}: ${line}`);
    },
  };
}

/**
 * The text of a thrown value.
 * @param {unknown} e
 */
export const messageOf = (e) => (e instanceof Error ? e.message : String(e));

/**
 * The alert box of a page: `show("…")`, `show("")` hides it; `text()` is what is shown; `report(e)` shows a thrown
 * value unless something (e.g. the session's loss) is shown already.
 * @param {HTMLElement} element
 * @param {Log} log
 */
export function createErrorBox(element, log) {
  const box = {
    /** @param {string} message */
    show(message) {
      if (message) log.record(`error: ${message}`);
      element.textContent = message;
      element.hidden = !message;
    },
    text() {
      return element.hidden ? "" : element.textContent;
    },
    /** @param {unknown} e */
    report(e) {
      if (!box.text()) box.show(messageOf(e));
    },
  };
  return box;
}

/**
 * The trimmed values of `fields` ([input, message when empty] pairs); at the first empty one, shows its message,
 * focuses it and returns null.
 * @template {[HTMLInputElement, string][]} F
 * @param {ErrorBox} errors
 * @param {F} fields
 * @returns {{ [K in keyof F]: string } | null}
 */
export function readFields(errors, ...fields) {
  /** @type {string[]} */
  const values = [];
  for (const [input, message] of fields) {
    const value = input.value.trim();
    if (!value) {
      errors.show(message);
      input.focus();
      return null;
    }
    values.push(value);
  }
  return /** @type {{ [K in keyof F]: string }} */ (values);
}

/**
 * A new element: `<tag>` with `props` assigned and `children` appended.
 * @template {keyof HTMLElementTagNameMap} T
 * @param {T} tag
 * @param {Partial<HTMLElementTagNameMap[T]>} [props]
 * @param {...(Node | string)} children
 */
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

/**
 * Logs every status of `stream` and, for a player, every stream event (its publisher muted or unmuted, or sent data),
 * and calls `onChange(stream)` after each.
 * @param {Stream} stream
 * @param {Log} log
 * @param {(stream: Stream) => void} onChange
 */
export function watchStream(stream, log, onChange) {
  for (const status of Object.values(STREAM_STATUS)) {
    if (status === STREAM_STATUS.NEW) continue;
    stream.on(status, (s) => {
      log.record(`${s.published() ? "publish" : "play"} ${s.name()} ${s.status()}${s.getInfo() ? ` (${s.getInfo()})` : ""}`);
      onChange(s);
    });
  }
  stream.on(STREAM_EVENT, (e, s) => {
    log.record(`play ${s.name()} event ${e.type} ${JSON.stringify(e.payload)}`);
    onChange(s);
  });
  return stream;
}

// ---- mute --------------------------------------------------------------------------------------------------------

/**
 * What the publisher of a played stream has muted, as the server said (the stream object's audioState / videoState,
 * then its publisher's mute events): "audio muted", "video muted", "audio and video muted", or "" for nothing.
 * @param {Stream | null} stream
 */
export function mutedText(stream) {
  return mutedWords(stream?.getAudioState()?.muted === true, stream?.getVideoState()?.muted === true);
}

/**
 * "audio and video muted" / "audio muted" / "video muted" / "" (nothing muted): the words of {@link mutedText}.
 * @param {boolean} audio
 * @param {boolean} video
 */
export function mutedWords(audio, video) {
  return audio && video ? "audio and video muted" : audio ? "audio muted" : video ? "video muted" : "";
}

/** A "muted" badge for a played stream; {@link showMuteBadge} fills it. */
export function createMuteBadge() {
  return el("span", { className: "mute-badge", hidden: true });
}

/**
 * Shows in `badge` what the publisher of `stream` muted ({@link mutedText}); hidden when nothing (or no stream).
 * @param {HTMLElement} badge
 * @param {Stream | null} stream a played stream, null when there is none
 */
export function showMuteBadge(badge, stream) {
  const text = mutedText(stream);
  badge.textContent = text;
  badge.hidden = !text;
}

/**
 * Mic and camera mute toggles of the page's publishing stream (`stream()`): muteAudio() / unmuteAudio() and
 * muteVideo() / unmuteVideo() of our SDK, which disable the local track and tell the stream's players. `render()`
 * updates them (enabled while the stream is live); `onChange()` runs after a click.
 * @param {() => Stream | null} stream
 * @param {Log} log
 * @param {() => void} onChange
 */
export function createMuteToggles(stream, log, onChange) {
  const mic = el("button", { type: "button", className: "mute-toggle" });
  const camera = el("button", { type: "button", className: "mute-toggle" });
  mic.dataset.kind = "audio";
  camera.dataset.kind = "video";
  const render = () => {
    const s = stream();
    const live = s !== null && s.published() && isLive(s);
    const audio = live && s.isAudioMuted();
    const video = live && s.isVideoMuted();
    mic.disabled = !live;
    camera.disabled = !live;
    mic.textContent = audio ? "Unmute mic" : "Mute mic";
    camera.textContent = video ? "Unmute video" : "Mute video";
    mic.setAttribute("aria-pressed", String(audio));
    camera.setAttribute("aria-pressed", String(video));
  };
  /** @param {"audio" | "video"} kind */
  const toggle = (kind) => {
    const s = stream();
    if (!s || !isLive(s)) return;
    const muted = kind === "audio" ? s.isAudioMuted() : s.isVideoMuted();
    if (kind === "audio") muted ? s.unmuteAudio() : s.muteAudio();
    else muted ? s.unmuteVideo() : s.muteVideo();
    log.record(`publish ${s.name()} ${muted ? "unmute" : "mute"} ${kind}`);
    render();
    onChange();
  };
  mic.addEventListener("click", () => toggle("audio"));
  camera.addEventListener("click", () => toggle("video"));
  render();
  return { element: el("span", { className: "buttons mute-toggles" }, mic, camera), render };
}

/**
 * A stream as `state()` reports it.
 * @param {Stream | null} stream
 */
export function streamState(stream) {
  return stream
    ? { id: stream.id(), name: stream.name(), status: stream.status(), info: stream.getInfo() ?? "", error: stream.getErrorInfo() ?? "" }
    : null;
}

/**
 * true when `stream` FAILED while its session is still up (a lost session's own message says it all).
 * @param {Stream} stream
 * @param {Session | RoomSession | null} session
 */
export const failedOnItsOwn = (stream, session) =>
  stream.status() === STREAM_STATUS.FAILED && session?.status() === SESSION_STATUS.ESTABLISHED;

/** @type {WeakMap<Stream, FrameMemo>} */
const frameMemos = new WeakMap();

/**
 * The memo that keeps `stream`'s last frame counter for {@link videoState} ({} for no stream).
 * @param {Stream | null} stream
 * @returns {FrameMemo}
 */
export function frameMemo(stream) {
  if (!stream) return {};
  let memo = frameMemos.get(stream);
  if (!memo) frameMemos.set(stream, (memo = {}));
  return memo;
}

/**
 * Size of a stream's <video> and its frame counter (players: frames decoded; publishers: frames encoded), for
 * `state()`. The frame counter is kept from the last reading once the peer connection is gone.
 * @param {Stream | null} stream
 * @param {FrameMemo} [memo]
 */
export async function videoState(stream, memo = {}) {
  const video = stream?.getVideoElement();
  if (stream?.getPeerConnection()) {
    try {
      (await stream.getStats()).forEach((r) => {
        if (r.kind !== "video") return;
        if (r.type === "inbound-rtp") memo.frames = r.framesDecoded ?? 0;
        if (r.type === "outbound-rtp") memo.frames = r.framesEncoded ?? 0;
      });
    } catch {
      // closed meanwhile
    }
  }
  return { videoWidth: video?.videoWidth ?? 0, videoHeight: video?.videoHeight ?? 0, frames: memo.frames ?? 0 };
}

/**
 * How a stream's media travels, for `state()`: the candidate types of the selected ICE pair (`local` "relay" = through
 * the TURN server, with `relayProtocol` the transport to it: "udp", "tcp" or "tls"); null before ICE has chosen.
 * @param {Stream | null} stream
 * @returns {Promise<{ local: string, remote: string, relayProtocol: string | null, protocol: string } | null>}
 */
export async function routeState(stream) {
  if (!stream?.getPeerConnection()) return null;
  try {
    const report = await stream.getStats();
    /** @type {Map<string, any>} */
    const byId = new Map();
    report.forEach((r) => byId.set(r.id, r));
    const transport = [...byId.values()].find((r) => r.type === "transport" && r.selectedCandidatePairId);
    const pair = transport ? byId.get(transport.selectedCandidatePairId) : undefined;
    const local = pair && byId.get(pair.localCandidateId);
    const remote = pair && byId.get(pair.remoteCandidateId);
    if (!local || !remote) return null;
    return { local: local.candidateType, remote: remote.candidateType, relayProtocol: local.relayProtocol ?? null, protocol: local.protocol };
  } catch {
    return null; // closed meanwhile
  }
}

/**
 * "640×480" for a <video> that shows something, else "".
 * @param {HTMLVideoElement | undefined} video
 */
export function resolutionText(video) {
  return video && video.videoWidth > 0 ? `${video.videoWidth}×${video.videoHeight}` : "";
}
