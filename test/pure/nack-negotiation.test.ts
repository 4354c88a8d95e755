/**
 * media-node/plans.ts nackNegotiated: the node NACKs a publisher only when the remote description accepts generic
 * NACK feedback for the chosen video codec (RFC 4585 §4.2 `a=rtcp-fb:<pt> nack` or `*`), checked on the real offers
 * of test/pure/offers/ and on a description libdatachannel builds from our codecs (what our answers and offers say).
 */
import { PeerConnection, Video } from "node-datachannel";
import { describe, expect, it } from "vitest";
import { addCodec } from "../../media-node/engine/descriptions.js";
import { nackNegotiated, planPublisher, pullOfferPlan } from "../../media-node/plans.js";
import { parseOffer } from "../../media-node/sdp.js";
import { OFFERS, offer, type OfferName } from "./helpers.js";

/** nackNegotiated for the video track planPublisher picks from a captured offer. */
function forPublisher(name: OfferName): { codec: string; nack: boolean } {
  const sdp = offer(name);
  const v = planPublisher(parseOffer(sdp)).video!;
  return { codec: v.codec.name, nack: nackNegotiated(sdp, v.mid, v.codec.pt) };
}

const SDP = (fb: string[]) =>
  ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "m=video 9 UDP/TLS/RTP/SAVPF 96 97", "c=IN IP4 0.0.0.0", "a=mid:v", "a=rtpmap:96 VP8/90000", "a=rtpmap:97 VP9/90000", ...fb, ""].join("\r\n");

describe("nackNegotiated", () => {
  it.each<[OfferName, boolean]>([
    [OFFERS.chromePublish, true],
    [OFFERS.websdkPublish, true],
    [OFFERS.firefoxPublish, true],
    [OFFERS.obs, true],
    // webrtcbin offers `nack pli` only (it resends only with RTX, which we do not negotiate): no NACKs to it
    [OFFERS.gstreamerVp8, false],
    [OFFERS.gstreamerH264, false],
  ])("publisher offer %s → %s", (name, want) => {
    expect(forPublisher(name).nack).toBe(want);
  });

  it("needs plain `nack` for that payload type (or `*`) on that m-line", () => {
    expect(nackNegotiated(SDP(["a=rtcp-fb:96 nack"]), "v", 96)).toBe(true);
    expect(nackNegotiated(SDP(["a=rtcp-fb:* nack"]), "v", 96)).toBe(true);
    expect(nackNegotiated(SDP(["a=rtcp-fb:96 nack pli"]), "v", 96)).toBe(false);
    expect(nackNegotiated(SDP(["a=rtcp-fb:97 nack"]), "v", 96)).toBe(false);
    expect(nackNegotiated(SDP(["a=rtcp-fb:96 ccm fir", "a=rtcp-fb:96 goog-remb"]), "v", 96)).toBe(false);
    expect(nackNegotiated(SDP(["a=rtcp-fb:96 nack"]), "other", 96)).toBe(false);
    expect(nackNegotiated(SDP(["a=rtcp-fb:96 nack"]).replace("a=mid:v\r\n", ""), "0", 96)).toBe(true); // no a=mid: the index
    expect(nackNegotiated("not sdp", "v", 96)).toBe(false);
  });

  it("a description libdatachannel builds with addCodec (our answers, a pull leg's offer, a node's answer to it) declares nack for video", async () => {
    const pc = new PeerConnection("nack-fb", { iceServers: [], bindAddress: "127.0.0.1" });
    try {
      const desc = new Video("0", "SendOnly");
      for (const c of pullOfferPlan().video) addCodec(desc, "video", c.pt, c);
      pc.addTrack(desc);
      pc.setLocalDescription();
      let sdp = "";
      for (let i = 0; i < 200 && !sdp.includes("m=video"); i++) {
        sdp = pc.localDescription()?.sdp ?? "";
        await new Promise((r) => setTimeout(r, 5));
      }
      for (const c of pullOfferPlan().video) expect(nackNegotiated(sdp, "0", c.pt), `${c.name} ${c.pt}`).toBe(true);
      expect(sdp).not.toMatch(/rtx/i);
    } finally {
      pc.close();
    }
  });
});
