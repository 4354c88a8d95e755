/**
 * The Flussonic-style WebSocket endpoint (protocol/ws-endpoint.ts) against real parts: `wrangler dev` + a media node,
 * - a Chromium page publishing its fake camera through /NAME/webrtc/publish (plain WebSocket + RTCPeerConnection,
 *   trickling its candidates), played by name by a WCS (wrtc) player;
 * - a Chromium page playing a WCS publisher's stream through /NAME/webrtc/play (the media node makes the offer);
 * - bad input, refusals and unknown streams with a plain `ws` client; every refusal's close (close frame and TCP end,
 *   the `ws` client's `close` event) within 1 s of its error frame, also for a client that never sent a frame.
 */
import { randomUUID } from "node:crypto";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { WS_OFFER_TIMEOUT_MS } from "../../protocol/ws-endpoint.js";
import { closeAllClients, spawnPlayer, spawnPublisher, summarizeStats, waitUntil } from "../clients/index.js";
import { launchBrowser, saveScreenshot, sleep, uniqueName, type BrowserHandle } from "../harness/browser.js";
import { startCluster, type Cluster } from "../harness/cluster.js";
import { HOST_CANDIDATE, expectPagePlaysCamera, findStreams, openTestPage, restCall, staticOffer as offer, withReport } from "../harness/endpoints.js";

const ICE_TIMEOUT_MS = 8000;

let cluster: Cluster;
let browser: BrowserHandle | undefined;
const sockets = new Set<WsClient>();

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1, vars: { ICE_TIMEOUT_MS: String(ICE_TIMEOUT_MS) } });
});
afterEach(async () => {
  for (const s of sockets) s.ws.terminate();
  sockets.clear();
  await closeAllClients();
});
afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
});

// ---- helpers ----------------------------------------------------------------------------------------------------

type Msg = { type: string; sdp?: string; info?: string; status?: string; candidate?: unknown };

