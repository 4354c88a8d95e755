// @ts-check
// Camera and microphone pickers shared by the demo pages: <select>s filled from navigator.mediaDevices.enumerateDevices()
// (https://w3c.github.io/mediacapture-main/#dom-mediadevices-enumeratedevices), the choice remembered in localStorage
// per device kind, and the getUserMedia constraints that open the chosen devices.

import { el } from "/common.js";

/** @typedef {"audioinput" | "videoinput"} DeviceKind */

/** localStorage key of the remembered device of a kind. @param {DeviceKind} kind */
const storageKey = (kind) => `wcs-edge.device.${kind}`;

/** @param {DeviceKind} kind */
function remembered(kind) {
  try {
    return localStorage.getItem(storageKey(kind)) ?? "";
  } catch {
    return ""; // storage blocked (private mode, sandboxed frame)
  }
}

/**
 * @param {DeviceKind} kind
 * @param {string} deviceId "" forgets the choice
 */
function remember(kind, deviceId) {
  try {
    if (deviceId) localStorage.setItem(storageKey(kind), deviceId);
    else localStorage.removeItem(storageKey(kind));
  } catch {
    // storage blocked: the choice lasts for this page only
  }
}

/**
 * A labelled device picker: `element` (a <div> with a <label> and a <select id={id}>), `deviceId()` (the chosen
 * device, "" for the browser's default), `refresh()` (re-reads the device list; labels appear once the page has camera
 * or microphone access), `onChange(cb)`. The choice is remembered per kind across visits.
 * @param {object} options
 * @param {DeviceKind} options.kind
 * @param {string} options.id the <select>'s id
 * @param {string} options.label visible label ("Camera", "Microphone")
 */
export function createDevicePicker({ kind, id, label }) {
  const select = document.createElement("select");
  select.id = id;
  const caption = document.createElement("label");
  caption.htmlFor = id;
  caption.textContent = label;
  const element = document.createElement("div");
  element.className = "device-picker";
  element.append(caption, select);
  /** @type {((deviceId: string) => void)[]} */
  const listeners = [];
  select.addEventListener("change", () => {
    remember(kind, select.value);
    for (const cb of listeners) cb(select.value);
  });
  const picker = {
    element,
    select,
    /** The chosen deviceId, "" for the default device. */
    deviceId: () => select.value,
    /** @param {(deviceId: string) => void} cb called after the person picks another device */
    onChange(cb) {
      listeners.push(cb);
    },
    /** Re-reads the devices of this kind; keeps the current (or remembered) choice when that device is still there. */
    async refresh() {
      const want = select.value || remembered(kind);
      /** @type {MediaDeviceInfo[]} */
      let devices = [];
      try {
        devices = (await navigator.mediaDevices?.enumerateDevices?.()) ?? [];
      } catch {
        // no media devices API (plain HTTP on another host): the default device only
      }
      const mine = devices.filter((d) => d.kind === kind && d.deviceId !== "default" && d.deviceId !== "");
      const options = [el("option", { value: "", textContent: "Default" })];
      mine.forEach((d, i) => options.push(el("option", { value: d.deviceId, textContent: d.label || `${label} ${i + 1}` })));
      select.replaceChildren(...options);
      select.value = mine.some((d) => d.deviceId === want) ? want : "";
    },
  };
  navigator.mediaDevices?.addEventListener?.("devicechange", () => void picker.refresh());
  void picker.refresh();
  return picker;
}

/**
 * getUserMedia constraints for the chosen devices (`{audio: true, video: true}` for the defaults).
 * @param {{ deviceId(): string }} mic
 * @param {{ deviceId(): string }} camera
 * @returns {{ audio: boolean | MediaTrackConstraints, video: boolean | MediaTrackConstraints }}
 */
export function deviceConstraints(mic, camera) {
  const pick = (/** @type {string} */ id) => (id ? { deviceId: { exact: id } } : true);
  return { audio: pick(mic.deviceId()), video: pick(camera.deviceId()) };
}
