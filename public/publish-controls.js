// @ts-check
// What the Streamer and Two Way Streaming pages show around a publisher: the camera and microphone pickers
// (devices.js; the publish opens the chosen devices), the microphone level of the captured stream (audio-level.js)
// and the getStats readouts of what is sent and received (stats-readout.js).

import { el, isLive } from "/common.js";
import { createAudioMeter } from "/audio-level.js";
import { createDevicePicker, deviceConstraints } from "/devices.js";
import { createStatsReadout } from "/stats-readout.js";

/** @import { Stream } from "/sdk/wcs-sdk.mjs" */

/**
 * `control` after a visible name ("Sending", "Microphone"), as one item of a `.figures` line.
 * @param {string} name
 * @param {HTMLElement} control
 */
const figure = (name, control) => el("span", {}, el("span", { className: "figure-name" }, `${name}: `), control);

/**
 * The controls of a publisher: camera and microphone pickers appended to `devices` (ids "camera" and "microphone"),
 * the microphone meter and the "Sending" readout appended to `figures`. `constraints()` are the getUserMedia
 * constraints of the chosen devices (the stream's `constraints`); call `render()` after each status of the
 * publisher: the pickers are disabled while it is live, the meter follows its captured MediaStream, and the device
 * lists are read again once it has captured (browsers name the devices only after camera/microphone access).
 * @param {object} options
 * @param {HTMLElement} options.devices
 * @param {HTMLElement} options.figures
 * @param {() => Stream | null} options.publisher
 */
export function createPublishControls({ devices, figures, publisher }) {
  const camera = createDevicePicker({ kind: "videoinput", id: "camera", label: "Camera" });
  const mic = createDevicePicker({ kind: "audioinput", id: "microphone", label: "Microphone" });
  devices.append(camera.element, mic.element);
  const meter = createAudioMeter("Microphone level");
  const sending = createStatsReadout(publisher, "Sending");
  figures.append(figure("Microphone", meter.element), figure("Sending", sending.element));
  /** The MediaStream the meter shows. @type {MediaStream | null} */
  let metered = null;
  return {
    constraints: () => deviceConstraints(mic, camera),
    render() {
      const s = publisher();
      const live = isLive(s);
      camera.select.disabled = live;
      mic.select.disabled = live;
      const local = (live && s?.getLocalMediaStream()) || null;
      if (local === metered) return;
      if (local) void Promise.all([camera.refresh(), mic.refresh()]);
      metered = local;
      meter.attach(local);
    },
  };
}

/**
 * A "Receiving" readout of the stream `player()` returns, appended to `figures`.
 * @param {HTMLElement} figures
 * @param {() => Stream | null} player
 */
export function createReceivingFigures(figures, player) {
  figures.append(figure("Receiving", createStatsReadout(player, "Receiving").element));
}
