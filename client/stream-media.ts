/**
 * The WebRTC side of a stream, as Web SDK 2.0's webrtc-media-provider.js: one RTCPeerConnection per publish/play
 * attempt (`{iceServers: [...], bundlePolicy: "max-compat"}`: mediaOptions.iceServers, else the server's
 * `/ice-servers`, client/ice-servers.ts, else none), the client's offer
 * (publish: the local tracks with sendonly m-lines; play: recvonly audio + video), the server's answer, the local and
 * remote MediaStreams and the <video> shown in `display`.
 *
 * The offer goes out right after setLocalDescription, before ICE gathering: no candidates, no trickle (the server
 * finds the client by its STUN checks). See docs/protocols.md "SDP offers".
 */
import { attachVideo, detachVideo } from "./display.js";
import type { Platform } from "./platform.js";
import type { StreamOptions } from "./stream-types.js";

/** An offer ready to send: its SDP, and for a publisher the MediaStream it publishes. */
export interface Offer {
  sdp: string;
  media?: MediaStream;
}

/** @internal The peer connection, media and <video> of one {@link Stream}, across its restarts. */
export class StreamMedia {
  readonly #platform: Platform;
  readonly #opts: StreamOptions;
  readonly #rtcConfiguration: () => RTCConfiguration | Promise<RTCConfiguration>;
  #pc: RTCPeerConnection | undefined;
  #local: MediaStream | undefined;
  #captured: MediaStream | undefined;
  #remote: MediaStream | undefined;
  #video: HTMLVideoElement | undefined;
  /** Publishers: the kinds muted by the app (their local tracks are kept disabled, across restarts). */
  readonly #muted = { audio: false, video: false };

  constructor(platform: Platform, opts: StreamOptions, rtcConfiguration: () => RTCConfiguration | Promise<RTCConfiguration>) {
    this.#platform = platform;
    this.#opts = opts;
    this.#rtcConfiguration = rtcConfiguration;
  }

  /** The current peer connection (undefined before the first offer). */
  get peerConnection(): RTCPeerConnection | undefined {
    return this.#pc;
  }
  /** Publishers: the published MediaStream. */
  get local(): MediaStream | undefined {
    return this.#local;
  }
  /** Players: the received MediaStream. */
  get remote(): MediaStream | undefined {
    return this.#remote;
  }
  /** The <video> created in `display`, if any. */
  get video(): HTMLVideoElement | undefined {
    return this.#video;
  }
  /** Publishers: whether the app muted `kind` ({@link StreamMedia.setMuted}). */
  isMuted(kind: "audio" | "video"): boolean {
    return this.#muted[kind];
  }

