/**
 * CHILD PROCESS of signaling.ts: one WCS session on @roamhq/wrtc that publishes and plays many streams one after the
 * other and times each step from the moment the request is sent (Date.now() in this process):
 *   publish: publishStream sent → setRemoteSDP, → PUBLISHING; unPublishStream sent → UNPUBLISHED
 *   play:    playStream sent → setRemoteSDP, → PLAYING, → first decoded video frame (RTCVideoSink)
 * Each stream behaves like Web SDK 2.0: new RTCPeerConnection({iceServers: [], bundlePolicy: "max-compat"}), offer sent
 * right after setLocalDescription without candidates, answer applied from setRemoteSDP, PC closed on stop.
 * wrtc may crash at exit, so this process always ends with process.exit().
 */
import { randomUUID } from "node:crypto";
import wrtc from "@roamhq/wrtc";
import { StreamStatus, TERMINAL_STATUSES, withoutCandidates, type StreamRequest, type StreamStatus as Status } from "../../protocol/index.js";
import { WcsSocket, type ReceivedFrame } from "../clients/wcs-socket.js";

const { RTCPeerConnection, MediaStream } = wrtc;
const { RTCVideoSource, RTCAudioSource, RTCVideoSink } = wrtc.nonstandard;

export interface StepResult {
  mediaSessionId: string;
  /** Final status reached ("PUBLISHING"/"PLAYING"/… or "TIMEOUT"). */
  status: string;
  info?: string;
  /** ms from the request to setRemoteSDP / the awaited status / first decoded frame (null = never). */
  answerMs: number | null;
  statusMs: number | null;
  firstFrameMs: number | null;
  /** ms from the request to the client's ICE connected / PeerConnection connected (ICE + DTLS) state. */
  iceConnectedMs: number | null;
  pcConnectedMs: number | null;
  /** Size of the first decoded frame. */
  firstFrameSize?: string;
}

export interface StopResultMs {
  status: string;
  ms: number | null;
}

export type SigToChild =
  | { type: "connect"; reqId: number; url: string }
  | { type: "publish"; reqId: number; name: string; timeoutMs: number }
  | { type: "unpublish"; reqId: number; timeoutMs: number }
  | { type: "play"; reqId: number; name: string; timeoutMs: number }
  | { type: "stopPlay"; reqId: number; timeoutMs: number }
  | { type: "quit" };

export type SigFromChild =
  | { type: "ready" }
  | { type: "reply"; reqId: number; ok: true; result: unknown }
  | { type: "reply"; reqId: number; ok: false; error: string };

function post(m: SigFromChild): void {
  if (process.connected) process.send?.(m);
}

interface Active {
  role: "publisher" | "player";
  name: string;
  mediaSessionId: string;
  pc: RTCPeerConnection;
  tracks: MediaStreamTrack[];
  sinks: { stop(): void }[];
  status: string;
}

let socket: WcsSocket | undefined;
let active: Active | undefined;

function need(): WcsSocket {
  if (!socket) throw new Error("session not open");
  if (!socket.isOpen) {
    const c = socket.closeInfo;
    throw new Error(
      c ? `WCS session closed by the server at ${new Date(c.t).toISOString()} (code ${c.code}${c.reason ? ` ${c.reason}` : ""})` : "WCS session not open",
    );
  }
  return socket;
}

function statusOf(f: ReceivedFrame, msid: string): { status: string; info?: string } | undefined {
  const o = f.data[0] as Record<string, unknown> | undefined;
  if (!o || typeof o !== "object" || typeof o.status !== "string") return undefined;
  if ((f.message === "notifyStreamStatusEvent" || f.message === "notifyVideoFormat") && o.mediaSessionId === msid) {
    return { status: o.status, ...(typeof o.info === "string" ? { info: o.info } : {}) };
  }
  if (f.message === "fail" && o.apiMethod === "StreamStatusEvent" && o.id === msid) {
    return { status: o.status, ...(typeof o.info === "string" ? { info: o.info } : {}) };
  }
  return undefined;
}

function closeActive(): void {
  const a = active;
  active = undefined;
  if (!a) return;
  for (const s of a.sinks) s.stop();
  for (const t of a.tracks) t.stop();
  if (a.pc.signalingState !== "closed") a.pc.close();
}

