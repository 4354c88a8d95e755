/**
 * RelayDO: the one registry of server-to-server relays (`idFromName("global")`), behind `/rest-api/pull/*`
 * (protocol/relay.ts; WCS docs "Republishing to another WCS server via WebRTC" / "From another WCS server").
 * Refusals carry a code (protocol/refusal.ts); the REST route maps it to its HTTP status (REST_HTTP_STATUS).
 *
 *   push: the local stream must be PUBLISHING (else not_found); its media node starts the relay (POST /v1/relays)
 *         and answers once the remote accepted the offer, or refused it (remote_error with the remote's `info`).
 *   pull: the StreamDO of `localStreamName` reserves the name and places it (a publisher leg owned by the relay;
 *         name_in_use when taken); the chosen node plays the remote stream and its RTP becomes the local stream.
 *
 * Afterwards the node reports `active` (→ PROCESSED_REMOTE / PROCESSED_LOCAL) and `failed` (→ FAILED with `info`)
 * over `POST /internal/nodes/relay-events`; a pull's local stream that ends for a local reason (REST terminate, ICE,
 * node lost) is reported by its StreamDO ({@link RelayDO.onLocalEnd}); a lost node by the registry. A failed relay
 * never stays half-open: the node has closed its socket and leg, and a pull's local stream is ended (its players get
 * FAILED "Stopped by publisher stop"). With `retry` (body flag, default RELAY_RETRY) a failed relay is started again
 * after 1 s, 2 s, 4 s … (at most RELAY_RETRY_MAX_MS, default 30 s); without, it stays listed as FAILED until
 * `/pull/terminate`, which stops it on the node (unPublishStream / stopStream on the remote, socket closed).
 */
import { DurableObject } from "cloudflare:workers";
import {
  Info,
  refusal,
  RelayStatus,
  type RelayDirection,
  type RelayEvent,
  type RelayFilter,
  type RelayRecord,
  type RelayRequest,
  type Result,
  type StartRelayRequest,
  type StreamStatusEvent,
} from "../protocol/index.js";
import { config, registryOf, streamOf, type Config, type Env } from "./env.js";
import { configureLog, log } from "./log.js";
import { MediaNodeClient } from "./media-node-client.js";
import type { NodeRef } from "./stream-types.js";
import { emitWebhooks, relayWebhook } from "./webhooks.js";

interface RelayEntry {
  relayId: string;
  direction: RelayDirection;
  uri: string;
  localStreamName: string;
  remoteStreamName: string;
  localMediaSessionId: string | null;
  /** The mediaSessionId of the current attempt on the remote; null until the remote accepted it. */
  remoteMediaSessionId: string | null;
  status: RelayStatus;
  info?: string;
  retry: boolean;
  attempts: number;
  /** FAILED with retry: ms epoch of the next attempt. */
  nextAttemptAt?: number;
  /** The node running the current attempt (null when none runs). */
  node: NodeRef | null;
  legId: string | null;
  createdAt: number;
}


/** Extra time over the node's own wait for the remote answer. */
const START_SLACK_MS = 3000;
const REMOTE_ANSWER_TIMEOUT_MS = 10_000;

