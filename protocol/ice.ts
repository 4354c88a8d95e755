/**
 * ICE candidates trickled by clients (WHIP/WHEP `PATCH` fragments, `candidate` messages of the WebSocket endpoint)
 * and handed to the media node: the one grammar check and the one bound on how many are taken at once.
 * No runtime dependency.
 */

/** Most remote candidates taken in one request, or kept while a leg cannot take them yet. */
export const MAX_CANDIDATES = 64;

/**
 * `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …`, the value of an
 * `a=candidate` attribute (RFC 8839 §5.1), with bounded field lengths.
 */
const CANDIDATE = /^candidate:\S{1,32} \d{1,3} (udp|tcp) \d{1,10} \S{1,255} \d{1,5} typ (host|srflx|prflx|relay)( .*)?$/i;

/** Whether `line` (without `a=`) is a well-formed candidate attribute value (see {@link CANDIDATE}). */
export function isCandidate(line: string): boolean {
  return CANDIDATE.test(line);
}

/** The connection address of a candidate attribute value (its fifth field), "" when absent. */
export function candidateAddress(line: string): string {
  return line.split(/\s+/)[4] ?? "";
}