/** A plain `ws` client of the endpoint: frames are queued, `next()` takes them in order. */
class WsClient {
  private readonly queue: Msg[] = [];
  private readonly waiters: Array<(m: Msg) => void> = [];
  closed: { code: number; reason: string } | undefined;
  readonly closedP: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly ws: WebSocket,
    private readonly on: Cluster,
  ) {
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as Msg;
      const w = this.waiters.shift();
      if (w) w(m);
      else this.queue.push(m);
    });
    this.closedP = new Promise((resolve) =>
      ws.on("close", (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        resolve(this.closed);
      }),
    );
  }

  static async open(path: string, on: Cluster = cluster): Promise<WsClient> {
    const ws = new WebSocket(on.wsUrl + path);
    const c = new WsClient(ws, on);
    sockets.add(c);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return c;
  }

  send(v: unknown): void {
    this.ws.send(typeof v === "string" ? v : JSON.stringify(v));
  }

  next(timeoutMs = 10_000): Promise<Msg> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no frame within ${timeoutMs} ms\n${this.on.logs()}`)), timeoutMs);
      this.waiters.push((f) => {
        clearTimeout(timer);
        resolve(f);
      });
    });
  }

  /** The close (the `ws` client's `close` event: close frame received and the TCP connection ended) within `ms`. */
  async closedWithin(ms = 10_000): Promise<{ code: number; reason: string }> {
    return Promise.race([this.closedP, sleep(ms).then(() => Promise.reject(new Error(`socket not closed within ${ms} ms`)))]);
  }
}

const rest = (path: string, body: unknown) => restCall(cluster, path, body);
/** The stream objects of `name` (REST /stream/find), [] when none. */
const streamObjects = (name: string) => findStreams(cluster, name);
/** A syntactically complete sendonly offer from a peer that never connects. */
const staticOffer = () => offer("sendonly");

// ---- protocol (plain ws client) -----------------------------------------------------------------------------------

describe("WebSocket endpoint protocol", () => {
  it("play of a stream that is not publishing: error Stream not found, close 4404; a bad name: 4400; no upgrade: 426", async () => {
    const [c, long] = await Promise.all([
      WsClient.open(`/${uniqueName("nope")}/webrtc/play`),
      WsClient.open(`/${"n".repeat(257)}/webrtc/publish`),
    ]);
    expect(await c.next()).toEqual({ type: "error", info: "Stream not found" });
    expect(await long.next()).toEqual({ type: "error", info: "Invalid request: the stream name must be 1 to 256 characters" });
    // both known at the upgrade (the StreamDO says whether the stream is publishing): closed at once
    expect(await long.closedWithin(1000)).toEqual({ code: 4400, reason: "Invalid request: the stream name must be 1 to 256 characters" });
    expect(await c.closedWithin(1000)).toEqual({ code: 4404, reason: "Stream not found" });

    const res = await fetch(`${cluster.httpUrl}/x/webrtc/publish`);
    expect(res.status).toBe(426);
    expect(await res.text()).toBe("Expected a WebSocket upgrade");
  });

  it("answers bad frames with an error and keeps working; an invalid offer is refused with 4400", async () => {
    const name = uniqueName("bad");
    const c = await WsClient.open(`/${name}/webrtc/publish`);
    c.send("not json");
    expect(await c.next()).toEqual({ type: "error", info: "Malformed JSON" });
    c.send({ type: "hello" });
    expect(await c.next()).toEqual({ type: "error", info: "Unknown message: hello" });
    c.send({ sdp: "x" });
    expect((await c.next()).info).toMatch(/^Invalid request: expected \{"type"/);
    c.send({ type: "offer" });
    expect((await c.next()).info).toMatch(/^Invalid request: sdp /);
    c.ws.send(Buffer.from([1, 2, 3]));
    expect(await c.next()).toEqual({ type: "error", info: "Binary frames are not supported" });
    c.send(JSON.stringify({ type: "offer", sdp: "v=0\r\n" + "a=x\r\n".repeat(20_000) }));
    expect((await c.next()).info).toMatch(/^Frame too large: \d+ bytes, the limit is 81920$/);
    c.send({ type: "answer", sdp: "v=0\r\n" });
    expect(await c.next()).toEqual({ type: "error", info: "Unexpected answer: on /publish the client sends the offer" });
    c.send({ type: "candidate", candidate: "candidate:garbage" });
    expect((await c.next()).info).toMatch(/^Invalid request: malformed candidate/);
    c.send({ type: "candidate", candidate: { candidate: 42 } });
    expect((await c.next()).info).toMatch(/^Invalid request: candidate/);
    expect(c.closed).toBeUndefined();

    // an offer that cannot publish: refused, socket closed; nothing reserved
    c.send({ type: "offer", sdp: staticOffer().replace("a=sendonly", "a=recvonly") });
    const err = await c.next();
    expect(err.type).toBe("error");
    expect(err.info).toMatch(/^Invalid SDP: no sendonly\/sendrecv m-line/);
    expect((await c.closedWithin(1000)).code).toBe(4400);
    expect(await streamObjects(name)).toEqual([]);
  });

  it("publishes from an offer: answer with every candidate, an ordinary stream; second offer, name in use, close ends it", async () => {
    const name = uniqueName("pub");
    const c = await WsClient.open(`/${encodeURIComponent(name)}/webrtc/publish`);
    // candidates before the offer wait for the leg; both forms; end-of-candidates ignored — none gets a reply
    c.send({ type: "candidate", candidate: { candidate: HOST_CANDIDATE, sdpMid: "0", sdpMLineIndex: 0 } });
    c.send({ type: "offer", sdp: staticOffer() });
    c.send({ type: "candidate", candidate: `a=${HOST_CANDIDATE}` });
    c.send({ type: "candidate", candidate: { candidate: "", sdpMid: "0" } });
    c.send({ type: "candidate", candidate: null });
    const answer = await c.next();
    expect(answer.type).toBe("answer");
    expect(answer.sdp).toMatch(/^v=0\r\n/);
    expect(answer.sdp).toMatch(/a=candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 \d+ typ host/i);
    expect(answer.sdp).toMatch(/a=end-of-candidates/);
    expect(answer.sdp).toMatch(/a=recvonly/);
    c.send({ type: "candidate", candidate: { candidate: HOST_CANDIDATE, sdpMid: "0" } });
    // an mDNS candidate reaches the node, which refuses it (and logs that): proof that trickling works
    const mdns = `candidate:2 1 udp 2122260223 ${randomUUID()}.local 9 typ host`;
    c.send({ type: "candidate", candidate: { candidate: mdns, sdpMid: "0", sdpMLineIndex: 0 } });
    c.send("not json"); // the next frame is this error: the candidates above got no reply
    expect(await c.next()).toEqual({ type: "error", info: "Malformed JSON" });
    await waitUntil(() => (cluster.logs().includes(mdns) && /remote candidates refused/.test(cluster.logs())) || undefined, 5000, () => `candidates reach the node\n${cluster.logs()}`);

    expect(await streamObjects(name)).toEqual([expect.objectContaining({ name, published: true, status: "PENDING", mediaType: "publish" })]);
    c.send({ type: "offer", sdp: staticOffer() });
    expect(await c.next()).toEqual({ type: "error", info: "Offer already received" });

    const dup = await WsClient.open(`/${name}/webrtc/publish`);
    dup.send({ type: "offer", sdp: staticOffer() });
    expect(await dup.next()).toEqual({ type: "error", info: "Stream name is already in use" });
    expect(await dup.closedWithin(1000)).toEqual({ code: 4409, reason: "Stream name is already in use" });
    expect(c.closed).toBeUndefined();

    c.ws.close(1000);
    await c.closedWithin();
    await waitUntil(async () => (await streamObjects(name)).length === 0, 10_000, "stream gone after close");
  });

  it("ends a publisher that never connects with status FAILED (ICE timeout) and close 4000", async () => {
    const name = uniqueName("ice");
    const c = await WsClient.open(`/${name}/webrtc/publish`);
    c.send({ type: "offer", sdp: staticOffer() });
    expect((await c.next()).type).toBe("answer");
    expect(await c.next(ICE_TIMEOUT_MS + 10_000)).toEqual({ type: "status", status: "FAILED", info: "Failed by ICE timeout" });
    expect(await c.closedWithin()).toEqual({ code: 4000, reason: "Failed by ICE timeout" });
    expect(await streamObjects(name)).toEqual([]);
  });

  it("REST /stream/terminate ends a WebSocket publisher: status UNPUBLISHED, close 1000", async () => {
    const name = uniqueName("term");
    const c = await WsClient.open(`/${name}/webrtc/publish`);
    c.send({ type: "offer", sdp: staticOffer() });
    expect((await c.next()).type).toBe("answer");
    expect((await rest("/stream/terminate", { name })).status).toBe(200);
    expect(await c.next()).toEqual({ type: "status", status: "UNPUBLISHED", info: "Stopped by rest /terminate" });
    expect(await c.closedWithin()).toEqual({ code: 1000, reason: "Stopped by rest /terminate" });
    expect(await streamObjects(name)).toEqual([]);
  });

  it("plays with a server offer (publisher's codec and SSRC); bad frames; an invalid answer is refused with 4400", async () => {
    const name = uniqueName("offer");
    const pub = await spawnPublisher({ url: cluster.wsUrl, name });
    await pub.waitForStatus("PUBLISHING");
    const c = await WsClient.open(`/${name}/webrtc/play`);
    const offer = await c.next();
    expect(offer.type).toBe("offer");
    const sdp = offer.sdp!;
    expect(sdp).toMatch(/^v=0\r\n/);
    expect(sdp).toMatch(/m=video \d+ UDP\/TLS\/RTP\/SAVPF \d+\r\n/);
    expect(sdp).toMatch(/m=audio /);
    expect(sdp.match(/a=sendonly/g)).toHaveLength(2);
    expect(sdp).toMatch(/a=rtpmap:\d+ VP8\/90000/);
    expect(sdp).toMatch(/a=rtpmap:\d+ opus\/48000\/2/);
    // the publisher's SSRCs, as it declared them in its own offer
    const pubSsrcs = [...String(pub.request.sdp).matchAll(/a=ssrc:(\d+) cname:/g)].map((m) => m[1]);
    for (const ssrc of sdp.match(/a=ssrc:(\d+) cname:/g)!.map((l) => /\d+/.exec(l)![0])) expect(pubSsrcs).toContain(ssrc);
    expect(sdp).toMatch(/a=candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 \d+ typ host/i);
    expect((await streamObjects(name)).map((s) => [s.published, s.status])).toEqual([
      [true, "PUBLISHING"],
      [false, "PENDING"],
    ]);

    c.send({ type: "offer", sdp: staticOffer() });
    expect(await c.next()).toEqual({ type: "error", info: "Unexpected offer: on /play the server sends the offer" });
    c.send({ type: "candidate", candidate: HOST_CANDIDATE }); // before the answer: kept, no reply
    c.send({ type: "answer", sdp: "hello" });
    const err = await c.next();
    expect(err).toEqual({ type: "error", info: expect.stringMatching(/^Invalid SDP: /) });
    expect((await c.closedWithin()).code).toBe(4400);
    await waitUntil(async () => (await streamObjects(name)).length === 1, 10_000, "player leg gone");
    expect(pub.lastStatus).toBe("PUBLISHING");
  });
});

// ---- refusals after the upgrade, to a client that never sent a frame ------------------------------------------------

/**
 * workerd ends the TCP connection of a hibernatable socket that the server closed before the client sent any frame
 * only ~10 s after the close handshake; the endpoint resets its object after such a refusal (worker/ws-endpoint-do.ts
 * webSocketClose). Own cluster: its one media node has room for one leg, so a play is refused by the node.
 */
describe("WebSocket endpoint: prompt closes of refusals after the upgrade", () => {
  let small: Cluster | undefined;
  afterAll(async () => {
    await small?.stop();
  });

  it("a play refused by a full node (4503) and a publish without an offer (4408) close within 1 s of their error", async () => {
    await small?.stop(); // a retry starts afresh
    small = await startCluster({ nodes: 0 });
    await small.startNode({ MEDIA_NODE_MAX_LEGS: "1" });
    // opened first: its offer timeout runs while the play is refused
    const idle = await WsClient.open(`/${uniqueName("idle")}/webrtc/publish`, small);
    const idleOpenedAt = Date.now();

    const name = uniqueName("full");
    const pub = await spawnPublisher({ url: small.wsUrl, name });
    await pub.waitForStatus("PUBLISHING");
    const openedAt = Date.now();
    const play = await WsClient.open(`/${name}/webrtc/play`, small);
    expect(await play.next()).toEqual({ type: "error", info: "Media node is full (1 legs)" });
    expect(await play.closedWithin(1000)).toEqual({ code: 4503, reason: "Media node is full (1 legs)" });
    expect(Date.now() - openedAt).toBeLessThan(3000);
    expect(pub.lastStatus).toBe("PUBLISHING");

    const info = `Invalid request: no offer within ${WS_OFFER_TIMEOUT_MS / 1000} s`;
    expect(await idle.next(WS_OFFER_TIMEOUT_MS + 15_000)).toEqual({ type: "error", info });
    expect(await idle.closedWithin(1000)).toEqual({ code: 4408, reason: info });
    expect(Date.now() - idleOpenedAt).toBeLessThan(WS_OFFER_TIMEOUT_MS + 5000);
  });
});

// ---- Chromium pages ------------------------------------------------------------------------------------------------

/**
 * Publisher and player with nothing but WebSocket + RTCPeerConnection. The publisher trickles RTCIceCandidateInit
 * objects, the player bare `candidate:…` strings (the two accepted forms).
 */
const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>WebSocket endpoint</title></head>
<body><video id="v" autoplay muted playsinline width="320" height="240"></video>
<script>
  window.state = { messages: [], sent: 0, errors: [], closed: null, pcState: "new" };
  function open(url) {
    const st = window.state;
    const ws = new WebSocket(url);
    window.ws = ws;
    ws.onclose = function (e) { st.closed = { code: e.code, reason: e.reason }; };
    return new Promise(function (resolve, reject) {
      ws.onopen = function () { resolve(ws); };
      ws.onerror = function () { reject(new Error("WebSocket error")); };
    });
  }
  function record(m) {
    window.state.messages.push(m.sdp ? { type: m.type } : m);
  }
  function watch(pc) {
    window.pc = pc;
    pc.onconnectionstatechange = function () { window.state.pcState = pc.connectionState; console.log("pc " + pc.connectionState); };
  }
  window.wsPublish = async function (url) {
    const st = window.state;
    const media = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
    const pc = new RTCPeerConnection();
    watch(pc);
    media.getTracks().forEach(function (t) { pc.addTransceiver(t, { direction: "sendonly", streams: [media] }); });
    const ws = await open(url);
    let answered;
    const answer = new Promise(function (r) { answered = r; });
    ws.onmessage = function (e) {
      const m = JSON.parse(e.data);
      record(m);
      if (m.type === "answer") answered(m.sdp);
    };
    pc.onicecandidate = function (e) {
      if (!e.candidate) return;
      ws.send(JSON.stringify({ type: "candidate", candidate: e.candidate.toJSON() }));
      st.sent++;
    };
    await pc.setLocalDescription(await pc.createOffer());
    ws.send(JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp }));
    await pc.setRemoteDescription({ type: "answer", sdp: await answer });
  };
  window.wsPlay = async function (url) {
    const st = window.state;
    const pc = new RTCPeerConnection();
    watch(pc);
    const video = document.getElementById("v");
    pc.ontrack = function (e) {
      const stream = e.streams[0] || new MediaStream([e.track]);
      if (video.srcObject !== stream) video.srcObject = stream;
    };
    pc.onicecandidate = function (e) {
      if (!e.candidate || !e.candidate.candidate) return;
      window.ws.send(JSON.stringify({ type: "candidate", candidate: e.candidate.candidate }));
      st.sent++;
    };
    const ws = await open(url);
    let chain = Promise.resolve();
    ws.onmessage = function (e) {
      const m = JSON.parse(e.data);
      record(m);
      chain = chain.then(async function () {
        if (m.type !== "offer") return;
        await pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
        await pc.setLocalDescription(await pc.createAnswer());
        ws.send(JSON.stringify({ type: "answer", sdp: pc.localDescription.sdp }));
      }).catch(function (err) { st.errors.push(String(err)); });
    };
  };
</script></body></html>`;

