/**
 * CHILD PROCESS: one WCS session + one stream (publisher or player) on @roamhq/wrtc, behaving like Web SDK 2.0 on the
 * wire. Started by index.ts with child_process.fork (tsx loader) and driven over IPC (see ipc.ts). wrtc can SIGSEGV
 * at process exit, so this process always ends itself with process.exit() and never runs in the test process.
 *
 * Web SDK behaviour reproduced (flashphoner-core.js, webrtc-media-provider.js):
 * - RTCPeerConnection({iceServers: [], bundlePolicy: "max-compat"});
 * - the offer is sent right after setLocalDescription, before ICE gathering, without candidates, no trickle;
 * - publisher: addTrack(audio), addTrack(video), offer with sendonly m-lines; player: recvonly audio + video;
 * - publishStream / playStream carry the SDK's exact field set; setRemoteSDP data[1] is applied as the answer;
 * - stop(): PENDING → retry every 200 ms; FAILED → nothing; else send unPublishStream/stopStream and close the PC;
 * - on UNPUBLISHED / STOPPED / FAILED the stream is released (PC closed); on a socket close (not dropSocket) too.
 */
import { randomUUID } from "node:crypto";
import wrtc from "@roamhq/wrtc";
import { playStreamRequest, StreamStatus, TERMINAL_STATUSES, withoutCandidates, type StreamRequest, type StreamStopRequest } from "../../protocol/index.js";
import type {
  ChildToParent,
  ClientOptions,
  ClientRole,
  ClientStats,
  ParentToChild,
  RtpCounters,
  StartResult,
  StatusEntry,
  StopResult,
} from "./ipc.js";
import {
  makeFrameGenerator,
  makeToneGenerator,
  markerLatencyMs,
  pinVp8Bitrate,
  readMarker,
  sdpMediaSections,
} from "./media.js";
import { WcsSocket, type ReceivedFrame } from "./wcs-socket.js";

const { RTCPeerConnection, MediaStream } = wrtc;
const { RTCVideoSource, RTCAudioSource, RTCVideoSink, RTCAudioSink } = wrtc.nonstandard;

type VideoSink = InstanceType<typeof RTCVideoSink>;
type AudioSink = InstanceType<typeof RTCAudioSink>;

