/**
 * A stream's RTP into an ffmpeg process, for what the node does with media beyond forwarding it (snapshots,
 * recordings): ffmpeg depacketizes, decodes or muxes; the node never does.
 *
 * How: ffmpeg reads an SDP description from its stdin (`-f sdp -i pipe:0`, the input the ffmpeg docs give for
 * receiving RTP: https://ffmpeg.org/ffmpeg-formats.html#sdp) that names one loopback UDP port per kind (RTCP on the
 * port above it, RFC 3550 §11), with the publisher's own payload types, codecs and fmtp. The node sends it the
 * packets it already has, unchanged, from one UDP socket of its own ({@link FfmpegRtpInput} is a
 * {@link RtpTap}). Nothing leaves 127.0.0.1.
 *
 * Ending: {@link FfmpegRtpInput.finish} sends each input an RTCP BYE (RFC 3550 §6.6). ffmpeg's SDP/RTP demuxer ends its
 * input once every stream got one (libavformat rtsp.c `ff_rtsp_fetch_packet`: `nb_byes == nb_rtsp_streams` → EOF), then
 * flushes and writes its outputs' trailers, also when the publisher has stopped sending. SIGINT alone does not do that
 * then: ffmpeg notices the signal only between packets, and a blocked read is interrupted only by a second signal
 * (fftools `decode_interrupt_cb`), which aborts the trailer's writes too. (A BYE shorter than 12 bytes is ignored by
 * libavformat's `rtp_parse_one_packet`, so it carries a reason.)
 *
 * Ports: an even port and the one above it that are free now are chosen ({@link reservePortPair}); ffmpeg binds
 * them itself, and the input counts as ready once they are taken (a test bind fails with EADDRINUSE). If another
 * process took them first, ffmpeg exits at once and {@link FfmpegRtpInput.start} tries another pair.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import type { Readable, Writable } from "node:stream";
import { write as writeSdp, type MediaDescription } from "sdp-transform";
import type { RtpTap } from "./engine/index.js";
import { BYE_SIZE, writeBye } from "./rtcp.js";
import type { PublishedTrack } from "./plans.js";
import type { MediaKind } from "./sdp.js";

/** The ffmpeg executable (PATH lookup by default); `FFMPEG_PATH` overrides it. */
export const FFMPEG = process.env.FFMPEG_PATH || "ffmpeg";

/** The tracks an ffmpeg input receives: the publisher's (media-node/plans.ts PublishedTrack), at least one. */
export interface RtpInputTracks {
  video?: PublishedTrack;
  audio?: PublishedTrack;
}

/** How an ffmpeg process ended. */
export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines ffmpeg wrote to stderr (its own explanation of a failure). */
  stderrTail: string;
}

const HOST = "127.0.0.1";
/** Ports tried for the RTP inputs: above the usual ephemeral range's start, below the ICE ranges people configure. */
const PORT_MIN = 20_000;
const PORT_MAX = 29_998;
/** How long ffmpeg may take to bind its input ports, ms. */
const READY_TIMEOUT_MS = 5000;
const STDERR_TAIL_BYTES = 4096;

/**
 * The SDP description ffmpeg reads: one `m=` section per track, on `ports[kind]` (RTCP on the port above), with the
 * track's payload type, `a=rtpmap` and `a=fmtp` as the publisher negotiated them (RFC 8866 §5.14, RFC 4566 §6).
 */
export function rtpInputSdp(tracks: RtpInputTracks, ports: Partial<Record<MediaKind, number>>): string {
  const media: MediaDescription[] = [];
  for (const kind of ["video", "audio"] as const) {
    const t = tracks[kind];
    const port = ports[kind];
    if (!t || port === undefined) continue;
    const c = t.codec;
    media.push({
      type: kind,
      port,
      protocol: "RTP/AVP",
      payloads: String(c.pt),
      rtp: [{ payload: c.pt, codec: c.name, rate: c.clockRate, ...(c.channels === undefined ? {} : { encoding: c.channels }) }],
      fmtp: c.fmtp ? [{ payload: c.pt, config: c.fmtp }] : [],
      direction: "recvonly",
    });
  }
  return writeSdp({
    version: 0,
    origin: { username: "-", sessionId: 0, sessionVersion: 0, netType: "IN", ipVer: 4, address: HOST },
    name: "wcs-edge",
    connection: { version: 4, ip: HOST },
    timing: { start: 0, stop: 0 },
    media,
  });
}

/** Whether `port` can be bound on 127.0.0.1 now (false: someone holds it). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket({ type: "udp4", reuseAddr: false });
    s.once("error", () => {
      s.close();
      resolve(false);
    });
    s.bind(port, HOST, () => s.close(() => resolve(true)));
  });
}

/** An even UDP port on 127.0.0.1 that is free, with the port above it (RTCP) free too. */
export async function reservePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = PORT_MIN + 2 * Math.floor(Math.random() * ((PORT_MAX - PORT_MIN) / 2));
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error("no free UDP port pair on 127.0.0.1 for ffmpeg's RTP input");
}

/**
 * One ffmpeg process fed with a stream's RTP over loopback UDP. Create it with {@link FfmpegRtpInput.start}, add it
 * to the stream's router as a tap (`StreamRouter.addTap`), read what ffmpeg writes from {@link stdout}, and end it
 * with {@link finish} (ffmpeg closes its output cleanly) or {@link kill}.
 *
 * Per packet: one `send` on a UDP socket, no allocation, no copy (the kernel copies it).
 */
