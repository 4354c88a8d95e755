/**
 * Stand-ins for the WebRTC objects the SDK uses (RTCPeerConnection, MediaStream, MediaStreamTrack), injected through
 * the SDK's `platform`. They model only what the SDK's state machine depends on: transceivers and their directions,
 * an offer SDP with one m-line per transceiver and no candidates, signaling states, `track` events when the answer
 * is applied, close(). Media never flows; end-to-end media is covered by test/e2e/sdk-node.test.ts.
 */
import { randomUUID } from "node:crypto";
import type { Platform } from "../../client/index.js";
import { WebSocket as NodeWebSocket } from "ws";

export class FakeTrack {
  readonly id = randomUUID();
  readyState: "live" | "ended" = "live";
  enabled = true;
  constructor(readonly kind: "audio" | "video") {}
  stop(): void {
    this.readyState = "ended";
  }
}

export class FakeMediaStream {
  readonly id = randomUUID();
  readonly #tracks: FakeTrack[];
  constructor(tracks: FakeTrack[] = []) {
    this.#tracks = [...tracks];
  }
  getTracks(): FakeTrack[] {
    return [...this.#tracks];
  }
  getAudioTracks(): FakeTrack[] {
    return this.#tracks.filter((t) => t.kind === "audio");
  }
  getVideoTracks(): FakeTrack[] {
    return this.#tracks.filter((t) => t.kind === "video");
  }
  addTrack(t: FakeTrack): void {
    if (!this.#tracks.includes(t)) this.#tracks.push(t);
  }
}

export class FakeTransceiver {
  readonly receiver: { track: FakeTrack };
  readonly sender: { track: FakeTrack | null };
  constructor(
    readonly kind: "audio" | "video",
    public direction: RTCRtpTransceiverDirection,
    sendTrack: FakeTrack | null,
  ) {
    this.receiver = { track: new FakeTrack(kind) };
    this.sender = { track: sendTrack };
  }
}

export class FakePeerConnection extends EventTarget {
  /** Every instance created, in order. */
  static instances: FakePeerConnection[] = [];
  /** When set, setRemoteDescription rejects with this message. */
  static rejectAnswer: string | null = null;

  readonly transceivers: FakeTransceiver[] = [];
  readonly offers: string[] = [];
  signalingState: RTCSignalingState = "stable";
  connectionState: RTCPeerConnectionState = "new";
  localDescription: RTCSessionDescriptionInit | null = null;
  remoteDescription: RTCSessionDescriptionInit | null = null;

  constructor(readonly configuration: RTCConfiguration = {}) {
    super();
    FakePeerConnection.instances.push(this);
  }

  addTrack(track: FakeTrack, _stream: FakeMediaStream): { track: FakeTrack } {
    const tr = new FakeTransceiver(track.kind, "sendrecv", track);
    this.transceivers.push(tr);
    return tr.sender as { track: FakeTrack };
  }

  addTransceiver(kind: "audio" | "video", init: { direction?: RTCRtpTransceiverDirection } = {}): FakeTransceiver {
    const tr = new FakeTransceiver(kind, init.direction ?? "sendrecv", null);
    this.transceivers.push(tr);
    return tr;
  }

  getTransceivers(): FakeTransceiver[] {
    return [...this.transceivers];
  }
  getReceivers(): Array<{ track: FakeTrack }> {
    return this.transceivers.map((t) => t.receiver);
  }

  async createOffer(_options?: RTCOfferOptions): Promise<RTCSessionDescriptionInit> {
    if (this.signalingState === "closed") throw new Error("closed");
    const lines = ["v=0", `o=- ${Date.now()} 2 IN IP4 127.0.0.1`, "s=-", "t=0 0", "a=group:BUNDLE " + this.transceivers.map((_, i) => i).join(" ")];
    this.transceivers.forEach((t, i) => {
      lines.push(`m=${t.kind} 9 UDP/TLS/RTP/SAVPF 96`, "c=IN IP4 0.0.0.0", `a=mid:${i}`, `a=${t.direction}`, "a=ice-ufrag:fake", "a=setup:actpass");
    });
    const sdp = lines.join("\r\n") + "\r\n";
    this.offers.push(sdp);
    return { type: "offer", sdp };
  }

  async setLocalDescription(d: RTCSessionDescriptionInit): Promise<void> {
    this.localDescription = d;
    this.signalingState = "have-local-offer";
  }

  async setRemoteDescription(d: RTCSessionDescriptionInit): Promise<void> {
    if (FakePeerConnection.rejectAnswer) throw new Error(FakePeerConnection.rejectAnswer);
    if (this.signalingState !== "have-local-offer") throw new Error(`setRemoteDescription in ${this.signalingState}`);
    this.remoteDescription = d;
    this.signalingState = "stable";
    for (const t of this.transceivers) {
      if (t.direction !== "recvonly") continue;
      const ev = new Event("track");
      Object.assign(ev, { track: t.receiver.track, streams: [], receiver: t.receiver, transceiver: t });
      this.dispatchEvent(ev);
    }
  }

  close(): void {
    this.signalingState = "closed";
    this.connectionState = "closed";
  }

  async getStats(): Promise<Map<string, unknown>> {
    return new Map();
  }
}

/** getUserMedia stand-in: records the constraints, returns fake tracks; `refuse` makes it reject. */
export const fakeMedia = {
  calls: [] as MediaStreamConstraints[],
  refuse: null as string | null,
  async getUserMedia(c: MediaStreamConstraints): Promise<MediaStream> {
    fakeMedia.calls.push(c);
    if (fakeMedia.refuse) {
      const e = new Error(fakeMedia.refuse);
      e.name = "NotAllowedError";
      throw e;
    }
    const tracks: FakeTrack[] = [];
    if (c.audio) tracks.push(new FakeTrack("audio"));
    if (c.video) tracks.push(new FakeTrack("video"));
    return new FakeMediaStream(tracks) as unknown as MediaStream;
  },
};

/** A fake MediaStream with one audio and one video track, typed as the DOM's MediaStream for the SDK's options. */
export function fakeStream(kinds: Array<"audio" | "video"> = ["audio", "video"]): MediaStream {
  return new FakeMediaStream(kinds.map((k) => new FakeTrack(k))) as unknown as MediaStream;
}

/** The platform of the SDK tests: a real `ws` WebSocket, fake WebRTC. */
export function fakePlatform(): Partial<Platform> {
  return {
    WebSocket: NodeWebSocket as unknown as Platform["WebSocket"],
    RTCPeerConnection: FakePeerConnection as unknown as Platform["RTCPeerConnection"],
    MediaStream: FakeMediaStream as unknown as Platform["MediaStream"],
    getUserMedia: (c) => fakeMedia.getUserMedia(c),
    clientInfo: { osVersion: "test-os", browserVersion: "test-browser" },
  };
}

/** Resets the fakes' global state between tests. */
export function resetFakes(): void {
  FakePeerConnection.instances = [];
  FakePeerConnection.rejectAnswer = null;
  fakeMedia.calls = [];
  fakeMedia.refuse = null;
}