  /**
   * Publishers: mutes or unmutes the outgoing `kind`: the published tracks of that kind are disabled
   * (`track.enabled = false`: the encoder sends black frames / silence, the connection and its SSRCs stay) or enabled
   * again, now and in later offers (auto-restore). As Web SDK webrtc-media-provider.js muteAudio() / muteVideo().
   */
  setMuted(kind: "audio" | "video", muted: boolean): void {
    this.#muted[kind] = muted;
    for (const t of this.#tracks(kind)) t.enabled = !muted;
  }

  /** The peer connection's signaling state (undefined when there is none). */
  signalingState(): RTCSignalingState | undefined {
    return this.#pc?.signalingState;
  }

  /**
   * A new peer connection for attempt `id` and its offer (set as local description). A publisher gets its local
   * media first. Resolves undefined when `current()` turned false while waiting (the attempt was dropped).
   * @throws whatever getUserMedia, createOffer or setLocalDescription threw.
   */
  async offer(publish: boolean, id: string, current: () => boolean): Promise<Offer | undefined> {
    const platform = this.#platform;
    let media: MediaStream | undefined;
    if (publish) {
      media = await this.#localMedia();
      if (!current()) return undefined; // failed (e.g. session lost) while waiting for the camera
      this.#local = media;
      for (const kind of ["audio", "video"] as const) if (this.#muted[kind]) for (const t of this.#tracks(kind)) t.enabled = false;
    }
    // the session's ICE servers: known (at once), or being asked from the server (wait: TURN may be the only way)
    const pending = this.#rtcConfiguration();
    const configuration = pending instanceof Promise ? await pending : pending;
    if (!current()) return undefined;
    const pc = new platform.RTCPeerConnection(configuration);
    this.#pc = pc;
    if (media) {
      for (const track of media.getTracks()) pc.addTrack(track, media);
      for (const tr of pc.getTransceivers()) tr.direction = "sendonly";
      this.#showVideo(id, media, true);
    } else {
      const audio = this.#opts.receiveAudio ?? true;
      const video = this.#opts.receiveVideo ?? true;
      if (audio) pc.addTransceiver("audio", { direction: "recvonly" });
      if (video) pc.addTransceiver("video", { direction: "recvonly" });
      const tracks = pc.getReceivers().map((r) => r.track);
      const remote = new platform.MediaStream(tracks);
      this.#remote = remote;
      pc.addEventListener("track", (ev: RTCTrackEvent) => {
        if (this.#remote === remote && !remote.getTracks().includes(ev.track)) remote.addTrack(ev.track);
      });
      this.#showVideo(id, remote, false);
    }
    const offer = await pc.createOffer(publish ? { offerToReceiveAudio: false, offerToReceiveVideo: false } : {});
    await pc.setLocalDescription(offer);
    if (!current()) return undefined;
    return { sdp: offer.sdp ?? "", media };
  }

  /** Applies the server's answer (rewritten by `sdpHook`). Rejects when the hook or the peer connection refuses it. */
  async answer(sdpIn: string): Promise<void> {
    const pc = this.#pc;
    if (!pc) return;
    const sdp = this.#opts.sdpHook ? this.#opts.sdpHook(sdpIn) : sdpIn;
    await pc.setRemoteDescription({ type: "answer", sdp });
  }

  /** Closes the peer connection and removes the <video>; captured media is kept (for a restart). */
  close(): void {
    const pc = this.#pc;
    if (pc && pc.signalingState !== "closed") pc.close();
    if (this.#video) detachVideo(this.#opts.display, this.#video);
    this.#video = undefined;
  }

  /** Stops the tracks captured with getUserMedia (never the app's `stream`). */
  dropCaptured(): void {
    for (const t of this.#captured?.getTracks() ?? []) t.stop();
    this.#captured = undefined;
  }

  /** The app's `stream`, else the still-live captured media of a previous attempt, else getUserMedia. */
  async #localMedia(): Promise<MediaStream> {
    if (this.#opts.stream) return this.#opts.stream;
    const captured = this.#captured;
    if (captured && captured.getTracks().some((t) => t.readyState !== "ended")) return captured;
    const gum = this.#platform.getUserMedia;
    if (!gum) throw new Error("getUserMedia is not available here: pass the stream option with the media to publish");
    const c = this.#opts.constraints;
    let video: boolean | MediaTrackConstraints = true;
    if (c?.video !== undefined) {
      if (typeof c.video === "object") {
        const { minBitrate: _a, maxBitrate: _b, bitrate: _c, quality: _d, ...rest } = c.video;
        video = rest;
      } else video = c.video;
    }
    const stream = await gum({ audio: c?.audio ?? true, video });
    this.#captured = stream;
    return stream;
  }

  /** The published tracks of `kind` (none before the first publish offer). */
  #tracks(kind: "audio" | "video"): MediaStreamTrack[] {
    const local = this.#local;
    if (!local) return [];
    return kind === "audio" ? local.getAudioTracks() : local.getVideoTracks();
  }

  #showVideo(id: string, media: MediaStream, local: boolean): void {
    const { display } = this.#opts;
    const doc = this.#platform.document;
    if (!display || !doc) return;
    if (this.#video) detachVideo(display, this.#video);
    this.#video = attachVideo(doc, display, id, media, local);
  }
}
