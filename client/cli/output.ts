/**
 * The CLI's output: one human-readable line per event on stdout, or with `--json` one JSON object per line
 * (`{"type", "t": seconds since start, …}`); errors always on stderr; `--verbose` diagnostics on stderr.
 */
import type { Logger } from "../node.js";

/** Options every command takes (see `common()` in main.ts). */
export interface GlobalOptions {
  /** The WCS server's ws:// or wss:// URL. */
  url: string;
  /** Access token (JWT) sent as `connection.custom.token`, for a server with authentication on. */
  token?: string;
  json?: boolean;
  verbose?: boolean;
}

const t0 = Date.now();

/** Seconds since the CLI started, to 0.1 s: the `t` of every JSON line. */
export const elapsed = (): number => Math.round((Date.now() - t0) / 100) / 10;

/** Human lines or JSON lines on stdout; errors also on stderr. */
class Output {
  json = false;
  verbose = false;

  /** Takes `--json` and `--verbose` from a command's options. */
  configure(o: GlobalOptions): void {
    this.json = !!o.json;
    this.verbose = !!o.verbose;
  }

  /** One event: `human` in text mode, `{type, t, ...fields}` in JSON mode. */
  event(type: string, fields: Record<string, unknown>, human: string): void {
    if (this.json) process.stdout.write(JSON.stringify({ type, t: elapsed(), ...fields }) + "\n");
    else process.stdout.write(`${human}\n`);
  }

  /** An error: always a line on stderr, plus `{type: "error", …}` on stdout in JSON mode. */
  error(message: string, fields: Record<string, unknown> = {}): void {
    process.stderr.write(`wcs-edge: error: ${message}\n`);
    if (this.json) process.stdout.write(JSON.stringify({ type: "error", t: elapsed(), message, ...fields }) + "\n");
  }

  /** Diagnostics (--verbose) on stderr. */
  debug(message: string): void {
    if (this.verbose) process.stderr.write(`wcs-edge: ${message}\n`);
  }
}

/** The process's one output. */
export const out = new Output();

/** The SDK's logger: its warnings only with --verbose (the CLI reports failures itself), errors always. */
export const sdkLogger: Logger = {
  debug: (m) => out.debug(`[sdk] ${m}`),
  warn: (m, ...d) => out.debug(`[sdk] ${m}${d.length ? ` ${d.map(String).join(" ")}` : ""}`),
  error: (m, ...d) => process.stderr.write(`wcs-edge: [sdk] ${m} ${d.map(String).join(" ")}\n`),
};
