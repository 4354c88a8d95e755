/**
 * Helpers shared by the benchmarks: process CPU and memory from /proc, percentiles, table printing, and forking
 * TypeScript child processes with the tsx loader.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Linux USER_HZ (getconf CLK_TCK): 100 on every mainstream kernel/arch. */
const CLK_TCK = 100;

/** utime + stime of a whole process (all threads), in seconds; NaN when the process is gone. */
export function procCpuSec(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 and 15 of stat(5)
  } catch {
    return NaN;
  }
}

/** Resident set size of a process, bytes (VmRSS); NaN when the process is gone. */
export function procRssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Threads of a process. */
export function procThreads(pid: number): number {
  try {
    const m = /^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Aggregate jiffies of the machine (/proc/stat first line): busy and total. */
export function sysJiffies(): { busy: number; total: number } {
  const l = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  const total = l.reduce((a, b) => a + b, 0);
  const idle = (l[3] ?? 0) + (l[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU of processes over an interval, as % of one core: summed over the pids, and per pid. */
export class CpuMeter {
  private cpu0: number[];
  private t0: number;
  private sys0: { busy: number; total: number };
  constructor(readonly pids: number[]) {
    this.cpu0 = this.read();
    this.t0 = performance.now();
    this.sys0 = sysJiffies();
  }
  private read(): number[] {
    return this.pids.map(procCpuSec);
  }
  /** {percent of one core for all the pids, per pid (same order), seconds elapsed, machine busy % of all cores}. */
  stop(): { percent: number; perPid: number[]; seconds: number; machineBusyPercent: number } {
    const sec = (performance.now() - this.t0) / 1000;
    const sys = sysJiffies();
    const perPid = this.read().map((c, i) => ((c - this.cpu0[i]!) / sec) * 100);
    return {
      percent: perPid.reduce((a, b) => a + b, 0),
      perPid,
      seconds: sec,
      machineBusyPercent: ((sys.busy - this.sys0.busy) / Math.max(1, sys.total - this.sys0.total)) * 100,
    };
  }
}

/** Sum of a per-process figure (procRssBytes, procThreads) over processes; NaN when one of them is gone. */
export function sumOver(pids: number[], figure: (pid: number) => number): number {
  return pids.reduce((a, p) => a + figure(p), 0);
}

/** Linear-interpolated percentile of unsorted numbers (p in 0..100); NaN for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = ((s.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function fmt(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return v.toFixed(digits);
}

/** Prints rows as an aligned text table (first row = header). Numbers right-aligned. */
export function printTable(rows: (string | number)[][]): void {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths: number[] = [];
  for (const r of cells) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const [head, ...body] = cells;
  if (!head) return;
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of body) console.log(line(r));
}

const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** Forks a TypeScript child (tsx loader, JSON IPC); stdout/stderr are piped and handed to `onLine`. */
export function forkTs(script: string, onLine: (line: string) => void, env: Record<string, string> = {}): ChildProcess {
  const child = fork(script, [], {
    execArgv: ["--import", TSX_LOADER],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: { ...process.env, ...env },
    serialization: "json",
  });
  for (const s of [child.stdout, child.stderr]) {
    let rest = "";
    s?.on("data", (d: Buffer) => {
      const parts = (rest + d.toString()).split("\n");
      rest = parts.pop() ?? "";
      for (const l of parts) if (l.trim()) onLine(l);
    });
  }
  return child;
}

/** Resolves when a child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once("exit", () => r()));
}

/** Asks nicely (via `ask`), then SIGKILLs after `graceMs`. */
export async function reap(child: ChildProcess, ask: () => void, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    if (child.connected) ask();
  } catch {
    /* channel closed */
  }
  const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited(child);
  clearTimeout(t);
}

/** Log lines kept in memory (last `max`), echoed to stderr when BENCH_VERBOSE is set. */
export class LogTail {
  readonly lines: string[] = [];
  constructor(private readonly max = 300) {}
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
    if (process.env.BENCH_VERBOSE) process.stderr.write(line + "\n");
  }
  text(last = 40): string {
    return this.lines.slice(-last).join("\n");
  }
}
