/**
 * `wcs-edge`: a command-line WCS client on the Node SDK (client/node.ts: ws + @roamhq/wrtc). It stands in for native
 * mobile clients in tests and is a debugging tool for operators.
 *
 *   wcs-edge publish --name cam1 [--url ws://127.0.0.1:8787] [--source synthetic|FILE.y4m] [--width 640 --height 480 --fps 30] [--duration S]
 *   wcs-edge play    --name cam1 [--url …] [--duration S] [--json]
 *   wcs-edge room    --name room1 --login bob [--publish] [--play-all] [--say TEXT] [--duration S] [--json]
 *
 * Output: one human-readable line per event and per second of statistics on stdout (errors on stderr), or with
 * `--json` one JSON object per line on stdout (`{"type": "status" | "stats" | "summary" | "error" | …, "t": seconds
 * since start, …}`). Exit codes: 0 = done (duration reached, Ctrl-C, or the stream ended normally), 1 = a WCS or
 * connection failure (the server's `info` is printed, e.g. "Stream not found"), 2 = bad command line.
 *
 * Run through bin/wcs-edge.mjs (tsx). The process always ends with process.exit(): @roamhq/wrtc keeps the event loop
 * alive and can crash while exiting with live peer connections, so streams are stopped and sessions closed first.
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import wrtc from "@roamhq/wrtc";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { WebSocket as NodeWebSocket, type ClientOptions } from "ws";
import { Y4mReader } from "./cli-y4m.js";
import {
  createSession,
  createSyntheticVideoTrack,
  createToneAudioTrack,
  ROOM_EVENT,
  roomApi,
  STREAM_STATUS,
  STREAM_STATUS_INFO,
  watchVideoFrames,
  WcsError,
  type Logger,
  type Participant,
  type Room,
  type RoomSession,
  type Session,
  type Stream,
  type VideoFrameMonitor,
  type WebSocketConstructor,
} from "./node.js";

const DEFAULT_URL = "ws://127.0.0.1:8787";
const CONNECT_TIMEOUT_MS = 10_000;
const ACTIVE_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const elapsed = (): number => Math.round((Date.now() - t0) / 100) / 10;
const round1 = (n: number): number => Math.round(n * 10) / 10;

// ---------- output ----------

interface GlobalOptions {
  url: string;
  json?: boolean;
  verbose?: boolean;
}

/** Human lines or JSON lines on stdout; errors also on stderr. */
class Output {
  json = false;
  verbose = false;

  /** One event: `human` in text mode, `{type, t, ...fields}` in JSON mode. */
  event(type: string, fields: Record<string, unknown>, human: string): void {
    if (this.json) process.stdout.write(JSON.stringify({ type, t: elapsed(), ...fields }) + "\n");
    else process.stdout.write(`${human}\n`);
  }

  /** An error: always a line on stderr, plus `{type: "error", …}` on stdout in JSON mode. */
  error(message: string, fields: Record<string, unknown> = {}): void {
    process.stderr.write(`wcs-edge: error: ${message}\n`);
    if (this.json) process.stdout.write(JSON.stringify({ type: "error", t: elapsed(), message, ...fields }) + "\n");
  }

  /** Diagnostics (--verbose) on stderr. */
  debug(message: string): void {
    if (this.verbose) process.stderr.write(`wcs-edge: ${message}\n`);
  }
}

const out = new Output();

/** The SDK's logger: its warnings only with --verbose (the CLI reports failures itself), errors always. */
const sdkLogger: Logger = {
  debug: (m) => out.debug(`[sdk] ${m}`),
  warn: (m, ...d) => out.debug(`[sdk] ${m}${d.length ? ` ${d.map(String).join(" ")}` : ""}`),
  error: (m, ...d) => process.stderr.write(`wcs-edge: [sdk] ${m} ${d.map(String).join(" ")}\n`),
};

// ---------- lifecycle ----------

/** Work to undo before exiting, run last-in first-out. */
const cleanups: Array<() => Promise<unknown> | void> = [];
let exiting = false;

