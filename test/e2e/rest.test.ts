/**
 * The WCS stream REST API (/rest-api/stream/*) against a real worker + media node + wrtc clients, with a bearer
 * token configured.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeAllClients, spawnPlayer, spawnPublisher } from "../clients/index.js";
import { startCluster, type Cluster } from "../harness/cluster.js";

const TOKEN = "rest-test-token";
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1, vars: { REST_API_TOKEN: TOKEN } });
});
afterEach(async () => {
  await closeAllClients();
});
afterAll(async () => {
  await cluster?.stop();
});

async function rest(path: string, body?: unknown, opts: { token?: string | null; method?: string } = {}) {
  const token = opts.token === undefined ? TOKEN : opts.token;
  const res = await fetch(`${cluster.httpUrl}/rest-api${path}`, {
    method: opts.method ?? "POST",
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined, headers: res.headers };
}

describe("stream REST API", () => {
  it("requires the bearer token, answers CORS preflight, and rejects bad bodies", async () => {
    expect((await rest("/stream/find_all", undefined, { token: null, method: "GET" })).status).toBe(401);
    expect((await rest("/stream/find_all", undefined, { token: "wrong", method: "GET" })).status).toBe(401);
    const pre = await fetch(`${cluster.httpUrl}/rest-api/stream/find`, {
      method: "OPTIONS",
      headers: { origin: "http://example.test", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });
    expect(pre.status).toBeLessThan(300);
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
    expect(await rest("/stream/find", "{not json")).toEqual(expect.objectContaining({ status: 400, json: { error: "Malformed JSON body" } }));
    expect((await rest("/stream/find", { name: 42 })).status).toBe(400);
    expect((await rest("/stream/nope", {})).status).toBe(404);
  });

  it("finds streams and terminates them with Stopped by rest /terminate", async () => {
    const name = `rest-${randomUUID().slice(0, 8)}`;
    const pub = await spawnPublisher({ url: cluster.wsUrl, name });
    await pub.waitForStatus("PUBLISHING");
    const players = await Promise.all([spawnPlayer({ url: cluster.wsUrl, name }), spawnPlayer({ url: cluster.wsUrl, name })]);
    await Promise.all(players.map((p) => p.waitForStatus("PLAYING")));

    const all = await rest("/stream/find_all", undefined, { method: "GET" });
    expect(all.status).toBe(200);
    const mine = (all.json as Array<Record<string, unknown>>).filter((s) => s.name === name);
    expect(mine).toHaveLength(3);
    expect(mine.find((s) => s.published)).toMatchObject({ mediaSessionId: pub.mediaSessionId, status: "PUBLISHING", mediaType: "publish", videoCodec: expect.stringMatching(/VP8/i) });
    expect(mine.filter((s) => !s.published).map((s) => s.status)).toEqual(["PLAYING", "PLAYING"]);

    const found = await rest("/stream/find", { name, published: true });
    expect(found.status).toBe(200);
    expect((found.json as unknown[]).length).toBe(1);
    expect((await rest("/stream/find", { name: `${name}-other` })).status).toBe(404);

    // terminate one player by mediaSessionId: only it stops
    const one = await rest("/stream/terminate", { mediaSessionId: players[0]!.mediaSessionId });
    expect(one).toMatchObject({ status: 200, json: { terminated: 1 } });
    const st = await players[0]!.waitForStatus("STOPPED");
    expect(st.info).toBe("Stopped by rest /terminate");

    // terminate the stream by name: publisher UNPUBLISHED, remaining player STOPPED, both with the REST info
    const byName = await rest("/stream/terminate", { name });
    expect(byName.status).toBe(200);
    const [pubEnd, playerEnd] = await Promise.all([pub.waitForStatus("UNPUBLISHED"), players[1]!.waitForStatus("STOPPED")]);
    expect(pubEnd.info).toBe("Stopped by rest /terminate");
    expect(playerEnd.info).toBe("Stopped by rest /terminate");
    expect((await rest("/stream/find", { name })).status).toBe(404);
    expect((await rest("/stream/terminate", { name })).status).toBe(404);
  });
});
