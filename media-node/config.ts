/**
 * Media node configuration: environment variables parsed and validated with zod.
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `MEDIA_NODE_ID` | node id announced to the worker (1–128 chars) | `<hostname>-<control port>` |
 * | `MEDIA_NODE_LISTEN_HOST` | address the HTTP control API listens on | `127.0.0.1` |
 * | `MEDIA_NODE_PORT` | HTTP control port; `0` = ephemeral (the real port goes into controlUrl) | `9000` |
 * | `MEDIA_NODE_PUBLIC_URL` | controlUrl announced to the worker | `http://<listen host>:<port>` |
 * | `MEDIA_NODE_BIND_ADDRESS` | IP address ICE binds to: an address of this host, or `0.0.0.0` / `::` for all | `127.0.0.1`; with announced addresses `0.0.0.0` (`::` if one is IPv6) |
 * | `MEDIA_NODE_ANNOUNCED_ADDRESSES` | comma-separated IPs put into the answers' host candidates instead of the gathered ones, with the bound port (1:1 NAT: the public IP of a cloud VM) | unset = the gathered addresses |
 * | `MEDIA_NODE_ICE_ADDRESS` | deprecated alias of `MEDIA_NODE_BIND_ADDRESS` (a warning at start; an error together with it) | unset |
 * | `MEDIA_NODE_RTC_PORT_MIN` / `MEDIA_NODE_RTC_PORT_MAX` | UDP port range for ICE (both or neither) | OS-chosen |
 * | `WORKER_URL` | base URL of the signaling worker, e.g. `http://127.0.0.1:8787` | required |
 * | `MEDIA_NODE_SECRET` | shared HMAC secret with the worker (`protocol/signing.ts`) | required |
 * | `MEDIA_NODE_HEARTBEAT_MS` | heartbeat period, ms (100–60000) | `1000` |
 * | `MEDIA_NODE_MAX_LEGS` | most legs this node accepts; `0` = unlimited | `0` |
 * | `MEDIA_NODE_MAX_LOOP_UTILIZATION` | refuse new legs while the media event loop is busier than this (0–1; 1 = never) | `0.9` |
 * | `MEDIA_NODE_MAX_LOOP_LAG_MS` | refuse new legs while the event loop's worst lag of the last 500 ms is above this (ms; 0 = never) | `200` |
 * | `MEDIA_NODE_MAX_QUEUE_DELAY_MS` | publisher RTP that waited longer than this between the network and the forwarder (node-datachannel's callback queue, while the loop is busy) is dropped instead of forwarded late (ms; 0 = never) | `500` |
| `MEDIA_NODE_METRICS_TOKEN` | bearer token `GET /metrics` (Prometheus) requires; unset = open to anyone who reaches the control port | unset |
| `MEDIA_NODE_PUBLISHER_MAX_KBPS` | bitrate announced to video publishers with REMB (their ceiling and start value); 0 = none | `2500` |
 * | `MEDIA_NODE_GOP_CACHE_MS` | GOP cache (instant start): a new player is sent the stream's video packets from the last keyframe on when that keyframe arrived at most this long ago, instead of asking the publisher for a keyframe (ms, 0–10000; 0 = off) | `3000` |
 * | `MEDIA_NODE_GOP_CACHE_BYTES` | most video bytes one stream's GOP cache holds (64 KiB–64 MiB); a larger GOP, or one of over 400 packets, is not cached | `1048576` |
 * | `MEDIA_NODE_CONNECT_TIMEOUT_MS` | a leg not connected this long after its answer fails (ms, 1000–300000) | `20000` |
 * | `MEDIA_NODE_SNAPSHOT_TIMEOUT_MS` | time bound of one snapshot (WCS `snapshot`, REST `/stream/snapshot`), from the request to the PNG; its ffmpeg is killed then (ms, 1000–20000) | `5000` |
 * | `MEDIA_NODE_MAX_SNAPSHOTS` | most snapshot ffmpeg processes at once on the node (concurrent snapshots of one stream share one); one more is refused `node_full` (1–64) | `4` |
 * | `FFMPEG_PATH` | the ffmpeg executable (media-node/ffmpeg-rtp.ts: snapshots, recordings); read at start, not validated here | `ffmpeg` (PATH) |
 * | `MEDIA_NODE_MAX_RECORDINGS` | most streams recorded at once on the node (WCS `record: true`, media-node/recordings.ts); one more is published unrecorded (`record: false` in its statuses); 0 = record nothing (0–256) | `16` |
 * | `MEDIA_NODE_RECORD_DIR` | where recordings are spooled while they are made and uploaded (a subdirectory per node id; each file is deleted once uploaded) | `<os.tmpdir()>/wcs-edge-records` |
 * | `MEDIA_NODE_RECORD_MIN_FREE_MB` | a new recording needs this much free space in MEDIA_NODE_RECORD_DIR; under half of it every recording is finished early (MiB, 0–1048576) | `1024` |
 * | `MEDIA_NODE_RECORD_PART_BYTES` | size of the parts a recording is uploaded in while it grows (R2: at least 5 MiB; the node holds one part per recording in memory while it sends it), bytes (5242880–67108864) | `5242880` |
 * | `MEDIA_NODE_DRAIN_TIMEOUT_MS` | on SIGTERM/SIGINT or `POST /v1/drain`: how long legs keep flowing before they end (ms, 0–3600000; 0 = at once) | `30000` |
 * | `LOG_LEVEL` | pino level: fatal, error, warn, info, debug, trace, silent | `info` |
 *
 * Empty values count as unset.
 */
