/**
 * `wcs-edge load`: a load test against any WCS server (this one, or another), like LiveKit's `lk load-test`:
 *
 *   wcs-edge load --url wss://wcs.example.com --stream cam1 --players 200 --ramp 10 --duration 60s \
 *                 [--token JWT] [--decode] [--min-playing 100%] [--max-loss 1] [--max-join-p95 2000ms] [--json]
 *   wcs-edge load --publishers 4 --players 40 --duration 30s        # players spread over the 4 published streams
 *
 * Clients (load-clients.ts), all in this process: `--players N` cheap players (RTP counted, frames by marker bit,
 * sequence gaps; no decoding — hundreds per process) or with `--decode` the SDK's decoding wrtc players; `--publishers
 * M` the SDK's publishers of the synthetic source of `wcs-edge publish`, publishing `--stream` (M = 1) or
 * `STREAM-1`…`STREAM-M` (default STREAM: load-<random>). Players play `--stream`, or with publishers their streams,
 * round-robin. Clients join at `--ramp` per second (publishers first; players once the publishers are PUBLISHING or
 * failed). The test ends after `--duration` (counted from the start, ramp included) or at Ctrl-C.
 *
 * Output: a progress line per second (joined, playing, stalled, failed, kbps received, loss %), then the summary
 * (load-report.ts: join-time percentiles playStream → PLAYING and → first media, frames per player vs expected, loss,
 * bitrate, failures by reason) and the thresholds. `--json`: `{"type": "load"}` first, `{"type": "progress"}` every
 * second, `{"type": "summary"}`, one `{"type": "threshold", flag, limit, value, ok}` per threshold.
 * Exit codes: 0 every threshold met (none given: 0 whatever the figures); 1 a threshold not met (listed on stderr);
 * 2 bad command line.
 */
import { randomBytes } from "node:crypto";
import { finish, onExit, onSignals, UsageError } from "./lifecycle.js";
import { DecodePlayer, LoadPublisher, RtpPlayer, type LoadClient } from "./load-clients.js";
import { clientState, fmtProgress, fmtSummary, ProgressMeter, summarize, verdicts, type Share, type Thresholds } from "./load-report.js";
import { elapsed, out, type GlobalOptions } from "./output.js";
import { fmtAge } from "./table.js";

/** The options of `load` (see main.ts). */
export interface LoadOptions extends GlobalOptions, Thresholds {
  stream?: string;
  players: number;
  publishers: number;
  /** Clients started per second. */
  ramp: number;
  /** ms; absent = until Ctrl-C. */
  duration?: number;
  decode?: boolean;
  width?: number;
  height?: number;
  fps?: number;
  audio: boolean;
  expectFps?: number;
  minPlaying?: Share;
  minPublishing?: Share;
}

/** How long players wait for the publishers to be PUBLISHING (or failed) before they start anyway (ms). */
const PUBLISHERS_READY_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The stream names: `base` for no or one publisher, `base-1`…`base-M` for more. */
export function streamNames(base: string, publishers: number): string[] {
  return publishers <= 1 ? [base] : Array.from({ length: publishers }, (_, i) => `${base}-${i + 1}`);
}

