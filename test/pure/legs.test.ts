/**
 * The media node's leg rules (media-node/legs.ts LegManager) with real node-datachannel PeerConnections bound to
 * 127.0.0.1 (they gather in milliseconds; nothing connects unless a test brings a peer): unique leg ids, one publisher
 * per stream, players need the publisher, the leg cap, offer-mode players, trickled candidates, and the notices legs
 * leave (with the cause of each removal). Every test closes its legs.
 */
import { Audio, PeerConnection, Video } from "node-datachannel";
import { afterEach, describe, expect, it } from "vitest";
import type { EngineOptions } from "../../media-node/engine/index.js";
import { LegManager, type LegNotice } from "../../media-node/legs.js";
import type { CreateLegResponse } from "../../protocol/media-node.js";
import { checkOffer } from "../../protocol/sdp.js";
import { OFFERS, expectRefusal, expectRefusalAsync, offer, type OfferName } from "./helpers.js";

const ENGINE: EngineOptions = {
  bindAddress: "127.0.0.1",
  gatherTimeoutMs: 5000,
  connectTimeoutMs: 60_000,
  keyframeIntervalMs: 500,
  publisherMaxBitrateBps: 2_500_000,
};

const managers: LegManager[] = [];
const peers: PeerConnection[] = [];

/** A LegManager whose notices are kept in `notices`; closed after the test. */
function node(opts: { maxLegs?: number; engine?: Partial<EngineOptions>; overloaded?: () => string | undefined } = {}) {
  const notices: LegNotice[] = [];
  const legs = new LegManager({
    engine: { ...ENGINE, ...opts.engine },
    maxLegs: opts.maxLegs ?? 0,
    onNotice: (n) => notices.push(n),
    ...(opts.overloaded ? { overloaded: opts.overloaded } : {}),
  });
  managers.push(legs);
  /** "kind legId[ cause|failure]" of every notice so far. */
  const log = () =>
    notices.map((n) => [n.kind, n.legId, n.kind === "removed" ? n.cause : n.kind === "failed" ? n.failure : undefined].filter(Boolean).join(" "));
  return { legs, notices, log };
}

/** The offer an entry point hands on (checkOffer's text: bundle-only m-lines activated). */
const checked = (name: OfferName, role: "publisher" | "player") => {
  const c = checkOffer(offer(name), role);
  if (!c.ok) throw new Error(c.reason);
  return c.text;
};

const answerOf = (r: CreateLegResponse) => ("answer" in r ? r.answer : expect.fail("expected an answer"));
const offerOf = (r: CreateLegResponse) => ("offer" in r ? r.offer : expect.fail("expected an offer"));
const lines = (sdp: string, prefix: string) => sdp.split("\r\n").filter((l) => l.startsWith(prefix));

/** A node-datachannel peer on 127.0.0.1 (closed after the test). */
function peer(): PeerConnection {
  const pc = new PeerConnection(`peer-${peers.length}`, { iceServers: [], bindAddress: "127.0.0.1" });
  peers.push(pc);
  return pc;
}
async function gathered(pc: PeerConnection): Promise<string> {
  for (let i = 0; i < 1000 && pc.gatheringState() !== "complete"; i++) await new Promise((r) => setTimeout(r, 5));
  return pc.localDescription()!.sdp;
}
/**
 * The SDP without its candidates. Applying a native peer's description that carries candidates can hit a
 * libdatachannel race on a busy CPU ("Got a remote candidate without ICE transport"); without them, the ICE agent
 * learns the peer's address from its checks (peer-reflexive), which is also how WCS clients connect.
 */
const withoutCandidates = (sdp: string) => sdp.split("\r\n").filter((l) => !l.startsWith("a=candidate:") && l !== "a=end-of-candidates").join("\r\n");

/** Waits for `cond`; a timeout says what was waited for and `report()` (the notices, a peer's state). */
async function until(what: string, cond: () => boolean, ms = 5000, report: () => unknown = () => ""): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(report())}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
/** A peer's states, for failure messages. */
const peerState = (pc: PeerConnection) => ({ state: pc.state(), ice: pc.iceState(), signaling: pc.signalingState() });

