/**
 * The stream router (fan-out): forwards a publisher's RTP and sender reports to the player tracks of the same stream
 * without decoding, starts new players from the stream's GOP cache, and passes keyframe requests up through one
 * throttle.
 */
import type { Track } from "node-datachannel";
import type { MediaKind } from "../sdp.js";
import { GOP_CACHE_DEFAULTS, GopCache, type GopCacheLimits, type GopCacheStats } from "./gop-cache.js";
import { KeyframeThrottle } from "./keyframe-throttle.js";
import { videoCodecId } from "./keyframes.js";
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

/**
 * A consumer of a stream's RTP inside the node that is not a player leg (a recorder, a snapshot): it sees every
 * packet the publisher sends, under the publisher's own payload types, after the players were served.
 */
export interface RtpTap {
  /**
   * One RTP packet of `kind`, synchronously. `buf` is the router's (also held by the GOP cache): the tap may read it,
   * and may keep a reference while it waits to be sent (it is not changed for good), but must never write to it.
   */
  rtp(kind: MediaKind, buf: Buffer): void;
  /** One RTCP packet (the publisher's sender reports) about `kind`'s SSRC, same rules as {@link rtp}. */
  rtcp?(kind: MediaKind, buf: Buffer): void;
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
 *
 * Instant start: every forwarded video packet also goes into the stream's {@link GopCache} (by reference; the PT
 * byte is restored before forwardRtp returns). A player video track that opens while the cache holds a usable GOP is
 * sent the cached packets first, then attached, in the same synchronous call ({@link attach}): no live packet can
 * reach it before its burst, and since the cache ends with the last packet forwarded, its sequence numbers run on
 * without a gap or a duplicate. Only a video track that opens without a usable GOP asks the publisher for a keyframe.
 */
export class StreamRouter {
  private readonly groups: Record<MediaKind, PtGroup[]> = { video: [], audio: [] };
  private readonly playerLegs = new Set<PlayerLeg>();
  /** Taps (recorders, snapshots): an array, so that forwarding walks it without allocating. */
  private taps: RtpTap[] = [];
  private readonly keyframes: KeyframeThrottle;
  private readonly gop: GopCache;
  /** Whether the GOP cache knows the publisher's video codec (set at the first video packet). */
  private gopReady = false;
  /** Player video tracks started from the GOP cache, and those that had to wait for a requested keyframe. */
  private gopStarts = 0;
  private keyframeStarts = 0;
  private closed = false;

