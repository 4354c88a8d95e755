/**
 * CHILD PROCESS: many cheap WCS players in one process, for fan-out benchmarks (forked by light-pool.ts with the
 * tsx loader, driven over IPC; message types in {@link LightToChild} / {@link LightFromChild}).
 *
 * Each player behaves on the wire like Web SDK 2.0's `stream.play()`:
 * - its own WCS WebSocket session (`ws`, `connection` as the SDK builds it, `pong` for every server `ping`);
 * - a node-datachannel (libdatachannel) PeerConnection with recvonly audio (opus/111, plus what Chrome offers) and
 *   recvonly video (VP8/96 plus Chrome's other video codecs, so the server can match the publisher's codec/PT);
 * - `playStream` with the offer taken as soon as the local description exists, WITHOUT waiting for candidates and
 *   with `a=candidate` / `a=end-of-candidates` stripped (the server learns our address from STUN, peer-reflexive);
 * - `setRemoteSDP` data[1] applied as the answer; `stopStream` + PeerConnection close on stop.
 *
 * Media is verified at RTP level, not decoded: per player, packets/bytes of the negotiated video payload type,
 * frames (marker bit), VP8 keyframes, sequence gaps (missing packets), late/duplicate packets, audio packets and
 * gaps, RTCP packets, and the time of the first video packet. The per-packet path does no JSON and allocates
 * nothing: counters live in one Float64Array per player, sequence state in closure numbers.
 */
import { randomUUID } from "node:crypto";
import nodeDataChannel from "node-datachannel";
import type { PeerConnection, Track } from "node-datachannel";
import { playStreamRequest, StreamStatus, TERMINAL_STATUSES, withoutCandidates, type StreamStatus as Status } from "../../protocol/index.js";
import { addChromeRecvTracks, answerVideoCodec } from "../../client/cli/recv-offer.js";
import { WcsSocket, type ReceivedFrame } from "../clients/wcs-socket.js";

/** Counter slots of one player (indices into its Float64Array). */
export const C = {
  vPackets: 0,
  vBytes: 1,
  vFrames: 2,
  vKeyFrames: 3,
  /** Video packets missing from the sequence (forward jumps). */
  vLost: 4,
  /** Video packets older than the highest sequence number seen (reordered or duplicate). */
  vLate: 5,
  /** Video-track packets of another payload type (RTX, FEC, …). */
  vOther: 6,
  aPackets: 7,
  aBytes: 8,
  aLost: 9,
  rtcp: 10,
  /** Date.now() of the first video packet (0 = none yet). */
  firstVideoAt: 11,
  /** Date.now() of the first audio packet (0 = none yet). */
  firstAudioAt: 12,
  /** Date.now() of the last video packet. */
  lastVideoAt: 13,
} as const;
export const COUNTER_SLOTS = 14;

export interface LightPlayerInfo {
  id: number;
  mediaSessionId: string;
  /** Last stream status ("PENDING" until the server sends one). */
  status: string;
  info?: string;
  pcState: string;
  /** Date.now() when playStream was sent / setRemoteSDP arrived / PLAYING arrived (0 = not yet). */
  sentAt: number;
  answerAt: number;
  playingAt: number;
  /** Date.now() when our ICE agent / PeerConnection (ICE + DTLS) reached connected (0 = not yet). */
  iceConnectedAt: number;
  connectedAt: number;
  /** Video payload type of the answer (-1 = unknown) and its codec name. */
  videoPt: number;
  videoCodec: string;
  error?: string;
  /** Raw counters, see {@link C}. */
  c: number[];
}

export type LightToChild =
  | { type: "add"; reqId: number; url: string; name: string; ids: number[]; concurrency?: number }
  | { type: "snapshot"; reqId: number }
  | { type: "stop"; reqId: number; ids?: number[] }
  | { type: "quit" };

export type LightFromChild =
  | { type: "ready"; pid: number }
  | { type: "reply"; reqId: number; ok: true; result: unknown }
  | { type: "reply"; reqId: number; ok: false; error: string }
  | { type: "status"; id: number; status: string; info?: string; t: number }
  | { type: "log"; msg: string };

function post(m: LightFromChild): void {
  if (process.connected) process.send?.(m);
}
function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

class LightPlayer {
  readonly mediaSessionId = randomUUID();
  readonly c = new Float64Array(COUNTER_SLOTS);
  status: string = StreamStatus.PENDING;
  info: string | undefined;
  pcState = "new";
  sentAt = 0;
  answerAt = 0;
  playingAt = 0;
  iceConnectedAt = 0;
  connectedAt = 0;
  videoPt = -1;
  videoCodec = "";
  error: string | undefined;
  private socket: WcsSocket | undefined;
  private pc: PeerConnection | undefined;
  private tracks: Track[] = [];
  private closed = false;

