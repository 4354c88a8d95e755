/**
 * Shared helpers of the unit tests (Workers runtime, no media node): a WCS WebSocket client over `SELF`, SDP offers,
 * and seeding of StreamDO / SessionDO state with `runInDurableObject`.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, expect } from "vitest";
import { signRequest, StreamStatus } from "../../protocol/index.js";
import type { Env } from "../../worker/env.js";
import type { StreamDO } from "../../worker/stream-do.js";
import { readStreamState } from "../../worker/stream-store.js";
import type { LegOwner, LegRecord, NodeRef } from "../../worker/stream-types.js";

export const E = env as unknown as Env;

/** A parsed server frame. */
export interface Frame {
  message: string;
  data: unknown[];
}

/**
 * A real WebSocket (accepted in the test) whose JSON text frames are queued: `next()` takes them in order, so
 * "exactly one" is checked by asserting what the *next* frame is after a request whose reply is known.
 */
class QueuedSocket<F> {
  private queue: F[] = [];
  private waiters: Array<(f: F) => void> = [];
  closed: Promise<{ code: number; reason: string }>;
  isClosed = false;

  protected constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (ev) => {
      const f = JSON.parse(ev.data as string) as F;
      const w = this.waiters.shift();
      if (w) w(f);
      else this.queue.push(f);
    });
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (ev) => {
        this.isClosed = true;
        resolve({ code: ev.code, reason: ev.reason });
      });
    });
  }

  /** Accepts the WebSocket of a 101 upgrade response. */
  protected static acceptUpgrade(res: Response): WebSocket {
    expect(res.status).toBe(101);
    const ws = res.webSocket;
    if (!ws) throw new Error("no webSocket in the upgrade response");
    ws.accept();
    return ws;
  }

  sendRaw(frame: string | ArrayBuffer | Uint8Array): void {
    this.ws.send(frame);
  }

  /** The next frame, in order; rejects after `timeoutMs`. */
  next(timeoutMs = 3000): Promise<F> {
    const f = this.queue.shift();
    if (f) return Promise.resolve(f);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (fr: F) => {
        clearTimeout(t);
        resolve(fr);
      };
      this.waiters.push(done);
    });
  }

  pending(): number {
    return this.queue.length;
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    try {
      this.ws.close(1000, "test done");
    } catch {
      // already closing
    }
    await this.closed;
  }
}

/** A WCS client on a real WebSocket to the worker (frames queued, see {@link QueuedSocket}). */
export class WcsClient extends QueuedSocket<Frame> {
  sessionId = "";

  private constructor(ws: WebSocket) {
    super(ws);
  }

  static async open(path = "/any/path"): Promise<WcsClient> {
    const res = await SELF.fetch(`http://x${path}`, { headers: { Upgrade: "websocket" } });
    return new WcsClient(QueuedSocket.acceptUpgrade(res));
  }

  /** Opens a socket and completes the `connection` → `getUserData` handshake. */
  static async connected(appKey = "defaultApp"): Promise<WcsClient> {
    const c = await WcsClient.open();
    c.send("connection", { appKey, clientVersion: "2.0", mediaProviders: ["WebRTC"] });
    const f = await c.next();
    expect(f.message).toBe("getUserData");
    c.sessionId = (f.data[0] as { sessionId: string }).sessionId;
    return c;
  }

  send(message: string, arg?: unknown): void {
    this.ws.send(JSON.stringify({ message, data: [arg] }));
  }

  /** The next frame, which must be `message`; returns its data[0]. */
  async expectNext<T = Record<string, unknown>>(message: string): Promise<T> {
    const f = await this.next();
    expect(f.message, JSON.stringify(f)).toBe(message);
    return f.data[0] as T;
  }

  /** Proves the socket is alive and nothing else is queued: an unknown message must be answered by its `fail` next. */
  async expectIdle(): Promise<void> {
    const probe = `probe-${crypto.randomUUID()}`;
    this.send(probe, null);
    const f = await this.next();
    expect(f, "expected no other frame before the probe's answer").toEqual({
      message: "fail",
      data: [{ apiMethod: probe, info: `Unknown message: ${probe}` }],
    });
  }

  /** The stub of this client's SessionDO. */
  stub(): DurableObjectStub<import("../../worker/session-do.js").SessionDO> {
    return E.SESSION.get(E.SESSION.idFromString(this.sessionId));
  }
}

