/**
 * media-node/sdp.ts and protocol/sdp.ts on small hand-written SDP: the edges real offers do not reach (errors,
 * codec preference order, H.264 profile classes, offer-mode players, answers to our offers, relay pulls).
 */
import { describe, expect, it } from "vitest";
import {
  PULL_MIDS,
  checkPlayerAnswer,
  planOfferedPlayer,
  planPlayer,
  planPublisher,
  planPulledTracks,
  pullOfferPlan,
  type PublishedTrack,
} from "../../media-node/plans.js";
import { chooseAudioCodec, chooseVideoCodec, codecsCompatible, h264Profile, parseOffer, type OfferedCodec, type OfferedMedia } from "../../media-node/sdp.js";
import { MAX_SDP_BYTES, activateBundleOnly, checkOffer } from "../../protocol/sdp.js";
import { expectRefusal } from "./helpers.js";

const HEAD = ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0"];
const ICE = ["a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=fingerprint:sha-256 AA:BB", "a=setup:actpass"];

/** One m-line: `m=<kind> <port> UDP/TLS/RTP/SAVPF <pts>` + mid + direction + `extra` lines. */
function mline(kind: string, mid: string | null, direction: string | null, rtpmaps: string[], extra: string[] = [], port = 9): string[] {
  const pts = rtpmaps.map((r) => r.split(" ")[0]).join(" ");
  return [
    `m=${kind} ${port} UDP/TLS/RTP/SAVPF ${pts}`,
    "c=IN IP4 0.0.0.0",
    ...(mid === null ? [] : [`a=mid:${mid}`]),
    ...(direction === null ? [] : [`a=${direction}`]),
    ...rtpmaps.map((r) => `a=rtpmap:${r}`),
    ...extra,
  ];
}
const sdp = (...sections: string[][]) => [...HEAD, ...sections.flat(), ""].join("\r\n");

/** An OfferedCodec as parseOffer makes it. */
function codec(pt: number, name: string, clockRate = 90000, fmtp = "", channels?: number): OfferedCodec {
  const params: Record<string, string> = {};
  for (const part of fmtp.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) params[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
  }
  return { pt, name, clockRate, channels, fmtp, params };
}
const mediaOf = (codecs: OfferedCodec[]): OfferedMedia => ({ index: 0, type: "video", mid: "0", port: 9, direction: "sendonly", codecs });
const published = (kind: "video" | "audio", c: OfferedCodec, ssrc = 1234): PublishedTrack => ({ kind, mid: kind === "video" ? "1" : "0", codec: c, ssrc });

const VP8 = codec(96, "VP8");
const OPUS = codec(111, "opus", 48000, "minptime=10;useinbandfec=1", 2);

