/**
 * WCS REST hooks (protocol/rest-hooks.ts) against a real local backend: `wrangler dev` + one media node with
 * REST_HOOK_URL pointing at a Node HTTP server on 127.0.0.1 that verifies every call's signature
 * (protocol/signing.ts verifyRequest) and allows, declines with a reason, overrides `custom`, or stalls past the
 * timeout, chosen by the request. Clients are raw WCS sockets (the Web SDK's wire format) and WHIP over HTTP.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HookInfo, verifyRequest } from "../../protocol/index.js";
import { buildConnectionRequest, WcsSocket } from "../clients/index.js";
import { uniqueName } from "../harness/browser.js";
import { freePort, startCluster, type Cluster } from "../harness/cluster.js";
import { findStreams, staticOffer } from "../harness/endpoints.js";

const SECRET = randomBytes(24).toString("hex");
const TIMEOUT_MS = 1000;

/** One hook call as the backend saw it. */
interface HookCall {
  method: string;
  body: Record<string, unknown>;
  signed: boolean;
}

let cluster: Cluster;
let backend: Server;
const calls: HookCall[] = [];
const sockets: WcsSocket[] = [];

/**
 * The backend's rules: `custom.mode` of a connection, the name prefix of a stream, the room name of a join.
 * deny → 403 with a JSON reason; text → 403 with a text body; override → 200 with a new custom; slow → no answer
 * before the worker's timeout; anything else → 200 echoing the body (as WCS asks backends to).
 */
function answer(method: string, body: Record<string, unknown>): { status: number; body?: string; delayMs?: number } {
  const mode = method === "connect" ? (body.custom as { mode?: string } | undefined)?.mode : method === "sendData" ? String((body.payload as { options?: { name?: string } })?.options?.name ?? "") : String(body.name ?? "");
  if (mode?.startsWith("deny")) return { status: 403, body: JSON.stringify({ reason: `${method} of ${mode.split("-")[0]} refused by policy` }) };
  if (mode?.startsWith("text")) return { status: 451, body: "not your stream" };
  if (mode?.startsWith("override")) return { status: 200, body: JSON.stringify({ ...body, custom: { tier: "gold", by: method } }) };
  if (mode?.startsWith("slow")) return { status: 200, delayMs: TIMEOUT_MS * 3 };
  return { status: 200, body: JSON.stringify(body) };
}

