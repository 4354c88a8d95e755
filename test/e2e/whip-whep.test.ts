/**
 * WHIP (RFC 9725) and WHEP against real parts: `wrangler dev` + a media node, with
 * - Debian's `simple-whip-client` (Meetecho, GStreamer webrtcbin) publishing a VP8 + Opus test pattern to /whip/NAME,
 *   played by name over the WCS WebSocket by a wrtc player;
 * - a WHEP player in headless Chromium (plain fetch + RTCPeerConnection) playing a wrtc publisher's stream;
 * - the protocol's status codes and headers with fetch.
 *
 * simple-whip-client runs with the shims of test/harness/whip-client.ts (Debian bookworm's build needs them here).
 */
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeAllClients, spawnPlayer, spawnPublisher, summarizeStats, waitUntil } from "../clients/index.js";
import { launchBrowser, saveScreenshot, sleep, uniqueName, type BrowserHandle } from "../harness/browser.js";
import { startCluster, type Cluster } from "../harness/cluster.js";
import { HOST_CANDIDATE, expectPagePlaysCamera, findStreams, openTestPage, staticOffer, withReport } from "../harness/endpoints.js";
import { authVars, mintToken } from "../harness/tokens.js";
import { startWhipClient as startWhip, whipClientShims, type WhipClient, type WhipClientShims } from "../harness/whip-client.js";

/** An access token that may publish and play every name (AUTH on). */
let WHIP_TOKEN = "";
const REST_TOKEN = "rest-test-token";
const ICE_TIMEOUT_MS = 6000;

let cluster: Cluster;
let browser: BrowserHandle | undefined;
let shims: WhipClientShims | undefined;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  WHIP_TOKEN = await mintToken({ publish: ["*"], play: ["*"] }, { ttl: "2h" });
  cluster = await startCluster({ nodes: 1, vars: { ...authVars(), REST_API_TOKEN: REST_TOKEN, ICE_TIMEOUT_MS: String(ICE_TIMEOUT_MS) } });
});
afterEach(async () => {
  for (const c of children) c.kill("SIGKILL");
  children.clear();
  await closeAllClients();
});
afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
  shims?.remove();
});

// ---- helpers ----------------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  body: string;
  headers: Headers;
}

