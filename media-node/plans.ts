/**
 * Plans of the media node's legs (pure functions, no WebRTC engine): which m-line of an offer or answer carries what,
 * with which codec, payload type and SSRC — for a publisher's offer, a player's offer, an offer the node makes for a
 * player (offer mode), and a relay pull's offer and the remote's answer. Offers are parsed by sdp.ts.
 * (SDP offer/answer: RFC 3264; payload types must be kept by the answerer, RFC 3264 §6.1.)
 */
import { parse as parseSdp } from "sdp-transform";
import { invalidSdp, noCommonCodecs } from "./errors.js";
import {
  chooseAudioCodec,
  chooseVideoCodec,
  codecsCompatible,
  parseParams,
  type MediaKind,
  type OfferedCodec,
  type OfferedMedia,
  type ParsedOffer,
} from "./sdp.js";

// ---------------------------------------------------------------------------------------------------------------
// Publisher and player plans: which m-line carries what

/** What a publisher sends on one kind: the m-line, codec and SSRC chosen. */
export interface PublishedTrack {
  kind: MediaKind;
  mid: string;
  codec: OfferedCodec;
  ssrc: number;
  cname?: string;
}

/** Plan for answering a publisher's offer. */
export interface PublisherPlan {
  video?: PublishedTrack;
  audio?: PublishedTrack;
  /** Other audio/video m-lines (unsupported codec, second m-line of a kind, recvonly, …): answered inactive. */
  inactive: OfferedMedia[];
}

const isKind = (t: string): t is MediaKind => t === "audio" || t === "video";

/**
 * Decides how to answer a publisher offer: the first sendonly/sendrecv m-line of each kind with a supported codec is
 * received; every other audio/video m-line with a non-zero port is answered inactive.
 * @throws MediaNodeError invalid_sdp when no audio/video m-line is sendonly/sendrecv, or a chosen m-line has no
 *   `a=ssrc` (the SSRC is needed to demultiplex and to declare it to players); no_common_codecs when no m-line has
 *   a supported codec.
 */
export function planPublisher(offer: ParsedOffer): PublisherPlan {
  const plan: PublisherPlan = { inactive: [] };
  const sending = offer.media.filter(
    (m) => isKind(m.type) && m.port !== 0 && (m.direction === "sendonly" || m.direction === "sendrecv"),
  );
  if (sending.length === 0) throw invalidSdp("publisher offer has no sendonly/sendrecv audio or video m-line");
  for (const m of offer.media) {
    if (!isKind(m.type) || m.port === 0) continue;
    const kind = m.type;
    if (plan[kind] || !sending.includes(m)) {
      plan.inactive.push(m);
      continue;
    }
    const codec = kind === "video" ? chooseVideoCodec(m) : chooseAudioCodec(m);
    if (!codec) {
      plan.inactive.push(m);
      continue;
    }
    if (m.ssrc === undefined) throw invalidSdp(`m=${kind} (mid ${m.mid}) has no a=ssrc`);
    plan[kind] = { kind, mid: m.mid, codec, ssrc: m.ssrc, cname: m.cname };
  }
  if (!plan.video && !plan.audio) throw noCommonCodecs();
  return plan;
}

/** What a player receives on one kind: its m-line and the payload type it offered for the publisher's codec. */
export interface PlayedTrack {
  kind: MediaKind;
  mid: string;
  /** The player's payload type for the publisher's codec (may differ from the publisher's). */
  pt: number;
  /** The player's own entry for that codec. */
  codec: OfferedCodec;
}

export interface PlayerPlan {
  video?: PlayedTrack;
  audio?: PlayedTrack;
  inactive: OfferedMedia[];
}

/**
 * Decides how to answer a player's offer given what the publisher sends: for each kind the publisher has, the first
 * recvonly/sendrecv m-line of that kind carries it, with the first payload type the player offered that is
 * {@link codecsCompatible} with the publisher's codec. Other audio/video m-lines are answered inactive.
 * @throws MediaNodeError invalid_sdp when no audio/video m-line is recvonly/sendrecv; no_common_codecs when a
 *   receiving m-line of a kind the publisher sends has no compatible codec, or nothing at all can be delivered.
 */
