/**
 * Offer analysis and codec choice for the media node (pure functions, no WebRTC engine).
 *
 * Offers are parsed with sdp-transform (SDP: RFC 8866; offer/answer: RFC 3264; WebRTC usage: RFC 8829 JSEP).
 * The media node answers every offer itself, so this module only has to find, per m-line: its kind, mid, direction,
 * offered codecs with their payload types and fmtp parameters, and the sender's SSRC and CNAME (RFC 5576 `a=ssrc`);
 * and which codecs are the same and which we prefer. Which m-line carries what is decided in plans.ts.
 */
import { parse as parseSdp, type SessionDescription } from "sdp-transform";
import { invalidSdp } from "./errors.js";

export type MediaKind = "audio" | "video";
export type SdpDirection = "sendrecv" | "sendonly" | "recvonly" | "inactive";

/** One `a=rtpmap` entry (plus its `a=fmtp`) of an offered m-line. */
export interface OfferedCodec {
  /** RTP payload type, 0–127. */
  pt: number;
  /** Encoding name as written in the SDP, e.g. "VP8", "H264", "opus". */
  name: string;
  /** RTP clock rate, Hz. */
  clockRate: number;
  /** Audio channels (`a=rtpmap:111 opus/48000/2` → 2); undefined when absent. */
  channels?: number;
  /** The raw `a=fmtp` value for this payload type, "" when absent. */
  fmtp: string;
  /** fmtp parameters with lower-cased keys. */
  params: Record<string, string>;
}

/** One m-line of an offer. */
export interface OfferedMedia {
  /** Position of the m-line in the offer, from 0. */
  index: number;
  /** "audio", "video", "application", … */
  type: string;
  /** `a=mid`, or the m-line index as a string when absent (libdatachannel does the same). */
  mid: string;
  /** m-line port; 0 = rejected/removed (RFC 3264 §6). */
  port: number;
  /** Media-level direction, else session-level, else sendrecv (RFC 3264 §5.1). */
  direction: SdpDirection;
  codecs: OfferedCodec[];
  /** The sender's primary SSRC: first SSRC of an FID or SIM group, else the first `a=ssrc`; undefined when none. */
  ssrc?: number;
  /** `a=ssrc:<ssrc> cname:<cname>` of {@link ssrc}. */
  cname?: string;
}

export interface ParsedOffer {
  media: OfferedMedia[];
}

/** Static audio payload types (RFC 3551 §6) that may appear without an `a=rtpmap`. */
const STATIC_PT: Record<number, { name: string; clockRate: number; channels: number }> = {
  0: { name: "PCMU", clockRate: 8000, channels: 1 },
  8: { name: "PCMA", clockRate: 8000, channels: 1 },
  9: { name: "G722", clockRate: 8000, channels: 1 },
};

/** fmtp parameters (`a=b;c=d`) with lower-cased keys. */
export function parseParams(fmtp: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of fmtp.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    out[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
  }
  return out;
}

function asDirection(d: unknown): SdpDirection | undefined {
  return d === "sendrecv" || d === "sendonly" || d === "recvonly" || d === "inactive" ? d : undefined;
}

/**
 * Parses an offer into its m-lines.
 * @throws MediaNodeError `invalid_sdp` ("Invalid SDP: <reason>") when the text is not SDP or has no m-lines
 */