export class FfmpegRtpInput implements RtpTap {
  /** What ffmpeg writes to its stdout (`pipe:1` outputs). */
  readonly stdout: Readable;
  /** Resolves when ffmpeg has exited (never rejects). */
  readonly exited: Promise<FfmpegExit>;
  /** RTP packets sent to ffmpeg. */
  packetsSent = 0;
  private readonly socket: Socket;
  private stderrTail = "";
  private done = false;

  private constructor(
    private readonly proc: ChildProcessByStdio<Writable, Readable, Readable>,
    private readonly ports: Partial<Record<MediaKind, number>>,
    /** The SSRC of each input's track (the BYE names it). */
    private readonly ssrcs: Partial<Record<MediaKind, number>>,
  ) {
    this.stdout = proc.stdout;
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-STDERR_TAIL_BYTES);
    });
    this.exited = new Promise((resolve) => {
      proc.once("close", (code, signal) => {
        this.done = true;
        this.socket.close();
        resolve({ code, signal, stderrTail: this.stderrTail.trim() });
      });
      proc.once("error", (err) => {
        this.stderrTail += `\n${String(err)}`;
      });
    });
    this.socket = createSocket("udp4");
    // a send to a port ffmpeg has closed fails asynchronously (ICMP port unreachable): nothing to do about it
    this.socket.on("error", () => undefined);
  }

  /**
   * Spawns ffmpeg reading `tracks` as RTP, with `outputArgs` after the input (e.g. `["-frames:v", "1", "-f",
   * "image2pipe", "-c:v", "png", "pipe:1"]`), and waits until it listens.
   * @param inputArgs ffmpeg options placed before `-i` (e.g. probing limits)
   * @throws Error when ffmpeg cannot be started or does not bind its ports within 5 s (the message has ffmpeg's own
   *   explanation)
   */
  static async start(tracks: RtpInputTracks, outputArgs: string[], inputArgs: string[] = []): Promise<FfmpegRtpInput> {
    if (!tracks.video && !tracks.audio) throw new Error("nothing to send to ffmpeg: the stream has no audio or video track");
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const ports: Partial<Record<MediaKind, number>> = {};
      if (tracks.video) ports.video = await reservePortPair();
      if (tracks.audio) ports.audio = await reservePortPair();
      const args = ["-hide_banner", "-nostdin", "-loglevel", "warning", "-protocol_whitelist", "pipe,udp,rtp", ...inputArgs, "-f", "sdp", "-i", "pipe:0", ...outputArgs];
      const proc = spawn(FFMPEG, args, { stdio: ["pipe", "pipe", "pipe"] });
      const input = new FfmpegRtpInput(proc, ports, { video: tracks.video?.ssrc, audio: tracks.audio?.ssrc });
      proc.stdin.on("error", () => undefined);
      // the SDP only: closing stdin is what makes ffmpeg read it and open the ports
      proc.stdin.end(rtpInputSdp(tracks, ports));
      try {
        await input.listening();
        return input;
      } catch (err) {
        lastError = err as Error;
        input.kill();
        await input.exited;
      }
    }
    throw lastError ?? new Error("ffmpeg did not start");
  }

  /** Sends one RTP packet to ffmpeg (RtpTap). */
  rtp(kind: MediaKind, buf: Buffer): void {
    const port = this.ports[kind];
    if (port === undefined || this.done) return;
    this.packetsSent++;
    this.socket.send(buf, port, HOST);
  }

  /** Sends one RTCP packet (a sender report: ffmpeg's audio/video sync) to ffmpeg (RtpTap). */
  rtcp(kind: MediaKind, buf: Buffer): void {
    const port = this.ports[kind];
    if (port === undefined || this.done) return;
    this.socket.send(buf, port + 1, HOST);
  }

  /** Whether ffmpeg has exited. */
  get ended(): boolean {
    return this.done;
  }

  /**
   * Asks ffmpeg to finish — an RTCP BYE to each input (ffmpeg then ends its input, flushes and closes its outputs; see
   * the file header), SIGINT after half of `timeoutMs` if it is still running (as on Ctrl-C) — and waits for it; kills
   * it after `timeoutMs`.
   */
  async finish(timeoutMs = 5000): Promise<FfmpegExit> {
    for (const kind of ["video", "audio"] as const) {
      const port = this.ports[kind];
      if (port !== undefined && !this.done) this.socket.send(writeBye(Buffer.alloc(BYE_SIZE), this.ssrcs[kind] ?? 0), port + 1, HOST);
    }
    const interrupt = setTimeout(() => {
      if (!this.done) this.proc.kill("SIGINT");
    }, timeoutMs / 2);
    const timer = setTimeout(() => this.kill(), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(interrupt);
      clearTimeout(timer);
    }
  }

  /** Ends ffmpeg at once (SIGKILL); its outputs may be cut short. */
  kill(): void {
    if (!this.done) this.proc.kill("SIGKILL");
  }

  /** Resolves once ffmpeg holds every input port; rejects when it exits first or takes over 5 s. */
  private async listening(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const ports = Object.values(this.ports);
    for (;;) {
      if (this.done) throw new Error(`ffmpeg exited before it listened: ${this.stderrTail.trim() || "no output"}`);
      let taken = 0;
      for (const p of ports) if (!(await portFree(p))) taken++;
      if (taken === ports.length) return;
      if (Date.now() > deadline) throw new Error(`ffmpeg did not listen on its RTP ports within ${READY_TIMEOUT_MS} ms: ${this.stderrTail.trim() || "no output"}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
