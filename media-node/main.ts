/**
 * Media node entry point: `tsx media-node/main.ts` (npm run media-node), configured by the environment (config.ts).
 *
 * Wires the leg registry (legs.ts, engine/), the relays (relay.ts), the signed HTTP control API (server.ts) and the
 * worker link (worker-link.ts); logs JSON lines with pino.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import pino, { type Logger } from "pino";
import { MAX_HEARTBEAT_LEGS } from "../protocol/media-node.js";
import { ConfigError, type MediaNodeConfig, loadConfig } from "./config.js";
import { initEngineLogging, shutdownEngine } from "./engine/index.js";
import { type LegNotice, LegManager } from "./legs.js";
import { RelayManager } from "./relay.js";
import { createControlApp, listenControlApi } from "./server.js";
import { WorkerLink } from "./worker-link.js";

interface MediaNodeHandle {
  /** URL the worker calls (announced in heartbeats). */
  controlUrl: string;
  nodeId: string;
  /** Random id of this process start. */
  bootId: string;
  /**
   * Stops the node: heartbeats stop, publisher legs are reported `closed` to the worker (their players are closed
   * silently, as when a publisher leaves), all legs close, the control API stops. Does not call node-datachannel's
   * global cleanup (other nodes may run in the same process); {@link main} does on exit.
   */
  close(): Promise<void>;
}

let engineLoggingReady = false;

function hostForUrl(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * Starts a media node.
 * @param config e.g. from `loadConfig()`
 * @param logger defaults to a pino logger at `config.logLevel`
 * @throws the control API's listen error (e.g. EADDRINUSE)
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

  let nodeId = config.nodeId ?? "";
  let link: WorkerLink | undefined;
  let relays: RelayManager | undefined;

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
  };

  const manager = new LegManager({
    maxLegs: config.maxLegs,
    onNotice,
    engine: {
      bindAddress: config.iceAddress,
      portRange: config.rtcPortRange,
      gatherTimeoutMs: 5000,
      connectTimeoutMs: config.connectTimeoutMs,
      keyframeIntervalMs: 500,
      publisherMaxBitrateBps: config.publisherMaxKbps * 1000,
    },
  });

  relays = new RelayManager({ manager, report: (ev) => link?.sendRelayEvent(ev), log });
  const app = createControlApp({
    secret: config.secret,
    manager,
    relays,
    nodeId: () => nodeId,
    bootId,
    load: () => link?.load() ?? { ...manager.counts(), cpuPercent: 0 },
    log,
  });
  const server = await listenControlApi(app, config.listenHost, config.port);
  if (!nodeId) nodeId = `${hostname()}-${server.port}`;
  const controlUrl = config.publicUrl ?? `http://${hostForUrl(config.listenHost)}:${server.port}`;
  if (!config.publicUrl && (config.listenHost === "0.0.0.0" || config.listenHost === "::")) {
    log.warn({ controlUrl }, "control API listens on a wildcard address: set MEDIA_NODE_PUBLIC_URL to a reachable URL");
  }
  if (config.secret.length < 16) log.warn("MEDIA_NODE_SECRET is shorter than 16 characters");

  link = new WorkerLink({
    workerUrl: config.workerUrl,
    secret: config.secret,
    nodeId,
    bootId,
    controlUrl,
    intervalMs: config.heartbeatMs,
    maxLegs: config.maxLegs,
    counts: () => manager.counts(),
    held: () => ({ legs: manager.held(MAX_HEARTBEAT_LEGS, (legId) => relays?.holdsLeg(legId) ?? false), legCount: manager.size }),
    log,
  });
  link.start();

  log.info(
    {
      nodeId,
      bootId,
      controlUrl,
      iceAddress: config.iceAddress,
      rtcPorts: config.rtcPortRange ? `${config.rtcPortRange.min}-${config.rtcPortRange.max}` : "any",
      workerUrl: config.workerUrl,
      maxLegs: config.maxLegs,
    },
    "media node started",
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      link.stop();
      for (const p of manager.publisherLegs()) {
        if (p.state === "connected" || p.state === "new") {
          link.sendEvent(
            p.state === "connected"
              ? { legId: p.legId, streamName: p.streamName, role: p.role, state: "closed", detail: "media node shutting down" }
              : {
                  legId: p.legId,
                  streamName: p.streamName,
                  role: p.role,
                  state: "failed",
                  failure: "error",
                  detail: "media node shutting down",
                },
          );
        }
      }
      relays?.closeAll("Failed by error: media node shutting down");
      manager.closeAll();
      await server.close();
      await link.flush(1500);
      log.info({ nodeId, bootId }, "media node stopped");
    })();
    return closing;
  };

  return { controlUrl, nodeId, bootId, close };
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
    log.fatal({ err: e }, "media node failed to start");
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.exit(1); // second signal: leave now
    }
    stopping = true;
    log.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    void node
      .close()
      .catch((err: unknown) => log.error({ err }, "shutdown error"))
      .finally(() => {
        shutdownEngine();
        process.exit(0);
      });
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(resolve(entry)).href) {
  void main();
}