export class RelayDO extends DurableObject<Env> {
  /** Tunables from the env (validated once: env does not change for an object\'s lifetime). */
  private readonly cfg: Config;
  private relays: Record<string, RelayEntry> = {};

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.cfg = config(env);
    configureLog(env);
    ctx.blockConcurrencyWhile(async () => {
      this.relays = (await ctx.storage.get<Record<string, RelayEntry>>("relays")) ?? {};
    });
  }

  /** `/pull/push` or `/pull/pull`: the relay record once started, or the refusal (see the class docs). */
  async create(direction: RelayDirection, req: RelayRequest): Promise<Result<{ record: RelayRecord }>> {
    const same = Object.values(this.relays).find((r) =>
      direction === "pull"
        ? r.direction === "pull" && r.localStreamName === req.localStreamName
        : r.direction === "push" && r.uri === req.uri && r.localStreamName === req.localStreamName && r.remoteStreamName === req.remoteStreamName,
    );
    if (same) return refusal("conflict", `Relay already exists (${same.localStreamName} ${direction === "push" ? "->" : "<-"} ${same.uri} ${same.remoteStreamName})`);
    const entry: RelayEntry = {
      relayId: crypto.randomUUID(),
      direction,
      uri: req.uri,
      localStreamName: req.localStreamName,
      remoteStreamName: req.remoteStreamName,
      localMediaSessionId: null,
      remoteMediaSessionId: null,
      status: RelayStatus.NEW,
      retry: req.retry ?? this.cfg.RELAY_RETRY,
      attempts: 0,
      node: null,
      legId: null,
      createdAt: Date.now(),
    };
    this.relays[entry.relayId] = entry;
    await this.save();
    const res = await this.attempt(entry);
    if (!res.ok) {
      if (this.relays[entry.relayId] === entry) delete this.relays[entry.relayId];
      await this.save();
      log("warn", "relay_refused", { relayId: entry.relayId, direction, uri: req.uri, local: req.localStreamName, remote: req.remoteStreamName, code: res.code, info: res.info });
      return res;
    }
    log("info", "relay_started", { relayId: entry.relayId, direction, uri: req.uri, local: req.localStreamName, remote: req.remoteStreamName, nodeId: entry.node?.nodeId });
    return { ok: true, record: toRecord(entry) };
  }

  /** `/pull/find_all`. */
  async list(): Promise<RelayRecord[]> {
    return Object.values(this.relays)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map(toRecord);
  }

  /** `/pull/terminate`: stops every matching relay and forgets it. Returns how many matched. */
  async terminate(filter: RelayFilter): Promise<number> {
    const hits = Object.values(this.relays).filter(
      (r) =>
        (filter.uri === undefined || r.uri === filter.uri) &&
        (filter.localStreamName === undefined || r.localStreamName === filter.localStreamName) &&
        (filter.remoteStreamName === undefined || r.remoteStreamName === filter.remoteStreamName),
    );
    for (const r of hits) delete this.relays[r.relayId];
    await this.save();
    await Promise.allSettled(hits.map((r) => this.stopAttempt(r)));
    for (const r of hits) log("info", "relay_terminated", { relayId: r.relayId, direction: r.direction, local: r.localStreamName, remote: r.remoteStreamName });
    await this.schedule();
    return hits.length;
  }

  /** A node's relay event (protocol/relay.ts RelayEvent); ignored unless it is about the current attempt. */
  async onRelayEvent(ev: RelayEvent): Promise<void> {
    const r = this.relays[ev.relayId];
    if (!r || !r.node || r.node.nodeId !== ev.nodeId || r.node.bootId !== ev.bootId) return;
    log("info", "relay_event", { relayId: r.relayId, state: ev.state, info: ev.info });
    if (ev.state === "active") {
      r.status = r.direction === "push" ? RelayStatus.PROCESSED_REMOTE : RelayStatus.PROCESSED_LOCAL;
      r.info = undefined;
      r.attempts = 0;
      await this.save();
      await this.emitStatus(r);
      return;
    }
    await this.fail(r, ev.info ?? Info.FAILED_BY_ERROR, false);
  }

  /** A pull's local stream ended for a local reason (its StreamDO tells, owner "relay"): the relay ends too. */
  async onLocalEnd(relayId: string, legId: string, event: StreamStatusEvent): Promise<void> {
    const r = this.relays[relayId];
    if (!r || r.legId !== legId || !r.node) return;
    await this.fail(r, event.info ? `Local stream ${event.status}: ${event.info}` : `Local stream ${event.status}`, true);
  }

  /** The registry lost a node: the relays it ran are FAILED (and retried when configured). */
  async onNodeLost(nodeId: string, bootId: string): Promise<void> {
    for (const r of Object.values(this.relays)) {
      if (r.node && r.node.nodeId === nodeId && r.node.bootId === bootId) await this.fail(r, Info.MEDIA_NODE_LOST, false);
    }
  }

  /** Retries that are due. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    for (const r of Object.values(this.relays)) {
      if (r.status !== RelayStatus.FAILED || !r.retry || r.nextAttemptAt === undefined || r.nextAttemptAt > now) continue;
      r.status = RelayStatus.NEW;
      r.nextAttemptAt = undefined;
      await this.save();
      log("info", "relay_retry", { relayId: r.relayId, attempt: r.attempts });
      const res = await this.attempt(r);
      if (!res.ok && this.relays[r.relayId] === r) await this.fail(r, res.info, false);
    }
    await this.schedule();
  }

  /** A snapshot for tests and operators. */
  async describe(): Promise<Record<string, RelayEntry>> {
    return structuredClone(this.relays);
  }

  // ---- internals ----

  /** One start of the relay on a node: places it, asks the node, records the outcome. */
  private async attempt(r: RelayEntry): Promise<Result> {
    const legId = crypto.randomUUID();
    const remoteMediaSessionId = crypto.randomUUID();
    const stream = streamOf(this.env, r.localStreamName);
    let node: NodeRef;
    if (r.direction === "push") {
      const src = await stream.relaySource();
      if (!src.ok) return src;
      node = src.node;
      r.localMediaSessionId = src.mediaSessionId;
    } else {
      const localMediaSessionId = crypto.randomUUID();
      const placed = await stream.publishRelay(r.localStreamName, { legId, owner: { kind: "relay", relayId: r.relayId }, mediaSessionId: localMediaSessionId });
      if (!placed.ok) return placed;
      node = placed.node;
      r.localMediaSessionId = localMediaSessionId;
    }
    if (this.relays[r.relayId] !== r) return refusal("stopped", "Relay terminated while starting");
    r.node = node;
    r.legId = legId;
    r.remoteMediaSessionId = null;
    await this.save();

    const body: StartRelayRequest = {
      relayId: r.relayId,
      direction: r.direction,
      uri: r.uri,
      localStreamName: r.localStreamName,
      remoteStreamName: r.remoteStreamName,
      legId,
      remoteMediaSessionId,
      timeoutMs: REMOTE_ANSWER_TIMEOUT_MS,
    };
    const client = this.nodeClient(node);
    const res = await client.startRelay(body, REMOTE_ANSWER_TIMEOUT_MS + START_SLACK_MS);
    const current = this.relays[r.relayId] === r && r.legId === legId;
    if (!res.ok) {
      if (current) {
        r.node = null;
        await this.save();
      }
      if (r.direction === "pull") await stream.end(legId, { kind: "failed", info: `Relay failed: ${res.info}` });
      if (res.code === "node_lost") await registryOf(this.env).reportUnreachable(node.nodeId, node.bootId);
      return res;
    }
    if (!current) {
      // terminated (or failed and restarted) while the node was connecting: undo there
      await client.stopRelay(r.relayId);
      return { ok: true };
    }
    if (r.direction === "pull") await stream.relayStarted(legId, { videoCodec: res.videoCodec, audioCodec: res.audioCodec });
    r.remoteMediaSessionId = remoteMediaSessionId;
    const started = r.status === RelayStatus.NEW;
    if (started) r.status = RelayStatus.PENDING;
    r.info = undefined;
    await this.save();
    if (started) await this.emitStatus(r);
    return { ok: true };
  }

  /** Ends the current attempt: the node stops the relay, a pull's local stream ends. */
  private async stopAttempt(r: RelayEntry, info?: string): Promise<void> {
    const node = r.node;
    const legId = r.legId;
    r.node = null;
    const tasks: Promise<unknown>[] = [];
    if (node) tasks.push(this.nodeClient(node).stopRelay(r.relayId));
    if (r.direction === "pull" && legId) tasks.push(this.endLocalStream(r, legId, info));
    await Promise.allSettled(tasks);
  }

  /**
   * Ends a pull's local stream (its players get FAILED "Stopped by publisher stop"): FAILED "Relay failed: <info>"
   * for its publisher when the relay failed, UNPUBLISHED when it was terminated (`info` undefined).
   */
  private async endLocalStream(r: RelayEntry, legId: string, info?: string): Promise<void> {
    await streamOf(this.env, r.localStreamName).end(legId, info === undefined ? { kind: "stop" } : { kind: "failed", info: `Relay failed: ${info}` });
  }

  /**
   * FAILED with `info`; the attempt is stopped everywhere (`stopOnNode`: the node still runs it; a pull's local
   * stream is ended either way); a retry is scheduled when configured.
   */
  private async fail(r: RelayEntry, info: string, stopOnNode: boolean): Promise<void> {
    if (stopOnNode) await this.stopAttempt(r, info);
    else if (r.direction === "pull" && r.legId) {
      r.node = null;
      await this.endLocalStream(r, r.legId, info);
    }
    r.node = null;
    r.status = RelayStatus.FAILED;
    r.info = info;
    r.remoteMediaSessionId = null;
    if (r.retry) {
      r.nextAttemptAt = Date.now() + Math.min(this.cfg.RELAY_RETRY_MAX_MS, 1000 * 2 ** Math.min(r.attempts, 20));
      r.attempts++;
    }
    log("warn", "relay_failed", { relayId: r.relayId, direction: r.direction, local: r.localStreamName, remote: r.remoteStreamName, info, retryAt: r.nextAttemptAt });
    await this.save();
    await this.emitStatus(r);
    await this.schedule();
  }

  /** The relay's current status as a `relay.status` webhook (worker/webhooks.ts). */
  private emitStatus(r: RelayEntry): Promise<void> {
    return emitWebhooks(this.env, `relay:${r.relayId}`, [relayWebhook(r.relayId, r)]);
  }

  private async schedule(): Promise<void> {
    let next = Infinity;
    for (const r of Object.values(this.relays)) if (r.status === RelayStatus.FAILED && r.nextAttemptAt !== undefined) next = Math.min(next, r.nextAttemptAt);
    if (next === Infinity) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  private async save(): Promise<void> {
    await this.ctx.storage.put("relays", this.relays);
  }

  private nodeClient(node: NodeRef): MediaNodeClient {
    return MediaNodeClient.of(this.env, node, this.cfg.MEDIA_NODE_TIMEOUT_MS);
  }
}

function toRecord(r: RelayEntry): RelayRecord {
  return {
    localMediaSessionId: r.localMediaSessionId,
    remoteMediaSessionId: r.remoteMediaSessionId,
    localStreamName: r.localStreamName,
    remoteStreamName: r.remoteStreamName,
    uri: r.uri,
    status: r.status,
    ...(r.info === undefined ? {} : { info: r.info }),
    direction: r.direction,
    retry: r.retry,
    attempts: r.attempts,
    ...(r.node ? { nodeId: r.node.nodeId } : {}),
  };
}