  constructor(
    readonly id: number,
    readonly url: string,
    readonly name: string,
  ) {}

  async start(): Promise<void> {
    this.socket = await WcsSocket.connect(this.url, { timeoutMs: 15_000 });
    this.socket.onFrame((f) => this.onFrame(f));
    this.socket.onClose(() => {
      if (!this.closed && !TERMINAL_STATUSES.has(this.status as Status)) this.setError("socket closed by server");
    });
    const pc = new nodeDataChannel.PeerConnection(`lp${this.id}`, { iceServers: [], bindAddress: "127.0.0.1" });
    this.pc = pc;
    pc.onIceStateChange((s) => {
      if ((s === "connected" || s === "completed") && !this.iceConnectedAt) this.iceConnectedAt = Date.now();
    });
    pc.onStateChange((s) => {
      this.pcState = s;
      if (s === "connected" && !this.connectedAt) this.connectedAt = Date.now();
      if (s === "failed") this.setError("PeerConnection failed");
    });
    const { audio, video } = addChromeRecvTracks(pc);
    this.tracks = [audio, video];
    this.attachAudio(audio);
    this.attachVideo(video);
    pc.setLocalDescription();
    const local = pc.localDescription();
    if (!local) throw new Error("no local description after setLocalDescription()");
    const req = playStreamRequest(this.mediaSessionId, this.name, withoutCandidates(local.sdp));
    this.sentAt = Date.now();
    this.socket.send("playStream", req);
  }

  private setError(msg: string): void {
    this.error ??= msg;
  }

  private onFrame(f: ReceivedFrame): void {
    const obj = f.data[0];
    if (f.message === "setRemoteSDP") {
      if (obj !== this.mediaSessionId || typeof f.data[1] !== "string" || !this.pc || this.closed) return;
      this.answerAt = f.t;
      const v = answerVideoCodec(f.data[1]);
      this.videoPt = v.pt;
      this.videoCodec = v.codec;
      try {
        this.pc.setRemoteDescription(f.data[1], "answer");
      } catch (e) {
        this.setError(`setRemoteDescription: ${errMsg(e)}`);
      }
      return;
    }
    if (!obj || typeof obj !== "object") return;
    const o = obj as Record<string, unknown>;
    const forUs =
      ((f.message === "notifyStreamStatusEvent" || f.message === "notifyVideoFormat") && o.mediaSessionId === this.mediaSessionId) ||
      (f.message === "fail" && o.apiMethod === "StreamStatusEvent" && o.id === this.mediaSessionId);
    if (!forUs || typeof o.status !== "string") return;
    this.status = o.status;
    this.info = typeof o.info === "string" ? o.info : undefined;
    if (o.status === StreamStatus.PLAYING && !this.playingAt) this.playingAt = f.t;
    post({ type: "status", id: this.id, status: o.status, ...(this.info ? { info: this.info } : {}), t: f.t });
    if (TERMINAL_STATUSES.has(o.status as Status)) this.closeMedia();
  }

  // ---- per-packet paths: no allocation, no JSON ----
  private attachVideo(track: Track): void {
    const c = this.c;
    let next = -1;
    track.onMessage((buf: Buffer) => {
      const b1 = buf[1]!;
      if (b1 >= 200 && b1 <= 206) {
        c[C.rtcp]!++;
        return;
      }
      if ((b1 & 0x7f) !== this.videoPt) {
        c[C.vOther]!++;
        return;
      }
      const now = Date.now();
      if (c[C.firstVideoAt] === 0) c[C.firstVideoAt] = now;
      c[C.lastVideoAt] = now;
      c[C.vPackets]!++;
      c[C.vBytes]! += buf.length;
      const seq = (buf[2]! << 8) | buf[3]!;
      if (next >= 0) {
        const d = (seq - next) & 0xffff;
        if (d === 0) next = (seq + 1) & 0xffff;
        else if (d < 0x8000) {
          c[C.vLost]! += d;
          next = (seq + 1) & 0xffff;
        } else c[C.vLate]!++;
      } else next = (seq + 1) & 0xffff;
      if (b1 & 0x80) c[C.vFrames]!++;
      // VP8 payload descriptor (RFC 7741 §4.2) → keyframe: S=1, PID=0, P=0 in the payload header
      const cc = buf[0]! & 0x0f;
      let off = 12 + 4 * cc;
      if (buf[0]! & 0x10) off += 4 + 4 * ((buf[off + 2]! << 8) | buf[off + 3]!);
      const d0 = buf[off]!;
      let o = off + 1;
      if (d0 & 0x80) {
        const d1 = buf[o++]!;
        if (d1 & 0x80) o += buf[o]! & 0x80 ? 2 : 1;
        if (d1 & 0x40) o++;
        if (d1 & 0x30) o++;
      }
      if (d0 & 0x10 && (d0 & 0x07) === 0 && o < buf.length && (buf[o]! & 0x01) === 0) c[C.vKeyFrames]!++;
    });
  }

