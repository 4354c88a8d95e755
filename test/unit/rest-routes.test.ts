/**
 * HTTP routes without a media node: WHIP/WHEP (worker/whip.ts) validation, CORS, refusals, PATCH / DELETE of seeded
 * "http" legs, bearer tokens (the worker's fetch called with an env that has a token), and the REST `/stream/*`
 * methods over a seeded stream placed on a registered (dead) node.
 */
import { createExecutionContext, runInDurableObject, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { AuthInfo } from "../../protocol/access.js";
import { MAX_SDP_BYTES } from "../../protocol/sdp.js";
import type { Env } from "../../worker/env.js";
import worker from "../../worker/index.js";
import type { NodeRegistryDO } from "../../worker/node-registry-do.js";
import { statusEvent, type LegRecord } from "../../worker/stream-types.js";
import { CHROME_PLAY_OFFER, CHROME_PUBLISH_OFFER, deadNode, describeStream, E, leg, seedSessionStream, seedStream, streamStub, uniqueName, storedStream, clientsClosedAfterEach } from "./helpers.js";

const { connected } = clientsClosedAfterEach();

const globalRegistry = (): DurableObjectStub<NodeRegistryDO> => E.NODE_REGISTRY.get(E.NODE_REGISTRY.idFromName("global"));
const storedState = storedStream;

function sdpPost(path: string, body: string, contentType: string | null = "application/sdp"): Promise<Response> {
  return SELF.fetch(`http://x${path}`, { method: "POST", body, headers: contentType ? { "Content-Type": contentType } : {} });
}
async function expectText(res: Response, status: number, body: string, headers: Record<string, string> = {}): Promise<void> {
  expect(res.status).toBe(status);
  expect(await res.text()).toBe(body);
  for (const [k, v] of Object.entries(headers)) expect(res.headers.get(k), k).toBe(v);
}

const ETAG = '"etag-1"';
function httpLeg(role: LegRecord["role"], over: Partial<LegRecord> = {}): LegRecord {
  return leg(role, { kind: "http", etag: ETAG, iceUfrag: "Qy7m", icePwd: "8rNhE3pQ0Bf6lQyq1ZC0Sx5u" }, over);
}

describe("paths nothing serves, and the static pages", () => {
  it.each([
    ["GET", "/whip"],
    ["OPTIONS", "/whip/"],
    ["DELETE", "/whip/x/"],
    ["POST", "/whep/x/y/z"],
    ["PATCH", "/whep"],
  ])("%s %s → 404 with CORS and a reason, never the assets", async (method, path) => {
    const res = await SELF.fetch(`http://x${path}`, { method, ...(method === "POST" ? { body: "v=0" } : {}) });
    expect(res.status).toBe(404);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(await res.text()).toMatch(/^No such WH(IP|EP) endpoint or resource: use \/wh(ip|ep)\/<stream name>$/);
  });

  it.each(["POST", "PUT", "DELETE", "PATCH"])("%s on a page → 405 Allow: GET, HEAD; GET serves it", async (method) => {
    const res = await SELF.fetch("http://x/player.html", { method, body: "x" });
    expect(res.status).toBe(405);
    expect(res.headers.get("Allow")).toBe("GET, HEAD");
    await res.body?.cancel();
    const page = await SELF.fetch("http://x/player.html");
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>");
  });
});

describe("WHIP/WHEP: OPTIONS and methods", () => {
  it.each(["whip", "whep"])("OPTIONS on the %s endpoint and a resource → 204 with CORS, Allow (and Accept-Post on the endpoint)", async (kind) => {
    const ep = await SELF.fetch(`http://x/${kind}/s1`, { method: "OPTIONS" });
    expect(ep.status).toBe(204);
    expect(Object.fromEntries([...ep.headers].filter(([k]) => k !== "content-length"))).toEqual({
      "access-control-allow-origin": "*",
      "access-control-expose-headers": "Location,ETag,Link,Retry-After,Accept-Post",
      "access-control-allow-methods": "POST,OPTIONS",
      "access-control-allow-headers": "Authorization,Content-Type,If-Match",
      "access-control-max-age": "86400",
      allow: "POST, OPTIONS",
      "accept-post": "application/sdp",
      vary: "Access-Control-Request-Headers",
    });
    const rs = await SELF.fetch(`http://x/${kind}/s1/some-id`, { method: "OPTIONS" });
    expect(rs.status).toBe(204);
    expect(rs.headers.get("Allow")).toBe("PATCH, DELETE, OPTIONS");
    expect(rs.headers.get("Access-Control-Allow-Methods")).toBe("PATCH,DELETE,OPTIONS");
    expect(rs.headers.get("Accept-Post")).toBeNull();
    expect(rs.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });

  it("other methods → 405 with Allow", async () => {
    await expectText(await SELF.fetch("http://x/whip/s1"), 405, "Method not allowed", { Allow: "POST, OPTIONS", "Access-Control-Allow-Origin": "*" });
    await expectText(await SELF.fetch("http://x/whep/s1", { method: "PUT" }), 405, "Method not allowed", { Allow: "POST, OPTIONS" });
    await expectText(await SELF.fetch("http://x/whip/s1/r1", { method: "POST" }), 405, "Method not allowed", { Allow: "PATCH, DELETE, OPTIONS" });
  });
});

describe("WHIP/WHEP POST validation", () => {
  it.each([
    ["text/plain", "text/plain"],
    ["no Content-Type", null],
    ["application/sdpx", "application/sdpx"],
  ])("415 for %s; nothing reserved", async (_what, ct) => {
    const name = uniqueName("ct");
    await expectText(await sdpPost(`/whip/${name}`, CHROME_PUBLISH_OFFER, ct), 415, "Content-Type must be application/sdp", { "Accept-Post": "application/sdp", "Access-Control-Allow-Origin": "*" });
    expect(await storedState(streamStub(name))).toBeUndefined();
  });

  it("400 for an SDP that is not an offer the role can use", async () => {
    await expectText(await sdpPost(`/whip/${uniqueName("b")}`, "hello"), 400, "Invalid SDP: does not start with v=0");
    await expectText(await sdpPost(`/whip/${uniqueName("b")}`, CHROME_PLAY_OFFER), 400, "Invalid SDP: no sendonly/sendrecv m-line in a publish offer");
    await expectText(await sdpPost(`/whep/${uniqueName("b")}`, CHROME_PUBLISH_OFFER, "Application/SDP; charset=utf-8"), 400, "Invalid SDP: no recvonly/sendrecv m-line in a play offer");
    await expectText(await sdpPost(`/whip/${uniqueName("b")}`, "v=0\r\ns=-\r\n"), 400, "Invalid SDP: no audio or video m-line");
  });

  it("413 for an offer over the limit; 400 for a 257-character name", async () => {
    await expectText(await sdpPost(`/whip/${uniqueName("big")}`, "v=0\r\n" + "a".repeat(MAX_SDP_BYTES)), 413, `SDP offer larger than ${MAX_SDP_BYTES} bytes`);
    await expectText(await sdpPost(`/whip/${"n".repeat(257)}`, CHROME_PUBLISH_OFFER), 400, "Stream name must be 1 to 256 characters");
  });

  it("WHIP of a name in use → 409; the holder is untouched", async () => {
    const name = uniqueName("taken");
    const pub = leg("publisher", "0".repeat(64));
    await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    const res = await sdpPost(`/whip/${name}`, CHROME_PUBLISH_OFFER);
    await expectText(res, 409, "Stream name is already in use", { "Retry-After": null as unknown as string });
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: {} });
  });

  it("WHEP of a stream that is not publishing → 409 + Retry-After 2", async () => {
    await expectText(await sdpPost(`/whep/${uniqueName("none")}`, CHROME_PLAY_OFFER), 409, "Stream not found", { "Retry-After": "2" });
    const name = uniqueName("pending");
    await seedStream({ name, node: deadNode(), publisher: leg("publisher", "0".repeat(64), { status: "PENDING" }), players: {} });
    await expectText(await sdpPost(`/whep/${name}`, CHROME_PLAY_OFFER), 409, "Stream not found", { "Retry-After": "2" });
  });

  it("WHIP with no media node → 503 + Retry-After 5; the name is free again", async () => {
    const name = uniqueName("nonode");
    await expectText(await sdpPost(`/whip/${name}`, CHROME_PUBLISH_OFFER), 503, "Failed by error: no media node available", { "Retry-After": "5" });
    expect(await storedState(streamStub(name))).toBeUndefined();
  });

  it("WHEP of a stream whose node refuses connections → 503 + Retry-After 5; no player kept", async () => {
    const name = uniqueName("deadnode");
    const pub = leg("publisher", "0".repeat(64));
    await seedStream({ name, node: deadNode(), publisher: pub, players: {} });
    await expectText(await sdpPost(`/whep/${name}`, CHROME_PLAY_OFFER), 503, "Failed by error: media node lost", { "Retry-After": "5" });
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: {} });
  });
});

