/**
 * The real offers of test/pure/offers/ (Chrome, Firefox, Safari, the WCS Web SDK, GStreamer, OBS; README.md there says
 * where each came from) through every planning step an entry point runs: the worker's `checkOffer` (both roles), the
 * media node's `parseOffer`, `planPublisher` and `planPlayer` for every publisher × player pair. Expected values are
 * read off the offer files (line references in the comments).
 */
import { describe, expect, it } from "vitest";
import { planPlayer, planPublisher, type PublisherPlan } from "../../media-node/plans.js";
import { h264Profile, parseOffer } from "../../media-node/sdp.js";
import { activateBundleOnly, checkOffer, withoutCandidates } from "../../protocol/sdp.js";
import { OFFERS, expectRefusal, offer, type OfferName } from "./helpers.js";

const ALL = Object.values(OFFERS);
const NO_PUBLISH = "no sendonly/sendrecv m-line in a publish offer";
const NO_PLAY = "no recvonly/sendrecv m-line in a play offer";

/** The text an entry point hands to the media node (checkOffer's `text`). */
function checked(name: OfferName, role: "publisher" | "player"): string {
  const c = checkOffer(offer(name), role);
  if (!c.ok) throw new Error(`${name} refused as ${role}: ${c.reason}`);
  return c.text;
}

