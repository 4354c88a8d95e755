/**
 * Fan-out benchmark: one publisher → N players through ONE media node (real wrangler dev worker + media node).
 *
 *   npm run bench:fanout                 # N = 1, 16, 64, 128
 *   npm run bench:fanout -- 1 16         # chosen N values
 *
 * Publisher: a @roamhq/wrtc WCS client (test/clients spawnPublisher), 640x480 30 fps VP8 ~1.5 Mbps + opus.
 * Players per round: up to 2 decoding @roamhq/wrtc WCS players (spawnPlayer: decode, read the frame markers, give
 * capture-to-decode latency) plus N − 2 cheap node-datachannel WCS players (light-player.ts: count RTP packets,
 * frames by marker bit, sequence gaps). All must reach PLAYING; after a warm-up, a measurement window compares
 * what the players got with what the publisher encoded, and samples the media node's CPU (/proc/<pid>/stat, all
 * threads) and RSS. Players are stopped between rounds.
 *
 * The media node runs with admission control by measured load as in production (MEDIA_NODE_MAX_LOOP_UTILIZATION 0.9,
 * MEDIA_NODE_MAX_LOOP_LAG_MS 200; BENCH_ADMISSION=off turns it off as the test harness does), so a round either plays
 * every player or refuses the excess with `node_full`. The decoding players join first and stay through the burst of
 * light players: their latency during the burst is the added latency existing players see. The node's own view comes
 * from its Prometheus endpoint (media-node/metrics.ts): refused legs by code, event-loop lag p99 (since the previous
 * scrape), late-dropped packets.
 *
 * Verdict per round: "all played" (every player PLAYING and every frame delivered), "excess refused" (every failed
 * player is a node_full refusal, and every admitted player got every frame), else "FAILED" with why (node lost,
 * publisher lost, a non-refusal failure, frames missing).
 *
 * A benchmark, not a test: it prints figures and exits 0; non-zero only when the setup fails (no cluster, the
 * publisher never publishes) or the publisher was lost. Environment: BENCH_WINDOW_MS (10000), BENCH_WARMUP_MS
 * (3000), BENCH_DECODERS (2), BENCH_LIGHT_PER_PROC (64), BENCH_ADMISSION (on), BENCH_MAX_LEGS (0 = none),
 * BENCH_VERBOSE=1 (child logs to stderr), HARNESS_VERBOSE=1 (worker/node logs).
 */
import { MediaNodePaths, NodeStatus, signedFetch } from "../../protocol/index.js";
import { closeAllClients, spawnPlayer, spawnPublisher, type ClientStats, type WcsClientHandle } from "../clients/index.js";
import { startCluster, type Cluster } from "../harness/cluster.js";
import { CpuMeter, fmt, percentile, printTable, procRssBytes, procThreads, sleep } from "./common.js";
import { C, type LightPlayerInfo } from "./light-player.js";
import { LightPool } from "./light-pool.js";

const DEFAULT_SIZES = [1, 16, 64, 128];
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 10_000);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 3_000);
const DECODERS = Number(process.env.BENCH_DECODERS ?? 2);
const LIGHT_PER_PROC = Number(process.env.BENCH_LIGHT_PER_PROC ?? 64);
const ADMISSION = process.env.BENCH_ADMISSION !== "off";
const MAX_LEGS = process.env.BENCH_MAX_LEGS ?? "0";
const PLAYING_TIMEOUT_MS = 60_000;
const STREAM = "bench-fanout";
/** Frames a player may be short of the publisher's count and still count as "all delivered" (snapshot skew). */
const FRAME_SKEW = 2;