/** Runs the cleanups (bounded in time), then process.exit(code). Never returns; later calls wait for the first. */
async function finish(code: number): Promise<never> {
  if (exiting) return new Promise<never>(() => undefined); // the first finish() exits
  exiting = true;
  const all = (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        out.debug(`cleanup: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  })();
  await Promise.race([all, sleep(STOP_TIMEOUT_MS + 2000)]);
  await sleep(200); // let the last frames (unPublishStream, leave, socket close) go out
  process.exit(code);
}

/** Fails the command: prints the error and exits 1 after cleaning up. */
async function fail(message: string, fields: Record<string, unknown> = {}): Promise<never> {
  if (!exiting) out.error(message, fields);
  return finish(1);
}

function onSignals(onStop: () => void): void {
  let count = 0;
  const handler = (signal: NodeJS.Signals): void => {
    if (++count > 1) process.exit(130); // second Ctrl-C: no more waiting
    out.debug(`${signal}: stopping`);
    onStop();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}

// ---------- argument parsing ----------

/** A bad command line found after parsing (exit code 2). */
class UsageError extends Error {}

function positiveInt(name: string, min = 1, max = 100_000) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}.`);
    return n;
  };
}

function positiveNumber(name: string, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > max) throw new InvalidArgumentError(`${name} must be a number in (0, ${max}].`);
    return n;
  };
}

/** Checks the server URL: ws:// or wss://; http(s):// is accepted and switched to ws(s)://. */
function serverUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new InvalidArgumentError(`"${raw}" is not a URL (expected ws://host:port or wss://host).`);
  }
  if (u.protocol === "http:" || u.protocol === "https:") u.protocol = u.protocol === "http:" ? "ws:" : "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new InvalidArgumentError(`"${raw}" must be a ws:// or wss:// URL.`);
  }
  return u.href.replace(/\/$/, "");
}

// ---------- connecting ----------

/**
 * A ws WebSocket that remembers why it failed (the SDK reports only FAILED/DISCONNECTED, not the socket's error), and
 * times out a hanging handshake.
 */
function recordingWebSocket(): { WebSocket: WebSocketConstructor; lastError: () => string | undefined } {
  let lastError: string | undefined;
  class RecordingWebSocket extends NodeWebSocket {
    constructor(url: string) {
      const options: ClientOptions = { handshakeTimeout: CONNECT_TIMEOUT_MS };
      super(url, options);
      this.on("error", (e: Error) => (lastError = e.message || String(e)));
    }
  }
  return { WebSocket: RecordingWebSocket as unknown as WebSocketConstructor, lastError: () => lastError };
}

function connectionError(url: string, status: string, socketError: string | undefined): string {
  return `cannot connect to ${url}: ${socketError ?? `session ${status}`}`;
}

async function openSession(url: string): Promise<Session> {
  const ws = recordingWebSocket();
  out.debug(`connecting to ${url}`);
  const session = createSession({ urlServer: url, platform: { WebSocket: ws.WebSocket }, logger: sdkLogger, timeout: CONNECT_TIMEOUT_MS });
  cleanups.push(() => session.disconnect());
  try {
    await session.established(CONNECT_TIMEOUT_MS + 1000);
  } catch {
    return fail(connectionError(url, session.status(), ws.lastError()), { url, status: session.status(), info: ws.lastError() });
  }
  watchSession(session, url, ws.lastError);
  out.event("session", { status: "ESTABLISHED", url, sessionId: session.getUserData()?.sessionId }, `connected to ${url}`);
  return session;
}

/** A session that drops while the command runs ends it with an error. */
function watchSession(session: Session, url: string, lastError: () => string | undefined): void {
  const lost = (s: Session): void => {
    if (!exiting) void fail(`connection to ${url} lost (session ${s.status()}${lastError() ? `: ${lastError()}` : ""})`, { status: s.status() });
  };
  session.on("DISCONNECTED", lost).on("FAILED", lost);
}

