/**
 * WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) wire details shared by the worker and the tests
 * (shared/reference/wcs-protocol.md §6): media types, headers, and the trickle-ICE SDP fragment of a PATCH
 * (RFC 8840 `application/trickle-ice-sdpfrag`).
 */

export const SDP_CONTENT_TYPE = "application/sdp";
export const TRICKLE_CONTENT_TYPE = "application/trickle-ice-sdpfrag";

/** Largest SDP offer accepted (same bound as the media node's CreateLegRequest.offer). */
export const MAX_OFFER_BYTES = 64 * 1024;
/** Largest trickle fragment accepted. */
export const MAX_FRAGMENT_BYTES = 16 * 1024;
/** Most candidates in one fragment. */
export const MAX_FRAGMENT_CANDIDATES = 64;

/** One trickled candidate: the attribute value without `a=` (`candidate:…`) and the mid of its media section. */
export interface TrickleCandidate {
  candidate: string;
  mid?: string;
}

/** What a trickle-ICE fragment says. */
export interface TrickleFragment {
  /** `a=ice-ufrag` / `a=ice-pwd` (session or media level; the first one seen). */
  iceUfrag?: string;
  icePwd?: string;
  candidates: TrickleCandidate[];
  endOfCandidates: boolean;
}

/** `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …` (RFC 8839 §5.1). */
const CANDIDATE = /^candidate:\S{1,32} \d{1,3} (udp|tcp) \d{1,10} \S{1,255} \d{1,5} typ (host|srflx|prflx|relay)( .*)?$/i;

/**
 * Parses an `application/trickle-ice-sdpfrag` body (RFC 8840 §9): optional session-level lines, then media sections
 * (`m=` … `a=mid:` … `a=candidate:` …). Unknown lines are ignored. Never throws.
 */
export function parseTrickleFragment(text: string): { ok: true; frag: TrickleFragment } | { ok: false; reason: string } {
  const frag: TrickleFragment = { candidates: [], endOfCandidates: false };
  let section: { mid?: string; candidates: string[] } = { candidates: [] };
  const flush = () => {
    for (const candidate of section.candidates) frag.candidates.push({ candidate, ...(section.mid ? { mid: section.mid } : {}) });
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith("m=")) {
      flush();
      section = { candidates: [] };
      continue;
    }
    if (!line.startsWith("a=")) continue;
    const attr = line.slice(2);
    if (attr.startsWith("ice-ufrag:")) frag.iceUfrag ??= attr.slice("ice-ufrag:".length);
    else if (attr.startsWith("ice-pwd:")) frag.icePwd ??= attr.slice("ice-pwd:".length);
    else if (attr.startsWith("mid:")) section.mid = attr.slice(4);
    else if (attr === "end-of-candidates") frag.endOfCandidates = true;
    else if (attr.startsWith("candidate:")) {
      if (!CANDIDATE.test(attr)) return { ok: false, reason: `malformed candidate line: ${line.slice(0, 120)}` };
      section.candidates.push(attr);
    }
  }
  flush();
  if (frag.candidates.length > MAX_FRAGMENT_CANDIDATES) {
    return { ok: false, reason: `more than ${MAX_FRAGMENT_CANDIDATES} candidates in one fragment` };
  }
  return { ok: true, frag };
}

/** Whether a Content-Type header value names `type` (parameters and case ignored). */
export function isContentType(header: string | undefined | null, type: string): boolean {
  return (header ?? "").split(";")[0]!.trim().toLowerCase() === type;
}
