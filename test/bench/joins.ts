/**
 * Per-join storage cost of a StreamDO against its audience (issue 10, item 6): players join a published stream one at
 * a time from 1 to N (default 500), each join making the three saves of StreamDO.play (test/bench/joins-worker.ts),
 * persisted by the real StreamStore (worker/stream-store.ts: one `meta` key plus one key per player), against the same
 * store comparing every record on every save (what it did before) and the old layout (the whole state under one key,
 * rewritten on every save).
 *
 *   npm run bench:joins               # 10 runs of 1..500 joins per layout
 *   npm run bench:joins -- 5          # 5 runs
 *   BENCH_MAX_PLAYERS=1000 npm run bench:joins
 *
 * 1. Real Durable Object storage: the joins run in a Durable Object in Miniflare (workerd, SQLite-backed storage like
 *    wrangler.toml's StreamDO), one request per join; the layouts take turns join by join, so machine noise hits them
 *    alike. Per join: the keys and bytes (JSON, UTF-8) put() got, the saves' time on the object's clock (workerd's
 *    clock moves in 1 ms steps: its mean is meaningful, its p95 only in whole ms), and the round trip of the join
 *    request measured here, which includes committing the writes (a Durable Object's response waits for them) and the
 *    request's fixed cost (shown as a noop request's).
 * 2. The same joins in this process against storage in memory that serializes values as Durable Object storage does
 *    (v8.serialize), one layout after the other: the store's own CPU per join, with a microsecond clock.
 * Rows are the joins that brought the audience to 1, and to the last 10 % (at least 5) up to 10, 50, 100, 250, 500
 * (percentiles over those joins of every run); the summary compares the first 10 joins with the last row.
 * A benchmark, not a test: prints figures and exits 0; non-zero only on setup failure.
 */
import { fileURLToPath } from "node:url";
import { deserialize, serialize } from "node:v8";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import type { StoreStorage } from "../../worker/stream-store.js";
import { fmt, percentile, printTable } from "./common.js";
import { join, LAYOUTS, publishedStream, saver, type JoinResult, type Layout } from "./joins-worker.js";

const WORKER = fileURLToPath(new URL("./joins-worker.ts", import.meta.url));
const RUNS = Math.max(1, Number(process.argv[2] ?? 10));
const MAX_PLAYERS = Math.max(1, Number(process.env.BENCH_MAX_PLAYERS ?? 500));
const TARGETS = [1, 10, 50, 100, 250, 500, 1000, 2000].filter((t) => t < MAX_PLAYERS).concat(MAX_PLAYERS);
const LABEL: Record<Layout, string> = { records: "records", "records-all": "records, all compared", single: "single key (old)" };

interface Sample extends JoinResult {
  rttMs: number;
}

/** The joins (1-based) a row sums up: the one that brought the audience to 1, else the last 10 % (≥ 5) up to it. */
function window(target: number): [number, number] {
  return target === 1 ? [1, 1] : [Math.max(1, target - Math.max(5, Math.round(target / 10)) + 1), target];
}

function rowsOf<S>(runs: Record<Layout, S[][]>, cells: (s: S[]) => (string | number)[]): (string | number)[][] {
  const rows: (string | number)[][] = [];
  for (const layout of LAYOUTS) {
    for (const target of TARGETS) {
      const [lo, hi] = window(target);
      const s = runs[layout].flatMap((run) => run.slice(lo - 1, hi));
      rows.push([LABEL[layout], lo === hi ? `${hi}` : `${lo}–${hi}`, s.length, ...cells(s)]);
    }
  }
  return rows;
}

const mean = <S>(s: S[], f: (x: S) => number): number => s.reduce((a, x) => a + f(x), 0) / s.length;
const byLayout = <T>(f: () => T): Record<Layout, T> => ({ records: f(), "records-all": f(), single: f() });

