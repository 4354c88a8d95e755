/**
 * The media node's container image (Dockerfile, README "Container and service"), built and run with Debian's podman:
 *
 * - the image builds from this repository (multi-stage, `npm ci --omit=dev`) and its config says what the Dockerfile
 *   promises: a non-root user, the control port and the UDP range exposed, a HEALTHCHECK, STOPSIGNAL SIGTERM;
 * - a container (`--network host`) registers with a real `wrangler dev` worker, a publisher and a player stream
 *   through it (frames decoded; ICE on the configured UDP port range), a REST snapshot of the stream is decoded by the
 *   image's ffmpeg (the publisher's frame marker reads back), `podman healthcheck run` reports it healthy from
 *   `GET /healthz`, and the node process runs as that user;
 * - `podman stop` (SIGTERM) drains it: the stream flows on during the drain, then its clients get FAILED "media node
 *   shutting down", it deregisters (gone from the registry at once) and the container exits 0. (`GET /healthz`
 *   answers "draining" meanwhile; podman itself runs no health check on a container it is stopping.)
 *
 * The base image. The Dockerfile's default `node:20-bookworm-slim` comes from Docker Hub, which this test does not
 * assume reachable (the development machines reach only the npm and Debian registries). Unless
 * CONTAINER_TEST_BASE_IMAGE names a base to use instead, the test makes one the same shape — Debian bookworm
 * (`debootstrap --variant=minbase` from the Debian mirror) with this machine's own `node` binary and npm in
 * /usr/local — and keeps it in podman's image store as localhost/wcs-edge-test-base:<node version>-<hash>, so only the
 * first run pays for it (≈ 40 s debootstrap + 6 s import here). When NODE_EXTRA_CA_CERTS is set (a TLS-intercepting
 * proxy between this machine and the npm registry) that file goes into the base too, for the image's `npm ci`.
 *
 * Sandbox notes (podman 4.3 on a Firecracker VM with a hybrid cgroup v1/v2 hierarchy, no CAP_SYS_RESOURCE, no
 * systemd as PID 1): crun refuses hybrid cgroups ("cgroups in hybrid mode not supported, drop all controllers from
 * cgroupv2"), so runc is used when installed; podman's default rlimits (nofile 1048576) cannot be set without
 * CAP_SYS_RESOURCE ("setrlimit RLIMIT_NOFILE: Operation not permitted"), so every container gets this process's own
 * open-file limit and nproc 4096; HEALTHCHECK needs `--format docker` (OCI images have no health check); without
 * systemd podman schedules no periodic health checks, so the test runs them (`podman healthcheck run`).
 *
 * Skipped (with a message) only when `podman` is not installed and CI is not set; .ci/run installs podman, runc and
 * debootstrap.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeAllClients, readMarker, spawnPlayer, spawnPublisher, waitUntil, type WcsClientHandle } from "../clients/index.js";
import { freePort, ROOT, startCluster, type Cluster } from "../harness/cluster.js";
import { decodePngGray } from "../harness/png.js";

const CI = !!process.env.CI;
const onPath = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
const HAVE_PODMAN = onPath("podman");
const SKIP = !HAVE_PODMAN && !CI;
const SKIP_REASON = "skipped: `podman` is not installed (apt-get install podman runc debootstrap, as .ci/run does)";
if (SKIP) console.warn(`test/e2e/container.test.ts ${SKIP_REASON}`);

const IMAGE = "localhost/wcs-edge-media-node:e2e-test";
const DEBIAN_SUITE = "bookworm";
const DEBIAN_MIRROR = process.env.DEBIAN_MIRROR || "http://deb.debian.org/debian";
const DRAIN_MS = 4000;
const SHUTDOWN = "Failed by error: media node shutting down";
/** The non-root user the Dockerfile creates. */
const IMAGE_UID = "10001";

/** Flags for every podman command (before the subcommand): runc where installed (see the file header). */
const PODMAN_GLOBAL = onPath("runc") ? ["--runtime", "runc"] : [];