/** Reports every status of `stream` as a `status` event. */
function reportStatuses(stream: Stream, role: string, extra: Record<string, unknown> = {}): void {
  for (const st of [STREAM_STATUS.PENDING, STREAM_STATUS.PUBLISHING, STREAM_STATUS.PLAYING, STREAM_STATUS.UNPUBLISHED, STREAM_STATUS.STOPPED, STREAM_STATUS.FAILED] as const) {
    stream.on(st, (s) => {
      const info = s.getInfo();
      const detail = s.getErrorInfo();
      out.event(
        "status",
        { role, name: s.name(), status: st, ...(info ? { info } : {}), ...(detail ? { detail } : {}), ...extra },
        `${role} ${s.name()}: ${st}${info ? ` (${info}${detail ? `: ${detail}` : ""})` : ""}`,
      );
    });
  }
}

/** Stops a stream and waits (bounded) for its final status. */
async function stopStream(stream: Stream): Promise<void> {
  stream.stop();
  await stream.ended(STOP_TIMEOUT_MS).catch(() => undefined);
}

function streamFailure(stream: Stream, e: unknown): string {
  const info = stream.getInfo() ?? (e instanceof WcsError ? e.info : undefined);
  const detail = stream.getErrorInfo();
  const base = info ?? (e instanceof Error ? e.message : String(e));
  return `${stream.published() ? "publish" : "play"} ${stream.name()} failed: ${base}${detail ? ` (${detail})` : ""}`;
}

// ---------- media sources ----------

interface MediaSource {
  stream: MediaStream;
  width: number;
  height: number;
  fps: number;
  label: string;
  framesSent(): number;
  stop(): void;
}

interface SourceOptions {
  source: string;
  width?: number;
  height?: number;
  fps?: number;
  audio: boolean;
}

function syntheticSource(o: SourceOptions): MediaSource {
  const video = createSyntheticVideoTrack({ width: o.width ?? 640, height: o.height ?? 480, fps: o.fps ?? 30 });
  const audio = o.audio ? createToneAudioTrack() : undefined;
  return {
    stream: new wrtc.MediaStream([audio?.track, video.track].filter((t): t is MediaStreamTrack => !!t)),
    width: video.width,
    height: video.height,
    fps: video.fps,
    label: `synthetic${audio ? " + 440 Hz tone" : ""}`,
    framesSent: () => video.framesSent(),
    stop() {
      video.stop();
      audio?.stop();
    },
  };
}

/** A .y4m file looped as the video track (paced by the wall clock at the file's or --fps rate), plus the tone. */
function y4mSource(path: string, o: SourceOptions): MediaSource {
  if (o.width !== undefined || o.height !== undefined) {
    throw new UsageError("--width/--height apply to the synthetic source only; a .y4m file has its own size.");
  }
  const reader = new Y4mReader(path);
  const { width, height } = reader.info;
  const fps = o.fps ?? reader.info.fps;
  const source = new wrtc.nonstandard.RTCVideoSource();
  const track = source.createTrack();
  const frame = new Uint8ClampedArray((width * height * 3) / 2);
  let next = 0;
  const start = performance.now();
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - start) * fps) / 1000);
    if (due <= next) return;
    next = due - next > 2 ? due - 1 : next; // after a stall, skip ahead instead of bursting
    for (; next < due; next++) {
      reader.frame(next, frame);
      // wrtc wants a Uint8ClampedArray for I420 data; its .d.ts says Uint8Array
      source.onFrame({ width, height, data: frame as unknown as Uint8Array });
    }
  }, Math.max(2, Math.floor(500 / fps)));
  const audio = o.audio ? createToneAudioTrack() : undefined;
  return {
    stream: new wrtc.MediaStream([audio?.track, track].filter((t): t is MediaStreamTrack => !!t)),
    width,
    height,
    fps,
    label: `${path} (${reader.info.frames} frames, looped)${audio ? " + 440 Hz tone" : ""}`,
    framesSent: () => next,
    stop() {
      clearInterval(timer);
      track.stop();
      audio?.stop();
      reader.close();
    },
  };
}