interface Round {
  n: number;
  decoders: number;
  light: number;
  playing: number;
  failed: string[];
  setupSec: number;
  nodeCpu: number;
  machineBusy: number;
  clientCpu: number;
  rssBefore: number;
  rssAfter: number;
  threads: number;
  pubFrames: number;
  pubFps: number;
  pubPackets: number;
  decFramesMin: number;
  decFramesAvg: number;
  decLatAvg: number | null;
  decLatMax: number | null;
  decLost: number;
  lightFramesMin: number;
  lightFramesAvg: number;
  lightPackets: number;
  lightLost: number;
  lightLate: number;
  lightStalled: number;
  lightKeyFrames: number;
  firstPktP50: number;
  firstPktMax: number;
  playingP50: number;
  playingMax: number;
  leftoverLegs: number | null;
  allDelivered: boolean;
  /** Legs the node refused with node_full during the round (its metrics). */
  refusedFull: number;
  /** Legs refused with any other code. */
  refusedOther: number;
  /** Event-loop lag while the players joined / during the window: p99 and max, ms. */
  joinLagP99: number;
  joinLagMax: number;
  windowLagP99: number;
  /** Decoding players' capture-to-decode latency while the light players joined, ms (average). */
  burstLatAvg: number | null;
  lateDropped: number;
  verdict: string;
}

function parseSizes(): number[] {
  const args = process.argv.slice(2).filter((a) => a !== "--");
  if (args.length === 0) return DEFAULT_SIZES;
  const sizes = args.map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    console.error(`usage: npm run bench:fanout -- [N ...]   (positive integers; got ${args.join(" ")})`);
    process.exit(2);
  }
  return sizes;
}

async function nodeLegs(cluster: Cluster): Promise<number | null> {
  const node = cluster.nodes[0];
  if (!node) return null;
  try {
    const res = await signedFetch(cluster.secret, node.controlUrl + MediaNodePaths.status, "GET", undefined, 5000);
    if (!res.ok) return null;
    const st = NodeStatus.safeParse(await res.json());
    return st.success ? st.data.legs.length : null;
  } catch {
    return null;
  }
}

/** The node's Prometheus metrics as `name{labels}` → value (media-node/metrics.ts); empty when it did not answer. */
async function scrape(cluster: Cluster): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const node = cluster.nodes[0];
  if (!node) return out;
  try {
    const res = await fetch(node.controlUrl + "/metrics", { signal: AbortSignal.timeout(5000) });
    for (const line of (await res.text()).split("\n")) {
      const m = /^([a-z_:][a-z0-9_:]*(?:\{[^}]*\})?) ([-+0-9.eE]+|NaN)$/i.exec(line);
      if (m) out.set(m[1]!, Number(m[2]));
    }
  } catch {
    // an unreachable node shows as missing figures
  }
  return out;
}

/** Sum of the values of metric `name` whose labels contain `labelPart`, e.g. refused legs of code node_full; NaN when the scrape failed. */
function metricSum(m: Map<string, number>, name: string, labelPart = ""): number {
  if (m.size === 0) return NaN;
  let sum = 0;
  for (const [k, v] of m) if ((k === name || k.startsWith(name + "{")) && k.includes(labelPart)) sum += v;
  return sum;
}

const ms = (seconds: number | undefined): number => (seconds === undefined ? NaN : seconds * 1000);

const videoOf = (s: ClientStats): { frames: number; packets: number; lost: number } => ({
  frames: s.rtp.video?.framesEncoded ?? s.framesSent,
  packets: s.rtp.video?.packets ?? 0,
  lost: s.rtp.video?.packetsLost ?? 0,
});

/** Why the publisher is no longer publishing (terminal status, closed socket, exited child), or "" while it is. */
function publisherGone(pub: WcsClientHandle): string {
  const st = pub.statuses.map((s) => s.status + (s.info ? ` (${s.info})` : "")).join(", ");
  if (pub.exit) return `publisher process exited (code ${pub.exit.code}, signal ${pub.exit.signal}); statuses ${st}`;
  if (pub.socketClose) return `publisher WebSocket closed (${pub.socketClose.code} ${pub.socketClose.reason}); statuses ${st}`;
  if (pub.lastStatus !== "PUBLISHING") return `publisher status ${pub.lastStatus}; statuses ${st}`;
  return "";
}