export function planPlayer(offer: ParsedOffer, published: { video?: PublishedTrack; audio?: PublishedTrack }): PlayerPlan {
  const plan: PlayerPlan = { inactive: [] };
  const receiving = offer.media.filter(
    (m) => isKind(m.type) && m.port !== 0 && (m.direction === "recvonly" || m.direction === "sendrecv"),
  );
  if (receiving.length === 0) throw invalidSdp("player offer has no recvonly/sendrecv audio or video m-line");
  for (const m of offer.media) {
    if (!isKind(m.type) || m.port === 0) continue;
    const kind = m.type;
    const pub = published[kind];
    if (!pub || plan[kind] || !receiving.includes(m)) {
      plan.inactive.push(m);
      continue;
    }
    const codec = m.codecs.find((c) => codecsCompatible(pub.codec, c));
    if (!codec) throw noCommonCodecs();
    plan[kind] = { kind, mid: m.mid, pt: codec.pt, codec };
  }
  if (!plan.video && !plan.audio) throw noCommonCodecs();
  return plan;
}

/**
 * Plan of an offer-mode player leg (the node makes the offer, e.g. for the WebSocket endpoint's play or a relay's
 * publishStream): one sendonly m-line per kind the publisher sends, video first, mids "0", "1", each carrying the
 * publisher's codec under the publisher's own payload type (the answerer must keep it, RFC 3264 §6.1).
 * @throws MediaNodeError no_common_codecs when the publisher sends nothing
 */
export function planOfferedPlayer(published: { video?: PublishedTrack; audio?: PublishedTrack }): PlayerPlan {
  const plan: PlayerPlan = { inactive: [] };
  let mid = 0;
  for (const kind of ["video", "audio"] as const) {
    const pub = published[kind];
    if (!pub) continue;
    plan[kind] = { kind, mid: String(mid++), pt: pub.codec.pt, codec: pub.codec };
  }
  if (!plan.video && !plan.audio) throw noCommonCodecs();
  return plan;
}

/**
 * Checks the remote answer to an offer made from `plan` ({@link planOfferedPlayer}): every m-line of the answer must
 * be one we offered (same mid); an m-line is accepted when its port is not 0 and its direction lets it receive
 * (recvonly, or sendrecv from lenient answerers); an accepted m-line must keep the offered payload type.
 * @returns the kinds the answer accepted (the others will never open)
 * @throws MediaNodeError invalid_sdp (unparseable, unknown mid, nothing accepted); no_common_codecs (payload type
 *   dropped)
 */
export function checkPlayerAnswer(answer: ParsedOffer, plan: PlayerPlan): MediaKind[] {
  const offered = new Map<string, PlayedTrack>();
  for (const kind of ["video", "audio"] as const) {
    const t = plan[kind];
    if (t) offered.set(t.mid, t);
  }
  const accepted: MediaKind[] = [];
  for (const m of answer.media) {
    const t = offered.get(m.mid);
    if (!t) throw invalidSdp(`answer has an m-line with mid "${m.mid}" that was not offered`);
    if (m.type !== t.kind) throw invalidSdp(`answer m-line mid "${m.mid}" is ${m.type}, ${t.kind} was offered`);
    if (m.port === 0 || (m.direction !== "recvonly" && m.direction !== "sendrecv")) continue;
    if (!m.codecs.some((c) => c.pt === t.pt)) throw noCommonCodecs();
    accepted.push(t.kind);
  }
  if (accepted.length === 0) throw invalidSdp("the answer accepts none of the offered m-lines");
  return accepted;
}

// ---------------------------------------------------------------------------------------------------------------
// Relay pull legs: the node offers to receive (playStream to a remote server) and learns the codec from the answer

/** Mids of a pull leg's offer (video first). */
export const PULL_MIDS = { video: "0", audio: "1" } as const;

/** The codecs a pull leg offers per kind, each with the payload type the remote must keep (RFC 3264 §6.1). */
export interface PullOfferPlan {
  video: OfferedCodec[];
  audio: OfferedCodec[];
}

