/**
 * Runs the `wcs-edge` CLI (bin/wcs-edge.mjs → client/cli/main.ts) as a child process for the e2e tests: collects its
 * stdout lines (parsed when they are JSON), stderr and exit status; lets a test wait for a line, write to its stdin
 * and signal it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./cluster.js";

export const CLI_BIN = join(ROOT, "bin/wcs-edge.mjs");

/** One JSON line of `--json` output. */
export interface CliEvent {
  type: string;
  t: number;
  [k: string]: unknown;
}

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class CliProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = "";
  readonly exited: Promise<CliExit>;
  readonly #waiters = new Set<() => void>();
  #exit: CliExit | undefined;

  constructor(readonly args: string[], timeoutMs = 90_000) {
    this.child = spawn(process.execPath, [CLI_BIN, ...args], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let partial = "";
    this.child.stdout!.on("data", (d: Buffer) => {
      partial += d.toString();
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      for (const l of parts) if (l.trim()) this.lines.push(l);
      this.#wake();
    });
    this.child.stderr!.on("data", (d: Buffer) => {
      this.stderr += d.toString();
      this.#wake();
    });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        clearTimeout(timer);
        if (partial.trim()) this.lines.push(partial);
        this.#exit = { code, signal };
        this.#wake();
        resolve(this.#exit);
      });
    });
  }

  /** The stdout lines that are JSON objects. */
  events(): CliEvent[] {
    const out: CliEvent[] = [];
    for (const l of this.lines) {
      try {
        const v: unknown = JSON.parse(l);
        if (typeof v === "object" && v !== null && "type" in v) out.push(v as CliEvent);
      } catch {
        // a human-readable line
      }
    }
    return out;
  }

  /** Resolves with the first event matching `match`; rejects when the process exits first or after `timeoutMs`. */
  waitFor(what: string, match: (e: CliEvent) => boolean, timeoutMs = 30_000): Promise<CliEvent> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.events().find(match);
        if (hit) return done(() => resolve(hit));
        if (this.#exit) return done(() => reject(new Error(`${what}: the CLI exited (${JSON.stringify(this.#exit)}) first\n${this.dump()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`${what}: not seen within ${timeoutMs} ms\n${this.dump()}`))), timeoutMs);
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        fn();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Writes one line to the CLI's stdin. */
  writeLine(text: string): void {
    this.child.stdin!.write(`${text}\n`);
  }

  /** Sends `signal` (default SIGINT, as Ctrl-C) and waits for the exit. */
  async stop(signal: NodeJS.Signals = "SIGINT"): Promise<CliExit> {
    if (!this.#exit) this.child.kill(signal);
    return this.exited;
  }

  /** Kills the process if it is still running (test cleanup). */
  kill(): void {
    if (!this.#exit) this.child.kill("SIGKILL");
  }

  /** Everything it printed, for failure messages. */
  dump(): string {
    return `--- wcs-edge ${this.args.join(" ")} ---\nstdout:\n${this.lines.slice(-80).join("\n")}\nstderr:\n${this.stderr.slice(-4000)}`;
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/** Runs the CLI to completion. */
export async function runCli(args: string[], timeoutMs = 60_000): Promise<CliExit & { cli: CliProcess }> {
  const cli = new CliProcess(args, timeoutMs);
  const exit = await cli.exited;
  return { ...exit, cli };
}
