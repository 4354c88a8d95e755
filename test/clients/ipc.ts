/**
 * Types shared by the parent (index.ts) and the wrtc child process (wrtc-client.ts): options, the IPC messages and
 * the counters a client reports. Types only, so the parent never loads wrtc.
 */

export type ClientRole = "publisher" | "player";

/** Options of one client, as sent to the child (JSON-serializable). */
export interface ClientOptions {
  /** Session `appKey` (default "defaultApp"). */
  appKey?: string;
  /** Session `custom` (connection object). */
  custom?: unknown;
  /**
   * Room API: join this room (appKey must be "roomApp" and custom.login set) before the stream request; the stream's
   * `custom` then defaults to {name: room}, as room-module.js sends it.
   */
  room?: string;
  /** Stream `custom` (publishStream/playStream object). */
  streamCustom?: unknown;
  /** Publisher: send audio / video (both default true). Player: ask for audio / video (both default true). */
  audio?: boolean;
  video?: boolean;
  /** Publisher: frame size (default 640x480) and rate (default 30). Player: `width`/`height` of playStream (default 0). */
  width?: number;
  height?: number;
  fps?: number;
  /** Publisher: pins the VP8 send bitrate via the remote answer's fmtp (default 1500; 0 = leave libwebrtc alone). */
  bitrateKbps?: number;
  /** Publisher: `record` field (default false). */
  record?: boolean;
  /** Player: `quality` field (default 0). */
  quality?: number;
  /** Timeout of the WebSocket open + handshake (default 10,000 ms). */
  connectTimeoutMs?: number;
}

/** One `notifyStreamStatusEvent` (or `notifyVideoFormat`, or `fail` with apiMethod StreamStatusEvent) for the stream. */
export interface StatusEntry {
  status: string;
  info?: string;
  /** `Date.now()` in the child at reception. */
  t: number;
  /** Message that carried it. */
  message: string;
  /** The whole stream object as received. */
  data: Record<string, unknown>;
}

export interface RtpCounters {
  /** The stream's SSRC (RFC 3550) and the payload type of its codec, as the client's stats report them. */
  ssrc?: number;
  payloadType?: number;
  packets?: number;
  bytes?: number;
  packetsLost?: number;
  framesEncoded?: number;
  framesDecoded?: number;
  keyFramesDecoded?: number;
  framesDropped?: number;
  frameWidth?: number;
  frameHeight?: number;
  nackCount?: number;
  pliCount?: number;
  firCount?: number;
  freezeCount?: number;
  targetBitrate?: number;
  qualityLimitationReason?: string;
  codec?: string;
}

/** Counters of one client. Player fields are 0/null for publishers and the other way round. */
export interface ClientStats {
  role: ClientRole;
  name: string;
  mediaSessionId: string;
  /** `Date.now()` in the child. */
  t: number;
  /** ms since the stream request was sent. */
  uptimeMs: number;
  /** Last stream status (PENDING until the server sends one). */
  status: string;
  socketOpen: boolean;
  pcState: string;
  iceState: string;
  signalingState: string;
  /** Whether `setRemoteSDP` was received and applied. */
  answerApplied: boolean;

  // player: decoded video (RTCVideoSink)
  framesDecoded: number;
  /** Distinct frame indices read from markers. */
  uniqueFrames: number;
  /** Decoded frames whose index was already seen. */
  duplicateFrames: number;
  /** Frames with an index lower than the highest seen (and not seen before). */
  reorderedFrames: number;
  /** Frames whose marker did not read back (check byte mismatch). */
  badMarkers: number;
  minFrameIndex: number | null;
  maxFrameIndex: number | null;
  /** "WxH" → number of decoded frames of that size. */
  sizes: Record<string, number>;
  lastSize: string | null;
  /** uptimeMs of the first / last decoded frame. */
  firstFrameMs: number | null;
  lastFrameMs: number | null;
  /** Capture-to-decode latency over first occurrences of each frame index (ms). */
  latencyAvgMs: number | null;
  latencyMinMs: number | null;
  latencyMaxMs: number | null;
  latencySumMs: number;
  latencySamples: number;

  // player: audio (RTCAudioSink)
  audioChunks: number;
  audioSamples: number;
  audioSampleRate: number;
  /** RMS of all received samples (a 440 Hz tone of amplitude 8000 has RMS ~5657; silence 0). */
  audioRms: number;
  /** RMS over the last ~100 chunks (~1 s). */
  audioRmsRecent: number;

  // publisher
  framesSent: number;
  /** Next frame index (frames skipped by a stalled event loop count here, not in framesSent). */
  nextFrameIndex: number;
  audioChunksSent: number;

  /** From RTCPeerConnection.getStats() (inbound for players, outbound for publishers). */
  rtp: { video?: RtpCounters; audio?: RtpCounters; rttMs?: number; availableOutgoingBitrate?: number };
  /** Local errors (setRemoteDescription failures, unexpected directions, …). */
  errors: string[];
}

export interface StartResult {
  mediaSessionId: string;
  /** The publishStream / playStream object as sent (includes the offer SDP). */
  request: Record<string, unknown>;
  /** The `getUserData` object. */
  userData: Record<string, unknown>;
}

export interface StopResult {
  /** Message sent (unPublishStream / stopStream), or null when the SDK would send nothing (status FAILED). */
  sent: string | null;
  status: string;
}

export type ParentToChild =
  | { type: "start"; id: number; url: string; role: ClientRole; name: string; options: ClientOptions }
  | { type: "stop"; id: number }
  | { type: "dropSocket"; id: number }
  | { type: "stats"; id: number }
  | { type: "quit"; id: number };

export type ChildToParent =
  | { type: "ready" }
  | { type: "reply"; id: number; ok: true; result: unknown }
  | { type: "reply"; id: number; ok: false; error: string }
  | { type: "status"; entry: StatusEntry }
  | { type: "answer"; sdp: string; t: number }
  | { type: "socketClosed"; code: number; reason: string; t: number }
  | { type: "log"; msg: string };