/** Failures ("<who>: <why>") grouped by why, most frequent first. */
function byReason(failed: string[]): [string, string[]][] {
  const groups = new Map<string, string[]>();
  for (const f of failed) {
    const at = f.indexOf(": ");
    const [who, why] = at < 0 ? ["?", f] : [f.slice(0, at), f.slice(at + 2)];
    groups.set(why, [...(groups.get(why) ?? []), who]);
  }
  return [...groups].sort((a, b) => b[1].length - a[1].length);
}

async function runRound(cluster: Cluster, pub: WcsClientHandle, pools: LightPool[], n: number, nodePid: number, baseCpu: number): Promise<Round> {
  const decoders = Math.min(DECODERS, n);
  const light = n - decoders;
  const url = cluster.wsUrl;
  const failed: string[] = [];
  console.log(`\n== N=${n}: ${decoders} decoding wrtc player(s) + ${light} light player(s)`);

  // light players spread over processes of at most LIGHT_PER_PROC players
  const needProcs = Math.ceil(light / LIGHT_PER_PROC);
  while (pools.length < needProcs) pools.push(await LightPool.start(`light#${pools.length + 1}`));
  const idsPerPool: number[][] = pools.map(() => []);
  for (let i = 0; i < light; i++) idsPerPool[Math.floor(i / LIGHT_PER_PROC)]!.push(i + 1);

  const rssBefore = procRssBytes(nodePid);
  const m0 = await scrape(cluster); // also restarts the node's lag histogram
  const t0 = performance.now();
  // the decoding players join first: they are the existing players whose delivery and latency the burst must not hurt
  const decHandles: WcsClientHandle[] = [];
  const decP = Array.from({ length: decoders }, async (_, i) => {
    const h = await spawnPlayer({ url, name: STREAM, label: `dec${i + 1}` });
    decHandles.push(h);
    await h.waitForStatus("PLAYING", PLAYING_TIMEOUT_MS);
    return h;
  });
  await Promise.allSettled(decP);
  const latBefore = await Promise.all(decHandles.map((d) => d.stats().catch(() => null)));
  const lightP = pools.map(async (pool, i) => {
    const ids = idsPerPool[i]!;
    if (ids.length === 0) return { ok: [] as number[], failed: [] as number[], pending: [] as number[] };
    const add = await pool.add(url, STREAM, ids);
    for (const f of add.failed) failed.push(`light ${pool.label}/${f.id}: ${f.error}`);
    const startedIds = ids.filter((id) => !add.failed.some((f) => f.id === id));
    return pool.waitAll(startedIds, "PLAYING", PLAYING_TIMEOUT_MS);
  });
  const decSettled = await Promise.allSettled(decP);
  const lightRes = await Promise.all(lightP);
  const setupSec = (performance.now() - t0) / 1000;
  const m1 = await scrape(cluster);
  const latAfter = await Promise.all(decHandles.map((d) => d.stats().catch(() => null)));
  let burstLatSum = 0;
  let burstLatN = 0;
  latBefore.forEach((a, i) => {
    const b = latAfter[i];
    if (!a || !b) return;
    burstLatSum += b.latencySumMs - a.latencySumMs;
    burstLatN += b.latencySamples - a.latencySamples;
  });
  const decs: WcsClientHandle[] = [];
  for (const r of decSettled) {
    if (r.status === "fulfilled") decs.push(r.value);
    else failed.push(`decoder: ${(r.reason as Error).message.split("\n").slice(0, 4).join(" | ")}`);
  }
  const lightPlaying = new Set<number>();
  lightRes.forEach((r, i) => {
    const pool = pools[i]!;
    for (const id of r.ok) lightPlaying.add(id);
    for (const id of r.failed) {
      const s = pool.statuses.get(id);
      failed.push(`light ${pool.label}/${id}: ${s?.status}${s?.info ? ` (${s.info})` : ""}`);
    }
    for (const id of r.pending) failed.push(`light ${pool.label}/${id}: no PLAYING within ${PLAYING_TIMEOUT_MS} ms (last: ${pool.statuses.get(id)?.status ?? "PENDING"})`);
  });
  const playing = decs.length + lightPlaying.size;
  console.log(`   ${playing}/${n} PLAYING after ${setupSec.toFixed(1)} s${failed.length ? `; ${failed.length} failed:` : ""}`);
  for (const [why, who] of byReason(failed)) console.log(`     - ${who.length} × ${why} (${who.slice(0, 3).join(", ")}${who.length > 3 ? ", …" : ""})`);

  await sleep(WARMUP_MS);

  const clientPids = [pub.pid, ...decs.map((d) => d.pid), ...pools.map((p) => p.pid)].filter((p): p is number => !!p);
  const mark = async () =>
    Promise.all([pub.stats(), Promise.all(decs.map((d) => d.stats())), Promise.all(pools.map((p) => p.snapshot()))]);
  const [pubA, decA, lightA] = await mark();
  await scrape(cluster); // restarts the lag histogram for the window
  const cpu = new CpuMeter([nodePid]);
  const ccpu = new CpuMeter(clientPids);
  const tA = performance.now();
  await sleep(WINDOW_MS);
  const [pubB, decB, lightB] = await mark();
  const m2 = await scrape(cluster);
  const seconds = (performance.now() - tA) / 1000;
  const nodeCpu = cpu.stop();
  const clientCpu = ccpu.stop();
  const rssAfter = procRssBytes(nodePid);
  const threads = procThreads(nodePid);

  const gone = publisherGone(pub);
  if (gone) console.log(`   !! publisher lost during the round: ${gone}`);
  const pv0 = videoOf(pubA);
  const pv1 = videoOf(pubB);
  // a publisher that died mid-round reports zeroed stats: no negative counts
  const pubFrames = gone ? NaN : pv1.frames - pv0.frames;
  const pubPackets = gone ? NaN : pv1.packets - pv0.packets;

  // decoding players
  const decFrames: number[] = [];
  let latSum = 0;
  let latN = 0;
  let latMax: number | null = null;
  let decLost = 0;
  decA.forEach((a, i) => {
    const b = decB[i]!;
    decFrames.push(b.uniqueFrames - a.uniqueFrames);
    latSum += b.latencySumMs - a.latencySumMs;
    latN += b.latencySamples - a.latencySamples;
    if (b.latencyMaxMs !== null) latMax = Math.max(latMax ?? 0, b.latencyMaxMs);
    decLost += (b.rtp.video?.packetsLost ?? 0) - (a.rtp.video?.packetsLost ?? 0);
  });

  // light players (only those PLAYING)
  const before = new Map<number, LightPlayerInfo>();
  for (const s of lightA) for (const p of s.players) before.set(p.id, p);
  const lightFrames: number[] = [];
  let lightPackets = 0;
  let lightLost = 0;
  let lightLate = 0;
  let lightStalled = 0;
  let lightKeyFrames = 0;
  const firstPkt: number[] = [];
  const playingMs: number[] = [];
  const answerMs: number[] = [];
  const iceMs: number[] = [];
  const connMs: number[] = [];
  for (const s of lightB)
    for (const p of s.players) {
      if (!lightPlaying.has(p.id)) continue;
      const a = before.get(p.id);
      if (!a) continue;
      const d = (k: number): number => (p.c[k] ?? 0) - (a.c[k] ?? 0);
      lightFrames.push(d(C.vFrames));
      lightPackets += d(C.vPackets);
      lightLost += d(C.vLost);
      lightLate += d(C.vLate);
      lightKeyFrames += d(C.vKeyFrames);
      if (d(C.vPackets) === 0) lightStalled++;
      if (p.c[C.firstVideoAt]) firstPkt.push(p.c[C.firstVideoAt]! - p.sentAt);
      if (p.playingAt) playingMs.push(p.playingAt - p.sentAt);
      if (p.answerAt) answerMs.push(p.answerAt - p.sentAt);
      if (p.iceConnectedAt) iceMs.push(p.iceConnectedAt - p.sentAt);
      if (p.connectedAt) connMs.push(p.connectedAt - p.sentAt);
    }

  const min = (xs: number[]): number => (xs.length ? Math.min(...xs) : NaN);
  const avg = (xs: number[]): number => (xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : NaN);
  const allFrames = [...decFrames, ...lightFrames];
  /** Every admitted (PLAYING) player got every frame in the window, without loss. */
  // Delivery is judged by what reached the players: the light players' frames (marker bits) and sequence gaps, and
  // the decoding players' lost packets. Their decoded-frame count is shown but not judged: a wrtc decoder on a
  // saturated 2-core box skips frames it received (client CPU, not delivery).
  const admittedDelivered =
    !gone && allFrames.length === playing && lightFrames.every((f) => f >= pubFrames - FRAME_SKEW) && lightLost === 0 && decLost <= 0;
  const allDelivered = playing === n && admittedDelivered;
  const refusedFull = metricSum(m2, "wcs_media_node_legs_refused_total", 'code="node_full"') - metricSum(m0, "wcs_media_node_legs_refused_total", 'code="node_full"');
  const refusedOther = metricSum(m2, "wcs_media_node_legs_refused_total") - metricSum(m0, "wcs_media_node_legs_refused_total") - refusedFull;
  // judged by what the clients were told (a refusal the node counted after the worker timed out is a timeout to them)
  const clientFull = failed.filter((f) => f.includes(": FAILED (Media node is full")).length;
  const nodeLive = (await cluster.listNodes()).some((x) => x.nodeId === cluster.nodes[0]?.nodeId && x.live);
  const verdict = !nodeLive
    ? "FAILED: node lost"
    : gone
      ? "FAILED: publisher lost"
      : !admittedDelivered
        ? "FAILED: admitted players missed frames"
        : Number.isNaN(refusedFull)
          ? "FAILED: the node did not answer its metrics"
          : playing === n
          ? "all played"
          : failed.length === clientFull
            ? "excess refused"
            : `FAILED: ${failed.length - clientFull} of ${failed.length} failures were not node_full refusals`;

  // teardown: stop every player, then check the node released the legs
  await Promise.all(
    decHandles.map(async (d) => {
      if (decs.includes(d)) await d.stop().catch(() => undefined);
      await d.close();
    }),
  );
  await Promise.all(pools.map((p) => p.stop().catch(() => undefined)));
  let leftover = await nodeLegs(cluster);
  for (let i = 0; i < 20 && leftover !== null && leftover > 1; i++) {
    await sleep(250);
    leftover = await nodeLegs(cluster);
  }

  const r: Round = {
    n,
    decoders,
    light,
    playing,
    failed,
    setupSec,
    nodeCpu: nodeCpu.percent,
    machineBusy: nodeCpu.machineBusyPercent,
    clientCpu: clientCpu.percent,
    rssBefore,
    rssAfter,
    threads,
    pubFrames,
    pubFps: pubFrames / seconds,
    pubPackets,
    decFramesMin: min(decFrames),
    decFramesAvg: avg(decFrames),
    decLatAvg: latN ? latSum / latN : null,
    decLatMax: latMax,
    decLost,
    lightFramesMin: min(lightFrames),
    lightFramesAvg: avg(lightFrames),
    lightPackets,
    lightLost,
    lightLate,
    lightStalled,
    lightKeyFrames,
    firstPktP50: percentile(firstPkt, 50),
    firstPktMax: firstPkt.length ? Math.max(...firstPkt) : NaN,
    playingP50: percentile(playingMs, 50),
    playingMax: playingMs.length ? Math.max(...playingMs) : NaN,
    leftoverLegs: leftover === null ? null : Math.max(0, leftover - 1), // minus the publisher leg
    allDelivered,
    refusedFull,
    refusedOther,
    joinLagP99: ms(m1.get("nodejs_eventloop_lag_p99_seconds")),
    joinLagMax: ms(m1.get("nodejs_eventloop_lag_max_seconds")),
    windowLagP99: ms(m2.get("nodejs_eventloop_lag_p99_seconds")),
    burstLatAvg: burstLatN ? burstLatSum / burstLatN : null,
    lateDropped: metricSum(m2, "wcs_media_node_rtp_late_dropped_total") - metricSum(m0, "wcs_media_node_rtp_late_dropped_total"),
    verdict,
  };
  const pct = (x: number): string => (pubFrames > 0 && Number.isFinite(x) ? fmt((100 * x) / pubFrames, 1) + "%" : "–");
  console.log(
    `   node CPU ${fmt(r.nodeCpu)}% of a core (publisher-only baseline ${fmt(baseCpu)}%), RSS ${fmt(rssBefore / 2 ** 20)} → ${fmt(rssAfter / 2 ** 20)} MB, ${threads} threads; machine busy ${fmt(r.machineBusy)}% of all cores, clients ${fmt(r.clientCpu)}% of a core`,
  );
  console.log(`   publisher: ${pubFrames} frames encoded (${fmt(r.pubFps)} fps), ${pubPackets} video packets in ${fmt(seconds, 2)} s`);
  if (decoders) console.log(`   decoding players: frames min ${r.decFramesMin} (${pct(r.decFramesMin)}) avg ${fmt(r.decFramesAvg)}; latency avg ${fmt(r.decLatAvg)} ms, max ${fmt(r.decLatMax, 0)} ms; packetsLost ${decLost}`);
  if (light) {
    console.log(
      `   light players: frames min ${r.lightFramesMin} (${pct(r.lightFramesMin)}) avg ${fmt(r.lightFramesAvg)}; video packets ${lightPackets} (${fmt(lightPackets / Math.max(1, lightFrames.length))}/player vs ${pubPackets} sent), lost ${lightLost}, late ${lightLate}, stalled ${lightStalled}, keyframes ${lightKeyFrames}`,
    );
    const p = (xs: number[]): string => `${fmt(percentile(xs, 50), 0)}/${fmt(xs.length ? Math.max(...xs) : NaN, 0)}`;
    console.log(
      `   light players' join, ms after playStream (p50/max): setRemoteSDP ${p(answerMs)}, ICE connected ${p(iceMs)}, ICE+DTLS up ${p(connMs)}, first RTP ${p(firstPkt)}, PLAYING ${p(playingMs)}`,
    );
  }
  console.log(
    `   admission: ${playing} admitted, ${fmt(refusedFull, 0)} refused node_full, ${fmt(refusedOther, 0)} refused otherwise; event-loop lag p99/max while joining ${fmt(r.joinLagP99, 0)}/${fmt(r.joinLagMax, 0)} ms, p99 in the window ${fmt(r.windowLagP99, 0)} ms; ${fmt(r.lateDropped, 0)} late packets dropped`,
  );
  if (decoders) console.log(`   existing (decoding) players' latency while the others joined: avg ${fmt(r.burstLatAvg, 0)} ms`);
  console.log(`   after stop: ${r.leftoverLegs ?? "?"} player leg(s) left on the node`);
  console.log(`   verdict: ${verdict}`);
  return r;
}

