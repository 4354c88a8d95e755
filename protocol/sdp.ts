/**
 * SDP offer checks shared by the worker (early, clear refusal before a name is reserved) and the media node.
 * Parsing is sdp-transform's (RFC 8866 grammar); this module only states what an acceptable WCS offer is
 * (shared/reference/wcs-protocol.md §1.7): at least one audio/video m-line, ICE credentials and a DTLS fingerprint
 * (session- or media-level), and a direction that fits the role — publish offers send (sendonly/sendrecv), play
 * offers receive (recvonly/sendrecv).
 */
import { parse, type SessionDescription } from "sdp-transform";

export type OfferRole = "publisher" | "player";

export type OfferCheck = { ok: true; sdp: SessionDescription } | { ok: false; reason: string };

/** Parses and checks an SDP offer. Never throws; `reason` is short and human-readable (used after "Invalid SDP: "). */
export function checkOffer(text: string, role: OfferRole): OfferCheck {
  if (!/^v=0\r?\n/.test(text)) return { ok: false, reason: "does not start with v=0" };
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
    if (m.rtp.length === 0) return { ok: false, reason: `m=${m.type} has no rtpmap` };
  }
  return { ok: true, sdp };
}