const codec = (pt: number, name: string, clockRate: number, fmtp = "", channels?: number): OfferedCodec => ({
  pt,
  name,
  clockRate,
  ...(channels === undefined ? {} : { channels }),
  fmtp,
  params: parseParams(fmtp),
});

/**
 * What a relay pull offers: every codec a publisher may send us (VP8; H.264 Constrained Baseline and High with
 * packetization-mode 1 and 0; VP9 profile 0; AV1; opus; PCMU; PCMA), so that whatever the remote stream carries can
 * be forwarded to local players unchanged.
 */
export function pullOfferPlan(): PullOfferPlan {
  return {
    video: [
      codec(96, "VP8", 90000),
      codec(102, "H264", 90000, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"),
      codec(104, "H264", 90000, "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f"),
      codec(106, "H264", 90000, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f"),
      codec(108, "H264", 90000, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f"),
      codec(110, "H264", 90000, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f"),
      codec(98, "VP9", 90000, "profile-id=0"),
      codec(45, "AV1", 90000),
    ],
    audio: [codec(111, "opus", 48000, "minptime=10;useinbandfec=1", 2), codec(0, "PCMU", 8000, "", 1), codec(8, "PCMA", 8000, "", 1)],
  };
}

/**
 * Reads the remote answer to a pull offer: for each of our m-lines the answer accepts (port ≠ 0, sendonly or
 * sendrecv), the codec is the answer's first payload type among those we offered (with the answer's fmtp), and the
 * SSRC the answer declares (0 when none: learnt from the first packet).
 * @throws MediaNodeError invalid_sdp (unknown mid, nothing accepted); no_common_codecs (no offered payload type)
 */
export function planPulledTracks(answer: ParsedOffer, offer: PullOfferPlan): { video?: PublishedTrack; audio?: PublishedTrack } {
  const out: { video?: PublishedTrack; audio?: PublishedTrack } = {};
  for (const m of answer.media) {
    const kind = m.mid === PULL_MIDS.video ? "video" : m.mid === PULL_MIDS.audio ? "audio" : undefined;
    if (!kind) throw invalidSdp(`answer has an m-line with mid "${m.mid}" that was not offered`);
    if (m.type !== kind) throw invalidSdp(`answer m-line mid "${m.mid}" is ${m.type}, ${kind} was offered`);
    if (m.port === 0 || (m.direction !== "sendonly" && m.direction !== "sendrecv")) continue;
    const offered = offer[kind];
    const chosen = m.codecs.find((c) => offered.some((o) => o.pt === c.pt));
    if (!chosen) throw noCommonCodecs();
    const mine = offered.find((o) => o.pt === chosen.pt)!;
    const fmtp = chosen.fmtp || mine.fmtp;
    out[kind] = {
      kind,
      mid: m.mid,
      codec: { ...mine, fmtp, params: parseParams(fmtp), channels: chosen.channels ?? mine.channels },
      ssrc: m.ssrc ?? 0,
      ...(m.cname === undefined ? {} : { cname: m.cname }),
    };
  }
  if (!out.video && !out.audio) throw invalidSdp("the answer sends none of the offered m-lines");
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Feedback the remote side accepts

/**
 * Whether the remote description lets the node send generic NACKs (RFC 4585 §6.2.1) about payload type `pt` of the
 * m-line `mid`: that m-line has `a=rtcp-fb:<pt> nack` or `a=rtcp-fb:* nack` (RFC 4585 §4.2; `nack pli` and other
 * parameters are other messages). The remote description is a publisher's offer, or the answer to a pull leg's
 * offer. Without it the sender will not resend: GStreamer's webrtcbin, for one, offers only `nack pli`.
 * @param mid `a=mid`, or the m-line's index as a string when it has none (as parseOffer does)
 * @returns false as well when the text cannot be parsed or has no such m-line
 */
export function nackNegotiated(sdp: string, mid: string, pt: number): boolean {
  let media;
  try {
    media = parseSdp(sdp).media ?? [];
  } catch {
    return false;
  }
  const m = media.find((x, i) => String(x.mid ?? i) === mid);
  return !!m?.rtcpFb?.some((f) => f.type === "nack" && !f.subtype && (f.payload === "*" || Number(f.payload) === pt));
}
