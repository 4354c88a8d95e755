/**
 * The SDK as an npm package (client/package.json, built by client/pack.ts): `npm pack` in client/ (its prepack builds
 * dist/), the tarball installed with `ws` and `@roamhq/wrtc` into an empty project in the temp directory (outside the
 * repository, so nothing resolves to the repository's node_modules or sources), then
 *   - tsc, on a .ts file importing "@wcs-edge/sdk" and "@wcs-edge/sdk/node", with NodeNext and Bundler resolution and
 *     no skipLibCheck: the exports map's types resolve and are real (not any);
 *   - a .mjs importing only the package publishes a synthetic 640x480 stream against a real cluster and plays it from
 *     a second session, counting decoded frames (child process: wrtc ends with process.exit(), see client/node.ts).
 * npm takes its packages from the npm cache when it has them (--prefer-offline).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VideoFrameStats } from "../../client/node-media.js";
import { ROOT, startCluster, type Cluster } from "../harness/cluster.js";

const run = promisify(execFile);
const PKG = "@wcs-edge/sdk";
const rootPkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; dependencies: Record<string, string> };
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");

/**
 * The environment of npm and node children: without the npm_* variables of the `npx vitest` / `npm test` that runs
 * this file (npm_config_local_prefix etc. would point npm at the repository) and without NODE_OPTIONS (loaders).
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== "NODE_OPTIONS") env[k] = v;
  return env;
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run("npm", args, { cwd, env: cleanEnv(), maxBuffer: 16 << 20, timeout: 60_000 });
  return stdout;
}

const CONSUMER_MJS = `
import { createSession as browserCreateSession, Session as BrowserSession } from "${PKG}";
import { createSession, createSyntheticStream, watchVideoFrames, STREAM_STATUS, Session } from "${PKG}/node";

const url = process.argv[2];
const name = "sdk-package-" + Math.random().toString(16).slice(2, 10);
const statuses = (stream) => {
  const out = [];
  for (const st of ["PENDING", "PUBLISHING", "PLAYING", "UNPUBLISHED", "STOPPED", "FAILED"]) stream.on(st, () => out.push(st));
  return out;
};
const result = {
  resolved: { sdk: import.meta.resolve("${PKG}"), node: import.meta.resolve("${PKG}/node"), ws: import.meta.resolve("ws"), wrtc: import.meta.resolve("@roamhq/wrtc") },
  sameSession: BrowserSession === Session,
  browserCreateSession: typeof browserCreateSession,
};
try {
  const t0 = Date.now();
  const pubSession = await createSession({ urlServer: url }).established(10_000);
  const media = createSyntheticStream({ video: { width: 640, height: 480, fps: 30 } });
  const pub = pubSession.createStream({ name, stream: media.stream });
  result.pubStatuses = statuses(pub);
  pub.publish();
  await pub.active(20_000);
  result.publishMs = Date.now() - t0;

  const playSession = await createSession({ urlServer: url }).established(10_000);
  const player = playSession.createStream({ name });
  result.playStatuses = statuses(player);
  player.play();
  await player.active(20_000);
  result.playStatus = player.status();
  const mon = watchVideoFrames(player.getRemoteMediaStream());
  result.first = await mon.waitForFrames(30, 20_000);
  await new Promise((r) => setTimeout(r, 2000));
  result.later = mon.stats();
  mon.stop();

  player.stop();
  result.playerEnd = await player.ended(10_000);
  pub.stop();
  result.pubEnd = await pub.ended(10_000);
  media.stop();
  pubSession.disconnect();
  playSession.disconnect();
  result.ok = STREAM_STATUS.PLAYING === "PLAYING";
} catch (e) {
  result.ok = false;
  result.error = String(e?.stack ?? e);
}
console.log("RESULT " + JSON.stringify(result));
process.exit(0);
`;

const CONSUMER_TS = `
import { createSession, STREAM_STATUS, type Session, type SessionOptions, type Stream, type StreamStatus } from "${PKG}";
import { createSyntheticStream, nodePlatform, watchVideoFrames, type VideoFrameStats } from "${PKG}/node";

const options: SessionOptions = { urlServer: "wss://example.com", custom: { token: "t" }, iceServersUrl: false, autoRestore: true };
const session: Session = createSession(options);
const stream: Stream = session.createStream({ name: "cam1" }).on(STREAM_STATUS.PLAYING, (s) => console.log(s.name()));
const status: StreamStatus = stream.status();
const platform = nodePlatform();
const media = createSyntheticStream({ video: { width: 320, height: 240 } });
const stats: VideoFrameStats = watchVideoFrames(media.stream).stats();
const frames: number = stats.frames;
// the types are real, not any
// @ts-expect-error urlServer is required
createSession({});
// @ts-expect-error a session is not a number
const wrong: number = session;
export { status, platform, frames, wrong };
`;

function tsconfig(resolution: "nodenext" | "bundler"): string {
  return JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      module: resolution === "nodenext" ? "NodeNext" : "ESNext",
      moduleResolution: resolution === "nodenext" ? "NodeNext" : "Bundler",
      lib: ["ES2022", "DOM"],
      types: [],
      strict: true,
      noEmit: true,
      skipLibCheck: false,
    },
    files: ["check.ts"],
  });
}

/** What the consumer prints of its player's VideoFrameMonitor (client/node-media.ts). */
type FrameStats = Pick<VideoFrameStats, "frames" | "width" | "height" | "fps" | "lastCounter" | "framesWithCounter">;
interface ConsumerResult {
  ok: boolean;
  error?: string;
  resolved: Record<"sdk" | "node" | "ws" | "wrtc", string>;
  sameSession: boolean;
  browserCreateSession: string;
  pubStatuses: string[];
  playStatuses: string[];
  playStatus: string;
  first: FrameStats;
  later: FrameStats;
  publishMs: number;
  playerEnd: string;
  pubEnd: string;
}

