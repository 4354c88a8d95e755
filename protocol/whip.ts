/**
 * WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) wire details shared by the worker and the tests
 * (docs/protocols.md, "WHIP and WHEP"): media types, headers, and the trickle-ICE SDP fragment of a PATCH
 * (RFC 8840 `application/trickle-ice-sdpfrag`).
 */
import { MAX_CANDIDATES, isCandidate } from "./ice.js";
import { RATE_LIMIT_RETRY_AFTER_S, type RefusalCode } from "./refusal.js";

export const SDP_CONTENT_TYPE = "application/sdp";
export const TRICKLE_CONTENT_TYPE = "application/trickle-ice-sdpfrag";

/**
 * Seconds a client should wait before retrying a 503 (no media node), a WHEP 409 (stream not publishing yet) or a
 * 429 (rate limited: the limiter's period, worker/rate-limit.ts).
 */
const RETRY_AFTER_S = { unavailable: 5, notPublishing: 2, rateLimited: RATE_LIMIT_RETRY_AFTER_S } as const;

/**
 * HTTP status of a refused WHIP/WHEP request, per refusal code, and the `Retry-After` seconds to send with it
 * (RFC 9725 §4.2; the WHEP draft answers a stream that is not available yet with 409 + Retry-After).
 */
export const WHIP_HTTP_STATUS: Record<RefusalCode, { status: 400 | 401 | 403 | 404 | 409 | 422 | 429 | 500 | 503 | 504; retryAfter?: number }> = {
  invalid_request: { status: 400 },
  unauthorized: { status: 401 },
  forbidden: { status: 403 },
  not_found: { status: 409, retryAfter: RETRY_AFTER_S.notPublishing },
  name_in_use: { status: 409 },
  conflict: { status: 409 },
  invalid_sdp: { status: 400 },
  no_common_codecs: { status: 422 },
  no_media_node: { status: 503, retryAfter: RETRY_AFTER_S.unavailable },
  node_full: { status: 503, retryAfter: RETRY_AFTER_S.unavailable },
  node_lost: { status: 503, retryAfter: RETRY_AFTER_S.unavailable },
  timeout: { status: 504 },
  remote_error: { status: 500 },
  stopped: { status: 409 },
  rate_limited: { status: 429, retryAfter: RETRY_AFTER_S.rateLimited },
  not_configured: { status: 503 },
  error: { status: 500 },
};

/** Largest trickle fragment accepted. */
export const MAX_FRAGMENT_BYTES = 16 * 1024;

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
      if (!isCandidate(attr)) return { ok: false, reason: `malformed candidate line: ${line.slice(0, 120)}` };
      section.candidates.push(attr);
    }
  }
  flush();
  if (frag.candidates.length > MAX_CANDIDATES) {
    return { ok: false, reason: `more than ${MAX_CANDIDATES} candidates in one fragment` };
  }
  return { ok: true, frag };
}

/** Whether a Content-Type header value names `type` (parameters and case ignored). */
export function isContentType(header: string | undefined | null, type: string): boolean {
  return (header ?? "").split(";")[0]!.trim().toLowerCase() === type;
}