interface PageState {
  messages: Msg[];
  sent: number;
  errors: string[];
  closed: { code: number; reason: string } | null;
  pcState: string;
}

async function openPage(label: string): Promise<{ page: Page; report(): Promise<string> }> {
  browser ??= await launchBrowser();
  return openTestPage(browser, cluster, label, "ws-endpoint.html", PAGE_HTML);
}

const pageState = (page: Page) => page.evaluate(() => (window as unknown as { state: PageState }).state);
const wsUrl = (name: string, action: "publish" | "play") => `${cluster.wsUrl}/${encodeURIComponent(name)}/webrtc/${action}`;

describe("Chromium through the WebSocket endpoint", () => {
  it("a page publishes its camera, a WCS player decodes it by name; closing the page's socket ends the stream", async () => {
    const name = uniqueName("wspub");
    const { page, report } = await openPage("ws-publish");
    await withReport(report, async () => {
      await page.evaluate((url) => (window as unknown as { wsPublish(u: string): Promise<void> }).wsPublish(url), wsUrl(name, "publish"));
      const st = await waitUntil(async () => {
        const s = await pageState(page);
        return s.messages.some((m) => m.type === "status" && m.status === "PUBLISHING") ? s : undefined;
      }, 20_000, "status PUBLISHING on the page");
      expect(st.messages[0]).toEqual({ type: "answer" });
      expect(st.sent).toBeGreaterThan(0);
      expect(st.pcState).toBe("connected");
      const pubObj = (await streamObjects(name)).find((s) => s.published)!;
      expect(pubObj).toMatchObject({ status: "PUBLISHING", hasAudio: true, hasVideo: true, videoCodec: expect.stringMatching(/VP8/i) });

      const player = await spawnPlayer({ url: cluster.wsUrl, name });
      await player.waitForStatus("PLAYING");
      const first = await player.waitForStats((s) => s.framesDecoded >= 30 && (s.sizes["640x480"] ?? 0) > 0, 20_000, "30 decoded 640x480 frames");
      await sleep(1500);
      const later = await player.stats();
      expect(later.framesDecoded - first.framesDecoded, JSON.stringify(summarizeStats(later))).toBeGreaterThan(15);
      expect(later.audioSamples).toBeGreaterThan(48_000); // > 1 s of 48 kHz audio
      expect(later.audioRms).toBeGreaterThan(100);
      await saveScreenshot(page, "ws-endpoint-publisher");

      // closing the socket ends the stream like unPublishStream
      await page.evaluate(() => (window as unknown as { ws: WebSocket }).ws.close(1000, "bye"));
      const end = await player.waitForStatus("FAILED", 15_000);
      expect(end.info).toBe("Stopped by publisher stop");
      await waitUntil(async () => (await streamObjects(name)).length === 0, 10_000, "stream gone");
    });
  });

  it("a page plays a WCS publisher's stream with the server's offer; the publisher's stop reaches it as a status", async () => {
    const name = uniqueName("wsplay");
    const pub = await spawnPublisher({ url: cluster.wsUrl, name });
    await pub.waitForStatus("PUBLISHING");
    const { page, report } = await openPage("ws-play");
    await withReport(report, async () => {
      await page.evaluate((url) => (window as unknown as { wsPlay(u: string): Promise<void> }).wsPlay(url), wsUrl(name, "play"));
      await expectPagePlaysCamera(page, "video playing on the page");
      const st = await pageState(page);
      expect(st.errors).toEqual([]);
      expect(st.pcState).toBe("connected");
      expect(st.messages.slice(0, 2)).toEqual([{ type: "offer" }, { type: "status", status: "PLAYING" }]);
      expect((await streamObjects(name)).map((s) => [s.published, s.status])).toEqual([
        [true, "PUBLISHING"],
        [false, "PLAYING"],
      ]);
      await saveScreenshot(page, "ws-endpoint-player");

      await pub.stop();
      await pub.waitForStatus("UNPUBLISHED");
      const ended = await waitUntil(async () => {
        const s = await pageState(page);
        return s.closed ? s : undefined;
      }, 10_000, "page socket closed");
      expect(ended.messages.at(-1)).toEqual({ type: "status", status: "FAILED", info: "Stopped by publisher stop" });
      expect(ended.closed).toEqual({ code: 4000, reason: "Stopped by publisher stop" });
    });
  });
});
