/**
 * Media node entry point: `tsx media-node/main.ts` (npm run media-node), configured by the environment (config.ts).
 *
 * Wires the leg registry (legs.ts, engine/), the relays (relay.ts), snapshots (snapshot.ts), the signed HTTP control
 * API (server.ts) and the worker link (worker-link.ts); logs JSON lines with pino.
 *
 * Graceful drain: SIGTERM / SIGINT (or a signed `POST /v1/drain`, `wcs-edge drain`) puts the node in draining — its
 * heartbeats say so and the registry places no new stream here; new publisher legs are refused (node_full); the legs
 * it holds keep flowing (players of its streams are still taken) until it holds none or MEDIA_NODE_DRAIN_TIMEOUT_MS
 * (or the call's `timeoutMs`) has passed. Then it stops: heartbeats stop, relays end, the node deregisters (the worker
 * ends the streams still here FAILED "Failed by error: media node shutting down", players too, and forgets the node
 * at once), every leg closes and the process exits 0. A second signal during the drain stops at once the same way.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import pino, { type Logger } from "pino";
import { type DrainResponse, MAX_HEARTBEAT_LEGS } from "../protocol/media-node.js";
import { MAX_SNAPSHOT_BYTES } from "../protocol/snapshot.js";
import { Info } from "../protocol/wcs-types.js";
import { ConfigError, type MediaNodeConfig, loadConfig } from "./config.js";
import { announceAddresses, initEngineLogging, probeGathering, shutdownEngine } from "./engine/index.js";
import { type LegNotice, LegManager } from "./legs.js";
import { LoadGate } from "./admission.js";
import { NodeMetrics } from "./metrics.js";
import { RecordingLink } from "./recording-link.js";
import { ffmpegAvailable, Recordings } from "./recordings.js";
import { RelayManager } from "./relay.js";
import { createControlApp, listenControlApi } from "./server.js";
import { Snapshotter } from "./snapshot.js";
import { WorkerLink } from "./worker-link.js";

interface MediaNodeHandle {
  /** URL the worker calls (announced in heartbeats). */
  controlUrl: string;
  nodeId: string;
  /** Random id of this process start. */
  bootId: string;
  /**
   * Starts draining (see the file header), or reports the running drain; idempotent.
   * @param timeoutMs how long legs may keep flowing, ms (default MEDIA_NODE_DRAIN_TIMEOUT_MS; 0 = stop at once)
   */
  drain(timeoutMs?: number): DrainResponse;
  /**
   * Stops the node now (also ends a running drain): heartbeats stop, relays end, the node deregisters (when the worker
   * answers but refuses, its publisher legs are reported `failed` instead; when it is unreachable, nothing is sent), all legs close, the control API
   * stops. Does not call node-datachannel's global cleanup (other nodes may run in the same process); {@link main}
   * does on exit. Resolves like {@link closed}.
   */
  close(): Promise<void>;
  /** Resolves when the node has stopped, whichever way (a drain's end, {@link close}). */
  closed: Promise<void>;
}

/**
 * Start-up check of the ICE settings, before the node listens or registers: gathers once on a throwaway
 * PeerConnection with the legs' bind address and port range (engine/leg.ts `probeGathering`, a few ms), then
 * applies the announced addresses to what it gathered (engine/candidates.ts). A node that cannot gather would
 * register as live and fail every publish ("Failed to gather local ICE candidates").
 * @returns the gathered host candidates and those the answers will carry (the same without announced addresses), as
 *   `address:port`, and how long gathering took
 * @throws ConfigError naming the variable to fix: MEDIA_NODE_BIND_ADDRESS (not an address of this host, e.g. a cloud
 *   VM's public IP; no usable interface; no free port in MEDIA_NODE_RTC_PORT_MIN..MAX) or MEDIA_NODE_ANNOUNCED_ADDRESSES
 *   (an address whose family the bound socket cannot receive)
 */
