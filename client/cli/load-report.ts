/**
 * The figures of `wcs-edge load` (load.ts), from the clients' {@link ClientFigures}: the per-second progress, the
 * summary at the end (join-time percentiles, delivery, loss, bitrate, failures) and the threshold verdicts. Pure
 * functions of the samples, no I/O.
 */
import { TERMINAL_STATUSES, type StreamStatus as Status } from "../../protocol/index.js";
import type { ClientFigures } from "./load-clients.js";
import { fmtInt, percentile } from "./table.js";

/** A player PLAYING that got no media for this long is "stalled" (ms); a new one gets as long for its first packet. */
export const STALL_MS = 2000;

/** How a client stands at a moment. */
export type ClientState = "waiting" | "active" | "stalled" | "failed";

/** failed: an error on our side or a terminal status; active: PLAYING/PUBLISHING (a player with media flowing). */
export function clientState(f: ClientFigures, now: number, player: boolean): ClientState {
  if (f.error || TERMINAL_STATUSES.has(f.status as Status)) return "failed";
  if (!f.activeAt) return "waiting";
  if (!player) return "active";
  const last = f.lastMediaAt || f.activeAt;
  return now - last <= STALL_MS ? "active" : "stalled";
}

/** Why a client failed: the server's info, our error, or the status. */
export function failureReason(f: ClientFigures): string {
  return f.info ?? f.error ?? f.status;
}

/**
 * A failure reason as grouped in the summary: figures in a worded parenthesis become "…", so "Media node is full
 * (event loop lag 365 ms)" and "(… lag 302 ms)" count as one reason; "connection closed (1006)" keeps its code.
 */
export function reasonGroup(reason: string): string {
  return reason.replace(/\(([^()]*[A-Za-z][^()]*)\)/g, (m) => m.replace(/\d+(?:\.\d+)?/g, "…"));
}

/** A count or a share of the requested clients (`--min-playing 45` or `100%`). */
export type Share = { count: number } | { percent: number };

export const fmtShare = (s: Share): string => ("percent" in s ? `${s.percent}%` : String(s.count));

/** The least number of clients a share asks for, out of `requested`. */
export const shareOf = (s: Share, requested: number): number => ("percent" in s ? Math.ceil((s.percent / 100) * requested - 1e-9) : s.count);

/** p50 / p95 / max of a list of milliseconds, and how many there were. */
export interface Spread {
  p50: number;
  p95: number;
  max: number;
  n: number;
}

export function spread(values: number[]): Spread | null {
  if (values.length === 0) return null;
  return { p50: percentile(values, 50)!, p95: percentile(values, 95)!, max: Math.max(...values), n: values.length };
}

const fmtSpread = (s: Spread | null): string => (s ? `p50 ${fmtInt(s.p50)}ms  p95 ${fmtInt(s.p95)}ms  max ${fmtInt(s.max)}ms  (${s.n})` : "—");

/** One second of the test. */
export interface Progress {
  /** Players: requested, started (request sent), joined (ever PLAYING), playing (media flowing), stalled, failed. */
  players: { requested: number; started: number; joined: number; playing: number; stalled: number; failed: number };
  publishers: { requested: number; publishing: number; failed: number };
  /** Received by all players over the last second, kbit/s. */
  kbps: number;
  /** Packets lost over the last second, % of those expected; null when nothing was expected. */
  lossPercent: number | null;
}

/** Counts the clients and the traffic since the previous call. */
export class ProgressMeter {
  #last = { at: 0, bytes: 0, packets: 0, lost: 0 };
  /** kbit/s of every second so far, from the first second with traffic on. */
  readonly perSecondKbps: number[] = [];

  constructor(readonly startedAt: number) {
    this.#last.at = startedAt;
  }

