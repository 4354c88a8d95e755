// Streamer demo: publish the camera under a name and play it back from the server as a preview.
//
// Carries a small WCS (Flashphoner Web Call Server) client that speaks the WebSocket protocol exactly as the
// official Web SDK 2.0 does: frames are {"message": name, "data": [arg]}; the client always offers (publish:
// sendonly, play: recvonly), sends its offer right after setLocalDescription (no candidates, no trickle) and gets the
// answer in `setRemoteSDP` data[1]; stream statuses arrive in `notifyStreamStatusEvent`, keyed by mediaSessionId.

const TERMINAL = new Set(["UNPUBLISHED", "STOPPED", "FAILED"]);
/** How long to wait for the server to confirm a stop before releasing the stream locally. */
const STOP_CONFIRM_MS = 5000;

class WcsSession {
  /** @param {string} url  @param {(session: WcsSession) => void} onStatus */
  constructor(url, onStatus) {
    this.url = url;
    this.onStatus = onStatus;
    this.status = "PENDING";
    /** @type {Map<string, WcsStream>} */
    this.streams = new Map();
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
          appKey: "defaultApp",
          mediaProviders: ["WebRTC"],
          clientVersion: "2.0",
          clientOSVersion: navigator.appVersion,
          clientBrowserVersion: navigator.userAgent,
          msePacketizationVersion: 2,
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
        this.setStatus("FAILED");
        reject(new Error(`Could not connect to ${this.url}`));
      };
      ws.onclose = (event) => {
        if (this.ws !== ws) return;
        if (this.status !== "FAILED") this.setStatus("DISCONNECTED");
        reject(new Error(`Connection closed (code ${event.code})`));
        for (const stream of this.streams.values()) stream.setStatus("FAILED", "Session disconnected");
      };
    });
  }

  send(message, data) {
    if (this.ws?.readyState !== WebSocket.OPEN) throw new Error("Not connected to the server");
    this.ws.send(JSON.stringify({ message, data: [data] }));
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
      case "fail":
        if (obj?.apiMethod === "StreamStatusEvent" && this.streams.has(obj.id)) {
          this.streams.get(obj.id).setStatus(obj.status ?? "FAILED", obj.info);
        } else {
          showError(`Server warning: ${obj?.info ?? "unknown"}`);
        }
        break;
      default: // getUserData (handled in connect), getVersion, notifyStreamEvent, ...: nothing to do here
    }
  }

  setStatus(status) {
    this.status = status;
    this.onStatus(this);
  }

  close() {
    this.ws?.close();
  }
}