async function checkIceSettings(config: MediaNodeConfig): Promise<{ gathered: string[]; announced: string[]; gatherMs: number }> {
  const bind = config.bindAddress;
  const range = config.rtcPortRange;
  const fail = (name: string, value: string, message: string) =>
    new ConfigError(`Invalid media node configuration:\n  ${name}: ${message} (got ${JSON.stringify(value)})`);
  let probe: Awaited<ReturnType<typeof probeGathering>>;
  try {
    probe = await probeGathering({ bindAddress: bind, portRange: range });
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw fail(
      "MEDIA_NODE_BIND_ADDRESS",
      bind,
      `ICE cannot gather candidates on this address (${reason}): it must be an address of this host, or 0.0.0.0 / ::` +
        (range ? `, and MEDIA_NODE_RTC_PORT_MIN..MAX (${range.min}-${range.max}) must have a free UDP port` : "") +
        ". On a cloud VM whose public IP is not on an interface (1:1 NAT), bind to 0.0.0.0 or the private address" +
        " and put the public IP into MEDIA_NODE_ANNOUNCED_ADDRESSES",
    );
  }
  const r = announceAddresses(probe.sdp, config.announcedAddresses);
  if (r.gathered.length === 0) {
    throw fail("MEDIA_NODE_BIND_ADDRESS", bind, "ICE gathered no candidate on this address (no usable network interface)");
  }
  if (r.unmatched.length > 0) {
    const families = [...new Set(r.gathered.map((c) => `IPv${c.family}`))].join(" and ");
    throw fail(
      "MEDIA_NODE_ANNOUNCED_ADDRESSES",
      config.announcedAddresses.join(","),
      `${r.unmatched.join(", ")}: ICE on MEDIA_NODE_BIND_ADDRESS=${bind} gathers ${families} only, so media sent to this address cannot reach ` +
        "it (bind to :: for both IPv4 and IPv6)",
    );
  }
  const show = (cs: typeof r.gathered) => cs.map((c) => (c.family === 6 ? `[${c.address}]:${c.port}` : `${c.address}:${c.port}`));
  return { gathered: show(r.gathered), announced: show(r.announced), gatherMs: Math.round(probe.elapsedMs) };
}

/** How long the deregistration call at the end of a drain may take, ms. */
const DEREGISTER_TIMEOUT_MS = 2000;
/** How long a stopping node waits for its recordings to finish (ffmpeg closing, last parts uploaded), ms. */
const RECORDINGS_FINISH_MS = 7000;

let engineLoggingReady = false;

