/**
 * Scrapes a Prometheus endpoint and parses the text with `parse-prometheus-text-format` (a parser of the exposition
 * format 0.0.4, so a malformed line fails the test instead of being read by a regex of ours).
 */
import { createRequire } from "node:module";

interface Family {
  name: string;
  help: string;
  type: string;
  metrics: Array<{ value?: string; labels?: Record<string, string> }>;
}
const parse = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => Family[];

/** Parsed metrics: `value(name, labels?)` sums the samples of `name` whose labels include `labels`. */
export interface Scrape {
  families: Family[];
  value(name: string, labels?: Record<string, string>): number;
}

/** Parses exposition text (throws on malformed input). */
export function parseMetrics(text: string): Scrape {
  const families = parse(text);
  return {
    families,
    value(name, labels = {}) {
      const f = families.find((x) => x.name === name);
      if (!f) throw new Error(`metric ${name} missing`);
      return f.metrics
        .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
        .reduce((sum, m) => sum + Number(m.value), 0);
    },
  };
}

/** GET `url` (with an optional bearer token) and parse it; throws on a non-200 answer. */
export async function scrapeMetrics(url: string, token?: string): Promise<Scrape> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url} → ${res.status}: ${text.slice(0, 200)}`);
  if (!/^text\/plain; version=0\.0\.4/.test(res.headers.get("content-type") ?? "")) throw new Error(`GET ${url}: content-type ${res.headers.get("content-type")}`);
  return parseMetrics(text);
}
