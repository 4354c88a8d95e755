/**
 * TURN for players on networks that block direct media (README "TURN", docs/turn.md), against real parts: coturn
 * (`turnserver`, test/harness/coturn.ts) on loopback UDP + TCP with the TURN REST API's shared secret, `wrangler dev`
 * with TURN_URLS / TURN_SECRET / TURN_TTL_S and authentication on, one media node, an @roamhq/wrtc publisher, and
 * headless Chromium peers that may only use relayed candidates (`iceTransportPolicy: "relay"`):
 *
 * - `GET /ice-servers` hands out coturn's URIs with credentials `<expiry>:<sub>` / base64(HMAC-SHA1(secret, username))
 *   (recomputed here with node:crypto) to a client with a token, and 401 without one;
 * - coturn allocates a relay for those credentials (Chromium reaching it over UDP and over TCP), and refuses (401,
 *   Chromium's icecandidateerror) expired ones minted here with the same formula, and ones signed with another secret;
 * - our player page (`/player?relay=1`, our SDK fetching the servers itself) plays the stream through coturn over
 *   UDP: the selected candidate pair's local candidate is `relay`, frames are decoded at the published size, and
 *   coturn logged the allocation of the token's user;
 * - the official WCS Web SDK, given the servers as `createSession({mediaOptions: {iceServers, iceTransportPolicy}})`,
 *   plays through coturn (UDP);
 * - over TCP (`turn:…?transport=tcp`, the restrictive-network case) Chromium allocates and coturn relays, but the
 *   media node refuses Chromium's checks: libjuice takes the tie-breaker 0 Chromium sends from TCP/TLS TURN ports for
 *   a missing role attribute (libjuice #355). The test pins that known limitation and fails once it is gone.
 *
 * Skipped (with a message) only when `turnserver` is missing and CI is not set; .ci/run installs coturn.
 */
import { createHmac } from "node:crypto";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthInfo } from "../../protocol/access.js";
import type { IceServer, IceServersResponse } from "../../protocol/turn.js";
import { closeAllClients, spawnPublisher, type WcsClientHandle } from "../clients/index.js";
import { Diagnostics, elementProbe, launchBrowser, openRoutedPage, pageState, saveScreenshot, uniqueName, websdkFile, type BrowserHandle } from "../harness/browser.js";
import { startCluster, type Cluster } from "../harness/cluster.js";
import { haveTurnserver, startCoturn, type Coturn } from "../harness/coturn.js";
import { authVars, mintToken } from "../harness/tokens.js";

const TTL_S = 600;
const TEST_TIMEOUT_MS = 90_000;
const VIDEO_TIMEOUT_MS = 30_000;
const PUBLISHED = { width: 320, height: 240, fps: 15 };

const CI = !!process.env.CI;
const AVAILABLE = haveTurnserver();
/** Outside CI a machine without coturn skips this file, saying why in its title (and on the console). */
const SKIP = !AVAILABLE && !CI;
const SKIP_REASON = "skipped: `turnserver` is not installed (apt-get install coturn, as .ci/run does)";
if (SKIP) console.warn(`test/e2e/turn.test.ts ${SKIP_REASON}`);

let coturn: Coturn | undefined;
let cluster: Cluster | undefined;
let browser: BrowserHandle | undefined;
let publisher: WcsClientHandle | undefined;
let streamName = "";
const diag = new Diagnostics({ browser: () => browser, serverLogs: () => `${cluster?.logs() ?? ""}\n--- coturn ---\n${coturn?.logs(120) ?? ""}` }, 80);

/** base64(HMAC-SHA1(secret, username)): the TURN REST API password, computed independently of protocol/turn.ts. */
const turnPassword = (secret: string, username: string): string => createHmac("sha1", secret).update(username).digest("base64");

