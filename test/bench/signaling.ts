/**
 * Signaling latency benchmark on loopback (real wrangler dev worker + one media node):
 *   publish request sent → PUBLISHING          (sequential publish/unpublish cycles, a distinct name each)
 *   play request sent    → PLAYING
 *   play request sent    → first decoded frame  (@roamhq/wrtc player, RTCVideoSink)
 *
 *   npm run bench:signaling              # 50 runs each
 *   npm run bench:signaling -- 20        # 20 runs each
 *   BENCH_PLAY_GAP_MS=0 npm run bench:signaling   # plays back to back (default: 600 ms apart, see PLAY_GAP_MS)
 *
 * To keep many runs fast, one child process (signaling-client.ts) keeps one WCS session and does every publish and
 * play in turn; plays reuse one long-running publisher (test/clients spawnPublisher, 640x480 30 fps VP8). Times are
 * taken in the child, from sending the request to receiving the status / decoding the first frame.
 * A benchmark, not a test: prints p50/p95/min/max and exits 0; non-zero only on setup failure.
 */
import { fileURLToPath } from "node:url";
import { closeAllClients, spawnPublisher, type WcsClientHandle } from "../clients/index.js";
import { startCluster, type Cluster } from "../harness/cluster.js";
import { fmt, forkTs, LogTail, percentile, printTable, reap, sleep } from "./common.js";
import type { SigFromChild, SigToChild, StepResult, StopResultMs } from "./signaling-client.js";

const CHILD = fileURLToPath(new URL("./signaling-client.ts", import.meta.url));
const STEP_TIMEOUT_MS = 15_000;
/**
 * Pause between two plays (ms). The media node sends the publisher at most one keyframe request per 500 ms per
 * stream; with its GOP cache a join needs none while the last keyframe is recent (docs/media-engine.md "GOP cache"),
 * so back-to-back joins no longer wait for the throttle window. The default measures isolated joins;
 * BENCH_PLAY_GAP_MS=0 measures back-to-back joins (one every ~0.2–0.5 s on the same stream).
 */
const PLAY_GAP_MS = Number(process.env.BENCH_PLAY_GAP_MS ?? 600);

type Req = SigToChild extends infer M ? (M extends { reqId: number } ? Omit<M, "reqId"> : never) : never;

class SigChild {
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private next = 1;
  readonly log = new LogTail();
  readonly child = forkTs(CHILD, (l) => this.log.push(`[sig] ${l}`));
  readonly ready: Promise<void>;

