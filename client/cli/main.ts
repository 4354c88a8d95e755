/**
 * `wcs-edge`: a command-line WCS client on the Node SDK (client/node.ts: ws + @roamhq/wrtc). It stands in for native
 * mobile clients in tests and is a debugging tool for operators.
 *
 *   wcs-edge publish --name cam1 [--url ws://127.0.0.1:8787] [--source synthetic|FILE.y4m] [--width 640 --height 480 --fps 30] [--duration S]
 *   wcs-edge play    --name cam1 [--url …] [--duration S] [--json]
 *   wcs-edge room    --name room1 --login bob [--publish] [--play-all] [--say TEXT] [--duration S] [--json]
 *   wcs-edge token   --secret S | --key FILE [--sub LOGIN] [--publish P…] [--play P…] [--rooms P…] [--admin] [--ttl 1h]
 *   wcs-edge drain   --node http://host:9000 [--secret S] [--timeout-ms N]   (operators: drain a media node)
 *   wcs-edge nodes   [--url …] [--token ADMIN] [--json]                     (operators: media nodes and their load)
 *   wcs-edge streams [--url …] [--token ADMIN] [--name N] [--legs] [--json] (operators: streams and players)
 *   wcs-edge load    [--url …] --stream cam1 --players 100 [--publishers M] [--ramp 2] [--duration 30s] [--decode]
 *                    [--min-playing 100%] [--max-loss 1] [--max-join-p95 2000ms] [--max-first-media-p95 3s] [--json]
 *
 * publish, play, room and load take `--token JWT` (or WCS_TOKEN) for a server with authentication on; nodes and
 * streams (the REST API) take the admin token there: the server's REST_API_TOKEN or an access token with `admin: true`.
 *
 * Output: one human-readable line per event and per second of statistics on stdout (errors on stderr), or with
 * `--json` one JSON object per line on stdout (`{"type": "status" | "stats" | "summary" | "error" | …, "t": seconds
 * since start, …}`). Exit codes: 0 = done (duration reached, Ctrl-C, or the stream ended normally), 1 = a WCS or
 * connection failure (the server's `info` is printed, e.g. "Stream not found") or a load threshold not met, 2 = bad
 * command line.
 *
 * Run through bin/wcs-edge.mjs (tsx), which calls {@link main}. The process always ends with process.exit():
 * @roamhq/wrtc keeps the event loop alive and can crash while exiting with live peer connections, so streams are
 * stopped and sessions closed first (lifecycle.ts).
 *
 * Files: main.ts (this: the command line), output.ts, lifecycle.ts (cleanups and exit), connect.ts, streams.ts,
 * sources.ts + y4m.ts (what is published), stats.ts, rest.ts + table.ts (REST listings), and one file per command:
 * publish.ts, play.ts, room.ts, token.ts, drain.ts, nodes.ts, streams.ts (the `streams` listing), load.ts (+
 * load-clients.ts, load-report.ts).
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { drainCommand, type DrainOptions } from "./drain.js";
import { fail, finish, UsageError } from "./lifecycle.js";
import { loadCommand, type LoadOptions } from "./load.js";
import type { Share } from "./load-report.js";
import { nodesCommand, type NodesOptions } from "./nodes.js";
import { out } from "./output.js";
import { playCommand, type PlayOptions } from "./play.js";
import { publishCommand, type PublishOptions } from "./publish.js";
import { roomCommand, type RoomOptions } from "./room.js";
import { streamsCommand, type StreamsOptions } from "./streams.js";
import { tokenCommand, type TokenOptions } from "./token.js";
import { ACCESS_TOKEN_AUDIENCE } from "../../protocol/access.js";

const DEFAULT_URL = "ws://127.0.0.1:8787";

/** An option parser: an integer in `min..max`, else a commander usage error (exit 2). */
function positiveInt(name: string, min = 1, max = 100_000) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}.`);
    return n;
  };
}

/** An option parser: a number in `(0, max]`, else a commander usage error (exit 2). */
function positiveNumber(name: string, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > max) throw new InvalidArgumentError(`${name} must be a number in (0, ${max}].`);
    return n;
  };
}

/**
 * An option parser: a time span "500ms", "30s", "2m", "1h", or a bare number in `unit`; returns milliseconds
 * (in `(0, 1 day]`), else a commander usage error (exit 2).
 */
function timeSpan(name: string, unit: "ms" | "s") {
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  return (v: string): number => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v);
    const ms = m ? Number(m[1]) * factor[(m[2] as keyof typeof factor | undefined) ?? unit] : NaN;
    if (!(ms > 0 && ms <= 86_400_000)) throw new InvalidArgumentError(`${name} must be a time such as 500ms, 30s, 2m (a bare number is ${unit === "ms" ? "milliseconds" : "seconds"}).`);
    return Math.round(ms);
  };
}

/** An option parser: a percentage in `[0, 100]` ("1", "0.5", "1%"), else a commander usage error (exit 2). */
function percent(name: string) {
  return (v: string): number => {
    const n = Number(v.trim().replace(/%$/, ""));
    if (v.trim() === "" || !Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError(`${name} must be a percentage in 0..100.`);
    return n;
  };
}

/** An option parser: a count ("45") or a share of the requested clients ("100%", "95%"), else a usage error (exit 2). */
function countOrShare(name: string) {
  return (v: string): Share => {
    const t = v.trim();
    if (t.endsWith("%")) return { percent: percent(name)(t) };
    const n = Number(t);
    if (t === "" || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a count (45) or a percentage (100%).`);
    return { count: n };
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

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/** Options every command takes. */
function common(cmd: Command): Command {
  return cmd
    .addOption(new Option("--url <url>", "WCS server WebSocket URL").default(DEFAULT_URL).env("WCS_URL").argParser(serverUrl))
    .addOption(new Option("--token <jwt>", "access token (see `wcs-edge token`), sent as connection custom.token").env("WCS_TOKEN"))
    .option("--json", "print one JSON object per line (machine-readable)")
    .option("-v, --verbose", "print diagnostics (SDK warnings) on stderr")
    .option("--duration <seconds>", "stop after this many seconds (default: until Ctrl-C)", positiveNumber("--duration", 86_400));
}