/** Consumer processes still running (killed in afterAll when a test gave up on one). */
const consumers = new Set<ChildProcess>();

function runConsumer(cwd: string, url: string): Promise<ConsumerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["consumer.mjs", url], { cwd, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
    consumers.add(child);
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      consumers.delete(child);
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      if (!line) return reject(new Error(`consumer exited ${signal ?? code} without a result\n${out}\n${err}\n${cluster.logs()}`));
      const result = JSON.parse(line.slice("RESULT ".length)) as ConsumerResult;
      if (!result.ok) return reject(new Error(`consumer failed: ${result.error}\n${err}\n${cluster.logs()}`));
      resolve(result);
    });
  });
}

let cluster: Cluster;
let temp: string;
let project: string;
let packed: { filename: string; size: number; unpackedSize: number; files: { path: string }[] };
const timings: Record<string, number> = {};

/** `npm pack` in client/ (prepack builds dist/), then an empty project in the temp directory installs the tarball. */
async function packAndInstall(): Promise<void> {
  let t = Date.now();
  const out = await npm(["pack", "--json", "--pack-destination", temp], join(ROOT, "client"));
  packed = (JSON.parse(out) as (typeof packed)[])[0]!;
  timings.packMs = Date.now() - t;
  project = join(temp, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "sdk-package-consumer", private: true, type: "module" }));
  t = Date.now();
  await npm(
    [
      "install",
      join(temp, packed.filename),
      `ws@${rootPkg.dependencies.ws}`,
      `@roamhq/wrtc@${rootPkg.dependencies["@roamhq/wrtc"]}`,
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
    ],
    project,
  );
  timings.installMs = Date.now() - t;
}

beforeAll(async () => {
  temp = realpathSync(mkdtempSync(join(tmpdir(), "wcs-edge-sdk-package-")));
  // the cluster starts while npm builds, packs and installs
  const [started, installed] = await Promise.allSettled([startCluster({ nodes: 1 }), packAndInstall()]);
  if (started.status === "fulfilled") cluster = started.value; // stopped in afterAll even when npm failed
  for (const r of [started, installed]) if (r.status === "rejected") throw r.reason;
});
afterAll(async () => {
  for (const c of consumers) c.kill("SIGKILL");
  await cluster?.stop();
  if (temp) rmSync(temp, { recursive: true, force: true });
});