async function main(): Promise<number> {
  const sizes = parseSizes();
  const tStart = performance.now();
  console.log(
    `fan-out benchmark: N = ${sizes.join(", ")}; warm-up ${WARMUP_MS} ms, window ${WINDOW_MS} ms; ${DECODERS} decoding players per round; admission by load ${ADMISSION ? "on" : "off"}${MAX_LEGS !== "0" ? `, MEDIA_NODE_MAX_LEGS ${MAX_LEGS}` : ""}`,
  );

  let cluster: Cluster;
  try {
    cluster = await startCluster({ nodes: 0 });
    await cluster.startNode({
      MEDIA_NODE_MAX_LEGS: MAX_LEGS,
      // production defaults of media-node/config.ts (the harness turns admission by load off for tests)
      ...(ADMISSION ? { MEDIA_NODE_MAX_LOOP_UTILIZATION: "0.9", MEDIA_NODE_MAX_LOOP_LAG_MS: "200" } : {}),
    });
  } catch (e) {
    console.error(`setup failed: cluster did not start\n${(e as Error).message}`);
    return 1;
  }
  const pools: LightPool[] = [];
  let pub: WcsClientHandle | undefined;
  const rounds: Round[] = [];
  try {
    const nodePid = cluster.nodes[0]?.process.pid;
    if (!nodePid) throw new Error("no media node pid");
    console.log(`cluster: ${cluster.wsUrl}, media node ${cluster.nodes[0]!.nodeId} pid ${nodePid}`);

    try {
      pub = await spawnPublisher({ url: cluster.wsUrl, name: STREAM, label: "pub", width: 640, height: 480, fps: 30, bitrateKbps: 1500 });
      await pub.waitForStatus("PUBLISHING", 30_000);
      await pub.waitForStats((s) => (s.rtp.video?.framesEncoded ?? 0) > 30, 15_000, "publisher encoding");
    } catch (e) {
      console.error(`setup failed: publisher\n${(e as Error).message}\n${cluster.logs()}`);
      return 1;
    }

    // publisher-only baseline
    await sleep(2_000);
    const baseMeter = new CpuMeter([nodePid]);
    const p0 = await pub.stats();
    await sleep(5_000);
    const p1 = await pub.stats();
    const base = baseMeter.stop();
    const kbps = (((p1.rtp.video?.bytes ?? 0) - (p0.rtp.video?.bytes ?? 0)) * 8) / 1000 / base.seconds;
    const fps = ((p1.rtp.video?.framesEncoded ?? 0) - (p0.rtp.video?.framesEncoded ?? 0)) / base.seconds;
    console.log(
      `publisher: ${p1.rtp.video?.codec ?? "?"} ${p1.rtp.video?.frameWidth}x${p1.rtp.video?.frameHeight}, ${fmt(fps)} fps, ${fmt(kbps, 0)} kbps video; node CPU with the publisher only: ${fmt(base.percent)}% of a core, RSS ${fmt(procRssBytes(nodePid) / 2 ** 20)} MB`,
    );

    let publisherLost = false;
    for (const n of sizes) {
      const lost = publisherGone(pub);
      if (lost) {
        console.log(
          `\npublisher lost before N=${n}: ${lost}; remaining rounds skipped (a wrangler dev reload — any edit under worker/, protocol/ or public/ — drops every WCS session)\n\n` +
            // why the node or stream went: the worker's and node's own lines about it
            cluster
              .logs()
              .split("\n")
              .filter((l) => /media_node_(lost|unreachable|timeout|loop_starved)|stream_node_lost|heartbeat (unreachable|timed out)|event dropped/.test(l))
              .slice(-20)
              .join("\n"),
        );
        publisherLost = true;
        break;
      }
      try {
        rounds.push(await runRound(cluster, pub, pools, n, nodePid, base.percent));
      } catch (e) {
        console.log(`   round N=${n} aborted: ${(e as Error).message}`);
      }
      await sleep(1_000);
    }

    // the last round's teardown may still take the node or the stream down: look once more
    if (!publisherLost && rounds.length > 0) {
      await sleep(5_000);
      const lost = publisherGone(pub);
      if (lost) {
        console.log(`\npublisher lost after the last round: ${lost}`);
        publisherLost = true;
      }
    }

    // ---- summary ----
    console.log("\nSummary (window figures; CPU = media node process, all threads, % of one core)");
    const pct = (x: number, of: number): string => (of > 0 && Number.isFinite(x) ? fmt((100 * x) / of, 1) : "–");
    printTable([
      ["N", "admitted", "refused", "setup s", "node CPU %", "CPU/player %", "marg./player %", "RSS MB", "KB/player", "pub fps", "dec frames min %", "light frames min %", "loss %", "lag p99 join/window ms", "burst lat ms", "lat max ms", "box busy %", "verdict"],
      ...rounds.map((r) => [
        r.n,
        `${r.playing}/${r.n}`,
        fmt(r.refusedFull + r.refusedOther, 0),
        fmt(r.setupSec),
        fmt(r.nodeCpu),
        fmt(r.nodeCpu / Math.max(1, r.playing), 2),
        fmt((r.nodeCpu - base.percent) / Math.max(1, r.playing), 2),
        fmt(r.rssAfter / 2 ** 20),
        r.playing >= 8 ? fmt((r.rssAfter - r.rssBefore) / 1024 / r.playing, 0) : "–",
        fmt(r.pubFps),
        pct(r.decFramesMin, r.pubFrames),
        r.light ? pct(r.lightFramesMin, r.pubFrames) : "–",
        r.lightPackets + r.lightLost > 0 ? fmt((100 * r.lightLost) / (r.lightPackets + r.lightLost), 3) : "–",
        `${fmt(r.joinLagP99, 0)}/${fmt(r.windowLagP99, 0)}`,
        fmt(r.burstLatAvg, 0),
        fmt(r.decLatMax, 0),
        fmt(r.machineBusy),
        r.verdict,
      ]),
    ]);
    console.log(
      "  admitted = players PLAYING; refused = legs the node refused (its metrics, by code; node_full = admission control);\n" +
        "  CPU/player = node CPU / admitted; marg./player = (node CPU − publisher-only baseline) / admitted; KB/player = RSS growth during the round / admitted (≥ 8; GC noise below);\n" +
        "  frames min % = worst admitted player's frames in the window / frames the publisher encoded (±1–2 frames of snapshot skew);\n" +
        "  loss % = light players' RTP sequence gaps / expected packets; lag p99 = the node's event-loop lag while the light players joined / in the window;\n" +
        "  burst lat = decoding players' average capture→decode latency while the light players joined (they joined first); lat max = their worst over the whole play.",
    );
    if (rounds.length >= 2) {
      const first = rounds[0]!;
      const last = rounds[rounds.length - 1]!;
      console.log(
        `  ratios N=${first.n}→${last.n}: admitted ×${fmt(last.playing / Math.max(1, first.playing), 0)}, node CPU ×${fmt(last.nodeCpu / Math.max(0.01, first.nodeCpu), 1)}, RSS growth ${fmt((last.rssAfter - first.rssBefore) / 2 ** 20)} MB`,
      );
    }
    const played = rounds.filter((r) => r.verdict === "all played").length;
    const refused = rounds.filter((r) => r.verdict === "excess refused").length;
    const bad = rounds.filter((r) => r.verdict.startsWith("FAILED"));
    const aborted = sizes.length - rounds.length;
    console.log(
      `\nSummary: ${rounds.length} round(s): ${played} played every player with every frame, ${refused} refused the excess with node_full while every admitted player got every frame, ` +
        `${bad.length} failed${bad.length ? ` (${bad.map((r) => `N=${r.n}: ${r.verdict.slice(8)}`).join("; ")})` : ""}${aborted ? `, ${aborted} aborted or skipped` : ""}; ` +
        `node lost in ${rounds.filter((r) => r.verdict === "FAILED: node lost").length}${publisherLost ? ", publisher lost (see above)" : ""} ⇒ ${bad.length === 0 && aborted === 0 && !publisherLost ? "MET" : "NOT MET"}`,
    );
    console.log(`total ${fmt((performance.now() - tStart) / 1000, 0)} s`);
    return publisherLost ? 1 : 0;
  } finally {
    if (pub) {
      await pub.stop().catch(() => undefined);
      await pub.close();
    }
    await closeAllClients();
    await Promise.all(pools.map((p) => p.close()));
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