describe("the offer files", () => {
  it.each(ALL)("%s is CRLF SDP below MAX_SDP_BYTES", (name) => {
    const text = offer(name);
    expect(text.startsWith("v=0\r\n")).toBe(true);
    expect(text.endsWith("\r\n")).toBe(true);
    expect(text.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);
    expect(Buffer.byteLength(text)).toBeLessThan(64 * 1024);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("checkOffer on real offers", () => {
  type Verdict = { audio: boolean; video: boolean } | string;
  const table: Array<{ name: OfferName; publisher: Verdict; player: Verdict }> = [
    { name: OFFERS.chromePublish, publisher: { audio: true, video: true }, player: NO_PLAY },
    { name: OFFERS.chromePlay, publisher: NO_PUBLISH, player: { audio: true, video: true } },
    { name: OFFERS.firefoxPublish, publisher: { audio: true, video: true }, player: NO_PLAY },
    { name: OFFERS.firefoxPlay, publisher: NO_PUBLISH, player: { audio: true, video: true } },
    // sendrecv transceivers fit both roles
    { name: OFFERS.firefox121, publisher: { audio: true, video: true }, player: { audio: true, video: true } },
    // video recvonly, audio sendrecv: a publisher of audio only; the data channel m-line is ignored
    { name: OFFERS.safari, publisher: { audio: true, video: false }, player: { audio: true, video: true } },
    { name: OFFERS.websdkPublish, publisher: { audio: true, video: true }, player: NO_PLAY },
    { name: OFFERS.websdkPlay, publisher: NO_PUBLISH, player: { audio: true, video: true } },
    // the bundle-only audio m-line (port 0) counts: checkOffer activates it first
    { name: OFFERS.gstreamerVp8, publisher: { audio: true, video: true }, player: NO_PLAY },
    { name: OFFERS.gstreamerH264, publisher: { audio: true, video: true }, player: NO_PLAY },
    // ICE credentials and fingerprint at session level only
    { name: OFFERS.obs, publisher: { audio: true, video: true }, player: NO_PLAY },
  ];

  it("covers every offer file", () => {
    expect(table.map((r) => r.name).sort()).toEqual([...ALL].sort());
  });

  for (const row of table) {
    for (const role of ["publisher", "player"] as const) {
      const want = row[role];
      it(`${row.name} as ${role}: ${typeof want === "string" ? `refused (${want})` : "accepted"}`, () => {
        const c = checkOffer(offer(row.name), role);
        if (typeof want === "string") {
          expect(c).toEqual({ ok: false, reason: want });
          return;
        }
        if (!c.ok) throw new Error(c.reason);
        expect({ audio: c.hasAudio, video: c.hasVideo }).toEqual(want);
        expect(c.sdp.media.length).toBe(offer(row.name).split("\r\nm=").length - 1);
      });
    }
  }

  it.each(ALL.filter((n) => !n.startsWith("gstreamer")))("%s is handed on unchanged (no bundle-only m-line)", (name) => {
    const role = checkOffer(offer(name), "publisher").ok ? "publisher" : "player";
    expect(checked(name, role)).toBe(offer(name));
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("bundle-only m-lines (GStreamer webrtcbin, max-bundle)", () => {
  it.each([OFFERS.gstreamerVp8, OFFERS.gstreamerH264])("%s: the audio m-line is activated, nothing else changes", (name) => {
    const raw = offer(name);
    expect(raw).toContain("\r\nm=audio 0 UDP/TLS/RTP/SAVPF 100\r\n");
    expect(raw.match(/a=bundle-only/g)).toHaveLength(1);
    const active = activateBundleOnly(raw);
    expect(active).toBe(raw.replace("\r\nm=audio 0 UDP/TLS/RTP/SAVPF 100\r\n", "\r\nm=audio 9 UDP/TLS/RTP/SAVPF 100\r\n").replace("a=bundle-only\r\n", ""));
    expect(checked(name, "publisher")).toBe(active);
    expect(activateBundleOnly(active)).toBe(active);
  });

  it("without activation the media node would take the audio m-line as rejected (port 0) and publish video only", () => {
    const raw = parseOffer(offer(OFFERS.gstreamerVp8));
    expect(raw.media.map((m) => [m.mid, m.port])).toEqual([
      ["video0", 9],
      ["audio1", 0],
    ]);
    const plan = planPublisher(raw);
    expect(plan.video?.mid).toBe("video0");
    expect(plan.audio).toBeUndefined();
    expect(plan.inactive).toEqual([]);

    const activated = planPublisher(parseOffer(checked(OFFERS.gstreamerVp8, "publisher")));
    expect(activated.audio).toMatchObject({ kind: "audio", mid: "audio1", ssrc: 1, codec: { pt: 100, name: "OPUS", clockRate: 48000, channels: 2 } });
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("parseOffer on real offers", () => {
  /** [type, mid, port, direction, codec count, ssrc, cname] per m-line. */
  type Row = [string, string, number, string, number, number | undefined, string | undefined];
  const table: Array<{ name: OfferName; media: Row[] }> = [
    {
      name: OFFERS.chromePublish,
      media: [
        ["audio", "0", 9, "sendonly", 8, 2044956442, "l9VJCHaep1aOQRmd"],
        // a=ssrc-group:FID 2641184945 3460704371: the primary SSRC is the group's first
        ["video", "1", 9, "sendonly", 23, 2641184945, "l9VJCHaep1aOQRmd"],
      ],
    },
    {
      name: OFFERS.chromePlay,
      media: [
        ["audio", "0", 9, "recvonly", 8, undefined, undefined],
        ["video", "1", 9, "recvonly", 34, undefined, undefined],
      ],
    },
    {
      name: OFFERS.firefoxPublish,
      media: [
        ["audio", "0", 9, "sendonly", 5, 904353832, "{16b068cc-b751-49b8-9d4d-9b1651f16e59}"],
        ["video", "1", 9, "sendonly", 9, 2095900982, "{16b068cc-b751-49b8-9d4d-9b1651f16e59}"],
      ],
    },
    {
      name: OFFERS.firefoxPlay,
      // Firefox declares SSRCs on recvonly m-lines too (for its RTCP)
      media: [
        ["audio", "0", 9, "recvonly", 5, 3847338020, "{201e8fac-d906-4c87-9a44-60359fe995fd}"],
        ["video", "1", 9, "recvonly", 9, 3367332, "{201e8fac-d906-4c87-9a44-60359fe995fd}"],
      ],
    },
    {
      name: OFFERS.firefox121,
      media: [
        ["audio", "0", 9, "sendrecv", 5, 3772375965, "{b11da7a1-56f4-4fc1-a969-6d82236f494d}"],
        ["video", "1", 9, "sendrecv", 8, 7463831, "{b11da7a1-56f4-4fc1-a969-6d82236f494d}"],
      ],
    },
    {
      name: OFFERS.safari,
      media: [
        ["video", "0", 9, "recvonly", 9, undefined, undefined],
        ["audio", "1", 9, "sendrecv", 11, 2805193976, "7QoBnlnTDjko/niB"],
        // no a=sendrecv line: the default direction
        ["application", "2", 9, "sendrecv", 0, undefined, undefined],
      ],
    },
    {
      name: OFFERS.websdkPublish,
      media: [
        ["audio", "0", 9, "sendonly", 8, 1120018489, "wz+7T41wIW0IFOMc"],
        ["video", "1", 9, "sendonly", 23, 3603214284, "wz+7T41wIW0IFOMc"],
      ],
    },
    {
      name: OFFERS.websdkPlay,
      media: [
        ["audio", "0", 9, "recvonly", 8, undefined, undefined],
        ["video", "1", 9, "recvonly", 34, undefined, undefined],
      ],
    },
    {
      name: OFFERS.gstreamerVp8,
      media: [
        ["video", "video0", 9, "sendonly", 1, 2, "user949811170@host-9d18eabc"],
        ["audio", "audio1", 9, "sendonly", 1, 1, "user949811170@host-9d18eabc"],
      ],
    },
    {
      name: OFFERS.gstreamerH264,
      media: [
        ["video", "video0", 9, "sendonly", 1, 2, "user716500533@host-a42eae9e"],
        ["audio", "audio1", 9, "sendonly", 1, 1, "user716500533@host-a42eae9e"],
      ],
    },
    {
      name: OFFERS.obs,
      media: [
        ["audio", "0", 58712, "sendonly", 1, 2168349679, "OTU9sDg2gfT6S7D7"],
        ["video", "1", 58712, "sendonly", 1, 2168349680, "OTU9sDg2gfT6S7D7"],
      ],
    },
  ];

  it("covers every offer file", () => {
    expect(table.map((r) => r.name).sort()).toEqual([...ALL].sort());
  });

  it.each(table)("$name", ({ name, media }) => {
    const role = checkOffer(offer(name), "publisher").ok ? "publisher" : "player";
    const parsed = parseOffer(checked(name, role));
    expect(parsed.media.map((m): Row => [m.type, m.mid, m.port, m.direction, m.codecs.length, m.ssrc, m.cname])).toEqual(media);
    expect(parsed.media.map((m) => m.index)).toEqual(media.map((_, i) => i));
  });

  it("reads codecs with payload type, clock rate, channels and lower-cased fmtp keys (Firefox ESR video)", () => {
    const video = parseOffer(offer(OFFERS.firefoxPublish)).media[1]!;
    expect(video.codecs.map((c) => `${c.pt} ${c.name}/${c.clockRate}`)).toEqual([
      "120 VP8/90000",
      "124 rtx/90000",
      "121 VP9/90000",
      "125 rtx/90000",
      "99 AV1/90000",
      "100 rtx/90000",
      "123 ulpfec/90000",
      "122 red/90000",
      "119 rtx/90000",
    ]);
    expect(video.codecs[0]).toEqual({
      pt: 120,
      name: "VP8",
      clockRate: 90000,
      channels: undefined,
      fmtp: "max-fs=12288;max-fr=60",
      params: { "max-fs": "12288", "max-fr": "60" },
    });
    // Debian's Firefox ESR has no H.264 (the OpenH264 plugin is downloaded at run time, and never was here)
    expect(video.codecs.some((c) => c.name === "H264")).toBe(false);
  });

  it("reads the G722/8000/1 and opus/48000/2 channel counts (Firefox) and the static payload types' rtpmaps (Chrome)", () => {
    const ff = parseOffer(offer(OFFERS.firefoxPublish)).media[0]!;
    expect(ff.codecs.map((c) => [c.pt, c.name, c.clockRate, c.channels])).toEqual([
      [109, "opus", 48000, 2],
      [9, "G722", 8000, 1],
      [0, "PCMU", 8000, undefined],
      [8, "PCMA", 8000, undefined],
      [101, "telephone-event", 8000, 1],
    ]);
    const chrome = parseOffer(offer(OFFERS.chromePublish)).media[0]!;
    expect(chrome.codecs.map((c) => c.pt)).toEqual([111, 63, 9, 0, 8, 13, 110, 126]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("planPublisher on real offers", () => {
  type Track = { mid: string; pt: number; codec: string; fmtp: string; channels?: number; ssrc: number };
  const table: Array<{ name: OfferName; video?: Track; audio?: Track; inactive: string[] }> = [
    {
      name: OFFERS.chromePublish,
      // VP8 comes first in our preference, whatever else is offered (H.264, AV1, VP9)
      video: { mid: "1", pt: 96, codec: "VP8", fmtp: "", ssrc: 2641184945 },
      audio: { mid: "0", pt: 111, codec: "opus", fmtp: "minptime=10;useinbandfec=1", channels: 2, ssrc: 2044956442 },
      inactive: [],
    },
    {
      name: OFFERS.firefoxPublish,
      video: { mid: "1", pt: 120, codec: "VP8", fmtp: "max-fs=12288;max-fr=60", ssrc: 2095900982 },
      audio: { mid: "0", pt: 109, codec: "opus", fmtp: "maxplaybackrate=48000;stereo=1;useinbandfec=1", channels: 2, ssrc: 904353832 },
      inactive: [],
    },
    {
      name: OFFERS.firefox121,
      video: { mid: "1", pt: 120, codec: "VP8", fmtp: "max-fs=12288;max-fr=60", ssrc: 7463831 },
      audio: { mid: "0", pt: 109, codec: "opus", fmtp: "maxplaybackrate=48000;stereo=1;useinbandfec=1", channels: 2, ssrc: 3772375965 },
      inactive: [],
    },
    {
      name: OFFERS.safari,
      // audio only: the recvonly video m-line is answered inactive
      audio: { mid: "1", pt: 111, codec: "opus", fmtp: "minptime=10;useinbandfec=1", channels: 2, ssrc: 2805193976 },
      inactive: ["0"],
    },
    {
      name: OFFERS.websdkPublish,
      video: { mid: "1", pt: 96, codec: "VP8", fmtp: "", ssrc: 3603214284 },
      audio: { mid: "0", pt: 111, codec: "opus", fmtp: "minptime=10;useinbandfec=1", channels: 2, ssrc: 1120018489 },
      inactive: [],
    },
    {
      name: OFFERS.gstreamerVp8,
      video: { mid: "video0", pt: 96, codec: "VP8", fmtp: "", ssrc: 2 },
      audio: { mid: "audio1", pt: 100, codec: "OPUS", fmtp: "sprop-stereo=0;sprop-maxcapturerate=48000", channels: 2, ssrc: 1 },
      inactive: [],
    },
    {
      name: OFFERS.gstreamerH264,
      video: {
        mid: "video0",
        pt: 96,
        codec: "H264",
        fmtp: "packetization-mode=1;sprop-parameter-sets=Z0LAFdoFB+wFqDAwNSgAAAMACAAAAwHkeLF1,aM48gA==;profile-level-id=42c015;level-asymmetry-allowed=1",
        ssrc: 2,
      },
      audio: { mid: "audio1", pt: 100, codec: "OPUS", fmtp: "sprop-stereo=0;sprop-maxcapturerate=48000", channels: 2, ssrc: 1 },
      inactive: [],
    },
    {
      name: OFFERS.obs,
      video: { mid: "1", pt: 96, codec: "H264", fmtp: "profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1", ssrc: 2168349680 },
      audio: {
        mid: "0",
        pt: 111,
        codec: "OPUS",
        fmtp: "minptime=10;maxaveragebitrate=96000;stereo=1;sprop-stereo=1;useinbandfec=1",
        channels: 2,
        ssrc: 2168349679,
      },
      inactive: [],
    },
  ];

  const track = (t: PublisherPlan["video"]): Track | undefined =>
    t && {
      mid: t.mid,
      pt: t.codec.pt,
      codec: t.codec.name,
      fmtp: t.codec.fmtp,
      ...(t.codec.channels === undefined ? {} : { channels: t.codec.channels }),
      ssrc: t.ssrc,
    };

  it("covers every offer checkOffer accepts as a publisher", () => {
    expect(table.map((r) => r.name).sort()).toEqual(ALL.filter((n) => checkOffer(offer(n), "publisher").ok).sort());
  });

  it.each(table)("$name", ({ name, video, audio, inactive }) => {
    const plan = planPublisher(parseOffer(checked(name, "publisher")));
    expect(track(plan.video)).toEqual(video);
    expect(track(plan.audio)).toEqual(audio);
    expect(plan.inactive.map((m) => m.mid)).toEqual(inactive);
    if (plan.video) expect(plan.video.kind).toBe("video");
    if (plan.audio) expect(plan.audio.kind).toBe("audio");
  });

  it("keeps each sender's CNAME", () => {
    const plan = planPublisher(parseOffer(offer(OFFERS.obs)));
    expect([plan.video?.cname, plan.audio?.cname]).toEqual(["OTU9sDg2gfT6S7D7", "OTU9sDg2gfT6S7D7"]);
  });

  it.each(ALL.filter((n) => !checkOffer(offer(n), "publisher").ok))("%s (a play offer) is refused: invalid_sdp", (name) => {
    expectRefusal(() => planPublisher(parseOffer(offer(name))), "invalid_sdp", "Invalid SDP: publisher offer has no sendonly/sendrecv audio or video m-line");
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("planPlayer: every publisher × every player", () => {
  const PUBLISHERS = [
    OFFERS.chromePublish,
    OFFERS.firefoxPublish,
    OFFERS.firefox121,
    OFFERS.safari,
    OFFERS.websdkPublish,
    OFFERS.gstreamerVp8,
    OFFERS.gstreamerH264,
    OFFERS.obs,
  ] as const;
  const PLAYERS = [OFFERS.chromePlay, OFFERS.firefoxPlay, OFFERS.firefox121, OFFERS.safari, OFFERS.websdkPlay] as const;

  /**
   * Expected "<mid>:<pt>" of video and audio, the inactive mids, or the refusal. Chrome/Web SDK players carry VP8 on
   * 96, Firefox on 120, Safari on 100; opus is 111 on Chrome/Safari and 109 on Firefox. H.264 publishers (OBS 42e01f,
   * GStreamer x264 42c015, both Constrained Baseline, packetization-mode 1) get Chrome's 108 (42e01f mode 1; 102 is
   * 42001f, plain Baseline, and 104/114 are mode 0), Safari's 98 (96 is 640c1f Constrained High), Firefox 121's 126
   * (97 has no packetization-mode, i.e. mode 0); Debian's Firefox ESR offers no H.264 at all.
   */
  type Cell = { video?: string; audio?: string; inactive: string[] } | "no_common_codecs";
  const VP8: Record<(typeof PLAYERS)[number], Cell> = {
    "chrome-play": { video: "1:96", audio: "0:111", inactive: [] },
    "firefox-play": { video: "1:120", audio: "0:109", inactive: [] },
    "firefox121-sendrecv": { video: "1:120", audio: "0:109", inactive: [] },
    "safari-mac": { video: "0:100", audio: "1:111", inactive: [] },
    "websdk-play": { video: "1:96", audio: "0:111", inactive: [] },
  };
  const H264: Record<(typeof PLAYERS)[number], Cell> = {
    "chrome-play": { video: "1:108", audio: "0:111", inactive: [] },
    "firefox-play": "no_common_codecs",
    "firefox121-sendrecv": { video: "1:126", audio: "0:109", inactive: [] },
    "safari-mac": { video: "0:98", audio: "1:111", inactive: [] },
    "websdk-play": { video: "1:108", audio: "0:111", inactive: [] },
  };
  /** Safari publishes audio only: every player's video m-line is answered inactive. */
  const AUDIO_ONLY: Record<(typeof PLAYERS)[number], Cell> = {
    "chrome-play": { audio: "0:111", inactive: ["1"] },
    "firefox-play": { audio: "0:109", inactive: ["1"] },
    "firefox121-sendrecv": { audio: "0:109", inactive: ["1"] },
    "safari-mac": { audio: "1:111", inactive: ["0"] },
    "websdk-play": { audio: "0:111", inactive: ["1"] },
  };
  const EXPECTED: Record<(typeof PUBLISHERS)[number], Record<(typeof PLAYERS)[number], Cell>> = {
    "chrome-publish": VP8,
    "firefox-publish": VP8,
    "firefox121-sendrecv": VP8,
    "safari-mac": AUDIO_ONLY,
    "websdk-publish": VP8,
    "gstreamer-vp8": VP8,
    "gstreamer-h264": H264,
    "obs-publish": H264,
  };

  const cases = PUBLISHERS.flatMap((pub) => PLAYERS.map((player) => ({ pub, player, want: EXPECTED[pub][player] })));

  it.each(cases)("$pub → $player", ({ pub, player, want }) => {
    const published = planPublisher(parseOffer(checked(pub, "publisher")));
    const parsed = parseOffer(checked(player, "player"));
    if (want === "no_common_codecs") {
      expectRefusal(() => planPlayer(parsed, published), "no_common_codecs", "No common codecs");
      return;
    }
    const plan = planPlayer(parsed, published);
    const cell = (t: { mid: string; pt: number } | undefined) => t && `${t.mid}:${t.pt}`;
    expect({ video: cell(plan.video), audio: cell(plan.audio), inactive: plan.inactive.map((m) => m.mid) }).toEqual({
      video: want.video,
      audio: want.audio,
      inactive: want.inactive,
    });
    // the player's entry for that payload type is the publisher's codec (same name, clock rate, channels, profile)
    for (const kind of ["video", "audio"] as const) {
      const played = plan[kind];
      const source = published[kind];
      if (!played || !source) continue;
      expect(played.kind).toBe(kind);
      expect(played.codec.pt).toBe(played.pt);
      expect(played.codec.name.toLowerCase()).toBe(source.codec.name.toLowerCase());
      expect(played.codec.clockRate).toBe(source.codec.clockRate);
      if (source.codec.name === "H264") {
        expect(h264Profile(played.codec.params["profile-level-id"])).toBe(h264Profile(source.codec.params["profile-level-id"]));
        expect(played.codec.params["packetization-mode"]).toBe("1");
      }
    }
  });

  it("H.264: the profiles involved are what the table says", () => {
    const chrome = parseOffer(offer(OFFERS.chromePlay)).media[1]!;
    const h264 = chrome.codecs.filter((c) => c.name === "H264").map((c) => `${c.pt} ${h264Profile(c.params["profile-level-id"])} pm${c.params["packetization-mode"]}`);
    expect(h264).toEqual([
      "102 baseline pm1",
      "104 baseline pm0",
      "108 constrained-baseline pm1",
      "114 constrained-baseline pm0",
      "116 main pm1",
      "39 main pm0",
      "41 predictive-high-444 pm1",
      "43 predictive-high-444 pm0",
    ]);
    const safari = parseOffer(offer(OFFERS.safari)).media[0]!;
    expect(safari.codecs.filter((c) => c.name === "H264").map((c) => `${c.pt} ${h264Profile(c.params["profile-level-id"])}`)).toEqual([
      "96 constrained-high",
      "98 constrained-baseline",
    ]);
    const gst = planPublisher(parseOffer(checked(OFFERS.gstreamerH264, "publisher")));
    expect(h264Profile(gst.video?.codec.params["profile-level-id"])).toBe("constrained-baseline");
  });

  it.each(PUBLISHERS)("a publish offer is no play offer: %s as a player is refused unless it has sendrecv m-lines", (name) => {
    const published = planPublisher(parseOffer(checked(OFFERS.chromePublish, "publisher")));
    const parsed = parseOffer(offer(name));
    if (checkOffer(offer(name), "player").ok) {
      expect(() => planPlayer(parsed, published)).not.toThrow();
    } else {
      expectRefusal(() => planPlayer(parsed, published), "invalid_sdp", "Invalid SDP: player offer has no recvonly/sendrecv audio or video m-line");
    }
  });
});

describe("withoutCandidates (offers as the Web SDK sends them; a cascade pull offer handed to the origin)", () => {
  it("has offers with candidates to strip", () => {
    expect(ALL.filter((name) => offer(name).includes("a=candidate:")).length).toBeGreaterThan(0);
  });

  it.each(ALL)("%s: no candidate, JSEP placeholders, everything else checks and plans the same", (name) => {
    const stripped = withoutCandidates(offer(name));
    expect(stripped).not.toMatch(/a=candidate:|a=end-of-candidates/);
    expect(stripped.match(/^m=\S+ (\d+)/gm)!.map((m) => m.split(" ")[1])).toEqual(offer(name).match(/^m=\S+ \d+/gm)!.map(() => "9"));
    expect(stripped.match(/^c=.*$/gm)!.every((c) => c === "c=IN IP4 0.0.0.0")).toBe(true);
    for (const role of ["publisher", "player"] as const) {
      const before = checkOffer(offer(name), role);
      const after = checkOffer(stripped, role);
      expect(after.ok).toBe(before.ok);
      if (before.ok && after.ok) expect([after.hasAudio, after.hasVideo]).toEqual([before.hasAudio, before.hasVideo]);
    }
    const before = parseOffer(offer(name));
    const after = parseOffer(stripped);
    const planned = (o: ReturnType<typeof parseOffer>) => o.media.map((m) => [m.mid, m.type, m.direction, m.codecs, m.ssrc]);
    expect(planned(after)).toEqual(planned(before));
    for (const attr of ["fingerprint", "ice-ufrag", "ice-pwd"]) {
      expect(stripped).toContain(offer(name).match(new RegExp(`a=${attr}:[^\\r\\n]+`))![0]);
    }
  });
});