function post(m: ChildToParent): void {
  if (process.connected) process.send?.(m);
}
function log(msg: string): void {
  post({ type: "log", msg });
}
function errMsg(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

const AUDIO_RATE = 48_000;
const AUDIO_CHUNK_MS = 10;
const RECENT_AUDIO_CHUNKS = 100;

class WcsClient {
  readonly mediaSessionId = randomUUID();
  readonly statuses: StatusEntry[] = [];
  readonly errors: string[] = [];
  status: string = StreamStatus.PENDING;
  private socket: WcsSocket | undefined;
  private pc: RTCPeerConnection | undefined;
  private startedAt = 0;
  private answerApplied = false;
  private released = false;
  private droppedByUs = false;
  private request: StreamRequest | undefined;

  // publisher
  private pacer: NodeJS.Timeout | undefined;
  private tracks: MediaStreamTrack[] = [];
  private framesSent = 0;
  private nextFrameIndex = 0;
  private audioChunksSent = 0;

  // player
  private sinks: (VideoSink | AudioSink)[] = [];
  private framesDecoded = 0;
  private readonly seen = new Set<number>();
  private duplicateFrames = 0;
  private reorderedFrames = 0;
  private badMarkers = 0;
  private minIdx: number | null = null;
  private maxIdx: number | null = null;
  private readonly sizes: Record<string, number> = {};
  private lastSize: string | null = null;
  private firstFrameMs: number | null = null;
  private lastFrameMs: number | null = null;
  private latSum = 0;
  private latN = 0;
  private latMin: number | null = null;
  private latMax: number | null = null;
  private audioChunks = 0;
  private audioSamples = 0;
  private audioSampleRate = 0;
  private audioSq = 0;
  private audioSqN = 0;
  private readonly recentAudio: number[] = [];

  constructor(
    readonly url: string,
    readonly role: ClientRole,
    readonly name: string,
    readonly opts: ClientOptions,
  ) {}

  async start(): Promise<StartResult> {
    const o = this.opts;
    this.socket = await WcsSocket.connect(this.url, {
      appKey: o.appKey,
      custom: o.custom,
      timeoutMs: o.connectTimeoutMs ?? 10_000,
    });
    if (o.room) {
      // Room API participant (room-module.js): join before publishing/playing, like RoomApi's room.publish()
      const operationId = randomUUID();
      this.socket.send("sendData", { operationId, payload: { command: "join", options: { name: o.room, record: false } } });
      const st = await this.socket.waitForMessage("DataStatusEvent", 10_000, (f) => (f.data[0] as { operationId?: string })?.operationId === operationId);
      const res = st.data[0] as { status: string; info?: string };
      if (res.status !== "ACCEPTED") throw new Error(`join of room ${o.room} failed: ${res.info}`);
    }
    this.socket.onFrame((f) => this.onFrame(f));
    this.socket.onClose((c) => {
      post({ type: "socketClosed", code: c.code, reason: c.reason, t: c.t });
      if (!this.droppedByUs) {
        this.errors.push(`socket closed by peer (${c.code} ${c.reason})`);
        this.release(); // Web SDK: session DISCONNECTED/FAILED → every stream FAILED locally → PC closed
      }
    });

    const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-compat" });
    this.pc = pc;
    let lastState = "";
    const onState = (): void => {
      const st = `pc ${pc.connectionState} (ice ${pc.iceConnectionState})`;
      if (st !== lastState) log((lastState = st));
      if (pc.connectionState === "connected" && this.role === "publisher") this.startMedia();
    };
    pc.addEventListener("connectionstatechange", onState);
    pc.addEventListener("iceconnectionstatechange", onState);

    let offer: RTCSessionDescriptionInit;
    const wantAudio = o.audio ?? true;
    const wantVideo = o.video ?? true;
    if (this.role === "publisher") {
      if (!wantAudio && !wantVideo) throw new Error("publisher with neither audio nor video");
      const stream = new MediaStream();
      if (wantAudio) this.tracks.push((this.audioSource = new RTCAudioSource()).createTrack());
      if (wantVideo) this.tracks.push((this.videoSource = new RTCVideoSource()).createTrack());
      for (const t of this.tracks) pc.addTrack(t, stream);
      for (const tr of pc.getTransceivers()) tr.direction = "sendonly";
      offer = await pc.createOffer({ offerToReceiveAudio: false, offerToReceiveVideo: false });
    } else {
      if (wantAudio) pc.addTransceiver("audio", { direction: "recvonly" });
      if (wantVideo) pc.addTransceiver("video", { direction: "recvonly" });
      pc.addEventListener("track", (ev: RTCTrackEvent) => this.attachSink(ev.track));
      offer = await pc.createOffer();
    }
    await pc.setLocalDescription(offer);
    const sdp = withoutCandidates(offer.sdp ?? "");
    const expected = this.role === "publisher" ? "sendonly" : "recvonly";
    for (const m of sdpMediaSections(sdp))
      if (m.direction !== expected) this.errors.push(`offer m=${m.kind} is ${m.direction}, expected ${expected}`);

    const req: StreamRequest =
      this.role === "publisher"
        ? {
            mediaSessionId: this.mediaSessionId,
            name: this.name,
            published: true,
            hasVideo: wantVideo,
            hasAudio: wantAudio,
            status: StreamStatus.PENDING,
            record: o.record ?? false,
            mediaProvider: "WebRTC",
            sdp,
            custom: o.streamCustom ?? (o.room ? { name: o.room } : undefined),
            bitrate: 0,
            minBitrate: 0,
            maxBitrate: 0,
          }
        : playStreamRequest(this.mediaSessionId, this.name, sdp, {
            width: o.width ?? 0,
            height: o.height ?? 0,
            custom: o.streamCustom ?? (o.room ? { name: o.room } : undefined),
            quality: o.quality ?? 0,
          });
    this.request = req;
    this.startedAt = Date.now();
    this.socket.send(this.role === "publisher" ? "publishStream" : "playStream", req);
    return {
      mediaSessionId: this.mediaSessionId,
      request: JSON.parse(JSON.stringify(req)) as Record<string, unknown>,
      userData: this.socket.userData ?? {},
    };
  }

  private audioSource: InstanceType<typeof RTCAudioSource> | undefined;
  private videoSource: InstanceType<typeof RTCVideoSource> | undefined;

  private onFrame(f: ReceivedFrame): void {
    const obj = f.data[0];
    if (f.message === "setRemoteSDP") {
      if (obj === this.mediaSessionId && typeof f.data[1] === "string") void this.applyRemote(f.data[1]);
      return;
    }
    if (!obj || typeof obj !== "object") return;
    const o = obj as Record<string, unknown>;
    let forUs = false;
    if (f.message === "notifyStreamStatusEvent" || f.message === "notifyVideoFormat") forUs = o.mediaSessionId === this.mediaSessionId;
    else if (f.message === "fail") forUs = o.apiMethod === "StreamStatusEvent" && o.id === this.mediaSessionId && typeof o.status === "string";
    if (!forUs || typeof o.status !== "string") return;
    const entry: StatusEntry = {
      status: o.status,
      ...(typeof o.info === "string" ? { info: o.info } : {}),
      t: f.t,
      message: f.message,
      data: o,
    };
    this.statuses.push(entry);
    this.status = o.status;
    post({ type: "status", entry });
    if (TERMINAL_STATUSES.has(o.status as StreamStatus)) this.release();
  }

  private async applyRemote(sdpIn: string): Promise<void> {
    const pc = this.pc;
    if (!pc || this.released) return;
    if (pc.signalingState !== "have-local-offer") {
      this.errors.push(`setRemoteSDP in signaling state ${pc.signalingState} (re-offers are not supported)`);
      return;
    }
    const sdp = this.role === "publisher" ? pinVp8Bitrate(sdpIn, this.opts.bitrateKbps ?? 1500) : sdpIn;
    post({ type: "answer", sdp: sdpIn, t: Date.now() });
    try {
      await pc.setRemoteDescription({ type: "answer", sdp });
      this.answerApplied = true;
    } catch (e) {
      this.errors.push(`setRemoteDescription(answer) failed: ${errMsg(e)}`);
      log(`setRemoteDescription failed: ${errMsg(e)}`);
    }
  }

  private startMedia(): void {
    if (this.pacer || this.released) return;
    const fps = this.opts.fps ?? 30;
    const gen = this.videoSource ? makeFrameGenerator(this.opts.width ?? 640, this.opts.height ?? 480) : undefined;
    const tone = this.audioSource ? makeToneGenerator(AUDIO_RATE, 440, 8000, AUDIO_CHUNK_MS) : undefined;
    const t0 = process.hrtime.bigint();
    let audioIdx = 0;
    // drift-corrected pacing: each tick emits what is due by the wall clock; after a long stall, skips ahead
    // instead of bursting stale frames into the encoder
    this.pacer = setInterval(() => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (tone && this.audioSource) {
        const due = Math.floor(ms / AUDIO_CHUNK_MS);
        if (due - audioIdx > 20) audioIdx = due - 20;
        for (; audioIdx < due; audioIdx++) {
          const samples = tone();
          this.audioSource.onData({ samples, sampleRate: AUDIO_RATE, bitsPerSample: 16, channelCount: 1, numberOfFrames: samples.length });
          this.audioChunksSent++;
        }
      }
      if (gen && this.videoSource) {
        const due = Math.floor((ms * fps) / 1000);
        if (due - this.nextFrameIndex > 2) this.nextFrameIndex = due - 1;
        for (; this.nextFrameIndex < due; this.nextFrameIndex++) {
          const fr = gen(this.nextFrameIndex);
          // wrtc wants a Uint8ClampedArray for I420 data; its .d.ts says Uint8Array
          this.videoSource.onFrame(fr as unknown as { width: number; height: number; data: Uint8Array });
          this.framesSent++;
        }
      }
    }, 5);
  }

  private attachSink(track: MediaStreamTrack): void {
    if (track.kind === "video") {
      const sink = new RTCVideoSink(track);
      sink.onframe = (ev: { frame: { width: number; height: number; data: Uint8Array } }) => this.onVideoFrame(ev.frame);
      this.sinks.push(sink);
    } else if (track.kind === "audio") {
      const sink = new RTCAudioSink(track);
      sink.ondata = (d: { samples: Int16Array; sampleRate: number; numberOfFrames?: number; channelCount?: number }) =>
        this.onAudio(d);
      this.sinks.push(sink);
    }
  }

  private onVideoFrame(frame: { width: number; height: number; data: Uint8Array }): void {
    const now = Date.now();
    this.framesDecoded++;
    const up = now - this.startedAt;
    this.firstFrameMs ??= up;
    this.lastFrameMs = up;
    const size = `${frame.width}x${frame.height}`;
    this.sizes[size] = (this.sizes[size] ?? 0) + 1;
    this.lastSize = size;
    const mk = readMarker(frame.data, frame.width, frame.height);
    if (!mk) {
      this.badMarkers++;
      return;
    }
    if (this.seen.has(mk.index)) {
      this.duplicateFrames++;
      return;
    }
    if (this.maxIdx !== null && mk.index < this.maxIdx) this.reorderedFrames++;
    this.seen.add(mk.index);
    this.minIdx = this.minIdx === null ? mk.index : Math.min(this.minIdx, mk.index);
    this.maxIdx = this.maxIdx === null ? mk.index : Math.max(this.maxIdx, mk.index);
    const lat = markerLatencyMs(mk.sendTimeMs, now);
    if (lat < 60_000) {
      this.latSum += lat;
      this.latN++;
      this.latMin = this.latMin === null ? lat : Math.min(this.latMin, lat);
      this.latMax = this.latMax === null ? lat : Math.max(this.latMax, lat);
    }
  }

  private onAudio(d: { samples: Int16Array; sampleRate: number; numberOfFrames?: number; channelCount?: number }): void {
    const s = d.samples;
    const frames = d.numberOfFrames ?? s.length / (d.channelCount ?? 1);
    this.audioChunks++;
    this.audioSamples += frames;
    this.audioSampleRate = d.sampleRate;
    let sq = 0;
    let n = 0;
    for (let i = 0; i < s.length; i += 4) {
      const v = s[i] ?? 0;
      sq += v * v;
      n++;
    }
    this.audioSq += sq;
    this.audioSqN += n;
    this.recentAudio.push(n ? sq / n : 0);
    if (this.recentAudio.length > RECENT_AUDIO_CHUNKS) this.recentAudio.shift();
  }

  /** Web SDK stream.stop(). */
  async stop(): Promise<StopResult> {
    while (this.status === StreamStatus.PENDING) {
      // "Stopping stream before server response": the SDK retries every 200 ms until the status changes
      if (this.released) return { sent: null, status: this.status }; // session lost while pending
      await new Promise((r) => setTimeout(r, 200));
    }
    if (this.status === StreamStatus.FAILED) return { sent: null, status: this.status };
    const message = this.role === "publisher" ? "unPublishStream" : "stopStream";
    const body: StreamStopRequest = {
      mediaSessionId: this.mediaSessionId,
      name: this.name,
      published: this.role === "publisher",
      hasVideo: true,
      hasAudio: true,
      status: this.status,
      record: false,
    };
    if (this.socket?.isOpen) this.socket.send(message, body);
    else this.errors.push(`stop(): socket not open, ${message} not sent`);
    this.closeMedia();
    return { sent: this.socket?.isOpen ? message : null, status: this.status };
  }

  async dropSocket(): Promise<void> {
    this.droppedByUs = true;
    if (!this.socket) return;
    this.socket.terminate();
    await this.socket.closed;
  }

  private closeMedia(): void {
    if (this.pacer) clearInterval(this.pacer);
    this.pacer = undefined;
    for (const s of this.sinks) if (!s.stopped) s.stop();
    for (const t of this.tracks) t.stop();
    if (this.pc && this.pc.signalingState !== "closed") this.pc.close();
  }

  /** Stream released (terminal status or lost session): as the SDK does, close the PeerConnection. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.closeMedia();
  }

  async quit(): Promise<void> {
    this.released = true;
    this.closeMedia();
    if (this.socket && !this.socket.closeInfo) {
      this.droppedByUs = true;
      await Promise.race([this.socket.close(), new Promise((r) => setTimeout(r, 500))]);
    }
  }

  async stats(): Promise<ClientStats> {
    const pc = this.pc;
    const rtp: ClientStats["rtp"] = {};
    if (pc && pc.signalingState !== "closed") {
      try {
        const list: Record<string, unknown>[] = [];
        (await pc.getStats()).forEach((v: Record<string, unknown>) => list.push(v));
        const byId = new Map(list.map((s) => [s.id as string, s]));
        const dirType = this.role === "publisher" ? "outbound-rtp" : "inbound-rtp";
        for (const kind of ["video", "audio"] as const) {
          const s = list.find((x) => x.type === dirType && (x.kind === kind || x.mediaType === kind));
          if (s) rtp[kind] = rtpCounters(s, byId);
        }
        const pair = list.find((x) => x.type === "candidate-pair" && x.nominated && x.state === "succeeded");
        if (pair) {
          if (typeof pair.currentRoundTripTime === "number") rtp.rttMs = pair.currentRoundTripTime * 1000;
          if (typeof pair.availableOutgoingBitrate === "number") rtp.availableOutgoingBitrate = pair.availableOutgoingBitrate;
        }
      } catch (e) {
        this.errors.push(`getStats failed: ${errMsg(e)}`);
      }
    }
    const rms = (sq: number, n: number): number => (n ? Math.sqrt(sq / n) : 0);
    const recent = this.recentAudio;
    return {
      role: this.role,
      name: this.name,
      mediaSessionId: this.mediaSessionId,
      t: Date.now(),
      uptimeMs: this.startedAt ? Date.now() - this.startedAt : 0,
      status: this.status,
      socketOpen: this.socket?.isOpen ?? false,
      pcState: pc?.connectionState ?? "none",
      iceState: pc?.iceConnectionState ?? "none",
      signalingState: pc?.signalingState ?? "none",
      answerApplied: this.answerApplied,
      framesDecoded: this.framesDecoded,
      uniqueFrames: this.seen.size,
      duplicateFrames: this.duplicateFrames,
      reorderedFrames: this.reorderedFrames,
      badMarkers: this.badMarkers,
      minFrameIndex: this.minIdx,
      maxFrameIndex: this.maxIdx,
      sizes: { ...this.sizes },
      lastSize: this.lastSize,
      firstFrameMs: this.firstFrameMs,
      lastFrameMs: this.lastFrameMs,
      latencyAvgMs: this.latN ? this.latSum / this.latN : null,
      latencyMinMs: this.latMin,
      latencyMaxMs: this.latMax,
      latencySumMs: this.latSum,
      latencySamples: this.latN,
      audioChunks: this.audioChunks,
      audioSamples: this.audioSamples,
      audioSampleRate: this.audioSampleRate,
      audioRms: rms(this.audioSq, this.audioSqN),
      audioRmsRecent: recent.length ? Math.sqrt(recent.reduce((a, b) => a + b, 0) / recent.length) : 0,
      framesSent: this.framesSent,
      nextFrameIndex: this.nextFrameIndex,
      audioChunksSent: this.audioChunksSent,
      rtp,
      errors: [...this.errors],
    };
  }
}

function rtpCounters(s: Record<string, unknown>, byId: Map<string, Record<string, unknown>>): RtpCounters {
  const num = (k: string): number | undefined => (typeof s[k] === "number" ? (s[k] as number) : undefined);
  const codec = typeof s.codecId === "string" ? byId.get(s.codecId) : undefined;
  const out: RtpCounters = {
    ssrc: num("ssrc"),
    payloadType: codec && typeof codec.payloadType === "number" ? codec.payloadType : undefined,
    packets: num("packetsSent") ?? num("packetsReceived"),
    bytes: num("bytesSent") ?? num("bytesReceived"),
    packetsLost: num("packetsLost"),
    framesEncoded: num("framesEncoded"),
    framesDecoded: num("framesDecoded"),
    keyFramesDecoded: num("keyFramesDecoded"),
    framesDropped: num("framesDropped"),
    frameWidth: num("frameWidth"),
    frameHeight: num("frameHeight"),
    nackCount: num("nackCount"),
    pliCount: num("pliCount"),
    firCount: num("firCount"),
    freezeCount: num("freezeCount"),
    targetBitrate: num("targetBitrate"),
    qualityLimitationReason: typeof s.qualityLimitationReason === "string" ? s.qualityLimitationReason : undefined,
    codec: codec && typeof codec.mimeType === "string" ? codec.mimeType : undefined,
  };
  for (const k of Object.keys(out) as (keyof RtpCounters)[]) if (out[k] === undefined) delete out[k];
  return out;
}

// ---------- IPC ----------
let client: WcsClient | undefined;
let quitting = false;

function reply(id: number, p: Promise<unknown>): void {
  p.then(
    (result) => post({ type: "reply", id, ok: true, result: result ?? null }),
    (e: unknown) => post({ type: "reply", id, ok: false, error: errMsg(e) }),
  );
}

function exitSoon(code: number): void {
  if (quitting) return;
  quitting = true;
  const c = client;
  void (c ? c.quit().catch(() => undefined) : Promise.resolve()).finally(() => setTimeout(() => process.exit(code), 50));
}

process.on("message", (raw: unknown) => {
  const m = raw as ParentToChild;
  const need = (): WcsClient => {
    if (!client) throw new Error("not started");
    return client;
  };
  switch (m.type) {
    case "start":
      if (client) return reply(m.id, Promise.reject(new Error("already started")));
      client = new WcsClient(m.url, m.role, m.name, m.options);
      return reply(m.id, client.start());
    case "stop":
      return reply(m.id, Promise.resolve().then(() => need().stop()));
    case "dropSocket":
      return reply(m.id, Promise.resolve().then(() => need().dropSocket()));
    case "stats":
      return reply(m.id, Promise.resolve().then(() => need().stats()));
    case "quit":
      post({ type: "reply", id: m.id, ok: true, result: null });
      exitSoon(0);
      return;
  }
});
// parent gone (crashed, killed, or finished): never outlive it
process.on("disconnect", () => exitSoon(0));
process.on("uncaughtException", (e) => {
  log(`uncaught exception: ${errMsg(e)}`);
  exitSoon(1);
});
process.on("unhandledRejection", (e) => log(`unhandled rejection: ${errMsg(e)}`));
post({ type: "ready" });
