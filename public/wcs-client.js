// A small WCS (Flashphoner Web Call Server) client that speaks the WebSocket protocol exactly as the official Web SDK
// 2.0 does: frames are {"message": name, "data": [arg]}; the client always offers (publish: sendonly, play:
// recvonly), sends its offer right after setLocalDescription (no candidates, no trickle) and gets the answer in
// `setRemoteSDP` data[1]; stream statuses arrive in `notifyStreamStatusEvent`, keyed by mediaSessionId.
//
// Room API (appKey "roomApp"): `sendData {operationId, payload}` is answered by one `DataStatusEvent {operationId,
// status: ACCEPTED | FAILED, info}`; room events arrive as `OnDataEvent {payload}`.
//
// Used by the Streamer page (app.js) and the conference page (conference.js).

export const TERMINAL = new Set(["UNPUBLISHED", "STOPPED", "FAILED"]);
/** How long to wait for the server to confirm a stop before releasing the stream locally. */
const STOP_CONFIRM_MS = 5000;
/** How long a sendData may stay unanswered. */
const SEND_DATA_TIMEOUT_MS = 15000;

/** ws(s)://host/ of the page's own origin. */
export function serverUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
}

export class WcsSession {
  /**
   * @param {string} url
   * @param {object} [options]
   * @param {string} [options.appKey] default "defaultApp"
   * @param {unknown} [options.custom] `connection.custom` (the Room API puts {login} here)
   * @param {(session: WcsSession) => void} [options.onStatus] session status changes
   * @param {(payload: any) => void} [options.onData] `OnDataEvent` payloads (room events)
   * @param {(info: string) => void} [options.onWarning] server `fail` frames that are not about one of our streams
   */
  constructor(url, options = {}) {
    this.url = url;
    this.appKey = options.appKey ?? "defaultApp";
    this.custom = options.custom;
    this.onStatusCb = options.onStatus ?? (() => {});
    this.onData = options.onData ?? (() => {});
    this.onWarning = options.onWarning ?? ((info) => console.warn(`WCS: ${info}`));
    this.status = "PENDING";
    /** @type {Map<string, WcsStream>} */
    this.streams = new Map();
    /** @type {Map<string, {resolve: () => void, reject: (e: Error) => void, timer: any}>} */
    this.pendingData = new Map();
    this.ws = null;
  }

  /** Opens the socket; resolves when the server confirms the session (ESTABLISHED). */
  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => {
        this.setStatus("CONNECTED");
        this.send("connection", {
          appKey: this.appKey,
          mediaProviders: ["WebRTC"],
          clientVersion: "2.0",
          clientOSVersion: navigator.appVersion,
          clientBrowserVersion: navigator.userAgent,
          msePacketizationVersion: 2,
          custom: this.custom,
        });
      };
      ws.onmessage = (event) => {
        if (typeof event.data !== "string") return; // binary frames are for non-WebRTC players only
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch {
          console.warn("WCS: malformed frame", event.data);
          return;
        }
        if (frame.message === "getUserData") {
          this.setStatus("ESTABLISHED");
          resolve();
        }
        this.handle(frame.message, Array.isArray(frame.data) ? frame.data : []);
      };
      ws.onerror = () => {
        if (this.ws !== ws) return;
        this.setStatus("FAILED");
        reject(new Error(`Could not connect to ${this.url}`));
      };
      ws.onclose = (event) => {
        if (this.ws !== ws) return;
        if (this.status !== "FAILED") this.setStatus("DISCONNECTED");
        reject(new Error(`Connection closed (code ${event.code})`));
        this.releaseAll("Session disconnected");
      };
    });
  }

  send(message, data) {
    if (this.ws?.readyState !== WebSocket.OPEN) throw new Error("Not connected to the server");
    this.ws.send(JSON.stringify({ message, data: [data] }));
  }

  /**
   * `sendData {operationId, payload}`; resolves on DataStatusEvent ACCEPTED, rejects with its `info` on FAILED.
   * @param {unknown} payload
   * @returns {Promise<void>}
   */
  sendData(payload) {
    return new Promise((resolve, reject) => {
      const operationId = crypto.randomUUID();
      const timer = setTimeout(() => {
        this.pendingData.delete(operationId);
        reject(new Error("The server did not answer"));
      }, SEND_DATA_TIMEOUT_MS);
      this.pendingData.set(operationId, { resolve, reject, timer });
      try {
        this.send("sendData", { operationId, payload });
      } catch (e) {
        clearTimeout(timer);
        this.pendingData.delete(operationId);
        reject(e);
      }
    });
  }

  handle(message, data) {
    const [obj] = data;
    switch (message) {
      case "ping":
        this.send("pong", null);
        break;
      case "setRemoteSDP":
        this.streams.get(data[0])?.setRemoteSdp(data[1]);
        break;
      case "notifyStreamStatusEvent":
      case "notifyVideoFormat":
        this.streams.get(obj?.mediaSessionId)?.setStatus(obj.status, obj.info);
        break;
      case "DataStatusEvent": {
        const pending = this.pendingData.get(obj?.operationId);
        if (!pending) break;
        this.pendingData.delete(obj.operationId);
        clearTimeout(pending.timer);
        if (obj.status === "ACCEPTED") pending.resolve();
        else pending.reject(new Error(obj.info || "Refused by the server"));
        break;
      }
      case "OnDataEvent":
        if (obj?.payload) this.onData(obj.payload);
        break;
      case "fail":
        if (obj?.apiMethod === "StreamStatusEvent" && this.streams.has(obj.id)) {
          this.streams.get(obj.id)?.setStatus(obj.status ?? "FAILED", obj.info);
        } else {
          this.onWarning(`Server warning: ${obj?.info ?? "unknown"}`);
        }
        break;
      default: // getUserData (handled in connect), getVersion, notifyStreamEvent, ...: nothing to do here
    }
  }

  setStatus(status) {
    this.status = status;
    this.onStatusCb(this);
  }

  releaseAll(info) {
    for (const stream of [...this.streams.values()]) stream.setStatus("FAILED", info);
    for (const [id, pending] of this.pendingData) {
      clearTimeout(pending.timer);
      pending.reject(new Error(info));
      this.pendingData.delete(id);
    }
  }

  /** Closes the socket; this session's streams and pending commands end at once. */
  close() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.close();
    if (this.status !== "FAILED") this.setStatus("DISCONNECTED");
    this.releaseAll("Session disconnected");
  }
}