import { BlockList, isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { MAX_SNAPSHOT_RUNS, MAX_SNAPSHOT_TIMEOUT_MS, SNAPSHOT_TIMEOUT_MS } from "../protocol/snapshot.js";
import { MAX_PART_BYTES, MIN_PART_BYTES } from "../protocol/recording.js";

export interface MediaNodeConfig {
  /** Node id; undefined = derived from the hostname and the bound control port at start. */
  nodeId?: string;
  listenHost: string;
  /** HTTP control port; 0 = ephemeral. */
  port: number;
  /** controlUrl announced to the worker; undefined = `http://<listenHost>:<bound port>`. */
  publicUrl?: string;
  /** Address ICE binds to (an address of this host, or `0.0.0.0` / `::`). */
  bindAddress: string;
  /** Addresses announced in the host candidates instead of the gathered ones (1:1 NAT); empty = the gathered ones. */
  announcedAddresses: string[];
  /** Inclusive UDP port range for ICE, if configured. */
  rtcPortRange?: { min: number; max: number };
  workerUrl: string;
  secret: string;
  heartbeatMs: number;
  /** 0 = unlimited. */
  maxLegs: number;
  /** Refuse new legs while the event loop is busier than this share (0..1; 1 = never). */
  maxLoopUtilization: number;
  /** Refuse new legs while the event loop's worst lag of the last 500 ms is above this, ms (0 = never). */
  maxLoopLagMs: number;
  /** Drop publisher RTP that waited longer than this in the callback queue, ms (0 = never). */
  maxQueueDelayMs: number;
  /** Bearer token for `GET /metrics`; undefined = open. */
  metricsToken?: string;
  connectTimeoutMs: number;
  /** How long a drain (SIGTERM/SIGINT, `POST /v1/drain`) lets legs flow before ending them, ms; 0 = at once. */
  drainTimeoutMs: number;
  /** REMB bitrate for video publishers, kbit/s; 0 = no REMB. */
  publisherMaxKbps: number;
  /** GOP cache: oldest keyframe a new player is started from, ms (0 = off); most video bytes per stream. */
  gopCacheMs: number;
  gopCacheBytes: number;
  /** Time bound of one snapshot, ms; most snapshot ffmpeg processes at once (media-node/snapshot.ts). */
  snapshotTimeoutMs: number;
  maxSnapshots: number;
  /** Recordings (media-node/recordings.ts): most at once (0 = none), spool directory, free space needed, part size. */
  maxRecordings: number;
  recordDir: string;
  recordMinFreeBytes: number;
  recordPartBytes: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Accepted but questionable settings (a deprecated variable, …), for the log at start. */
  warnings: string[];
}

/** Thrown by {@link loadConfig}; `message` lists every bad variable, one per line. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function intVar(min: number, max: number) {
  const msg = `expected an integer ${min}..${max}`;
  return z
    .string()
    .regex(/^\d+$/, msg)
    .transform(Number)
    .pipe(z.number().int().min(min, msg).max(max, msg));
}

const httpUrl = z
  .string()
  .url("expected an absolute URL")
  // zod runs refinements on values .url() refused too: an unparseable URL is reported there, not thrown here
  .refine((u) => !URL.canParse(u) || /^https?:$/.test(new URL(u).protocol), "expected an http:// or https:// URL");

/** `0.0.0.0` and `::` (any spelling): bind-to-all addresses, never a destination. */
const UNSPECIFIED = new BlockList();
UNSPECIFIED.addAddress("0.0.0.0", "ipv4");
UNSPECIFIED.addAddress("::", "ipv6");
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

const ipLiteral = z.string().refine((s) => isIP(s) !== 0, "expected an IPv4 or IPv6 address");

/** Most addresses MEDIA_NODE_ANNOUNCED_ADDRESSES takes (each adds a candidate line to every answer). */
const MAX_ANNOUNCED = 8;

/** `a, b, c` → distinct IP literals that can be announced (not `0.0.0.0` / `::`). */
const addressList = z
  .string()
  .transform((s) => s.split(",").map((a) => a.trim()).filter((a) => a !== ""))
  .superRefine((list, ctx) => {
    const bad = list.filter((a) => isIP(a) === 0);
    if (bad.length > 0) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not an IPv4 or IPv6 address: ${bad.join(", ")}` });
    const unspecified = list.filter((a) => isIP(a) !== 0 && UNSPECIFIED.check(a, isIP(a) === 6 ? "ipv6" : "ipv4"));
    if (unspecified.length > 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `cannot announce the unspecified address ${unspecified.join(", ")} (that is a bind address)` });
    }
    if (new Set(list).size !== list.length) ctx.addIssue({ code: z.ZodIssueCode.custom, message: "lists an address twice" });
    if (list.length > MAX_ANNOUNCED) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `at most ${MAX_ANNOUNCED} addresses` });
  });

function isLoopback(address: string): boolean {
  return LOOPBACK.check(address, isIP(address) === 6 ? "ipv6" : "ipv4");
}

const EnvSchema = z
  .object({
    MEDIA_NODE_ID: z.string().max(128, "at most 128 characters").optional(),
    MEDIA_NODE_LISTEN_HOST: z.string().default("127.0.0.1"),
    MEDIA_NODE_PORT: intVar(0, 65535).default("9000"),
    MEDIA_NODE_PUBLIC_URL: httpUrl.optional(),
    MEDIA_NODE_BIND_ADDRESS: ipLiteral.optional(),
    MEDIA_NODE_ANNOUNCED_ADDRESSES: addressList.optional(),
    MEDIA_NODE_ICE_ADDRESS: ipLiteral.optional(),
    MEDIA_NODE_RTC_PORT_MIN: intVar(1, 65535).optional(),
    MEDIA_NODE_RTC_PORT_MAX: intVar(1, 65535).optional(),
    WORKER_URL: z.string({ required_error: "required" }).pipe(httpUrl),
    MEDIA_NODE_SECRET: z.string({ required_error: "required" }),
    MEDIA_NODE_HEARTBEAT_MS: intVar(100, 60_000).default("1000"),
    MEDIA_NODE_MAX_LEGS: intVar(0, 1_000_000).default("0"),
    MEDIA_NODE_MAX_LOOP_UTILIZATION: z.coerce.number().min(0.1).max(1).default(0.9),
    MEDIA_NODE_MAX_LOOP_LAG_MS: intVar(0, 60_000).default("200"),
    MEDIA_NODE_MAX_QUEUE_DELAY_MS: intVar(0, 60_000).default("500"),
    MEDIA_NODE_METRICS_TOKEN: z.string().min(16, "at least 16 characters").max(512).optional(),
    MEDIA_NODE_CONNECT_TIMEOUT_MS: intVar(1000, 300_000).default("20000"),
    MEDIA_NODE_DRAIN_TIMEOUT_MS: intVar(0, 3_600_000).default("30000"),
    MEDIA_NODE_PUBLISHER_MAX_KBPS: intVar(0, 100_000).default("2500"),
    MEDIA_NODE_GOP_CACHE_MS: intVar(0, 10_000).default("3000"),
    MEDIA_NODE_GOP_CACHE_BYTES: intVar(65_536, 67_108_864).default("1048576"),
    MEDIA_NODE_SNAPSHOT_TIMEOUT_MS: intVar(1000, MAX_SNAPSHOT_TIMEOUT_MS).default(String(SNAPSHOT_TIMEOUT_MS)),
    MEDIA_NODE_MAX_SNAPSHOTS: intVar(1, 64).default(String(MAX_SNAPSHOT_RUNS)),
    MEDIA_NODE_MAX_RECORDINGS: intVar(0, 256).default("16"),
    MEDIA_NODE_RECORD_DIR: z.string().optional(),
    MEDIA_NODE_RECORD_MIN_FREE_MB: intVar(0, 1_048_576).default("1024"),
    MEDIA_NODE_RECORD_PART_BYTES: intVar(MIN_PART_BYTES, MAX_PART_BYTES).default(String(MIN_PART_BYTES)),
    LOG_LEVEL: z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]))
      .default("info"),
  })
  .superRefine((env, ctx) => {
    if (env.MEDIA_NODE_ICE_ADDRESS !== undefined && env.MEDIA_NODE_BIND_ADDRESS !== undefined) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["MEDIA_NODE_ICE_ADDRESS"],
        message: "deprecated alias of MEDIA_NODE_BIND_ADDRESS, which is set too: remove MEDIA_NODE_ICE_ADDRESS",
      });
    }
    const min = env.MEDIA_NODE_RTC_PORT_MIN;
    const max = env.MEDIA_NODE_RTC_PORT_MAX;
    if ((min === undefined) !== (max === undefined)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [min === undefined ? "MEDIA_NODE_RTC_PORT_MIN" : "MEDIA_NODE_RTC_PORT_MAX"],
        message: "set both MEDIA_NODE_RTC_PORT_MIN and MEDIA_NODE_RTC_PORT_MAX, or neither",
      });
    } else if (min !== undefined && max !== undefined && min > max) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["MEDIA_NODE_RTC_PORT_MAX"],
        message: `must be >= MEDIA_NODE_RTC_PORT_MIN (${min})`,
      });
    }
  });

/**
 * Parses the environment into a {@link MediaNodeConfig}.
 * @param env variables to read (default `process.env`)
 * @throws ConfigError listing each invalid or missing variable with the value it had
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): MediaNodeConfig {
  // Empty values count as unset (env files often carry `NAME=`).
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== "") cleaned[k] = v;
  const r = EnvSchema.safeParse(cleaned);
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      const name = String(i.path[0] ?? "environment");
      const value = env[name];
      const shown = value === undefined ? "unset" : name === "MEDIA_NODE_SECRET" || name === "MEDIA_NODE_METRICS_TOKEN" ? "<hidden>" : JSON.stringify(value);
      return `  ${name}: ${i.message} (got ${shown})`;
    });
    throw new ConfigError(`Invalid media node configuration:\n${lines.join("\n")}`);
  }
  const e = r.data;
  const announced = e.MEDIA_NODE_ANNOUNCED_ADDRESSES ?? [];
  const bindAddress =
    e.MEDIA_NODE_BIND_ADDRESS ?? e.MEDIA_NODE_ICE_ADDRESS ?? (announced.length === 0 ? "127.0.0.1" : announced.some((a) => isIP(a) === 6) ? "::" : "0.0.0.0");
  const warnings: string[] = [];
  if (e.MEDIA_NODE_ICE_ADDRESS !== undefined) {
    warnings.push(
      "MEDIA_NODE_ICE_ADDRESS is deprecated: rename it MEDIA_NODE_BIND_ADDRESS (the address ICE binds to). A public address that is not on this host " +
        "(a cloud VM's 1:1 NAT) goes into MEDIA_NODE_ANNOUNCED_ADDRESSES instead",
    );
  }
  if (announced.length > 0 && isLoopback(bindAddress)) {
    warnings.push(
      `MEDIA_NODE_BIND_ADDRESS is ${bindAddress}, a loopback address, while MEDIA_NODE_ANNOUNCED_ADDRESSES is set: ` +
        "media sent to the announced addresses cannot reach a loopback socket (bind to 0.0.0.0 or the private address)",
    );
  }
  const min = e.MEDIA_NODE_RTC_PORT_MIN;
  const max = e.MEDIA_NODE_RTC_PORT_MAX;
  return {
    nodeId: e.MEDIA_NODE_ID,
    listenHost: e.MEDIA_NODE_LISTEN_HOST,
    port: e.MEDIA_NODE_PORT,
    publicUrl: e.MEDIA_NODE_PUBLIC_URL,
    bindAddress,
    announcedAddresses: announced,
    rtcPortRange: min !== undefined && max !== undefined ? { min, max } : undefined,
    workerUrl: e.WORKER_URL.replace(/\/+$/, ""),
    secret: e.MEDIA_NODE_SECRET,
    heartbeatMs: e.MEDIA_NODE_HEARTBEAT_MS,
    maxLegs: e.MEDIA_NODE_MAX_LEGS,
    maxLoopUtilization: e.MEDIA_NODE_MAX_LOOP_UTILIZATION,
    maxLoopLagMs: e.MEDIA_NODE_MAX_LOOP_LAG_MS,
    maxQueueDelayMs: e.MEDIA_NODE_MAX_QUEUE_DELAY_MS,
    metricsToken: e.MEDIA_NODE_METRICS_TOKEN,
    connectTimeoutMs: e.MEDIA_NODE_CONNECT_TIMEOUT_MS,
    drainTimeoutMs: e.MEDIA_NODE_DRAIN_TIMEOUT_MS,
    publisherMaxKbps: e.MEDIA_NODE_PUBLISHER_MAX_KBPS,
    gopCacheMs: e.MEDIA_NODE_GOP_CACHE_MS,
    gopCacheBytes: e.MEDIA_NODE_GOP_CACHE_BYTES,
    snapshotTimeoutMs: e.MEDIA_NODE_SNAPSHOT_TIMEOUT_MS,
    maxSnapshots: e.MEDIA_NODE_MAX_SNAPSHOTS,
    maxRecordings: e.MEDIA_NODE_MAX_RECORDINGS,
    recordDir: e.MEDIA_NODE_RECORD_DIR ?? join(tmpdir(), "wcs-edge-records"),
    recordMinFreeBytes: e.MEDIA_NODE_RECORD_MIN_FREE_MB * 2 ** 20,
    recordPartBytes: e.MEDIA_NODE_RECORD_PART_BYTES,
    logLevel: e.LOG_LEVEL,
    warnings,
  };
}