async function iceServersWith(token: string): Promise<IceServersResponse> {
  const res = await fetch(`${cluster!.httpUrl}/ice-servers`, { headers: { Authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as IceServersResponse;
}

/** The one publisher of the playback tests (started on first use): a wrtc client with a token that may publish it. */
async function publishedStream(): Promise<string> {
  if (!publisher) {
    streamName = uniqueName("turn");
    const token = await mintToken({ sub: "camera", publish: [streamName] });
    publisher = await spawnPublisher({ url: cluster!.wsUrl, name: streamName, custom: { token }, ...PUBLISHED });
    await publisher.waitForStatus("PUBLISHING");
  }
  return streamName;
}

interface Gathered {
  /** The relay candidates (a=candidate values). */
  relay: string[];
  errors: { url: string; errorCode: number; errorText: string }[];
}

/**
 * In `page`: a relay-only RTCPeerConnection with `iceServers` gathers its candidates (up to 10 s). Returns the relay
 * candidates and the `icecandidateerror` events (W3C webrtc-pc §4.8.2: `errorCode` is the TURN server's STUN error).
 */
function gather(page: Page, iceServers: IceServer[]): Promise<Gathered> {
  return page.evaluate(async (servers) => {
    const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: "relay" });
    const out: Gathered = { relay: [], errors: [] };
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      pc.addEventListener("icecandidate", (e) => {
        if (e.candidate?.candidate.includes(" typ relay")) out.relay.push(e.candidate.candidate);
        if (!e.candidate) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    pc.addEventListener("icecandidateerror", (e) => out.errors.push({ url: e.url, errorCode: e.errorCode, errorText: e.errorText }));
    pc.createDataChannel("probe");
    await pc.setLocalDescription(await pc.createOffer());
    await done;
    pc.close();
    return out;
  }, iceServers);
}

describe.skipIf(SKIP)(`TURN: coturn with the TURN REST API's shared secret${SKIP ? ` — ${SKIP_REASON}` : ""}`, () => {
  beforeAll(async () => {
    if (!AVAILABLE) throw new Error("`turnserver` not found: apt-get install coturn (see .ci/run)");
    coturn = await startCoturn();
    cluster = await startCluster({
      nodes: 1,
      vars: { ...authVars(), TURN_URLS: `${coturn.udpUrl},${coturn.tcpUrl}`, TURN_SECRET: coturn.secret, TURN_TTL_S: String(TTL_S) },
    });
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await publisher?.close();
    await closeAllClients();
    await browser?.close();
    await cluster?.stop();
    await coturn?.stop();
  }, 60_000);

  it("GET /ice-servers: 401 without a token (AUTH on); a token gets coturn's URIs with REST API credentials for its sub", async () => {
    const none = await fetch(`${cluster!.httpUrl}/ice-servers`);
    expect(none.status).toBe(401);
    expect(none.headers.get("WWW-Authenticate")).toBe('Bearer realm="ice-servers"');
    expect(await none.json()).toEqual({ error: AuthInfo.TOKEN_REQUIRED });

    const before = Math.floor(Date.now() / 1000);
    const answer = await iceServersWith(await mintToken({ sub: "viewer-1", play: ["*"] }));
    expect(answer.ttl).toBe(TTL_S);
    expect(answer.iceServers).toHaveLength(1);
    const turn = answer.iceServers[0]!;
    expect(turn.urls).toEqual([coturn!.udpUrl, coturn!.tcpUrl]);
    const m = /^(\d+):viewer-1$/.exec(turn.username ?? "");
    expect(m, `username ${turn.username}`).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(before + TTL_S);
    expect(Number(m![1])).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + TTL_S);
    expect(turn.credential).toBe(turnPassword(coturn!.secret, turn.username!));
  });

  it(
    "coturn allocates a relay with the worker's credentials, and refuses (401) expired ones and ones of another secret",
    async () => {
      const page = await browser!.newPage("gather");
      await page.goto(`${cluster!.httpUrl}/player`);
      const udp = { urls: coturn!.udpUrl };

      const fresh = (await iceServersWith(await mintToken({ sub: "viewer-2" }))).iceServers[0]!;
      const tcpClients = () => coturn!.logs(3000).match(/tcp or tls connected to/g)?.length ?? 0;
      for (const url of [coturn!.udpUrl, coturn!.tcpUrl]) {
        const tcpBefore = tcpClients();
        const ok = await gather(page, [{ ...fresh, urls: url }]);
        if (ok.relay.length === 0) await diag.fail(`no relay candidate through ${url} with fresh credentials: ${JSON.stringify(ok)}`);
        expect(ok.relay[0]).toMatch(/ 127\.0\.0\.1 \d+ typ relay/);
        // over TCP, Chromium reached coturn on a TCP connection (coturn logs each one)
        if (url === coturn!.tcpUrl) expect(tcpClients()).toBeGreaterThan(tcpBefore);
      }

      const expiredName = `${Math.floor(Date.now() / 1000) - 60}:viewer-2`;
      const expired = await gather(page, [{ ...udp, username: expiredName, credential: turnPassword(coturn!.secret, expiredName) }]);
      expect(expired.relay, "relay candidates with expired credentials").toEqual([]);
      expect(expired.errors.map((e) => e.errorCode), JSON.stringify(expired.errors)).toContain(401);

      const forgedName = `${Math.floor(Date.now() / 1000) + 600}:viewer-2`;
      const forged = await gather(page, [{ ...udp, username: forgedName, credential: turnPassword("not-the-secret-of-this-coturn", forgedName) }]);
      expect(forged.relay, "relay candidates with a wrong password").toEqual([]);
      expect(forged.errors.map((e) => e.errorCode), JSON.stringify(forged.errors)).toContain(401);
      await page.close();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "our player page with ?relay=1 plays through coturn over UDP: relay candidate pair, frames decoded at the published size",
    async () => {
      const name = await publishedStream();
      const token = await mintToken({ sub: "viewer-3", play: [name] });
      const page = await browser!.newPage("relay-player");
      const state = () => pageState<{ play: { status: string } | null; video: { videoWidth: number; videoHeight: number; frames: number }; route: unknown; error: string; history: string[] }>(page, "player");
      diag.reports.set("relay-player", async () => JSON.stringify(await state(), null, 1));
      await page.goto(`${cluster!.httpUrl}/player?name=${encodeURIComponent(name)}&token=${encodeURIComponent(token)}&relay=1`);
      await diag.within("player page script", 10_000, page.waitForFunction(() => "player" in window));
      await page.click("#play");
      await diag.waitUntil("relay player: PLAYING", state, (s) => s.play?.status === "PLAYING", 30_000);
      await diag.expectLiveVideos([elementProbe(page, "relay player", "#display video")], VIDEO_TIMEOUT_MS);
      const s = await diag.waitUntil("relay player: frames decoded", state, (x) => x.video.frames > 10 && x.route !== null);
      expect(s.route).toEqual({ local: "relay", remote: expect.any(String), relayProtocol: "udp", protocol: "udp" });
      expect({ w: s.video.videoWidth, h: s.video.videoHeight }).toEqual({ w: PUBLISHED.width, h: PUBLISHED.height });
      expect(s.error).toBe("");
      // coturn saw this user's allocation (the user id of the username is the token's sub)
      expect(coturn!.logs(3000)).toMatch(/user <\d+:viewer-3>: incoming packet ALLOCATE processed, success/);
      await saveScreenshot(page, "turn-relay-player");
      await page.close();
      diag.reports.delete("relay-player");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "the official Web SDK given the servers as createSession({mediaOptions: {iceServers, iceTransportPolicy}}) plays through coturn",
    async () => {
      const r = await webSdkThroughTurn("websdk-udp", "viewer-4", "udp");
      if (r.outcome !== "playing") await diag.fail(`Web SDK player over TURN/UDP: ${r.outcome}`);
      // what the page gave the SDK (and the SDK the RTCPeerConnection): coturn's UDP URI only, relay only
      expect(r.report.configs).toEqual([
        { iceServers: [{ urls: coturn!.udpUrl, username: expect.stringMatching(/^\d+:viewer-4$/), credential: expect.any(String) }], iceTransportPolicy: "relay", bundlePolicy: "max-compat" },
      ]);
      expect(r.report.route).toEqual({ local: "relay", relayProtocol: "udp" });
      expect({ w: r.report.videoWidth, h: r.report.videoHeight }).toEqual({ w: PUBLISHED.width, h: PUBLISHED.height });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "TURN over TCP: Chromium allocates through coturn, but the media node refuses its checks (known: libjuice #355)",
    async () => {
      // Chromium (152–156 at least) sends ICE-CONTROLLING / ICE-CONTROLLED with a tie-breaker of 0 from a TURN port
      // over TCP or TLS; libjuice (node-datachannel's ICE) takes a 0 for a missing attribute and answers 400
      // (https://github.com/paullouisageneau/libjuice/issues/355, fix proposed in PR #356). When this test fails
      // because the stream plays, the media node's ICE is fixed: make this the TCP twin of the UDP test above and
      // drop the caveat from README "TURN" and docs/turn.md.
      const r = await webSdkThroughTurn("websdk-tcp", "viewer-5", "tcp");
      expect(r.report.configs).toEqual([
        { iceServers: [{ urls: coturn!.tcpUrl, username: expect.stringMatching(/^\d+:viewer-5$/), credential: expect.any(String) }], iceTransportPolicy: "relay", bundlePolicy: "max-compat" },
      ]);
      if (r.outcome === "playing") await diag.fail("TURN over TCP plays now: libjuice #355 is fixed in this media node — update this test and the docs");
      expect(r.outcome).toBe("FAILED");
      // coturn allocated for this user over TCP and relayed the checks both ways; the node answered them with 400
      expect(coturn!.logs(3000)).toMatch(/user <\d+:viewer-5>: incoming packet ALLOCATE processed, success/);
      expect(cluster!.logs()).toMatch(/Controlling and controlled attributes mismatch in request/);
    },
    TEST_TIMEOUT_MS,
  );
});

/**
 * The official Web SDK page ({@link WEBSDK_TURN_PAGE}) plays the published stream with only coturn's `transport`
 * URI and relay-only ICE; resolves once it plays with decoded frames ("playing") or the stream ended (its status).
 */
async function webSdkThroughTurn(label: string, sub: string, transport: "udp" | "tcp"): Promise<{ outcome: string; report: TurnPageReport }> {
  const name = await publishedStream();
  const token = await mintToken({ sub, play: [name] });
  const page = await openRoutedPage(
    browser!,
    cluster!.httpUrl,
    label,
    {
      "turn.html": { contentType: "text/html", body: WEBSDK_TURN_PAGE },
      "flashphoner-webrtc-only.js": { contentType: "application/javascript", body: websdkFile("flashphoner-webrtc-only.js") },
    },
    "turn.html",
  );
  const report = () => page.evaluate(() => (window as unknown as { report(): Promise<TurnPageReport> }).report());
  diag.reports.set(label, async () => JSON.stringify(await report(), null, 1));
  try {
    await page.evaluate(
      ([url, t, n, tr]) => (window as unknown as { start(u: string, t: string, n: string, tr: string): Promise<void> }).start(url!, t!, n!, tr!),
      [cluster!.wsUrl, token, name, transport],
    );
    const r = await diag.waitUntil(
      `${label}: PLAYING with decoded frames, or the stream's end`,
      report,
      (x) => x.statuses.some((st) => st === "FAILED" || st === "STOPPED") || (x.statuses.includes("PLAYING") && x.framesDecoded > 10 && x.route !== null),
      VIDEO_TIMEOUT_MS,
    );
    const ended = r.statuses.find((st) => st === "FAILED" || st === "STOPPED");
    return { outcome: ended ?? "playing", report: r };
  } finally {
    await page.close();
    diag.reports.delete(label);
  }
}

interface TurnPageReport {
  statuses: string[];
  /** Every candidate pair: "local type/protocol address:port -> remote type address:port state req/resp counts". */
  pairs: string[];
  configs: unknown[];
  route: { local: string; relayProtocol: string | null } | null;
  framesDecoded: number;
  videoWidth: number;
  videoHeight: number;
}

/**
 * The official Web SDK (flashphoner-webrtc-only.js, unchanged) as a WCS customer would use it with our TURN endpoint:
 * `start(urlServer, token, name, transport)` asks `/ice-servers?token=…`, keeps the TURN URI of `transport` only, and
 * passes it as
 * `createSession({mediaOptions: {iceServers, iceTransportPolicy: "relay"}})` (flashphoner-core.js createSession →
 * webrtc-media-provider.js createConnection → `new RTCPeerConnection(mediaOptions)`). RTCPeerConnection is wrapped
 * before the SDK loads so that `report()` reads each one's configuration and stats.
 */
const WEBSDK_TURN_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Web SDK over TURN</title>
<script>
  const Native = window.RTCPeerConnection;
  window.pcs = [];
  window.configs = [];
  window.RTCPeerConnection = function (config, constraints) {
    window.configs.push(JSON.parse(JSON.stringify(config)));
    const pc = new Native(config, constraints);
    window.pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
</script>
<script src="/__test/flashphoner-webrtc-only.js"></script></head>
<body><div id="display" style="width:320px;height:240px"></div>
<script>
  const statuses = [];
  window.start = async function (urlServer, token, name, transport) {
    const answer = await (await fetch("/ice-servers?token=" + encodeURIComponent(token))).json();
    const turn = answer.iceServers.find((s) => s.username);
    const url = [].concat(turn.urls).find((u) => u.endsWith("?transport=" + transport));
    await Flashphoner.init({ preferredMediaProviders: ["WebRTC"] });
    const session = Flashphoner.createSession({
      urlServer: urlServer,
      custom: { token: token },
      mediaOptions: { iceServers: [{ urls: url, username: turn.username, credential: turn.credential }], iceTransportPolicy: "relay" },
    });
    session.on(Flashphoner.constants.SESSION_STATUS.ESTABLISHED, function () {
      const stream = session.createStream({ name: name, display: document.getElementById("display") });
      Object.values(Flashphoner.constants.STREAM_STATUS).forEach(function (s) {
        stream.on(s, function (st) { statuses.push(st.status()); });
      });
      stream.play();
    });
  };
  window.report = async function () {
    const out = { statuses: statuses, configs: window.configs, route: null, framesDecoded: 0, videoWidth: 0, videoHeight: 0, pairs: [] };
    const pc = window.pcs[window.pcs.length - 1];
    const video = document.querySelector("#display video");
    if (video) { out.videoWidth = video.videoWidth; out.videoHeight = video.videoHeight; }
    if (!pc) return out;
    const byId = new Map();
    (await pc.getStats()).forEach((r) => byId.set(r.id, r));
    for (const r of byId.values()) {
      if (r.type === "inbound-rtp" && r.kind === "video") out.framesDecoded = r.framesDecoded || 0;
      if (r.type === "candidate-pair") {
        const l = byId.get(r.localCandidateId), rc = byId.get(r.remoteCandidateId);
        out.pairs.push((l && l.candidateType + "/" + (l.relayProtocol || l.protocol) + " " + l.address + ":" + l.port) + " -> " + (rc && rc.candidateType + " " + rc.address + ":" + rc.port) + " " + r.state + " req " + r.requestsSent + " resp " + r.responsesReceived + " reqRecv " + r.requestsReceived);
      }
      if (r.type === "transport" && r.selectedCandidatePairId) {
        const pair = byId.get(r.selectedCandidatePairId);
        const local = pair && byId.get(pair.localCandidateId);
        if (local) out.route = { local: local.candidateType, relayProtocol: local.relayProtocol || null };
      }
    }
    return out;
  };
</script></body></html>`;