function openSource(o: SourceOptions): MediaSource {
  if (o.source === "synthetic") return syntheticSource(o);
  if (!/\.y4m$/i.test(o.source)) throw new UsageError(`--source must be "synthetic" or a .y4m file, not "${o.source}".`);
  return y4mSource(o.source, o);
}

// ---------- WebRTC statistics ----------

interface RtpStats {
  bytes: number;
  packets: number;
  frameWidth?: number;
  frameHeight?: number;
  framesPerSecond?: number;
}

/** The outbound (publisher) or inbound (player) RTP counters of one kind, from getStats(); null when unavailable. */
async function rtpStats(stream: Stream, kind: "audio" | "video"): Promise<RtpStats | null> {
  try {
    const report = await stream.getStats();
    const type = stream.published() ? "outbound-rtp" : "inbound-rtp";
    let found: RtpStats | null = null;
    report.forEach((s: Record<string, unknown>) => {
      if (found || s.type !== type || (s.kind ?? s.mediaType) !== kind) return;
      const n = (k: string): number | undefined => (typeof s[k] === "number" ? (s[k] as number) : undefined);
      found = {
        bytes: n(stream.published() ? "bytesSent" : "bytesReceived") ?? 0,
        packets: n(stream.published() ? "packetsSent" : "packetsReceived") ?? 0,
        frameWidth: n("frameWidth"),
        frameHeight: n("frameHeight"),
        framesPerSecond: n("framesPerSecond"),
      };
    });
    return found;
  } catch {
    // no peer connection (any more)
  }
  return null;
}

// ---------- received video ----------

/** Per-second frame rate and resolution of one played stream, plus the totals for the summary. */
class FrameMeter {
  readonly #monitor: VideoFrameMonitor;
  readonly #startedAt = Date.now();
  #lastFrames = 0;
  #lastAt = Date.now();
  #lastAudio: RtpStats | null = null;

  constructor(readonly player: Stream) {
    const remote = player.getRemoteMediaStream();
    if (!remote) throw new Error(`player ${player.name()} has no remote media`);
    this.#monitor = watchVideoFrames(remote);
  }

