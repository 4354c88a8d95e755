/**
 * The media node's signed control API (media-node/server.ts) in process, through hono's `app.request`: a request
 * signed with the shared secret is taken once; the same signed request again (a replay, e.g. a captured DELETE or
 * POST /v1/legs) is refused with 401, as are unsigned and wrongly signed ones.
 */
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { LegManager } from "../../media-node/legs.js";
import { NodeMetrics } from "../../media-node/metrics.js";
import { RelayManager } from "../../media-node/relay.js";
import { createControlApp } from "../../media-node/server.js";
import { MediaNodePaths } from "../../protocol/media-node.js";
import { signRequest } from "../../protocol/signing.js";

const SECRET = "control-api-test-secret";
const managers: LegManager[] = [];
afterEach(() => {
  for (const m of managers.splice(0)) m.closeAll();
});

function controlApp(extra: { metricsToken?: string; draining?: boolean } = {}) {
  const manager = new LegManager({
    engine: { bindAddress: "127.0.0.1", gatherTimeoutMs: 5000, connectTimeoutMs: 60_000, keyframeIntervalMs: 500, publisherMaxBitrateBps: 0 },
    maxLegs: 0,
    onNotice: () => {},
  });
  managers.push(manager);
  const log = pino({ level: "silent" });
  const relays = new RelayManager({ manager, report: () => {}, log });
  const metrics = new NodeMetrics({ legStates: () => manager.legStates(), draining: () => !!extra.draining, totals: () => manager.totals() });
  return createControlApp({
    secret: SECRET,
    manager,
    relays,
    nodeId: () => "n1",
    bootId: "b1",
    load: () => ({ publishers: 0, players: 0, cpuPercent: 0 }),
    log,
    draining: () => !!extra.draining,
    metrics,
    metricsToken: extra.metricsToken,
  });
}

async function signed(method: string, path: string, body = "", secret = SECRET): Promise<RequestInit> {
  const headers = await signRequest(secret, method, path, body);
  return { method, headers: body ? { ...headers, "content-type": "application/json" } : headers, ...(body ? { body } : {}) };
}

describe("control API signatures", () => {
  it("takes a signed request once and refuses its replay with 401 (GET /v1/status, DELETE /v1/legs/:id, POST /v1/legs)", async () => {
    const app = controlApp();
    const status = await signed("GET", MediaNodePaths.status);
    const first = await app.request(MediaNodePaths.status, status);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ nodeId: "n1", bootId: "b1", legs: [] });
    const replay = await app.request(MediaNodePaths.status, status);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual({ code: "unauthorized", info: "Unauthorized" });
    // a fresh signature of the same call is a new request
    expect((await app.request(MediaNodePaths.status, await signed("GET", MediaNodePaths.status))).status).toBe(200);

    const del = await signed("DELETE", MediaNodePaths.leg("l1"));
    expect((await app.request(MediaNodePaths.leg("l1"), del)).status).toBe(200);
    expect((await app.request(MediaNodePaths.leg("l1"), del)).status).toBe(401);

    const body = JSON.stringify({ legId: "l2", streamName: "s", role: "player" });
    const create = await signed("POST", MediaNodePaths.legs, body);
    const refused = await app.request(MediaNodePaths.legs, create);
    expect(await refused.json()).toEqual({ code: "not_found", info: "Stream not found" }); // taken: no publisher here
    expect((await app.request(MediaNodePaths.legs, create)).status).toBe(401);
  });

  it("refuses unsigned and wrongly signed requests with 401", async () => {
    const app = controlApp();
    expect((await app.request(MediaNodePaths.status)).status).toBe(401);
    expect((await app.request(MediaNodePaths.status, await signed("GET", MediaNodePaths.status, "", "other-secret"))).status).toBe(401);
    expect((await app.request(MediaNodePaths.status, await signed("GET", "/v1/other"))).status).toBe(401);
  });
});

describe("control API probes and metrics", () => {
  it("answers GET /healthz unsigned, with the drain state", async () => {
    const ok = await controlApp().request("/healthz");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: "ok", nodeId: "n1" });
    expect(await (await controlApp({ draining: true }).request("/healthz")).json()).toEqual({ status: "draining", nodeId: "n1" });
    // only GET: anything else still needs a signature
    expect((await controlApp().request("/healthz", { method: "POST" })).status).toBe(401);
  });

  it("serves Prometheus metrics with refused legs counted by code", async () => {
    const app = controlApp();
    const body = JSON.stringify({ legId: "l1", streamName: "nope", role: "player" });
    expect((await app.request(MediaNodePaths.legs, await signed("POST", MediaNodePaths.legs, body))).status).toBe(404);
    const res = await app.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^wcs_media_node_legs_refused_total\{code="not_found"\} 1$/m);
    expect(text).toMatch(/^wcs_media_node_draining 0$/m);
    expect(text).toMatch(/^wcs_media_node_rtp_late_dropped_total 0$/m);
    expect(text).toMatch(/^wcs_media_node_event_loop_utilization [0-9.e-]+$/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds [0-9.e-]+$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
  });

  it("requires the bearer token when MEDIA_NODE_METRICS_TOKEN is set", async () => {
    const app = controlApp({ metricsToken: "metrics-token-0123456789" });
    expect((await app.request("/metrics")).status).toBe(401);
    expect((await app.request("/metrics", { headers: { authorization: "Bearer wrong-token-0123456789" } })).status).toBe(401);
    const ok = await app.request("/metrics", { headers: { authorization: "Bearer metrics-token-0123456789" } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("wcs_media_node_legs");
  });
});