describe("WHIP/WHEP resources (seeded http legs)", () => {
  const frag = (lines: string[]) => lines.join("\r\n") + "\r\n";
  const CAND = "a=candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host";
  function patch(path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
    return SELF.fetch(`http://x${path}`, { method: "PATCH", body, headers: { "Content-Type": "application/trickle-ice-sdpfrag", "If-Match": ETAG, ...headers } });
  }

  it("PATCH: 404 unknown or wrong kind, 415, 428, 412, 422 ICE restart, 400 bad fragment, 204 without candidates", async () => {
    const name = uniqueName("patch");
    const pub = httpLeg("publisher");
    const ply = httpLeg("player");
    const ses = leg("player", "0".repeat(64));
    const state = { name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply, [ses.legId]: ses } };
    await seedStream(state);
    const res = `/whip/${name}/${pub.legId}`;
    const body = frag(["a=ice-ufrag:Qy7m", "a=ice-pwd:8rNhE3pQ0Bf6lQyq1ZC0Sx5u", "m=audio 9 UDP/TLS/RTP/SAVPF 0", "a=mid:0", "a=end-of-candidates"]);
    await expectText(await patch(`/whip/${name}/nope`, body), 404, "No such resource");
    await expectText(await patch(`/whip/${name}/${ply.legId}`, body), 404, "No such resource"); // a WHEP resource
    await expectText(await patch(`/whep/${name}/${pub.legId}`, body), 404, "No such resource"); // a WHIP resource
    await expectText(await patch(`/whep/${name}/${ses.legId}`, body), 404, "No such resource"); // a WCS leg
    await expectText(await patch(res, body, { "Content-Type": "application/sdp" }), 415, "Content-Type must be application/trickle-ice-sdpfrag");
    const noIfMatch = await SELF.fetch(`http://x${res}`, { method: "PATCH", body, headers: { "Content-Type": "application/trickle-ice-sdpfrag" } });
    await expectText(noIfMatch, 428, "If-Match with the resource's ETag is required");
    await expectText(await patch(res, body, { "If-Match": '"other"' }), 412, "If-Match does not match the resource's ETag");
    await expectText(await patch(res, body, { "If-Match": "*" }), 422, "ICE restarts are not supported");
    await expectText(await patch(res, frag(["a=ice-ufrag:NEW1", "a=ice-pwd:xxxxxxxxxxxxxxxxxxxxxxxx", CAND])), 422, "ICE restarts are not supported");
    await expectText(await patch(res, frag(["a=candidate:bad"])), 400, "Invalid SDP fragment: malformed candidate line: a=candidate:bad");
    const ok = await patch(res, body, { "If-Match": `"x", ${ETAG}` });
    expect(ok.status).toBe(204);
    expect(ok.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(await describeStream(name)).toEqual(state);
  });

  it("PATCH with candidates goes to the node: refusing connections → 503; a stream without a node → 404", async () => {
    const name = uniqueName("patch2");
    const ply = httpLeg("player");
    const pub = leg("publisher", "0".repeat(64));
    await seedStream({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply } });
    const body = frag(["m=audio 9 UDP/TLS/RTP/SAVPF 0", "a=mid:0", CAND]);
    await expectText(await patch(`/whep/${name}/${ply.legId}`, body), 503, "Failed by error: media node lost");
    await seedStream({ name, node: null, publisher: pub, players: { [ply.legId]: ply } });
    await expectText(await patch(`/whep/${name}/${ply.legId}`, body), 404, "No such resource");
  });

  it("DELETE of a WHIP resource ends the stream (WCS players FAILED Stopped by publisher stop); a second DELETE → 404", async () => {
    const v = await connected();
    const name = uniqueName("del");
    const pub = httpLeg("publisher");
    const ply = leg("player", v.sessionId);
    const hp = httpLeg("player");
    await seedStream({ name, node: deadNode(), publisher: pub, players: { [ply.legId]: ply, [hp.legId]: hp } });
    await seedSessionStream(v, ply, name);
    await expectText(await SELF.fetch(`http://x/whip/${name}/nope`, { method: "DELETE" }), 404, "No such resource");
    await expectText(await SELF.fetch(`http://x/whep/${name}/${pub.legId}`, { method: "DELETE" }), 404, "No such resource");
    await expectText(await SELF.fetch(`http://x/whip/${name}/${ply.legId}`, { method: "DELETE" }), 404, "No such resource");
    expect((await describeStream(name)).publisher).toEqual(pub);
    await expectText(await SELF.fetch(`http://x/whip/${name}/${pub.legId}`, { method: "DELETE" }), 200, "", { "Access-Control-Allow-Origin": "*" });
    expect(await v.expectNext("notifyStreamStatusEvent")).toEqual({ ...statusEvent(name, ply, "FAILED", "Stopped by publisher stop", "node-a") });
    expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
    await expectText(await SELF.fetch(`http://x/whip/${name}/${pub.legId}`, { method: "DELETE" }), 404, "No such resource");
    await v.expectIdle();
  });

  it("DELETE of a WHEP resource stops only that player", async () => {
    const owner = await connected();
    const name = uniqueName("del2");
    const pub = leg("publisher", owner.sessionId);
    const hp = httpLeg("player");
    await seedStream({ name, node: deadNode(), publisher: pub, players: { [hp.legId]: hp } });
    await expectText(await SELF.fetch(`http://x/whep/${encodeURIComponent(name)}/${hp.legId}`, { method: "DELETE" }), 200, "");
    expect(await describeStream(name)).toEqual({ name, node: deadNode(), publisher: pub, players: {} });
    await owner.expectIdle();
  });
});