export function parseOffer(sdp: string): ParsedOffer {
  if (!/^v=0\s*$/m.test(sdp.slice(0, 64))) throw invalidSdp("missing v=0 line");
  let session: SessionDescription;
  try {
    session = parseSdp(sdp);
  } catch (e) {
    throw invalidSdp(`not parseable (${(e as Error).message})`);
  }
  const mlines = session.media ?? [];
  if (mlines.length === 0) throw invalidSdp("no m-lines");
  const sessionDir = asDirection(session.direction) ?? "sendrecv";

  const media = mlines.map((m, index): OfferedMedia => {
    const fmtpByPt = new Map<number, string>();
    for (const f of m.fmtp ?? []) fmtpByPt.set(Number(f.payload), f.config);
    const codecs: OfferedCodec[] = [];
    const seen = new Set<number>();
    for (const r of m.rtp ?? []) {
      const pt = Number(r.payload);
      if (!Number.isInteger(pt) || pt < 0 || pt > 127 || seen.has(pt)) continue;
      seen.add(pt);
      const fmtp = fmtpByPt.get(pt) ?? "";
      codecs.push({
        pt,
        name: r.codec,
        clockRate: Number(r.rate ?? 0),
        channels: r.encoding === undefined ? undefined : Number(r.encoding),
        fmtp,
        params: parseParams(fmtp),
      });
    }
    // Static payload types listed on the m-line without an rtpmap.
    for (const p of String(m.payloads ?? "").split(/\s+/)) {
      const pt = Number(p);
      const st = STATIC_PT[pt];
      if (p !== "" && st && !seen.has(pt)) {
        seen.add(pt);
        codecs.push({ pt, ...st, fmtp: "", params: {} });
      }
    }
    // Preference is the order of the formats on the m-line (RFC 8866 §5.14), not of the a=rtpmap lines (libdatachannel
    // writes those sorted by payload type); payload types missing from the m-line go last.
    const rank = new Map<number, number>();
    for (const p of String(m.payloads ?? "").split(/\s+/)) if (p !== "" && !rank.has(Number(p))) rank.set(Number(p), rank.size);
    codecs.sort((a, b) => (rank.get(a.pt) ?? rank.size) - (rank.get(b.pt) ?? rank.size));

    let ssrc: number | undefined;
    const groups = m.ssrcGroups ?? [];
    const group = groups.find((g) => g.semantics === "SIM") ?? groups.find((g) => g.semantics === "FID");
    if (group) ssrc = Number(group.ssrcs.trim().split(/\s+/)[0]);
    if ((ssrc === undefined || !Number.isFinite(ssrc)) && m.ssrcs && m.ssrcs.length > 0) ssrc = Number(m.ssrcs[0]!.id);
    if (ssrc !== undefined && !(Number.isInteger(ssrc) && ssrc >= 0 && ssrc <= 0xffffffff)) ssrc = undefined;
    const cname = ssrc === undefined ? undefined : m.ssrcs?.find((s) => Number(s.id) === ssrc && s.attribute === "cname")?.value;

    return {
      index,
      type: m.type,
      mid: m.mid === undefined || String(m.mid) === "" ? String(index) : String(m.mid),
      port: Number(m.port),
      direction: asDirection(m.direction) ?? sessionDir,
      codecs,
      ssrc,
      cname,
    };
  });

  const mids = new Set<string>();
  for (const m of media) {
    if (mids.has(m.mid)) throw invalidSdp(`duplicate mid "${m.mid}"`);
    mids.add(m.mid);
  }
  return { media };
}

// ---------------------------------------------------------------------------------------------------------------
// Codec identity and preference

const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * H.264 profile of a `profile-level-id` (RFC 6184 §8.1), classified like libwebrtc's h264_profile_level_id.cc:
 * profile_idc + the constraint-set bits of profile-iop. The level (third byte) is ignored for compatibility.
 * Missing parameter = Constrained Baseline (what libwebrtc assumes). Unknown combinations yield "idc:<hex>/<hex>".
 */
