/**
 * The clients of `wcs-edge load` (load.ts), many per process:
 *
 * - {@link RtpPlayer} (default): a cheap WCS player that does not decode. Its own WCS session over `ws` (`connection`
 *   as the Web SDK builds it, `pong` for every `ping`), a node-datachannel (libdatachannel) PeerConnection with
 *   recvonly audio + video offering Chrome's codecs, and `playStream` sent at once with the candidates stripped (the
 *   server learns our address from STUN, as from the Web SDK). On the receive path it only counts: RTP packets and
 *   bytes, video frames (marker bit), sequence gaps (lost packets) of the answer's video payload type and of audio —
 *   no allocation, no JSON per packet — so one process carries hundreds (the idea of test/bench/light-player.ts).
 * - {@link DecodePlayer} (`--decode`): the SDK's player on @roamhq/wrtc, which decodes the video; frames are decoded
 *   frames, packets / bytes / loss come from getStats() once a second. Far more CPU per player.
 * - {@link LoadPublisher} (`--publishers`): the SDK's publisher of the synthetic source of `wcs-edge publish`
 *   (moving pattern + frame counter, 440 Hz tone).
 *
 * Each reports {@link ClientFigures} on demand (synchronously: the load test samples them every second).
 */
import { randomUUID } from "node:crypto";
import os from "node:os";
import nodeDataChannel from "node-datachannel";
import type { PeerConnection, Track } from "node-datachannel";
import WebSocket from "ws";
import { playStreamRequest, StreamStatus, TERMINAL_STATUSES, withoutCandidates, type ConnectionRequest, type StreamStatus as Status } from "../../protocol/index.js";
import { createSession, watchVideoFrames, type Logger, type Session, type Stream, type VideoFrameMonitor } from "../node.js";
import { connectionError, CONNECT_TIMEOUT_MS, recordingWebSocket } from "./connect.js";
import { out } from "./output.js";
import { addChromeRecvTracks, answerVideoCodec } from "./recv-offer.js";
import { syntheticSource, type MediaSource, type SourceOptions } from "./sources.js";

/** What one client did so far. Times are Date.now() values, 0 = not (yet). */
export interface ClientFigures {
  /** Last stream status (PENDING until the server says otherwise; "NEW" before the request). */
  status: string;
  /** The server's `info` of the last status (e.g. "Stream not found"). */
  info?: string;
  /** A failure on our side (connection refused, socket closed, PeerConnection failed). */
  error?: string;
  /** When playStream / publishStream went out. */
  sentAt: number;
  /** When PLAYING / PUBLISHING arrived. */
  activeAt: number;
  /** First and last media: an RTP packet (RtpPlayer), a decoded frame (DecodePlayer). */
  firstMediaAt: number;
  lastMediaAt: number;
  /** RTP packets and bytes received (audio + video; publishers: 0). */
  packets: number;
  bytes: number;
  /** RTP packets missing from the sequences (audio + video). */
  lost: number;
  /** Video frames received (players) or handed to the encoder (publishers). */
  frames: number;
}

export interface LoadClient {
  readonly id: number;
  /** The stream it plays or publishes. */
  readonly name: string;
  /** Connects and sends the play/publish request; never rejects: a failure is kept as `error`. */
  start(): Promise<void>;
  figures(): ClientFigures;
  /** Stops the stream and closes the session (bounded, never rejects). */
  stop(): Promise<void>;
}

/** How long a session may take to be established (ms). */
const SESSION_TIMEOUT_MS = CONNECT_TIMEOUT_MS;

const errMsg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The SDK's logger for the load clients: everything only with --verbose (hundreds of clients would flood stderr). */
const quietLogger: Logger = {
  debug: () => undefined,
  warn: (m, ...d) => out.debug(`[sdk] ${m}${d.length ? ` ${d.map(String).join(" ")}` : ""}`),
  error: (m, ...d) => out.debug(`[sdk] ${m}${d.length ? ` ${d.map(String).join(" ")}` : ""}`),
};

// ---------------------------------------------------------------------------------------------------------------
// RtpPlayer: ws + node-datachannel, counts RTP

/** One WCS session over `ws` for an {@link RtpPlayer}: `connection` → `getUserData`, `pong` for `ping`. */
class WcsLink {
  #onFrame: (message: string, data: unknown[]) => void = () => undefined;
  #onClose: (why: string) => void = () => undefined;
  closed = false;

  private constructor(private readonly ws: WebSocket) {}

