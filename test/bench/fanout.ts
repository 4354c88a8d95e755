/**
 * Fan-out benchmark: M publishers → N players through K media nodes (real wrangler dev worker + media node
 * processes). With one node it measures one node's fan-out; with several it measures the cascade
 * (docs/architecture.md "Cascade: one stream on several nodes").
 *
 *   npm run bench:fanout                               # 1 node, 1 stream, N = 1, 16, 64, 128
 *   npm run bench:fanout -- 1 16                       # chosen N values
 *   npm run bench:fanout -- --nodes 2 64 128           # 2 nodes: the publisher's node is the origin, the other an edge
 *   npm run bench:fanout -- --nodes 2 --streams 2 64   # 2 publishers (bench-fanout-1, -2), N/2 players each
 *   npm run bench:fanout -- --compare-nodes 2 64 128   # the sizes on a fresh 1-node cluster, then on a fresh 2-node one
 *
 * Publishers: M @roamhq/wrtc WCS clients (test/clients spawnPublisher), each 640x480 30 fps VP8 ~1.5 Mbps + opus,
 * streams bench-fanout-1..M (bench-fanout when M = 1), published one after the other: the registry places each on the
 * least-loaded node, so with K ≥ M every stream has its own origin. A publisher-only baseline of node CPU follows.
 * Players per round: player i plays stream i mod M (N/M per stream, the first streams one more when M does not divide
 * N). Up to 2 of them are decoding @roamhq/wrtc WCS players (spawnPlayer: decode, read the frame markers, give
 * capture-to-decode latency), the rest cheap node-datachannel WCS players (light-player.ts: count RTP packets and
 * bytes, frames by marker bit, sequence gaps). All must reach PLAYING; after a warm-up, a measurement window compares
 * what each player got with what ITS stream's publisher encoded, and samples the media nodes' CPU (/proc/<pid>/stat,
 * all threads) and RSS. Players are stopped between rounds.
 *
 * The media nodes run with admission control by measured load as in production (MEDIA_NODE_MAX_LOOP_UTILIZATION 0.9,
 * MEDIA_NODE_MAX_LOOP_LAG_MS 200; BENCH_ADMISSION=off turns it off as the test harness does). A stream's players go
 * to its origin while the origin admits them; when it answers node_full the StreamDO places them on edges (other
 * nodes that pull the stream); a player no node admits is refused with `node_full`. The decoding players join first
 * and stay through the burst of light players: their latency during the burst is the added latency existing players
 * see. The nodes' own view comes from their Prometheus endpoints (media-node/metrics.ts): refused legs by code,
 * event-loop lag p99 (since the previous scrape), late-dropped packets.
 *
 * Several nodes: CPU, RSS, threads, refused legs and late drops are summed over the nodes, event-loop lag is the worst
 * node's, and a round fails when any node is lost. Each round prints each node's players (signed GET /v1/status:
 * player legs of the bench's streams, less the feed legs an origin holds for its edges) and how many edges pulled a
 * stream. After the players stop, the bench waits until the nodes hold no player leg and the edges' pull legs are
 * gone (an edge lingers CASCADE_LINGER_MS, 5 s, after its last player), so every round starts from the origins alone;
 * pull legs still there after that are reported apart from leftover player legs.
 *
 * Figures of issue 12, per round and in the summary: node CPU per admitted player (% of one core, summed over nodes)
 * and forwarded Mbps per core of node CPU (RTP bytes of video + audio the players received in the window × 8 /
 * window / (node CPU % / 100); light players count whole RTP packets, decoding players the payload bytes their
 * getStats reports). `--compare-nodes K` runs the same sizes on a fresh 1-node cluster, then on a fresh K-node one,
 * and prints admitted(K nodes) / admitted(1 node) per size and whether the issue's bars hold: the players admitted
 * and fully served over K nodes ≥ 1.7 × one node's, node CPU per player ≤ 0.30 % of a core.
 *
 * Verdict per round: "all played" (every player PLAYING and every frame delivered), "excess refused" (every failed
 * player is a node_full refusal, and every admitted player got every frame), else "FAILED" with why (node lost,
 * publisher lost, a non-refusal failure, frames missing).
 *
 * A benchmark, not a test: it prints figures and exits 0; non-zero only when the setup fails (no cluster, a
 * publisher never publishes) or a publisher was lost; 2 for bad arguments. Environment: BENCH_WINDOW_MS (10000),
 * BENCH_WARMUP_MS (3000), BENCH_DECODERS (2), BENCH_LIGHT_PER_PROC (64), BENCH_ADMISSION (on), BENCH_MAX_LEGS
 * (0 = none; per node), BENCH_PACE (0: light players joining per second, all at once when 0), BENCH_CLIENT_NICE
 * (10: the light players' processes run at this niceness, so that on one machine the worker and the nodes are served
 * first, as they would be on machines of their own; 0 = same priority), BENCH_DECODER_NICE (0: the decoding players'
 * niceness), BENCH_VERBOSE=1 (child logs to stderr),
 * HARNESS_VERBOSE=1 (worker/node logs).
 */
import { readdirSync } from "node:fs";
import { setPriority } from "node:os";
import { parseArgs } from "node:util";
import { MediaNodePaths, NodeStatus, signedFetch } from "../../protocol/index.js";
import { closeAllClients, spawnPlayer, spawnPublisher, type ClientStats, type WcsClientHandle } from "../clients/index.js";
import { startCluster, type Cluster, type MediaNodeProc } from "../harness/cluster.js";
import { CpuMeter, fmt, percentile, printTable, procRssBytes, procThreads, sleep, sumOver } from "./common.js";
import { C, type LightPlayerInfo } from "./light-player.js";
import type { LightSnapshot } from "./light-pool.js";
import { LightPool } from "./light-pool.js";

const DEFAULT_SIZES = [1, 16, 64, 128];
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 10_000);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 3_000);
const DECODERS = Number(process.env.BENCH_DECODERS ?? 2);
const LIGHT_PER_PROC = Number(process.env.BENCH_LIGHT_PER_PROC ?? 64);
const ADMISSION = process.env.BENCH_ADMISSION !== "off";
const MAX_LEGS = process.env.BENCH_MAX_LEGS ?? "0";
/**
 * Scheduling niceness of the players' processes (0–19): on one machine they compete with the server for the same
 * cores, which in a deployment they would not; a positive value lets the worker and the media nodes run first.
 */
const CLIENT_NICE = Number(process.env.BENCH_CLIENT_NICE ?? 10);
/**
 * Niceness of the decoding players (0–19; default 0, not lowered): they stand for the existing viewers, who decode on
 * machines of their own. Niced with the light players, their capture→decode latency would measure how long a starved
 * decoder waits for this machine's CPU, not what the server adds.
 */
const DECODER_NICE = Number(process.env.BENCH_DECODER_NICE ?? 0);
/** The issue-10 bar for the existing players while a burst of others joins: added capture→decode latency, ms. */
const BAR_ADDED_LATENCY_MS = 100;
/** How long the decoding players are watched alone before the burst, for their baseline latency, ms. */
const BASELINE_MS = 2_000;
/**
 * Light players joining per second, all pools together (0 = all at once, a burst). A paced round measures what the
 * nodes carry once joins are not all in flight together (forwarding cost rather than the burst's handshakes).
 */
const PACE = Number(process.env.BENCH_PACE ?? 0);

/**
 * Lowers a player process's priority to CLIENT_NICE (see there): every thread it has now (Linux nice is per thread;
 * threads made later inherit it from their creator). A process or thread that is gone is ignored.
 */
