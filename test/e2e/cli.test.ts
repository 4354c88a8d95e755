/**
 * The `wcs-edge` CLI (bin/wcs-edge.mjs → client/cli/main.ts, on the Node SDK) against a real cluster (wrangler dev + a
 * media node): a synthetic publisher played by `play --json` (640x480, > 20 fps), a .y4m file looped as the video
 * source and played at its own size, "Stream not found" for an unknown name, connection and command-line errors,
 * and Ctrl-C stopping a publisher cleanly; the operator commands: `nodes` (the harness's node live, with its version)
 * and `streams` (a published stream and its players) over the REST API, and `load` (15 RTP-counting players of a
 * wrtc publisher all playing, exit 0; thresholds not met → exit 1). Every CLI runs as its own process (wrtc ends with
 * process.exit()).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CliProcess, runCli, type CliEvent } from "../harness/cli.js";
import { ROOT, startCluster, type Cluster } from "../harness/cluster.js";

let cluster: Cluster;
let tmp: string;
const running: CliProcess[] = [];
const unique = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1 });
  tmp = mkdtempSync(join(tmpdir(), "wcs-cli-"));
});
afterEach(() => {
  for (const c of running.splice(0)) c.kill();
});
afterAll(async () => {
  await cluster?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function cli(args: string[]): CliProcess {
  const c = new CliProcess(args);
  running.push(c);
  return c;
}

/** Fails with everything the processes printed and the server logs. */
async function explain<T>(procs: CliProcess[], p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${procs.map((c) => c.dump()).join("\n")}\n${cluster.logs()}`);
  }
}

const isStatus = (status: string) => (e: CliEvent) => e.type === "status" && e.status === status;

/**
 * A YUV4MPEG2 4:2:0 file as ffmpeg writes it (`-f yuv4mpegpipe -pix_fmt yuv420p`): a header with extra tags, FRAME
 * lines (one with a parameter), frames with a moving gradient and coloured chroma.
 */
function writeY4m(path: string, width: number, height: number, fps: number, frames: number): void {
  const parts: Buffer[] = [Buffer.from(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n`)];
  const frameBytes = (width * height * 3) / 2;
  for (let i = 0; i < frames; i++) {
    parts.push(Buffer.from(i === 1 ? "FRAME Ip\n" : "FRAME\n"));
    const f = Buffer.alloc(frameBytes);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) f[y * width + x] = (x + y + i * 6) & 0xff;
    f.fill(90, width * height, width * height * 1.25);
    f.fill(170, width * height * 1.25);
    parts.push(f);
  }
  writeFileSync(path, Buffer.concat(parts));
}