/** Options of the REST listings (`nodes`, `streams`): the server, its admin token, --json. */
function restCommon(cmd: Command): Command {
  return cmd
    .addOption(new Option("--url <url>", "WCS server URL (the REST API is at its origin: ws → http, wss → https)").default(DEFAULT_URL).env("WCS_URL").argParser(serverUrl))
    .addOption(new Option("--token <token>", "admin token: the server's REST_API_TOKEN, or an access token with admin: true").env("WCS_TOKEN"))
    .option("--json", "print one JSON object per line (machine-readable)")
    .option("-v, --verbose", "print diagnostics on stderr");
}

/** The commander program: every command, with --help and --version. Errors throw (exitOverride). */
function program(): Command {
  const prog = new Command("wcs-edge")
    .description("WCS (Flashphoner Web Call Server) command-line client: publish, play and join rooms from Node.js; list media nodes and streams; load-test a server")
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

  prog
    .command("token")
    .description("mint an access token (JWT) for a server with authentication on (development and scripts)")
    .addOption(new Option("--secret <secret>", "HS256 secret: the worker's AUTH_JWT_SECRET").env("AUTH_JWT_SECRET"))
    .option("--key <file>", "ES256 or Ed25519 private key (PKCS#8 PEM) whose public key is the worker's AUTH_JWT_PUBLIC_KEY")
    .option("--sub <login>", "subject: the login (room participant name)")
    .option("--publish <patterns...>", "stream names it may publish (exact, or a prefix ending in *)")
    .option("--play <patterns...>", "stream names it may play")
    .option("--rooms <patterns...>", "rooms it may join")
    .option("--admin", "may call the REST API")
    .option("--ttl <span>", "lifetime (30s, 15m, 1h, 7d)", "1h")
    .option("--audience <aud>", "audience: the worker's AUTH_JWT_AUDIENCE", ACCESS_TOKEN_AUDIENCE)
    .option("--issuer <iss>", "issuer: the worker's AUTH_JWT_ISSUER, when it has one")
    .option("--json", "print {type, token, expiresAt} as JSON")
    .action((opts: TokenOptions) => tokenCommand(opts));

  prog
    .command("drain")
    .description("drain a media node: no new streams, its legs flow until none is left or the timeout, then it deregisters and exits")
    .requiredOption("--node <url>", "the node's control URL, e.g. http://127.0.0.1:9000")
    .addOption(new Option("--secret <secret>", "the shared MEDIA_NODE_SECRET").env("MEDIA_NODE_SECRET"))
    .option("--timeout-ms <ms>", "how long its legs may keep flowing (default: the node's MEDIA_NODE_DRAIN_TIMEOUT_MS)", positiveInt("--timeout-ms", 0, 3_600_000))
    .option("--json", "print {type, node, legs, timeoutMs, deadline} as JSON")
    .action((opts: DrainOptions) => drainCommand(opts));

  restCommon(
    prog
      .command("nodes")
      .description("list the media nodes: state (live, draining), version, load (publishers, players, CPU), event loop, last heartbeat (REST /rest-api/nodes/find_all)"),
  ).action((opts: NodesOptions) => nodesCommand(opts));

  restCommon(
    prog
      .command("streams")
      .description("list the streams: publisher status, node, codecs, players, age (REST /rest-api/stream/find_all)")
      .option("--name <name>", "only this stream (REST /stream/find)")
      .option("--legs", "one row per publisher and player (the WCS stream objects) instead of one per stream"),
  ).action((opts: StreamsOptions) => streamsCommand(opts));

  prog
    .command("load")
    .description("load test: N players of a stream (RTP counted, not decoded) and/or M synthetic publishers, joined at --ramp per second; prints progress every second, then join times, delivery, loss and bitrate; exit 1 when a threshold flag is not met")
    .addOption(new Option("--url <url>", "WCS server WebSocket URL").default(DEFAULT_URL).env("WCS_URL").argParser(serverUrl))
    .addOption(new Option("--token <jwt>", "access token (see `wcs-edge token`), sent by every client as connection custom.token").env("WCS_TOKEN"))
    .option("--stream <name>", "the stream the players play; with --publishers the name they publish (NAME-1…NAME-M for M > 1; default load-<random>)")
    .option("--players <n>", "players", positiveInt("--players", 0, 100_000), 0)
    .option("--publishers <n>", "synthetic publishers; players are spread over their streams", positiveInt("--publishers", 0, 1000), 0)
    .option("--ramp <per-second>", "clients started per second; 2 stays under the default limit of 30 connections per 10 s per client address", positiveNumber("--ramp", 10_000), 2)
    .option("--duration <time>", "how long the test runs, joining included: 30s, 2m, or seconds (default: until Ctrl-C)", timeSpan("--duration", "s"))
    .option("--decode", "players decode the video (the SDK's @roamhq/wrtc player: far more CPU per player)")
    .option("--width <px>", "publishers' video width (default 640)", positiveInt("--width", 80, 4096))
    .option("--height <px>", "publishers' video height (default 480)", positiveInt("--height", 16, 4096))
    .option("--fps <n>", "publishers' frames per second (default 30)", positiveNumber("--fps", 120))
    .option("--no-audio", "publishers send video only")
    .option("--expect-fps <n>", "the stream's frame rate, for the delivery figure (default: estimated from the best players)", positiveNumber("--expect-fps", 240))
    .option("--min-playing <n|%>", "threshold: at least this many players (or % of --players) playing at the end", countOrShare("--min-playing"))
    .option("--min-publishing <n|%>", "threshold: at least this many publishers (or % of --publishers) publishing at the end", countOrShare("--min-publishing"))
    .option("--max-loss <percent>", "threshold: at most this % of the RTP packets lost", percent("--max-loss"))
    .option("--max-join-p95 <time>", "threshold: 95th percentile of playStream → PLAYING at most this (2000ms, 2s; a bare number is ms)", timeSpan("--max-join-p95", "ms"))
    .option("--max-first-media-p95 <time>", "threshold: 95th percentile of playStream → first RTP packet (first decoded frame with --decode) at most this", timeSpan("--max-first-media-p95", "ms"))
    .option("--json", "print one JSON object per line (machine-readable)")
    .option("-v, --verbose", "print diagnostics on stderr")
    .action((opts: LoadOptions) => loadCommand(opts));
  return prog;
}

/**
 * Runs the CLI on `argv` (process.argv: node, script, command, options…) and exits the process: 0 done, 1 failure,
 * 2 bad command line (commander's messages, {@link UsageError}). Never returns.
 */
export async function main(argv: string[]): Promise<never> {
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