  tick(players: ClientFigures[], publishers: ClientFigures[], now: number): Progress {
    const p = { requested: players.length, started: 0, joined: 0, playing: 0, stalled: 0, failed: 0 };
    let bytes = 0;
    let packets = 0;
    let lost = 0;
    for (const f of players) {
      if (f.sentAt) p.started++;
      if (f.activeAt) p.joined++;
      const st = clientState(f, now, true);
      if (st === "active") p.playing++;
      else if (st === "stalled") p.stalled++;
      else if (st === "failed") p.failed++;
      bytes += f.bytes;
      packets += f.packets;
      lost += f.lost;
    }
    const pub = { requested: publishers.length, publishing: 0, failed: 0 };
    for (const f of publishers) {
      const st = clientState(f, now, false);
      if (st === "active") pub.publishing++;
      else if (st === "failed") pub.failed++;
    }
    const dt = Math.max(1, now - this.#last.at) / 1000;
    const kbps = Math.round(((bytes - this.#last.bytes) * 8) / dt / 1000);
    const dPackets = packets - this.#last.packets;
    const dLost = Math.max(0, lost - this.#last.lost);
    const lossPercent = dPackets + dLost > 0 ? (100 * dLost) / (dPackets + dLost) : null;
    this.#last = { at: now, bytes, packets, lost };
    if (kbps > 0 || this.perSecondKbps.length > 0) this.perSecondKbps.push(kbps);
    return { players: p, publishers: pub, kbps, lossPercent };
  }
}

/** "  3.0s  joined 18/20  playing 18  stalled 0  failed 0  |  publishing 1/1  |  in 12,345 kbps  loss 0.00%" */
export function fmtProgress(p: Progress, seconds: number): string {
  const parts: string[] = [];
  if (p.players.requested > 0) {
    parts.push(`joined ${p.players.joined}/${p.players.requested}  playing ${p.players.playing}  stalled ${p.players.stalled}  failed ${p.players.failed}`);
  }
  if (p.publishers.requested > 0) parts.push(`publishing ${p.publishers.publishing}/${p.publishers.requested}${p.publishers.failed ? ` (${p.publishers.failed} failed)` : ""}`);
  if (p.players.requested > 0) parts.push(`in ${fmtInt(p.kbps)} kbps  loss ${p.lossPercent === null ? "—" : `${p.lossPercent.toFixed(2)}%`}`);
  return `${seconds.toFixed(1).padStart(6)}s  ${parts.join("  |  ")}`;
}

/** Frames per player against what the stream's frame rate would give over the time each played. */
export interface Delivery {
  /** Players that played at least a second with video. */
  players: number;
  framesP50: number;
  framesMin: number;
  fpsP50: number;
  fpsMin: number;
  /** The frame rate a player should get: `--expect-fps`, else the 90th percentile of the players' rates. */
  expectedFps: number;
  expectedFrom: "--expect-fps" | "best players";
  /** Frames received / expected, %. */
  percentP50: number;
  percentMin: number;
}

export interface Summary {
  seconds: number;
  players: Progress["players"] & { playingAtEnd: number };
  /** playStream sent → PLAYING; → first media (RTP packet, or decoded frame with --decode). */
  joinMs: Spread | null;
  firstMediaMs: Spread | null;
  delivery: Delivery | null;
  loss: { percent: number | null; lost: number; packets: number };
  bitrate: { avgKbps: number; minKbps: number; maxKbps: number; perPlayerKbpsP50: number; perSecond: number[] } | null;
  /** Failed players by reason. */
  failures: Record<string, number>;
  publishers: { requested: number; publishing: number; failed: number; publishMs: Spread | null; framesSent: number; failures: Record<string, number> } | null;
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

function reasons(list: ClientFigures[], now: number, player: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of list) {
    if (clientState(f, now, player) !== "failed") continue;
    const key = reasonGroup(failureReason(f));
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** The summary of the run at `now` (the end), from the last figures and the per-second bitrates. */
export function summarize(players: ClientFigures[], publishers: ClientFigures[], meter: ProgressMeter, now: number, expectFps?: number): Summary {
  const last = new ProgressMeter(meter.startedAt).tick(players, publishers, now);
  const joinMs = spread(players.filter((f) => f.activeAt && f.sentAt).map((f) => f.activeAt - f.sentAt));
  const firstMediaMs = spread(players.filter((f) => f.firstMediaAt && f.sentAt).map((f) => Math.max(0, f.firstMediaAt - f.sentAt)));

  // delivery: players still PLAYING (flowing or stalled) with at least a second of video
  const rated = players
    .filter((f) => f.frames > 0 && f.firstMediaAt && now - f.firstMediaAt >= 1000 && clientState(f, now, true) !== "failed")
    .map((f) => ({ frames: f.frames, seconds: (now - f.firstMediaAt) / 1000 }));
  let delivery: Delivery | null = null;
  if (rated.length > 0) {
    const fps = rated.map((r) => r.frames / r.seconds);
    const expectedFps = expectFps ?? percentile(fps, 90)!;
    const pct = rated.map((r) => (100 * r.frames) / Math.max(1, expectedFps * r.seconds));
    delivery = {
      players: rated.length,
      framesP50: percentile(rated.map((r) => r.frames), 50)!,
      framesMin: Math.min(...rated.map((r) => r.frames)),
      fpsP50: round(percentile(fps, 50)!),
      fpsMin: round(Math.min(...fps)),
      expectedFps: round(expectedFps),
      expectedFrom: expectFps !== undefined ? "--expect-fps" : "best players",
      percentP50: round(Math.min(100, percentile(pct, 50)!)),
      percentMin: round(Math.min(100, Math.min(...pct))),
    };
  }

  const packets = players.reduce((a, f) => a + f.packets, 0);
  const lost = players.reduce((a, f) => a + f.lost, 0);
  const series = meter.perSecondKbps;
  const perPlayer = players.filter((f) => f.firstMediaAt && now - f.firstMediaAt >= 1000).map((f) => (f.bytes * 8) / (now - f.firstMediaAt));
  const bitrate =
    series.length > 0
      ? {
          avgKbps: Math.round(series.reduce((a, b) => a + b, 0) / series.length),
          minKbps: Math.min(...series),
          maxKbps: Math.max(...series),
          perPlayerKbpsP50: Math.round(percentile(perPlayer, 50) ?? 0),
          perSecond: [...series],
        }
      : null;
  return {
    seconds: round((now - meter.startedAt) / 1000),
    players: { ...last.players, playingAtEnd: last.players.playing },
    joinMs,
    firstMediaMs,
    delivery,
    loss: { percent: packets + lost > 0 ? round((100 * lost) / (packets + lost), 3) : null, lost, packets },
    bitrate,
    failures: reasons(players, now, true),
    publishers:
      publishers.length > 0
        ? {
            ...last.publishers,
            publishMs: spread(publishers.filter((f) => f.activeAt && f.sentAt).map((f) => f.activeAt - f.sentAt)),
            framesSent: publishers.reduce((a, f) => a + f.frames, 0),
            failures: reasons(publishers, now, false),
          }
        : null,
  };
}

const fmtReasons = (r: Record<string, number>): string =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([why, n]) => `${why} ×${n}`)
    .join(", ");

/** The summary as human lines. */
export function fmtSummary(s: Summary, what: { media: string }): string {
  const p = s.players;
  const lines: string[] = [];
  if (p.requested > 0) {
    lines.push(
      `  players       ${p.requested} requested, ${p.started} started, ${p.joined} joined, ${p.playingAtEnd} playing at the end, ${p.stalled} stalled, ${p.failed} failed`,
      `  join          playStream → PLAYING       ${fmtSpread(s.joinMs)}`,
      `  first media   playStream → ${what.media.padEnd(14)}${fmtSpread(s.firstMediaMs)}`,
    );
    const d = s.delivery;
    lines.push(
      d
        ? `  delivery      frames per player p50 ${fmtInt(d.framesP50)} (min ${fmtInt(d.framesMin)}), ${d.fpsP50} fps p50 (min ${d.fpsMin}) vs ${d.expectedFps} fps expected (${d.expectedFrom}): p50 ${d.percentP50}%, min ${d.percentMin}%`
        : "  delivery      —  (no player received video for a second)",
      `  loss          ${s.loss.percent === null ? "—  (no RTP received)" : `${s.loss.percent.toFixed(2)}%  (${fmtInt(s.loss.lost)} of ${fmtInt(s.loss.packets + s.loss.lost)} RTP packets)`}`,
      s.bitrate
        ? `  bitrate in    avg ${fmtInt(s.bitrate.avgKbps)} kbps (per second min ${fmtInt(s.bitrate.minKbps)}, max ${fmtInt(s.bitrate.maxKbps)}), ${fmtInt(s.bitrate.perPlayerKbpsP50)} kbps per player p50`
        : "  bitrate in    —",
    );
    if (p.failed > 0) lines.push(`  failures      ${fmtReasons(s.failures)}`);
  }
  const pub = s.publishers;
  if (pub) {
    lines.push(
      `  publishers    ${pub.requested} requested, ${pub.publishing} publishing at the end, ${pub.failed} failed; publishStream → PUBLISHING ${fmtSpread(pub.publishMs)}; ${fmtInt(pub.framesSent)} frames sent`,
    );
    if (pub.failed > 0) lines.push(`  failures      ${fmtReasons(pub.failures)}`);
  }
  return lines.join("\n");
}

/** The pass/fail flags of a run. */
export interface Thresholds {
  minPlaying?: Share;
  minPublishing?: Share;
  /** % of RTP packets. */
  maxLoss?: number;
  /** ms. */
  maxJoinP95?: number;
  maxFirstMediaP95?: number;
}

/** One threshold checked: the flag as given, the measured value, and whether it holds. */
export interface Verdict {
  flag: string;
  limit: string;
  value: string;
  ok: boolean;
}

/** Checks every threshold given; a figure that could not be measured (nobody joined, no RTP) fails its threshold. */
export function verdicts(s: Summary, t: Thresholds): Verdict[] {
  const v: Verdict[] = [];
  if (t.minPlaying) {
    const need = shareOf(t.minPlaying, s.players.requested);
    v.push({ flag: "--min-playing", limit: fmtShare(t.minPlaying), value: `${s.players.playingAtEnd}/${s.players.requested} playing`, ok: s.players.playingAtEnd >= need });
  }
  if (t.minPublishing) {
    const pub = s.publishers ?? { publishing: 0, requested: 0 };
    const need = shareOf(t.minPublishing, pub.requested);
    v.push({ flag: "--min-publishing", limit: fmtShare(t.minPublishing), value: `${pub.publishing}/${pub.requested} publishing`, ok: pub.publishing >= need });
  }
  if (t.maxLoss !== undefined) {
    const loss = s.loss.percent;
    v.push({ flag: "--max-loss", limit: `${t.maxLoss}%`, value: loss === null ? "no RTP received" : `${loss.toFixed(2)}%`, ok: loss !== null && loss <= t.maxLoss });
  }
  if (t.maxJoinP95 !== undefined) {
    const p95 = s.joinMs?.p95;
    v.push({ flag: "--max-join-p95", limit: `${t.maxJoinP95}ms`, value: p95 === undefined ? "no player joined" : `${p95}ms`, ok: p95 !== undefined && p95 <= t.maxJoinP95 });
  }
  if (t.maxFirstMediaP95 !== undefined) {
    const p95 = s.firstMediaMs?.p95;
    v.push({ flag: "--max-first-media-p95", limit: `${t.maxFirstMediaP95}ms`, value: p95 === undefined ? "no media received" : `${p95}ms`, ok: p95 !== undefined && p95 <= t.maxFirstMediaP95 });
  }
  return v;
}