describe("wcs-edge publish + play", () => {
  it("plays a synthetic publisher at 640x480 and > 20 fps (--json), and Ctrl-C unpublishes cleanly", async () => {
    const name = unique("cli-synth");
    const pub = cli(["publish", "--name", name, "--url", cluster.wsUrl, "--json"]);
    await explain([pub], pub.waitFor("publisher PUBLISHING", isStatus("PUBLISHING")));
    const source = pub.events().find((e) => e.type === "source");
    expect(source).toMatchObject({ source: "synthetic", width: 640, height: 480, fps: 30 });

    const play = cli(["play", "--name", name, "--url", cluster.wsUrl, "--duration", "5", "--json"]);
    const exit = await play.exited;
    const events = play.events();
    const stats = events.filter((e) => e.type === "stats");
    const summary = events.find((e) => e.type === "summary");
    console.log(`cli play: ${stats.map((s) => `${s.width}x${s.height}@${s.fps}`).join(" ")}; summary ${JSON.stringify(summary)}`);
    expect(exit, play.dump()).toEqual({ code: 0, signal: null });
    expect(events.filter((e) => e.type === "status").map((e) => e.status)).toEqual(["PENDING", "PLAYING", "STOPPED"]);
    expect(stats.length, play.dump()).toBeGreaterThanOrEqual(3);
    for (const s of stats.slice(1)) {
      expect(s, play.dump()).toMatchObject({ width: 640, height: 480 });
      expect(s.fps as number, play.dump()).toBeGreaterThan(20);
    }
    expect(summary, play.dump()).toMatchObject({ name, width: 640, height: 480 });
    expect(summary!.fps as number).toBeGreaterThan(20);
    expect(summary!.frames as number).toBeGreaterThan(80);

    // Ctrl-C: the publisher unpublishes, prints its summary and exits 0
    const pubExit = await pub.stop("SIGINT");
    expect(pubExit, pub.dump()).toEqual({ code: 0, signal: null });
    expect(pub.events().some(isStatus("UNPUBLISHED")), pub.dump()).toBe(true);
    expect(pub.events().find((e) => e.type === "summary")?.framesSent as number).toBeGreaterThan(100);
    const after = await runCli(["play", "--name", name, "--url", cluster.wsUrl, "--json"]);
    expect(after.code, "the name is free again after Ctrl-C").toBe(1);
  });

  it("publishes a .y4m file (looped) and the player receives its size", async () => {
    const file = join(tmp, "clip.y4m");
    writeY4m(file, 320, 240, 15, 24);
    const name = unique("cli-y4m");
    const pub = cli(["publish", "--name", name, "--url", cluster.wsUrl, "--source", file, "--duration", "30", "--json"]);
    await explain([pub], pub.waitFor("publisher PUBLISHING", isStatus("PUBLISHING")));
    expect(pub.events().find((e) => e.type === "source")).toMatchObject({ source: file, width: 320, height: 240, fps: 15 });

    const play = cli(["play", "--name", name, "--url", cluster.wsUrl, "--duration", "4", "--json"]);
    const exit = await play.exited;
    const stats = play.events().filter((e) => e.type === "stats");
    const summary = play.events().find((e) => e.type === "summary");
    console.log(`cli play y4m: ${stats.map((s) => `${s.width}x${s.height}@${s.fps}`).join(" ")}; summary ${JSON.stringify(summary)}`);
    expect(exit, play.dump()).toEqual({ code: 0, signal: null });
    expect(summary, play.dump()).toMatchObject({ width: 320, height: 240 });
    expect(summary!.fps as number, play.dump()).toBeGreaterThan(10);
    expect(stats.length, play.dump()).toBeGreaterThanOrEqual(3);
    expect(stats.slice(1).every((s) => s.width === 320 && s.height === 240), play.dump()).toBe(true);
    // the file loops: after 4 s more than its 24 frames went out
    const sent = pub.events().filter((e) => e.type === "stats").at(-1)?.framesSent as number;
    expect(sent, pub.dump()).toBeGreaterThan(24);
    expect(await pub.stop("SIGTERM"), pub.dump()).toEqual({ code: 0, signal: null });
  });
});