function niceClient(pid: number | undefined, nice = CLIENT_NICE): void {
  if (!pid || nice <= 0) return;
  let tids: number[] = [pid];
  try {
    tids = readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    // not Linux, or exited
  }
  for (const tid of tids) {
    try {
      setPriority(tid, Math.min(19, nice));
    } catch {
      // exited already
    }
  }
}
const PLAYING_TIMEOUT_MS = 60_000;
const STREAM = "bench-fanout";
/** Frames a player may be short of its publisher's count and still count as "all delivered" (snapshot skew). */
const FRAME_SKEW = 2;
/** The worker's CASCADE_LINGER_MS (wrangler.toml; the bench runs the worker with its defaults). */
const CASCADE_LINGER_MS = 5_000;
/** How long after the players stop their legs may take to go (edges: after their linger). */
const PLAYER_LEGS_GRACE_MS = 5_000;
const EDGE_GRACE_MS = CASCADE_LINGER_MS + 8_000;
/** Issue 12's bars: players admitted over several nodes / over one node, node CPU per admitted player (% of a core). */
const BAR_RATIO = 1.7;
const BAR_CPU_PER_PLAYER = 0.3;
const MAX_NODES = 16;
const MAX_STREAMS = 64;

// ---- arguments ----

interface Options {
  sizes: number[];
  nodes: number;
  streams: number;
  /** --compare-nodes K: a 1-node run, then a K-node run. */
  compareNodes: number | null;
}

const USAGE = `usage: npm run bench:fanout -- [--nodes K | --compare-nodes K] [--streams M] [N ...]
  N ...              players per round, each an integer ≥ M (default ${DEFAULT_SIZES.join(" ")}, those ≥ M)
  --nodes K          media nodes, 1–${MAX_NODES} (default 1)
  --streams M        publishers bench-fanout-1..M, 1–${MAX_STREAMS} (default 1); a round's N players are spread evenly over them
  --compare-nodes K  run the sizes on a fresh 1-node cluster, then on a fresh K-node cluster (K 2–${MAX_NODES}), and compare`;

function usageError(msg: string): never {
  console.error(`${msg}\n${USAGE}`);
  process.exit(2);
}

/** A whole number in [lo, hi] from `raw` (undefined when absent); a usage error otherwise. */
function intArg(what: string, raw: string | undefined, lo: number, hi = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < lo || Number(raw) > hi) usageError(`${what} must be an integer from ${lo}${hi < Number.MAX_SAFE_INTEGER ? ` to ${hi}` : " up"} (got "${raw}")`);
  return Number(raw);
}