  /**
   * @param keyframeIntervalMs shortest time between two keyframe requests to the publisher, ms
   * @param gopCache bounds of the stream's GOP cache (default: the publisher's `EngineOptions.gopCache`, else
   *   {@link GOP_CACHE_DEFAULTS}; `maxAgeMs: 0` turns it off)
   */
  constructor(
    readonly streamName: string,
    readonly publisher: PublisherLeg,
    keyframeIntervalMs: number,
    gopCache: GopCacheLimits = publisher.opts.gopCache ?? GOP_CACHE_DEFAULTS,
  ) {
    this.keyframes = new KeyframeThrottle(keyframeIntervalMs, () => publisher.sendKeyframeRequest());
    this.gop = new GopCache(gopCache);
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

  /**
   * Starts sending `kind` to a player track (called when the track opens). A video track is first sent the cached GOP
   * (the packets from the last keyframe on, rewritten to its payload type), then attached, in one synchronous call:
   * its first live packet follows the last cached one. A video track that cannot start from the cache (none usable:
   * see {@link GopCache.usable}) asks for a keyframe instead ({@link requestKeyframe}, throttled). Audio starts live.
   */
  attach(kind: MediaKind, target: Target): void {
    if (this.closed) return;
    const groups = this.groups[kind];
    if (groups.some((x) => x.targets.some((t) => t.track === target.track))) return;
    if (kind === "video") {
      if (this.gop.replay((buf) => sendRewritten(target, buf)) > 0) this.gopStarts++;
      else {
        this.keyframeStarts++;
        this.requestKeyframe();
      }
    }
    let g = groups.find((x) => x.pt === target.pt);
    if (!g) {
      g = { pt: target.pt, targets: [] };
      // The publisher's own payload type first: that group needs no rewrite.
      const pubPt = this.publisher[kind]?.codec.pt;
      if (target.pt === pubPt) groups.unshift(g);
      else groups.push(g);
    }
    g.targets.push(target);
  }

  /**
   * Starts feeding a tap: at once the cached GOP (the video packets from the last keyframe on), else a keyframe
   * request to the publisher; then every live packet. Returns whether it started from the GOP cache.
   */
  addTap(tap: RtpTap): boolean {
    if (this.closed || this.taps.includes(tap)) return false;
    const fromCache = this.gop.replay((buf) => tap.rtp("video", buf)) > 0;
    if (!fromCache) this.requestKeyframe();
    this.taps = [...this.taps, tap];
    return fromCache;
  }

  /** Stops feeding a tap. */
  removeTap(tap: RtpTap): void {
    this.taps = this.taps.filter((t) => t !== tap);
  }

  /** Taps being fed now. */
  get tapCount(): number {
    return this.taps.length;
  }

  /**
   * Sends one RTP packet of `kind` to every attached player (PT rewritten per group; see class doc); video packets
   * also go into the GOP cache, so a video `buf` must not change after this returns (the cache holds it).
   */
  forwardRtp(kind: MediaKind, buf: Buffer): void {
    if (kind === "video") {
      if (!this.gopReady) this.setupGop();
      this.gop.pushVideo(buf);
    }
    const groups = this.groups[kind];
    const n = groups.length;
    if (n > 0) {
      const orig = buf[1]!;
      const marker = orig & 0x80;
      for (let g = 0; g < n; g++) {
        const group = groups[g]!;
        buf[1] = marker | group.pt;
        const targets = group.targets;
        for (let i = 0; i < targets.length; i++) sendCounted(targets[i]!, targets[i]!.track, buf);
      }
      buf[1] = orig;
    }
    // after the players, with the publisher's payload type back in place
    const taps = this.taps;
    for (let i = 0; i < taps.length; i++) taps[i]!.rtp(kind, buf);
  }

  /** Sends an RTCP packet (sender report) about the publisher's `kind` SSRC to every attached player, unchanged. */
  forwardRtcp(kind: MediaKind, buf: Buffer): void {
    const groups = this.groups[kind];
    for (let g = 0; g < groups.length; g++) {
      const targets = groups[g]!.targets;
      for (let i = 0; i < targets.length; i++) sendCounted(targets[i]!, targets[i]!.rtcpTrack, buf);
    }
    const taps = this.taps;
    for (let i = 0; i < taps.length; i++) taps[i]!.rtcp?.(kind, buf);
  }

  /**
   * Keyframe requests asked for (players' PLI/FIR, new players without a usable GOP, resyncs) and those sent to the
   * publisher; player video tracks started from the GOP cache (`gopStarts`) and started by asking for a keyframe
   * (`keyframeStarts`).
   */
  get keyframeCounts(): { requested: number; sent: number; gopStarts: number; keyframeStarts: number } {
    return { requested: this.keyframes.requested, sent: this.keyframes.sent, gopStarts: this.gopStarts, keyframeStarts: this.keyframeStarts };
  }

  /** What the GOP cache holds now (see {@link GopCacheStats}). */
  get gopCacheStats(): GopCacheStats {
    return this.gop.stats;
  }

  /** Asks the publisher for a keyframe, throttled (see {@link KeyframeThrottle}). */
  requestKeyframe(): void {
    this.keyframes.request();
  }

  /**
   * Sets the GOP cache up for the publisher's video codec: known by the first video packet, also for a pull leg
   * (whose codec comes with the remote answer).
   */
  private setupGop(): void {
    const c = this.publisher.video?.codec;
    if (!c) return;
    this.gopReady = true;
    this.gop.setVideoCodec(videoCodecId(c.name), c.clockRate);
  }

  /** Stops forwarding (the publisher is gone). Player legs are closed by their owner. */
  close(): void {
    this.closed = true;
    this.keyframes.close();
    this.gop.clear();
    this.groups.video = [];
    this.groups.audio = [];
    this.taps = [];
  }
}

/**
 * Sends one cached RTP packet to one player track under the player's payload type (marker bit kept), restoring the
 * original byte afterwards, and counts it on the leg.
 */
function sendRewritten(t: Target, buf: Buffer): void {
  const orig = buf[1]!;
  buf[1] = (orig & 0x80) | t.pt;
  sendCounted(t, t.track, buf);
  buf[1] = orig;
}

/** Sends `buf` on `track` (one of `t`'s) and counts it on `t`'s leg: sent packets and bytes, or a send error. */
function sendCounted(t: Target, track: Track, buf: Buffer): void {
  try {
    if (track.sendMessageBinary(buf)) {
      t.leg.packetsOut++;
      t.leg.bytesOut += buf.length;
    } else t.leg.sendErrors++;
  } catch {
    t.leg.sendErrors++;
  }
}