/** This process's hard limit on open files (/proc/self/limits): a container may get it without CAP_SYS_RESOURCE. */
function openFileLimit(): number {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
  const hard = Number(line?.trim().split(/\s+/)[4]);
  return Number.isFinite(hard) && hard > 0 ? Math.min(hard, 1_048_576) : 65_536;
}
const ULIMITS = ["--ulimit", `nofile=${openFileLimit()}:${openFileLimit()}`, "--ulimit", "nproc=4096:4096"];

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to its end (or kills it at timeoutMs); never rejects. `stdin` is piped in when given. */
function run(cmd: string, args: string[], opts: { timeoutMs?: number; stdin?: NodeJS.ReadableStream } = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: [opts.stdin ? "pipe" : "ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    if (opts.stdin) opts.stdin.pipe(child.stdin!);
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.once("error", (e) => (stderr += String(e)));
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const podman = (args: string[], timeoutMs?: number) => run("podman", [...PODMAN_GLOBAL, ...args], { timeoutMs });
const tail = (s: string, lines = 40) => s.trim().split("\n").slice(-lines).join("\n");

async function mustPodman(args: string[], timeoutMs?: number): Promise<RunResult> {
  const r = await podman(args, timeoutMs);
  if (r.code !== 0) throw new Error(`podman ${args.join(" ")} → exit ${r.code} after ${r.ms} ms\n${tail(r.stdout)}\n${tail(r.stderr)}`);
  return r;
}

/**
 * The base image to build on: CONTAINER_TEST_BASE_IMAGE, or a Debian bookworm minbase + this machine's node and npm
 * (made once, then found in podman's image store).
 */
async function baseImage(): Promise<string> {
  if (process.env.CONTAINER_TEST_BASE_IMAGE) return process.env.CONTAINER_TEST_BASE_IMAGE;
  const node = process.execPath;
  const npmRoot = spawnSync("npm", ["root", "-g"], { encoding: "utf8" }).stdout.trim();
  const npmDir = join(npmRoot, "npm");
  if (!existsSync(join(npmDir, "bin/npm-cli.js"))) throw new Error(`npm not found at ${npmDir} (npm root -g)`);
  const ca = process.env.NODE_EXTRA_CA_CERTS && existsSync(process.env.NODE_EXTRA_CA_CERTS) ? readFileSync(process.env.NODE_EXTRA_CA_CERTS) : undefined;
  const npmVersion = (JSON.parse(readFileSync(join(npmDir, "package.json"), "utf8")) as { version: string }).version;
  const key = createHash("sha256").update(`${DEBIAN_SUITE}\0${process.version}\0${npmVersion}\0`).update(ca ?? "").digest("hex").slice(0, 12);
  const tag = `localhost/wcs-edge-test-base:${DEBIAN_SUITE}-node${process.version.slice(1)}-${key}`;
  if ((await podman(["image", "exists", tag])).code === 0) return tag;

  if (!onPath("debootstrap")) throw new Error("building the local base image needs debootstrap (apt-get install debootstrap, as .ci/run does)");
  const work = mkdtempSync(join(tmpdir(), "wcs-edge-rootfs-"));
  try {
    const rootfs = join(work, "rootfs");
    const boot = await run("debootstrap", ["--variant=minbase", DEBIAN_SUITE, rootfs, DEBIAN_MIRROR], { timeoutMs: 300_000 });
    if (boot.code !== 0) throw new Error(`debootstrap → exit ${boot.code}\n${tail(boot.stdout)}\n${tail(boot.stderr)}`);
    console.log(`container.test: debootstrap ${DEBIAN_SUITE} took ${boot.ms} ms`);
    // the layout of the official node image: node, npm and npx in /usr/local
    mkdirSync(join(rootfs, "usr/local/bin"), { recursive: true });
    cpSync(node, join(rootfs, "usr/local/bin/node"));
    cpSync(npmDir, join(rootfs, "usr/local/lib/node_modules/npm"), { recursive: true, dereference: true });
    symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(rootfs, "usr/local/bin/npm"));
    symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", join(rootfs, "usr/local/bin/npx"));
    rmSync(join(rootfs, "var/lib/apt/lists"), { recursive: true, force: true });
    mkdirSync(join(rootfs, "var/lib/apt/lists/partial"), { recursive: true });
    const changes = ["--change", 'CMD ["node"]'];
    if (ca) {
      cpSync(process.env.NODE_EXTRA_CA_CERTS!, join(rootfs, "usr/local/share/test-host-ca.crt"));
      changes.push("--change", "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/test-host-ca.crt");
    }
    const tar = spawn("tar", ["-C", rootfs, "--numeric-owner", "-c", "."], { stdio: ["ignore", "pipe", "inherit"] });
    const imported = await run("podman", ["import", ...changes, "-", tag], { stdin: tar.stdout, timeoutMs: 180_000 });
    if (imported.code !== 0) throw new Error(`podman import → exit ${imported.code}\n${tail(imported.stderr)}`);
    console.log(`container.test: podman import of the base took ${imported.ms} ms`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return tag;
}

describe.skipIf(SKIP)(`media node container image (podman)${SKIP ? ` — ${SKIP_REASON}` : ""}`, () => {
  let cluster: Cluster;
  let controlPort = 0;
  // a 100-port ICE range picked at random in 42000–48999 (other tests' nodes take OS-chosen ports, which may fall in
  // it; the range has room to spare)
  const rtcMin = 42_000 + Math.floor(Math.random() * 69) * 100;
  const rtcMax = rtcMin + 99;
  /** Containers this file started (one per attempt: vitest retries a failed test once), removed at the end. */
  const containers: string[] = [];

  const containerLogs = async (name: string) => {
    const r = await podman(["logs", "--tail", "80", name], 10_000);
    return `--- container ${name} ---\n${tail(r.stdout + r.stderr, 80)}`;
  };
  const listed = async (nodeId: string) => (await cluster.listNodes()).find((n) => n.nodeId === nodeId);

  beforeAll(async () => {
    expect(HAVE_PODMAN, "CI must have podman (.ci/run installs it)").toBe(true);
    const base = await baseImage();
    const previous = (await podman(["image", "inspect", "--format", "{{.Id}}", IMAGE])).stdout.trim();
    // docker format: OCI image configs have no HEALTHCHECK; host network: the build needs the npm registry and the
    // Debian mirror (ffmpeg, for snapshots)
    const build = await mustPodman(
      ["build", "--format", "docker", "--network", "host", ...ULIMITS, "--build-arg", `BASE_IMAGE=${base}`, "-t", IMAGE, "-f", join(ROOT, "Dockerfile"), ROOT],
      480_000,
    );
    console.log(`container.test: podman build took ${build.ms} ms`);
    // the image this tag pointed at before (a run with other sources) is ours and now unused
    const now = (await podman(["image", "inspect", "--format", "{{.Id}}", IMAGE])).stdout.trim();
    if (previous && previous !== now) await podman(["rmi", previous]);

    cluster = await startCluster({ nodes: 0 });
    controlPort = await freePort();
  }, 660_000);

  afterAll(async () => {
    await closeAllClients();
    for (const name of containers) await podman(["rm", "--force", "--time", "0", name], 30_000);
    await cluster?.stop();
  });

  it("the image runs as a non-root user, exposes the control port and the UDP range, has a HEALTHCHECK and STOPSIGNAL", async () => {
    const r = await mustPodman(["image", "inspect", IMAGE]);
    const [img] = JSON.parse(r.stdout) as Array<{ Config: Record<string, unknown>; Healthcheck?: { Test: string[] } }>;
    const config = img!.Config as { User?: string; ExposedPorts?: Record<string, unknown>; StopSignal?: string; Cmd?: string[]; Env?: string[] };
    expect(config.User).toBe("wcs:wcs");
    const exposed = Object.keys(config.ExposedPorts ?? {});
    expect(exposed).toContain("9000/tcp");
    // buildah keeps the range as written; docker build lists each port
    expect(exposed.includes("40000-40999/udp") || (exposed.includes("40000/udp") && exposed.includes("40999/udp")), exposed.join(" ")).toBe(true);
    expect(config.StopSignal).toBe("SIGTERM");
    expect(config.Cmd).toEqual(["node", "--import", "tsx", "media-node/main.ts"]);
    expect(img!.Healthcheck?.Test).toEqual(["CMD", "node", "deploy/healthcheck.mjs"]);
    // only the runtime dependencies: no dev dependency (wrangler, vitest) in the image
    const ls = await mustPodman(["run", "--rm", "--network", "none", ...ULIMITS, IMAGE, "sh", "-c", "ls node_modules; ls node_modules/.bin"]);
    expect(ls.stdout).toMatch(/\bnode-datachannel\b/);
    expect(ls.stdout).toMatch(/\btsx\b/);
    expect(ls.stdout).not.toMatch(/\b(wrangler|vitest|typescript)\b/);
    // deploy/media-node.env.example works as an --env-file: parsed, refused only for its empty MEDIA_NODE_SECRET
    const example = await podman(["run", "--rm", "--network", "none", ...ULIMITS, "--env-file", join(ROOT, "deploy/media-node.env.example"), IMAGE], 60_000);
    expect(example.code, example.stdout + example.stderr).toBe(1);
    expect(example.stdout + example.stderr).toMatch(/Invalid media node configuration:\s+MEDIA_NODE_SECRET: required/);
  });

  it("registers, streams publish → play with decoded frames, is healthy; podman stop drains, deregisters, exits 0", async () => {
    const name = `wcs-e2e-node-${randomBytes(4).toString("hex")}`;
    const nodeId = name;
    const env: Record<string, string> = {
      WORKER_URL: cluster.httpUrl,
      MEDIA_NODE_SECRET: cluster.secret,
      MEDIA_NODE_ID: nodeId,
      MEDIA_NODE_PORT: String(controlPort),
      MEDIA_NODE_LISTEN_HOST: "127.0.0.1",
      MEDIA_NODE_BIND_ADDRESS: "127.0.0.1",
      MEDIA_NODE_RTC_PORT_MIN: String(rtcMin),
      MEDIA_NODE_RTC_PORT_MAX: String(rtcMax),
      MEDIA_NODE_DRAIN_TIMEOUT_MS: String(DRAIN_MS),
      // admission by measured load off, as for the harness nodes (a loaded 2-core machine must not refuse at random)
      MEDIA_NODE_MAX_LOOP_UTILIZATION: "1",
      MEDIA_NODE_MAX_LOOP_LAG_MS: "0",
    };
    await mustPodman(
      ["run", "--detach", "--name", name, "--network", "host", "--stop-timeout", "30", ...ULIMITS, ...Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]), IMAGE],
      60_000,
    );
    containers.push(name);
    const logs = async () => `${await containerLogs(name)}\n${cluster.logs()}`;

    try {
      await waitUntil(async () => (await listed(nodeId))?.live, 45_000, `the container's node ${nodeId} to register live`);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await logs()}`);
    }
    const top = await mustPodman(["top", name, "user", "pid", "args"]);
    expect(top.stdout, "the node runs as the image's user").toMatch(new RegExp(`^(wcs|${IMAGE_UID})\\s+1\\s+node --import tsx media-node/main.ts`, "m"));

    // media through the container: publish, play, frames decoded; the node's candidates use the configured range
    const stream = `container-${randomBytes(3).toString("hex")}`;
    let pub: WcsClientHandle | undefined;
    let player: WcsClientHandle | undefined;
    try {
      pub = await spawnPublisher({ url: cluster.wsUrl, name: stream });
      await pub.waitForStatus("PUBLISHING", 20_000);
      player = await spawnPlayer({ url: cluster.wsUrl, name: stream });
      await player.waitForStatus("PLAYING", 20_000);
      await player.waitForStats((s) => s.framesDecoded > 10, 20_000, "frames through the container");
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${[...(pub?.output ?? []), ...(player?.output ?? [])].slice(-40).join("\n")}\n${await logs()}`);
    }
    expect((await listed(nodeId))?.streams).toContain(stream);
    // a snapshot through the container: the image's Debian ffmpeg, run by the node's user, decodes the publisher's frame
    const snap = await fetch(`${cluster.httpUrl}/rest-api/stream/snapshot`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ streamName: stream }) });
    const snapBody = (await snap.json()) as { data?: string; error?: string };
    expect(snap.status, `${JSON.stringify(snapBody.error)}\n${await logs()}`).toBe(200);
    const pic = await decodePngGray(Buffer.from(snapBody.data!, "base64"));
    expect(readMarker(pic.gray, pic.width, pic.height), "the publisher's frame marker in the snapshot").not.toBeNull();
    for (const sdp of [pub.answerSdp, player.answerSdp]) {
      const ports = (sdp ?? "").split(/\r?\n/).filter((l) => l.startsWith("a=candidate:")).map((l) => Number(l.split(" ")[5]));
      expect(ports.length, sdp).toBeGreaterThan(0);
      expect(ports.every((p) => p >= rtcMin && p <= rtcMax), `ports ${ports.join(",")} in ${rtcMin}-${rtcMax}\n${sdp}`).toBe(true);
    }

    // the image's HEALTHCHECK, run by podman (no systemd timers here): GET /healthz → healthy
    const hc = await podman(["healthcheck", "run", name], 30_000);
    expect(hc.code, `${hc.stdout}${hc.stderr}`).toBe(0);
    const health = async () =>
      JSON.parse((await mustPodman(["inspect", "--format", "{{json .State.Health}}", name])).stdout) as { Status: string; Log: Array<{ ExitCode: number; Output: string }> };
    const h = await health();
    expect(h.Status).toBe("healthy");
    expect(h.Log.at(-1)?.Output).toContain(`"status":"ok"`);
    expect(h.Log.at(-1)?.Output).toContain(nodeId);

    // podman stop: SIGTERM → drain (still healthy, "draining"; the stream keeps flowing) → FAILED → deregistered → exit 0
    const stopAt = Date.now();
    const stopping = podman(["stop", "--time", "30", name], 60_000);
    await waitUntil(async () => ((await listed(nodeId)) as { draining?: boolean } | undefined)?.draining, 5000, "the registry to see the node draining");
    // podman runs no health check on a container it is stopping ("is not running"): ask /healthz directly
    const healthz = await fetch(`http://127.0.0.1:${controlPort}/healthz`);
    expect(healthz.status).toBe(200);
    expect(await healthz.json()).toEqual({ status: "draining", nodeId });
    const before = (await player.stats()).framesDecoded;
    await new Promise((r) => setTimeout(r, 1000));
    expect((await player.stats()).framesDecoded - before, "frames during the drain").toBeGreaterThan(5);

    const stopped = await stopping;
    const stopMs = Date.now() - stopAt;
    expect(stopped.code, `${stopped.stdout}${stopped.stderr}\n${await logs()}`).toBe(0);
    const state = JSON.parse((await mustPodman(["inspect", "--format", "{{json .State}}", name])).stdout) as { Status: string; ExitCode: number };
    expect(state.Status).toBe("exited");
    expect(state.ExitCode, await logs()).toBe(0);
    // it ended by its drain (≈ DRAIN_MS), not by podman's SIGKILL after --time 30
    expect(stopMs).toBeGreaterThanOrEqual(DRAIN_MS - 1000);
    expect(stopMs).toBeLessThan(25_000);
    expect(await listed(nodeId), "deregistered at once, not left to time out").toBeUndefined();
    await pub.waitForStatus("FAILED", 10_000);
    await player.waitForStatus("FAILED", 10_000);
    expect(pub.statuses.at(-1)?.info).toBe(SHUTDOWN);
    expect(player.statuses.at(-1)?.info).toBe(SHUTDOWN);
    const out = await containerLogs(name);
    expect(out).toContain("shutting down: draining");
    expect(out).toContain("deregistered from the worker");
  });
});