/** A realistic Chrome publish offer (sendonly audio+video, BUNDLE, ICE credentials, fingerprint, no candidates). */
export const CHROME_PUBLISH_OFFER = [
  "v=0",
  "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0 1",
  "a=extmap-allow-mixed",
  "a=msid-semantic: WMS 9cVn0y1Ow0wZkLqQwJ5yY3f0u1bq0bKp2m3n",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
  "c=IN IP4 0.0.0.0",
  "a=rtcp:9 IN IP4 0.0.0.0",
  "a=ice-ufrag:Qy7m",
  "a=ice-pwd:8rNhE3pQ0Bf6lQyq1ZC0Sx5u",
  "a=ice-options:trickle",
  "a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08",
  "a=setup:actpass",
  "a=mid:0",
  "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
  "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
  "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
  "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
  "a=sendonly",
  "a=msid:9cVn0y1Ow0wZkLqQwJ5yY3f0u1bq0bKp2m3n 1f1f8a0e-7c5b-4a49-9f0e-3c1d0f3f7a11",
  "a=rtcp-mux",
  "a=rtcp-rsize",
  "a=rtpmap:111 opus/48000/2",
  "a=rtcp-fb:111 transport-cc",
  "a=fmtp:111 minptime=10;useinbandfec=1",
  "a=rtpmap:63 red/48000/2",
  "a=fmtp:63 111/111",
  "a=rtpmap:9 G722/8000",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:8 PCMA/8000",
  "a=rtpmap:13 CN/8000",
  "a=rtpmap:110 telephone-event/48000",
  "a=rtpmap:126 telephone-event/8000",
  "a=ssrc:3791239165 cname:5b0bqK2cX1n3mT4z",
  "a=ssrc:3791239165 msid:9cVn0y1Ow0wZkLqQwJ5yY3f0u1bq0bKp2m3n 1f1f8a0e-7c5b-4a49-9f0e-3c1d0f3f7a11",
  "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103",
  "c=IN IP4 0.0.0.0",
  "a=rtcp:9 IN IP4 0.0.0.0",
  "a=ice-ufrag:Qy7m",
  "a=ice-pwd:8rNhE3pQ0Bf6lQyq1ZC0Sx5u",
  "a=ice-options:trickle",
  "a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08",
  "a=setup:actpass",
  "a=mid:1",
  "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset",
  "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
  "a=extmap:13 urn:3gpp:video-orientation",
  "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
  "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
  "a=sendonly",
  "a=msid:9cVn0y1Ow0wZkLqQwJ5yY3f0u1bq0bKp2m3n 6c3a1f52-5b7e-4f43-8a51-1d2e3f4a5b6c",
  "a=rtcp-mux",
  "a=rtcp-rsize",
  "a=rtpmap:96 VP8/90000",
  "a=rtcp-fb:96 goog-remb",
  "a=rtcp-fb:96 transport-cc",
  "a=rtcp-fb:96 ccm fir",
  "a=rtcp-fb:96 nack",
  "a=rtcp-fb:96 nack pli",
  "a=rtpmap:97 rtx/90000",
  "a=fmtp:97 apt=96",
  "a=rtpmap:102 H264/90000",
  "a=rtcp-fb:102 goog-remb",
  "a=rtcp-fb:102 transport-cc",
  "a=rtcp-fb:102 ccm fir",
  "a=rtcp-fb:102 nack",
  "a=rtcp-fb:102 nack pli",
  "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
  "a=rtpmap:103 rtx/90000",
  "a=fmtp:103 apt=102",
  "a=ssrc-group:FID 1234567890 987654321",
  "a=ssrc:1234567890 cname:5b0bqK2cX1n3mT4z",
  "a=ssrc:987654321 cname:5b0bqK2cX1n3mT4z",
  "",
].join("\r\n");

/** The matching Chrome play offer: the same m-lines, recvonly, no msid/ssrc. */
export const CHROME_PLAY_OFFER = CHROME_PUBLISH_OFFER.split("\r\n")
  .filter((l) => !/^a=(msid:|ssrc|msid-semantic)/.test(l))
  .map((l) => (l === "a=sendonly" ? "a=recvonly" : l))
  .join("\r\n");

export type StreamState = Awaited<ReturnType<StreamDO["describe"]>>;

