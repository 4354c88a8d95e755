// Helpers shared by the demo pages (Streamer, Two Way Streaming, Player, Conference). The pages use our SDK
// (/sdk/wcs-sdk.mjs, built from client/); this file only adds page-level things: readable error texts, status
// outputs, the debug log behind `window.<page>.state()`, video statistics.

import { ERROR_INFO, SESSION_STATUS, STREAM_STATUS, STREAM_STATUS_INFO } from "/sdk/wcs-sdk.mjs";

/** Stream statuses after which a stream is over. */
export const TERMINAL = new Set([STREAM_STATUS.UNPUBLISHED, STREAM_STATUS.STOPPED, STREAM_STATUS.FAILED]);

/** true while `stream` exists and has not ended. */
export const isLive = (stream) => stream != null && !TERMINAL.has(stream.status());

/** ws(s)://host/ of the page's own origin: the worker serving the page also speaks WCS signaling. */
export function serverUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
}

/** A random 4-hex-digit suffix for default names. */
export const random4 = () => Math.random().toString(16).slice(2, 6).padEnd(4, "0");

/** A sentence for a getUserMedia failure. */
export function describeMediaError(e) {
  switch (e?.name) {
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
      return `Could not open the camera/microphone: ${e?.message ?? e}`;
  }
}

/**
 * Platform override for createSession/roomApi.connect: the browser's getUserMedia, with its errors turned into
 * sentences a person can act on (the SDK's `stream.getErrorInfo()` would give "NotAllowedError: Permission denied").
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

/** A sentence for a session that went down (`everEstablished`: it had been connected). */
export function describeSessionLoss(status, url, everEstablished) {
  if (!everEstablished) return `Could not connect to the server at ${url}.`;
  return status === SESSION_STATUS.FAILED
    ? "The connection to the server failed."
    : "Disconnected from the server.";
}

/**
 * A sentence for a stream that ended FAILED (or undefined when there is nothing to tell the user).
 * @param {import("/sdk/wcs-sdk.mjs").Stream} stream
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

/** Shows `status` (and `info`) in an <output>; CSS colours it by `data-status`. */
export function showStatus(output, status, info) {
  output.textContent = info ? `${status} (${info})` : status;
  output.dataset.status = status;
}

/** Shows a stream's status (or "—" when there is none). */
export function showStreamStatus(output, stream) {
  if (!stream) showStatus(output, "—");
  else showStatus(output, stream.status(), stream.getInfo());
}

/** The page's debug log (kept for `state().history` and echoed to the console). */
export function createLog(page) {
  const lines = [];
  return {
    lines,
    record(line) {
      lines.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
      if (lines.length > 300) lines.shift();
      console.log(`${page}: ${line}`);
    },
  };
}

/** The alert box of a page: `show("…")`, `show("")` hides it; `text()` is what is shown. */
export function createErrorBox(element, log) {
  return {
    show(message) {
      if (message) log.record(`error: ${message}`);
      element.textContent = message;
      element.hidden = !message;
    },
    text() {
      return element.hidden ? "" : element.textContent;
    },
  };
}

export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

/** Logs every status of `stream` and calls `onChange(stream)`. */
export function watchStream(stream, log, onChange) {
  for (const status of Object.values(STREAM_STATUS)) {
    if (status === STREAM_STATUS.NEW) continue;
    stream.on(status, (s) => {
      log.record(`${s.published() ? "publish" : "play"} ${s.name()} ${s.status()}${s.getInfo() ? ` (${s.getInfo()})` : ""}`);
      onChange(s);
    });
  }
  return stream;
}

/** A stream as `state()` reports it. */
export function streamState(stream) {
  return stream
    ? { id: stream.id(), name: stream.name(), status: stream.status(), info: stream.getInfo() ?? "", error: stream.getErrorInfo() ?? "" }
    : null;
}

/**
 * Size of a stream's <video> and its frame counter (players: frames decoded; publishers: frames encoded), for
 * `state()`. The frame counter is kept from the last reading once the peer connection is gone.
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

/** "640×480" for a <video> that shows something, else "". */
export function resolutionText(video) {
  return video && video.videoWidth > 0 ? `${video.videoWidth}×${video.videoHeight}` : "";
}
