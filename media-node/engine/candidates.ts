/**
 * Announced addresses (1:1 NAT): the host candidates of a local description the engine produced are replaced by
 * candidates on the addresses the operator announces (`MEDIA_NODE_ANNOUNCED_ADDRESSES`), with the port the engine
 * actually bound. Pure: SDP text in, SDP text out (no WebRTC engine).
 *
 * Why rewrite SDP: libdatachannel's `rtc::Configuration` (v0.24.5, `include/rtc/configuration.hpp`) has a
 * `bindAddress` but no option to announce another address, and libjuice gathers host candidates from the bound
 * socket only (libdatachannel issue #436 asks for exactly this and was closed without such an option). Binding to a
 * public address that is not on a local interface fails (`bind` errno 99, EADDRNOTAVAIL): on AWS, GCP or Azure the
 * public IPv4 address is translated 1:1 to the VM's private one and never appears on the VM. Janus
 * (`nat_1_1_mapping`), pion (`SetNAT1To1IPs` with host candidates) and LiveKit (`rtc.node_ip`) do the same
 * replacement.
 *
 * Rules:
 * - Every `typ host` candidate is removed; other candidate types (none today: the node has no STUN/TURN server) stay.
 * - For each announced address, in the operator's order, one host candidate is added per component, on the port of a
 *   gathered host candidate of the same address family, component and transport. libjuice gathers every host
 *   candidate of an agent from one UDP socket, so they all share a port; with a dual-stack bind (`::`) IPv4 and IPv6
 *   candidates share it too. An announced address whose family was not gathered is left out ({@link
 *   AnnounceResult.unmatched}).
 * - Candidate lines follow the grammar of RFC 8839 §5.1. Priorities follow RFC 8445 §5.1.2.1 with type preference
 *   126 (host) and local preference 65535 minus the address's position, so the first announced address is preferred.
 *   Each address gets its own foundation (RFC 8445 §5.1.1.3: candidates on different IP addresses).
 * - The default destination (`c=` address, `m=` port; RFC 8839 §4.2.1.2) of every m-section that pointed at a
 *   gathered host candidate becomes the first announced candidate. RFC 8839 §4.2.5 expects the default destination to
 *   appear among the candidates; left on the private address it would not.
 * - Every other line is kept byte for byte: sdp-transform parses the description (to find the candidates and the
 *   connection lines of each section), but its writer is not used, because it does not reproduce every attribute
 *   (e.g. `a=msid:- {uuid}`, `a=rtcp-mux-only`).
 */
import { isIP } from "node:net";
import { parse } from "sdp-transform";

/** A host candidate found in a local description. */
export interface HostCandidate {
  address: string;
  port: number;
  /** 4 or 6. */
  family: number;
  component: number;
  transport: string;
}

export interface AnnounceResult {
  /** The description with host candidates replaced (unchanged when no address is announced). */
  sdp: string;
  /** Host candidates the engine gathered (before replacement), over all m-sections. */
  gathered: HostCandidate[];
  /** Host candidates now in the description. */
  announced: HostCandidate[];
  /** Announced addresses left out: no host candidate of their address family was gathered. */
  unmatched: string[];
}

/** RFC 8445 §5.1.2.2: recommended type preference of host candidates. */
const HOST_TYPE_PREFERENCE = 126;

/** RFC 8445 §5.1.2.1: priority = 2^24 × type preference + 2^8 × local preference + (256 − component id). */
function priority(localPreference: number, component: number): number {
  return HOST_TYPE_PREFERENCE * 2 ** 24 + localPreference * 2 ** 8 + (256 - component);
}

/** The host candidates of every m-section of `sdp`, in order. */
export function hostCandidates(sdp: string): HostCandidate[] {
  const out: HostCandidate[] = [];
  for (const m of parse(sdp).media) {
    for (const c of m.candidates ?? []) {
      if (c.type !== "host") continue;
      out.push({ address: c.ip, port: c.port, family: isIP(c.ip), component: c.component, transport: c.transport });
    }
  }
  return out;
}

/**
 * Replaces the host candidates of a local description (offer or answer) by candidates on `addresses` (see the file
 * header for the rules).
 * @param sdp a complete local description from libdatachannel (gathering complete)
 * @param addresses IP literals, most preferred first; empty = return `sdp` unchanged
 */
export function announceAddresses(sdp: string, addresses: readonly string[]): AnnounceResult {
  if (addresses.length === 0) {
    const gathered = hostCandidates(sdp);
    return { sdp, gathered, announced: gathered, unmatched: [] };
  }
  const parsed = parse(sdp);
  const gathered = hostCandidates(sdp);
  const hostIps = new Set(gathered.map((c) => c.address));
  const portOf = new Map<string, number>();
  for (const c of gathered) {
    const key = `${c.component}/${c.family}/${c.transport.toUpperCase()}`;
    if (!portOf.has(key)) portOf.set(key, c.port);
  }
  const components = [...new Set(gathered.map((c) => c.component))].sort((a, b) => a - b);
  const transports = [...new Set(gathered.map((c) => c.transport))];

  const announced: HostCandidate[] = [];
  const lines: string[] = [];
  const unmatched: string[] = [];
  addresses.forEach((address, i) => {
    const family = isIP(address);
    let found = false;
    for (const component of components) {
      for (const transport of transports) {
        const port = portOf.get(`${component}/${family}/${transport.toUpperCase()}`);
        if (port === undefined) continue;
        found = true;
        announced.push({ address, port, family, component, transport });
        lines.push(`a=candidate:nat${i + 1} ${component} ${transport} ${priority(65535 - i, component)} ${address} ${port} typ host`);
      }
    }
    if (!found) unmatched.push(address);
  });
  const def = announced[0];

  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  const input = sdp.split(/\r?\n/);
  const output: string[] = [];
  let section = -1; // -1 = session level
  let candidateIndex = 0;
  let inserted = false;
  const defaultsHere = (s: number) => {
    const conn = s >= 0 ? parsed.media[s]?.connection : parsed.connection;
    return def !== undefined && conn !== undefined && hostIps.has(conn.ip);
  };
  for (const line of input) {
    if (line.startsWith("m=")) {
      section++;
      candidateIndex = 0;
      inserted = false;
      // m=<media> <port>[/<count>] <proto> <fmt>… (RFC 8866 §5.14): the port is the default candidate's
      output.push(defaultsHere(section) ? line.replace(/^(m=\S+ )\d+/, `$1${def!.port}`) : line);
      continue;
    }
    if (line.startsWith("c=") && defaultsHere(section)) {
      output.push(`c=IN IP${def!.family} ${def!.address}`);
      continue;
    }
    if (line.startsWith("a=candidate:") && section >= 0) {
      const cand = parsed.media[section]?.candidates?.[candidateIndex++];
      if (cand?.type === "host") {
        if (!inserted) output.push(...lines);
        inserted = true;
        continue;
      }
    }
    output.push(line);
  }
  return { sdp: output.join(eol), gathered, announced, unmatched };
}