  /**
   * Opens the socket and sends `connection` (with `custom.token` when given).
   * @throws Error with the reason when no `getUserData` came: an HTTP status instead of an upgrade (429 Too many
   * requests, …), the server's close reason (an access token refused), the socket's error, or a timeout
   */
  static open(url: string, token: string | undefined): Promise<WcsLink> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: SESSION_TIMEOUT_MS });
      const link = new WcsLink(ws);
      let settled = false;
      const done = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          ws.terminate();
          reject(err);
        } else resolve(link);
      };
      const timer = setTimeout(() => done(new Error(`no session within ${SESSION_TIMEOUT_MS} ms`)), SESSION_TIMEOUT_MS);
      ws.on("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => done(new Error(`HTTP ${res.statusCode}${body.trim() ? ` ${body.trim().slice(0, 120)}` : ""}`)));
      });
      ws.on("error", (e) => {
        if (!settled) done(new Error(e.message || String(e)));
      });
      ws.on("close", (code, reason) => {
        link.closed = true;
        const why = `connection closed (${code}${reason.length ? ` ${reason.toString()}` : ""})`;
        if (!settled) done(new Error(why));
        else link.#onClose(why);
      });
      ws.on("open", () => {
        const connection: ConnectionRequest = {
          appKey: "defaultApp",
          mediaProviders: ["WebRTC"],
          clientVersion: "2.0",
          clientOSVersion: `${os.type()} ${os.release()} ${os.arch()}`,
          clientBrowserVersion: `Node.js ${process.version} (wcs-edge load, node-datachannel)`,
          msePacketizationVersion: 2,
          ...(token ? { custom: { token } } : {}),
        };
        link.send("connection", connection);
      });
      ws.on("message", (raw, isBinary) => {
        if (isBinary) return;
        let frame: { message?: unknown; data?: unknown };
        try {
          frame = JSON.parse(raw.toString()) as { message?: unknown; data?: unknown };
        } catch {
          return;
        }
        if (typeof frame.message !== "string") return;
        const data = Array.isArray(frame.data) ? frame.data : [];
        if (frame.message === "ping") return link.send("pong", null);
        if (frame.message === "getUserData") return done();
        link.#onFrame(frame.message, data);
      });
    });
  }

  onFrame(fn: (message: string, data: unknown[]) => void): void {
    this.#onFrame = fn;
  }

  onClose(fn: (why: string) => void): void {
    this.#onClose = fn;
  }

  send(message: string, obj: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ message, data: [obj] }));
  }

  /** Closes the socket (close frame), dropping it after 1 s. */
  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 1000);
      this.ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close(1000);
    });
  }
}

/** A WCS player that counts RTP instead of decoding it (see the file's header). */
export class RtpPlayer implements LoadClient {
  readonly mediaSessionId = randomUUID();
  status: string = "NEW";
  info: string | undefined;
  error: string | undefined;
  sentAt = 0;
  activeAt = 0;
  firstMediaAt = 0;
  lastMediaAt = 0;
  packets = 0;
  bytes = 0;
  /** Forward sequence jumps (missing packets) and packets older than the newest (reordered, duplicate). */
  gaps = 0;
  late = 0;
  frames = 0;
  #videoPt = -1;
  #link: WcsLink | undefined;
  #pc: PeerConnection | undefined;
  #tracks: Track[] = [];
  #closed = false;

  constructor(
    readonly id: number,
    readonly url: string,
    readonly name: string,
    readonly token?: string,
  ) {}