  constructor() {
    this.ready = new Promise((resolve, reject) => {
      this.child.on("message", (raw) => {
        const m = raw as SigFromChild;
        if (m.type === "ready") return resolve();
        const p = this.pending.get(m.reqId);
        if (!p) return;
        this.pending.delete(m.reqId);
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(m.error));
      });
      this.child.once("exit", (code, sig) => {
        const err = new Error(`signaling child exited (code ${code}, signal ${sig})\n${this.log.text()}`);
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
    });
  }

  call<T>(req: Req, timeoutMs = STEP_TIMEOUT_MS + 5_000): Promise<T> {
    const reqId = this.next++;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(reqId);
        reject(new Error(`${req.type}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(reqId, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.child.send({ ...req, reqId } as SigToChild);
    });
  }

  close(): Promise<void> {
    return reap(this.child, () => this.child.send({ type: "quit" } satisfies SigToChild));
  }
}

function parseRuns(): number {
  const args = process.argv.slice(2).filter((a) => a !== "--");
  if (args.length === 0) return Number(process.env.BENCH_RUNS ?? 50);
  const n = Number(args[0]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`usage: npm run bench:signaling -- [runs]   (got ${args.join(" ")})`);
    process.exit(2);
  }
  return n;
}

function row(label: string, xs: number[], attempts: number): (string | number)[] {
  return [label, `${xs.length}/${attempts}`, fmt(percentile(xs, 50), 0), fmt(percentile(xs, 95), 0), fmt(xs.length ? Math.min(...xs) : NaN, 0), fmt(xs.length ? Math.max(...xs) : NaN, 0)];
}

async function main(): Promise<number> {
  const runs = parseRuns();
  const t0 = performance.now();
  console.log(
    `signaling benchmark: ${runs} runs each, loopback, one media node; plays ${PLAY_GAP_MS ? `${PLAY_GAP_MS} ms apart (isolated joins; BENCH_PLAY_GAP_MS=0 for back-to-back)` : "back to back (BENCH_PLAY_GAP_MS=0)"}`,
  );
  let cluster: Cluster;
  try {
    cluster = await startCluster({ nodes: 1 });
  } catch (e) {
    console.error(`setup failed: cluster did not start\n${(e as Error).message}`);
    return 1;
  }
  const sig = new SigChild();
  let pub: WcsClientHandle | undefined;
  const failures: string[] = [];
  try {
    await sig.ready;
    await sig.call({ type: "connect", url: cluster.wsUrl });
    const reconnectIfNeeded = async (r: StepResult | StopResultMs, what: string): Promise<void> => {
      if ("info" in r && r.info && /too many streams/i.test(r.info)) {
        failures.push(`${what}: ${r.status} (${r.info}) — opening a new session`);
        await sig.call({ type: "connect", url: cluster.wsUrl });
      }
    };

    // ---- publish / unpublish cycles ----
    const pubAnswer: number[] = [];
    const pubStatus: number[] = [];
    const pubConn: number[] = [];
    const unpub: number[] = [];
    const tag = Date.now().toString(36);
    for (let i = 0; i < runs; i++) {
      const name = `sig-pub-${tag}-${i}`;
      const r = await sig.call<StepResult>({ type: "publish", name, timeoutMs: STEP_TIMEOUT_MS });
      if (r.answerMs !== null) pubAnswer.push(r.answerMs);
      if (r.pcConnectedMs !== null) pubConn.push(r.pcConnectedMs);
      if (r.statusMs !== null) pubStatus.push(r.statusMs);
      else failures.push(`publish #${i + 1} ${name}: ${r.status}${r.info ? ` (${r.info})` : ""}`);
      const u = await sig.call<StopResultMs>({ type: "unpublish", timeoutMs: 5_000 });
      if (u.ms !== null && u.status === "UNPUBLISHED") unpub.push(u.ms);
      else if (r.statusMs !== null) failures.push(`unpublish #${i + 1}: ${u.status}`);
      await reconnectIfNeeded(r, `publish #${i + 1}`);
    }
    console.log(`publish cycles done (${fmt((performance.now() - t0) / 1000, 0)} s)`);

    // ---- plays of one long-running publisher ----
    try {
      pub = await spawnPublisher({ url: cluster.wsUrl, name: "sig-play", label: "pub", width: 640, height: 480, fps: 30, bitrateKbps: 1500 });
      await pub.waitForStatus("PUBLISHING", 30_000);
      await pub.waitForStats((s) => (s.rtp.video?.framesEncoded ?? 0) > 30, 15_000, "publisher encoding");
    } catch (e) {
      console.error(`setup failed: publisher for the play runs\n${(e as Error).message}\n${cluster.logs()}`);
      return 1;
    }
    const playAnswer: number[] = [];
    const playStatus: number[] = [];
    const playIce: number[] = [];
    const playConn: number[] = [];
    const playingToFrame: number[] = [];
    const firstFrame: number[] = [];
    const stopMs: number[] = [];
    const sizes = new Map<string, number>();
    for (let i = 0; i < runs; i++) {
      if (i > 0 && PLAY_GAP_MS > 0) await sleep(PLAY_GAP_MS);
      const r = await sig.call<StepResult>({ type: "play", name: "sig-play", timeoutMs: STEP_TIMEOUT_MS });
      if (r.answerMs !== null) playAnswer.push(r.answerMs);
      if (r.iceConnectedMs !== null) playIce.push(r.iceConnectedMs);
      if (r.pcConnectedMs !== null) playConn.push(r.pcConnectedMs);
      if (r.firstFrameMs !== null && r.statusMs !== null) playingToFrame.push(r.firstFrameMs - r.statusMs);
      if (r.statusMs !== null) playStatus.push(r.statusMs);
      else failures.push(`play #${i + 1}: ${r.status}${r.info ? ` (${r.info})` : ""}`);
      if (r.firstFrameMs !== null) firstFrame.push(r.firstFrameMs);
      else if (r.statusMs !== null) failures.push(`play #${i + 1}: PLAYING but no decoded frame within ${STEP_TIMEOUT_MS} ms`);
      if (r.firstFrameSize) sizes.set(r.firstFrameSize, (sizes.get(r.firstFrameSize) ?? 0) + 1);
      const s = await sig.call<StopResultMs>({ type: "stopPlay", timeoutMs: 5_000 });
      if (s.ms !== null && s.status === "STOPPED") stopMs.push(s.ms);
      else if (r.statusMs !== null) failures.push(`stop #${i + 1}: ${s.status}`);
      await reconnectIfNeeded(r, `play #${i + 1}`);
    }

    // ---- report ----
    console.log(`\nResults (ms, measured in the client from sending the request; ${runs} runs each)`);
    printTable([
      ["step", "ok", "p50", "p95", "min", "max"],
      row("publishStream → setRemoteSDP", pubAnswer, runs),
      row("publishStream → client ICE+DTLS up", pubConn, runs),
      row("publishStream → PUBLISHING", pubStatus, runs),
      row("unPublishStream → UNPUBLISHED", unpub, runs),
      row("playStream → setRemoteSDP", playAnswer, runs),
      row("playStream → client ICE connected", playIce, runs),
      row("playStream → client ICE+DTLS up", playConn, runs),
      row("playStream → PLAYING", playStatus, runs),
      row("playStream → first decoded frame", firstFrame, runs),
      row("  (PLAYING → first decoded frame)", playingToFrame, runs),
      row("stopStream → STOPPED", stopMs, runs),
    ]);
    if (sizes.size) console.log(`first frame sizes: ${[...sizes].map(([k, v]) => `${k} ×${v}`).join(", ")}`);
    if (failures.length) {
      console.log(`\n${failures.length} failure(s):`);
      for (const f of failures.slice(0, 20)) console.log(`  - ${f}`);
      if (failures.length > 20) console.log(`  … and ${failures.length - 20} more`);
    }
    const p50 = percentile(firstFrame, 50);
    console.log(
      `\nBar (issue): first decoded frame p50 ≤ 400 ms → p50 ${fmt(p50, 0)} ms over ${firstFrame.length}/${runs} plays ⇒ ${firstFrame.length === runs && p50 <= 400 ? "MET" : "NOT MET"}`,
    );
    console.log(`total ${fmt((performance.now() - t0) / 1000, 0)} s`);
    return 0;
  } catch (e) {
    console.error(`benchmark aborted: ${(e as Error).message}`);
    if (pub) console.error(`long-running publisher: ${pub.describe(5)}`);
    console.error(`(a wrangler dev reload — any edit under worker/, protocol/ or public/ — drops every WCS session)\n${sig.log.text()}\n${cluster.logs().split("\n").slice(-30).join("\n")}`);
    return 1;
  } finally {
    await sig.close();
    if (pub) {
      await pub.stop().catch(() => undefined);
      await pub.close();
    }
    await closeAllClients();
    await cluster.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