async function read(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

beforeAll(async () => {
  const port = await freePort();
  backend = createServer(async (req, res) => {
    const text = await read(req);
    const signed = await verifyRequest(SECRET, req.method ?? "", req.url ?? "", text, new Headers(req.headers as Record<string, string>));
    const method = (req.url ?? "").split("/").pop() ?? "";
    const body = JSON.parse(text) as Record<string, unknown>;
    calls.push({ method, body, signed: signed.ok });
    const a = answer(method, body);
    if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
    res.writeHead(a.status, { "Content-Type": "application/json" }).end(a.body ?? "");
  });
  await new Promise<void>((r) => backend.listen(port, "127.0.0.1", r));
  cluster = await startCluster({
    nodes: 1,
    vars: { REST_HOOK_URL: `http://127.0.0.1:${port}/apps/myApp`, REST_HOOK_SECRET: SECRET, REST_HOOK_TIMEOUT_MS: String(TIMEOUT_MS) },
  });
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await cluster?.stop();
  backend?.closeAllConnections();
  await new Promise((r) => backend?.close(r));
});

async function connecting(custom: unknown, appKey?: string): Promise<WcsSocket> {
  const s = await WcsSocket.open(cluster.wsUrl);
  sockets.push(s);
  s.send("connection", buildConnectionRequest({ custom, ...(appKey ? { appKey } : {}) }));
  return s;
}
const callsOf = (method: string, pred: (b: Record<string, unknown>) => boolean) => calls.filter((c) => c.method === method && pred(c.body));

describe("connect", () => {
  it("200 allows and its custom replaces the client's; every call is signed and carries the connection object", async () => {
    const s = await connecting({ mode: "override-1", login: "ann" });
    const ud = await s.waitForMessage("getUserData");
    const obj = ud.data[0] as Record<string, unknown>;
    expect(obj).toMatchObject({ status: "ESTABLISHED", custom: { tier: "gold", by: "connect" } });
    const [call] = callsOf("connect", (b) => b.sessionId === obj.sessionId);
    expect(call).toMatchObject({ signed: true, body: { appKey: "defaultApp", clientVersion: "2.0", custom: { mode: "override-1", login: "ann" } } });
  });

  it("any other status declines with the backend's reason (fail + close 4403); a timeout declines", async () => {
    for (const [custom, info] of [
      [{ mode: "deny-1" }, HookInfo.declined("connect of deny refused by policy")],
      [{ mode: "slow-1" }, HookInfo.TIMEOUT],
    ] as const) {
      const s = await connecting(custom);
      const fail = await s.waitForMessage("fail", 5000);
      expect(fail.data[0]).toEqual({ apiMethod: "connection", info });
      expect((await s.waitForClose()).code).toBe(4403);
      expect(s.framesNamed("getUserData")).toEqual([]);
    }
  });
});

describe("publishStream / playStream / sendData", () => {
  async function session(appKey?: string, custom: unknown = { login: `u-${randomUUID().slice(0, 6)}` }): Promise<WcsSocket> {
    const s = await WcsSocket.connect(cluster.wsUrl, { custom, ...(appKey ? { appKey } : {}) });
    sockets.push(s);
    return s;
  }
  function request(s: WcsSocket, method: "publishStream" | "playStream", name: string): string {
    const mediaSessionId = randomUUID();
    s.send(method, { mediaSessionId, name, published: method === "publishStream", hasVideo: true, hasAudio: true, sdp: staticOffer(method === "publishStream" ? "sendonly" : "recvonly"), custom: { mine: 1 } });
    return mediaSessionId;
  }
  const statusOf = async (s: WcsSocket, id: string) =>
    (await s.waitFor((f) => f.message === "notifyStreamStatusEvent" && (f.data[0] as { mediaSessionId?: string }).mediaSessionId === id, 5000)).data[0] as Record<string, unknown>;

  it("a declined publish or play is FAILED with the reason and gets no answer; nothing is reserved", async () => {
    const s = await session();
    const pubName = uniqueName("text");
    expect(await statusOf(s, request(s, "publishStream", pubName))).toMatchObject({ status: "FAILED", info: HookInfo.declined("not your stream") });
    const playName = uniqueName("deny");
    expect(await statusOf(s, request(s, "playStream", playName))).toMatchObject({ status: "FAILED", info: HookInfo.declined("playStream of deny refused by policy") });
    expect(s.framesNamed("setRemoteSDP")).toEqual([]);
    expect(await findStreams(cluster, pubName)).toEqual([]);
    const [call] = callsOf("publishStream", (b) => b.name === pubName);
    expect(call).toMatchObject({ signed: true, body: { name: pubName, published: true, hasAudio: true, hasVideo: true, custom: { mine: 1 }, appKey: "defaultApp" } });
    expect(call!.body.sdp).toBeUndefined();
  });

  it("an allowed publish goes on with the backend's custom", async () => {
    const s = await session();
    const name = uniqueName("override");
    const id = request(s, "publishStream", name);
    await s.waitFor((f) => f.message === "setRemoteSDP" && f.data[0] === id, 10_000);
    const [stream] = await findStreams(cluster, name);
    expect(stream).toMatchObject({ name, mediaSessionId: id, custom: { tier: "gold", by: "publishStream" } });
  });

  it("a room join (sendData) the backend declines gets DataStatusEvent FAILED; another is ACCEPTED", async () => {
    const s = await session("roomApp", { login: "ravi" });
    const join = async (room: string) => {
      const operationId = randomUUID();
      s.send("sendData", { operationId, payload: { command: "join", options: { name: room } } });
      return (await s.waitFor((f) => f.message === "DataStatusEvent" && (f.data[0] as { operationId?: string }).operationId === operationId, 5000)).data[0];
    };
    expect(await join("deny-room")).toMatchObject({ status: "FAILED", info: HookInfo.declined("sendData of deny refused by policy") });
    expect(await join(uniqueName("open"))).toMatchObject({ status: "ACCEPTED" });
    expect(callsOf("sendData", (b) => b.login === "ravi").map((c) => c.signed)).toEqual([true, true]);
  });

  it("WHIP: a declined POST is 403 with the reason", async () => {
    const name = uniqueName("deny");
    const res = await fetch(`${cluster.httpUrl}/whip/${name}`, { method: "POST", body: staticOffer("sendonly"), headers: { "Content-Type": "application/sdp" } });
    expect(res.status).toBe(403);
    expect(await res.text()).toBe(HookInfo.declined("publishStream of deny refused by policy"));
    expect(callsOf("publishStream", (b) => b.name === name)[0]).toMatchObject({ signed: true, body: { sessionId: expect.stringMatching(/^whip-/), published: true } });
  });
});