describe("access tokens and REST tokens (the worker's fetch with AUTH / keys in its env)", () => {
  async function call(env: Partial<Env>, path: string, init: RequestInit = {}): Promise<Response> {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(`http://x${path}`, init), { ...E, ...env } as Env, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  }

  const SECRET = "unit-test-jwt-secret-of-32-chars!";
  const authOn = { AUTH: "on", AUTH_JWT_SECRET: SECRET };
  const token = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setAudience("wcs-edge").setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
  const bearer = async (claims: Record<string, unknown>) => ({ Authorization: `Bearer ${await token(claims)}` });

  it("WHIP/WHEP with AUTH on: 401 without or with a bad token, 400 non-Bearer (CORS kept), 403 without the grant, OPTIONS open, the grant passes", async () => {
    await expectText(await call(authOn, "/whip/s", { method: "POST", body: "x" }), 401, AuthInfo.TOKEN_REQUIRED, { "WWW-Authenticate": 'Bearer realm="whip"', "Access-Control-Allow-Origin": "*" });
    await expectText(await call(authOn, "/whep/s", { method: "POST", body: "x", headers: { Authorization: "Bearer nope" } }), 401, AuthInfo.tokenInvalid("malformed token"), {
      "WWW-Authenticate": `Bearer realm="whep", error="invalid_token", error_description="${AuthInfo.tokenInvalid("malformed token")}"`,
    });
    await expectText(await call(authOn, "/whip/s/r", { method: "DELETE", headers: { Authorization: "Basic d2hpcC1zZWNyZXQ=" } }), 400, "Authorization must be Bearer <token>", { "Access-Control-Allow-Origin": "*" });
    expect((await call(authOn, "/whip/s", { method: "OPTIONS" })).status).toBe(204);
    const player = await bearer({ play: ["s"] });
    await expectText(await call(authOn, "/whip/s", { method: "POST", body: "x", headers: player }), 403, AuthInfo.notGranted("publish", "s"), { "WWW-Authenticate": 'Bearer realm="whip", error="insufficient_scope"' });
    await expectText(await call(authOn, "/whip/s/r", { method: "DELETE", headers: player }), 403, AuthInfo.notGranted("publish", "s"));
    await expectText(await call(authOn, "/whep/t", { method: "POST", body: "x", headers: player }), 403, AuthInfo.notGranted("play", "t"));
    await expectText(await call(authOn, "/whep/s", { method: "POST", body: "x", headers: { ...player, "Content-Type": "text/plain" } }), 415, "Content-Type must be application/sdp");
    await expectText(await call(authOn, "/whip/cam-1", { method: "POST", body: "x", headers: { ...(await bearer({ publish: ["cam-*"] })), "Content-Type": "text/plain" } }), 415, "Content-Type must be application/sdp");
  });

  it("AUTH on without any key: WHIP/WHEP and REST answer 503 not configured; AUTH off: open", async () => {
    await expectText(await call({ AUTH: "on" }, "/whip/s", { method: "POST", body: "x" }), 503, AuthInfo.NOT_CONFIGURED);
    await expectText(await call({ AUTH: "on" }, "/whep/s", { method: "POST", body: "x", headers: { Authorization: "Bearer abc" } }), 503, AuthInfo.NOT_CONFIGURED);
    const r = await call({ AUTH: "on" }, "/rest-api/pull/find_all", { method: "POST" });
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ error: AuthInfo.NOT_CONFIGURED });
    await expectText(await call({ AUTH: "off" }, "/whip/s", { method: "POST", body: "x", headers: { "Content-Type": "text/plain" } }), 415, "Content-Type must be application/sdp");
  });

  it("RELAY_ALLOWED_URIS: a relay outside the list is 403 before any node is asked; inside it goes on (503: no node here)", async () => {
    const body = (uri: string) => ({ method: "POST", body: JSON.stringify({ uri, localStreamName: uniqueName("ra"), remoteStreamName: "r" }) });
    const env = { RELAY_ALLOWED_URIS: "wcs.example.com:8443" };
    const refused = await call(env, "/rest-api/pull/pull", body("wss://other.example:8443/"));
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: "Relay to wss://other.example:8443 is not allowed (RELAY_ALLOWED_URIS)" });
    const push = await call({ RELAY_ALLOWED_URIS: "" }, "/rest-api/pull/push", body("wss://wcs.example.com:8443/"));
    expect(push.status).toBe(403);
    await push.body?.cancel();
    const allowed = await call(env, "/rest-api/pull/pull", body("wss://WCS.example.com:8443/app"));
    expect(allowed.status).toBe(503);
    expect(await allowed.json()).toEqual({ error: "Failed by error: no media node available" });
    const misconfigured = await call({ RELAY_ALLOWED_URIS: "ws://x" }, "/rest-api/pull/pull", body("wss://wcs.example.com:8443/"));
    expect(misconfigured.status).toBe(500);
    await misconfigured.body?.cancel();
  });

  it("REST: REST_API_TOKEN (even with AUTH off) or an admin access token; 401 / 403 otherwise", async () => {
    const json = async (res: Response, status: number, body: unknown) => {
      expect(res.status).toBe(status);
      expect(await res.json()).toEqual(body);
    };
    const find = (env: Partial<Env>, headers: Record<string, string> = {}) => call(env, "/rest-api/pull/find_all", { method: "POST", headers });
    const restOnly = { REST_API_TOKEN: "rest-secret" };
    await json(await find(restOnly), 401, { error: AuthInfo.TOKEN_REQUIRED });
    await json(await find(restOnly, { Authorization: "Bearer wrong" }), 401, { error: AuthInfo.tokenInvalid("not the REST API token") });
    await json(await find(restOnly, { Authorization: "Bearer rest-secret" }), 404, { error: "Relay not found" });
    const both = { ...authOn, REST_API_TOKEN: "rest-secret" };
    await json(await find(both, { Authorization: "Bearer rest-secret" }), 404, { error: "Relay not found" });
    await json(await find(both, await bearer({ admin: true })), 404, { error: "Relay not found" });
    const notAdmin = await find(both, await bearer({ publish: ["*"], play: ["*"] }));
    expect(notAdmin.headers.get("WWW-Authenticate")).toBe('Bearer realm="rest-api", error="insufficient_scope"');
    await json(notAdmin, 403, { error: AuthInfo.ADMIN_REQUIRED });
    // the WHIP endpoints do not take the REST token
    await expectText(await call(both, "/whip/s", { method: "POST", body: "x", headers: { Authorization: "Bearer rest-secret" } }), 401, AuthInfo.tokenInvalid("malformed token"));
  });
});

