// @ts-check
// Audio levels for the demo pages: a Web Audio AnalyserNode on a MediaStream's audio track
// (https://webaudio.github.io/web-audio-api/#AnalyserNode). A reading is the loudest 1024-sample block (about 21 ms)
// of the last 8192 samples (about 170 ms at 48 kHz): the window is longer than the pages' 100 ms between readings, so
// no sound falls between two of them, and a short syllable (or a 20 ms test beep) is not averaged away. Used for the
// microphone meter of a publisher and for the active speaker of a conference (levels of the received tracks).
// Chromium gives Web Audio the samples of a remote WebRTC track only while the track also plays in a media element;
// the SDK's <video> of a played stream does that.

import { el } from "/common.js";

/** Samples the analyser keeps (a power of two, as AnalyserNode requires): about 170 ms at 48 kHz. */
const WINDOW_SAMPLES = 8192;
/** Samples per block whose RMS is one candidate level: about 21 ms at 48 kHz. */
const BLOCK_SAMPLES = 1024;

/** @type {AudioContext | null} */
let context = null;

/**
 * The pages' one AudioContext. Browsers start it suspended until the person interacts with the page (autoplay
 * policy); the first click or key press resumes it.
 */
function audioContext() {
  if (!context) {
    context = new AudioContext();
    const resume = () => void context?.resume().catch(() => undefined);
    addEventListener("pointerdown", resume, { capture: true });
    addEventListener("keydown", resume, { capture: true });
  }
  if (context.state === "suspended") void context.resume().catch(() => undefined);
  return context;
}

/**
 * A level reader on `stream`'s first audio track: `level()` is the RMS of the latest samples, 0 (silence) … 1 (full
 * scale); `close()` disconnects it. With no audio track, `level()` is always 0.
 * @param {MediaStream} stream
 */
export function createAudioLevel(stream) {
  const track = stream.getAudioTracks()[0];
  if (!track) return { level: () => 0, close: () => undefined };
  const ctx = audioContext();
  // a stream of the track alone: the analyser follows this track even if the page's stream gets others
  const source = ctx.createMediaStreamSource(new MediaStream([track]));
  const analyser = ctx.createAnalyser();
  analyser.fftSize = WINDOW_SAMPLES;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  return {
    /** RMS of the loudest {@link BLOCK_SAMPLES}-sample block in the latest {@link WINDOW_SAMPLES}, 0…1 (0 while the track is disabled or ended). */
    level() {
      if (!track.enabled || track.readyState === "ended") return 0;
      analyser.getFloatTimeDomainData(samples);
      let loudest = 0;
      for (let start = 0; start < samples.length; start += BLOCK_SAMPLES) {
        let sum = 0;
        for (const v of samples.subarray(start, start + BLOCK_SAMPLES)) sum += v * v;
        loudest = Math.max(loudest, sum / BLOCK_SAMPLES);
      }
      return Math.min(1, Math.sqrt(loudest));
    },
    close() {
      source.disconnect();
    },
  };
}

/**
 * A microphone meter: a labelled <meter> (`element`) that shows the level of the stream given to `attach()` ten
 * times a second, scaled so that speech fills most of it; `attach(null)` empties it.
 * @param {string} label the meter's accessible name ("Microphone level")
 */
export function createAudioMeter(label) {
  const meter = el("meter", { min: 0, max: 1, low: 0.6, high: 0.85, optimum: 0.3, value: 0 });
  meter.setAttribute("aria-label", label);
  meter.className = "audio-meter";
  /** @type {ReturnType<typeof createAudioLevel> | null} */
  let reader = null;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let timer;
  return {
    element: meter,
    /** @param {MediaStream | null} stream */
    attach(stream) {
      reader?.close();
      clearInterval(timer);
      reader = stream ? createAudioLevel(stream) : null;
      meter.value = 0;
      if (!reader) return;
      const r = reader;
      // speech peaks at about 0.1–0.3 RMS: a square-root scale makes it visible
      timer = setInterval(() => {
        meter.value = Math.min(1, Math.sqrt(r.level()) * 1.6);
      }, 100);
    },
  };
}
