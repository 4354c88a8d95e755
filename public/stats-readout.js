// @ts-check
// A live readout of a stream's video from RTCPeerConnection.getStats() (https://w3c.github.io/webrtc-stats/): bitrate
// from the byte counter's growth between two reports, resolution and frame rate as the report gives them —
// outbound-rtp for a publisher (frameWidth/frameHeight/framesPerSecond of what is encoded), inbound-rtp for a player
// (of what is decoded).

import { el } from "/common.js";

/** @import { Stream } from "/sdk/wcs-sdk.mjs" */

/**
 * @typedef {object} VideoFigures
 * @property {number} kbps video bitrate over the last interval, kbit/s
 * @property {number} width frame width, px (0 when unknown)
 * @property {number} height frame height, px
 * @property {number} fps frames per second (0 when unknown)
 */

/**
 * "1,234 kbps · 640×480 · 30 fps" (parts that are unknown are left out; "" for nothing).
 * @param {VideoFigures} f
 */
export function figuresText(f) {
  const parts = [];
  if (f.kbps > 0) parts.push(`${Math.round(f.kbps).toLocaleString("en")} kbps`);
  if (f.width > 0) parts.push(`${f.width}×${f.height}`);
  if (f.fps > 0) parts.push(`${Math.round(f.fps)} fps`);
  return parts.join(" · ");
}

/**
 * A readout (`element`, an <output>) of the video figures of the stream returned by `stream()`, refreshed every
 * second (for the page's lifetime) while it has a peer connection; "—" otherwise.
 * @param {() => Stream | null} stream
 * @param {string} label the readout's accessible name ("Sending", "Receiving")
 */
export function createStatsReadout(stream, label) {
  const output = el("output", { className: "stats-readout", textContent: "—" });
  output.setAttribute("aria-label", label);
  // an <output> is a polite live region (role status): this one changes every second, so screen readers are told
  // not to announce it (it is still read when reached)
  output.setAttribute("aria-live", "off");
  /** The previous report's byte counter and time, per stream. @type {{ stream: Stream | null, bytes: number, t: number }} */
  let last = { stream: null, bytes: 0, t: 0 };
  const tick = async () => {
    const s = stream();
    if (!s?.getPeerConnection()) {
      output.textContent = "—";
      last = { stream: null, bytes: 0, t: 0 };
      return;
    }
    /** @type {VideoFigures} */
    const f = { kbps: 0, width: 0, height: 0, fps: 0 };
    let bytes = -1;
    let t = 0;
    try {
      (await s.getStats()).forEach((r) => {
        if (r.kind !== "video" || (r.type !== "outbound-rtp" && r.type !== "inbound-rtp")) return;
        bytes = r.type === "outbound-rtp" ? r.bytesSent ?? 0 : r.bytesReceived ?? 0;
        t = r.timestamp;
        f.width = r.frameWidth ?? 0;
        f.height = r.frameHeight ?? 0;
        f.fps = r.framesPerSecond ?? 0;
      });
    } catch {
      return; // closed meanwhile
    }
    if (bytes < 0) {
      output.textContent = "—";
      return;
    }
    if (last.stream === s && t > last.t && bytes >= last.bytes) f.kbps = ((bytes - last.bytes) * 8) / (t - last.t);
    last = { stream: s, bytes, t };
    output.textContent = figuresText(f) || "—";
  };
  setInterval(() => void tick(), 1000);
  return { element: output };
}