describe("REST /stream/* over a stream of every owner kind", () => {
  it("find_all 404 when no stream is placed", async () => {
    const res = await SELF.fetch("http://x/rest-api/stream/find_all");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "Stream not found" });
  });

  it("find_all / find / terminate see http, ws and session legs of a placed stream", async () => {
    const v = await connected();
    const reg = globalRegistry();
    await reg.heartbeat({ nodeId: "node-a", bootId: "boot-1", controlUrl: "http://127.0.0.1:9", load: { publishers: 0, players: 0, cpuPercent: 0 }, maxLegs: 0, intervalMs: 60_000, seq: 1 });
    try {
      const name = uniqueName("rest");
      expect(await reg.allocate(name)).toEqual(deadNode());
      const pub = httpLeg("publisher", { createdAt: 1 });
      const ses = leg("player", v.sessionId, { createdAt: 2 });
      const ws = leg("player", { kind: "ws", endpointId: E.WS_ENDPOINT.newUniqueId().toString() }, { createdAt: 3 });
      await seedStream({ name, node: deadNode(), publisher: pub, players: { [ses.legId]: ses, [ws.legId]: ws } });
      const all = [statusEvent(name, pub, "PUBLISHING", undefined, "node-a"), statusEvent(name, ses, "PLAYING", undefined, "node-a"), statusEvent(name, ws, "PLAYING", undefined, "node-a")];

      const fa = await SELF.fetch("http://x/rest-api/stream/find_all", { method: "POST" });
      expect(fa.status).toBe(200);
      expect(await fa.json()).toEqual(all);
      const f = await SELF.fetch("http://x/rest-api/stream/find", { method: "POST", body: JSON.stringify({ published: false, mediaSessionIds: [ws.mediaSessionId, pub.mediaSessionId] }) });
      expect(await f.json()).toEqual([all[2]]);
      const none = await SELF.fetch("http://x/rest-api/stream/terminate", { method: "POST", body: JSON.stringify({ name: "other" }) });
      expect(none.status).toBe(404);
      await none.body?.cancel();

      const t = await SELF.fetch("http://x/rest-api/stream/terminate", { method: "POST", body: JSON.stringify({ name }) });
      expect(t.status).toBe(200);
      expect(await t.json()).toEqual({ terminated: 1 }); // the publisher; its players end with it
      expect(await v.expectNext("notifyStreamStatusEvent")).toEqual(statusEvent(name, ses, "STOPPED", "Stopped by rest /terminate", "node-a"));
      expect(await describeStream(name)).toEqual({ name, node: null, publisher: null, players: {} });
      expect((await reg.list()).map((n) => n.streams)).toEqual([[]]);
    } finally {
      await reg.reportUnreachable("node-a", "boot-1");
      await runInDurableObject(reg, async (_i, ctx) => ctx.storage.deleteAlarm());
    }
  });
});