describe("wcs-edge errors", () => {
  it('play of an unknown name exits 1 with "Stream not found"', async () => {
    const r = await runCli(["play", "--name", unique("nobody"), "--url", cluster.wsUrl, "--json"]);
    expect(r.code, r.cli.dump()).toBe(1);
    expect(r.cli.stderr).toContain("Stream not found");
    expect(r.cli.events().find((e) => e.type === "error")).toMatchObject({ info: "Stream not found" });
    expect(r.cli.events().filter((e) => e.type === "status").map((e) => e.status)).toEqual(["PENDING", "FAILED"]);
  });

  it("a publish of a name in use exits 1 with the server's reason; human output without --json", async () => {
    const name = unique("cli-busy");
    const pub = cli(["publish", "--name", name, "--url", cluster.wsUrl, "--json"]);
    await explain([pub], pub.waitFor("publisher PUBLISHING", isStatus("PUBLISHING")));
    const r = await runCli(["publish", "--name", name, "--url", cluster.wsUrl]);
    expect(r.code, r.cli.dump()).toBe(1);
    expect(r.cli.stderr).toContain("Stream name is already in use");
    expect(r.cli.lines.join("\n")).toContain(`publish ${name}: FAILED (Stream name is already in use)`);
    expect(await pub.stop(), pub.dump()).toEqual({ code: 0, signal: null });
  });

  it("room: a second participant with the same login exits 1 with the server's reason", async () => {
    const room = unique("cli-room");
    const first = cli(["room", "--name", room, "--login", "dup", "--url", cluster.wsUrl, "--json", "--no-stdin"]);
    await explain([first], first.waitFor("STATE", (e) => e.type === "state"));
    const second = await runCli(["room", "--name", room, "--login", "dup", "--url", cluster.wsUrl]);
    expect(second.code, second.cli.dump()).toBe(1);
    expect(second.cli.stderr).toContain(`cannot join room ${room} as dup: Login is already in use in this room`);
    expect(await first.stop("SIGTERM"), first.dump()).toEqual({ code: 0, signal: null });
  });

  it("a refused connection exits 1 with the socket error; bad arguments exit 2", async () => {
    const refused = await runCli(["play", "--name", "x", "--url", "ws://127.0.0.1:1"]);
    expect(refused.code).toBe(1);
    expect(refused.cli.stderr).toMatch(/cannot connect to ws:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);

    const badUrl = await runCli(["play", "--name", "x", "--url", "not a url"]);
    expect(badUrl.code).toBe(2);
    expect(badUrl.cli.stderr).toContain("is not a URL");
    const badScheme = await runCli(["publish", "--name", "x", "--url", "ftp://example.com"]);
    expect(badScheme.code).toBe(2);
    expect(badScheme.cli.stderr).toContain("must be a ws:// or wss:// URL");
    const noName = await runCli(["play", "--url", cluster.wsUrl]);
    expect(noName.code).toBe(2);
    expect(noName.cli.stderr).toContain("required option '--name <name>' not specified");
    const badSource = await runCli(["publish", "--name", "x", "--source", "clip.mp4", "--url", cluster.wsUrl]);
    expect(badSource.code).toBe(2);
    expect(badSource.cli.stderr).toContain('--source must be "synthetic" or a .y4m file');
    const notY4m = join(tmp, "not.y4m");
    writeFileSync(notY4m, "hello\n");
    const badFile = await runCli(["publish", "--name", "x", "--source", notY4m, "--url", cluster.wsUrl]);
    expect(badFile.code).toBe(1);
    expect(badFile.cli.stderr).toContain("not a YUV4MPEG2 file");
  });

  it("npx wcs-edge runs the package's bin", () => {
    const r = spawnSync("npx", ["--no-install", "wcs-edge", "--help"], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("Usage: wcs-edge");
    for (const cmd of ["publish", "play", "room", "nodes", "streams", "load"]) expect(r.stdout).toContain(cmd);
  });
});

describe("wcs-edge nodes, streams, load (operators)", () => {
  const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

  it("nodes lists the harness node live with its version and heartbeat; streams shows a published stream", async () => {
    const nodeId = cluster.nodes[0]!.nodeId;
    const json = await runCli(["nodes", "--url", cluster.wsUrl, "--json"]);
    expect(json.code, json.cli.dump()).toBe(0);
    const node = json.cli.events().find((e) => e.type === "node" && e.nodeId === nodeId);
    expect(node, json.cli.dump()).toMatchObject({ state: "live", live: true, draining: false, version, controlUrl: cluster.nodes[0]!.controlUrl });
    expect(node!.heartbeatAgeMs as number).toBeLessThan(5000);
    expect(node!.load).toMatchObject({ publishers: expect.any(Number), players: expect.any(Number), cpuPercent: expect.any(Number) });
    const table = await runCli(["nodes", "--url", cluster.wsUrl]);
    expect(table.code, table.cli.dump()).toBe(0);
    expect(table.cli.lines[0]).toMatch(/^NODE\s+STATE\s+VERSION\s+PUB\s+PLAY\s+CPU\s+STREAMS\s+LOOP\s+LAG p99\s+HEARTBEAT\s+CONTROL URL$/);
    expect(table.cli.lines.find((l) => l.startsWith(nodeId)), table.cli.dump()).toMatch(new RegExp(`^${nodeId}\\s+live\\s+${version.replace(/\./g, "\\.")}\\s.* ago\\s+http://127\\.0\\.0\\.1:\\d+$`));

    const name = unique("cli-list");
    const pub = cli(["publish", "--name", name, "--url", cluster.wsUrl, "--width", "320", "--height", "240", "--json"]);
    await explain([pub], pub.waitFor("publisher PUBLISHING", isStatus("PUBLISHING")));
    const streams = await runCli(["streams", "--url", cluster.wsUrl, "--json"]);
    expect(streams.code, streams.cli.dump()).toBe(0);
    expect(streams.cli.events().find((e) => e.type === "stream" && e.name === name), streams.cli.dump()).toMatchObject({ status: "PUBLISHING", nodeId, videoCodec: "VP8", players: 0 });
    const human = await runCli(["streams", "--url", cluster.wsUrl, "--name", name]);
    expect(human.code, human.cli.dump()).toBe(0);
    expect(human.cli.lines[0]).toMatch(/^NAME\s+STATUS\s+NODE\s+VIDEO\s+AUDIO\s+PLAYERS\s+PLAYING\s+AGE$/);
    expect(human.cli.lines[1]).toMatch(new RegExp(`^${name}\\s+PUBLISHING\\s+${nodeId}\\s+VP8\\s+opus\\s+0\\s+0\\s+`));
    expect(human.cli.lines).toHaveLength(2);
    expect(await pub.stop(), pub.dump()).toEqual({ code: 0, signal: null });
    const none = await runCli(["streams", "--url", cluster.wsUrl, "--name", name]);
    expect(none.code, none.cli.dump()).toBe(0);
    expect(none.cli.lines).toEqual(["no streams"]);
  });

  it("load: 15 players of a wrtc publisher all play (exit 0, streams lists them); unmet thresholds exit 1", async () => {
    const name = unique("cli-load");
    const players = 15;
    const pub = cli(["publish", "--name", name, "--url", cluster.wsUrl, "--width", "320", "--height", "240", "--fps", "15", "--json"]);
    await explain([pub], pub.waitFor("publisher PUBLISHING", isStatus("PUBLISHING")));
    const load = cli(["load", "--url", cluster.wsUrl, "--stream", name, "--players", String(players), "--ramp", "15", "--duration", "6s", "--min-playing", "100%", "--max-loss", "2", "--max-join-p95", "10s", "--json"]);
    await explain([load, pub], load.waitFor("every player playing", (e) => e.type === "progress" && (e.players as { playing: number }).playing === players));
    const listed = await runCli(["streams", "--url", cluster.wsUrl, "--name", name, "--json"]);
    expect(listed.cli.events().find((e) => e.type === "stream"), listed.cli.dump()).toMatchObject({ name, status: "PUBLISHING", players, playing: players });
    const exit = await load.exited;
    const summary = load.events().find((e) => e.type === "summary");
    console.log(`cli load: ${JSON.stringify(summary)}`);
    expect(exit, load.dump()).toEqual({ code: 0, signal: null });
    expect(summary, load.dump()).toMatchObject({ ended: "duration", players: { requested: players, joined: players, playingAtEnd: players, failed: 0 }, failures: {} });
    const s = summary as unknown as { joinMs: { n: number; p95: number }; firstMediaMs: { n: number }; delivery: { players: number; framesP50: number; fpsP50: number }; loss: { percent: number; packets: number }; bitrate: { avgKbps: number } };
    expect(s.joinMs.n).toBe(players);
    expect(s.firstMediaMs.n).toBe(players);
    expect(s.delivery.players).toBe(players);
    expect(s.delivery.framesP50, load.dump()).toBeGreaterThan(30); // ~4 s at 15 fps each
    expect(s.loss.packets).toBeGreaterThan(players * 50);
    expect(s.bitrate.avgKbps).toBeGreaterThan(0);
    const thresholds = load.events().filter((e) => e.type === "threshold");
    expect(thresholds.map((t) => [t.flag, t.ok])).toEqual([
      ["--min-playing", true],
      ["--max-loss", true],
      ["--max-join-p95", true],
    ]);
    expect(load.events().filter((e) => e.type === "progress").length).toBeGreaterThanOrEqual(4);

    // an impossible join time on the same stream (human output): the summary, then exit 1 naming the threshold
    const fast = await runCli(["load", "--url", cluster.wsUrl, "--stream", name, "--players", "2", "--ramp", "10", "--duration", "2s", "--max-join-p95", "1ms"]);
    expect(fast.code, fast.cli.dump()).toBe(1);
    expect(fast.cli.lines.join("\n")).toMatch(/join +playStream → PLAYING +p50 \d+ms {2}p95 \d+ms {2}max \d+ms {2}\(2\)/);
    expect(fast.cli.lines.join("\n")).toContain("threshold     --max-join-p95 1ms: ");
    expect(fast.cli.stderr).toMatch(/threshold not met: --max-join-p95 1ms \(\d+ms\)/);
    expect(await pub.stop(), pub.dump()).toEqual({ code: 0, signal: null });

    // a stream that does not exist: every player fails with the server's reason, --min-playing is not met
    const missing = await runCli(["load", "--url", cluster.wsUrl, "--stream", unique("nobody"), "--players", "3", "--ramp", "10", "--duration", "2s", "--min-playing", "100%"]);
    expect(missing.code, missing.cli.dump()).toBe(1);
    expect(missing.cli.lines.join("\n")).toContain("failures      Stream not found ×3");
    expect(missing.cli.stderr).toContain("threshold not met: --min-playing 100% (0/3 playing)");
    // no threshold: exit 0 whatever the figures; a command line that cannot work: exit 2
    expect((await runCli(["load", "--url", cluster.wsUrl, "--stream", unique("nobody"), "--players", "1", "--duration", "1s"])).code).toBe(0);
    const usage = await runCli(["load", "--url", cluster.wsUrl, "--players", "3"]);
    expect(usage.code).toBe(2);
    expect(usage.cli.stderr).toContain("--players needs --stream NAME");
  });
});