/** Runs the load test and exits: 0 thresholds met, 1 not. @throws UsageError for a command line that cannot work */
export async function loadCommand(o: LoadOptions): Promise<never> {
  out.configure(o);
  if (o.players === 0 && o.publishers === 0) throw new UsageError("Give --players N (with --stream NAME) and/or --publishers M.");
  if (o.players > 0 && o.publishers === 0 && !o.stream) throw new UsageError("--players needs --stream NAME (the stream to play), or --publishers M to play their streams.");
  if (o.minPublishing && o.publishers === 0) throw new UsageError("--min-publishing needs --publishers.");
  if (o.publishers === 0 && (o.width !== undefined || o.height !== undefined || o.fps !== undefined)) {
    throw new UsageError("--width/--height/--fps are the synthetic publishers' (--publishers).");
  }
  const names = streamNames(o.stream ?? `load-${randomBytes(3).toString("hex")}`, o.publishers);
  const source = { ...(o.width ? { width: o.width } : {}), ...(o.height ? { height: o.height } : {}), ...(o.fps ? { fps: o.fps } : {}), audio: o.audio };
  const publishers: LoadClient[] = names.slice(0, o.publishers).map((name, i) => new LoadPublisher(i + 1, o.url, name, o.token, source));
  const players: LoadClient[] = Array.from({ length: o.players }, (_, i) => {
    const name = names[i % names.length]!;
    return o.decode ? new DecodePlayer(i + 1, o.url, name, o.token) : new RtpPlayer(i + 1, o.url, name, o.token);
  });
  onExit(() => Promise.all([...players, ...publishers].map((c) => c.stop())));

  const rampSeconds = (o.players + o.publishers) / o.ramp;
  const what = [
    o.players ? `${o.players} ${o.decode ? "decoding" : "RTP-counting"} player${o.players > 1 ? "s" : ""} of ${names.length > 1 ? `${names[0]}…${names.at(-1)}` : names[0]}` : "",
    o.publishers ? `${o.publishers} synthetic publisher${o.publishers > 1 ? "s" : ""} (${o.width ?? 640}x${o.height ?? 480} @ ${o.fps ?? 30} fps${o.audio ? " + tone" : ""})` : "",
  ]
    .filter(Boolean)
    .join(" and ");
  out.event(
    "load",
    { url: o.url, streams: names, players: o.players, publishers: o.publishers, ramp: o.ramp, durationMs: o.duration ?? null, decode: !!o.decode },
    `load test of ${o.url}: ${what}, ${o.ramp}/s (ramp ${fmtAge(rampSeconds * 1000)}), ${o.duration ? `for ${fmtAge(o.duration)}` : "until Ctrl-C"}`,
  );
  if (o.duration && rampSeconds * 1000 > o.duration) {
    process.stderr.write(`wcs-edge: warning: joining at ${o.ramp}/s takes ${fmtAge(rampSeconds * 1000)}, longer than --duration: the last clients will not join\n`);
  }

  let stopped = false;
  let stop!: (why: string) => void;
  const ended = new Promise<string>((resolve) => (stop = resolve));
  const end = (why: string): void => {
    if (stopped) return;
    stopped = true;
    stop(why);
  };
  onSignals(() => end("interrupted"));
  const startedAt = Date.now();
  const durationTimer = o.duration ? setTimeout(() => end("duration"), o.duration) : undefined;

  const meter = new ProgressMeter(startedAt);
  const progress = setInterval(() => {
    if (stopped) return;
    const p = meter.tick(
      players.map((c) => c.figures()),
      publishers.map((c) => c.figures()),
      Date.now(),
    );
    out.event("progress", { ...p }, fmtProgress(p, (Date.now() - startedAt) / 1000));
  }, 1000);

  // joining: `ramp` clients per second, publishers first
  const join = async (clients: LoadClient[]): Promise<void> => {
    let nextAt = Date.now();
    for (const c of clients) {
      const wait = nextAt - Date.now();
      if (wait > 0) await sleep(wait);
      if (stopped) return;
      nextAt += 1000 / o.ramp;
      void c.start();
    }
  };
  void (async () => {
    await join(publishers);
    const until = Date.now() + PUBLISHERS_READY_MS;
    while (!stopped && Date.now() < until && publishers.some((c) => clientState(c.figures(), Date.now(), false) === "waiting")) await sleep(100);
    await join(players);
  })();

  const why = await ended;
  clearInterval(progress);
  clearTimeout(durationTimer);
  const now = Date.now();
  const summary = summarize(
    players.map((c) => c.figures()),
    publishers.map((c) => c.figures()),
    meter,
    now,
    o.expectFps,
  );
  out.event(
    "summary",
    { ...summary, ended: why },
    `summary after ${summary.seconds.toFixed(1)} s (${why === "duration" ? "--duration reached" : "interrupted"}):\n${fmtSummary(summary, { media: o.decode ? "first frame" : "first RTP" })}`,
  );
  const results = verdicts(summary, o);
  for (const v of results) out.event("threshold", { ...v }, `  threshold     ${v.flag} ${v.limit}: ${v.value}  ${v.ok ? "ok" : "NOT MET"}`);
  const failed = results.filter((v) => !v.ok);
  if (failed.length > 0) {
    out.error(`threshold${failed.length > 1 ? "s" : ""} not met: ${failed.map((v) => `${v.flag} ${v.limit} (${v.value})`).join(", ")}`, { thresholds: failed });
  }
  out.debug(`stopping ${players.length + publishers.length} clients at ${elapsed()} s`);
  return finish(failed.length > 0 ? 1 : 0);
}

