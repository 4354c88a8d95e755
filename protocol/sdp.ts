/**
 * SDP offer checks of the worker (early, clear refusal before a name is reserved); the media node parses again for its
 * own planning (media-node/sdp.ts).
 * Parsing is sdp-transform's (RFC 8866 grammar); this module only states what an acceptable offer is
 * (docs/protocols.md, "SDP offers"): at least one audio/video m-line, ICE credentials and a DTLS fingerprint
 * (session- or media-level), and a direction that fits the role — publish offers send (sendonly/sendrecv), play
 * offers receive (recvonly/sendrecv).
 */
import { parse, write, type SessionDescription } from "sdp-transform";
import type { LegRole } from "./media-node.js";

/** Largest SDP (offer or answer) accepted on every wire: WCS, WHIP/WHEP, the WebSocket endpoint, the media-node API. */
export const MAX_SDP_BYTES = 64 * 1024;

/**
 * A checked offer: `text` is what to hand on (bundle-only m-lines activated, see {@link activateBundleOnly}), `sdp`
 * its parse, and whether it carries usable audio / video m-lines.
 */
export type OfferCheck =
  | { ok: true; text: string; sdp: SessionDescription; hasAudio: boolean; hasVideo: boolean }
  | { ok: false; reason: string };

/**
 * Parses and checks an SDP offer, the one check of every entry point (WCS publishStream/playStream, WHIP/WHEP, the
 * WebSocket endpoint). Never throws; `reason` is short and human-readable (used after "Invalid SDP: ").
 */
export function checkOffer(original: string, role: LegRole): OfferCheck {
  if (!/^v=0\r?\n/.test(original)) return { ok: false, reason: "does not start with v=0" };
  const text = activateBundleOnly(original);
  let sdp: SessionDescription;
  try {
    sdp = parse(text);
  } catch (err) {
    return { ok: false, reason: `unparseable (${String(err)})` };
  }
  const media = sdp.media.filter((m) => m.type === "audio" || m.type === "video");
  if (media.length === 0) return { ok: false, reason: "no audio or video m-line" };
  const wanted = role === "publisher" ? ["sendonly", "sendrecv"] : ["recvonly", "sendrecv"];
  const usable = media.filter((m) => m.port !== 0 && wanted.includes(m.direction ?? sdp.direction ?? "sendrecv"));
  if (usable.length === 0) {
    return { ok: false, reason: role === "publisher" ? "no sendonly/sendrecv m-line in a publish offer" : "no recvonly/sendrecv m-line in a play offer" };
  }
  for (const m of usable) {
    if (!(m.iceUfrag ?? sdp.iceUfrag) || !(m.icePwd ?? sdp.icePwd)) return { ok: false, reason: `m=${m.type} has no ICE credentials` };
    if (!(m.fingerprint ?? sdp.fingerprint)) return { ok: false, reason: `m=${m.type} has no DTLS fingerprint` };
    if (!hasKnownFormat(m)) return { ok: false, reason: `m=${m.type} has no rtpmap` };
  }
  return { ok: true, text, sdp, hasAudio: usable.some((m) => m.type === "audio"), hasVideo: usable.some((m) => m.type === "video") };
}

/**
 * Whether an m-line has a format the node can know: one with an `a=rtpmap`, or a static payload type (0–95, RFC 3551
 * §6, e.g. `m=audio … 0 8` for PCMU/PCMA) that needs none.
 */
function hasKnownFormat(m: SessionDescription["media"][number]): boolean {
  if (m.rtp.length > 0) return true;
  return String(m.payloads ?? "")
    .split(/\s+/)
    .some((p) => /^\d+$/.test(p) && Number(p) < 96);
}

/**
 * JSEP "bundle-only" m-lines (RFC 8829 §5.2.1: port 0 + `a=bundle-only`; GStreamer webrtcbin sends them with
 * max-bundle) ride the BUNDLE transport and are not rejected. This rewrites each as an ordinary bundled m-line (port
 * 9, no `a=bundle-only`) so that checks and engines reading port 0 as "rejected" take them. Other text is unchanged.
 */
export function activateBundleOnly(sdp: string): string {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  const lines = sdp.split(/\r?\n/);
  const out: string[] = [];
  let section: string[] | null = null;
  const flush = () => {
    if (!section) return;
    const m = /^m=(\S+) 0 (.*)$/.exec(section[0]!);
    if (m && section.includes("a=bundle-only")) {
      section = [`m=${m[1]} 9 ${m[2]}`, ...section.slice(1).filter((l) => l !== "a=bundle-only")];
    }
    out.push(...section);
    section = null;
  };
  for (const line of lines) {
    if (line.startsWith("m=")) {
      flush();
      section = [line];
    } else if (section) section.push(line);
    else out.push(line);
  }
  flush();
  return out.join(eol);
}

/**
 * The SDP as a browser sends it before gathering (the Web SDK's offers): no ICE candidates (`a=candidate`,
 * `a=end-of-candidates`, RFC 8839 §5.1) and the JSEP placeholders port 9 and `c=IN IP4 0.0.0.0` (RFC 8829 §5.2.1).
 * The side that gets it cannot send connectivity checks first; it learns the other side's address from that side's
 * checks (peer-reflexive candidates, RFC 8445 §7.3.1.3). Used by the light players of `wcs-edge load` and the fan-out
 * bench (to offer as the Web SDK does), and for a cascade edge's pull offer to the origin: then the edge, which starts
 * the checks once it has the origin's answer, already knows the origin's DTLS fingerprint when the handshake arrives
 * (libdatachannel fails a handshake whose certificate comes before the remote description: "certificate verify
 * failed").
 */
export function withoutCandidates(sdp: string): string {
  const parsed = parse(sdp);
  const placeholder = { version: 4, ip: "0.0.0.0" };
  if (parsed.connection) parsed.connection = placeholder;
  for (const m of parsed.media) {
    delete m.candidates;
    delete m.endOfCandidates;
    m.port = 9;
    if (m.connection) m.connection = placeholder;
  }
  return write(parsed);
}
