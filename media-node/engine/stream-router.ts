/**
 * The stream router (fan-out): forwards a publisher's RTP and sender reports to the player tracks of the same stream
 * without decoding, and passes the players' keyframe requests up through one throttle.
 */
import type { Track } from "node-datachannel";
import type { MediaKind } from "../sdp.js";
import { KeyframeThrottle } from "./keyframe-throttle.js";
import type { PlayerLeg } from "./player-leg.js";
import type { PublisherLeg } from "./publisher-leg.js";

/** One player track the router sends to. */
export interface Target {
  leg: PlayerLeg;
  /** Track carrying the RTP. */
  track: Track;
  /** Track to send RTCP through (any track of the bundle reaches the same SRTP session). */
  rtcpTrack: Track;
  /** Payload type the player negotiated for the publisher's codec. */
  pt: number;
}

/** Players that negotiated the same payload type for a kind. */
interface PtGroup {
  pt: number;
  targets: Target[];
}

/**
 * Per-stream forwarder: publisher RTP/RTCP → player tracks, keyframe requests ← players.
 *
 * Forwarding is allocation-free per packet. The Buffer node-datachannel hands to `onMessage` is a fresh copy owned
 * by us, and `Track.sendMessageBinary` copies the bytes synchronously before returning (node-datachannel
 * src/cpp/media-track-wrapper.cpp → rtc::Track::send(const byte*, size_t) builds its message from the data). So
 * the same Buffer goes to every player of the publisher's payload type, and for each other payload type the PT
 * byte is rewritten in place (marker bit kept), sent to that group, and restored at the end. (A separate scratch
 * buffer would need one exactly-sized Buffer per packet length, since sendMessageBinary sends the whole Buffer and a
 * subarray view is itself an allocation.)
 */
export class StreamRouter {
  private readonly groups: Record<MediaKind, PtGroup[]> = { video: [], audio: [] };
  private readonly playerLegs = new Set<PlayerLeg>();
  private readonly keyframes: KeyframeThrottle;
  private closed = false;

  /** @param keyframeIntervalMs shortest time between two keyframe requests to the publisher, ms */
  constructor(
    readonly streamName: string,
    readonly publisher: PublisherLeg,
    keyframeIntervalMs: number,
  ) {
    this.keyframes = new KeyframeThrottle(keyframeIntervalMs, () => publisher.sendKeyframeRequest());
  }

  /** Player legs currently registered on this stream. */
  get players(): ReadonlySet<PlayerLeg> {
    return this.playerLegs;
  }

  /** Registers a player leg (its tracks attach themselves when they open). */
  addPlayer(leg: PlayerLeg): void {
    this.playerLegs.add(leg);
  }

  /** Unregisters a player leg and detaches all its tracks. */
  removePlayer(leg: PlayerLeg): void {
    this.playerLegs.delete(leg);
    for (const kind of ["video", "audio"] as const) {
      const groups = this.groups[kind];
      for (const g of groups) g.targets = g.targets.filter((t) => t.leg !== leg);
      this.groups[kind] = groups.filter((g) => g.targets.length > 0);
    }
  }

  /** Starts sending `kind` to a player track. */
  attach(kind: MediaKind, target: Target): void {
    if (this.closed) return;
    const groups = this.groups[kind];
    let g = groups.find((x) => x.pt === target.pt);
    if (!g) {
      g = { pt: target.pt, targets: [] };
      // The publisher's own payload type first: that group needs no rewrite.
      const pubPt = this.publisher[kind]?.codec.pt;
      if (target.pt === pubPt) groups.unshift(g);
      else groups.push(g);
    }
    if (!g.targets.some((t) => t.track === target.track)) g.targets.push(target);
  }

  /** Sends one RTP packet of `kind` to every attached player (PT rewritten per group; see class doc). */
  forwardRtp(kind: MediaKind, buf: Buffer): void {
    const groups = this.groups[kind];
    const n = groups.length;
    if (n === 0) return;
    const orig = buf[1]!;
    const marker = orig & 0x80;
    for (let g = 0; g < n; g++) {
      const group = groups[g]!;
      buf[1] = marker | group.pt;
      const targets = group.targets;
      for (let i = 0; i < targets.length; i++) {
        const t = targets[i]!;
        try {
          if (t.track.sendMessageBinary(buf)) {
            t.leg.packetsOut++;
            t.leg.bytesOut += buf.length;
          } else t.leg.sendErrors++;
        } catch {
          t.leg.sendErrors++;
        }
      }
    }
    buf[1] = orig;
  }

  /** Sends an RTCP packet (sender report) about the publisher's `kind` SSRC to every attached player, unchanged. */
  forwardRtcp(kind: MediaKind, buf: Buffer): void {
    const groups = this.groups[kind];
    for (let g = 0; g < groups.length; g++) {
      const targets = groups[g]!.targets;
      for (let i = 0; i < targets.length; i++) {
        const t = targets[i]!;
        try {
          if (t.rtcpTrack.sendMessageBinary(buf)) {
            t.leg.packetsOut++;
            t.leg.bytesOut += buf.length;
          } else t.leg.sendErrors++;
        } catch {
          t.leg.sendErrors++;
        }
      }
    }
  }

  /** Keyframe requests asked for (by players, new players, resyncs) and those sent to the publisher. */
  get keyframeCounts(): { requested: number; sent: number } {
    return { requested: this.keyframes.requested, sent: this.keyframes.sent };
  }

  /** Asks the publisher for a keyframe, throttled (see {@link KeyframeThrottle}). */
  requestKeyframe(): void {
    this.keyframes.request();
  }

  /** Stops forwarding (the publisher is gone). Player legs are closed by their owner. */
  close(): void {
    this.closed = true;
    this.keyframes.close();
    this.groups.video = [];
    this.groups.audio = [];
  }
}
