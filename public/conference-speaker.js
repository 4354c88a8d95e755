// @ts-check
// Active speaker of the Conference page: the audio level (public/audio-level.js) of every received stream and of our
// own microphone, read ten times a second; the loudest one above a threshold becomes the active speaker, and stays
// it for a hold time unless someone else is clearly louder, so the highlight does not flicker between people.

import { createAudioLevel } from "/audio-level.js";

/** RMS level (0…1) above which someone counts as speaking (speech is about 0.02–0.3; room noise below 0.01). */
export const SPEAKING_LEVEL = 0.02;
/** How long (ms) the active speaker keeps the highlight before a quieter change is allowed. */
export const HOLD_MS = 1500;
/** How often (ms) the levels are read. */
const INTERVAL_MS = 100;
/** Smoothing of each level between readings (exponential moving average weight of the new reading). */
const SMOOTHING = 0.4;

/**
 * Picks the speaker among `levels` (smoothed RMS per key): the loudest key at or above {@link SPEAKING_LEVEL}; the
 * `current` speaker is kept while `now - since < HOLD_MS` unless the loudest is twice as loud, and kept after the hold
 * while still speaking and not out-spoken. Returns the key or null (nobody speaking).
 * @param {Map<string, number>} levels
 * @param {string | null} current
 * @param {number} since when `current` became the speaker (ms, same clock as `now`)
 * @param {number} now ms
 * @returns {string | null}
 */
export function pickSpeaker(levels, current, since, now) {
  let loudest = null;
  let max = 0;
  for (const [key, level] of levels) {
    if (level >= SPEAKING_LEVEL && level > max) {
      loudest = key;
      max = level;
    }
  }
  const currentLevel = current !== null ? levels.get(current) ?? 0 : 0;
  if (current !== null && levels.has(current)) {
    const held = now - since < HOLD_MS;
    if (held && !(loudest !== null && loudest !== current && max > 2 * currentLevel)) return current;
    if (currentLevel >= SPEAKING_LEVEL && (loudest === current || max <= currentLevel * 1.5)) return current;
  }
  return loudest;
}

/**
 * Follows the audio levels of the streams given to `watch(key, mediaStream)` and calls `onChange(key | null)` when the
 * active speaker changes. `level(key)` is the smoothed level (0…1) of one of them.
 * @param {(key: string | null) => void} onChange
 */
export function createSpeakerDetector(onChange) {
  /** @type {Map<string, { reader: ReturnType<typeof createAudioLevel>, track: MediaStreamTrack | undefined, level: number }>} */
  const watched = new Map();
  /** @type {string | null} */
  let speaker = null;
  let since = 0;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let timer;

  function tick() {
    /** @type {Map<string, number>} */
    const levels = new Map();
    for (const [key, w] of watched) {
      w.level = w.level * (1 - SMOOTHING) + w.reader.level() * SMOOTHING;
      levels.set(key, w.level);
    }
    const now = performance.now();
    const next = pickSpeaker(levels, speaker, since, now);
    if (next !== speaker) {
      speaker = next;
      since = now;
      onChange(speaker);
    }
  }

  return {
    /**
     * Follows the first audio track of `media` under `key` (again only when the track changed).
     * @param {string} key
     * @param {MediaStream | null | undefined} media
     */
    watch(key, media) {
      const track = media?.getAudioTracks()[0];
      const old = watched.get(key);
      if (old && old.track === track) return;
      this.unwatch(key);
      if (!media || !track) return;
      watched.set(key, { reader: createAudioLevel(media), track, level: 0 });
      timer ??= setInterval(tick, INTERVAL_MS);
    },
    /** @param {string} key */
    unwatch(key) {
      const w = watched.get(key);
      if (!w) return;
      w.reader.close();
      watched.delete(key);
      if (watched.size === 0) {
        clearInterval(timer);
        timer = undefined;
      }
      if (speaker === key) {
        speaker = null;
        onChange(null);
      }
    },
    /** The active speaker's key, or null. */
    current: () => speaker,
    /** @param {string} key */
    level: (key) => watched.get(key)?.level ?? 0,
    /** The smoothed level of every watched key, rounded to 3 decimals (for diagnostics). */
    levels: () => Object.fromEntries([...watched].map(([key, w]) => [key, Math.round(w.level * 1000) / 1000])),
  };
}
