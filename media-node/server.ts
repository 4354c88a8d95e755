/**
 * The media node's HTTP control API (worker → node), exactly the routes of `protocol/media-node.ts`:
 *
 *   POST   /v1/legs          CreateLegRequest → 200 CreateLegResponse | ApiError
 *   POST   /v1/legs/:legId/answer ApplyAnswerRequest → 200 ApplyAnswerResponse | 404 not_found | 409 conflict | 400
 *   DELETE /v1/legs/:legId                    → 200 {ok:true} (also when the leg is already gone)
 *   POST   /v1/legs/:legId/candidates AddCandidatesRequest → 200 AddCandidatesResponse | 404 not_found
 *   GET    /v1/status                         → 200 NodeStatus
 *   POST   /v1/drain          DrainRequest      → 200 DrainResponse (starts or reports the drain; media-node/main.ts)
 *   POST   /v1/relays         StartRelayRequest → 200 StartRelayResponse (protocol/relay.ts; media-node/relay.ts)
 *   DELETE /v1/relays/:relayId                → 200 {ok:true}
 *   POST   /v1/legs/:legId/snapshot {}        → 200 SnapshotResponse (protocol/snapshot.ts; media-node/snapshot.ts): a PNG
 *                                               of the stream of that publisher leg | 404 | 409 no video | 503 | 504
 *   POST   /v1/legs/:legId/recording RecordingStartRequest → 200 RecordingStarted (protocol/recording.ts;
 *                                               media-node/recordings.ts): recording on demand of a connected
 *                                               publisher leg | 404 | 409 recorded already or no codec | 503 full or off
 *   DELETE /v1/legs/:legId/recording          → 200 RecordingStarted (the file that finishes) | 404 not recorded
 *
 *   GET    /healthz                           → 200 {status:"ok"|"draining", nodeId} (unsigned: for load balancers and probes)
 *   GET    /metrics                           → 200 Prometheus text (media-node/metrics.ts); unsigned, Bearer
 *                                               MEDIA_NODE_METRICS_TOKEN when configured (401 otherwise)
 *
 * Every other request must be signed with the shared secret (`protocol/signing.ts`), once: the raw body text is verified
 * first (a nonce seen before is a replay, refused), then parsed as JSON and validated with zod (`protocol/json-body.ts`). Errors are `ApiError` bodies `{code, info}`
 * with the HTTP status of their code (`API_HTTP_STATUS`): unauthorized (missing/bad signature or clock skew),
 * invalid_request (malformed JSON, schema errors, body over {@link MAX_BODY_BYTES}), invalid_sdp, no_common_codecs,
 * not_found ("Stream not found", unknown route), conflict (duplicate leg id), name_in_use (second publisher of a
 * stream), node_full (also "Media node is draining" for a new publisher leg while draining: players and relays of
 * the streams it holds are still taken), remote_error / timeout (relays), error (anything else).
 */
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { Hono, type Context } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { HTTPException } from "hono/http-exception";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "pino";
import type { z } from "zod";
import { parseJsonBody } from "../protocol/json-body.js";
import {
  AddCandidatesRequest,
  type AddCandidatesResponse,
  ApplyAnswerRequest,
  type ApplyAnswerResponse,
  DrainRequest,
  type DrainResponse,
  type ApiError,
  CreateLegRequest,
  type CreateLegResponse,
  MediaNodePaths,
  type NodeLoad,
  type NodeStatus,
} from "../protocol/media-node.js";
import { ReplayWindow, verifyRequest } from "../protocol/signing.js";
import { MediaNodeError } from "./errors.js";
import type { LegManager } from "./legs.js";
import type { NodeMetrics } from "./metrics.js";
import type { RelayManager } from "./relay.js";
import { RelayPaths, StartRelayRequest, type StartRelayResponse } from "../protocol/relay.js";
import { RecordingStartRequest, type RecordingStarted } from "../protocol/recording.js";
import { SnapshotRequest, type SnapshotResponse } from "../protocol/snapshot.js";
import type { Recordings } from "./recordings.js";
import type { Snapshotter } from "./snapshot.js";

/** Largest accepted request body, bytes (an offer may be up to 64 KiB, plus JSON overhead). */
const MAX_BODY_BYTES = 128 * 1024;