afterEach(() => {
  for (const m of managers.splice(0)) m.closeAll();
  for (const pc of peers.splice(0)) pc.close();
});
// No shutdownEngine() (node-datachannel cleanup()) here: under load it can deadlock in TrackWrapper::CleanupAll
// (napi_release_threadsafe_function), which would hang the run; the fork's exit releases everything.

// ---------------------------------------------------------------------------------------------------------------
describe("creating legs from real offers", () => {
  it("a publisher: the answer carries our candidates and only the chosen codecs; created notice; status and counts", async () => {
    const { legs, notices } = node();
    const r = await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    expect(r.media).toEqual({ videoCodec: "VP8", audioCodec: "opus" });
    const answer = answerOf(r);
    expect(lines(answer, "m=").map((l) => l.replace(/ \d+ /, " PORT "))).toEqual(["m=audio PORT UDP/TLS/RTP/SAVPF 111", "m=video PORT UDP/TLS/RTP/SAVPF 96"]);
    expect(lines(answer, "a=recvonly")).toHaveLength(2);
    expect(lines(answer, "a=candidate:").every((l) => l.includes(" 127.0.0.1 "))).toBe(true);
    expect(lines(answer, "a=candidate:").length).toBeGreaterThan(0);
    expect(answer).toContain("a=end-of-candidates");
    expect(notices).toEqual([{ kind: "created", legId: "pub", streamName: "cam", role: "publisher", videoCodec: "VP8", audioCodec: "opus", answerMs: expect.any(Number) }]);
    expect(legs.status()).toEqual([{ legId: "pub", streamName: "cam", role: "publisher", state: "new", packetsIn: 0, packetsOut: 0 }]);
    expect(legs.counts()).toEqual({ publishers: 1, players: 0 });
    expect(legs.publisherLegs().map((l) => l.legId)).toEqual(["pub"]);
  });

  it.each([
    [OFFERS.firefoxPublish, { videoCodec: "VP8", audioCodec: "opus" }, ["m=audio PORT UDP/TLS/RTP/SAVPF 109", "m=video PORT UDP/TLS/RTP/SAVPF 120"]],
    [OFFERS.gstreamerVp8, { videoCodec: "VP8", audioCodec: "OPUS" }, ["m=video PORT UDP/TLS/RTP/SAVPF 96", "m=audio PORT UDP/TLS/RTP/SAVPF 100"]],
    [OFFERS.gstreamerH264, { videoCodec: "H264", audioCodec: "OPUS" }, ["m=video PORT UDP/TLS/RTP/SAVPF 96", "m=audio PORT UDP/TLS/RTP/SAVPF 100"]],
    [OFFERS.obs, { videoCodec: "H264", audioCodec: "OPUS" }, ["m=audio PORT UDP/TLS/RTP/SAVPF 111", "m=video PORT UDP/TLS/RTP/SAVPF 96"]],
    // the recvonly video m-line is answered inactive, the data channel m-line kept as the engine answers it
    [OFFERS.safari, { audioCodec: "opus" }, ["m=video PORT UDP/TLS/RTP/SAVPF 96", "m=audio PORT UDP/TLS/RTP/SAVPF 111", "m=application PORT UDP/DTLS/SCTP webrtc-datachannel"]],
  ])("a publisher from %s", async (name, media, mlines) => {
    const { legs } = node();
    const r = await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: checked(name, "publisher") });
    expect(r.media).toEqual(media);
    expect(lines(answerOf(r), "m=").map((l) => l.replace(/ \d+ /, " PORT "))).toEqual(mlines);
  });

  it("a player gets the publisher's codec under its own payload type and the publisher's SSRCs (OBS H.264 → Safari)", async () => {
    const { legs } = node();
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.obs) });
    const r = await legs.create({ legId: "play", streamName: "cam", role: "player", offer: offer(OFFERS.safari) });
    expect(r.media).toEqual({ videoCodec: "H264", audioCodec: "opus" });
    const answer = answerOf(r);
    expect(lines(answer, "m=").map((l) => l.replace(/ \d+ /, " PORT "))).toEqual([
      "m=video PORT UDP/TLS/RTP/SAVPF 98",
      "m=audio PORT UDP/TLS/RTP/SAVPF 111",
      "m=application PORT UDP/DTLS/SCTP webrtc-datachannel",
    ]);
    expect(lines(answer, "a=rtpmap:98 ")).toEqual(["a=rtpmap:98 H264/90000"]);
    expect(lines(answer, "a=fmtp:98 ")).toEqual(["a=fmtp:98 profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1"]);
    expect(lines(answer, "a=ssrc:").filter((l) => l.includes("cname:"))).toEqual(["a=ssrc:2168349680 cname:OTU9sDg2gfT6S7D7", "a=ssrc:2168349679 cname:OTU9sDg2gfT6S7D7"]);
    expect(legs.counts()).toEqual({ publishers: 1, players: 1 });
  });

  it("refusals while planning register nothing", async () => {
    const { legs, notices } = node();
    await expectRefusalAsync(legs.create({ legId: "a", streamName: "cam", role: "publisher", offer: "hello" }), "invalid_sdp", "Invalid SDP: missing v=0 line");
    await expectRefusalAsync(legs.create({ legId: "a", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePlay) }), "invalid_sdp", /no sendonly\/sendrecv/);
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.obs) });
    // Debian's Firefox ESR has no H.264
    await expectRefusalAsync(legs.create({ legId: "b", streamName: "cam", role: "player", offer: offer(OFFERS.firefoxPlay) }), "no_common_codecs", "No common codecs");
    expect(legs.counts()).toEqual({ publishers: 1, players: 0 });
    expect(notices.map((n) => n.kind)).toEqual(["created"]);
  });

  it("an offer the engine refuses: invalid_sdp, and the leg is removed (creation_failed)", async () => {
    const { legs, log } = node();
    const noUfrag = offer(OFFERS.chromePublish).replace(/a=ice-ufrag:.*\r\n/g, "");
    await expectRefusalAsync(legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: noUfrag }), "invalid_sdp", "Invalid SDP: Remote description has no ICE user fragment");
    expect(log()).toEqual(["removed pub creation_failed"]);
    expect(legs.counts()).toEqual({ publishers: 0, players: 0 });
    // the name is free again
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
  });

  it("a leg deleted while it gathers: stopped", async () => {
    const { legs, log } = node();
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    const pending = legs.create({ legId: "play", streamName: "cam", role: "player", offer: offer(OFFERS.chromePlay) });
    expect(legs.delete("play")).toBe(true);
    await expectRefusalAsync(pending, "stopped", "Leg was closed while it was being created");
    expect(log()).toEqual(["created pub", "removed play deleted"]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("the node's rules", () => {
  it("a leg id is unique on the node: conflict", async () => {
    const { legs } = node();
    await legs.create({ legId: "x", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    await expectRefusalAsync(legs.create({ legId: "x", streamName: "other", role: "publisher", offer: offer(OFFERS.chromePublish) }), "conflict", "Leg x already exists");
    await expectRefusalAsync(legs.create({ legId: "x", streamName: "cam", role: "player", offer: offer(OFFERS.chromePlay) }), "conflict", "Leg x already exists");
    await expectRefusalAsync(legs.createPullLeg({ legId: "x", streamName: "pulled" }), "conflict", "Leg x already exists");
  });

  it("one publisher per stream name: name_in_use (checked before the offer is read)", async () => {
    const { legs } = node();
    await legs.create({ legId: "p1", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    await expectRefusalAsync(legs.create({ legId: "p2", streamName: "cam", role: "publisher", offer: offer(OFFERS.obs) }), "name_in_use", "Stream cam already has a publisher on this node");
    await expectRefusalAsync(legs.create({ legId: "p3", streamName: "cam", role: "publisher", offer: "garbage" }), "name_in_use");
    await expectRefusalAsync(legs.createPullLeg({ legId: "p4", streamName: "cam" }), "name_in_use");
    // another name is fine
    await legs.create({ legId: "p5", streamName: "cam2", role: "publisher", offer: offer(OFFERS.obs) });
    expect(legs.counts()).toEqual({ publishers: 2, players: 0 });
  });

  it("a player needs the stream's publisher on this node: not_found (answer and offer mode)", async () => {
    const { legs } = node();
    await expectRefusalAsync(legs.create({ legId: "a", streamName: "nobody", role: "player", offer: offer(OFFERS.chromePlay) }), "not_found", "Stream not found");
    await expectRefusalAsync(legs.create({ legId: "b", streamName: "nobody", role: "player" }), "not_found", "Stream not found");
    expect(legs.counts()).toEqual({ publishers: 0, players: 0 });
  });

  it("a publisher needs an offer: invalid_request", async () => {
    const { legs } = node();
    await expectRefusalAsync(legs.create({ legId: "a", streamName: "cam", role: "publisher" }), "invalid_request", "Invalid request: a publisher leg needs the client's offer");
  });

  it("maxLegs: node_full once that many legs exist (negotiating ones included); room again after a delete", async () => {
    const { legs } = node({ maxLegs: 2 });
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    const second = legs.create({ legId: "play1", streamName: "cam", role: "player", offer: offer(OFFERS.chromePlay) });
    // play1 still gathering: it counts
    await expectRefusalAsync(legs.create({ legId: "play2", streamName: "cam", role: "player", offer: offer(OFFERS.firefoxPlay) }), "node_full", "Media node is full (2 legs)");
    await second;
    await expectRefusalAsync(legs.createPullLeg({ legId: "pull", streamName: "other" }), "node_full");
    expect(legs.delete("play1")).toBe(true);
    await legs.create({ legId: "play2", streamName: "cam", role: "player", offer: offer(OFFERS.firefoxPlay) });
    expect(legs.counts()).toEqual({ publishers: 1, players: 1 });
  });

  it("measured load: node_full with the gate's reason while it gives one; existing legs untouched", async () => {
    let reason: string | undefined;
    const { legs } = node({ overloaded: () => reason });
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    reason = "event loop lag 420 ms";
    await expectRefusalAsync(legs.create({ legId: "play1", streamName: "cam", role: "player", offer: offer(OFFERS.chromePlay) }), "node_full", "Media node is full (event loop lag 420 ms)");
    expect(legs.counts()).toEqual({ publishers: 1, players: 0 });
    reason = undefined;
    await legs.create({ legId: "play1", streamName: "cam", role: "player", offer: offer(OFFERS.chromePlay) });
    expect(legs.counts()).toEqual({ publishers: 1, players: 1 });
  });

  it("maxLegs 0 = no limit", async () => {
    const { legs } = node({ maxLegs: 0 });
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    for (let i = 0; i < 5; i++) await legs.create({ legId: `p${i}`, streamName: "cam", role: "player", offer: offer(OFFERS.websdkPlay) });
    expect(legs.counts()).toEqual({ publishers: 1, players: 5 });
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("offer-mode players", () => {
  it("the offer: one sendonly m-line per kind, video first, mids 0 and 1, the publisher's payload types and SSRCs", async () => {
    const { legs } = node();
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: checked(OFFERS.gstreamerH264, "publisher") });
    const r = await legs.create({ legId: "play", streamName: "cam", role: "player" });
    expect(r.media).toEqual({ videoCodec: "H264", audioCodec: "OPUS" });
    const sdp = offerOf(r);
    expect(lines(sdp, "m=").map((l) => l.replace(/ \d+ /, " PORT "))).toEqual(["m=video PORT UDP/TLS/RTP/SAVPF 96", "m=audio PORT UDP/TLS/RTP/SAVPF 100"]);
    expect(lines(sdp, "a=mid:")).toEqual(["a=mid:0", "a=mid:1"]);
    expect(lines(sdp, "a=sendonly")).toHaveLength(2);
    expect(lines(sdp, "a=ssrc:").filter((l) => l.includes("cname:"))).toEqual(["a=ssrc:2 cname:user716500533@host-a42eae9e", "a=ssrc:1 cname:user716500533@host-a42eae9e"]);
    expect(sdp).toContain("a=end-of-candidates");
  });

  // retry: real ICE between two peers on loopback; on a heavily oversubscribed CPU libjuice can time out (seen once in
  // 36 runs of this file with six such files at once on two cores), never on an ordinary run
  it("applyAnswer: checked against the offer; refused answers leave the leg waiting; a real peer's answer connects it", { timeout: 15_000, retry: 1 }, async () => {
    const { legs, notices, log } = node();
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    const r = await legs.create({ legId: "play", streamName: "cam", role: "player" });
    const client = peer();
    client.setRemoteDescription(offerOf(r), "offer");
    const answer = withoutCandidates(await gathered(client));
    expect(lines(answer, "a=recvonly")).toHaveLength(2);

    expectRefusal(() => legs.applyAnswer("play", { answer: answer.replace("a=mid:1", "a=mid:7") }), "invalid_sdp", 'Invalid SDP: answer has an m-line with mid "7" that was not offered');
    expectRefusal(() => legs.applyAnswer("play", { answer: answer.replace(/ 96\r\n/, " 97\r\n").replace("a=rtpmap:96 ", "a=rtpmap:97 ") }), "no_common_codecs");
    expectRefusal(() => legs.applyAnswer("nope", { answer }), "not_found", "Leg nope not found");
    expectRefusal(() => legs.applyAnswer("pub", { answer }), "conflict", "Leg is not waiting for an answer");

    expect(legs.applyAnswer("play", { answer })).toEqual({ ok: true, media: { videoCodec: "VP8", audioCodec: "opus" } });
    expectRefusal(() => legs.applyAnswer("play", { answer }), "conflict", "Leg is not waiting for an answer");
    // the peer's candidates arrive trickled, as from a WebSocket-endpoint client
    const candidates = lines(await gathered(client), "a=candidate:").map((l) => ({ candidate: l.slice(2), mid: "0" }));
    expect(candidates.length).toBeGreaterThan(0);
    expect(legs.addCandidates("play", { candidates })).toEqual({ added: candidates.length, rejected: [] });
    await until("the player to connect", () => log().includes("connected play"), 8000, () => ({ notices, peer: peerState(client) }));
    expect(legs.status().find((s) => s.legId === "play")?.state).toBe("connected");
    expect(log()).toEqual(["created pub", "created play", "connected play"]);
  });

  it("applyAnswer reports only the kinds the answer accepted", async () => {
    const { legs } = node();
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    const r = await legs.create({ legId: "play", streamName: "cam", role: "player" });
    const client = peer();
    client.setRemoteDescription(offerOf(r), "offer");
    const answer = withoutCandidates(await gathered(client));
    // the audio m-line (mid 1) turned inactive: rejected by the remote
    const videoOnly = answer.replace(/(a=mid:1\r\n)a=recvonly/, "$1a=inactive");
    expect(videoOnly).not.toBe(answer);
    expect(legs.applyAnswer("play", { answer: videoOnly })).toEqual({ ok: true, media: { videoCodec: "VP8" } });
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("relay pull legs", () => {
  it("offers to receive every codec we can forward; the remote answer sets what the stream carries", async () => {
    const { legs, log } = node();
    const r = await legs.createPullLeg({ legId: "pull", streamName: "remote-cam" });
    expect(r.media).toEqual({});
    const sdp = offerOf(r);
    expect(lines(sdp, "m=").map((l) => l.replace(/ \d+ /, " PORT "))).toEqual([
      "m=video PORT UDP/TLS/RTP/SAVPF 96 102 104 106 108 110 98 45",
      "m=audio PORT UDP/TLS/RTP/SAVPF 111 0 8",
    ]);
    expect(lines(sdp, "a=recvonly")).toHaveLength(2);
    expect(legs.counts()).toEqual({ publishers: 1, players: 0 });

    // the remote: a libdatachannel peer; it answers sendonly with every codec, in our order on its m-lines, but writes
    // its a=rtpmap lines sorted by payload type (45 AV1 and 0 PCMU first): the m-line order decides (RFC 8866 §5.14)
    const client = peer();
    client.setRemoteDescription(sdp, "offer");
    const answer = withoutCandidates(await gathered(client)).replace("a=mid:0\r\n", "a=mid:0\r\na=ssrc:4242 cname:remote\r\n");
    expect(lines(answer, "m=").map((l) => l.replace(/ \d+ /, " PORT "))).toEqual([
      "m=video PORT UDP/TLS/RTP/SAVPF 96 102 104 106 108 110 98 45",
      "m=audio PORT UDP/TLS/RTP/SAVPF 111 0 8",
    ]);
    expect(lines(answer, "a=rtpmap:")[0]).toBe("a=rtpmap:45 AV1/90000");
    expect(lines(answer, "a=sendonly")).toHaveLength(2);
    expect(legs.applyAnswer("pull", { answer })).toEqual({ ok: true, media: { videoCodec: "VP8", audioCodec: "opus" } });
    const pub = legs.publisherLegs()[0]!;
    expect([pub.video?.ssrc, pub.video?.codec.pt, pub.audio?.ssrc, pub.audio?.codec.pt]).toEqual([4242, 96, 0, 111]);
    expectRefusal(() => legs.applyAnswer("pull", { answer }), "conflict", "Leg is not waiting for an answer");

    // players of the pulled stream get the remote's codec under their own payload type
    const play = await legs.create({ legId: "play", streamName: "remote-cam", role: "player", offer: offer(OFFERS.safari) });
    expect(play.media).toEqual({ videoCodec: "VP8", audioCodec: "opus" });
    expect(lines(answerOf(play), "m=video")[0]).toMatch(/ 100$/); // Safari's VP8
    expect(log()).toEqual(["created pull", "created play"]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("trickled candidates", () => {
  const HOST = "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host";
  const MDNS = "candidate:2 1 udp 2122260223 2cf0b2c0-0842-4fe3-aaa0-4556a2dfbadc.local 50001 typ host";
  const V6 = "candidate:3 1 udp 2122260223 ::1 50002 typ host";

  it("IP literals are added (an unknown mid goes to the first m-line); host names are refused with the reason", async () => {
    const { legs } = node();
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    expect(
      legs.addCandidates("pub", {
        candidates: [{ candidate: HOST, mid: "0" }, { candidate: MDNS, mid: "1" }, { candidate: V6, mid: "not-a-mid" }, { candidate: "candidate:4 1 udp 1 10.0.0.1 9 typ host" }],
      }),
    ).toEqual({ added: 3, rejected: [{ candidate: MDNS, reason: "address is not an IP literal (host names are not resolved)" }] });
    expect(legs.addCandidates("pub", { candidates: [] })).toEqual({ added: 0, rejected: [] });
  });

  it("an offer-mode leg keeps them until its answer (at most 64); the engine's refusal is passed on", async () => {
    const { legs } = node();
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    await legs.create({ legId: "play", streamName: "cam", role: "player" });
    const batch = (from: number, n: number) => ({ candidates: Array.from({ length: n }, (_, i) => ({ candidate: `candidate:${from + i} 1 udp 1 127.0.0.1 ${40000 + from + i} typ host` })) });
    expect(legs.addCandidates("play", batch(0, 40))).toEqual({ added: 40, rejected: [] });
    const second = legs.addCandidates("play", batch(40, 30));
    expect(second.added).toBe(24);
    expect(second.rejected).toHaveLength(6);
    expect(new Set(second.rejected.map((r) => r.reason))).toEqual(new Set(["too many candidates before the answer"]));
  });

  it("a leg that does not exist (any more): not_found", async () => {
    const { legs } = node();
    expectRefusal(() => legs.addCandidates("ghost", { candidates: [{ candidate: HOST }] }), "not_found", "Leg ghost not found");
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    legs.delete("pub");
    expectRefusal(() => legs.addCandidates("pub", { candidates: [{ candidate: HOST }] }), "not_found", "Leg pub not found");
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("removal and failure notices", () => {
  async function streamWithPlayers(legs: LegManager, stream = "cam") {
    await legs.create({ legId: `${stream}-pub`, streamName: stream, role: "publisher", offer: offer(OFFERS.chromePublish) });
    await legs.create({ legId: `${stream}-p1`, streamName: stream, role: "player", offer: offer(OFFERS.chromePlay) });
    await legs.create({ legId: `${stream}-p2`, streamName: stream, role: "player" });
  }

  it("deleting a player: removed (deleted); the publisher stays", async () => {
    const { legs, notices, log } = node();
    await streamWithPlayers(legs);
    notices.length = 0;
    expect(legs.delete("cam-p1")).toBe(true);
    expect(legs.delete("cam-p1")).toBe(false);
    expect(log()).toEqual(["removed cam-p1 deleted"]);
    expect(notices[0]).toEqual({ kind: "removed", legId: "cam-p1", streamName: "cam", role: "player", videoCodec: "VP8", audioCodec: "opus", cause: "deleted" });
    expect(legs.counts()).toEqual({ publishers: 1, players: 1 });
  });

  it("deleting a publisher closes its players (publisher_gone) and frees the name", async () => {
    const { legs, notices, log } = node();
    await streamWithPlayers(legs);
    await streamWithPlayers(legs, "other");
    notices.length = 0;
    expect(legs.delete("cam-pub")).toBe(true);
    expect(log()).toEqual(["removed cam-p1 publisher_gone", "removed cam-p2 publisher_gone", "removed cam-pub deleted"]);
    expect(legs.counts()).toEqual({ publishers: 1, players: 2 });
    await legs.create({ legId: "new-pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.obs) });
  });

  it("closeAll: every leg removed (the publisher with cause shutdown)", async () => {
    const { legs, notices, log } = node();
    await streamWithPlayers(legs);
    notices.length = 0;
    legs.closeAll();
    // players go with their publisher, so they are reported as publisher_gone
    expect(log()).toEqual(["removed cam-p1 publisher_gone", "removed cam-p2 publisher_gone", "removed cam-pub shutdown"]);
    expect(legs.status()).toEqual([]);
    legs.closeAll();
    expect(notices).toHaveLength(3);
  });

  it("a publisher nobody connects to fails (ice) after connectTimeoutMs; its players are removed (publisher_gone)", async () => {
    const { legs, notices, log } = node({ engine: { connectTimeoutMs: 300 } });
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    await legs.create({ legId: "play", streamName: "cam", role: "player", offer: offer(OFFERS.chromePlay) });
    await until("the publisher to fail", () => log().includes("failed pub ice"), 5000, log);
    expect(notices.find((n) => n.kind === "failed")).toEqual({
      kind: "failed",
      legId: "pub",
      streamName: "cam",
      role: "publisher",
      videoCodec: "VP8",
      audioCodec: "opus",
      failure: "ice",
      detail: "not connected within 300 ms",
    });
    expect(log().slice(0, 3)).toEqual(["created pub", "created play", "removed play publisher_gone"]);
    expect(legs.counts()).toEqual({ publishers: 0, players: 0 });
    // a leg that ended by itself is gone: its id and name are free
    expect(legs.delete("pub")).toBe(false);
    await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
  });

  // retry: see "applyAnswer: … connects it"
  it("a publisher that connects: connected notice, state connected", { timeout: 15_000, retry: 1 }, async () => {
    const { legs, log } = node();
    // the client: a node-datachannel peer sending VP8 + opus
    const client = peer();
    const v = new Video("0", "SendOnly");
    v.addVP8Codec(96);
    v.addSSRC(1111, "client", "s", "v");
    const a = new Audio("1", "SendOnly");
    a.addOpusCodec(111);
    a.addSSRC(2222, "client", "s", "a");
    client.addTrack(v);
    client.addTrack(a);
    client.setLocalDescription("offer");
    const r = await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: await gathered(client) });
    client.setRemoteDescription(withoutCandidates(answerOf(r)), "answer");
    await until("the publisher to connect", () => log().includes("connected pub"), 8000, () => ({ notices: log(), peer: peerState(client) }));
    expect(legs.status()).toEqual([{ legId: "pub", streamName: "cam", role: "publisher", state: "connected", packetsIn: expect.any(Number), packetsOut: expect.any(Number) }]);
    const pub = legs.publisherLegs()[0]!;
    expect([pub.video?.ssrc, pub.audio?.ssrc]).toEqual([1111, 2222]);
  });
});
