/**
 * Benchmark: CPU per recorded stream (docs/media-engine.md "Recording"). `npm run bench:recording [-- N]`
 *
 * A real local deployment (test/harness/cluster.ts: `wrangler dev` with its local R2, one media node) and N wrtc
 * publishers (VP8 640x480 30 fps pinned at 1.5 Mbps, plus Opus; default N = 4), measured twice over the same window:
 * published without recording, then published again with `record: true`. Per recorded stream it prints the media
 * node's own CPU (process, all threads; /proc/<pid>/stat) with recording minus without, the recording ffmpeg
 * processes' CPU (the node's children), and the bytes uploaded. Run it on an otherwise idle machine; it is not a test
 * (exit 0 unless the setup fails).
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeAllClients, spawnPublisher } from "../clients/index.js";
import { startCluster } from "../harness/cluster.js";
import { procCpuSec, procRssBytes, sleep } from "./common.js";

const N = Number(process.argv[2] ?? 4);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 20_000);
const WARMUP_MS = 5_000;

/** The pids of `pid`'s ffmpeg children (the recording ffmpegs of a node; not tsx's esbuild). */
function children(pid: number): number[] {
  try {
    const lines = execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(pid)], { encoding: "utf8" }).split("\n");
    return lines.filter((l) => /^\d+\s+ffmpeg$/.test(l.trim())).map((l) => Number.parseInt(l.trim(), 10));
  } catch {
    return [];
  }
}

async function round(url: string, nodePid: number, record: boolean): Promise<{ node: number; ffmpeg: number; ffmpegs: number; ffmpegRssMiB: number }> {
  const pubs = await Promise.all(Array.from({ length: N }, () => spawnPublisher({ url, name: `bench-rec-${randomUUID().slice(0, 8)}`, record, bitrateKbps: 1500 })));
  await Promise.all(pubs.map((p) => p.waitForStatus("PUBLISHING")));
  await sleep(WARMUP_MS);
  const kids = children(nodePid);
  const n0 = procCpuSec(nodePid);
  const k0 = kids.map(procCpuSec);
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const secs = (performance.now() - t0) / 1000;
  const node = ((procCpuSec(nodePid) - n0) / secs) * 100;
  const ffmpeg = (kids.map(procCpuSec).reduce((a, c, i) => a + (c - k0[i]!), 0) / secs) * 100;
  const ffmpegRssMiB = kids.length ? kids.map(procRssBytes).reduce((a, b) => a + b, 0) / kids.length / 2 ** 20 : 0;
  for (const p of pubs) await p.stop();
  await closeAllClients();
  await sleep(3000);
  return { node, ffmpeg, ffmpegs: kids.length, ffmpegRssMiB };
}

const cluster = await startCluster({ nodes: 1 });
try {
  const pid = cluster.nodes[0]!.process.pid!;
  const plain = await round(cluster.wsUrl, pid, false);
  const rec = await round(cluster.wsUrl, pid, true);
  const fmt = (x: number) => x.toFixed(2);
  console.log(`${N} publishers, VP8 640x480 1.5 Mbps + Opus, ${WINDOW_MS / 1000} s window (% of one core)`);
  console.log(`  node without recording: ${fmt(plain.node)} %  (${fmt(plain.node / N)} % per stream)`);
  console.log(`  node with recording:    ${fmt(rec.node)} %  (${fmt(rec.node / N)} % per stream)`);
  console.log(`  recording ffmpegs (${rec.ffmpegs}): ${fmt(rec.ffmpeg)} %  (${fmt(rec.ffmpeg / N)} % per stream), ${fmt(rec.ffmpegRssMiB)} MiB RSS each`);
  console.log(`  per recorded stream: node +${fmt((rec.node - plain.node) / N)} %, ffmpeg ${fmt(rec.ffmpeg / N)} %, total ${fmt((rec.node - plain.node + rec.ffmpeg) / N)} %`);
} finally {
  await cluster.stop();
}
process.exit(0);