  async start(): Promise<void> {
    await this.#start().catch((e: unknown) => {
      this.error ??= errMsg(e);
      this.#closeMedia();
    });
  }

  async #start(): Promise<void> {
    const link = await WcsLink.open(this.url, this.token);
    this.#link = link;
    if (this.#closed) return void link.close();
    link.onFrame((message, data) => this.#onFrame(message, data));
    link.onClose((why) => {
      if (!this.#closed && !TERMINAL_STATUSES.has(this.status as Status)) this.error ??= why;
      this.#closeMedia();
    });
    const pc = new nodeDataChannel.PeerConnection(`load-${this.id}`, { iceServers: [] });
    this.#pc = pc;
    pc.onStateChange((s) => {
      if (s === "failed" && !this.#closed) this.error ??= "PeerConnection failed (ICE/DTLS)";
    });
    const { audio, video } = addChromeRecvTracks(pc);
    this.#tracks = [audio, video];
    this.#count(video, true);
    this.#count(audio, false);
    pc.setLocalDescription();
    const local = pc.localDescription();
    if (!local) throw new Error("no local description");
    const req = playStreamRequest(this.mediaSessionId, this.name, withoutCandidates(local.sdp));
    this.status = StreamStatus.PENDING;
    this.sentAt = Date.now();
    link.send("playStream", req);
  }

  #onFrame(message: string, data: unknown[]): void {
    const obj = data[0];
    if (message === "setRemoteSDP") {
      if (obj !== this.mediaSessionId || typeof data[1] !== "string" || !this.#pc || this.#closed) return;
      this.#videoPt = answerVideoCodec(data[1]).pt;
      try {
        this.#pc.setRemoteDescription(data[1], "answer");
      } catch (e) {
        this.error ??= `setRemoteDescription: ${errMsg(e)}`;
      }
      return;
    }
    if (!obj || typeof obj !== "object") return;
    const o = obj as Record<string, unknown>;
    const ours =
      (message === "notifyStreamStatusEvent" && o.mediaSessionId === this.mediaSessionId) ||
      (message === "fail" && o.apiMethod === "StreamStatusEvent" && o.id === this.mediaSessionId);
    if (!ours) return;
    const status = typeof o.status === "string" ? o.status : message === "fail" ? StreamStatus.FAILED : undefined;
    if (!status) return;
    this.status = status;
    this.info = typeof o.info === "string" ? o.info : undefined;
    if (status === StreamStatus.PLAYING && !this.activeAt) this.activeAt = Date.now();
    if (TERMINAL_STATUSES.has(status as Status)) this.#closeMedia();
  }

  /** The per-packet path: counters only (no allocation, no JSON). */
  #count(track: Track, video: boolean): void {
    let next = -1;
    track.onMessage((buf: Buffer) => {
      const b1 = buf[1]!;
      if (b1 >= 200 && b1 <= 206) return; // RTCP
      if (video && (b1 & 0x7f) !== this.#videoPt) return; // RTX, FEC
      const now = Date.now();
      if (this.firstMediaAt === 0) this.firstMediaAt = now;
      this.lastMediaAt = now;
      this.packets++;
      this.bytes += buf.length;
      if (video && b1 & 0x80) this.frames++;
      const seq = (buf[2]! << 8) | buf[3]!;
      if (next < 0) {
        next = (seq + 1) & 0xffff;
        return;
      }
      const d = (seq - next) & 0xffff;
      if (d === 0) next = (seq + 1) & 0xffff;
      else if (d < 0x8000) {
        this.gaps += d;
        next = (seq + 1) & 0xffff;
      } else this.late++;
    });
  }

  figures(): ClientFigures {
    return {
      status: this.status,
      ...(this.info ? { info: this.info } : {}),
      ...(this.error ? { error: this.error } : {}),
      sentAt: this.sentAt,
      activeAt: this.activeAt,
      firstMediaAt: this.firstMediaAt,
      lastMediaAt: this.lastMediaAt,
      packets: this.packets,
      bytes: this.bytes,
      // a packet that came late filled a gap counted before
      lost: Math.max(0, this.gaps - this.late),
      frames: this.frames,
    };
  }

  #closeMedia(): void {
    for (const t of this.#tracks.splice(0)) {
      try {
        t.close();
      } catch {
        /* already closed */
      }
    }
    try {
      this.#pc?.close();
    } catch {
      /* already closed */
    }
  }

  /** `stopStream` (as the Web SDK's stream.stop()), then the PeerConnection and the session. */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const link = this.#link;
    if (link && this.sentAt && !TERMINAL_STATUSES.has(this.status as Status)) {
      link.send("stopStream", { mediaSessionId: this.mediaSessionId, name: this.name, published: false, hasVideo: true, hasAudio: true, status: this.status, record: false });
    }
    this.#closeMedia();
    await link?.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// SDK clients on @roamhq/wrtc: DecodePlayer, LoadPublisher

/** An SDK session (ws + wrtc) with `custom.token`; rejects with the reason when it is not established. */
async function sdkSession(url: string, token: string | undefined): Promise<Session> {
  const ws = recordingWebSocket();
  const session = createSession({
    urlServer: url,
    ...(token ? { custom: { token } } : {}),
    platform: { WebSocket: ws.WebSocket },
    logger: quietLogger,
    timeout: SESSION_TIMEOUT_MS,
  });
  try {
    await session.established(SESSION_TIMEOUT_MS + 1000);
  } catch {
    session.disconnect();
    throw new Error(connectionError(url, session, ws.lastError()).replace(/^cannot connect to \S+: /, ""));
  }
  return session;
}

/** The common part of the SDK clients: session, stream, statuses, stop. */
abstract class SdkClient implements LoadClient {
  status = "NEW";
  info: string | undefined;
  error: string | undefined;
  sentAt = 0;
  activeAt = 0;
  protected session: Session | undefined;
  protected stream: Stream | undefined;
  protected stopped = false;

  constructor(
    readonly id: number,
    readonly url: string,
    readonly name: string,
    readonly token?: string,
  ) {}

  /** Connects and sends the request (`begin`); a failure is kept as `error`. */
  async start(): Promise<void> {
    await this.begin().catch((e: unknown) => {
      this.error ??= errMsg(e);
      this.cleanup();
    });
  }

  protected abstract begin(): Promise<void>;
  abstract figures(): ClientFigures;

  /** Follows the statuses of `stream`; `onActive` runs once at PUBLISHING/PLAYING. */
  protected follow(stream: Stream, onActive: () => void): void {
    for (const st of [StreamStatus.PENDING, StreamStatus.PUBLISHING, StreamStatus.PLAYING, StreamStatus.UNPUBLISHED, StreamStatus.STOPPED, StreamStatus.FAILED] as const) {
      stream.on(st, (s) => {
        this.status = st;
        this.info = s.getInfo() ?? undefined;
        if ((st === StreamStatus.PUBLISHING || st === StreamStatus.PLAYING) && !this.activeAt) {
          this.activeAt = Date.now();
          onActive();
        }
      });
    }
    const lost = (s: Session) => {
      if (!this.stopped && !TERMINAL_STATUSES.has(this.status as Status)) this.error ??= `session ${s.status()}`;
    };
    this.session?.on("DISCONNECTED", lost).on("FAILED", lost);
  }

  protected base(): Pick<ClientFigures, "status" | "info" | "error" | "sentAt" | "activeAt"> {
    return { status: this.status, ...(this.info ? { info: this.info } : {}), ...(this.error ? { error: this.error } : {}), sentAt: this.sentAt, activeAt: this.activeAt };
  }

  protected cleanup(): void {}

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const stream = this.stream;
    if (stream && !TERMINAL_STATUSES.has(this.status as Status)) {
      stream.stop();
      await stream.ended(3000).catch(() => undefined);
    }
    this.cleanup();
    this.session?.disconnect();
  }
}

/** RTP counters of a wrtc player from getStats(): inbound audio + video. */
interface InboundTotals {
  packets: number;
  bytes: number;
  lost: number;
}

/** The SDK's player on @roamhq/wrtc: decodes the video (`--decode`). */
export class DecodePlayer extends SdkClient {
  #monitor: VideoFrameMonitor | undefined;
  #totals: InboundTotals = { packets: 0, bytes: 0, lost: 0 };
  #poll: NodeJS.Timeout | undefined;

  protected async begin(): Promise<void> {
    this.session = await sdkSession(this.url, this.token);
    if (this.stopped) return void this.session.disconnect();
    const stream = this.session.createStream({ name: this.name });
    this.stream = stream;
    this.follow(stream, () => {
      const remote = stream.getRemoteMediaStream();
      try {
        if (remote) this.#monitor = watchVideoFrames(remote);
      } catch {
        // audio only: no frames to count
      }
      this.#poll = setInterval(() => void this.#sample(), 1000);
    });
    this.sentAt = Date.now();
    stream.play();
  }

  async #sample(): Promise<void> {
    try {
      const report = await this.stream!.getStats();
      const t: InboundTotals = { packets: 0, bytes: 0, lost: 0 };
      report.forEach((s: Record<string, unknown>) => {
        if (s.type !== "inbound-rtp") return;
        const n = (k: string) => (typeof s[k] === "number" ? (s[k] as number) : 0);
        t.packets += n("packetsReceived");
        t.bytes += n("bytesReceived");
        t.lost += Math.max(0, n("packetsLost"));
      });
      this.#totals = t;
    } catch {
      // the peer connection is gone
    }
  }

  figures(): ClientFigures {
    const v = this.#monitor?.stats();
    return {
      ...this.base(),
      firstMediaAt: v?.firstFrameAt ?? 0,
      lastMediaAt: v?.lastFrameAt ?? 0,
      ...this.#totals,
      frames: v?.frames ?? 0,
    };
  }

  protected override cleanup(): void {
    clearInterval(this.#poll);
    this.#monitor?.stop();
  }
}

/** The SDK's publisher of the synthetic source (`--publishers`). */
export class LoadPublisher extends SdkClient {
  #media: MediaSource | undefined;

  constructor(
    id: number,
    url: string,
    name: string,
    token: string | undefined,
    readonly source: Omit<SourceOptions, "source">,
  ) {
    super(id, url, name, token);
  }

  protected async begin(): Promise<void> {
    this.session = await sdkSession(this.url, this.token);
    if (this.stopped) return void this.session.disconnect();
    this.#media = syntheticSource({ source: "synthetic", ...this.source });
    const stream = this.session.createStream({ name: this.name, stream: this.#media.stream });
    this.stream = stream;
    this.follow(stream, () => undefined);
    this.sentAt = Date.now();
    stream.publish();
  }

  figures(): ClientFigures {
    return { ...this.base(), firstMediaAt: 0, lastMediaAt: 0, packets: 0, bytes: 0, lost: 0, frames: this.#media?.framesSent() ?? 0 };
  }

  protected override cleanup(): void {
    this.#media?.stop();
  }
}
