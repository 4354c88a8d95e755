/**
 * `wcs-edge`: a command-line WCS client on the Node SDK (client/node.ts: ws + @roamhq/wrtc). It stands in for native
 * mobile clients in tests and is a debugging tool for operators.
 *
 *   wcs-edge publish --name cam1 [--url ws://127.0.0.1:8787] [--source synthetic|FILE.y4m] [--width 640 --height 480 --fps 30] [--duration S]
 *   wcs-edge play    --name cam1 [--url …] [--duration S] [--json]
 *   wcs-edge room    --name room1 --login bob [--publish] [--play-all] [--say TEXT] [--duration S] [--json]
 *   wcs-edge token   --secret S | --key FILE [--sub LOGIN] [--publish P…] [--play P…] [--rooms P…] [--admin] [--ttl 1h]
 *   wcs-edge drain   --node http://host:9000 [--secret S] [--timeout-ms N]   (operators: drain a media node)
 *
 * publish, play and room take `--token JWT` (or WCS_TOKEN) for a server with authentication on.
 *
 * Output: one human-readable line per event and per second of statistics on stdout (errors on stderr), or with
 * `--json` one JSON object per line on stdout (`{"type": "status" | "stats" | "summary" | "error" | …, "t": seconds
 * since start, …}`). Exit codes: 0 = done (duration reached, Ctrl-C, or the stream ended normally), 1 = a WCS or
 * connection failure (the server's `info` is printed, e.g. "Stream not found"), 2 = bad command line.
 *
 * Run through bin/wcs-edge.mjs (tsx), which calls {@link main}. The process always ends with process.exit():
 * @roamhq/wrtc keeps the event loop alive and can crash while exiting with live peer connections, so streams are
 * stopped and sessions closed first (lifecycle.ts).
 *
 * Files: main.ts (this: the command line), output.ts, lifecycle.ts (cleanups and exit), connect.ts, streams.ts,
 * sources.ts + y4m.ts (what is published), stats.ts, and one file per command: publish.ts, play.ts, room.ts, token.ts.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { drainCommand, type DrainOptions } from "./drain.js";
import { fail, finish, UsageError } from "./lifecycle.js";
import { out } from "./output.js";
import { playCommand, type PlayOptions } from "./play.js";
import { publishCommand, type PublishOptions } from "./publish.js";
import { roomCommand, type RoomOptions } from "./room.js";
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

/** The commander program: `publish`, `play`, `room` and `token`, with --help and --version. Errors throw (exitOverride). */
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