// ---------------------------------------------------------------------------------------------------------------
describe("parseOffer", () => {
  it.each([
    ["", "Invalid SDP: missing v=0 line"],
    ["hello", "Invalid SDP: missing v=0 line"],
    ["o=- 1 1 IN IP4 0.0.0.0\r\nv=0\r\n".padStart(80, " "), "Invalid SDP: missing v=0 line"],
    [sdp(), "Invalid SDP: no m-lines"],
    [sdp(mline("audio", "a", "sendonly", ["111 opus/48000/2"]), mline("video", "a", "sendonly", ["96 VP8/90000"])), 'Invalid SDP: duplicate mid "a"'],
    // a missing mid is the m-line index, which may collide with an explicit one
    [sdp(mline("audio", null, "sendonly", ["111 opus/48000/2"]), mline("video", "0", "sendonly", ["96 VP8/90000"])), 'Invalid SDP: duplicate mid "0"'],
  ])("refuses %j: %s", (text, info) => {
    expectRefusal(() => parseOffer(text), "invalid_sdp", info);
  });

  it("accepts LF line endings and a v=0 line anywhere in the first 64 characters", () => {
    const lf = sdp(mline("video", "v", "sendonly", ["96 VP8/90000"])).replace(/\r\n/g, "\n");
    expect(parseOffer(lf).media[0]?.mid).toBe("v");
  });

  it("direction: media level, else session level, else sendrecv", () => {
    const text = [...HEAD, "a=recvonly", ...mline("audio", "0", null, ["0 PCMU/8000"]), ...mline("video", "1", "inactive", ["96 VP8/90000"]), ""].join("\r\n");
    expect(parseOffer(text).media.map((m) => m.direction)).toEqual(["recvonly", "inactive"]);
    expect(parseOffer(sdp(mline("audio", "0", null, ["0 PCMU/8000"]))).media[0]?.direction).toBe("sendrecv");
    expect(parseOffer(sdp(mline("audio", "0", "bogus", ["0 PCMU/8000"]))).media[0]?.direction).toBe("sendrecv");
  });

  it("codecs: static payload types without rtpmap, duplicates and out-of-range payload types dropped", () => {
    const text = sdp([
      "m=audio 9 RTP/AVP 0 8 9 3 111",
      "a=mid:0",
      "a=rtpmap:111 opus/48000/2",
      "a=rtpmap:111 opus/48000/1",
      "a=rtpmap:200 bogus/8000",
      "a=fmtp:111 MinPTime=10; useinbandfec=1;stereo;=x",
    ]);
    const m = parseOffer(text).media[0]!;
    expect(m.codecs).toEqual([
      { pt: 0, name: "PCMU", clockRate: 8000, channels: 1, fmtp: "", params: {} },
      { pt: 8, name: "PCMA", clockRate: 8000, channels: 1, fmtp: "", params: {} },
      { pt: 9, name: "G722", clockRate: 8000, channels: 1, fmtp: "", params: {} },
      { pt: 111, name: "opus", clockRate: 48000, channels: 2, fmtp: "MinPTime=10; useinbandfec=1;stereo;=x", params: { minptime: "10", useinbandfec: "1" } },
    ]);
  });

  it("codecs come in the order of the m-line's formats, not of the a=rtpmap lines; formats missing from the m-line last", () => {
    // libdatachannel (OBS, node-datachannel, our own node) writes its a=rtpmap lines sorted by payload type
    const text = sdp([
      "m=video 9 UDP/TLS/RTP/SAVPF 96 102 45",
      "a=mid:0",
      "a=rtpmap:45 AV1/90000",
      "a=rtpmap:50 VP9/90000",
      "a=rtpmap:96 VP8/90000",
      "a=rtpmap:102 H264/90000",
    ]);
    expect(parseOffer(text).media[0]!.codecs.map((c) => `${c.pt} ${c.name}`)).toEqual(["96 VP8", "102 H264", "45 AV1", "50 VP9"]);
  });

  it("SSRC: first of a SIM group, else of an FID group, else the first a=ssrc; CNAME of that SSRC", () => {
    const ssrcLines = (group: string[]) => [
      ...group,
      "a=ssrc:11 cname:first",
      "a=ssrc:22 cname:second",
      "a=ssrc:33 cname:third",
    ];
    const pick = (group: string[]) => {
      const m = parseOffer(sdp(mline("video", "0", "sendonly", ["96 VP8/90000"], ssrcLines(group)))).media[0]!;
      return [m.ssrc, m.cname];
    };
    expect(pick([])).toEqual([11, "first"]);
    expect(pick(["a=ssrc-group:FID 22 33"])).toEqual([22, "second"]);
    expect(pick(["a=ssrc-group:FID 22 33", "a=ssrc-group:SIM 33 11"])).toEqual([33, "third"]);
    // a group naming an SSRC without a=ssrc lines: the SSRC is kept, without CNAME
    expect(pick(["a=ssrc-group:FID 44 55"])).toEqual([44, undefined]);
  });

  it("SSRC: none, or out of 32-bit range → undefined", () => {
    const none = parseOffer(sdp(mline("video", "0", "sendonly", ["96 VP8/90000"]))).media[0]!;
    expect([none.ssrc, none.cname]).toEqual([undefined, undefined]);
    const big = parseOffer(sdp(mline("video", "0", "sendonly", ["96 VP8/90000"], ["a=ssrc:4294967296 cname:x"]))).media[0]!;
    expect([big.ssrc, big.cname]).toEqual([undefined, undefined]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("h264Profile (libwebrtc's classes of profile-level-id)", () => {
  it.each([
    [undefined, "constrained-baseline"],
    ["42e01f", "constrained-baseline"],
    ["42E01F", "constrained-baseline"],
    ["42c015", "constrained-baseline"],
    ["424015", "constrained-baseline"],
    ["42001f", "baseline"],
    ["42101f", "baseline"],
    ["4d801f", "constrained-baseline"],
    ["4d001f", "main"],
    ["4d401f", "main"],
    ["4d501f", "main"],
    ["58c01f", "constrained-baseline"],
    ["58801f", "baseline"],
    ["64001f", "high"],
    ["640c1f", "constrained-high"],
    ["640c34", "constrained-high"],
    ["f4001f", "predictive-high-444"],
    // not one of the classes
    ["4d201f", "idc:4d/20"],
    ["64101f", "idc:64/10"],
    ["6E001F", "idc:6e/00"],
    ["42e0", "invalid:42e0"],
    ["XYZ123", "invalid:xyz123"],
  ])("%s → %s", (id, profile) => {
    expect(h264Profile(id)).toBe(profile);
  });
});

describe("codecsCompatible (the player's entry can carry the publisher's RTP unchanged)", () => {
  const h264 = (pt: number, fmtp: string) => codec(pt, "H264", 90000, fmtp);
  it.each([
    ["same name, other case", VP8, codec(120, "vp8"), true],
    ["other clock rate", VP8, codec(96, "VP8", 80000), false],
    ["other codec", VP8, codec(96, "VP9"), false],
    ["opus 2 channels both", OPUS, codec(109, "opus", 48000, "", 2), true],
    ["opus 2 vs 1 channel (absent = 1)", OPUS, codec(109, "opus", 48000), false],
    ["OPUS vs opus", codec(100, "OPUS", 48000, "", 2), OPUS, true],
    ["H.264 same profile, other level", h264(96, "packetization-mode=1;profile-level-id=42e01f"), h264(108, "profile-level-id=42e034;packetization-mode=1"), true],
    ["H.264 Constrained Baseline vs Baseline", h264(96, "packetization-mode=1;profile-level-id=42e01f"), h264(102, "packetization-mode=1;profile-level-id=42001f"), false],
    ["H.264 packetization-mode 1 vs 0", h264(96, "packetization-mode=1;profile-level-id=42e01f"), h264(114, "packetization-mode=0;profile-level-id=42e01f"), false],
    ["H.264 packetization-mode absent = 0", h264(96, "profile-level-id=42e01f"), h264(97, "packetization-mode=0;profile-level-id=42e01f"), true],
    ["H.264 profile-level-id absent = Constrained Baseline", h264(96, "packetization-mode=1"), h264(97, "packetization-mode=1;profile-level-id=42e01f"), true],
    ["VP9 profile-id absent = 0", codec(98, "VP9", 90000, "profile-id=0"), codec(98, "VP9"), true],
    ["VP9 profile 0 vs 2", codec(98, "VP9", 90000, "profile-id=0"), codec(100, "VP9", 90000, "profile-id=2"), false],
    ["AV1 profile absent = 0", codec(45, "AV1", 90000, "level-idx=5;profile=0;tier=0"), codec(99, "AV1"), true],
    ["AV1 profile 0 vs 1", codec(45, "AV1"), codec(47, "AV1", 90000, "profile=1"), false],
    ["PCMU", codec(0, "PCMU", 8000), codec(0, "PCMU", 8000), true],
  ])("%s → %s", (_what, pub, player, want) => {
    expect(codecsCompatible(pub, player)).toBe(want);
  });
});

describe("chooseVideoCodec / chooseAudioCodec", () => {
  const h264pm0 = codec(104, "H264", 90000, "packetization-mode=0;profile-level-id=42e01f");
  const h264pm1 = codec(102, "H264", 90000, "packetization-mode=1;profile-level-id=42e01f");
  const h264pm1b = codec(108, "H264", 90000, "packetization-mode=1;profile-level-id=640c1f");
  const vp9p2 = codec(100, "VP9", 90000, "profile-id=2");
  const vp9p0 = codec(98, "VP9", 90000, "profile-id=0");
  const av1 = codec(45, "AV1");
  const rtx = codec(97, "rtx", 90000, "apt=96");
  const vp8audioRate = codec(95, "VP8", 8000);

  it.each([
    ["VP8 before everything", [av1, vp9p0, h264pm1, rtx, VP8], 96],
    ["VP8 only at 90 kHz", [vp8audioRate, av1], 45],
    ["H.264 packetization-mode 1 before 0, first in offer order", [h264pm0, h264pm1b, h264pm1, vp9p0], 108],
    ["H.264 mode 0 when it is the only H.264", [vp9p0, h264pm0], 104],
    ["VP9 profile 0 before other VP9 profiles", [av1, vp9p2, vp9p0], 98],
    ["VP9 of another profile when no profile 0", [av1, vp9p2], 100],
    ["AV1 last", [rtx, av1], 45],
    ["nothing we take", [rtx, codec(118, "red"), codec(120, "ulpfec")], undefined],
  ])("%s", (_what, codecs, pt) => {
    expect(chooseVideoCodec(mediaOf(codecs))?.pt).toBe(pt);
  });

  it.each([
    ["opus/48000 first", [codec(0, "PCMU", 8000), codec(8, "PCMA", 8000), OPUS], 111],
    ["opus at another rate is not opus/48000", [codec(112, "opus", 16000), codec(8, "PCMA", 8000)], 8],
    ["PCMU before PCMA", [codec(8, "PCMA", 8000), codec(0, "PCMU", 8000)], 0],
    ["PCMA", [codec(9, "G722", 8000), codec(8, "PCMA", 8000)], 8],
    ["nothing we take", [codec(9, "G722", 8000), codec(126, "telephone-event", 8000)], undefined],
  ])("%s", (_what, codecs, pt) => {
    expect(chooseAudioCodec(mediaOf(codecs))?.pt).toBe(pt);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("planPublisher", () => {
  const ssrc = (n: number) => [`a=ssrc:${n} cname:c${n}`];

  it("takes the first sending m-line of each kind; others (second of a kind, recvonly, no codec) are answered inactive; rejected m-lines (port 0) and data channels are left out", () => {
    const plan = planPublisher(
      parseOffer(
        sdp(
          mline("video", "v1", "recvonly", ["96 VP8/90000"]),
          mline("video", "v2", "sendonly", ["97 rtx/90000"], ssrc(1)),
          mline("video", "v3", "sendrecv", ["96 VP8/90000"], ssrc(2)),
          mline("video", "v4", "sendonly", ["96 VP8/90000"], ssrc(3)),
          mline("audio", "a0", "sendonly", ["111 opus/48000/2"], ssrc(4), 0),
          mline("audio", "a1", "sendonly", ["0 PCMU/8000"], ssrc(5)),
          ["m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:d"],
        ),
      ),
    );
    expect(plan.video).toMatchObject({ kind: "video", mid: "v3", ssrc: 2, cname: "c2", codec: { pt: 96, name: "VP8" } });
    expect(plan.audio).toMatchObject({ kind: "audio", mid: "a1", ssrc: 5, cname: "c5", codec: { pt: 0, name: "PCMU" } });
    expect(plan.inactive.map((m) => m.mid)).toEqual(["v1", "v2", "v4"]);
  });

  it("refuses an offer that sends nothing: invalid_sdp", () => {
    expectRefusal(
      () => planPublisher(parseOffer(sdp(mline("video", "0", "recvonly", ["96 VP8/90000"]), mline("audio", "1", "sendonly", ["111 opus/48000/2"], ssrc(1), 0)))),
      "invalid_sdp",
      "Invalid SDP: publisher offer has no sendonly/sendrecv audio or video m-line",
    );
  });

  it("refuses a chosen m-line without a=ssrc: invalid_sdp", () => {
    expectRefusal(() => planPublisher(parseOffer(sdp(mline("video", "v", "sendonly", ["96 VP8/90000"])))), "invalid_sdp", "Invalid SDP: m=video (mid v) has no a=ssrc");
  });

  it("refuses an offer without any codec we take: no_common_codecs", () => {
    expectRefusal(
      () => planPublisher(parseOffer(sdp(mline("video", "0", "sendonly", ["100 H265/90000"], ssrc(1)), mline("audio", "1", "sendonly", ["9 G722/8000"], ssrc(2))))),
      "no_common_codecs",
      "No common codecs",
    );
  });
});

describe("planPlayer", () => {
  const pub = { video: published("video", VP8), audio: published("audio", OPUS) };

  it("first receiving m-line of each kind; a second one, or a kind the publisher does not send, is inactive", () => {
    const plan = planPlayer(
      parseOffer(
        sdp(
          mline("video", "v0", "sendonly", ["96 VP8/90000"]),
          mline("video", "v1", "recvonly", ["100 VP8/90000"]),
          mline("video", "v2", "recvonly", ["96 VP8/90000"]),
          mline("audio", "a0", "recvonly", ["109 opus/48000/2"], [], 0),
          mline("audio", "a1", "recvonly", ["109 opus/48000/2"]),
        ),
      ),
      pub,
    );
    expect(plan.video).toEqual({ kind: "video", mid: "v1", pt: 100, codec: codec(100, "VP8") });
    expect(plan.audio).toMatchObject({ kind: "audio", mid: "a1", pt: 109 });
    expect(plan.inactive.map((m) => m.mid)).toEqual(["v0", "v2"]);

    const audioOnly = planPlayer(parseOffer(sdp(mline("video", "v", "recvonly", ["96 VP8/90000"]), mline("audio", "a", "recvonly", ["111 opus/48000/2"]))), {
      audio: pub.audio,
    });
    expect([audioOnly.video, audioOnly.audio?.mid, audioOnly.inactive.map((m) => m.mid)]).toEqual([undefined, "a", ["v"]]);
  });

  it("refuses an offer that receives nothing: invalid_sdp", () => {
    expectRefusal(
      () => planPlayer(parseOffer(sdp(mline("video", "0", "sendonly", ["96 VP8/90000"]))), pub),
      "invalid_sdp",
      "Invalid SDP: player offer has no recvonly/sendrecv audio or video m-line",
    );
  });

  it("refuses a receiving m-line without a codec compatible with the publisher's, even when the other kind would do: no_common_codecs", () => {
    const text = sdp(mline("video", "v", "recvonly", ["98 VP9/90000"]), mline("audio", "a", "recvonly", ["111 opus/48000/2"]));
    expectRefusal(() => planPlayer(parseOffer(text), pub), "no_common_codecs", "No common codecs");
  });

  it("refuses when nothing can be delivered (audio player, video-only publisher): no_common_codecs", () => {
    const text = sdp(mline("audio", "a", "recvonly", ["111 opus/48000/2"]));
    expectRefusal(() => planPlayer(parseOffer(text), { video: pub.video }), "no_common_codecs", "No common codecs");
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("offer-mode players: planOfferedPlayer and checkPlayerAnswer", () => {
  const h264 = codec(102, "H264", 90000, "packetization-mode=1;profile-level-id=42e01f");

  it("one m-line per kind the publisher sends, video first, mids 0 and 1, the publisher's payload types", () => {
    expect(planOfferedPlayer({ video: published("video", h264), audio: published("audio", OPUS) })).toEqual({
      inactive: [],
      video: { kind: "video", mid: "0", pt: 102, codec: h264 },
      audio: { kind: "audio", mid: "1", pt: 111, codec: OPUS },
    });
    expect(planOfferedPlayer({ audio: published("audio", OPUS) })).toEqual({ inactive: [], audio: { kind: "audio", mid: "0", pt: 111, codec: OPUS } });
    expectRefusal(() => planOfferedPlayer({}), "no_common_codecs", "No common codecs");
  });

  const plan = planOfferedPlayer({ video: published("video", h264), audio: published("audio", OPUS) });
  const answer = (...sections: string[][]) => parseOffer(sdp(...sections));

  it.each([
    ["both accepted (recvonly)", [mline("video", "0", "recvonly", ["102 H264/90000"]), mline("audio", "1", "recvonly", ["111 opus/48000/2"])], ["video", "audio"]],
    ["sendrecv accepted (lenient answerers)", [mline("video", "0", "sendrecv", ["102 H264/90000"]), mline("audio", "1", "inactive", ["111 opus/48000/2"])], ["video"]],
    ["port 0 = rejected", [mline("video", "0", "recvonly", ["102 H264/90000"], [], 0), mline("audio", "1", "recvonly", ["111 opus/48000/2"])], ["audio"]],
  ])("%s", (_what, sections, kinds) => {
    expect(checkPlayerAnswer(answer(...sections), plan)).toEqual(kinds);
  });

  it.each([
    ["an m-line we did not offer", [mline("video", "0", "recvonly", ["102 H264/90000"]), mline("audio", "7", "recvonly", ["111 opus/48000/2"])], "invalid_sdp", 'Invalid SDP: answer has an m-line with mid "7" that was not offered'],
    ["a kind swapped", [mline("audio", "0", "recvonly", ["111 opus/48000/2"])], "invalid_sdp", 'Invalid SDP: answer m-line mid "0" is audio, video was offered'],
    ["the offered payload type dropped", [mline("video", "0", "recvonly", ["96 VP8/90000"])], "no_common_codecs", "No common codecs"],
    ["nothing accepted", [mline("video", "0", "inactive", ["102 H264/90000"]), mline("audio", "1", "sendonly", ["111 opus/48000/2"])], "invalid_sdp", "Invalid SDP: the answer accepts none of the offered m-lines"],
  ] as const)("refuses %s", (_what, sections, code, info) => {
    expectRefusal(() => checkPlayerAnswer(answer(...sections), plan), code, info);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("relay pulls: pullOfferPlan and planPulledTracks", () => {
  it("offers every codec a publisher may send, each under a fixed payload type", () => {
    const p = pullOfferPlan();
    expect(p.video.map((c) => `${c.pt} ${c.name} ${c.fmtp}`.trim())).toEqual([
      "96 VP8",
      "102 H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
      "104 H264 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
      "106 H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f",
      "108 H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f",
      "110 H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f",
      "98 VP9 profile-id=0",
      "45 AV1",
    ]);
    expect(p.video.every((c) => c.clockRate === 90000 && c.channels === undefined)).toBe(true);
    expect(p.audio).toEqual([
      { pt: 111, name: "opus", clockRate: 48000, channels: 2, fmtp: "minptime=10;useinbandfec=1", params: { minptime: "10", useinbandfec: "1" } },
      { pt: 0, name: "PCMU", clockRate: 8000, channels: 1, fmtp: "", params: {} },
      { pt: 8, name: "PCMA", clockRate: 8000, channels: 1, fmtp: "", params: {} },
    ]);
    // the H.264 entries are the classes players are matched on
    expect(p.video.filter((c) => c.name === "H264").map((c) => `${h264Profile(c.params["profile-level-id"])}/${c.params["packetization-mode"]}`)).toEqual([
      "constrained-baseline/1",
      "constrained-baseline/0",
      "constrained-high/1",
      "main/1",
      "high/1",
    ]);
    expect(PULL_MIDS).toEqual({ video: "0", audio: "1" });
  });

  const offered = pullOfferPlan();
  const answer = (...sections: string[][]) => parseOffer(sdp(...sections));

  it("reads the codec the answer chose (its fmtp, else ours), its SSRC (0 when none) and CNAME", () => {
    const tracks = planPulledTracks(
      answer(
        mline("video", "0", "sendonly", ["106 H264/90000", "96 VP8/90000"], ["a=fmtp:106 profile-level-id=640c2a;packetization-mode=1", "a=ssrc:77 cname:remote"]),
        mline("audio", "1", "sendrecv", ["0 PCMU/8000"]),
      ),
      offered,
    );
    expect(tracks.video).toEqual({
      kind: "video",
      mid: "0",
      codec: { pt: 106, name: "H264", clockRate: 90000, fmtp: "profile-level-id=640c2a;packetization-mode=1", params: { "profile-level-id": "640c2a", "packetization-mode": "1" }, channels: undefined },
      ssrc: 77,
      cname: "remote",
    });
    expect(tracks.audio).toEqual({ kind: "audio", mid: "1", codec: { ...offered.audio[1], channels: 1 }, ssrc: 0 });
  });

  it("takes the answer's channel count and skips m-lines it does not send", () => {
    const tracks = planPulledTracks(
      answer(mline("video", "0", "recvonly", ["96 VP8/90000"]), mline("audio", "1", "sendonly", ["111 opus/48000/2"], ["a=ssrc:5 cname:x"])),
      offered,
    );
    expect(tracks.video).toBeUndefined();
    expect(tracks.audio?.codec).toEqual(offered.audio[0]);
    expect(tracks.audio?.ssrc).toBe(5);
  });

  it.each([
    ["an m-line we did not offer", [mline("video", "2", "sendonly", ["96 VP8/90000"])], "invalid_sdp", 'Invalid SDP: answer has an m-line with mid "2" that was not offered'],
    ["a kind swapped", [mline("audio", "0", "sendonly", ["111 opus/48000/2"])], "invalid_sdp", 'Invalid SDP: answer m-line mid "0" is audio, video was offered'],
    ["a payload type we did not offer", [mline("video", "0", "sendonly", ["127 H265/90000"])], "no_common_codecs", "No common codecs"],
    ["nothing sent", [mline("video", "0", "sendonly", ["96 VP8/90000"], [], 0), mline("audio", "1", "inactive", ["111 opus/48000/2"])], "invalid_sdp", "Invalid SDP: the answer sends none of the offered m-lines"],
  ] as const)("refuses %s", (_what, sections, code, info) => {
    expectRefusal(() => planPulledTracks(answer(...sections), offered), code, info);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("protocol/sdp.ts checkOffer and activateBundleOnly", () => {
  it("MAX_SDP_BYTES is 64 KiB", () => {
    expect(MAX_SDP_BYTES).toBe(65536);
  });

  const good = (direction: string, extra: string[] = []) => sdp(mline("video", "0", direction, ["96 VP8/90000"], [...ICE, ...extra]));

  it.each([
    ["no v=0 first", " v=0\r\n", "publisher", "does not start with v=0"],
    ["v=0 not first", "o=-\r\nv=0\r\n", "publisher", "does not start with v=0"],
    ["only a data channel", sdp(["m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:0", ...ICE]), "publisher", "no audio or video m-line"],
    ["a recvonly offer to publish", good("recvonly"), "publisher", "no sendonly/sendrecv m-line in a publish offer"],
    ["a sendonly offer to play", good("sendonly"), "player", "no recvonly/sendrecv m-line in a play offer"],
    ["an inactive offer", good("inactive"), "player", "no recvonly/sendrecv m-line in a play offer"],
    ["a rejected m-line (port 0)", sdp(mline("video", "0", "sendonly", ["96 VP8/90000"], ICE, 0)), "publisher", "no sendonly/sendrecv m-line in a publish offer"],
    ["no ICE ufrag", sdp(mline("video", "0", "sendonly", ["96 VP8/90000"], ICE.slice(1))), "publisher", "m=video has no ICE credentials"],
    ["no ICE pwd", sdp(mline("audio", "0", "sendonly", ["111 opus/48000/2"], [ICE[0]!, ...ICE.slice(2)])), "publisher", "m=audio has no ICE credentials"],
    ["no fingerprint", sdp(mline("video", "0", "sendonly", ["96 VP8/90000"], [ICE[0]!, ICE[1]!])), "publisher", "m=video has no DTLS fingerprint"],
    ["no rtpmap", sdp(["m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:0", "a=sendonly", ...ICE]), "publisher", "m=video has no rtpmap"],
  ] as const)("refuses %s", (_what, text, role, reason) => {
    expect(checkOffer(text, role)).toEqual({ ok: false, reason });
  });

  it("accepts an m-line of static payload types without a=rtpmap (RFC 3551), as the media node does", () => {
    const text = sdp(["m=audio 9 UDP/TLS/RTP/SAVPF 0 8", "a=mid:0", "a=sendonly", "a=ssrc:5 cname:x", ...ICE]);
    expect(checkOffer(text, "publisher")).toMatchObject({ ok: true, hasAudio: true, hasVideo: false });
    expect(planPublisher(parseOffer(text)).audio).toMatchObject({ codec: { pt: 0, name: "PCMU", clockRate: 8000 }, ssrc: 5 });
  });

  it("accepts session-level credentials and direction, LF line endings; reports the kinds it can use", () => {
    const text = [...HEAD, ...ICE, "a=sendonly", ...mline("audio", "0", null, ["111 opus/48000/2"]), ...mline("video", "1", "recvonly", ["96 VP8/90000"]), ""].join("\n");
    const c = checkOffer(text, "publisher");
    expect(c.ok && { text: c.text, hasAudio: c.hasAudio, hasVideo: c.hasVideo, media: c.sdp.media.length }).toEqual({ text, hasAudio: true, hasVideo: false, media: 2 });
    expect(checkOffer(text, "player")).toMatchObject({ ok: true, hasAudio: false, hasVideo: true });
  });

  it("activateBundleOnly: only port-0 m-lines with a=bundle-only are activated; LF kept; session lines untouched", () => {
    const text = [
      "v=0",
      "a=bundle-only",
      "m=video 9 UDP/TLS/RTP/SAVPF 96",
      "a=mid:0",
      "m=audio 0 UDP/TLS/RTP/SAVPF 111",
      "a=mid:1",
      "a=bundle-only",
      "m=audio 0 UDP/TLS/RTP/SAVPF 0",
      "a=mid:2",
      "m=video 5000 UDP/TLS/RTP/SAVPF 96",
      "a=bundle-only",
      "",
    ].join("\n");
    expect(activateBundleOnly(text)).toBe(
      ["v=0", "a=bundle-only", "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:0", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:1", "m=audio 0 UDP/TLS/RTP/SAVPF 0", "a=mid:2", "m=video 5000 UDP/TLS/RTP/SAVPF 96", "a=bundle-only", ""].join("\n"),
    );
    expect(activateBundleOnly("v=0\r\n")).toBe("v=0\r\n");
  });
});