export function streamStub(name: string): DurableObjectStub<StreamDO> {
  return E.STREAM.get(E.STREAM.idFromName(name));
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

/** A node nobody listens on: calls to it fail at once with "connection refused" (there is no media node here). */
export function deadNode(nodeId = "node-a", bootId = "boot-1"): NodeRef {
  return { nodeId, bootId, controlUrl: "http://127.0.0.1:9" };
}

/** A LegRecord; `owner` is a LegOwner, or a WCS session id (owner `{kind: "session", sessionId}`). */
export function leg(role: LegRecord["role"], owner: LegOwner | string, over: Partial<LegRecord> = {}): LegRecord {
  const now = Date.now();
  return {
    legId: crypto.randomUUID(),
    role,
    owner: typeof owner === "string" ? { kind: "session", sessionId: owner } : owner,
    mediaSessionId: crypto.randomUUID(),
    appKey: "defaultApp",
    hasAudio: true,
    hasVideo: true,
    status: role === "publisher" ? StreamStatus.PUBLISHING : StreamStatus.PLAYING,
    createdAt: now,
    deadline: now + 60_000,
    ...over,
  };
}

/** StreamDO.describe() with its real type (the RPC stub types it `never`: LegRecord.custom is `unknown`). */
export function describeStream(name: string): Promise<StreamState> {
  return runInDurableObject(streamStub(name), (inst) => inst.describe());
}

/** Replaces a StreamDO's state (memory and storage) and optionally schedules its alarm. */
/** Replaces a StreamDO instance's state and persists it as the object does (worker/stream-store.ts). */
export async function setStreamState(inst: unknown, state: object): Promise<void> {
  const i = inst as { state: object; save(): Promise<void> };
  i.state = state;
  await i.save();
}

/** What a StreamDO has stored (worker/stream-store.ts layout), undefined when nothing. */
export function storedStream(stub: DurableObjectStub): Promise<StreamState | undefined> {
  return runInDurableObject(stub, async (_i, ctx) => ((await readStreamState(ctx.storage)) ?? undefined) as StreamState | undefined);
}

export async function seedStream(state: StreamState, alarmAt?: number): Promise<DurableObjectStub<StreamDO>> {
  const stub = streamStub(state.name);
  await runInDurableObject(stub, async (inst, ctx) => {
    await setStreamState(inst, structuredClone(state));
    if (alarmAt !== undefined) await ctx.storage.setAlarm(alarmAt);
  });
  return stub;
}

/** Records in a session what SessionDO.onStreamRequest stores for an accepted stream (of the leg `l`). */
export async function seedSessionStream(client: WcsClient, l: LegRecord, name: string): Promise<void> {
  await runInDurableObject(client.stub(), async (_inst, ctx) => {
    await ctx.storage.put(`stream:${l.mediaSessionId}`, { name, role: l.role, legId: l.legId });
  });
}

export async function sessionKeys(client: WcsClient): Promise<string[]> {
  // "access" is the session's connection state (what its token grants) and "counted" its mark in StatsDO's sessions
  // gauge (worker/stats-do.ts), both kept for the session's lifetime
  return runInDurableObject(client.stub(), async (_inst, ctx) => [...(await ctx.storage.list()).keys()].filter((k) => k !== "access" && k !== "counted"));
}

/** A server frame of the Flussonic-style WebSocket endpoint (protocol/ws-endpoint.ts WsServerMessage). */
export type WsFrame = { type: string; sdp?: string; status?: string; info?: string };

/**
 * A client of the Flussonic-style endpoint `/NAME/webrtc/publish|play` on a real WebSocket. `open` goes through the
 * worker (SELF); `direct` upgrades on a WsEndpointDO whose id the test knows (to seed its socket attachment).
 */
export class WsEndpointClient extends QueuedSocket<WsFrame> {
  private constructor(
    ws: WebSocket,
    readonly id?: DurableObjectId,
  ) {
    super(ws);
  }

  private static accept(res: Response, id?: DurableObjectId): WsEndpointClient {
    return new WsEndpointClient(QueuedSocket.acceptUpgrade(res), id);
  }

  static async open(name: string, action: "publish" | "play"): Promise<WsEndpointClient> {
    const res = await SELF.fetch(`http://x/${encodeURIComponent(name)}/webrtc/${action}`, { headers: { Upgrade: "websocket" } });
    return WsEndpointClient.accept(res);
  }

  /** Upgrades on a new WsEndpointDO directly (the worker's route does the same with `newUniqueId()`). */
  static async direct(name: string, action: "publish" | "play"): Promise<WsEndpointClient> {
    const id = E.WS_ENDPOINT.newUniqueId();
    const res = await E.WS_ENDPOINT.get(id).fetch(`http://x/${encodeURIComponent(name)}/webrtc/${action}`, { headers: { Upgrade: "websocket" } });
    return WsEndpointClient.accept(res, id);
  }

  stub(): DurableObjectStub<import("../../worker/ws-endpoint-do.js").WsEndpointDO> {
    if (!this.id) throw new Error("not a direct client");
    return E.WS_ENDPOINT.get(this.id);
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  /** Proves the socket is open and nothing else is queued: an unknown `type` must be answered by its error next. */
  async expectIdle(): Promise<void> {
    const probe = `probe-${crypto.randomUUID()}`;
    this.send({ type: probe });
    expect(await this.next(), "expected no other frame before the probe's answer").toEqual({ type: "error", info: `Unknown message: ${probe}` });
    expect(this.isClosed).toBe(false);
  }
}

/** A media node's signed call to the worker (protocol/signing.ts, the unit binding MEDIA_NODE_SECRET). */
export async function nodeCall(path: string, body: unknown, secret = "unit-test-secret"): Promise<Response> {
  const text = JSON.stringify(body);
  const headers = await signRequest(secret, "POST", path, text);
  return SELF.fetch(`http://x${path}`, { method: "POST", body: text, headers: { ...headers, "content-type": "application/json" } });
}

/**
 * The WCS clients of one test file, every one closed after each test: `connected()` opens an established one,
 * `track(c)` adds one opened another way. Call once at the file's top level (it registers an `afterEach`).
 */
export function clientsClosedAfterEach(): { connected(): Promise<WcsClient>; track(c: WcsClient): WcsClient } {
  const open: WcsClient[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  const track = (c: WcsClient): WcsClient => {
    open.push(c);
    return c;
  };
  return { connected: async () => track(await WcsClient.connected()), track };
}
