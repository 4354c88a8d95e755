/**
 * REST `/rest-api/nodes/find_all` (worker/rest.ts; `wcs-edge nodes`): the registry's media nodes with load, draining,
 * version and heartbeat age, nothing of the placement bookkeeping; protected like every REST method (REST_API_TOKEN
 * or an admin access token).
 */
import { createExecutionContext, runInDurableObject, SELF, waitOnExecutionContext } from "cloudflare:test";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AuthInfo } from "../../protocol/access.js";
import { RestNode } from "../../protocol/rest.js";
import type { Env } from "../../worker/env.js";
import worker from "../../worker/index.js";
import type { NodeRegistryDO } from "../../worker/node-registry-do.js";
import { E, uniqueName } from "./helpers.js";

const globalRegistry = (): DurableObjectStub<NodeRegistryDO> => E.NODE_REGISTRY.get(E.NODE_REGISTRY.idFromName("global"));

async function call(env: Partial<Env>, path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://x${path}`, init), { ...E, ...env } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("REST /nodes/find_all", () => {
  it("lists a registered node: load, draining, version, legs, heartbeat age — no seq, no stream names", async () => {
    const reg = globalRegistry();
    const nodeId = uniqueName("node");
    const seenAt = Date.now() - 1500;
    const eventLoop = { lagP99Ms: 4.5, lagMaxMs: 9, utilization: 0.25, snapshotAgeMs: 120 };
    await reg.heartbeat(
      { nodeId, bootId: "boot-r", controlUrl: "http://127.0.0.1:9/r", load: { publishers: 1, players: 4, cpuPercent: 12.5 }, maxLegs: 100, intervalMs: 60_000, seq: 1, legCount: 5, draining: true, version: "9.8.7", eventLoop },
      seenAt,
    );
    try {
      for (const method of ["GET", "POST"]) {
        const res = await SELF.fetch("http://x/rest-api/nodes/find_all", { method });
        expect(res.status).toBe(200);
        expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
        const raw = (await res.json()) as Array<Record<string, unknown>>;
        const mine = raw.find((n) => n.nodeId === nodeId);
        expect(mine).toEqual({
          nodeId,
          bootId: "boot-r",
          controlUrl: "http://127.0.0.1:9/r",
          version: "9.8.7",
          live: true,
          draining: true,
          load: { publishers: 1, players: 4, cpuPercent: 12.5 },
          legs: 5,
          maxLegs: 100,
          streams: 0,
          lastHeartbeat: seenAt,
          heartbeatAgeMs: expect.any(Number),
          heartbeatIntervalMs: 60_000,
          eventLoop,
        });
        expect(mine!.heartbeatAgeMs as number).toBeGreaterThanOrEqual(1500);
        expect(z.array(RestNode).safeParse(raw).success).toBe(true);
      }
      // a node that does not report a version has none (the CLI shows "—")
      await reg.heartbeat({ nodeId, bootId: "boot-r", controlUrl: "http://127.0.0.1:9/r", load: { publishers: 0, players: 0, cpuPercent: 0 }, maxLegs: 0, intervalMs: 60_000, seq: 2 });
      const again = (await (await SELF.fetch("http://x/rest-api/nodes/find_all")).json()) as Array<Record<string, unknown>>;
      expect(again.find((n) => n.nodeId === nodeId)).toMatchObject({ draining: false, streams: 0 });
      expect(again.find((n) => n.nodeId === nodeId)).not.toHaveProperty("version");
    } finally {
      await reg.reportUnreachable(nodeId, "boot-r");
      await runInDurableObject(reg, async (_i, ctx) => ctx.storage.deleteAlarm());
    }
  });

  it("is protected like every REST method: REST_API_TOKEN or an admin access token", async () => {
    const secret = "unit-test-jwt-secret-of-32-chars!";
    const token = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setAudience("wcs-edge").setExpirationTime("5m").sign(new TextEncoder().encode(secret));
    const find = (env: Partial<Env>, auth?: string) => call(env, "/rest-api/nodes/find_all", auth ? { headers: { Authorization: `Bearer ${auth}` } } : {});
    const restOnly = { REST_API_TOKEN: "rest-secret" };
    const missing = await find(restOnly);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ error: AuthInfo.TOKEN_REQUIRED });
    const wrong = await find(restOnly, "wrong");
    expect(wrong.status).toBe(401);
    await wrong.body?.cancel();
    const authOn = { AUTH: "on", AUTH_JWT_SECRET: secret };
    const notAdmin = await find(authOn, await token({ play: ["*"] }));
    expect(notAdmin.status).toBe(403);
    expect(await notAdmin.json()).toEqual({ error: AuthInfo.ADMIN_REQUIRED });
    for (const ok of [await find(restOnly, "rest-secret"), await find(authOn, await token({ admin: true }))]) {
      expect([200, 404]).toContain(ok.status); // 404 {"error": "Node not found"} when the registry is empty
      await ok.body?.cancel();
    }
  });
});
