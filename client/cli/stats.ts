/**
 * Per-second statistics: a publisher's frames sent and encoder figures (getStats), a player's received frames, rate
 * and size (an RTCVideoSink) and audio packets, and their human-readable lines.
 */
import { watchVideoFrames, type Stream, type VideoFrameMonitor } from "../node.js";
import { elapsed } from "./output.js";

const round1 = (n: number): number => Math.round(n * 10) / 10;

/** RTP counters of one kind from getStats(): bytes and packets, and the video frame size/rate when reported. */
export interface RtpStats {
  bytes: number;
  packets: number;
  frameWidth?: number;
  frameHeight?: number;
  framesPerSecond?: number;
}

/** The outbound (publisher) or inbound (player) RTP counters of one kind, from getStats(); null when unavailable. */
async function rtpStats(stream: Stream, kind: "audio" | "video"): Promise<RtpStats | null> {
  try {
    const report = await stream.getStats();
    const type = stream.published() ? "outbound-rtp" : "inbound-rtp";
    let found: RtpStats | null = null;
    report.forEach((s: Record<string, unknown>) => {
      if (found || s.type !== type || (s.kind ?? s.mediaType) !== kind) return;
      const n = (k: string): number | undefined => (typeof s[k] === "number" ? (s[k] as number) : undefined);
      found = {
        bytes: n(stream.published() ? "bytesSent" : "bytesReceived") ?? 0,
        packets: n(stream.published() ? "packetsSent" : "packetsReceived") ?? 0,
        frameWidth: n("frameWidth"),
        frameHeight: n("frameHeight"),
        framesPerSecond: n("framesPerSecond"),
      };
    });
    return found;
  } catch {
    // no peer connection (any more)
  }
  return null;
}

/** "  12.3s": the seconds since start that begin every human stats line. */
export const timestamp = (): string => `${elapsed().toFixed(1).padStart(6)}s`;

/** One second of a publisher: frames sent (total) and their rate; the encoder's size, rate (fps) and bitrate (kbit/s). */
export interface SendStats {
  framesSent: number;
  fps: number;
  encodedWidth?: number;
  encodedHeight?: number;
  encodedFps?: number;
  kbps?: number;
}

/** Per-second figures of one publisher: `framesSent` counts the source's frames, getStats gives the encoder's. */
export class SendMeter {
  #lastSent: number;
  #lastVideo: RtpStats | null = null;
  #lastAt = Date.now();

  constructor(
    readonly publisher: Stream,
    readonly framesSent: () => number,
  ) {
    this.#lastSent = framesSent();
  }

  /** The figures since the previous call (kbps only from the second call on, when getStats works). */
  async tick(): Promise<SendStats> {
    const now = Date.now();
    const dt = Math.max(1, now - this.#lastAt) / 1000;
    const sent = this.framesSent();
    const video = await rtpStats(this.publisher, "video");
    const last = this.#lastVideo;
    const kbps = video && last ? Math.round(((video.bytes - last.bytes) * 8) / dt / 1000) : undefined;
    const s: SendStats = {
      framesSent: sent,
      fps: round1((sent - this.#lastSent) / dt),
      ...(video?.frameWidth ? { encodedWidth: video.frameWidth, encodedHeight: video.frameHeight } : {}),
      ...(video?.framesPerSecond !== undefined ? { encodedFps: video.framesPerSecond } : {}),
      ...(kbps !== undefined ? { kbps } : {}),
    };
    this.#lastSent = sent;
    this.#lastVideo = video;
    this.#lastAt = now;
    return s;
  }
}

/** "sent N frames (F fps)  encoder WxH F fps  K kbps" */
export const fmtSendStats = (s: SendStats): string =>
  `sent ${s.framesSent} frames (${s.fps.toFixed(1)} fps)` +
  (s.encodedWidth ? `  encoder ${s.encodedWidth}x${s.encodedHeight}` : "") +
  (s.encodedFps !== undefined ? ` ${s.encodedFps} fps` : "") +
  (s.kbps !== undefined ? `  ${s.kbps} kbps` : "");

/** One second of a player: frames received (total), their rate, the last size (px), audio packets per second. */
export interface ReceiveStats {
  frames: number;
  fps: number;
  width: number;
  height: number;
  audioPacketsPerSecond?: number;
}

/** A player's totals: frames, average fps from the first frame on, last size, seconds played, ms to the first frame. */
export interface ReceiveSummary {
  frames: number;
  fps: number;
  width: number;
  height: number;
  seconds: number;
  firstFrameMs: number | null;
}

/** Per-second frame rate and resolution of one played stream, plus the totals for the summary. */
export class FrameMeter {
  readonly #monitor: VideoFrameMonitor;
  readonly #startedAt = Date.now();
  #lastFrames = 0;
  #lastAt = Date.now();
  #lastAudio: RtpStats | null = null;

  /** @throws Error when the player has no remote media yet (call once it is PLAYING). */
  constructor(readonly player: Stream) {
    const remote = player.getRemoteMediaStream();
    if (!remote) throw new Error(`player ${player.name()} has no remote media`);
    this.#monitor = watchVideoFrames(remote);
  }

  /** Frames, fps and size since the previous call; audio packets per second when getStats has them. */
  async tick(): Promise<ReceiveStats> {
    const now = Date.now();
    const s = this.#monitor.stats();
    const dt = Math.max(1, now - this.#lastAt) / 1000;
    const fps = round1((s.frames - this.#lastFrames) / dt);
    this.#lastFrames = s.frames;
    this.#lastAt = now;
    const audio = await rtpStats(this.player, "audio");
    const prev = this.#lastAudio;
    this.#lastAudio = audio;
    const audioPacketsPerSecond = audio && prev ? round1((audio.packets - prev.packets) / dt) : undefined;
    return { frames: s.frames, fps, width: s.width, height: s.height, ...(audioPacketsPerSecond !== undefined ? { audioPacketsPerSecond } : {}) };
  }

  /** Totals: frames, average fps from the first frame on, last size, time to the first frame. */
  summary(): ReceiveSummary {
    const s = this.#monitor.stats();
    const from = s.firstFrameAt ?? Date.now();
    const span = ((s.lastFrameAt ?? from) - from) / 1000;
    return {
      frames: s.frames,
      fps: s.frames > 1 && span > 0 ? round1((s.frames - 1) / span) : 0,
      width: s.width,
      height: s.height,
      seconds: round1((Date.now() - this.#startedAt) / 1000),
      firstFrameMs: s.firstFrameAt === null ? null : s.firstFrameAt - this.#startedAt,
    };
  }

  /** Detaches the frame monitor. */
  stop(): void {
    this.#monitor.stop();
  }
}

/** "WxH  F fps  N frames  audio P pkt/s" */
export const fmtStats = (s: ReceiveStats): string =>
  `${s.width}x${s.height}  ${s.fps.toFixed(1)} fps  ${s.frames} frames${s.audioPacketsPerSecond !== undefined ? `  audio ${s.audioPacketsPerSecond} pkt/s` : ""}`;
