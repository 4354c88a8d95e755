/**
 * Announced addresses (media-node/engine/candidates.ts): host candidates of the node's answers and offers replaced
 * by the addresses of a 1:1 NAT with the bound port, the default destination moved with them, every other line kept;
 * the start-up gathering probe (engine/leg.ts probeGathering) with a usable and an unusable bind address; and a
 * publisher leg answering with announced candidates. Real libdatachannel on 127.0.0.1 only.
 * The NAT itself (network namespaces, DNAT) is test/e2e/nat.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { announceAddresses, hostCandidates, probeGathering, type EngineOptions } from "../../media-node/engine/index.js";
import { LegManager } from "../../media-node/legs.js";
import { OFFERS, offer } from "./helpers.js";

/** A publisher answer as libdatachannel 0.24.5 wrote it with `bindAddress: "::"` (dual stack), trimmed. */
const ANSWER = [
  "v=0",
  "o=rtc 669922000 0 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0 1",
  "a=msid-semantic:WMS *",
  "a=ice-options:ice2,trickle",
  "m=audio 42323 UDP/TLS/RTP/SAVPF 111",
  "c=IN IP4 10.0.0.5",
  "a=mid:0",
  "a=recvonly",
  "a=rtcp-mux",
  "a=rtpmap:111 opus/48000/2",
  "a=setup:active",
  "a=ice-ufrag:rB8v",
  "a=ice-pwd:ErlPMSKGdNWrCJnrVOSqdO",
  "a=candidate:2 1 UDP 2116026111 fd00::5 42323 typ host",
  "a=candidate:1 1 UDP 2114977791 10.0.0.5 42323 typ host",
  "a=end-of-candidates",
  "m=video 42323 UDP/TLS/RTP/SAVPF 96",
  "c=IN IP4 10.0.0.5",
  "a=mid:1",
  "a=recvonly",
  "a=msid:- {ba72adfe-d5b5-42bd-bf15-e8fcdcbb2ee1}",
  "a=rtpmap:96 VP8/90000",
  "",
].join("\r\n");

const lines = (sdp: string, prefix: string) => sdp.split("\r\n").filter((l) => l.startsWith(prefix));
/** RFC 8445 §5.1.2.1 with type preference 126 (host). */
const prio = (localPref: number, component = 1) => 126 * 2 ** 24 + localPref * 2 ** 8 + 256 - component;

describe("announceAddresses", () => {
  it("no announced address: the description is returned as it is", () => {
    const r = announceAddresses(ANSWER, []);
    expect(r.sdp).toBe(ANSWER);
    expect(r.gathered.map((c) => `${c.address} ${c.port}`)).toEqual(["fd00::5 42323", "10.0.0.5 42323"]);
    expect(r.unmatched).toEqual([]);
  });

  it("one public IPv4: it replaces every host candidate, with the bound port; c= and m= follow; nothing else changes", () => {
    const r = announceAddresses(ANSWER, ["203.0.113.7"]);
    expect(lines(r.sdp, "a=candidate:")).toEqual([`a=candidate:nat1 1 UDP ${prio(65535)} 203.0.113.7 42323 typ host`]);
    expect(lines(r.sdp, "c=")).toEqual(["c=IN IP4 203.0.113.7", "c=IN IP4 203.0.113.7"]);
    expect(r.announced).toEqual([{ address: "203.0.113.7", port: 42323, family: 4, component: 1, transport: "UDP" }]);
    expect(r.unmatched).toEqual([]);
    // every other line byte for byte, in order (sdp-transform's writer would rewrite a=msid:- {uuid})
    const untouched = (s: string) => s.split("\r\n").filter((l) => !/^(a=candidate:|c=)/.test(l));
    expect(untouched(r.sdp)).toEqual(untouched(ANSWER));
    expect(r.sdp.endsWith("\r\n")).toBe(true);
  });

  it("IPv4 and IPv6, in the operator's order: one candidate each on the port of its family, decreasing priority, own foundation", () => {
    const r = announceAddresses(ANSWER, ["2001:db8::7", "203.0.113.7"]);
    expect(lines(r.sdp, "a=candidate:")).toEqual([
      `a=candidate:nat1 1 UDP ${prio(65535)} 2001:db8::7 42323 typ host`,
      `a=candidate:nat2 1 UDP ${prio(65534)} 203.0.113.7 42323 typ host`,
    ]);
    // the default destination is the first (most preferred) announced candidate
    expect(lines(r.sdp, "c=")).toEqual(["c=IN IP6 2001:db8::7", "c=IN IP6 2001:db8::7"]);
    expect(hostCandidates(r.sdp).map((c) => c.address)).toEqual(["2001:db8::7", "203.0.113.7"]);
  });

  it("an address of a family that was not gathered is left out and reported", () => {
    const v4only = ANSWER.replace("a=candidate:2 1 UDP 2116026111 fd00::5 42323 typ host\r\n", "");
    const r = announceAddresses(v4only, ["2001:db8::7", "203.0.113.7"]);
    expect(r.unmatched).toEqual(["2001:db8::7"]);
    expect(lines(r.sdp, "a=candidate:")).toEqual([`a=candidate:nat2 1 UDP ${prio(65534)} 203.0.113.7 42323 typ host`]);
    expect(lines(r.sdp, "c=")).toEqual(["c=IN IP4 203.0.113.7", "c=IN IP4 203.0.113.7"]);
    expect(announceAddresses(v4only, ["2001:db8::7"]).announced).toEqual([]);
  });

  it("a default destination that is not a gathered host address (0.0.0.0 / port 9) is left alone; LF line ends are kept", () => {
    const sdp = ANSWER.replace("m=video 42323", "m=video 9").replace(/c=IN IP4 10\.0\.0\.5(\r\na=mid:1)/, "c=IN IP4 0.0.0.0$1").replaceAll("\r\n", "\n");
    const r = announceAddresses(sdp, ["203.0.113.7"]);
    expect(r.sdp.split("\n").filter((l) => /^(m|c)=/.test(l))).toEqual([
      "m=audio 42323 UDP/TLS/RTP/SAVPF 111",
      "c=IN IP4 203.0.113.7",
      "m=video 9 UDP/TLS/RTP/SAVPF 96",
      "c=IN IP4 0.0.0.0",
    ]);
    expect(r.sdp).not.toContain("\r\n");
  });
});