  private attachAudio(track: Track): void {
    const c = this.c;
    let next = -1;
    track.onMessage((buf: Buffer) => {
      const b1 = buf[1]!;
      if (b1 >= 200 && b1 <= 206) {
        c[C.rtcp]!++;
        return;
      }
      if (c[C.firstAudioAt] === 0) c[C.firstAudioAt] = Date.now();
      c[C.aPackets]!++;
      c[C.aBytes]! += buf.length;
      const seq = (buf[2]! << 8) | buf[3]!;
      if (next >= 0) {
        const d = (seq - next) & 0xffff;
        if (d > 0 && d < 0x8000) c[C.aLost]! += d;
        if (d < 0x8000) next = (seq + 1) & 0xffff;
      } else next = (seq + 1) & 0xffff;
    });
  }

  snapshot(): LightPlayerInfo {
    return {
      id: this.id,
      mediaSessionId: this.mediaSessionId,
      status: this.status,
      ...(this.info ? { info: this.info } : {}),
      pcState: this.pcState,
      sentAt: this.sentAt,
      answerAt: this.answerAt,
      playingAt: this.playingAt,
      iceConnectedAt: this.iceConnectedAt,
      connectedAt: this.connectedAt,
      videoPt: this.videoPt,
      videoCodec: this.videoCodec,
      ...(this.error ? { error: this.error } : {}),
      c: Array.from(this.c),
    };
  }

  private closeMedia(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.tracks) {
      try {
        t.close();
      } catch {
        /* already closed */
      }
    }
    try {
      this.pc?.close();
    } catch {
      /* already closed */
    }
  }

  /** Web SDK stream.stop() on a played stream, then session close. */
  async stop(): Promise<void> {
    const s = this.socket;
    if (s?.isOpen && !TERMINAL_STATUSES.has(this.status as Status) && this.status !== StreamStatus.PENDING) {
      s.send("stopStream", {
        mediaSessionId: this.mediaSessionId,
        name: this.name,
        published: false,
        hasVideo: true,
        hasAudio: true,
        status: this.status,
        record: false,
      });
    }
    this.closeMedia();
    if (s && !s.closeInfo) await Promise.race([s.close(), new Promise((r) => setTimeout(r, 1_000))]);
  }
}

// ---------- IPC ----------
const players = new Map<number, LightPlayer>();

async function addPlayers(url: string, name: string, ids: number[], concurrency: number): Promise<{ started: number; failed: { id: number; error: string }[] }> {
  const queue = [...ids];
  const failed: { id: number; error: string }[] = [];
  let started = 0;
  const worker = async (): Promise<void> => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const p = new LightPlayer(id, url, name);
      players.set(id, p);
      try {
        await p.start();
        started++;
      } catch (e) {
        p.error = `start: ${errMsg(e)}`;
        failed.push({ id, error: p.error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return { started, failed };
}

function reply(reqId: number, p: Promise<unknown>): void {
  p.then(
    (result) => post({ type: "reply", reqId, ok: true, result: result ?? null }),
    (e: unknown) => post({ type: "reply", reqId, ok: false, error: errMsg(e) }),
  );
}

let quitting = false;
async function quit(): Promise<void> {
  if (quitting) return;
  quitting = true;
  await Promise.race([Promise.all([...players.values()].map((p) => p.stop().catch(() => undefined))), new Promise((r) => setTimeout(r, 2_000))]);
  try {
    nodeDataChannel.cleanup();
  } catch {
    /* ignore */
  }
  setTimeout(() => process.exit(0), 50);
}

process.on("message", (raw: unknown) => {
  const m = raw as LightToChild;
  switch (m.type) {
    case "add":
      return reply(m.reqId, addPlayers(m.url, m.name, m.ids, m.concurrency ?? 8));
    case "snapshot":
      return reply(m.reqId, Promise.resolve({ t: Date.now(), players: [...players.values()].map((p) => p.snapshot()) }));
    case "stop": {
      const sel = m.ids ? m.ids.map((id) => players.get(id)).filter((p): p is LightPlayer => !!p) : [...players.values()];
      return reply(
        m.reqId,
        Promise.all(sel.map((p) => p.stop())).then(() => {
          for (const p of sel) players.delete(p.id);
          return { stopped: sel.length };
        }),
      );
    }
    case "quit":
      void quit();
      return;
  }
});
process.on("disconnect", () => void quit());
process.on("uncaughtException", (e) => post({ type: "log", msg: `uncaught exception: ${e.stack ?? e.message}` }));
process.on("unhandledRejection", (e) => post({ type: "log", msg: `unhandled rejection: ${errMsg(e)}` }));
post({ type: "ready", pid: process.pid });
