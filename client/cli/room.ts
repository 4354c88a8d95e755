/**
 * `wcs-edge room`: joins a room (Room API), prints its events and messages, optionally publishes synthetic media and
 * plays every other participant's streams with per-second stats; `--say` and lines on stdin message everyone.
 */
import { createInterface } from "node:readline";
import { ROOM_EVENT, roomApi, WcsError, type Participant, type Room, type RoomSession, type Stream } from "../node.js";
import { CONNECT_TIMEOUT_MS, establishedOrFail, recordingWebSocket } from "./connect.js";
import { fail, finish, isExiting, onExit, onSignals, runFor } from "./lifecycle.js";
import { out, sdkLogger, type GlobalOptions } from "./output.js";
import { syntheticSource } from "./sources.js";
import { fmtStats, FrameMeter, timestamp } from "./stats.js";
import { ACTIVE_TIMEOUT_MS, activeOrFail, reportStatuses, stopStream, streamEnded, streamFailure } from "./streams.js";

/** The options of `room` (see main.ts). */
export interface RoomOptions extends GlobalOptions {
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

/** One of our players in the room; `meter` once it plays, until its summary is printed. */
interface RoomPlayer {
  login: string;
  player: Stream;
  meter?: FrameMeter;
}

/** Connects the room session as `--login`; fails the command (exit 1) when it cannot. */
async function connectRoomSession(o: RoomOptions): Promise<RoomSession> {
  const ws = recordingWebSocket();
  out.debug(`connecting to ${o.url} as ${o.login}`);
  const rs: RoomSession = roomApi.connect({
    urlServer: o.url,
    username: o.login,
    ...(o.token ? { token: o.token } : {}),
    platform: { WebSocket: ws.WebSocket },
    logger: sdkLogger,
    timeout: CONNECT_TIMEOUT_MS,
  });
  await establishedOrFail(rs, rs.getSession(), o.url, ws);
  out.event("session", { status: "ESTABLISHED", url: o.url, login: o.login }, `connected to ${o.url} as ${o.login}`);
  return rs;
}

/**
 * Stays in room `--name` until `--duration` or Ctrl-C (exit 0; leaving the room first), or a failure (exit 1: cannot
 * connect or join, our stream failed, the session dropped). A player that fails is reported and the command goes on.
 */
export async function roomCommand(o: RoomOptions): Promise<void> {
  out.configure(o);
  onSignals(() => void finish(0));
  const rs = await connectRoomSession(o);

  /** Our players, by stream name. */
  const players = new Map<string, RoomPlayer>();
  const play = (p: Participant): void => {
    if (!o.playAll || isExiting()) return;
    for (const ps of p.getStreams()) {
      const name = ps.streamName();
      if (players.has(name)) continue;
      const player = ps.play();
      const entry: RoomPlayer = { login: p.name(), player };
      players.set(name, entry);
      reportStatuses(player, "play", { login: p.name() });
      player.active(ACTIVE_TIMEOUT_MS).then(
        () => {
          entry.meter = new FrameMeter(player);
        },
        (e: unknown) => {
          if (!isExiting()) out.error(streamFailure(player, e), { login: p.name(), name, info: player.getInfo() ?? null });
        },
      );
      void player.ended().then(() => {
        players.delete(name);
        if (entry.meter) report(name, entry);
      });
    }
  };
  /** The summary line of one player (when it ends, or at exit). */
  const report = (name: string, entry: RoomPlayer): void => {
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
  onExit(async () => {
    await room.leave().catch(() => undefined);
    await Promise.all([...players.values()].map((p) => stopStream(p.player)));
  });

  if (o.publish) {
    const media = syntheticSource({ source: "synthetic", width: o.width, height: o.height, fps: o.fps, audio: o.audio });
    onExit(() => media.stop());
    const pub = room.publish({ stream: media.stream });
    reportStatuses(pub, "publish");
    onExit(() => stopStream(pub));
    await activeOrFail(pub);
    void pub.ended().then((status) => {
      if (!isExiting()) void fail(streamEnded(pub, status), { name: pub.name(), status });
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
      if (line.trim() && !isExiting()) void say(line);
    });
  }

  const timer = setInterval(() => {
    for (const [name, entry] of players) {
      const meter = entry.meter;
      if (!meter) continue;
      void meter.tick().then((s) => {
        if (!isExiting()) out.event("stats", { login: entry.login, name, ...s }, `${timestamp()}  ${entry.login}: ${fmtStats(s)}`);
      });
    }
  }, 1000);
  onExit(() => clearInterval(timer));
  onExit(() => {
    for (const [name, entry] of players) report(name, entry);
  });
  await runFor(o.duration);
}
