/**
 * The WebRTC engine of the media node: the only code that imports node-datachannel (libdatachannel: ICE, DTLS, SRTP
 * in native code). One concept per file:
 *
 * - leg.ts: the leg base (one PeerConnection, no trickle from us, outcome reported once);
 * - publisher-leg.ts: answers a publisher's sendonly offer (or offers to pull from a remote server), receives RTP;
 * - player-leg.ts: sends the publisher's RTP to one player (answer mode, or offer mode with the publisher's codec,
 *   payload type and SSRC);
 * - stream-router.ts: the per-stream fan-out, allocation-free per packet;
 * - keyframe-throttle.ts: at most one keyframe request per interval to a publisher;
 * - gop-cache.ts, keyframes.ts: each stream's video from its last keyframe on, replayed to a new player (instant start);
 * - nack-requester.ts: which missing publisher packets to ask for again with generic NACKs (RFC 4585), and when;
 * - queue-delay.ts: drops publisher RTP that waited too long in node-datachannel's callback queue;
 * - descriptions.ts: track descriptions from the SDP plans (media-node/plans.ts);
 * - candidates.ts: announced addresses (1:1 NAT): host candidates of our answers/offers replaced, pure SDP text.
 *
 * What libdatachannel does that this relies on, and the measured figures: docs/media-engine.md.
 */
import { cleanup as ndcCleanup, initLogger } from "node-datachannel";

export { announceAddresses, hostCandidates, type AnnounceResult, type HostCandidate } from "./candidates.js";
export { Leg, probeGathering, type EngineOptions, type GatheringProbe, type LegOutcome, type LegStateName } from "./leg.js";
export { PlayerLeg } from "./player-leg.js";
export { PublisherLeg } from "./publisher-leg.js";
export { StreamRouter, type RtpTap } from "./stream-router.js";

/** Routes libdatachannel's log lines (warnings and worse) to `sink`. Call once at start. */
export function initEngineLogging(sink: (level: string, message: string) => void): void {
  initLogger("Warning", (level, message) => sink(level, message));
}

/** Closes every PeerConnection of the process and stops node-datachannel's threads (call once at exit). */
export function shutdownEngine(): void {
  ndcCleanup();
}