describe("probeGathering (the media node's start-up check)", () => {
  it("gathers a host candidate on 127.0.0.1 well within a second", async () => {
    const p = await probeGathering({ bindAddress: "127.0.0.1" });
    expect(hostCandidates(p.sdp).map((c) => c.address)).toEqual(["127.0.0.1"]);
    expect(p.elapsedMs).toBeLessThan(1000);
  });

  it("an address that is not on this host (a cloud VM's public IP) cannot be bound: the engine's reason", async () => {
    // 198.18.0.0/15 (RFC 2544 benchmarking) is on no interface here; libjuice's bind fails with EADDRNOTAVAIL
    await expect(probeGathering({ bindAddress: "198.18.255.254" })).rejects.toThrow("Failed to gather local ICE candidates");
  });
});

describe("a publisher leg with announced addresses", () => {
  const managers: LegManager[] = [];
  afterEach(() => {
    for (const m of managers.splice(0)) m.closeAll();
  });

  it("answers with only the announced candidates, on the port bound on the bind address", async () => {
    const engine: EngineOptions = {
      bindAddress: "127.0.0.1",
      announcedAddresses: ["203.0.113.7", "2001:db8::7"],
      gatherTimeoutMs: 5000,
      connectTimeoutMs: 60_000,
      keyframeIntervalMs: 500,
      publisherMaxBitrateBps: 0,
    };
    const legs = new LegManager({ engine, maxLegs: 0, onNotice: () => {} });
    managers.push(legs);
    const r = await legs.create({ legId: "pub", streamName: "cam", role: "publisher", offer: offer(OFFERS.chromePublish) });
    const answer = "answer" in r ? r.answer : expect.fail("expected an answer");
    const cands = lines(answer, "a=candidate:");
    // 127.0.0.1 is IPv4: the IPv6 address has no socket of its family and is left out
    expect(cands).toEqual([expect.stringMatching(/^a=candidate:nat1 1 UDP \d+ 203\.0\.113\.7 \d+ typ host$/)]);
    const port = cands[0]!.split(" ")[5];
    expect(lines(answer, "m=").every((l) => l.split(" ")[1] === port)).toBe(true);
    expect(lines(answer, "c=").every((l) => l === "c=IN IP4 203.0.113.7")).toBe(true);
    expect(answer).not.toContain("127.0.0.1 " + port);
    expect(answer).toContain("a=end-of-candidates");
  });
});