/** node:util parseArgs, its errors (unknown option, missing value) as usage errors. */
function parseRaw(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: { nodes: { type: "string" }, streams: { type: "string" }, "compare-nodes": { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    usageError((e as Error).message);
  }
}

function parseOptions(argv: string[]): Options {
  const parsed = parseRaw(argv);
  if (parsed.values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const nodes = intArg("--nodes", parsed.values.nodes, 1, MAX_NODES);
  const compareNodes = intArg("--compare-nodes", parsed.values["compare-nodes"], 2, MAX_NODES);
  if (nodes !== undefined && compareNodes !== undefined) usageError("--nodes and --compare-nodes exclude each other (--compare-nodes K runs 1 node, then K)");
  const streams = intArg("--streams", parsed.values.streams, 1, MAX_STREAMS) ?? 1;
  const sizes = parsed.positionals.length
    ? parsed.positionals.map((a) => intArg(`N (players per round, at least one per stream)`, a, streams)!)
    : DEFAULT_SIZES.filter((n) => n >= streams);
  if (sizes.length === 0) usageError(`no default size is ≥ --streams ${streams}: give the sizes`);
  return { sizes, nodes: nodes ?? 1, streams, compareNodes: compareNodes ?? null };
}

// ---- the cluster and the publishers ----

interface Stream {
  name: string;
  pub: WcsClientHandle;
  /** nodeId of the node holding its publisher leg. */
  origin: string;
}

interface Bench {
  cluster: Cluster;
  nodes: MediaNodeProc[];
  /** Node process ids, in the order of `nodes`. */
  pids: number[];
  streams: Stream[];
  pools: LightPool[];
  /** Node CPU (% of a core, summed over nodes) with the publishers only. */
  baseCpu: number;
}

/** Short label of node i for the printouts ("node1"); its nodeId is printed once at start. */
const nodeLabel = (i: number): string => `node${i + 1}`;

const nodeEnv = (): Record<string, string> => ({
  MEDIA_NODE_MAX_LEGS: MAX_LEGS,
  // production defaults of media-node/config.ts (the harness turns admission by load off for tests)
  ...(ADMISSION ? { MEDIA_NODE_MAX_LOOP_UTILIZATION: "0.9", MEDIA_NODE_MAX_LOOP_LAG_MS: "200" } : {}),
});

/** The bench's cluster with `k` nodes; null (and the reason printed) when it does not start. */
async function startNodes(k: number): Promise<{ cluster: Cluster; pids: number[] } | null> {
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({ nodes: 0 });
    for (let i = 0; i < k; i++) await cluster.startNode(nodeEnv());
    const pids = cluster.nodes.map((n) => n.process.pid);
    if (pids.some((p) => !p)) throw new Error("a media node has no pid");
    return { cluster, pids: pids as number[] };
  } catch (e) {
    console.error(`setup failed: cluster did not start\n${(e as Error).message}`);
    await cluster?.stop();
    return null;
  }
}

/** Publishes the M streams one after the other into `pubs`; throws when one does not publish. */
async function startPublishers(cluster: Cluster, m: number, pubs: WcsClientHandle[]): Promise<void> {
  for (let i = 0; i < m; i++) {
    const name = m === 1 ? STREAM : `${STREAM}-${i + 1}`;
    const pub = await spawnPublisher({ url: cluster.wsUrl, name, label: `pub${i + 1}`, width: 640, height: 480, fps: 30, bitrateKbps: 1500 });
    pubs.push(pub);
    await pub.waitForStatus("PUBLISHING", 30_000);
    await pub.waitForStats((s) => (s.rtp.video?.framesEncoded ?? 0) > 30, 15_000, `publisher ${name} encoding`);
  }
}

/** Each stream with its origin: the node holding its publisher leg (before any player there is no edge). */
async function findOrigins(cluster: Cluster, pubs: WcsClientHandle[]): Promise<Stream[]> {
  const statuses = await Promise.all(cluster.nodes.map((n) => nodeStatus(cluster, n)));
  return pubs.map((pub) => {
    const i = statuses.findIndex((st) => st?.legs.some((l) => l.streamName === pub.name && l.role === "publisher"));
    if (i < 0) throw new Error(`no node answered holding the publisher leg of ${pub.name}`);
    return { name: pub.name, pub, origin: cluster.nodes[i]!.nodeId };
  });
}

/** Node CPU with the publishers only (5 s), printed with each publisher's rate; returns the CPU, % of a core. */
async function publisherBaseline(b: Omit<Bench, "baseCpu">): Promise<number> {
  await sleep(2_000);
  const meter = new CpuMeter(b.pids);
  const p0 = await Promise.all(b.streams.map((s) => s.pub.stats()));
  await sleep(5_000);
  const p1 = await Promise.all(b.streams.map((s) => s.pub.stats()));
  const base = meter.stop();
  b.streams.forEach((s, i) => {
    const [a, z] = [p0[i]!.rtp.video, p1[i]!.rtp.video];
    const kbps = (((z?.bytes ?? 0) - (a?.bytes ?? 0)) * 8) / 1000 / base.seconds;
    const fps = ((z?.framesEncoded ?? 0) - (a?.framesEncoded ?? 0)) / base.seconds;
    console.log(`publisher ${s.name} on ${nodeLabel(b.nodes.findIndex((n) => n.nodeId === s.origin))}: ${z?.codec ?? "?"} ${z?.frameWidth}x${z?.frameHeight}, ${fmt(fps)} fps, ${fmt(kbps, 0)} kbps video`);
  });
  console.log(`node CPU with the publishers only: ${fmt(base.percent)}% of a core${perNode(base.perPid)}, RSS ${fmt(sumOver(b.pids, procRssBytes) / 2 ** 20)} MB`);
  return base.percent;
}

/** " (node1 x%, node2 y%)" with several nodes, "" with one. */
function perNode(values: number[]): string {
  return values.length > 1 ? ` (${values.map((v, i) => `${nodeLabel(i)} ${fmt(v)}%`).join(", ")})` : "";
}

// ---- the nodes' own view ----

async function nodeStatus(cluster: Cluster, node: MediaNodeProc): Promise<NodeStatus | null> {
  try {
    const res = await signedFetch(cluster.secret, node.controlUrl + MediaNodePaths.status, "GET", undefined, 5000);
    if (!res.ok) return null;
    const st = NodeStatus.safeParse(await res.json());
    return st.success ? st.data : null;
  } catch {
    return null;
  }
}

/** Legs of the bench's streams per node: players (less the feed legs an origin holds for its edges) and edge pull legs. */
interface LegView {
  /** Per node, in the order of `Bench.nodes`; null when the node did not answer. */
  nodes: ({ players: number; pulls: number; origins: number } | null)[];
  /** Totals; null when a node did not answer. */
  players: number | null;
  pulls: number | null;
}

/**
 * On an edge a stream's pull leg is a publisher leg; on the origin each edge has a feed leg, which is a player leg:
 * so a node's players are its player legs of the bench's streams less, on an origin, the pull legs of its streams
 * elsewhere. Legs of other streams are not counted.
 */
async function legView(b: Bench): Promise<LegView> {
  const statuses = await Promise.all(b.nodes.map((n) => nodeStatus(b.cluster, n)));
  const byName = new Map(b.streams.map((s) => [s.name, s]));
  const pullsOf = new Map<string, number>();
  statuses.forEach((st, i) => {
    for (const l of st?.legs ?? []) {
      const s = byName.get(l.streamName);
      if (s && l.role === "publisher" && s.origin !== b.nodes[i]!.nodeId) pullsOf.set(s.name, (pullsOf.get(s.name) ?? 0) + 1);
    }
  });
  const nodes = statuses.map((st, i) => {
    if (!st) return null;
    const nodeId = b.nodes[i]!.nodeId;
    const mine = st.legs.filter((l) => byName.has(l.streamName));
    const origins = b.streams.filter((s) => s.origin === nodeId);
    const feeds = origins.reduce((a, s) => a + (pullsOf.get(s.name) ?? 0), 0);
    const pulls = mine.filter((l) => l.role === "publisher" && byName.get(l.streamName)!.origin !== nodeId).length;
    return { players: Math.max(0, mine.filter((l) => l.role === "player").length - feeds), pulls, origins: origins.length };
  });
  const total = (k: "players" | "pulls"): number | null => (nodes.every((n) => n) ? nodes.reduce((a, n) => a + n![k], 0) : null);
  return { nodes, players: total("players"), pulls: total("pulls") };
}

function describeLegView(v: LegView): string {
  const nodes = v.nodes
    .map((n, i) => `${nodeLabel(i)}${n ? `${n.origins ? ` (origin of ${n.origins})` : ""}${n.pulls ? ` (edge of ${n.pulls})` : ""} ${n.players}` : " ?"}`)
    .join(", ");
  return `players per node: ${nodes}; ${v.pulls ?? "?"} edge(s) pulled a stream`;
}

type Metrics = Map<string, number>;

/** One node's Prometheus metrics as `name{labels}` → value (media-node/metrics.ts); empty when it did not answer. */
async function scrape(node: MediaNodeProc): Promise<Metrics> {
  const out: Metrics = new Map();
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

/** Every node's metrics (a scrape also restarts each node's lag histogram). */
const scrapeAll = (b: Bench): Promise<Metrics[]> => Promise.all(b.nodes.map(scrape));

/** Sum over nodes of the values of metric `name` whose labels contain `labelPart`; NaN when a scrape failed. */
function metricSum(ms: Metrics[], name: string, labelPart = ""): number {
  let sum = 0;
  for (const m of ms) {
    if (m.size === 0) return NaN;
    for (const [k, v] of m) if ((k === name || k.startsWith(name + "{")) && k.includes(labelPart)) sum += v;
  }
  return sum;
}

/** Growth of a counter between two scrapes, summed over nodes; NaN when a scrape failed or a counter went back (a node restarted). */
function counterDelta(from: Metrics[], to: Metrics[], name: string, labelPart = ""): number {
  const d = metricSum(to, name, labelPart) - metricSum(from, name, labelPart);
  return d >= 0 ? d : NaN;
}

/** The worst node's value of a gauge in seconds, as ms; NaN when no node reported it. */
function worstMs(ms: Metrics[], name: string): number {
  const xs = ms.map((m) => m.get(name)).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return xs.length ? Math.max(...xs) * 1000 : NaN;
}

async function allNodesLive(b: Bench): Promise<boolean> {
  const live = new Set((await b.cluster.listNodes().catch(() => [])).filter((x) => x.live).map((x) => x.nodeId));
  return b.nodes.every((n) => live.has(n.nodeId));
}

// ---- clients ----

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

/** Why any publisher is gone ("<stream>: <why>; …"), or "". */
function publishersGone(streams: Stream[]): string {
  return streams
    .map((s) => [s.name, publisherGone(s.pub)])
    .filter(([, why]) => why)
    .map(([name, why]) => `${name}: ${why}`)
    .join("; ");
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

// ---- one round ----

/** Who plays what in a round: player i plays stream i mod M; the first `decoders` are decoding players. */
interface Plan {
  n: number;
  /** Stream index of each decoding player. */
  decoders: number[];
  /** Light player id (1..) → stream index. */
  light: Map<number, number>;
  /** Light player ids per pool (at most LIGHT_PER_PROC each). */
  idsPerPool: number[][];
}

function planPlayers(n: number, m: number): Plan {
  const d = Math.min(DECODERS, n);
  const light = new Map<number, number>();
  for (let i = d; i < n; i++) light.set(i - d + 1, i % m);
  const idsPerPool: number[][] = Array.from({ length: Math.ceil(light.size / LIGHT_PER_PROC) }, () => []);
  for (const id of light.keys()) idsPerPool[Math.floor((id - 1) / LIGHT_PER_PROC)]!.push(id);
  return { n, decoders: Array.from({ length: d }, (_, i) => i % m), light, idsPerPool };
}

interface Joined {
  /** Every decoding player spawned (to close), and those PLAYING with their stream. */
  decHandles: WcsClientHandle[];
  decs: { h: WcsClientHandle; stream: number }[];
  /** Light players PLAYING: id → stream. */
  lightPlaying: Map<number, number>;
  failed: string[];
  setupSec: number;
  /** Decoding players' capture-to-decode latency while the light players joined, ms (average). */
  burstLatAvg: number | null;
  /** Their latency over BASELINE_MS just before the light players joined, ms (average). */
  baseLatAvg: number | null;
}

/** Average capture→decode latency of the decoding players between two stats snapshots, ms; null without samples. */
function latencyBetween(before: (ClientStats | null)[], after: (ClientStats | null)[]): number | null {
  let sumMs = 0;
  let n = 0;
  before.forEach((a, i) => {
    const z = after[i];
    if (!a || !z) return;
    sumMs += z.latencySumMs - a.latencySumMs;
    n += z.latencySamples - a.latencySamples;
  });
  return n > 0 ? sumMs / n : null;
}

/** The decoding players join first (they are the existing players the burst must not hurt), then the light ones. */
async function joinPlayers(b: Bench, plan: Plan): Promise<Joined> {
  const url = b.cluster.wsUrl;
  const failed: string[] = [];
  const t0 = performance.now();
  const decHandles: WcsClientHandle[] = [];
  const decP = plan.decoders.map(async (stream, i) => {
    const h = await spawnPlayer({ url, name: b.streams[stream]!.name, label: `dec${i + 1}` });
    niceClient(h.pid, DECODER_NICE);
    decHandles.push(h);
    await h.waitForStatus("PLAYING", PLAYING_TIMEOUT_MS);
    return { h, stream };
  });
  await Promise.allSettled(decP);
  const latBase0 = await Promise.all(decHandles.map((d) => d.stats().catch(() => null)));
  await sleep(BASELINE_MS);
  const latBefore = await Promise.all(decHandles.map((d) => d.stats().catch(() => null)));
  const lightP = b.pools.map(async (pool, i) => {
    const ids = plan.idsPerPool[i] ?? [];
    const started: number[] = [];
    // one add per stream, one after the other: a pool opens at most its `concurrency` sessions at a time
    for (const [stream, s] of b.streams.entries()) {
      const mine = ids.filter((id) => plan.light.get(id) === stream);
      if (mine.length === 0) continue;
      // paced: this pool's share of BENCH_PACE, in chunks of about a quarter second
      const perPool = PACE > 0 ? PACE / b.pools.length : 0;
      const chunk = perPool > 0 ? Math.max(1, Math.round(perPool / 4)) : mine.length;
      for (let at = 0; at < mine.length; at += chunk) {
        const part = mine.slice(at, at + chunk);
        const sent = performance.now();
        const add = await pool.add(url, s.name, part);
        for (const f of add.failed) failed.push(`light ${pool.label}/${f.id}: ${f.error}`);
        started.push(...part.filter((id) => !add.failed.some((f) => f.id === id)));
        if (perPool > 0) await sleep(Math.max(0, (chunk / perPool) * 1000 - (performance.now() - sent)));
      }
    }
    return pool.waitAll(started, "PLAYING", PLAYING_TIMEOUT_MS);
  });
  const decSettled = await Promise.allSettled(decP);
  const lightRes = await Promise.all(lightP);
  const setupSec = (performance.now() - t0) / 1000;
  const latAfter = await Promise.all(decHandles.map((d) => d.stats().catch(() => null)));
  const baseLatAvg = latencyBetween(latBase0, latBefore);
  const burstLatAvg = latencyBetween(latBefore, latAfter);
  const decs: Joined["decs"] = [];
  for (const r of decSettled) {
    if (r.status === "fulfilled") decs.push(r.value);
    else failed.push(`decoder: ${(r.reason as Error).message.split("\n").slice(0, 4).join(" | ")}`);
  }
  const lightPlaying = new Map<number, number>();
  lightRes.forEach((r, i) => {
    const pool = b.pools[i]!;
    for (const id of r.ok) lightPlaying.set(id, plan.light.get(id)!);
    for (const id of r.failed) {
      const s = pool.statuses.get(id);
      failed.push(`light ${pool.label}/${id}: ${s?.status}${s?.info ? ` (${s.info})` : ""}`);
    }
    for (const id of r.pending) failed.push(`light ${pool.label}/${id}: no PLAYING within ${PLAYING_TIMEOUT_MS} ms (last: ${pool.statuses.get(id)?.status ?? "PENDING"})`);
  });
  return { decHandles, decs, lightPlaying, failed, setupSec, baseLatAvg, burstLatAvg };
}

interface LightDelta {
  stream: number;
  frames: number;
  packets: number;
  lost: number;
  late: number;
  keyFrames: number;
  bytes: number;
  /** ms after playStream (NaN when not reached). */
  firstPkt: number;
  answer: number;
  ice: number;
  conn: number;
  playing: number;
}

interface DecDelta {
  stream: number;
  frames: number;
  lost: number;
  bytes: number;
  latSum: number;
  latN: number;
  latMax: number | null;
}

/** What the clients and the nodes did in the measurement window. */
interface Window {
  seconds: number;
  nodeCpu: number;
  nodeCpuPerNode: number[];
  machineBusy: number;
  clientCpu: number;
  /** Per stream; NaN for a stream whose publisher is gone (its stats are zeroed: no negative counts). */
  pubFrames: number[];
  pubPackets: number[];
  pubGone: string;
  decs: DecDelta[];
  lights: LightDelta[];
  /** The nodes' metrics at the window's end (lag figures: over the window). */
  mB: Metrics[];
}

const since = (at: number, from: number): number => (at ? at - from : NaN);

/** Per light player PLAYING, its counters' growth between two snapshots. */
function lightDeltas(a: LightSnapshot[], z: LightSnapshot[], playing: Map<number, number>): LightDelta[] {
  const before = new Map<number, LightPlayerInfo>();
  for (const s of a) for (const p of s.players) before.set(p.id, p);
  const out: LightDelta[] = [];
  for (const s of z)
    for (const p of s.players) {
      const stream = playing.get(p.id);
      const q = before.get(p.id);
      if (stream === undefined || !q) continue;
      const d = (k: number): number => (p.c[k] ?? 0) - (q.c[k] ?? 0);
      out.push({
        stream,
        frames: d(C.vFrames),
        packets: d(C.vPackets),
        lost: d(C.vLost),
        late: d(C.vLate),
        keyFrames: d(C.vKeyFrames),
        bytes: d(C.vBytes) + d(C.aBytes),
        firstPkt: since(p.c[C.firstVideoAt] ?? 0, p.sentAt),
        answer: since(p.answerAt, p.sentAt),
        ice: since(p.iceConnectedAt, p.sentAt),
        conn: since(p.connectedAt, p.sentAt),
        playing: since(p.playingAt, p.sentAt),
      });
    }
  return out;
}

function decDelta(stream: number, a: ClientStats, z: ClientStats): DecDelta {
  const bytes = (s: ClientStats): number => (s.rtp.video?.bytes ?? 0) + (s.rtp.audio?.bytes ?? 0);
  return {
    stream,
    frames: z.uniqueFrames - a.uniqueFrames,
    lost: (z.rtp.video?.packetsLost ?? 0) - (a.rtp.video?.packetsLost ?? 0),
    bytes: bytes(z) - bytes(a),
    latSum: z.latencySumMs - a.latencySumMs,
    latN: z.latencySamples - a.latencySamples,
    latMax: z.latencyMaxMs,
  };
}

async function measureWindow(b: Bench, j: Joined): Promise<Window> {
  const clientPids = [...b.streams.map((s) => s.pub.pid), ...j.decs.map((d) => d.h.pid), ...b.pools.map((p) => p.pid)].filter((p): p is number => !!p);
  const mark = async () =>
    Promise.all([Promise.all(b.streams.map((s) => s.pub.stats())), Promise.all(j.decs.map((d) => d.h.stats())), Promise.all(b.pools.map((p) => p.snapshot()))]);
  const [pubA, decA, lightA] = await mark();
  await scrapeAll(b); // restarts the nodes' lag histograms for the window
  const cpu = new CpuMeter(b.pids);
  const ccpu = new CpuMeter(clientPids);
  const tA = performance.now();
  await sleep(WINDOW_MS);
  const [pubB, decB, lightB] = await mark();
  const mB = await scrapeAll(b);
  const seconds = (performance.now() - tA) / 1000;
  const nodeCpu = cpu.stop();
  const pubGone = publishersGone(b.streams);
  const pubDelta = (k: "frames" | "packets") =>
    b.streams.map((s, i) => (publisherGone(s.pub) ? NaN : videoOf(pubB[i]!)[k] - videoOf(pubA[i]!)[k]));
  return {
    seconds,
    nodeCpu: nodeCpu.percent,
    nodeCpuPerNode: nodeCpu.perPid,
    machineBusy: nodeCpu.machineBusyPercent,
    clientCpu: ccpu.stop().percent,
    pubFrames: pubDelta("frames"),
    pubPackets: pubDelta("packets"),
    pubGone,
    decs: decA.map((a, i) => decDelta(j.decs[i]!.stream, a, decB[i]!)),
    lights: lightDeltas(lightA, lightB, j.lightPlaying),
    mB,
  };
}

/** After the players stop: player legs left on the nodes, and edge pull legs still there after their linger. */
async function waitForLegsGone(b: Bench): Promise<{ players: number | null; pulls: number | null; seconds: number }> {
  const t0 = performance.now();
  for (;;) {
    const v = await legView(b);
    const waited = performance.now() - t0;
    const playersLeft = v.players === null || v.players > 0;
    const pullsLeft = v.pulls === null || v.pulls > 0;
    if ((!playersLeft || waited >= PLAYER_LEGS_GRACE_MS) && (!pullsLeft || waited >= EDGE_GRACE_MS)) return { players: v.players, pulls: v.pulls, seconds: waited / 1000 };
    await sleep(250);
  }
}

async function stopPlayers(b: Bench, j: Joined): Promise<void> {
  const playing = new Set(j.decs.map((d) => d.h));
  await Promise.all(
    j.decHandles.map(async (d) => {
      if (playing.has(d)) await d.stop().catch(() => undefined);
      await d.close();
    }),
  );
  await Promise.all(b.pools.map((p) => p.stop().catch(() => undefined)));
}

interface Round {
  n: number;
  streams: number;
  decoders: number;
  light: number;
  playing: number;
  /** Light players PLAYING through the window. */
  lightPlaying: number;
  failed: string[];
  setupSec: number;
  nodeCpu: number;
  nodeCpuPerNode: number[];
  machineBusy: number;
  clientCpu: number;
  rssBefore: number;
  rssAfter: number;
  threads: number;
  seconds: number;
  pubFrames: number[];
  pubPackets: number[];
  /** Lowest publisher frame rate over the streams. */
  pubFpsMin: number;
  /** Worst admitted player's frames / its publisher's, %. */
  decFramesMinPct: number;
  decFramesAvg: number;
  decLatAvg: number | null;
  decLatMax: number | null;
  decLost: number;
  lightFramesMinPct: number;
  lightFramesAvg: number;
  lightPackets: number;
  lightLost: number;
  lightLate: number;
  lightStalled: number;
  lightKeyFrames: number;
  /** Light players' join, ms after playStream: [p50, max] per step. */
  joinMs: Record<"answer" | "ice" | "conn" | "firstPkt" | "playing", [number, number]>;
  /** Video + audio bytes the admitted players received in the window. */
  rxBytes: number;
  /** Players per node and edges during the window. */
  legs: LegView;
  leftoverLegs: number | null;
  leftoverPulls: number | null;
  leftoverWaitSec: number;
  allDelivered: boolean;
  /** Legs the nodes refused with node_full during the round (their metrics; a refusal the cascade then placed on an edge counts too). */
  refusedFull: number;
  /** Legs refused with any other code. */
  refusedOther: number;
  /** Event-loop lag while the players joined / during the window: p99 and max, ms, worst node. */
  joinLagP99: number;
  joinLagMax: number;
  windowLagP99: number;
  burstLatAvg: number | null;
  /** The decoding players' latency just before the burst, ms (average); burstLatAvg − this = what the burst added. */
  baseLatAvg: number | null;
  lateDropped: number;
  verdict: string;
}

const min = (xs: number[]): number => (xs.length ? Math.min(...xs) : NaN);
const max = (xs: number[]): number => (xs.length ? Math.max(...xs) : NaN);
const avg = (xs: number[]): number => (xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : NaN);
const sum = (xs: number[]): number => xs.reduce((x, y) => x + y, 0);

/** Node CPU per admitted player, % of a core (NaN with none admitted). */
const cpuPerPlayer = (r: Round): number => (r.playing > 0 ? r.nodeCpu / r.playing : NaN);
/** Forwarded Mbps per core of node CPU. */
const mbpsPerCore = (r: Round): number => (r.nodeCpu > 0 ? (r.rxBytes * 8) / r.seconds / 1e6 / (r.nodeCpu / 100) : NaN);

/**
 * Every admitted (PLAYING) player got every frame of its own stream's publisher in the window, without loss. Delivery
 * is judged by what reached the players: the light players' frames (marker bits) and sequence gaps, and the decoding
 * players' lost packets. Their decoded-frame count is shown but not judged: a wrtc decoder on a saturated 2-core box
 * skips frames it received (client CPU, not delivery).
 */
function admittedDelivered(w: Window, playing: number): boolean {
  return (
    !w.pubGone &&
    w.decs.length + w.lights.length === playing &&
    w.lights.every((l) => l.frames >= w.pubFrames[l.stream]! - FRAME_SKEW && l.lost === 0) &&
    w.decs.every((d) => d.lost <= 0)
  );
}

function verdictOf(o: { nodesLive: boolean; pubGone: string; delivered: boolean; refusedFull: number; playing: number; n: number; failed: string[] }): string {
  // judged by what the clients were told (a refusal the node counted after the worker timed out is a timeout to them)
  const clientFull = o.failed.filter((f) => f.includes(": FAILED (Media node is full")).length;
  if (!o.nodesLive) return "FAILED: node lost";
  if (o.pubGone) return "FAILED: publisher lost";
  if (!o.delivered) return "FAILED: admitted players missed frames";
  if (Number.isNaN(o.refusedFull)) return "FAILED: a node did not answer its metrics";
  if (o.playing === o.n) return "all played";
  if (o.failed.length === clientFull) return "excess refused";
  return `FAILED: ${o.failed.length - clientFull} of ${o.failed.length} failures were not node_full refusals`;
}

async function runRound(b: Bench, n: number): Promise<Round> {
  const plan = planPlayers(n, b.streams.length);
  console.log(
    `\n== N=${n}: ${plan.decoders.length} decoding wrtc player(s) + ${plan.light.size} light player(s)${b.streams.length > 1 ? `, over ${b.streams.length} streams (${Math.floor(n / b.streams.length)}${n % b.streams.length ? `–${Math.ceil(n / b.streams.length)}` : ""} each)` : ""}`,
  );
  while (b.pools.length < plan.idsPerPool.length) {
    const pool = await LightPool.start(`light#${b.pools.length + 1}`);
    niceClient(pool.pid);
    b.pools.push(pool);
  }

  const rssBefore = sumOver(b.pids, procRssBytes);
  const m0 = await scrapeAll(b); // also restarts the nodes' lag histograms
  const j = await joinPlayers(b, plan);
  const m1 = await scrapeAll(b);
  const playing = j.decs.length + j.lightPlaying.size;
  console.log(`   ${playing}/${n} PLAYING after ${j.setupSec.toFixed(1)} s${j.failed.length ? `; ${j.failed.length} failed:` : ""}`);
  for (const [why, who] of byReason(j.failed)) console.log(`     - ${who.length} × ${why} (${who.slice(0, 3).join(", ")}${who.length > 3 ? ", …" : ""})`);

  await sleep(WARMUP_MS);
  const w = await measureWindow(b, j);
  const legs = await legView(b);
  const rssAfter = sumOver(b.pids, procRssBytes);
  const threads = sumOver(b.pids, procThreads);
  if (w.pubGone) console.log(`   !! publisher lost during the round: ${w.pubGone}`);

  const delivered = admittedDelivered(w, playing);
  const refusedFull = counterDelta(m0, w.mB, "wcs_media_node_legs_refused_total", 'code="node_full"');
  const refusedOther = counterDelta(m0, w.mB, "wcs_media_node_legs_refused_total") - refusedFull;
  const verdict = verdictOf({ nodesLive: await allNodesLive(b), pubGone: w.pubGone, delivered, refusedFull, playing, n, failed: j.failed });

  await stopPlayers(b, j);
  const left = await waitForLegsGone(b);

  const framePct = (xs: { stream: number; frames: number }[]): number => min(xs.map((x) => (100 * x.frames) / w.pubFrames[x.stream]!).filter(Number.isFinite));
  const joinStep = (k: keyof Round["joinMs"]): [number, number] => {
    const xs = w.lights.map((l) => l[k]).filter(Number.isFinite);
    return [percentile(xs, 50), max(xs)];
  };
  const lat = w.decs.filter((d) => d.latN > 0);
  const r: Round = {
    n,
    streams: b.streams.length,
    decoders: plan.decoders.length,
    light: plan.light.size,
    playing,
    lightPlaying: w.lights.length,
    failed: j.failed,
    setupSec: j.setupSec,
    nodeCpu: w.nodeCpu,
    nodeCpuPerNode: w.nodeCpuPerNode,
    machineBusy: w.machineBusy,
    clientCpu: w.clientCpu,
    rssBefore,
    rssAfter,
    threads,
    seconds: w.seconds,
    pubFrames: w.pubFrames,
    pubPackets: w.pubPackets,
    pubFpsMin: min(w.pubFrames) / w.seconds,
    decFramesMinPct: framePct(w.decs),
    decFramesAvg: avg(w.decs.map((d) => d.frames)),
    decLatAvg: lat.length ? sum(lat.map((d) => d.latSum)) / sum(lat.map((d) => d.latN)) : null,
    decLatMax: w.decs.some((d) => d.latMax !== null) ? max(w.decs.map((d) => d.latMax ?? 0)) : null,
    decLost: sum(w.decs.map((d) => d.lost)),
    lightFramesMinPct: framePct(w.lights),
    lightFramesAvg: avg(w.lights.map((l) => l.frames)),
    lightPackets: sum(w.lights.map((l) => l.packets)),
    lightLost: sum(w.lights.map((l) => l.lost)),
    lightLate: sum(w.lights.map((l) => l.late)),
    lightStalled: w.lights.filter((l) => l.packets === 0).length,
    lightKeyFrames: sum(w.lights.map((l) => l.keyFrames)),
    joinMs: { answer: joinStep("answer"), ice: joinStep("ice"), conn: joinStep("conn"), firstPkt: joinStep("firstPkt"), playing: joinStep("playing") },
    rxBytes: sum(w.lights.map((l) => l.bytes)) + sum(w.decs.map((d) => d.bytes)),
    legs,
    leftoverLegs: left.players,
    leftoverPulls: left.pulls,
    leftoverWaitSec: left.seconds,
    allDelivered: playing === n && delivered,
    refusedFull,
    refusedOther,
    joinLagP99: worstMs(m1, "nodejs_eventloop_lag_p99_seconds"),
    joinLagMax: worstMs(m1, "nodejs_eventloop_lag_max_seconds"),
    windowLagP99: worstMs(w.mB, "nodejs_eventloop_lag_p99_seconds"),
    burstLatAvg: j.burstLatAvg,
    baseLatAvg: j.baseLatAvg,
    lateDropped: counterDelta(m0, w.mB, "wcs_media_node_rtp_late_dropped_total"),
    verdict,
  };
  printRound(r, b);
  return r;
}

function printRound(r: Round, b: Bench): void {
  const several = r.nodeCpuPerNode.length > 1;
  console.log(
    `   node CPU ${fmt(r.nodeCpu)}% of a core${several ? " summed over the nodes" : ""}${perNode(r.nodeCpuPerNode)} (publisher-only baseline ${fmt(b.baseCpu)}%), RSS ${fmt(r.rssBefore / 2 ** 20)} → ${fmt(r.rssAfter / 2 ** 20)} MB, ${r.threads} threads; machine busy ${fmt(r.machineBusy)}% of all cores, clients ${fmt(r.clientCpu)}% of a core`,
  );
  console.log(
    `   per admitted player: node CPU ${fmt(cpuPerPlayer(r), 2)}% of a core; forwarded ${fmt((r.rxBytes * 8) / r.seconds / 1e6)} Mbps (video+audio the players received) = ${fmt(mbpsPerCore(r))} Mbps per core of node CPU`,
  );
  console.log(`   ${describeLegView(r.legs)}`);
  b.streams.forEach((s, i) =>
    console.log(`   publisher${r.streams > 1 ? ` ${s.name}` : ""}: ${fmt(r.pubFrames[i], 0)} frames encoded (${fmt(r.pubFrames[i]! / r.seconds)} fps), ${fmt(r.pubPackets[i], 0)} video packets in ${fmt(r.seconds, 2)} s`),
  );
  const pct = (x: number): string => (Number.isFinite(x) ? `${fmt(x, 1)}% of their publisher's` : "–");
  if (r.decoders) console.log(`   decoding players: frames min ${pct(r.decFramesMinPct)}, avg ${fmt(r.decFramesAvg)}; latency avg ${fmt(r.decLatAvg)} ms, max ${fmt(r.decLatMax, 0)} ms; packetsLost ${r.decLost}`);
  if (r.light) {
    console.log(
      `   light players: frames min ${pct(r.lightFramesMinPct)}, avg ${fmt(r.lightFramesAvg)}; video packets ${r.lightPackets} (${fmt(r.lightPackets / Math.max(1, r.lightPlaying))}/player vs ${fmt(sum(r.pubPackets) / r.streams, 0)} sent per publisher), lost ${r.lightLost}, late ${r.lightLate}, stalled ${r.lightStalled}, keyframes ${r.lightKeyFrames}`,
    );
    const p = (k: keyof Round["joinMs"]): string => `${fmt(r.joinMs[k][0], 0)}/${fmt(r.joinMs[k][1], 0)}`;
    console.log(
      `   light players' join, ms after playStream (p50/max): setRemoteSDP ${p("answer")}, ICE connected ${p("ice")}, ICE+DTLS up ${p("conn")}, first RTP ${p("firstPkt")}, PLAYING ${p("playing")}`,
    );
  }
  console.log(
    `   admission: ${r.playing} admitted, ${fmt(r.refusedFull, 0)} leg(s) refused node_full, ${fmt(r.refusedOther, 0)} refused otherwise${several ? " (summed over the nodes)" : ""}; event-loop lag p99/max while joining ${fmt(r.joinLagP99, 0)}/${fmt(r.joinLagMax, 0)} ms, p99 in the window ${fmt(r.windowLagP99, 0)} ms${several ? " (worst node)" : ""}; ${fmt(r.lateDropped, 0)} late packets dropped`,
  );
  if (r.decoders) console.log(`   existing (decoding) players' latency while the others joined: avg ${fmt(r.burstLatAvg, 0)} ms (${fmt(r.baseLatAvg, 0)} ms just before: added ${fmt(addedLatency(r), 0)} ms)`);
  const pulls = r.leftoverPulls === null ? "?" : r.leftoverPulls;
  console.log(
    `   after stop: ${r.leftoverLegs ?? "?"} player leg(s) left on the node(s)${several ? `, ${pulls} edge pull leg(s) still there (waited ${fmt(r.leftoverWaitSec)} s; an edge lingers ${CASCADE_LINGER_MS / 1000} s after its last player)` : ""}`,
  );
  console.log(`   verdict: ${r.verdict}`);
  if (r.verdict === "FAILED: admitted players missed frames" && r.lightLost === 0 && r.decLost <= 0 && r.lightStalled === 0)
    console.log("   (no RTP sequence gaps: the missing frames came late — still in flight at the window's end, or the snapshots' skew — rather than lost)");
}

// ---- a run: one cluster, the sizes in turn ----

interface Run {
  nodes: number;
  streams: number;
  sizes: number[];
  /** In the order of `sizes`; null: the round was aborted or skipped. */
  rounds: (Round | null)[];
  baseCpu: number;
  publisherLost: boolean;
  /** The cluster or a publisher did not start. */
  setupFailed: boolean;
}

/** The rounds in the order of `sizes` (null: aborted or skipped), and whether a publisher was lost. */
async function runSizes(b: Bench, sizes: number[]): Promise<{ rounds: (Round | null)[]; publisherLost: boolean }> {
  const rounds: (Round | null)[] = [];
  const skipRest = () => rounds.push(...Array.from({ length: sizes.length - rounds.length }, () => null));
  for (const n of sizes) {
    const lost = publishersGone(b.streams);
    if (lost) {
      console.log(
        `\npublisher lost before N=${n}: ${lost}; remaining rounds skipped (a wrangler dev reload — any edit under worker/, protocol/ or public/ — drops every WCS session)\n\n` +
          // why the node or stream went: the worker's and nodes' own lines about it
          b.cluster
            .logs()
            .split("\n")
            .filter((l) => /media_node_(lost|unreachable|timeout|loop_starved)|stream_node_lost|heartbeat (unreachable|timed out)|event dropped/.test(l))
            .slice(-20)
            .join("\n"),
      );
      skipRest();
      return { rounds, publisherLost: true };
    }
    try {
      rounds.push(await runRound(b, n));
    } catch (e) {
      console.log(`   round N=${n} aborted: ${(e as Error).message}`);
      rounds.push(null);
    }
    await sleep(1_000);
  }
  // the last round's teardown may still take a node or a stream down: look once more
  if (rounds.some((r) => r)) {
    await sleep(5_000);
    const lost = publishersGone(b.streams);
    if (lost) {
      console.log(`\npublisher lost after the last round: ${lost}`);
      return { rounds, publisherLost: true };
    }
  }
  return { rounds, publisherLost: false };
}

/** Starts a fresh cluster of `k` nodes with `m` publishers, runs the sizes, prints the run's summary, stops it all. */
async function run(k: number, m: number, sizes: number[]): Promise<Run> {
  const out: Run = { nodes: k, streams: m, sizes, rounds: [], baseCpu: NaN, publisherLost: false, setupFailed: true };
  console.log(
    `\nfan-out benchmark: ${k} media node(s), ${m} stream(s), N = ${sizes.join(", ")}; warm-up ${WARMUP_MS} ms, window ${WINDOW_MS} ms; ${DECODERS} decoding players per round; admission by load ${ADMISSION ? "on" : "off"}${MAX_LEGS !== "0" ? `, MEDIA_NODE_MAX_LEGS ${MAX_LEGS}` : ""}`,
  );
  const started = await startNodes(k);
  if (!started) return out;
  const { cluster, pids } = started;
  const pools: LightPool[] = [];
  const pubs: WcsClientHandle[] = [];
  try {
    console.log(`cluster: ${cluster.wsUrl}; media nodes ${cluster.nodes.map((n, i) => `${nodeLabel(i)} ${n.nodeId} pid ${pids[i]}`).join(", ")}`);
    let streams: Stream[];
    try {
      await startPublishers(cluster, m, pubs);
      streams = await findOrigins(cluster, pubs);
    } catch (e) {
      console.error(`setup failed: publisher\n${(e as Error).message}\n${cluster.logs()}`);
      return out;
    }
    const partial = { cluster, nodes: cluster.nodes, pids, pools, streams };
    const b: Bench = { ...partial, baseCpu: await publisherBaseline(partial) };
    out.setupFailed = false;
    out.baseCpu = b.baseCpu;
    Object.assign(out, await runSizes(b, sizes));
    printRunSummary(out);
    return out;
  } finally {
    await Promise.all(
      pubs.map(async (p) => {
        await p.stop().catch(() => undefined);
        await p.close();
      }),
    );
    await closeAllClients();
    await Promise.all(pools.map((p) => p.close()));
    await cluster.stop();
  }
}

// ---- summaries ----

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;
const runLabel = (r: Run): string => `${plural(r.nodes, "node")}, ${plural(r.streams, "stream")}`;
const failedRound = (r: Round): boolean => r.verdict.startsWith("FAILED");
/** What a round's burst of joins added to the existing (decoding) players' capture→decode latency, ms; NaN if unmeasured. */
const addedLatency = (r: Round): number => (r.burstLatAvg !== null && r.baseLatAvg !== null ? r.burstLatAvg - r.baseLatAvg : NaN);
const played = (rounds: (Round | null)[]): Round[] => rounds.filter((r): r is Round => r !== null);

function printRunSummary(run: Run): void {
  const rounds = played(run.rounds);
  console.log(`\nSummary, ${runLabel(run)} (window figures; CPU = media node processes, all threads, summed over the nodes, % of one core)`);
  const pct = (x: number): string => fmt(x, 1);
  printTable([
    ["N", "admitted", "refused", "setup s", "node CPU %", "CPU/player %", "marg./player %", "Mbps/core", "players per node", "edges", "RSS MB", "KB/player", "pub fps", "dec frames min %", "light frames min %", "loss %", "lag p99 join/window ms", "burst lat ms", "added lat ms", "lat max ms", "box busy %", "verdict"],
    ...rounds.map((r) => [
      r.n,
      `${r.playing}/${r.n}`,
      fmt(r.refusedFull + r.refusedOther, 0),
      fmt(r.setupSec),
      fmt(r.nodeCpu),
      fmt(cpuPerPlayer(r), 2),
      r.playing > 0 ? fmt((r.nodeCpu - run.baseCpu) / r.playing, 2) : "–",
      fmt(mbpsPerCore(r), 0),
      r.legs.nodes.map((x) => x?.players ?? "?").join("+"),
      r.legs.pulls ?? "?",
      fmt(r.rssAfter / 2 ** 20),
      r.playing >= 8 && r.rssAfter >= r.rssBefore ? fmt((r.rssAfter - r.rssBefore) / 1024 / r.playing, 0) : "–",
      fmt(r.pubFpsMin),
      pct(r.decFramesMinPct),
      r.light ? pct(r.lightFramesMinPct) : "–",
      r.lightPackets + r.lightLost > 0 ? fmt((100 * r.lightLost) / (r.lightPackets + r.lightLost), 3) : "–",
      `${fmt(r.joinLagP99, 0)}/${fmt(r.windowLagP99, 0)}`,
      fmt(r.burstLatAvg, 0),
      fmt(addedLatency(r), 0),
      fmt(r.decLatMax, 0),
      fmt(r.machineBusy),
      r.verdict,
    ]),
  ]);
  console.log(
    "  admitted = players PLAYING; refused = leg creations the nodes refused (their metrics, all codes; node_full = admission control; with\n" +
      "  several nodes a player the origin refused and an edge then admitted counts here too);\n" +
      "  CPU/player = node CPU / admitted; marg./player = (node CPU − publisher-only baseline) / admitted; Mbps/core = video+audio Mbps the players\n" +
      "  received / (node CPU / 100); players per node = players each node carried in the window (GET /v1/status), edges = nodes that pulled a stream;\n" +
      "  KB/player = RSS growth during the round / admitted (– below 8 players or when RSS shrank: GC noise); pub fps = the slowest publisher's;\n" +
      "  frames min % = worst admitted player's frames in the window / frames its publisher encoded (±1–2 frames of snapshot skew);\n" +
      "  loss % = light players' RTP sequence gaps / expected packets; lag p99 = the worst node's event-loop lag while the light players joined / in the window;\n" +
      "  burst lat = decoding players' average capture→decode latency while the light players joined (they joined first, and decode at niceness\n" +
      `  BENCH_DECODER_NICE=${DECODER_NICE}); added lat = burst lat − their average over the ${BASELINE_MS / 1000} s just before; lat max = their worst over the whole play.`,
  );
  if (rounds.length >= 2) {
    const first = rounds[0]!;
    const last = rounds[rounds.length - 1]!;
    console.log(
      `  ratios N=${first.n}→${last.n}: admitted ×${fmt(last.playing / Math.max(1, first.playing), 1)}, node CPU ×${fmt(last.nodeCpu / Math.max(0.01, first.nodeCpu), 1)}, RSS growth ${fmt((last.rssAfter - first.rssBefore) / 2 ** 20)} MB`,
    );
  }
  const bad = rounds.filter(failedRound);
  const skipped = run.rounds.length - rounds.length;
  const nodeLost = rounds.filter((r) => r.verdict === "FAILED: node lost").length;
  console.log(
    `\nSummary, ${runLabel(run)}: ${plural(rounds.length, "round")}: ${rounds.filter((r) => r.verdict === "all played").length} played every player with every frame, ` +
      `${rounds.filter((r) => r.verdict === "excess refused").length} refused the excess with node_full while every admitted player got every frame, ` +
      `${bad.length} failed${bad.length ? ` (${bad.map((r) => `N=${r.n}: ${r.verdict.slice(8)}`).join("; ")})` : ""}${skipped ? `, ${skipped} aborted or skipped` : ""}; ` +
      `node lost in ${nodeLost}${run.publisherLost ? ", publisher lost (see above)" : ""} ⇒ ${bad.length === 0 && skipped === 0 && !run.publisherLost ? "MET" : "NOT MET"}`,
  );
  const burst = rounds.filter((r) => r.n > 1 && r.decoders > 0);
  if (burst.length > 0) {
    const over = burst.filter((r) => !(addedLatency(r) < BAR_ADDED_LATENCY_MS));
    console.log(
      `Existing players' added latency while the others joined < ${BAR_ADDED_LATENCY_MS} ms: ${burst.length - over.length} of ${plural(burst.length, "round")}` +
        `${over.length ? ` (over or unmeasured: ${over.map((r) => `N=${r.n}: ${fmt(addedLatency(r), 0)} ms`).join(", ")})` : ""} ⇒ ${over.length === 0 ? "MET" : "NOT MET"}`,
    );
  }
}

type SizeBar = { verdict: "met" | "not met" | "not shown"; why: string };

/** Bar 1 at one size: K nodes admit and fully serve ≥ BAR_RATIO × the players one node does. */
function ratioBar(n: number, one: Round | null, many: Round | null): SizeBar {
  if (!one || !many) return { verdict: "not met", why: "a round was aborted or skipped" };
  if (failedRound(one) || failedRound(many)) return { verdict: "not met", why: "a round failed" };
  if (one.playing === n) return { verdict: "not shown", why: "one node admitted every player" };
  if (many.playing >= BAR_RATIO * one.playing) return { verdict: "met", why: "" };
  if (many.playing === n) return { verdict: "not shown", why: `every player admitted, N < ${BAR_RATIO} × one node's` };
  return { verdict: "not met", why: `${many.playing} < ${BAR_RATIO} × ${one.playing}` };
}

/** Both runs' rounds of the same sizes side by side, the ratio of admitted players, and the issue's bars. */
function printComparison(one: Run, many: Run): void {
  const k = many.nodes;
  console.log(`\nComparison: the same sizes on 1 node, then on ${k} nodes (${plural(many.streams, "stream")}; a fresh cluster each)`);
  const bars = one.sizes.map((n, i) => ratioBar(n, one.rounds[i] ?? null, many.rounds[i] ?? null));
  const cell = (r: Round | null | undefined, f: (r: Round) => string): string => (r ? f(r) : "–");
  printTable([
    ["N", "admitted 1 node", `admitted ${k} nodes`, "ratio", `CPU/player % 1 / ${k} nodes`, `Mbps/core 1 / ${k} nodes`, "verdict 1 node", `verdict ${k} nodes`, `admitted ≥ ${BAR_RATIO}×`],
    ...one.sizes.map((n, i) => {
      const [a, z] = [one.rounds[i], many.rounds[i]];
      return [
        n,
        cell(a, (r) => `${r.playing}/${n}`),
        cell(z, (r) => `${r.playing}/${n}`),
        a && z && a.playing > 0 ? `×${fmt(z.playing / a.playing, 2)}` : "–",
        `${cell(a, (r) => fmt(cpuPerPlayer(r), 2))} / ${cell(z, (r) => fmt(cpuPerPlayer(r), 2))}`,
        `${cell(a, (r) => fmt(mbpsPerCore(r), 0))} / ${cell(z, (r) => fmt(mbpsPerCore(r), 0))}`,
        cell(a, (r) => r.verdict),
        cell(z, (r) => r.verdict),
        bars[i]!.verdict + (bars[i]!.why ? ` (${bars[i]!.why})` : ""),
      ];
    }),
  ]);
  const lost = [one, many].filter((r) => r.publisherLost).map((r) => `publisher lost in the ${plural(r.nodes, "node")} run`);
  const ratioVerdict = lost.length || bars.some((b) => b.verdict === "not met") ? "NOT MET" : bars.some((b) => b.verdict === "met") ? "MET" : "NOT SHOWN";
  const ratioWhy =
    lost.join(", ") ||
    (ratioVerdict === "NOT SHOWN" ? `no size made one node refuse players and left room for ${BAR_RATIO}× (N ≥ ${BAR_RATIO} × one node's admitted): run larger N` : `per size above`);
  // CPU per player is judged where fixed costs (publishers, cascade links) weigh least: the largest N of the K-node run
  const largest = Math.max(...many.sizes);
  const at = many.sizes.lastIndexOf(largest);
  const big = many.rounds[at] ?? null;
  const cpu = big ? cpuPerPlayer(big) : NaN;
  const cpuVerdict = big && !failedRound(big) && cpu <= BAR_CPU_PER_PLAYER ? "MET" : "NOT MET";
  const cpuWhy = !big ? "the round was aborted or skipped" : failedRound(big) ? `the round failed: ${big.verdict.slice(8)}` : `${fmt(cpu, 2)} % of a core`;
  const stated = k === 2 && many.streams === 1 ? "" : ` (the issue states it for one stream over 2 nodes; this run: ${runLabel(many)})`;
  console.log(
    `\nBars of issue 12${stated}:\n` +
      `  ${k} nodes admit and fully serve ≥ ${BAR_RATIO}× the players one node does: ${ratioVerdict} (${ratioWhy})\n` +
      `  node CPU per admitted player ≤ ${BAR_CPU_PER_PLAYER.toFixed(2)} % of a core, ${k} nodes at N=${largest}: ${cpuVerdict} (${cpuWhy})`,
  );
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const tStart = performance.now();
  if (o.compareNodes) console.log(`comparing 1 node with ${o.compareNodes} nodes: the same sizes (${o.sizes.join(", ")}) on two fresh clusters, one after the other`);
  const runs: Run[] = [];
  for (const k of o.compareNodes ? [1, o.compareNodes] : [o.nodes]) {
    const r = await run(k, o.streams, o.sizes);
    runs.push(r);
    if (r.setupFailed) break;
  }
  if (o.compareNodes && runs.length === 2 && !runs[1]!.setupFailed) printComparison(runs[0]!, runs[1]!);
  console.log(`total ${fmt((performance.now() - tStart) / 1000, 0)} s`);
  return runs.some((r) => r.setupFailed || r.publisherLost) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