/** Part 1: Miniflare. */
async function inWorkerd(): Promise<{ samples: Record<Layout, Sample[][]>; noop: number[] }> {
  const bundle = await build({ entryPoints: [WORKER], bundle: true, format: "esm", platform: "neutral", target: "es2022", write: false, logLevel: "error" });
  const mf = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0]!.text,
    compatibilityDate: "2026-05-01",
    durableObjects: { BENCH: { className: "JoinsBenchDO", useSQLite: true } },
  });
  const call = async (path: string): Promise<{ body: unknown; ms: number }> => {
    const t0 = performance.now();
    const res = await mf.dispatchFetch(`http://bench${path}`, { method: "POST" });
    const body = res.ok ? ((await res.json()) as unknown) : await res.text();
    const ms = performance.now() - t0;
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${String(body)}`);
    return { body, ms };
  };
  const samples = byLayout<Sample[][]>(() => []);
  const noop: number[] = [];
  try {
    // run 0 warms up the isolate and the JIT; it is not counted
    for (let run = 0; run <= RUNS; run++) {
      const t0 = performance.now();
      for (const layout of LAYOUTS) await call(`/${layout}/${run}/publish`);
      const mine = byLayout<Sample[]>(() => []);
      for (let n = 1; n <= MAX_PLAYERS; n++) {
        for (let i = 0; i < LAYOUTS.length; i++) {
          const layout = LAYOUTS[(n + i) % LAYOUTS.length]!;
          const { body, ms } = await call(`/${layout}/${run}/join`);
          const r = body as JoinResult;
          if (r.players !== n) throw new Error(`${layout} run ${run}: ${r.players} players after join ${n}`);
          mine[layout].push({ ...r, rttMs: ms });
        }
        if (n % 25 === 0) noop.push((await call(`/records/${run}/noop`)).ms);
      }
      if (run > 0) for (const layout of LAYOUTS) samples[layout].push(mine[layout]);
      process.stderr.write(`workerd run ${run}${run === 0 ? " (warm-up)" : ""}: ${MAX_PLAYERS} joins × ${LAYOUTS.length} layouts in ${fmt((performance.now() - t0) / 1000)} s\n`);
    }
  } finally {
    await mf.dispose();
  }
  return { samples, noop };
}

/** Durable Object storage in memory: values serialized on put as workerd does (V8 serializer). */
class MemoryStorage implements StoreStorage {
  private readonly data = new Map<string, Buffer>();
  async get<T>(key: string): Promise<T | undefined> {
    const v = this.data.get(key);
    return v === undefined ? undefined : (deserialize(v) as T);
  }
  async list<T>(options: { prefix: string }): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    for (const [k, v] of [...this.data].sort(([a], [b]) => (a < b ? -1 : 1))) if (k.startsWith(options.prefix)) out.set(k, deserialize(v) as T);
    return out;
  }
  async put(entries: Record<string, unknown>): Promise<void> {
    for (const [k, v] of Object.entries(entries)) this.data.set(k, serialize(v));
  }
  async delete(keys: string[]): Promise<number> {
    return keys.filter((k) => this.data.delete(k)).length;
  }
}

/**
 * Part 2: the store's CPU per join in this process (µs). One layout's joins after the other's: interleaved, the garbage
 * of the layouts that serialize the whole audience would be collected during the others' saves.
 */
async function inNode(): Promise<Record<Layout, number[][]>> {
  const out = byLayout<number[][]>(() => []);
  for (let run = 0; run <= RUNS; run++) {
    for (const layout of LAYOUTS) {
      const state = publishedStream();
      const save = saver(layout, new MemoryStorage(), () => state);
      await save();
      const mine: number[] = [];
      for (let n = 1; n <= MAX_PLAYERS; n++) {
        let us = 0;
        await join(state, async (changed) => {
          const t0 = performance.now();
          await save(changed);
          us += (performance.now() - t0) * 1000;
        });
        mine.push(us);
      }
      if (run > 0) out[layout].push(mine);
    }
  }
  return out;
}

async function main(): Promise<void> {
  const { samples, noop } = await inWorkerd();
  const cpu = await inNode();
  const saves = samples.records[0]?.[0]?.saves ?? 0;

  console.log(`\n1. Real Durable Object storage (Miniflare, SQLite-backed), per join (${saves} saves, as StreamDO.play); ${RUNS} runs of 1..${MAX_PLAYERS} joins per layout`);
  printTable([
    ["layout", "players", "joins", "keys/join", "bytes/join", "save ms mean", "save p95", "join rtt p50", "rtt p95"],
    ...rowsOf(samples, (s) => [
      fmt(mean(s, (x) => x.keys), 1),
      fmt(mean(s, (x) => x.bytes), 0),
      fmt(mean(s, (x) => x.saveMs), 2),
      fmt(percentile(s.map((x) => x.saveMs), 95), 0),
      fmt(percentile(s.map((x) => x.rttMs), 50), 2),
      fmt(percentile(s.map((x) => x.rttMs), 95), 2),
    ]),
  ]);
  console.log(
    `save ms: on the object's clock (1 ms steps). join rtt: ms, measured here from request to response; ` +
      `a noop request: p50 ${fmt(percentile(noop, 50), 2)} ms, p95 ${fmt(percentile(noop, 95), 2)} ms (${noop.length} requests).`,
  );

  console.log(`\n2. The store's CPU per join in Node, storage in memory (v8.serialize on put), µs; ${RUNS} runs`);
  printTable([["layout", "players", "joins", "save µs p50", "p95"], ...rowsOf(cpu, (s) => [fmt(percentile(s, 50), 0), fmt(percentile(s, 95), 0)])]);

  // the summary: the first 10 joins (a few samples more than join 1 alone) against the last row's
  const firstJoins: [number, number] = [1, Math.min(10, MAX_PLAYERS)];
  const last = window(TARGETS[TARGETS.length - 1]!);
  const at = <S>(runs: S[][], [lo, hi]: [number, number]): S[] => runs.flatMap((run) => run.slice(lo - 1, hi));
  console.log(`\nper join: bytes of join 1 → join ${last[1]}; times of joins ${firstJoins.join("–")} → joins ${last.join("–")}`);
  for (const layout of LAYOUTS) {
    const a = at(samples[layout], firstJoins);
    const b = at(samples[layout], last);
    const bytes = [mean(at(samples[layout], [1, 1]), (x) => x.bytes), mean(at(samples[layout], [last[1], last[1]]), (x) => x.bytes)];
    const rtt = [percentile(a.map((x) => x.rttMs), 50), percentile(b.map((x) => x.rttMs), 50)];
    const us = [percentile(at(cpu[layout], firstJoins), 50), percentile(at(cpu[layout], last), 50)];
    console.log(
      `  ${LABEL[layout].padEnd(22)} bytes ${fmt(bytes[0], 0)} → ${fmt(bytes[1], 0)} (×${fmt(bytes[1]! / bytes[0]!, 1)}); store CPU p50 ${fmt(us[0], 0)} → ${fmt(us[1], 0)} µs (×${fmt(us[1]! / us[0]!, 1)}); ` +
        `save in workerd (mean) ${fmt(mean(a, (x) => x.saveMs), 2)} → ${fmt(mean(b, (x) => x.saveMs), 2)} ms; join rtt p50 ${fmt(rtt[0], 2)} → ${fmt(rtt[1], 2)} ms`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error("bench:joins setup failed:", err);
    process.exit(1);
  },
);