class WcsStream {
  /**
   * @param {WcsSession} session
   * @param {string} name
   * @param {"publish" | "play"} kind
   * @param {(stream: WcsStream) => void} onStatus
   */
  constructor(session, name, kind, onStatus) {
    this.session = session;
    this.name = name;
    this.kind = kind;
    this.onStatus = onStatus;
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
}

// ---------------------------------------------------------------------------------------------------------------
// Page

const $ = (id) => /** @type {any} */ (document.getElementById(id));
const ui = {
  form: $("controls"),
  name: $("name"),
  publish: $("publish"),
  stop: $("stop"),
  stopPreview: $("stop-preview"),
  status: $("status"),
  publishStatus: $("publish-status"),
  playStatus: $("play-status"),
  error: $("error"),
  local: $("local"),
  preview: $("preview"),
};

const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
/** @type {WcsSession | null} */
let session = null;
/** @type {WcsStream | null} */
let publishStream = null;
/** @type {WcsStream | null} */
let playStream = null;
/** @type {MediaStream | null} */
let camera = null;
let lastFramesDecoded = 0;
const history = [];

ui.name.value = `stream-${Math.random().toString(16).slice(2, 6)}`;

function record(line) {
  history.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
  if (history.length > 100) history.shift();
}

function showError(message) {
  if (message) record(`error: ${message}`);
  ui.error.textContent = message;
  ui.error.hidden = !message;
}

function showStatus(output, status, info) {
  output.textContent = info ? `${status} (${info})` : status;
  output.dataset.status = status;
}

function updateButtons() {
  const busy = publishStream !== null && !TERMINAL.has(publishStream.status);
  ui.publish.disabled = busy;
  ui.name.disabled = busy;
  ui.stop.disabled = !busy;
  ui.stopPreview.disabled = playStream === null || TERMINAL.has(playStream.status);
}

function onSessionStatus(s) {
  record(`session ${s.status}`);
  showStatus(ui.status, s.status);
}

async function ensureSession() {
  if (session?.status === "ESTABLISHED") return session;
  session = new WcsSession(wsUrl, onSessionStatus);
  await session.connect();
  return session;
}

/** @param {WcsStream} stream */
function onPublishStatus(stream) {
  record(`publish ${stream.name} ${stream.status}${stream.info ? ` (${stream.info})` : ""}`);
  if (stream !== publishStream) return;
  showStatus(ui.publishStatus, stream.status, stream.info);
  if (stream.status === "PUBLISHING" && playStream === null) startPreview(stream.name);
  if (TERMINAL.has(stream.status)) {
    camera?.getTracks().forEach((track) => track.stop());
    camera = null;
    ui.local.srcObject = null;
    playStream?.stop();
    if (stream.status === "FAILED") showError(`Publishing failed: ${stream.info || "unknown reason"}`);
  }
  updateButtons();
}

/** @param {WcsStream} stream */
function onPlayStatus(stream) {
  record(`play ${stream.name} ${stream.status}${stream.info ? ` (${stream.info})` : ""}`);
  if (stream !== playStream) return;
  showStatus(ui.playStatus, stream.status, stream.info);
  if (TERMINAL.has(stream.status)) {
    ui.preview.srcObject = null;
    if (stream.status === "FAILED" && stream.info !== "Stopped by publisher stop") {
      showError(`Preview failed: ${stream.info || "unknown reason"}`);
    }
  }
  updateButtons();
}

function startPreview(name) {
  if (!session) return;
  playStream = new WcsStream(session, name, "play", onPlayStatus);
  playStream.play(ui.preview);
}

function describeMediaError(e) {
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

async function publish() {
  const name = ui.name.value.trim();
  if (!name) {
    showError("Enter a stream name.");
    return;
  }
  showError("");
  ui.publish.disabled = true;
  try {
    try {
      camera = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    } catch (e) {
      throw new Error(describeMediaError(e));
    }
    ui.local.srcObject = camera;
    const s = await ensureSession();
    playStream = null;
    showStatus(ui.playStatus, "—");
    publishStream = new WcsStream(s, name, "publish", onPublishStatus);
    await publishStream.publish(camera);
  } catch (e) {
    camera?.getTracks().forEach((track) => track.stop());
    camera = null;
    ui.local.srcObject = null;
    showError(e instanceof Error ? e.message : String(e));
  }
  updateButtons();
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  publish();
});
ui.stop.addEventListener("click", () => {
  playStream?.stop();
  publishStream?.stop();
});
ui.stopPreview.addEventListener("click", () => playStream?.stop());

ensureSession().catch((e) => showError(e.message));

function streamState(stream) {
  return stream && { id: stream.id, name: stream.name, status: stream.status, info: stream.info };
}

async function previewStats() {
  const video = ui.preview;
  const pc = playStream?.pc;
  if (pc && pc.connectionState !== "closed") {
    const stats = await pc.getStats();
    stats.forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") lastFramesDecoded = report.framesDecoded ?? 0;
    });
  }
  return { videoWidth: video.videoWidth, videoHeight: video.videoHeight, framesDecoded: lastFramesDecoded };
}

// For tests and the curious: `await demo.state()` in the console.
window.demo = {
  async state() {
    return {
      session: session?.status ?? "DISCONNECTED",
      publish: streamState(publishStream),
      play: streamState(playStream),
      error: ui.error.hidden ? "" : ui.error.textContent,
      preview: await previewStats(),
      history: [...history],
    };
  },
};
