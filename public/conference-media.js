// @ts-check
// The Conference page's own camera and microphone: one MediaStream, captured with getUserMedia from the devices
// chosen in the pickers (public/devices.js), shown in the pre-join preview and published into the room as is (the
// StreamOptions `stream`), so the call uses exactly what the person saw. Before joining, turning a device off stops
// its track (the camera light goes out); in the call the SDK mutes instead (muteAudio() / muteVideo() disable the
// track and tell the other participants), and the published stream keeps both tracks.

import { describeMediaError } from "/common.js";
import { deviceConstraints } from "/devices.js";

/** @typedef {"audio" | "video"} Kind */

/**
 * @param {object} options
 * @param {{ deviceId(): string }} options.mic the microphone picker
 * @param {{ deviceId(): string }} options.camera the camera picker
 * @param {(line: string) => void} options.log
 * @param {() => void} options.onChange called after the tracks or the wanted state changed
 */
export function createLocalMedia({ mic, camera, log, onChange }) {
  const stream = new MediaStream();
  /** What the person wants on (the toggles), per kind. */
  const want = { audio: true, video: true };
  /** The last capture error, a sentence ("" for none). */
  let error = "";
  /** The capture under way (so two clicks do not open the devices twice). @type {Promise<boolean> | undefined} */
  let capturing;

  /** @param {Kind} kind */
  const track = (kind) => (kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks()).find((t) => t.readyState === "live");

  /** @param {Kind} kind */
  function drop(kind) {
    for (const t of kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks()) {
      t.stop();
      stream.removeTrack(t);
    }
  }

  /**
   * Opens the chosen devices of `kinds` that have no live track (one getUserMedia call,
   * https://w3c.github.io/mediacapture-main/#dom-mediadevices-getusermedia); a failure is kept in `error()`.
   * @param {Kind[]} kinds
   */
  async function capture(kinds) {
    const missing = kinds.filter((k) => !track(k));
    if (missing.length === 0) return true;
    const c = deviceConstraints(mic, camera);
    try {
      const media = await navigator.mediaDevices.getUserMedia({
        audio: missing.includes("audio") ? c.audio : false,
        video: missing.includes("video") ? c.video : false,
      });
      for (const t of media.getTracks()) {
        const kind = /** @type {Kind} */ (t.kind);
        if (track(kind)) t.stop(); // captured meanwhile by another call
        else stream.addTrack(t);
      }
      error = "";
      log(`captured ${missing.join(" + ")}: ${media.getTracks().map((t) => t.label).join(", ")}`);
      return true;
    } catch (e) {
      error = describeMediaError(e);
      log(`capture ${missing.join(" + ")} failed: ${error}`);
      return false;
    } finally {
      onChange();
    }
  }

  return {
    stream,
    want,
    /** The last capture error ("" for none). */
    error: () => error,
    /**
     * The label of the live track of `kind` (the device in use), "" when none.
     * @param {Kind} kind
     */
    label: (kind) => track(kind)?.label ?? "",
    /**
     * Before joining: turns `kind` on (captures it) or off (stops its track). false when it could not be opened
     * (`error()` says why; it is then off).
     * @param {Kind} kind
     * @param {boolean} on
     */
    async preview(kind, on) {
      want[kind] = on;
      if (!on) drop(kind);
      const ok = on ? await this.sync() : true;
      onChange();
      return ok;
    },
    /** Captures every wanted kind that has no live track (one getUserMedia call); a kind that fails is turned off. */
    async sync() {
      while (capturing) await capturing;
      const kinds = /** @type {Kind[]} */ (["audio", "video"]).filter((k) => want[k] && !track(k));
      if (kinds.length === 0) return true;
      capturing = capture(kinds);
      let ok = false;
      try {
        ok = await capturing;
      } finally {
        capturing = undefined;
      }
      for (const k of kinds) {
        if (!want[k]) drop(k); // turned off while it opened
        else if (!track(k)) want[k] = false;
      }
      return ok;
    },
    /**
     * Re-opens `kind` on the newly chosen device (before joining), when it is on and not on that device already.
     * @param {Kind} kind
     * @param {string} deviceId the chosen device ("" = default: any device will do)
     */
    async switchDevice(kind, deviceId) {
      const t = track(kind);
      if (!want[kind] || (t && (!deviceId || t.getSettings().deviceId === deviceId))) return;
      drop(kind);
      await this.preview(kind, true);
    },
    /**
     * For publishing: both tracks (the one turned off disabled), so either can be turned on in the call. Opens what
     * is missing (both at once, else each alone); false when neither could be opened.
     */
    async forCall() {
      while (capturing) await capturing;
      const kinds = /** @type {Kind[]} */ (["audio", "video"]);
      if (!(await capture(kinds))) for (const k of kinds) await capture([k]);
      for (const kind of kinds) {
        const t = track(kind);
        if (t) t.enabled = want[kind];
      }
      return kinds.some((k) => track(k));
    },
    /** Back to the pre-join preview after a call: tracks of devices turned off are stopped, the others enabled. */
    afterCall() {
      for (const kind of /** @type {Kind[]} */ (["audio", "video"])) {
        if (!want[kind]) drop(kind);
        const t = track(kind);
        if (t) t.enabled = true;
      }
      onChange();
    },
  };
}

/** @typedef {ReturnType<typeof createLocalMedia>} LocalMedia */