export function h264Profile(profileLevelId: string | undefined): string {
  if (profileLevelId === undefined) return "constrained-baseline";
  if (!/^[0-9a-f]{6}$/i.test(profileLevelId)) return `invalid:${profileLevelId.toLowerCase()}`;
  const idc = parseInt(profileLevelId.slice(0, 2), 16);
  const iop = parseInt(profileLevelId.slice(2, 4), 16);
  const patterns: [number, string, string][] = [
    [0x42, "x1xx0000", "constrained-baseline"],
    [0x4d, "1xxx0000", "constrained-baseline"],
    [0x58, "11xx0000", "constrained-baseline"],
    [0x42, "x0xx0000", "baseline"],
    [0x58, "10xx0000", "baseline"],
    [0x4d, "0x0x0000", "main"],
    [0x64, "00000000", "high"],
    [0x64, "00001100", "constrained-high"],
    [0xf4, "00000000", "predictive-high-444"],
  ];
  for (const [pIdc, pattern, name] of patterns) {
    if (pIdc !== idc) continue;
    let mask = 0;
    let value = 0;
    for (let i = 0; i < 8; i++) {
      const bit = 1 << (7 - i);
      if (pattern[i] !== "x") mask |= bit;
      if (pattern[i] === "1") value |= bit;
    }
    if ((iop & mask) === value) return name;
  }
  return `idc:${profileLevelId.slice(0, 2).toLowerCase()}/${profileLevelId.slice(2, 4).toLowerCase()}`;
}

/** H.264 packetization-mode (RFC 6184 §8.1), "0" when absent. */
function h264Mode(c: OfferedCodec): string {
  return c.params["packetization-mode"] ?? "0";
}

/**
 * Whether a player's offered codec can carry the publisher's RTP unchanged: same encoding name and clock rate;
 * opus: same channel count; H.264: same packetization-mode and same profile (levels may differ, decoders accept any);
 * VP9: same profile-id (default 0); AV1: same profile (default 0).
 */
export function codecsCompatible(pub: OfferedCodec, player: OfferedCodec): boolean {
  if (!eq(pub.name, player.name) || pub.clockRate !== player.clockRate) return false;
  const name = pub.name.toUpperCase();
  if (name === "OPUS") return (pub.channels ?? 1) === (player.channels ?? 1);
  if (name === "H264") {
    return (
      h264Mode(pub) === h264Mode(player) &&
      h264Profile(pub.params["profile-level-id"]) === h264Profile(player.params["profile-level-id"])
    );
  }
  if (name === "VP9") return (pub.params["profile-id"] ?? "0") === (player.params["profile-id"] ?? "0");
  if (name === "AV1") return (pub.params["profile"] ?? "0") === (player.params["profile"] ?? "0");
  return true;
}

/**
 * Video codec we accept from a publisher m-line: VP8, then H.264 (packetization-mode=1 before 0), then VP9, then
 * AV1; within one name the offer's order (the sender's preference) decides. Undefined when none is offered.
 */
export function chooseVideoCodec(m: OfferedMedia): OfferedCodec | undefined {
  const video = m.codecs.filter((c) => c.clockRate === 90000);
  const byName = (n: string) => video.filter((c) => eq(c.name, n));
  const vp8 = byName("VP8")[0];
  if (vp8) return vp8;
  const h264 = byName("H264");
  const h264Pm1 = h264.find((c) => h264Mode(c) === "1");
  if (h264Pm1) return h264Pm1;
  if (h264[0]) return h264[0];
  const vp9 = byName("VP9");
  const vp9p0 = vp9.find((c) => (c.params["profile-id"] ?? "0") === "0");
  if (vp9p0 ?? vp9[0]) return vp9p0 ?? vp9[0];
  return byName("AV1")[0];
}

/** Audio codec we accept from a publisher m-line: opus/48000/2, then PCMU/8000, then PCMA/8000. */
export function chooseAudioCodec(m: OfferedMedia): OfferedCodec | undefined {
  return (
    m.codecs.find((c) => eq(c.name, "opus") && c.clockRate === 48000) ??
    m.codecs.find((c) => eq(c.name, "PCMU") && c.clockRate === 8000) ??
    m.codecs.find((c) => eq(c.name, "PCMA") && c.clockRate === 8000)
  );
}