/** Sends the stream request and resolves with the timings; `frame` resolves on the first decoded frame (players). */
async function startStream(role: "publisher" | "player", name: string, timeoutMs: number): Promise<StepResult> {
  const s = need();
  if (active) closeActive();
  const mediaSessionId = randomUUID();
  const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-compat" });
  const a: Active = { role, name, mediaSessionId, pc, tracks: [], sinks: [], status: StreamStatus.PENDING };
  active = a;
  let firstFrameAt = 0;
  let firstFrameSize: string | undefined;
  let onFirstFrame: (() => void) | undefined;
  const firstFrame = new Promise<void>((r) => (onFirstFrame = r));

  let offer: RTCSessionDescriptionInit;
  if (role === "publisher") {
    const stream = new MediaStream();
    a.tracks.push(new RTCAudioSource().createTrack(), new RTCVideoSource().createTrack());
    for (const t of a.tracks) pc.addTrack(t, stream);
    for (const tr of pc.getTransceivers()) tr.direction = "sendonly";
    offer = await pc.createOffer({ offerToReceiveAudio: false, offerToReceiveVideo: false });
  } else {
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addEventListener("track", (ev: RTCTrackEvent) => {
      if (ev.track.kind !== "video") return;
      const sink = new RTCVideoSink(ev.track);
      sink.onframe = ({ frame }: { frame: { width: number; height: number } }) => {
        if (firstFrameAt) return;
        firstFrameAt = Date.now();
        firstFrameSize = `${frame.width}x${frame.height}`;
        onFirstFrame?.();
      };
      a.sinks.push(sink);
    });
    offer = await pc.createOffer();
  }
  await pc.setLocalDescription(offer);
  const req: StreamRequest = {
    mediaSessionId,
    name,
    published: role === "publisher",
    hasVideo: true,
    hasAudio: true,
    status: StreamStatus.PENDING,
    record: false,
    ...(role === "player" ? { width: 0, height: 0 } : {}),
    mediaProvider: "WebRTC",
    sdp: withoutCandidates(offer.sdp ?? ""),
    bitrate: 0,
    minBitrate: 0,
    maxBitrate: 0,
    ...(role === "player" ? { quality: 0 } : {}),
  };
  const from = s.frames.length;
  const t0 = Date.now();
  s.send(role === "publisher" ? "publishStream" : "playStream", req);

  const result: StepResult = {
    mediaSessionId,
    status: "TIMEOUT",
    answerMs: null,
    statusMs: null,
    firstFrameMs: null,
    iceConnectedMs: null,
    pcConnectedMs: null,
  };
  pc.addEventListener("iceconnectionstatechange", () => {
    const st = pc.iceConnectionState;
    if ((st === "connected" || st === "completed") && result.iceConnectedMs === null) result.iceConnectedMs = Date.now() - t0;
  });
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "connected" && result.pcConnectedMs === null) result.pcConnectedMs = Date.now() - t0;
  });
  const wanted = role === "publisher" ? StreamStatus.PUBLISHING : StreamStatus.PLAYING;
  const deadline = t0 + timeoutMs;
  // answer
  const answerP = s
    .waitFor((f) => (f.message === "setRemoteSDP" && f.data[0] === mediaSessionId) || !!statusOf(f, mediaSessionId), timeoutMs, { from })
    .then(async (f) => {
      if (f.message !== "setRemoteSDP") return;
      result.answerMs = f.t - t0;
      await pc.setRemoteDescription({ type: "answer", sdp: String(f.data[1]) });
    })
    .catch(() => undefined);
  // status
  const statusP = s
    .waitFor((f) => {
      const st = statusOf(f, mediaSessionId);
      return !!st && (st.status === wanted || TERMINAL_STATUSES.has(st.status as Status));
    }, timeoutMs, { from })
    .then((f) => {
      const st = statusOf(f, mediaSessionId)!;
      a.status = st.status;
      result.status = st.status;
      if (st.info) result.info = st.info;
      if (st.status === wanted) result.statusMs = f.t - t0;
    })
    .catch(() => undefined);
  await Promise.all([answerP, statusP]);
  if (role === "player" && result.status === wanted) {
    await Promise.race([firstFrame, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
    if (firstFrameAt) {
      result.firstFrameMs = firstFrameAt - t0;
      if (firstFrameSize) result.firstFrameSize = firstFrameSize;
    }
  }
  return result;
}

async function stopStream(timeoutMs: number): Promise<StopResultMs> {
  const s = need();
  const a = active;
  if (!a) return { status: "none", ms: null };
  const from = s.frames.length;
  const t0 = Date.now();
  if (!TERMINAL_STATUSES.has(a.status as Status)) {
    s.send(a.role === "publisher" ? "unPublishStream" : "stopStream", {
      mediaSessionId: a.mediaSessionId,
      name: a.name,
      published: a.role === "publisher",
      hasVideo: true,
      hasAudio: true,
      status: a.status,
      record: false,
    });
  }
  closeActive(); // the SDK closes the PeerConnection at once
  try {
    const f = await s.waitFor((fr) => {
      const st = statusOf(fr, a.mediaSessionId);
      return !!st && TERMINAL_STATUSES.has(st.status as Status);
    }, timeoutMs, { from });
    return { status: statusOf(f, a.mediaSessionId)!.status, ms: f.t - t0 };
  } catch {
    return { status: "TIMEOUT", ms: null };
  }
}

function reply(reqId: number, p: Promise<unknown>): void {
  p.then(
    (result) => post({ type: "reply", reqId, ok: true, result: result ?? null }),
    (e: unknown) => post({ type: "reply", reqId, ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
}

let quitting = false;
function quit(): void {
  if (quitting) return;
  quitting = true;
  try {
    closeActive();
    socket?.terminate();
  } catch {
    /* ignore */
  }
  setTimeout(() => process.exit(0), 100);
}

process.on("message", (raw: unknown) => {
  const m = raw as SigToChild;
  switch (m.type) {
    case "connect":
      return reply(
        m.reqId,
        (async () => {
          closeActive();
          socket?.terminate();
          socket = await WcsSocket.connect(m.url, { timeoutMs: 10_000 });
          return socket.userData ?? {};
        })(),
      );
    case "publish":
      return reply(m.reqId, startStream("publisher", m.name, m.timeoutMs));
    case "play":
      return reply(m.reqId, startStream("player", m.name, m.timeoutMs));
    case "unpublish":
    case "stopPlay":
      return reply(m.reqId, stopStream(m.timeoutMs));
    case "quit":
      return quit();
  }
});
process.on("disconnect", quit);
process.on("uncaughtException", (e) => {
  process.stderr.write(`uncaught: ${e.stack ?? e.message}\n`);
  quit();
});
post({ type: "ready" });