export interface ControlApiDeps {
  /** Shared HMAC secret (MEDIA_NODE_SECRET). */
  secret: string;
  manager: LegManager;
  relays: RelayManager;
  nodeId: () => string;
  bootId: string;
  load: () => NodeLoad;
  log: Logger;
  /** Starts the drain (or reports the running one); without it `POST /v1/drain` is not_found. */
  drain?: (req: DrainRequest) => DrainResponse;
  /** Whether the node is draining: new publisher legs are refused (node_full). */
  draining?: () => boolean;
  /** Serves `GET /metrics` and counts refused legs; without it `/metrics` is not_found. */
  metrics?: NodeMetrics;
  /** Bearer token `GET /metrics` requires; undefined = open. */
  metricsToken?: string;
  /** Takes the snapshots of `POST /v1/legs/:legId/snapshot`; without it that route is not_found. */
  snapshots?: Snapshotter;
  /** The node's recordings (made once the node id is known), for `/v1/legs/:legId/recording`; undefined: not_found. */
  recordings?: () => Pick<Recordings, "startNow" | "stop"> | undefined;
}

/** The refusal of a new placement on a draining node. */
const DRAINING_INFO = "Media node is draining";

type Env = { Variables: { rawBody: string } };

function errorJson(c: Context, err: MediaNodeError): Response {
  return c.json(err.toBody() satisfies ApiError, err.status as ContentfulStatusCode);
}