function hostForUrl(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * Starts a media node.
 * @param config e.g. from `loadConfig()`
 * @param logger defaults to a pino logger at `config.logLevel`
 * @throws ConfigError when ICE cannot gather with the configured addresses ({@link checkIceSettings}); the control
 *   API's listen error (e.g. EADDRINUSE)
 */
async function startMediaNode(config: MediaNodeConfig, logger?: Logger): Promise<MediaNodeHandle> {
  const log = logger ?? pino({ level: config.logLevel, base: { svc: "media-node" } });
  const bootId = randomUUID();
  if (!engineLoggingReady) {
    engineLoggingReady = true;
    initEngineLogging((engineLevel, message) => {
      const fields = { engine: "libdatachannel", engineLevel };
      if (engineLevel === "Warning") log.warn(fields, message);
      else log.error(fields, message);
    });
  }

  for (const w of config.warnings) log.warn(w);
  const ice = await checkIceSettings(config);

  let nodeId = config.nodeId ?? "";
  /** Set once a drain starts (never cleared: a drain ends with the node). */
  let drainState: { timeoutMs: number; deadline: number } | undefined;
  let link: WorkerLink | undefined;
  let relays: RelayManager | undefined;
  /** The node's recordings, made once its id is known (media-node/recordings.ts). */
  let recordings: Recordings | undefined;
  const ffmpegCheck = config.maxRecordings > 0 ? ffmpegAvailable() : Promise.resolve(false);

  const onNotice = (n: LegNotice) => {
    const { kind, ...rest } = n;
    switch (kind) {
      case "created":
        log.info(rest, "leg created");
        break;
      case "connected":
        log.info(rest, "leg connected");
        link?.sendEvent({ legId: n.legId, streamName: n.streamName, role: n.role, state: "connected" });
        break;
      case "failed":
        log.warn(rest, "leg failed");
        link?.sendEvent({
          legId: n.legId,
          streamName: n.streamName,
          role: n.role,
          state: "failed",
          failure: n.failure,
          detail: n.detail,
        });
        break;
      case "closed":
        log.info(rest, "leg closed");
        link?.sendEvent({ legId: n.legId, streamName: n.streamName, role: n.role, state: "closed", detail: n.detail });
        break;
      case "removed":
        log.info(rest, "leg removed");
        break;
    }
    relays?.onLegNotice(n);
    recordings?.onLegNotice(n);
  };

  const gate = new LoadGate({ maxUtilization: config.maxLoopUtilization, maxLagMs: config.maxLoopLagMs });
  const manager = new LegManager({
    maxLegs: config.maxLegs,
    overloaded: () => gate.refusal(),
    record: (leg, name) => recordings?.accept(leg, name),
    onNotice,
    engine: {
      bindAddress: config.bindAddress,
      announcedAddresses: config.announcedAddresses,
      portRange: config.rtcPortRange,
      gatherTimeoutMs: 5000,
      connectTimeoutMs: config.connectTimeoutMs,
      keyframeIntervalMs: 500,
      publisherMaxBitrateBps: config.publisherMaxKbps * 1000,
      maxQueueDelayMs: config.maxQueueDelayMs,
      gopCache: { maxAgeMs: config.gopCacheMs, maxBytes: config.gopCacheBytes },
    },
  });

  relays = new RelayManager({ manager, report: (ev) => link?.sendRelayEvent(ev), log });
  const metrics = new NodeMetrics({
    legStates: () => manager.legStates(),
    draining: () => drainState !== undefined,
    totals: () => manager.totals(),
    recordings: () => recordings?.count ?? 0,
  });
  const snapshots = new Snapshotter({ timeoutMs: config.snapshotTimeoutMs, maxRuns: config.maxSnapshots, maxBytes: MAX_SNAPSHOT_BYTES }, log);
  const app = createControlApp({
    secret: config.secret,
    manager,
    relays,
    nodeId: () => nodeId,
    bootId,
    load: () => link?.load() ?? { ...manager.counts(), cpuPercent: 0 },
    log,
    drain: (req) => handle.drain(req.timeoutMs),
    draining: () => drainState !== undefined,
    metrics,
    metricsToken: config.metricsToken,
    snapshots,
    recordings: () => recordings,
  });
  const server = await listenControlApi(app, config.listenHost, config.port);
  if (!nodeId) nodeId = `${hostname()}-${server.port}`;
  const controlUrl = config.publicUrl ?? `http://${hostForUrl(config.listenHost)}:${server.port}`;
  if (!config.publicUrl && (config.listenHost === "0.0.0.0" || config.listenHost === "::")) {
    log.warn({ controlUrl }, "control API listens on a wildcard address: set MEDIA_NODE_PUBLIC_URL to a reachable URL");
  }
  if (config.secret.length < 16) log.warn("MEDIA_NODE_SECRET is shorter than 16 characters");

  recordings = new Recordings(
    {
      dir: config.recordDir,
      nodeId,
      maxRecordings: config.maxRecordings,
      minFreeBytes: config.recordMinFreeBytes,
      partBytes: config.recordPartBytes,
      link: new RecordingLink({ workerUrl: config.workerUrl, secret: config.secret, nodeId: () => nodeId, bootId, log }),
      log,
      events: metrics.recordingEvents,
    },
    await ffmpegCheck,
  );
  link = new WorkerLink({
    workerUrl: config.workerUrl,
    secret: config.secret,
    nodeId,
    bootId,
    controlUrl,
    intervalMs: config.heartbeatMs,
    maxLegs: config.maxLegs,
    counts: () => manager.counts(),
    draining: () => drainState !== undefined,
    held: () => ({ legs: manager.held(MAX_HEARTBEAT_LEGS, (legId) => relays?.holdsLeg(legId) ?? false), legCount: manager.size }),
    log,
  });
  link.start();

  log.info(
    {
      nodeId,
      bootId,
      controlUrl,
      bindAddress: config.bindAddress,
      iceCandidates: ice.announced,
      ...(config.announcedAddresses.length > 0 ? { gatheredOn: ice.gathered } : {}),
      gatherMs: ice.gatherMs,
      rtcPorts: config.rtcPortRange ? `${config.rtcPortRange.min}-${config.rtcPortRange.max}` : "any",
      workerUrl: config.workerUrl,
      maxLegs: config.maxLegs,
    },
    "media node started",
  );

  let closing: Promise<void> | undefined;
  let markClosed!: () => void;
  const closed = new Promise<void>((r) => (markClosed = r));
  let drainTimers: NodeJS.Timeout[] = [];
  const close = (why = "stopped at once") => {
    closing ??= (async () => {
      drainTimers.forEach(clearTimeout);
      link.stop();
      relays?.closeAll(Info.MEDIA_NODE_SHUTDOWN);
      await link.flush(1000); // relay events first: the RelayDO then sees "shutting down", not a lost node
      const legs = manager.size;
      const dereg = await link.deregister(DEREGISTER_TIMEOUT_MS);
      if (dereg.ok) {
        log.info({ nodeId, bootId, why, legs, streamsEnded: dereg.streams, known: dereg.known }, "deregistered from the worker");
      } else {
        log.warn({ nodeId, bootId, why, legs, reason: dereg.reason }, "deregistration failed");
        // the worker answered but would not deregister (e.g. an older worker): end the streams with leg events
        if (!/^(unreachable|timed out)/.test(dereg.reason)) {
          for (const p of manager.publisherLegs()) {
            if (p.state !== "connected" && p.state !== "new") continue;
            link.sendEvent({ legId: p.legId, streamName: p.streamName, role: p.role, state: "failed", failure: "error", detail: "media node shutting down" });
          }
        }
      }
      snapshots.stopAll();
      manager.closeAll();
      // the legs' recordings finish: ffmpeg closes each file, the rest is uploaded (what is not is completed by the worker)
      await recordings?.finishAll("media node stopping", RECORDINGS_FINISH_MS);
      await server.close();
      await link.flush(1500);
      log.info({ nodeId, bootId }, "media node stopped");
    })().finally(markClosed);
    return closing;
  };

  const drain = (timeoutMs = config.drainTimeoutMs): DrainResponse => {
    if (!drainState) {
      drainState = { timeoutMs, deadline: Date.now() + timeoutMs };
      log.warn({ nodeId, bootId, timeoutMs, legs: manager.size }, "draining: no new streams; legs end at the deadline or when none is left");
      const check = () => {
        if (manager.size === 0) void close("drained: no legs left");
      };
      drainTimers = [
        setTimeout(() => void close("drain timeout"), timeoutMs),
        setInterval(check, Math.min(250, Math.max(50, timeoutMs))),
      ];
      check();
    }
    return { ok: true, draining: true, timeoutMs: drainState.timeoutMs, deadline: drainState.deadline, legs: manager.size };
  };

  const handle: MediaNodeHandle = { controlUrl, nodeId, bootId, drain, close: () => close(), closed };
  return handle;
}

/** CLI entry: load the environment, start, stop cleanly on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  let config: MediaNodeConfig;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const log = pino({ level: config.logLevel, base: { svc: "media-node" } });
  let node: MediaNodeHandle;
  try {
    node = await startMediaNode(config, log);
  } catch (e) {
    if (e instanceof ConfigError) process.stderr.write(`${e.message}\n`);
    log.fatal({ err: e }, "media node failed to start");
    process.exit(1);
  }
  // however the node stops (a signal's drain, `POST /v1/drain`, a second signal), the process ends with it
  void node.closed.finally(() => {
    shutdownEngine();
    process.exit(0);
  });
  let signals = 0;
  const stop = (signal: string) => {
    signals++;
    if (signals === 1) {
      log.info({ signal, drainTimeoutMs: config.drainTimeoutMs }, "shutting down: draining (a second signal stops at once)");
      const d = node.drain();
      setTimeout(() => process.exit(1), Math.max(0, d.deadline - Date.now()) + 10_000).unref();
      return;
    }
    log.info({ signal }, "shutting down at once");
    setTimeout(() => process.exit(1), 5000).unref();
    void node.close().catch((err: unknown) => log.error({ err }, "shutdown error"));
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(resolve(entry)).href) {
  void main();
}
