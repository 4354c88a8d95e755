/**
 * media-node/config.ts loadConfig: defaults, every variable, and the error that lists each bad variable with the value
 * it had (the secret never shown).
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, type MediaNodeConfig } from "../../media-node/config.js";

const REQUIRED = { WORKER_URL: "http://127.0.0.1:8787", MEDIA_NODE_SECRET: "s3cret-value" };

/** The ConfigError message lines of `env` (after the heading). */
function problems(env: Record<string, string | undefined>): string[] {
  let err: unknown;
  try {
    loadConfig(env);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  const [heading, ...lines] = (err as ConfigError).message.split("\n");
  expect(heading).toBe("Invalid media node configuration:");
  expect((err as ConfigError).name).toBe("ConfigError");
  return lines;
}

describe("loadConfig", () => {
  it("defaults", () => {
    expect(loadConfig(REQUIRED)).toEqual<MediaNodeConfig>({
      nodeId: undefined,
      listenHost: "127.0.0.1",
      port: 9000,
      publicUrl: undefined,
      bindAddress: "127.0.0.1",
      announcedAddresses: [],
      rtcPortRange: undefined,
      workerUrl: "http://127.0.0.1:8787",
      secret: "s3cret-value",
      heartbeatMs: 1000,
      maxLegs: 0,
      maxLoopUtilization: 0.9,
      maxLoopLagMs: 200,
      maxQueueDelayMs: 500,
      metricsToken: undefined,
      connectTimeoutMs: 20000,
      drainTimeoutMs: 30000,
      publisherMaxKbps: 2500,
      gopCacheMs: 3000,
      gopCacheBytes: 1_048_576,
      snapshotTimeoutMs: 5000,
      maxSnapshots: 4,
      maxRecordings: 16,
      recordDir: join(tmpdir(), "wcs-edge-records"),
      recordMinFreeBytes: 1024 * 2 ** 20,
      recordPartBytes: 5 * 2 ** 20,
      logLevel: "info",
      warnings: [],
    });
  });

  it("every variable set", () => {
    expect(
      loadConfig({
        MEDIA_NODE_ID: "node-a",
        MEDIA_NODE_LISTEN_HOST: "0.0.0.0",
        MEDIA_NODE_PORT: "0",
        MEDIA_NODE_PUBLIC_URL: "https://node-a.example.com:9443",
        MEDIA_NODE_BIND_ADDRESS: "2001:db8::1",
        MEDIA_NODE_ANNOUNCED_ADDRESSES: " 2001:db8:ffff::1 ,203.0.113.7",
        MEDIA_NODE_RTC_PORT_MIN: "40000",
        MEDIA_NODE_RTC_PORT_MAX: "40000",
        WORKER_URL: "https://edge.example.com//",
        MEDIA_NODE_SECRET: "x",
        MEDIA_NODE_HEARTBEAT_MS: "100",
        MEDIA_NODE_MAX_LEGS: "1000000",
        MEDIA_NODE_MAX_LOOP_UTILIZATION: "1",
        MEDIA_NODE_MAX_LOOP_LAG_MS: "0",
        MEDIA_NODE_MAX_QUEUE_DELAY_MS: "0",
        MEDIA_NODE_METRICS_TOKEN: "metrics-token-0123456789",
        MEDIA_NODE_CONNECT_TIMEOUT_MS: "300000",
        MEDIA_NODE_DRAIN_TIMEOUT_MS: "0",
        MEDIA_NODE_PUBLISHER_MAX_KBPS: "0",
        MEDIA_NODE_GOP_CACHE_MS: "0",
        MEDIA_NODE_GOP_CACHE_BYTES: "65536",
        MEDIA_NODE_SNAPSHOT_TIMEOUT_MS: "20000",
        MEDIA_NODE_MAX_SNAPSHOTS: "64",
        MEDIA_NODE_MAX_RECORDINGS: "0",
        MEDIA_NODE_RECORD_DIR: "/var/spool/wcs",
        MEDIA_NODE_RECORD_MIN_FREE_MB: "0",
        MEDIA_NODE_RECORD_PART_BYTES: "67108864",
        LOG_LEVEL: "DEBUG",
        UNRELATED: "ignored",
      }),
    ).toEqual<MediaNodeConfig>({
      nodeId: "node-a",
      listenHost: "0.0.0.0",
      port: 0,
      publicUrl: "https://node-a.example.com:9443",
      bindAddress: "2001:db8::1",
      announcedAddresses: ["2001:db8:ffff::1", "203.0.113.7"],
      rtcPortRange: { min: 40000, max: 40000 },
      workerUrl: "https://edge.example.com",
      secret: "x",
      heartbeatMs: 100,
      maxLegs: 1_000_000,
      maxLoopUtilization: 1,
      maxLoopLagMs: 0,
      maxQueueDelayMs: 0,
      metricsToken: "metrics-token-0123456789",
      connectTimeoutMs: 300_000,
      drainTimeoutMs: 0,
      publisherMaxKbps: 0,
      gopCacheMs: 0,
      gopCacheBytes: 65_536,
      snapshotTimeoutMs: 20_000,
      maxSnapshots: 64,
      maxRecordings: 0,
      recordDir: "/var/spool/wcs",
      recordMinFreeBytes: 0,
      recordPartBytes: 64 * 2 ** 20,
      logLevel: "debug",
      warnings: [],
    });
  });

  it("empty and blank values count as unset", () => {
    expect(loadConfig({ ...REQUIRED, MEDIA_NODE_PORT: "", MEDIA_NODE_ID: "  ", LOG_LEVEL: "" })).toMatchObject({ port: 9000, nodeId: undefined, logLevel: "info" });
  });

  it("reads process.env by default", () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, REQUIRED, { MEDIA_NODE_PORT: "9123" });
      expect(loadConfig().port).toBe(9123);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it("lists every bad variable, one per line, with its value; the secret is never shown", () => {
    expect(
      problems({
        MEDIA_NODE_ID: "n".repeat(129),
        MEDIA_NODE_PORT: "65536",
        MEDIA_NODE_PUBLIC_URL: "ftp://node",
        MEDIA_NODE_BIND_ADDRESS: "node.local",
        MEDIA_NODE_ANNOUNCED_ADDRESSES: "203.0.113.7, node.example",
        WORKER_URL: "not a url",
        MEDIA_NODE_HEARTBEAT_MS: "50",
        MEDIA_NODE_MAX_LEGS: "-1",
        MEDIA_NODE_CONNECT_TIMEOUT_MS: "1e4",
        MEDIA_NODE_PUBLISHER_MAX_KBPS: "100001",
        LOG_LEVEL: "verbose",
      }),
    ).toEqual([
      `  MEDIA_NODE_ID: at most 128 characters (got "${"n".repeat(129)}")`,
      '  MEDIA_NODE_PORT: expected an integer 0..65535 (got "65536")',
      '  MEDIA_NODE_PUBLIC_URL: expected an http:// or https:// URL (got "ftp://node")',
      '  MEDIA_NODE_BIND_ADDRESS: expected an IPv4 or IPv6 address (got "node.local")',
      '  MEDIA_NODE_ANNOUNCED_ADDRESSES: not an IPv4 or IPv6 address: node.example (got "203.0.113.7, node.example")',
      '  WORKER_URL: expected an absolute URL (got "not a url")',
      "  MEDIA_NODE_SECRET: required (got unset)",
      '  MEDIA_NODE_HEARTBEAT_MS: expected an integer 100..60000 (got "50")',
      '  MEDIA_NODE_MAX_LEGS: expected an integer 0..1000000 (got "-1")',
      '  MEDIA_NODE_CONNECT_TIMEOUT_MS: expected an integer 1000..300000 (got "1e4")',
      '  MEDIA_NODE_PUBLISHER_MAX_KBPS: expected an integer 0..100000 (got "100001")',
      "  LOG_LEVEL: Invalid enum value. Expected 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent', received 'verbose' (got \"verbose\")",
    ]);
  });

  it("an unparseable URL is listed like any other bad value (it once escaped as a bare TypeError: Invalid URL)", () => {
    expect(problems({ WORKER_URL: "localhost:8787", MEDIA_NODE_SECRET: "x" })).toEqual(['  WORKER_URL: expected an http:// or https:// URL (got "localhost:8787")']);
    expect(problems({ WORKER_URL: "127.0.0.1:8787", MEDIA_NODE_SECRET: "x", MEDIA_NODE_PUBLIC_URL: "node-a" })).toEqual([
      '  MEDIA_NODE_PUBLIC_URL: expected an absolute URL (got "node-a")',
      '  WORKER_URL: expected an absolute URL (got "127.0.0.1:8787")',
    ]);
  });

  it("an empty required variable is reported as required, with the empty value", () => {
    expect(problems({ WORKER_URL: "", MEDIA_NODE_SECRET: "ok" })).toEqual(['  WORKER_URL: required (got "")']);
  });

  it("a set secret never appears in the message, whatever else is wrong", () => {
    const lines = problems({ ...REQUIRED, MEDIA_NODE_SECRET: "top-secret-42", MEDIA_NODE_PORT: "x" });
    expect(lines).toEqual(['  MEDIA_NODE_PORT: expected an integer 0..65535 (got "x")']);
    expect(lines.join("\n")).not.toContain("top-secret-42");
  });

  it.each([
    [{ MEDIA_NODE_RTC_PORT_MIN: "40000" }, ['  MEDIA_NODE_RTC_PORT_MAX: set both MEDIA_NODE_RTC_PORT_MIN and MEDIA_NODE_RTC_PORT_MAX, or neither (got unset)']],
    [{ MEDIA_NODE_RTC_PORT_MAX: "40000" }, ['  MEDIA_NODE_RTC_PORT_MIN: set both MEDIA_NODE_RTC_PORT_MIN and MEDIA_NODE_RTC_PORT_MAX, or neither (got unset)']],
    [{ MEDIA_NODE_RTC_PORT_MIN: "40010", MEDIA_NODE_RTC_PORT_MAX: "40000" }, ['  MEDIA_NODE_RTC_PORT_MAX: must be >= MEDIA_NODE_RTC_PORT_MIN (40010) (got "40000")']],
    [{ MEDIA_NODE_RTC_PORT_MIN: "0", MEDIA_NODE_RTC_PORT_MAX: "70000" }, ['  MEDIA_NODE_RTC_PORT_MIN: expected an integer 1..65535 (got "0")', '  MEDIA_NODE_RTC_PORT_MAX: expected an integer 1..65535 (got "70000")']],
  ])("RTC port range %o", (env, want) => {
    expect(problems({ ...REQUIRED, ...env })).toEqual(want);
  });

  it("snapshot bounds out of range are refused with the range", () => {
    expect(problems({ ...REQUIRED, MEDIA_NODE_SNAPSHOT_TIMEOUT_MS: "500", MEDIA_NODE_MAX_SNAPSHOTS: "0" })).toEqual([
      '  MEDIA_NODE_SNAPSHOT_TIMEOUT_MS: expected an integer 1000..20000 (got "500")',
      '  MEDIA_NODE_MAX_SNAPSHOTS: expected an integer 1..64 (got "0")',
    ]);
  });

  it("recording parts below R2's 5 MiB minimum are refused with the range", () => {
    expect(problems({ ...REQUIRED, MEDIA_NODE_RECORD_PART_BYTES: "1048576", MEDIA_NODE_MAX_RECORDINGS: "-1" })).toEqual([
      '  MEDIA_NODE_MAX_RECORDINGS: expected an integer 0..256 (got "-1")',
      '  MEDIA_NODE_RECORD_PART_BYTES: expected an integer 5242880..67108864 (got "1048576")',
    ]);
  });
});

describe("loadConfig: ICE bind and announced addresses (1:1 NAT)", () => {
  it("announced addresses without a bind address bind to every interface of their families", () => {
    expect(loadConfig({ ...REQUIRED, MEDIA_NODE_ANNOUNCED_ADDRESSES: "203.0.113.7" })).toMatchObject({
      bindAddress: "0.0.0.0",
      announcedAddresses: ["203.0.113.7"],
      warnings: [],
    });
    expect(loadConfig({ ...REQUIRED, MEDIA_NODE_ANNOUNCED_ADDRESSES: "203.0.113.7,2001:db8::7" })).toMatchObject({ bindAddress: "::" });
    expect(loadConfig({ ...REQUIRED, MEDIA_NODE_ANNOUNCED_ADDRESSES: "203.0.113.7", MEDIA_NODE_BIND_ADDRESS: "10.0.0.5" })).toMatchObject({
      bindAddress: "10.0.0.5",
      warnings: [],
    });
  });

  it("MEDIA_NODE_ICE_ADDRESS is a deprecated alias of MEDIA_NODE_BIND_ADDRESS: same meaning, plus a warning", () => {
    const c = loadConfig({ ...REQUIRED, MEDIA_NODE_ICE_ADDRESS: "10.0.0.5" });
    expect(c.bindAddress).toBe("10.0.0.5");
    expect(c.announcedAddresses).toEqual([]);
    expect(c.warnings).toHaveLength(1);
    expect(c.warnings[0]).toMatch(/MEDIA_NODE_ICE_ADDRESS is deprecated: rename it MEDIA_NODE_BIND_ADDRESS.*MEDIA_NODE_ANNOUNCED_ADDRESSES/);
    expect(problems({ ...REQUIRED, MEDIA_NODE_ICE_ADDRESS: "10.0.0.5", MEDIA_NODE_BIND_ADDRESS: "0.0.0.0" })).toEqual([
      '  MEDIA_NODE_ICE_ADDRESS: deprecated alias of MEDIA_NODE_BIND_ADDRESS, which is set too: remove MEDIA_NODE_ICE_ADDRESS (got "10.0.0.5")',
    ]);
  });

  it("a loopback bind address with announced addresses is a warning (nothing sent to them can reach it)", () => {
    const c = loadConfig({ ...REQUIRED, MEDIA_NODE_ANNOUNCED_ADDRESSES: "203.0.113.7", MEDIA_NODE_BIND_ADDRESS: "127.0.0.1" });
    expect(c.warnings).toEqual([expect.stringMatching(/^MEDIA_NODE_BIND_ADDRESS is 127\.0\.0\.1, a loopback address/)]);
  });

  it("blank entries are ignored; an empty list is unset", () => {
    expect(loadConfig({ ...REQUIRED, MEDIA_NODE_ANNOUNCED_ADDRESSES: " , 203.0.113.7,," }).announcedAddresses).toEqual(["203.0.113.7"]);
    expect(loadConfig({ ...REQUIRED, MEDIA_NODE_ANNOUNCED_ADDRESSES: " , " })).toMatchObject({ announcedAddresses: [], bindAddress: "127.0.0.1" });
  });

  it.each([
    ["0.0.0.0", "cannot announce the unspecified address 0.0.0.0 (that is a bind address)"],
    ["203.0.113.7,0:0::0", "cannot announce the unspecified address 0:0::0 (that is a bind address)"],
    ["203.0.113.7,203.0.113.7", "lists an address twice"],
    [Array.from({ length: 9 }, (_, i) => `203.0.113.${i + 1}`).join(","), "at most 8 addresses"],
    ["https://203.0.113.7", "not an IPv4 or IPv6 address: https://203.0.113.7"],
  ])("MEDIA_NODE_ANNOUNCED_ADDRESSES=%s is refused", (value, message) => {
    expect(problems({ ...REQUIRED, MEDIA_NODE_ANNOUNCED_ADDRESSES: value })).toEqual([`  MEDIA_NODE_ANNOUNCED_ADDRESSES: ${message} (got ${JSON.stringify(value)})`]);
  });
});