/** Builds the hono app of the control API (no listening socket; see {@link listenControlApi}). */
export function createControlApp(deps: ControlApiDeps): Hono<Env> {
  const app = new Hono<Env>();
  const log = deps.log;

  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => errorJson(c, new MediaNodeError("invalid_request", `Request body exceeds ${MAX_BODY_BYTES} bytes`)),
    }),
  );

  // Probes and scrapes come from outside the signed worker ↔ node channel; registered first, they end the chain here.
  app.get("/healthz", (c) => c.json({ status: deps.draining?.() ? "draining" : "ok", nodeId: deps.nodeId() }, 200));
  if (deps.metrics) {
    const metrics = deps.metrics;
    if (deps.metricsToken) app.use("/metrics", bearerAuth({ token: deps.metricsToken }));
    app.get("/metrics", async (c) => {
      const { body, contentType } = await metrics.render();
      return c.body(body, 200, { "content-type": contentType });
    });
  }

  // Signature check on the raw body text, before anything is parsed; then the nonce, so a replay is refused.
  const replays = new ReplayWindow();
  app.use("*", async (c, next) => {
    const url = new URL(c.req.url);
    const body = await c.req.text();
    const signed = await verifyRequest(deps.secret, c.req.method, url.pathname + url.search, body, c.req.raw.headers);
    const reason = !signed.ok ? signed.reason : replays.claim(signed.nonce, signed.expiresAt) ? null : "replayed request";
    if (reason) {
      log.warn({ method: c.req.method, path: url.pathname, reason }, "rejected control request");
      return errorJson(c, new MediaNodeError("unauthorized", "Unauthorized"));
    }
    c.set("rawBody", body);
    await next();
  });

  /** The request's JSON body validated with `schema`; throws MediaNodeError invalid_request. */
  const body = <S extends z.ZodTypeAny>(c: Context<Env>, schema: S): z.infer<S> => {
    const parsed = parseJsonBody(c.get("rawBody"), schema);
    if (!parsed.ok) throw new MediaNodeError(parsed.code, parsed.info);
    return parsed.value;
  };

  app.post(MediaNodePaths.legs, async (c) => {
    try {
      const req = body(c, CreateLegRequest);
      if (req.role === "publisher" && deps.draining?.()) throw new MediaNodeError("node_full", DRAINING_INFO);
      const res: CreateLegResponse = await deps.manager.create(req);
      return c.json(res, 200);
    } catch (e) {
      deps.metrics?.legRefused(e instanceof MediaNodeError ? e.code : "error");
      throw e;
    }
  });

  app.post("/v1/legs/:legId/answer", (c) => {
    const legId = c.req.param("legId");
    const res: ApplyAnswerResponse = deps.manager.applyAnswer(legId, body(c, ApplyAnswerRequest));
    log.info({ legId, media: res.media }, "answer applied");
    return c.json(res, 200);
  });

  app.post("/v1/legs/:legId/candidates", (c) => {
    const legId = c.req.param("legId");
    const res: AddCandidatesResponse = deps.manager.addCandidates(legId, body(c, AddCandidatesRequest));
    if (res.rejected.length > 0) log.info({ legId, rejected: res.rejected }, "remote candidates refused");
    log.debug({ legId, added: res.added }, "remote candidates added");
    return c.json(res, 200);
  });

  app.delete("/v1/legs/:legId", (c) => {
    deps.manager.delete(c.req.param("legId"));
    return c.json({ ok: true as const }, 200);
  });

  app.get(MediaNodePaths.status, (c) => {
    const status: NodeStatus = {
      nodeId: deps.nodeId(),
      bootId: deps.bootId,
      legs: deps.manager.status(),
      load: deps.load(),
    };
    return c.json(status, 200);
  });

  app.post(MediaNodePaths.drain, (c) => {
    if (!deps.drain) throw new MediaNodeError("not_found", "Not found");
    return c.json(deps.drain(body(c, DrainRequest)), 200);
  });

  app.post(RelayPaths.relays, async (c) => {
    const res: StartRelayResponse = await deps.relays.start(body(c, StartRelayRequest));
    return c.json(res, 200);
  });

  app.post("/v1/legs/:legId/snapshot", async (c) => {
    body(c, SnapshotRequest);
    const legId = c.req.param("legId");
    const leg = deps.manager.publisherLegs().find((l) => l.legId === legId && !l.isEnded);
    if (!deps.snapshots || !leg) throw new MediaNodeError("not_found", "Stream not found");
    const s = await deps.snapshots.take(leg).catch((e: unknown) => {
      deps.metrics?.snapshot(e instanceof MediaNodeError ? e.code : "error");
      throw e;
    });
    deps.metrics?.snapshot("taken");
    const res: SnapshotResponse = { data: s.png.toString("base64"), width: s.width, height: s.height, tookMs: s.tookMs };
    return c.json(res, 200);
  });

  app.post("/v1/legs/:legId/recording", (c) => {
    const req = body(c, RecordingStartRequest);
    const legId = c.req.param("legId");
    const leg = deps.manager.publisherLegs().find((l) => l.legId === legId && l.state === "connected");
    const recordings = deps.recordings?.();
    if (!recordings || !leg) throw new MediaNodeError("not_found", "Stream not found");
    const res: RecordingStarted = recordings.startNow(leg, req.name);
    return c.json(res, 200);
  });

  app.delete("/v1/legs/:legId/recording", (c) => {
    const recordName = deps.recordings?.()?.stop(c.req.param("legId"), "stopped on request");
    if (!recordName) throw new MediaNodeError("not_found", "The stream is not being recorded");
    return c.json({ recordName } satisfies RecordingStarted, 200);
  });

  app.delete("/v1/relays/:relayId", (c) => {
    deps.relays.stop(c.req.param("relayId"));
    return c.json({ ok: true as const }, 200);
  });

  app.notFound((c) => errorJson(c, new MediaNodeError("not_found", "Not found")));

  app.onError((err, c) => {
    if (err instanceof MediaNodeError) return errorJson(c, err);
    if (err instanceof HTTPException) return err.getResponse(); // bearerAuth's 401/400 on /metrics
    log.error({ err, method: c.req.method, path: c.req.path }, "control request failed");
    return errorJson(c, new MediaNodeError("error", "Internal error"));
  });

  return app;
}

/** A listening control API. */
export interface ControlServer {
  /** The bound port (the real one when 0 was asked). */
  port: number;
  /** Stops accepting and drops open connections. */
  close(): Promise<void>;
}

/**
 * Serves `app` on `host:port` (port 0 = ephemeral).
 * @throws the listen error (e.g. EADDRINUSE)
 */
export function listenControlApi(app: Hono<Env>, host: string, port: number): Promise<ControlServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info) => {
      server.off("error", reject);
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            const s = server as Server;
            s.close(() => done());
            s.closeAllConnections?.();
          }),
      });
    }) as Server;
    server.once("error", reject);
  });
}