export class WcsStream {
  /**
   * @param {WcsSession} session
   * @param {string} name
   * @param {"publish" | "play"} kind
   * @param {(stream: WcsStream) => void} onStatus
   * @param {unknown} [custom] stream `custom` (room streams: {name: room})
   */
  constructor(session, name, kind, onStatus, custom) {
    this.session = session;
    this.name = name;
    this.kind = kind;
    this.onStatus = onStatus;
    this.custom = custom;
    this.id = crypto.randomUUID();
    this.status = "NEW";
    this.info = "";
    this.sent = false;
    this.pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-compat" });
    session.streams.set(this.id, this);
  }

  /** @param {MediaStream} media */
  async publish(media) {
    for (const track of media.getTracks()) this.pc.addTransceiver(track, { direction: "sendonly", streams: [media] });
    await this.offer({
      published: true,
      hasVideo: media.getVideoTracks().length > 0,
      hasAudio: media.getAudioTracks().length > 0,
      bitrate: 0,
      minBitrate: 0,
      maxBitrate: 0,
    });
  }

  /** @param {HTMLVideoElement} video */
  async play(video) {
    this.pc.addTransceiver("audio", { direction: "recvonly" });
    this.pc.addTransceiver("video", { direction: "recvonly" });
    video.srcObject = new MediaStream(this.pc.getReceivers().map((receiver) => receiver.track));
    await this.offer({
      published: false,
      hasVideo: true,
      hasAudio: true,
      width: 0,
      height: 0,
      bitrate: 0,
      minBitrate: 0,
      maxBitrate: 0,
      quality: 0,
    });
  }

  async offer(fields) {
    this.setStatus("PENDING");
    try {
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
      if (this.status !== "PENDING") return; // stopped while the offer was being made
      this.session.send(this.kind === "publish" ? "publishStream" : "playStream", {
        mediaSessionId: this.id,
        name: this.name,
        status: "PENDING",
        record: false,
        mediaProvider: "WebRTC",
        sdp: offer.sdp,
        ...(this.custom !== undefined ? { custom: this.custom } : {}),
        ...fields,
      });
      this.sent = true;
    } catch (e) {
      this.setStatus("FAILED", e instanceof Error ? e.message : String(e));
    }
  }

  async setRemoteSdp(sdp) {
    try {
      await this.pc.setRemoteDescription({ type: "answer", sdp });
    } catch (e) {
      const info = `Bad answer from server: ${e instanceof Error ? e.message : e}`;
      this.stop();
      this.setStatus("FAILED", info);
    }
  }

  /** Asks the server to end the stream; the server confirms with UNPUBLISHED / STOPPED. */
  stop() {
    if (TERMINAL.has(this.status)) return;
    const done = this.kind === "publish" ? "UNPUBLISHED" : "STOPPED";
    if (!this.sent) {
      this.setStatus(done, "Stopped by user");
      return;
    }
    if (this.session.ws?.readyState !== WebSocket.OPEN) {
      this.setStatus("FAILED", "Session disconnected");
      return;
    }
    this.session.send(this.kind === "publish" ? "unPublishStream" : "stopStream", {
      mediaSessionId: this.id,
      name: this.name,
      published: this.kind === "publish",
      hasVideo: true,
      hasAudio: true,
      status: this.status,
      record: false,
    });
    this.pc.close();
    setTimeout(() => {
      if (!TERMINAL.has(this.status)) this.setStatus(done, "Server did not confirm the stop");
    }, STOP_CONFIRM_MS);
  }

  setStatus(status, info) {
    if (TERMINAL.has(this.status)) return; // released: later messages for this stream are ignored
    this.status = status;
    this.info = info ?? "";
    if (TERMINAL.has(status)) {
      this.pc.close();
      this.session.streams.delete(this.id);
    }
    this.onStatus(this);
  }

  /** framesDecoded of the inbound video (players), or null when unavailable. */
  async framesDecoded() {
    if (this.pc.connectionState === "closed") return null;
    let frames = null;
    const stats = await this.pc.getStats();
    stats.forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") frames = report.framesDecoded ?? 0;
    });
    return frames;
  }
}

/** A user-facing sentence for a getUserMedia error. */
export function describeMediaError(e) {
  switch (e?.name) {
    case "NotAllowedError":
      return "Camera/microphone access was refused. Allow it in the browser and try again.";
    case "NotFoundError":
      return "No camera or microphone found.";
    case "NotReadableError":
      return "The camera or microphone is in use by another application.";
    default:
      return `Could not open camera/microphone: ${e?.message ?? e}`;
  }
}