async function http(
  path: string,
  opts: { method?: string; body?: string; type?: string; token?: string | null; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const token = opts.token === undefined ? WHIP_TOKEN : opts.token;
  const res = await fetch(cluster.httpUrl + path, {
    method: opts.method ?? "POST",
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(opts.type ? { "content-type": opts.type } : {}),
      ...opts.headers,
    },
    body: opts.body,
  });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** The stream objects of `name` (REST /stream/find), [] when none. */
const streamObjects = (name: string) => findStreams(cluster, name, REST_TOKEN);

const publisherStatus = async (name: string) => (await streamObjects(name)).find((s) => s.published)?.status;

const fragment = (ufrag: string, candidates: string[], end = false) =>
  [`a=ice-ufrag:${ufrag}`, "a=ice-pwd:abcdefghijklmnopqrstuvwx", "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:0", ...candidates.map((c) => `a=${c}`), ...(end ? ["a=end-of-candidates"] : []), ""].join(
    "\r\n",
  );

/** Runs simple-whip-client (test/harness/whip-client.ts), killed after each test. */
function startWhipClient(url: string, token: string): WhipClient {
  shims ??= whipClientShims();
  const client = startWhip(url, token, shims);
  children.add(client.child);
  void client.exited.then(() => children.delete(client.child));
  return client;
}

// ---- protocol -------------------------------------------------------------------------------------------------------

describe("WHIP/WHEP protocol", () => {
  it("answers OPTIONS with CORS and Accept-Post, without a token", async () => {
    for (const path of ["/whip/x", "/whep/x"]) {
      const pre = await http(path, {
        method: "OPTIONS",
        token: null,
        headers: { origin: "http://example.test", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get("accept-post")).toBe("application/sdp");
      expect(pre.headers.get("access-control-allow-origin")).toBe("*");
      expect(pre.headers.get("access-control-allow-methods")).toContain("POST");
      expect(pre.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
      expect(pre.headers.get("access-control-expose-headers")).toMatch(/Location,\s*ETag,\s*Link/);
    }
    const res = await http(`/whip/x/${randomUUID()}`, { method: "OPTIONS", token: null });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-methods")).toMatch(/PATCH.*DELETE/);
  });

  it("requires the bearer token and checks content type and SDP", async () => {
    const name = uniqueName("proto");
    const noToken = await http(`/whip/${name}`, { token: null, type: "application/sdp", body: staticOffer("sendonly") });
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(noToken.headers.get("access-control-allow-origin")).toBe("*");
    expect((await http(`/whip/${name}`, { token: REST_TOKEN, type: "application/sdp", body: staticOffer("sendonly") })).status).toBe(401);
    expect((await http(`/whep/${name}`, { token: "nope", type: "application/sdp", body: staticOffer("recvonly") })).status).toBe(401);

    expect((await http(`/whip/${name}`, { type: "text/plain", body: staticOffer("sendonly") })).status).toBe(415);
    expect((await http(`/whip/${name}`, { type: "application/json", body: "{}" })).status).toBe(415);
    const bad = await http(`/whip/${name}`, { type: "application/sdp", body: "hello" });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/^Invalid SDP: /);
    const recv = await http(`/whip/${name}`, { type: "application/sdp", body: staticOffer("recvonly") });
    expect(recv.status).toBe(400);
    expect(recv.body).toMatch(/sendonly/);
    const send = await http(`/whep/${name}`, { type: "application/sdp", body: staticOffer("sendonly") });
    expect(send.status).toBe(400);
    expect(send.body).toMatch(/recvonly/);
    // nothing was reserved by the refusals
    expect(await streamObjects(name)).toEqual([]);
  });

  it("creates a WHIP resource: 201 + Location + ETag, 409 for the name, PATCH trickle rules, DELETE then 404", async () => {
    const name = uniqueName("proto");
    const created = await http(`/whip/${name}`, { type: "application/sdp; charset=utf-8", body: staticOffer("sendonly") });
    expect(created.status, created.body).toBe(201);
    expect(created.headers.get("content-type")).toBe("application/sdp");
    const location = created.headers.get("location")!;
    expect(location).toMatch(new RegExp(`^/whip/${name}/[0-9a-f-]{36}$`));
    const etag = created.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]+"$/);
    expect(created.body).toMatch(/^v=0\r\n/);
    expect(created.body).toMatch(/a=candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 \d+ typ host/i);
    expect(created.body).toMatch(/a=recvonly/);
    // an ordinary stream: REST sees its publisher (PENDING until ICE connects)
    expect(await streamObjects(name)).toEqual([expect.objectContaining({ name, published: true, status: "PENDING" })]);

    const dup = await http(`/whip/${name}`, { type: "application/sdp", body: staticOffer("sendonly") });
    expect(dup.status).toBe(409);
    expect(dup.body).toBe("Stream name is already in use");
    // not PUBLISHING yet: a WHEP player is told to come back later
    const early = await http(`/whep/${name}`, { type: "application/sdp", body: staticOffer("recvonly") });
    expect(early.status).toBe(409);
    expect(Number(early.headers.get("retry-after"))).toBeGreaterThan(0);

    const trickle = (body: string, headers: Record<string, string> = { "if-match": etag }, type = "application/trickle-ice-sdpfrag") =>
      http(location, { method: "PATCH", type, body, headers });
    const ok = await trickle(fragment("tStU", [HOST_CANDIDATE], true));
    expect(ok.status, ok.body).toBe(204);
    expect(ok.body).toBe("");
    expect((await trickle(fragment("tStU", [], true))).status).toBe(204); // end-of-candidates alone
    expect((await trickle(fragment("tStU", [HOST_CANDIDATE]), {})).status).toBe(428);
    expect((await trickle(fragment("tStU", [HOST_CANDIDATE]), { "if-match": '"stale"' })).status).toBe(412);
    expect((await trickle(fragment("NeWu", [HOST_CANDIDATE]))).status).toBe(422); // ICE restart
    expect((await trickle(fragment("tStU", [HOST_CANDIDATE]), { "if-match": "*" })).status).toBe(422);
    expect((await trickle(fragment("tStU", ["candidate:garbage"]))).status).toBe(400);
    expect((await trickle(fragment("tStU", [HOST_CANDIDATE]), { "if-match": etag }, "application/sdp")).status).toBe(415);
    expect((await http(location, { method: "PATCH", token: null, type: "application/trickle-ice-sdpfrag", body: "" })).status).toBe(401);
    // the resource is per kind and per name
    expect((await http(location.replace("/whip/", "/whep/"), { method: "DELETE" })).status).toBe(404);
    expect((await http(location.replace(name, `${name}-other`), { method: "DELETE" })).status).toBe(404);
    expect((await http(`/whip/${name}/${randomUUID()}`, { method: "DELETE" })).status).toBe(404);

    expect((await http(location, { method: "DELETE", token: null })).status).toBe(401);
    expect((await http(location, { method: "DELETE" })).status).toBe(200);
    expect(await streamObjects(name)).toEqual([]);
    expect((await http(location, { method: "DELETE" })).status).toBe(404);
    expect((await trickle(fragment("tStU", [HOST_CANDIDATE]))).status).toBe(404);
    // the name is free again
    const again = await http(`/whip/${name}`, { type: "application/sdp", body: staticOffer("sendonly") });
    expect(again.status).toBe(201);
    expect((await http(again.headers.get("location")!, { method: "DELETE" })).status).toBe(200);
  });

  it("ends a WHIP resource whose client never connects (ICE timeout) and frees the name", async () => {
    const name = uniqueName("timeout");
    const created = await http(`/whip/${name}`, { type: "application/sdp", body: staticOffer("sendonly") });
    expect(created.status).toBe(201);
    const location = created.headers.get("location")!;
    await waitUntil(async () => (await streamObjects(name)).length === 0, ICE_TIMEOUT_MS + 10_000, "ICE timeout ends the resource", 250);
    expect((await http(location, { method: "DELETE" })).status).toBe(404);
    expect(cluster.logs()).toMatch(new RegExp(`leg_ice_timeout[^\\n]*${name}`));
  });

  it("WHEP: 409 + Retry-After for a name that is not publishing; 201/PATCH/DELETE for a publishing one", async () => {
    const name = uniqueName("whep");
    const none = await http(`/whep/${name}`, { type: "application/sdp", body: staticOffer("recvonly") });
    expect(none.status).toBe(409);
    expect(none.body).toBe("Stream not found");
    expect(Number(none.headers.get("retry-after"))).toBeGreaterThan(0);

    const pub = await spawnPublisher({ url: cluster.wsUrl, name, custom: { token: WHIP_TOKEN } });
    await pub.waitForStatus("PUBLISHING");
    const created = await http(`/whep/${name}`, { type: "application/sdp", body: staticOffer("recvonly") });
    expect(created.status, created.body).toBe(201);
    expect(created.body).toMatch(/a=sendonly/);
    const location = created.headers.get("location")!;
    expect(location).toMatch(new RegExp(`^/whep/${name}/[0-9a-f-]{36}$`));
    const etag = created.headers.get("etag")!;
    const patch = await http(location, { method: "PATCH", type: "application/trickle-ice-sdpfrag", body: fragment("tStU", [HOST_CANDIDATE]), headers: { "if-match": etag } });
    expect(patch.status, patch.body).toBe(204);
    expect((await streamObjects(name)).map((s) => [s.published, s.status])).toEqual([
      [true, "PUBLISHING"],
      [false, "PENDING"],
    ]);
    expect((await http(location, { method: "DELETE" })).status).toBe(200);
    expect((await http(location, { method: "DELETE" })).status).toBe(404);
    expect((await streamObjects(name)).map((s) => s.published)).toEqual([true]);
    expect(pub.lastStatus).toBe("PUBLISHING");
  });
});

// ---- simple-whip-client → WCS player -------------------------------------------------------------------------------

describe("third-party WHIP client (simple-whip-client)", () => {
  async function publishWithWhipClient(name: string): Promise<WhipClient> {
    const client = startWhipClient(`${cluster.httpUrl}/whip/${name}`, WHIP_TOKEN);
    try {
      await waitUntil(async () => (await publisherStatus(name)) === "PUBLISHING", 20_000, "WHIP stream PUBLISHING", 250);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- whip-client ---\n${client.output.join("\n")}\n--- cluster ---\n${cluster.logs()}`);
    }
    return client;
  }

  it("publishes VP8 + Opus that a WCS player decodes by name; DELETE on exit ends the stream for the player", async () => {
    const name = uniqueName("whip");
    const client = await publishWithWhipClient(name);
    const pubObj = (await streamObjects(name)).find((s) => s.published)!;
    expect(pubObj).toMatchObject({ videoCodec: expect.stringMatching(/VP8/i), audioCodec: expect.stringMatching(/opus/i), hasAudio: true, hasVideo: true });

    const player = await spawnPlayer({ url: cluster.wsUrl, name, custom: { token: WHIP_TOKEN } });
    await player.waitForStatus("PLAYING");
    const first = await player.waitForStats((s) => s.framesDecoded >= 30 && (s.sizes["320x240"] ?? 0) > 0, 20_000, "30 decoded 320x240 frames");
    await sleep(2000);
    const later = await player.stats();
    expect(later.framesDecoded - first.framesDecoded, JSON.stringify(summarizeStats(later))).toBeGreaterThan(25);
    expect(later.lastSize).toBe("320x240");
    expect(later.audioSamples).toBeGreaterThan(48_000);
    expect(later.audioRms).toBeGreaterThan(100);
    expect(client.output.join("\n")).toMatch(/PeerConnection connected|ICE connected/);

    // Ctrl-C: the client sends DELETE to its resource, the stream ends like an unPublishStream
    client.child.kill("SIGINT");
    const end = await player.waitForStatus("FAILED", 15_000);
    expect(end.info).toBe("Stopped by publisher stop");
    await waitUntil(async () => (await streamObjects(name)).length === 0, 10_000, "stream gone");
    await Promise.race([client.exited, sleep(10_000)]);
    expect(client.output.join("\n")).toMatch(/DELETE|Disconnecting/);
    expect(cluster.logs()).toMatch(new RegExp(`DELETE /whip/${name}/[0-9a-f-]{36} 200`));
  });

  it("ends the stream when the WHIP client vanishes without DELETE (transport failure on the node)", async () => {
    const name = uniqueName("whipkill");
    const client = await publishWithWhipClient(name);
    const player = await spawnPlayer({ url: cluster.wsUrl, name, custom: { token: WHIP_TOKEN } });
    await player.waitForStatus("PLAYING");
    await player.waitForStats((s) => s.framesDecoded >= 10, 20_000, "10 decoded frames");

    client.child.kill("SIGKILL");
    const end = await player.waitForStatus("FAILED", 60_000);
    expect(end.info).toBe("Stopped by publisher stop");
    expect(await streamObjects(name)).toEqual([]);
    // the name is free for the next publisher
    const pub = await spawnPublisher({ url: cluster.wsUrl, name, custom: { token: WHIP_TOKEN } });
    await pub.waitForStatus("PUBLISHING");
  }, 90_000);
});

// ---- WHEP player in Chromium ---------------------------------------------------------------------------------------

/** A WHEP player with nothing but fetch and RTCPeerConnection; trickles its candidates with PATCH. */
const WHEP_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>WHEP player</title></head>
<body><video id="v" autoplay muted playsinline width="320" height="240"></video>
<script>
  window.state = { patches: [], errors: [] };
  window.whepPlay = async function (endpoint, token) {
    const st = window.state;
    const auth = { Authorization: "Bearer " + token };
    const pc = new RTCPeerConnection();
    window.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const media = new MediaStream();
    const video = document.getElementById("v");
    pc.ontrack = function (e) {
      const stream = e.streams[0] || (media.addTrack(e.track), media);
      if (video.srcObject !== stream) video.srcObject = stream; // autoplay (muted)
    };
    pc.onconnectionstatechange = function () { st.pcState = pc.connectionState; console.log("pc " + pc.connectionState); };
    let resource = null, etag = null;
    const queued = [];
    const sendCandidates = async function () {
      if (!resource || queued.length === 0) return;
      const lines = queued.splice(0);
      const desc = pc.localDescription.sdp;
      const ufrag = /a=ice-ufrag:(\\S+)/.exec(desc)[1], pwd = /a=ice-pwd:(\\S+)/.exec(desc)[1];
      const mid = pc.getTransceivers()[0].mid;
      const frag = "a=ice-ufrag:" + ufrag + "\\r\\na=ice-pwd:" + pwd + "\\r\\nm=video 9 UDP/TLS/RTP/SAVPF 0\\r\\na=mid:" + mid + "\\r\\n" +
        lines.map(function (l) { return "a=" + l + "\\r\\n"; }).join("");
      const r = await fetch(resource, { method: "PATCH", headers: Object.assign({ "Content-Type": "application/trickle-ice-sdpfrag", "If-Match": etag }, auth), body: frag });
      st.patches.push(r.status);
    };
    pc.onicecandidate = function (e) {
      queued.push(e.candidate && e.candidate.candidate ? e.candidate.candidate : "end-of-candidates");
      (st.candidates = st.candidates || []).push(queued[queued.length - 1]);
      sendCandidates().catch(function (err) { st.errors.push("patch: " + err); });
    };
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(endpoint, { method: "POST", headers: Object.assign({ "Content-Type": "application/sdp" }, auth), body: pc.localDescription.sdp });
    st.postStatus = res.status;
    const answer = await res.text();
    if (res.status !== 201) throw new Error("POST " + res.status + ": " + answer);
    resource = new URL(res.headers.get("Location"), endpoint).href;
    etag = res.headers.get("ETag");
    st.resource = resource;
    st.etag = etag;
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    await sendCandidates();
    return resource;
  };
  window.whepStop = async function (token) {
    const r = await fetch(window.state.resource, { method: "DELETE", headers: { Authorization: "Bearer " + token } });
    window.pc.close();
    return r.status;
  };
</script></body></html>`;

describe("WHEP player in Chromium", () => {
  it("plays a WCS publisher's stream with fetch + RTCPeerConnection; DELETE ends it", async () => {
    const name = uniqueName("whep");
    const pub = await spawnPublisher({ url: cluster.wsUrl, name, custom: { token: WHIP_TOKEN } });
    await pub.waitForStatus("PUBLISHING");

    browser ??= await launchBrowser();
    const { page, report } = await openTestPage(browser, cluster, "whep", "whep.html", WHEP_HTML);
    await withReport(report, async () => {
      const resource = await page.evaluate(
        ([endpoint, token]) => (window as unknown as { whepPlay(e: string, t: string): Promise<string> }).whepPlay(endpoint, token),
        [`${cluster.httpUrl}/whep/${encodeURIComponent(name)}`, WHIP_TOKEN] as const,
      );
      expect(resource).toMatch(new RegExp(`/whep/${name}/[0-9a-f-]{36}$`));
      await expectPagePlaysCamera(page, "WHEP video playing");
      const state = await page.evaluate(() => (window as unknown as { state: { patches: number[]; errors: string[]; pcState: string } }).state);
      expect(state.pcState).toBe("connected");
      expect(state.errors).toEqual([]);
      expect(state.patches.length).toBeGreaterThan(0);
      expect(state.patches.every((s) => s === 204)).toBe(true);
      expect((await streamObjects(name)).map((s) => [s.published, s.status])).toEqual([
        [true, "PUBLISHING"],
        [false, "PLAYING"],
      ]);
      await saveScreenshot(page, "whep-player");

      const deleted = await page.evaluate((token) => (window as unknown as { whepStop(t: string): Promise<number> }).whepStop(token), WHIP_TOKEN);
      expect(deleted).toBe(200);
      expect((await streamObjects(name)).map((s) => s.published)).toEqual([true]);
      expect(pub.lastStatus).toBe("PUBLISHING");
      expect((await http(new URL(resource).pathname, { method: "DELETE" })).status).toBe(404);
    });
  });
});