  /** Frames, fps and size since the previous call; audio packets per second when getStats has them. */
  async tick(): Promise<{ frames: number; fps: number; width: number; height: number; audioPacketsPerSecond?: number }> {
    const now = Date.now();
    const s = this.#monitor.stats();
    const dt = Math.max(1, now - this.#lastAt) / 1000;
    const fps = round1((s.frames - this.#lastFrames) / dt);
    this.#lastFrames = s.frames;
    this.#lastAt = now;
    const audio = await rtpStats(this.player, "audio");
    const prev = this.#lastAudio;
    this.#lastAudio = audio;
    const audioPacketsPerSecond = audio && prev ? round1((audio.packets - prev.packets) / dt) : undefined;
    return { frames: s.frames, fps, width: s.width, height: s.height, ...(audioPacketsPerSecond !== undefined ? { audioPacketsPerSecond } : {}) };
  }

  /** Totals: frames, average fps from the first frame on, last size, time to the first frame. */
  summary(): { frames: number; fps: number; width: number; height: number; seconds: number; firstFrameMs: number | null } {
    const s = this.#monitor.stats();
    const from = s.firstFrameAt ?? Date.now();
    const span = ((s.lastFrameAt ?? from) - from) / 1000;
    return {
      frames: s.frames,
      fps: s.frames > 1 && span > 0 ? round1((s.frames - 1) / span) : 0,
      width: s.width,
      height: s.height,
      seconds: round1((Date.now() - this.#startedAt) / 1000),
      firstFrameMs: s.firstFrameAt === null ? null : s.firstFrameAt - this.#startedAt,
    };
  }

  stop(): void {
    this.#monitor.stop();
  }
}

const fmtStats = (s: { width: number; height: number; fps: number; frames: number; audioPacketsPerSecond?: number }): string =>
  `${s.width}x${s.height}  ${s.fps.toFixed(1)} fps  ${s.frames} frames${s.audioPacketsPerSecond !== undefined ? `  audio ${s.audioPacketsPerSecond} pkt/s` : ""}`;

// ---------- commands ----------

interface PublishOptions extends GlobalOptions {
  name: string;
  source: string;
  width?: number;
  height?: number;
  fps?: number;
  audio: boolean;
  duration?: number;
}

async function publishCommand(o: PublishOptions): Promise<void> {
  out.json = !!o.json;
  out.verbose = !!o.verbose;
  let media: MediaSource;
  try {
    media = openSource(o);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    return fail(`--source ${o.source}: ${e instanceof Error ? e.message : String(e)}`);
  }
  cleanups.push(() => media.stop());
  onSignals(() => void finish(0));
  const session = await openSession(o.url);
  const stream = session.createStream({ name: o.name, stream: media.stream });
  reportStatuses(stream, "publish");
  cleanups.push(() => stopStream(stream));
  out.event(
    "source",
    { source: o.source, width: media.width, height: media.height, fps: media.fps },
    `publishing ${o.name}: ${media.width}x${media.height} @ ${media.fps} fps from ${media.label}`,
  );
  stream.publish();
  try {
    await stream.active(ACTIVE_TIMEOUT_MS);
  } catch (e) {
    return fail(streamFailure(stream, e), { name: o.name, info: stream.getInfo() ?? null });
  }
  void stream.ended().then((status) => {
    if (!exiting) void fail(`stream ${o.name} ended: ${status}${stream.getInfo() ? ` (${stream.getInfo()})` : ""}`, { name: o.name, status, info: stream.getInfo() ?? null });
  });

  let lastSent = media.framesSent();
  let lastVideo: RtpStats | null = null;
  let lastAt = Date.now();
  const timer = setInterval(() => {
    void (async () => {
      const now = Date.now();
      const dt = Math.max(1, now - lastAt) / 1000;
      const sent = media.framesSent();
      const video = await rtpStats(stream, "video");
      const kbps = video && lastVideo ? Math.round(((video.bytes - lastVideo.bytes) * 8) / dt / 1000) : undefined;
      const fields = {
        name: o.name,
        framesSent: sent,
        fps: round1((sent - lastSent) / dt),
        ...(video?.frameWidth ? { encodedWidth: video.frameWidth, encodedHeight: video.frameHeight } : {}),
        ...(video?.framesPerSecond !== undefined ? { encodedFps: video.framesPerSecond } : {}),
        ...(kbps !== undefined ? { kbps } : {}),
      };
      lastSent = sent;
      lastVideo = video;
      lastAt = now;
      if (exiting) return;
      out.event(
        "stats",
        fields,
        `${elapsed().toFixed(1).padStart(6)}s  sent ${fields.framesSent} frames (${fields.fps.toFixed(1)} fps)` +
          (fields.encodedWidth ? `  encoder ${fields.encodedWidth}x${fields.encodedHeight}` : "") +
          (fields.encodedFps !== undefined ? ` ${fields.encodedFps} fps` : "") +
          (kbps !== undefined ? `  ${kbps} kbps` : ""),
      );
    })();
  }, 1000);
  cleanups.push(() => clearInterval(timer));
  cleanups.push(() => {
    out.event("summary", { name: o.name, framesSent: media.framesSent(), seconds: elapsed() }, `published ${o.name}: ${media.framesSent()} frames in ${elapsed()} s`);
  });
  if (o.duration) {
    await sleep(o.duration * 1000);
    await finish(0);
  }
  await new Promise(() => undefined); // runs until Ctrl-C, --duration, or the stream ends
}

interface PlayOptions extends GlobalOptions {
  name: string;
  duration?: number;
}

async function playCommand(o: PlayOptions): Promise<void> {
  out.json = !!o.json;
  out.verbose = !!o.verbose;
  onSignals(() => void finish(0));
  const session = await openSession(o.url);
  const stream = session.createStream({ name: o.name });
  reportStatuses(stream, "play");
  cleanups.push(() => stopStream(stream));
  stream.play();
  try {
    await stream.active(ACTIVE_TIMEOUT_MS);
  } catch (e) {
    return fail(streamFailure(stream, e), { name: o.name, info: stream.getInfo() ?? null });
  }
  const meter = new FrameMeter(stream);
  cleanups.push(() => {
    const s = meter.summary();
    meter.stop();
    out.event(
      "summary",
      { name: o.name, ...s },
      `played ${o.name}: ${s.frames} frames, ${s.width}x${s.height}, average ${s.fps.toFixed(1)} fps over ${s.seconds} s` +
        (s.firstFrameMs !== null ? `, first frame after ${s.firstFrameMs} ms` : ""),
    );
  });
  void stream.ended().then((status) => {
    if (exiting) return;
    const info = stream.getInfo();
    // the publisher stopping is a normal end of playback; anything else is a failure
    if (info === STREAM_STATUS_INFO.STOPPED_BY_PUBLISHER_STOP) {
      out.event("ended", { name: o.name, status, info }, `${o.name} ended: ${info}`);
      void finish(0);
    } else void fail(`stream ${o.name} ended: ${status}${info ? ` (${info})` : ""}`, { name: o.name, status, info: info ?? null });
  });
  const timer = setInterval(() => {
    void meter.tick().then((s) => {
      if (!exiting) out.event("stats", { name: o.name, ...s }, `${elapsed().toFixed(1).padStart(6)}s  ${fmtStats(s)}`);
    });
  }, 1000);
  cleanups.push(() => clearInterval(timer));
  if (o.duration) {
    await sleep(o.duration * 1000);
    await finish(0);
  }
  await new Promise(() => undefined);
}

interface RoomOptions extends GlobalOptions {
  name: string;
  login: string;
  publish?: boolean;
  playAll?: boolean;
  say?: string;
  width?: number;
  height?: number;
  fps?: number;
  audio: boolean;
  duration?: number;
  stdin: boolean;
}

async function roomCommand(o: RoomOptions): Promise<void> {
  out.json = !!o.json;
  out.verbose = !!o.verbose;
  onSignals(() => void finish(0));
  const ws = recordingWebSocket();
  out.debug(`connecting to ${o.url} as ${o.login}`);
  const rs: RoomSession = roomApi.connect({
    urlServer: o.url,
    username: o.login,
    platform: { WebSocket: ws.WebSocket },
    logger: sdkLogger,
    timeout: CONNECT_TIMEOUT_MS,
  });
  cleanups.push(() => rs.disconnect());
  try {
    await rs.established(CONNECT_TIMEOUT_MS + 1000);
  } catch {
    return fail(connectionError(o.url, rs.status(), ws.lastError()), { url: o.url, status: rs.status(), info: ws.lastError() ?? null });
  }
  watchSession(rs.getSession(), o.url, ws.lastError);
  out.event("session", { status: "ESTABLISHED", url: o.url, login: o.login }, `connected to ${o.url} as ${o.login}`);

  /** Our players, by stream name. */
  const players = new Map<string, { login: string; player: Stream; meter?: FrameMeter }>();
  const play = (p: Participant): void => {
    if (!o.playAll || exiting) return;
    for (const ps of p.getStreams()) {
      const name = ps.streamName();
      if (players.has(name)) continue;
      const player = ps.play();
      const entry: { login: string; player: Stream; meter?: FrameMeter } = { login: p.name(), player };
      players.set(name, entry);
      reportStatuses(player, "play", { login: p.name() });
      player.active(ACTIVE_TIMEOUT_MS).then(
        () => {
          entry.meter = new FrameMeter(player);
        },
        (e: unknown) => {
          if (!exiting) out.error(streamFailure(player, e), { login: p.name(), name, info: player.getInfo() ?? null });
        },
      );
      void player.ended().then(() => {
        players.delete(name);
        if (entry.meter) report(name, entry);
      });
    }
  };
  /** The summary line of one player (when it ends, or at exit). */
  const report = (name: string, entry: { login: string; meter?: FrameMeter }): void => {
    if (!entry.meter) return;
    const s = entry.meter.summary();
    entry.meter.stop();
    entry.meter = undefined;
    out.event("summary", { login: entry.login, name, ...s }, `played ${entry.login}: ${s.frames} frames, ${s.width}x${s.height}, average ${s.fps.toFixed(1)} fps`);
  };
  const describe = (p: Participant) => ({ login: p.name(), streams: p.getStreams().map((s) => s.streamName()) });

  const room: Room = rs
    .join({ name: o.name })
    .on(ROOM_EVENT.STATE, (r) => {
      const participants = r.getParticipants().map(describe);
      out.event(
        "state",
        { room: o.name, participants },
        `joined room ${o.name}; participants: ${participants.map((p) => `${p.login}${p.streams.length ? ` [${p.streams.join(", ")}]` : ""}`).join(", ") || "(none)"}`,
      );
      r.getParticipants().forEach(play);
    })
    .on(ROOM_EVENT.JOINED, (p) => out.event("joined", { room: o.name, login: p.name() }, `${p.name()} joined`))
    .on(ROOM_EVENT.LEFT, (p) => out.event("left", { room: o.name, login: p.name() }, `${p.name()} left`))
    .on(ROOM_EVENT.PUBLISHED, (p) => {
      out.event("published", { room: o.name, ...describe(p) }, `${p.name()} published ${p.getStreams().map((s) => s.streamName()).join(", ")}`);
      play(p);
    })
    .on(ROOM_EVENT.UNPUBLISHED, (p, stream) => out.event("unpublished", { room: o.name, login: p.name(), stream }, `${p.name()} unpublished ${stream}`))
    .on(ROOM_EVENT.MESSAGE, (m) => out.event("message", { room: o.name, from: m.from.name(), text: m.text }, `<${m.from.name()}> ${m.text}`));
  try {
    await room.joined(ACTIVE_TIMEOUT_MS);
  } catch (e) {
    const info = e instanceof WcsError ? e.info : undefined;
    return fail(`cannot join room ${o.name} as ${o.login}: ${info ?? (e instanceof Error ? e.message : String(e))}`, { room: o.name, info: info ?? null });
  }
  cleanups.push(async () => {
    await room.leave().catch(() => undefined);
    await Promise.all([...players.values()].map((p) => stopStream(p.player)));
  });

  if (o.publish) {
    const media = syntheticSource({ source: "synthetic", width: o.width, height: o.height, fps: o.fps, audio: o.audio });
    cleanups.push(() => media.stop());
    const pub = room.publish({ stream: media.stream });
    reportStatuses(pub, "publish");
    cleanups.push(() => stopStream(pub));
    try {
      await pub.active(ACTIVE_TIMEOUT_MS);
    } catch (e) {
      return fail(streamFailure(pub, e), { name: pub.name(), info: pub.getInfo() ?? null });
    }
    void pub.ended().then((status) => {
      if (!exiting) void fail(`stream ${pub.name()} ended: ${status}${pub.getInfo() ? ` (${pub.getInfo()})` : ""}`, { name: pub.name(), status });
    });
  }

  const say = async (text: string): Promise<void> => {
    try {
      await room.sendMessageToAll(text);
      out.event("sent", { room: o.name, text }, `> ${text}`);
    } catch (e) {
      out.error(`message not sent: ${e instanceof WcsError && e.info ? e.info : e instanceof Error ? e.message : String(e)}`, { text });
    }
  };
  if (o.say !== undefined) await say(o.say);
  if (o.stdin) {
    // every line typed (or piped) on stdin goes to everyone; terminal: false keeps Ctrl-C a plain SIGINT
    const rl = createInterface({ input: process.stdin, terminal: false });
    rl.on("line", (line) => {
      if (line.trim() && !exiting) void say(line);
    });
  }

  const timer = setInterval(() => {
    for (const [name, entry] of players) {
      const meter = entry.meter;
      if (!meter) continue;
      void meter.tick().then((s) => {
        if (!exiting) out.event("stats", { login: entry.login, name, ...s }, `${elapsed().toFixed(1).padStart(6)}s  ${entry.login}: ${fmtStats(s)}`);
      });
    }
  }, 1000);
  cleanups.push(() => clearInterval(timer));
  cleanups.push(() => {
    for (const [name, entry] of players) report(name, entry);
  });
  if (o.duration) {
    await sleep(o.duration * 1000);
    await finish(0);
  }
  await new Promise(() => undefined);
}

// ---------- program ----------

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/** Options every command takes. */
function common(cmd: Command): Command {
  return cmd
    .addOption(new Option("--url <url>", "WCS server WebSocket URL").default(DEFAULT_URL).env("WCS_URL").argParser(serverUrl))
    .option("--json", "print one JSON object per line (machine-readable)")
    .option("-v, --verbose", "print diagnostics (SDK warnings) on stderr")
    .option("--duration <seconds>", "stop after this many seconds (default: until Ctrl-C)", positiveNumber("--duration", 86_400));
}

function program(): Command {
  const prog = new Command("wcs-edge")
    .description("WCS (Flashphoner Web Call Server) command-line client: publish, play and join rooms from Node.js")
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", `\nExit codes: 0 done, 1 WCS/connection failure (the server's reason is printed), 2 bad command line.`);

  common(
    prog
      .command("publish")
      .description("publish a stream: synthetic video (moving pattern + frame counter) and a 440 Hz tone, or a looped .y4m file")
      .requiredOption("--name <name>", "stream name")
      .option("--source <source>", 'video source: "synthetic" or a YUV4MPEG2 4:2:0 file (FILE.y4m)', "synthetic")
      .option("--width <px>", "synthetic video width (default 640)", positiveInt("--width", 80, 4096))
      .option("--height <px>", "synthetic video height (default 480)", positiveInt("--height", 16, 4096))
      .option("--fps <n>", "frames per second (default 30, or the .y4m file's rate)", positiveNumber("--fps", 120))
      .option("--no-audio", "publish video only"),
  ).action((opts: PublishOptions) => publishCommand(opts));

  common(
    prog
      .command("play")
      .description("play a stream and print the received frame rate and resolution every second, then a summary")
      .requiredOption("--name <name>", "stream name"),
  ).action((opts: PlayOptions) => playCommand(opts));

  common(
    prog
      .command("room")
      .description("join a room (Room API) and print its events and messages; lines typed on stdin are sent to everyone")
      .requiredOption("--name <room>", "room name")
      .requiredOption("--login <login>", "participant login (unique in the room)")
      .option("--publish", "publish synthetic video + tone into the room")
      .option("--play-all", "play every other participant's streams and print their frame rate and resolution")
      .option("--say <text>", "send this message to everyone once joined (and published)")
      .option("--width <px>", "synthetic video width (default 640)", positiveInt("--width", 80, 4096))
      .option("--height <px>", "synthetic video height (default 480)", positiveInt("--height", 16, 4096))
      .option("--fps <n>", "synthetic frames per second (default 30)", positiveNumber("--fps", 120))
      .option("--no-audio", "publish video only")
      .option("--no-stdin", "do not read messages from stdin"),
  ).action((opts: RoomOptions) => roomCommand(opts));
  return prog;
}

async function main(argv: string[]): Promise<never> {
  try {
    await program().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2); // commander printed the message
    if (e instanceof UsageError) {
      out.error(e.message);
      process.exit(2);
    }
    return fail(e instanceof Error ? (out.verbose ? (e.stack ?? e.message) : e.message) : String(e));
  }
  return finish(0);
}

await main(process.argv);