describe("SDK npm package", () => {
  it("packs dist/ (ESM + declarations) and README only, and installs with its optional peers", () => {
    console.log(`sdk package: ${packed.filename} ${packed.size} B (${packed.unpackedSize} B unpacked), pack ${timings.packMs} ms, install ${timings.installMs} ms`);
    const files = packed.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(["package.json", "README.md", "dist/index.js", "dist/node.js", "dist/types/client/index.d.ts", "dist/types/client/node.d.ts"]));
    for (const f of files) expect(f).toMatch(/^(package\.json|README\.md|dist\/.+\.(js|js\.map|d\.ts))$/);
    // no sources, no CLI, no zod-bearing protocol modules (the declarations reach only zod-free protocol types)
    expect(files.filter((f) => /(^|\/)cli\/|\.ts$(?<!\.d\.ts)|\/protocol\/(wcs|room|bounded|media-node)\.d\.ts$/.test(f))).toEqual([]);

    const dir = join(project, "node_modules", PKG);
    const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
    expect(meta.version).toBe(rootPkg.version);
    expect(meta.type).toBe("module");
    expect(Object.keys(meta.exports as object)).toEqual([".", "./node", "./package.json"]);
    expect(meta.dependencies).toBeUndefined();
    expect(meta.peerDependenciesMeta).toEqual({ "@roamhq/wrtc": { optional: true }, ws: { optional: true } });
    // the JavaScript is self-contained: relative imports inside dist/ and the peers only
    for (const f of files.filter((x) => x.endsWith(".js"))) {
      const js = readFileSync(join(dir, f), "utf8");
      for (const m of js.matchAll(/^import .* from "([^"]+)";$|^import "([^"]+)";$/gm)) {
        expect(m[1] ?? m[2]).toMatch(/^(\.\.?\/|node:|ws$|@roamhq\/wrtc$)/);
      }
      expect(js).not.toMatch(/\.\.\/protocol\/|from "zod"/);
    }
  });

  it("its types resolve through the exports map (NodeNext and Bundler, no skipLibCheck)", async () => {
    writeFileSync(join(project, "check.ts"), CONSUMER_TS);
    const t = Date.now();
    const results = await Promise.all(
      (["nodenext", "bundler"] as const).map(async (resolution) => {
        writeFileSync(join(project, `tsconfig.${resolution}.json`), tsconfig(resolution));
        return run(process.execPath, [TSC, "-p", `tsconfig.${resolution}.json`], { cwd: project, env: cleanEnv() }).then(
          () => `${resolution}: ok`,
          (e: { stdout?: string; stderr?: string }) => `${resolution}: ${e.stdout || e.stderr ? `${e.stdout ?? ""}${e.stderr ?? ""}` : String(e)}`,
        );
      }),
    );
    timings.tscMs = Date.now() - t;
    expect(results).toEqual(["nodenext: ok", "bundler: ok"]);
  });

  it("a project using only the package publishes a synthetic stream and plays it with decoded 640x480 frames", async () => {
    writeFileSync(join(project, "consumer.mjs"), CONSUMER_MJS);
    const t = Date.now();
    const r = await runConsumer(project, cluster.wsUrl);
    console.log(
      `sdk package consumer: ${Date.now() - t} ms, publish ${r.publishMs} ms, ${r.later.frames} frames ${r.later.width}x${r.later.height} ` +
        `at ${r.later.fps} fps; ${JSON.stringify(timings)}`,
    );
    // everything came from the temp project's node_modules, not from the repository
    for (const url of Object.values(r.resolved)) expect(url).toContain(`file://${join(project, "node_modules")}/`);
    expect(r.sameSession).toBe(true);
    expect(r.browserCreateSession).toBe("function");
    expect(r.pubStatuses).toEqual(["PENDING", "PUBLISHING", "UNPUBLISHED"]);
    expect(r.playStatuses).toEqual(["PENDING", "PLAYING", "STOPPED"]);
    expect(r.playStatus).toBe("PLAYING");
    expect(r.playerEnd).toBe("STOPPED");
    expect(r.pubEnd).toBe("UNPUBLISHED");
    expect(r.first.width).toBe(640);
    expect(r.first.height).toBe(480);
    expect(r.later.width).toBe(640);
    expect(r.later.height).toBe(480);
    // ~30 fps for 2 s; a generous floor for a loaded 2-core machine
    expect(r.later.frames - r.first.frames).toBeGreaterThan(24);
    expect(r.later.framesWithCounter).toBeGreaterThan(r.later.frames * 0.9);
    expect(r.later.lastCounter!).toBeGreaterThan(r.first.lastCounter!);
  });
});
