// @ts-check
// The other participants of a Conference call: a tile per participant (their camera, else their initials), a stage
// tile per screen share (a stream whose name ends with "-screen"; any further stream of theirs too), and our players
// of their streams — started for new streams, stopped for gone ones, left to the SDK while auto-restore brings one
// back, with a "Play again" button for one that failed.

import { STREAM_STATUS } from "/sdk/wcs-sdk.mjs";
import { describeStreamFailure, el, isLive, mutedText, watchStream } from "/common.js";
import { isScreenName } from "/conference-screen.js";
import { createTile } from "/conference-tiles.js";

/** @import { ParticipantStream, Room, Stream } from "/sdk/wcs-sdk.mjs" */
/** @import { Log } from "/common.js" */
/** @import { Tile } from "/conference-tiles.js" */

/**
 * A played stream of another participant: its camera (shown in the participant's tile) or a screen share (on the
 * stage, in a tile of its own).
 * @typedef {object} Remote
 * @property {string} login
 * @property {string} name the stream's name
 * @property {"camera" | "screen"} kind
 * @property {ParticipantStream} source
 * @property {Stream | null} stream our player of it
 * @property {Tile} tile
 * @property {HTMLButtonElement} retry
 */
/**
 * Another participant: the tile (video or avatar), the camera stream, the screen shares.
 * @typedef {object} Member
 * @property {string} login
 * @property {Tile} tile
 * @property {Remote | null} camera
 * @property {Map<string, Remote>} stage the participant's other streams (screen shares), by name
 */

/**
 * @param {object} options
 * @param {Log} options.log
 * @param {{ watch(key: string, media: MediaStream | undefined): void, unwatch(key: string): void }} options.speaker the
 *   active speaker detector (keys: logins)
 * @param {() => boolean} options.canPlay whether players can start now (the session is ESTABLISHED)
 * @param {() => void} options.onChange after participants or tiles came or went
 * @param {() => void} options.onStatus after a player's status or stream event
 */
export function createMembers({ log, speaker, canPlay, onChange, onStatus }) {
  /** The other participants, in the order they came. @type {Map<string, Member>} */
  const members = new Map();

  /**
   * Brings the tiles and players in line with the room's participants and their streams: a tile per participant (their
   * camera, else their initials), a stage tile per screen share; players started for new streams, stopped for gone
   * ones. Called after every room event (and after a re-join, whose STATE may differ from before).
   * @param {Room} room
   */
  function sync(room) {
    const participants = room.getParticipants();
    const present = new Set(participants.map((p) => p.name()));
    for (const login of [...members.keys()]) if (!present.has(login)) removeMember(login);
    for (const p of participants) {
      const login = p.name();
      let m = members.get(login);
      if (!m) {
        m = { login, tile: createTile({ name: login, kind: "camera" }), camera: null, stage: new Map() };
        m.tile.element.dataset.login = login;
        members.set(login, m);
      }
      const streams = p.getStreams();
      const camera = streams.find((s) => !isScreenName(s.streamName())) ?? null;
      if (m.camera && m.camera.name !== camera?.streamName()) {
        stopRemote(m.camera);
        m.camera = null;
      }
      if (camera) play((m.camera ??= newRemote(m, camera, "camera", m.tile)), camera);
      const shared = streams.filter((s) => s !== camera);
      for (const [name, r] of [...m.stage]) {
        if (shared.some((s) => s.streamName() === name)) continue;
        stopRemote(r);
        r.tile.dispose();
        m.stage.delete(name);
      }
      for (const s of shared) {
        let r = m.stage.get(s.streamName());
        if (!r) {
          const tile = createTile({ name: `${login}'s screen`, kind: "screen" });
          tile.setName(`${login}'s screen`, login);
          tile.element.dataset.screen = login;
          m.stage.set(s.streamName(), (r = newRemote(m, s, "screen", tile)));
        }
        play(r, s);
      }
    }
    onChange();
  }

  /**
   * A new Remote of member `m` shown in `tile`, with a "Play again" button for a player that failed.
   * @param {Member} m
   * @param {ParticipantStream} source
   * @param {"camera" | "screen"} kind
   * @param {Tile} tile
   * @returns {Remote}
   */
  function newRemote(m, source, kind, tile) {
    const retry = el("button", { type: "button", textContent: "Play again", hidden: true });
    retry.setAttribute("aria-label", `Play ${m.login}'s ${kind === "screen" ? "screen" : "camera"} again`);
    tile.extras.replaceChildren(retry);
    /** @type {Remote} */
    const r = { login: m.login, name: source.streamName(), kind, source, stream: null, tile, retry };
    retry.addEventListener("click", () => play(r, r.source, true));
    return r;
  }

  /**
   * Plays `source` in its tile unless our player of it is live or being restored by the SDK.
   * @param {Remote} r
   * @param {ParticipantStream} source
   * @param {boolean} [again] the person asked to play it again
   */
  function play(r, source, again = false) {
    r.source = source;
    if (!again && r.stream && (isLive(r.stream) || r.stream.isRestoring())) return;
    if (!canPlay()) return;
    r.stream?.stop();
    r.retry.hidden = true;
    log.record(`play ${r.name} (${r.login}, ${r.kind})`);
    const options = r.kind === "screen" ? { receiveAudio: false } : {};
    r.stream = watchStream(source.play(r.tile.display, options), log, (s) => onRemoteStatus(r, s));
    onRemoteStatus(r, r.stream);
  }

  /**
   * @param {Remote} r
   * @param {Stream} stream
   */
  function onRemoteStatus(r, stream) {
    if (r.stream !== stream) return;
    const playing = stream.status() === STREAM_STATUS.PLAYING;
    const restoringStream = stream.isRestoring();
    r.tile.setVideo(playing && stream.getVideoState()?.muted !== true);
    r.tile.setMuted(isLive(stream) ? mutedText(stream) : "");
    r.tile.status.textContent = playing ? "" : restoringStream ? "reconnecting…" : isLive(stream) ? "connecting…" : describeStreamFailure(stream);
    r.retry.hidden = isLive(stream) || restoringStream;
    if (r.kind === "camera") {
      if (playing) speaker.watch(r.login, stream.getRemoteMediaStream());
      else if (!restoringStream) speaker.unwatch(r.login);
    }
    onStatus();
  }

  /** @param {Remote} r */
  function stopRemote(r) {
    const s = r.stream;
    r.stream = null;
    s?.stop();
    if (r.kind === "camera") speaker.unwatch(r.login);
    r.tile.setVideo(false);
    r.tile.setMuted("");
    r.tile.status.textContent = "";
    r.retry.hidden = true;
    log.record(`stopped playing ${r.name}`);
  }

  /** @param {string} login */
  function removeMember(login) {
    const m = members.get(login);
    if (!m) return;
    members.delete(login);
    if (m.camera) stopRemote(m.camera);
    for (const r of m.stage.values()) {
      stopRemote(r);
      r.tile.dispose();
    }
    m.tile.dispose();
    log.record(`removed ${login}`);
    onChange();
  }

  return {
    sync,
    /** The participants, in the order they came. */
    all: () => members.values(),
    count: () => members.size,
    /** Stops every player and removes every tile (we left the room). */
    clear() {
      for (const login of [...members.keys()]) removeMember(login);
    },
  };
}
