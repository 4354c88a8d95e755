/**
 * WsEndpointDO: one per socket of the Flussonic-style WebRTC endpoint (`newUniqueId()`), WebSocket Hibernation API.
 * The wire protocol, its errors and close codes are in protocol/ws-endpoint.ts.
 *
 *   /NAME/webrtc/publish: waits for the client's `offer` (closed with 4408 after WS_OFFER_TIMEOUT_MS without one),
 *     publishes NAME through its StreamDO as an ordinary stream (owner `{kind: "ws", endpointId}`), sends the node's
 *     `answer`.
 *   /NAME/webrtc/play: right after the upgrade (an immediate alarm) asks the StreamDO for a server-offer player
 *     leg, sends its `offer`, gives the client's `answer` to the node.
 *
 * Client candidates go to the media node (`StreamDO.addRemoteCandidates`); those that arrive while the offer/answer
 * is still being handled wait in memory (at most MAX_CANDIDATES). The StreamDO pushes the leg's statuses
 * through {@link WsEndpointDO.deliver}; a terminal one closes the socket. A closed socket ends the leg
 * (`StreamDO.end` "gone": a publisher's players get FAILED "Stopped by publisher stop"). A refusal closes the socket
 * with the close code of its refusal code (`WS_CLOSE_CODE`, protocol/ws-endpoint.ts).
 *
 * Authentication: the upgrade URL's `?token=` (an access token, worker/access.ts) must grant publish / play of NAME
 * (not needed with AUTH off), and the backend must not decline it (WCS REST hook publishStream / playStream, when
 * configured); otherwise — and for a bad stream name (4400), and a play of a stream that is not publishing (4404,
 * asked of the StreamDO; no media node is called before the upgrade) — the upgrade is answered by a plain socket
 * that sends `{type:"error", info}` and closes at once with 4401 (missing or invalid token), 4403 (not granted, or
 * declined) or 4503 (AUTH on without keys), the reason as the close reason; no state, no alarm.
 *
 * Prompt closes: every other close happens on the hibernatable socket. When the server closes one on which the client
 * never sent a frame, workerd ends its TCP connection only ~10 s after the close handshake; after a refusal (4408 no
 * offer, a play refused by the StreamDO or the node) the object therefore resets itself once the handshake is done
 * ({@link WsEndpointDO.webSocketClose}).
 *
 * State is the socket's attachment (role, name, ids, phase); nothing is stored but the alarm.
 */
import { DurableObject } from "cloudflare:workers";
import {
  AuthInfo,
  checkOffer,
  granted,
  Info,
  nameProblem,
  MAX_CANDIDATES,
  refusal,
  StreamStatus,
  TERMINAL_STATUSES,
  type LegRole,
  type Refusal,
  type Result,
  type StreamStatusEvent,
} from "../protocol/index.js";
import {
  MAX_WS_FRAME_BYTES,
  WS_CLOSE_CODE,
  WS_OFFER_TIMEOUT_MS,
  WsClientMessage,
  closeReason,
  WsCloseCode,
  normalizeCandidate,
  type WsCandidate,
  type WsServerMessage,
} from "../protocol/ws-endpoint.js";
import { authenticate } from "./access.js";
import { callRestHook } from "./rest-hooks.js";
import { config, streamOf, type Env } from "./env.js";
import { configureLog, log } from "./log.js";
import type { LegOwner } from "./stream-types.js";

/**
 * Where the socket's leg is:
 * - new: publish waits for the offer (play never stays here);
 * - negotiating: the StreamDO is creating the leg (publish offer / play offer in flight);
 * - offered: play, our offer is out, waiting for the client's answer;
 * - answering: play, the node is taking the answer;
 * - live: SDP exchange done, candidates go straight to the node;
 * - ended: a terminal status or refusal was sent, or the socket closed.
 */
type Phase = "new" | "negotiating" | "offered" | "answering" | "live" | "ended";

/** Per-socket state in the socket's attachment (survives hibernation; well under 2 KiB). */
interface Attachment {
  /** This object's id: the leg's owner `endpointId` in the StreamDO (statuses come back here). */
  id: string;
  role: LegRole;
  name: string;
  mediaSessionId: string;
  phase: Phase;
  /** The socket's leg (chosen here, so the leg can be ended while the StreamDO creates it). */
  legId: string;
  /** ms epoch of the upgrade. */
  openedAt: number;
  /** The client has sent a frame on this socket (any frame; see {@link WsEndpointDO.webSocketClose}). */
  heard?: true;
  /** The server refused the request and closed the socket ({@link WsEndpointDO.refuse}). */
  refused?: true;
}

const PATH = /^\/([^/]+)\/webrtc\/(publish|play)\/?$/;

export class WsEndpointDO extends DurableObject<Env> {
  /** Client candidates waiting for the leg (not persisted: they only wait while a call is in flight). */
  private early: WsCandidate[] = [];
  /** Set when the socket closed (one socket per object; a call in flight keeps the object in memory). */
  private socketClosed = false;
  /** The client has sent a frame (also in the attachment; this copy survives an attachment written from an old copy). */
  private heard = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    configureLog(env);
  }

  /** Accepts the WebSocket upgrade of `/NAME/webrtc/publish|play` that the worker routed here. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    const url = new URL(request.url);
    const m = PATH.exec(url.pathname);
    if (!m) return new Response("Not found", { status: 404 });
    let name = "";
    try {
      name = decodeURIComponent(m[1]!);
    } catch {
      // left empty: refused below
    }
    const role: LegRole = m[2] === "publish" ? "publisher" : "player";
    const mediaSessionId = crypto.randomUUID();
    const badName = name.length < 1 || name.length > 256 || nameProblem(name) !== undefined;
    const refused = badName
      ? refusal("invalid_request", `${Info.INVALID_REQUEST}: the stream name ${nameProblem(name) ?? "must be 1 to 256 characters"}`)
      : ((await this.authorize(url.searchParams.get("token") ?? undefined, role, name, mediaSessionId)) ??
        (role === "player" ? await this.playable(name) : undefined));
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    if (refused) {
      // Refused before anything started: a plain (not hibernatable) socket that says why and closes at once, and
      // whose TCP connection ends at once too (a hibernatable one closed by the server before the client sent a frame
      // needs the reset of webSocketClose for that).
      server.accept();
      log("info", "ws_endpoint_refused", { stream: name, role, refusal: refused.code, info: refused.info, code: WS_CLOSE_CODE[refused.code] });
      server.send(JSON.stringify({ type: "error", info: refused.info } satisfies WsServerMessage));
      server.close(WS_CLOSE_CODE[refused.code], closeReason(refused.info));
      return new Response(null, { status: 101, webSocket: client });
    }
    this.ctx.acceptWebSocket(server);
    const att: Attachment = {
      id: this.ctx.id.toString(),
      role,
      name,
      mediaSessionId,
      phase: "new",
      legId: crypto.randomUUID(),
      openedAt: Date.now(),
    };
    server.serializeAttachment(att);
    log("info", "ws_endpoint_opened", { id: att.id, role: att.role, stream: name, mediaSessionId: att.mediaSessionId });
    // Everything else happens after the upgrade, so that no media-node call delays it: the alarm starts a play at
    // once, and ends a publisher socket that sends no offer.
    await this.ctx.storage.setAlarm(att.role === "publisher" ? att.openedAt + WS_OFFER_TIMEOUT_MS : Date.now());
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment;
    if (!att.heard) {
      this.heard = true;
      att.heard = true;
      ws.serializeAttachment(att);
    }
    if (typeof message !== "string") return this.error(ws, Info.BINARY_NOT_SUPPORTED);
    if (message.length > MAX_WS_FRAME_BYTES) {
      return this.error(ws, `${Info.FRAME_TOO_LARGE}: ${message.length} bytes, the limit is ${MAX_WS_FRAME_BYTES}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(message);
    } catch {
      return this.error(ws, Info.MALFORMED_JSON);
    }
    const type = typeof json === "object" && json !== null ? (json as { type?: unknown }).type : undefined;
    if (typeof type !== "string") return this.error(ws, `${Info.INVALID_REQUEST}: expected {"type": "offer" | "answer" | "candidate", …}`);
    if (type !== "offer" && type !== "answer" && type !== "candidate") return this.error(ws, `${Info.UNKNOWN_MESSAGE}: ${type.slice(0, 64)}`);
    const parsed = WsClientMessage.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.error(ws, `${Info.INVALID_REQUEST}: ${issue?.path.join(".") || type} ${issue?.message ?? ""}`.trim());
    }
    const msg = parsed.data;
    switch (msg.type) {
      case "offer":
        return this.onOffer(ws, att, msg.sdp);
      case "answer":
        return this.onAnswer(ws, att, msg.sdp);
      case "candidate":
        return this.onCandidate(ws, att, msg.candidate);
    }
  }

  /**
   * The client closed, or answered our close: the leg ends. When it answered a refusal and never sent a frame before,
   * this object resets itself instead (`ctx.abort`): that is what ends the TCP connection at once.
   *
   * Why: for its final close event, the runtime hands a hibernatable socket's connection back to the socket object
   * (workerd PR #664, "Move owned WebSocket back to api::WebSocket on final hibernation event"), which lets go of it
   * when its outgoing pump sees both directions closed (`tryReleaseNative`, src/workerd/api/web-socket.c++). After a
   * server-initiated close of a socket that never received a frame that does not happen — measured with wrangler dev
   * (workerd 1.20260426.1): the client's `close` event comes 10.0 s after the close frame, against 2–40 ms once the
   * client had sent any frame — and the connection lasts until the runtime drops the idle object, 10 s after its last
   * event (`handleShutdown`, src/workerd/server/server.c++). The reset drops it at once (5–10 ms). A refused socket's
   * object has nothing left: one socket per object, no leg (the refusal reserved none), no alarm (such a refusal comes
   * from the alarm). The runtime logs the reset as an uncaught error with the reason below, and a call that reaches the
   * object during the reset fails. Not reset, so keeping the 10 s: a terminal status sent before the client's first
   * frame (a play socket whose publisher stops before it answers), a rare case whose object the StreamDO (and the unit
   * tests) may still be calling right after the close.
   */
  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment | null;
    if (att?.refused && !this.heard && !att.heard) {
      // our close: no leg, no alarm left (the alarm refused, or the StreamDO's play refusal did), nothing to end
      log("info", "ws_endpoint_closed", { id: att.id, stream: att.name, role: att.role, phase: att.phase, why: "socket closed", code, reset: true });
      this.ctx.abort(`ws-endpoint ${att.id.slice(0, 12)}: reset after closing a socket that sent no frame (ends its connection at once)`);
      return;
    }
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
    await this.end(ws, "socket closed", code);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    await this.end(ws, "socket error", undefined, String(error));
  }

  /** Right after the upgrade: starts a play. Later: the offer timeout of a publisher socket. */
  override async alarm(): Promise<void> {
    for (const ws of this.ctx.getWebSockets()) {
      const att = ws.deserializeAttachment() as Attachment;
      if (att.phase !== "new") continue;
      if (att.role === "player") {
        await this.startPlay(ws, att);
      } else if (Date.now() >= att.openedAt + WS_OFFER_TIMEOUT_MS) {
        log("warn", "ws_endpoint_offer_timeout", { id: att.id, stream: att.name });
        this.refuse(ws, att, refusal("timeout", `${Info.INVALID_REQUEST}: no offer within ${WS_OFFER_TIMEOUT_MS / 1000} s`));
      } else {
        await this.ctx.storage.setAlarm(att.openedAt + WS_OFFER_TIMEOUT_MS);
      }
    }
  }

  /**
   * A status of this socket's leg (called by StreamDO): sent as `{type:"status"}`; a terminal one closes the socket
   * (1000 for UNPUBLISHED / STOPPED, 4000 for FAILED). False when the socket is gone.
   */
  async deliver(event: StreamStatusEvent): Promise<boolean> {
    const ws = this.ctx.getWebSockets()[0];
    if (!ws) return false;
    const att = ws.deserializeAttachment() as Attachment;
    if (event.mediaSessionId !== att.mediaSessionId || att.phase === "ended") return true;
    this.send(ws, { type: "status", status: event.status, ...(event.info === undefined ? {} : { info: event.info }) });
    if (TERMINAL_STATUSES.has(event.status)) {
      att.phase = "ended";
      ws.serializeAttachment(att);
      this.early = [];
      log("info", "ws_endpoint_leg_ended", { id: att.id, stream: att.name, role: att.role, status: event.status, info: event.info });
      this.close(ws, event.status === StreamStatus.FAILED ? WsCloseCode.FAILED : WsCloseCode.NORMAL, event.info ?? event.status);
    }
    return true;
  }

  // ---- handlers ----

  private async startPlay(ws: WebSocket, att: Attachment): Promise<void> {
    att.phase = "negotiating";
    ws.serializeAttachment(att);
    let result;
    try {
      result = await this.stream(att.name).playWithServerOffer(att.name, { legId: att.legId, owner: this.owner(att), mediaSessionId: att.mediaSessionId });
    } catch (err) {
      log("error", "ws_endpoint_play_error", { id: att.id, stream: att.name, error: String(err) });
      result = refusal("error", Info.FAILED_BY_ERROR);
    }
    if (await this.goneDuring(ws, att, result.ok)) return;
    const now = ws.deserializeAttachment() as Attachment; // frames may have come meanwhile (`heard`)
    if (!result.ok) return this.refuse(ws, now, result);
    now.phase = "offered";
    ws.serializeAttachment(now);
    this.send(ws, { type: "offer", sdp: result.offer });
  }

  private async onOffer(ws: WebSocket, att: Attachment, text: string): Promise<void> {
    if (att.role === "player") return this.error(ws, "Unexpected offer: on /play the server sends the offer");
    if (att.phase !== "new") return this.error(ws, "Offer already received");
    const offer = checkOffer(text, "publisher");
    if (!offer.ok) return this.refuse(ws, att, refusal("invalid_sdp", `${Info.INVALID_SDP}: ${offer.reason}`));
    att.phase = "negotiating";
    ws.serializeAttachment(att);
    await this.ctx.storage.deleteAlarm();
    let result;
    try {
      result = await this.stream(att.name).publish(att.name, {
        legId: att.legId,
        owner: this.owner(att),
        mediaSessionId: att.mediaSessionId,
        sdp: offer.text,
        hasAudio: offer.hasAudio,
        hasVideo: offer.hasVideo,
      });
    } catch (err) {
      log("error", "ws_endpoint_publish_error", { id: att.id, stream: att.name, error: String(err) });
      result = refusal("error", Info.FAILED_BY_ERROR);
    }
    if (await this.goneDuring(ws, att, result.ok)) return;
    if (!result.ok) return this.refuse(ws, att, result);
    att.phase = "live";
    ws.serializeAttachment(att);
    this.send(ws, { type: "answer", sdp: result.answer });
    log("info", "ws_endpoint_answered", { id: att.id, stream: att.name, legId: att.legId });
    await this.flushEarly(att);
  }

  private async onAnswer(ws: WebSocket, att: Attachment, sdp: string): Promise<void> {
    if (att.role === "publisher") return this.error(ws, "Unexpected answer: on /publish the client sends the offer");
    if (att.phase !== "offered") return this.error(ws, "Unexpected answer: no offer is waiting for one");
    att.phase = "answering";
    ws.serializeAttachment(att);
    let result: Result;
    try {
      result = await this.stream(att.name).answerLeg(att.legId, sdp);
    } catch (err) {
      log("error", "ws_endpoint_answer_error", { id: att.id, stream: att.name, error: String(err) });
      result = refusal("error", Info.FAILED_BY_ERROR);
    }
    if (this.socketClosed) return;
    const now = ws.deserializeAttachment() as Attachment;
    if (now.phase !== "answering") return; // ended meanwhile (terminal status delivered)
    if (!result.ok) {
      // the leg exists (its offer was sent): end it too, as a closed socket would
      this.refuse(ws, now, result);
      await this.stream(att.name).end(att.legId, { kind: "gone" }).catch((err: unknown) => {
        log("warn", "ws_endpoint_end_failed", { id: att.id, stream: att.name, error: String(err) });
      });
      return;
    }
    now.phase = "live";
    ws.serializeAttachment(now);
    log("info", "ws_endpoint_answer_applied", { id: att.id, stream: att.name, legId: att.legId });
    await this.flushEarly(now);
  }

  private async onCandidate(ws: WebSocket, att: Attachment, raw: Parameters<typeof normalizeCandidate>[0]): Promise<void> {
    const c = normalizeCandidate(raw);
    if (!c.ok) return this.error(ws, `${Info.INVALID_REQUEST}: ${c.reason}`);
    if (!c.candidate || att.phase === "ended") return; // end of candidates / too late
    if (att.phase !== "live") {
      // no await before this push: a flush that runs later sees it
      if (this.early.length >= MAX_CANDIDATES) return this.error(ws, `${Info.INVALID_REQUEST}: more than ${MAX_CANDIDATES} candidates before the SDP exchange completed`);
      this.early.push(c.candidate);
      return;
    }
    await this.trickle(att, [c.candidate]);
  }

  private async flushEarly(att: Attachment): Promise<void> {
    const batch = this.early.splice(0);
    if (batch.length > 0) await this.trickle(att, batch);
  }

  /** Hands client candidates to the node; refusals (mDNS names, a leg that just ended) are only logged. */
  private async trickle(att: Attachment, candidates: WsCandidate[]): Promise<void> {
    try {
      const res = await this.stream(att.name).addRemoteCandidates(
        att.legId,
        candidates.map((c) => ({ candidate: c.candidate, ...(c.mid ? { mid: c.mid } : {}) })),
      );
      if (!res.ok) log("info", "ws_endpoint_candidates_refused", { id: att.id, stream: att.name, code: res.code, info: res.info });
    } catch (err) {
      log("warn", "ws_endpoint_candidates_error", { id: att.id, stream: att.name, error: String(err) });
    }
  }

  /**
   * After a StreamDO call: true when the socket closed or the leg ended meanwhile (a leg that was created anyway is
   * ended here, since webSocketClose may have run before it existed).
   */
  private async goneDuring(ws: WebSocket, att: Attachment, created: boolean): Promise<boolean> {
    const now = this.socketClosed ? undefined : (ws.deserializeAttachment() as Attachment | null);
    if (now && now.phase !== "ended") return false;
    if (created) await this.stream(att.name).end(att.legId, { kind: "gone" }).catch(() => undefined);
    return true;
  }

  /** Ends the leg of a closed socket (like unPublishStream / stopStream for its players and itself). */
  private async end(ws: WebSocket, why: string, code?: number, error?: string): Promise<void> {
    this.socketClosed = true;
    this.early = [];
    const att = ws.deserializeAttachment() as Attachment | null;
    await this.ctx.storage.deleteAlarm();
    if (!att) return;
    const active = att.phase !== "ended" && att.phase !== "new";
    log("info", "ws_endpoint_closed", { id: att.id, stream: att.name, role: att.role, phase: att.phase, why, code, error });
    att.phase = "ended";
    try {
      ws.serializeAttachment(att);
    } catch {
      // a closed socket may refuse; nothing else reads it
    }
    if (active) await this.stream(att.name).end(att.legId, { kind: "gone" }).catch((err: unknown) => {
      log("warn", "ws_endpoint_end_failed", { id: att.id, stream: att.name, error: String(err) });
    });
  }

  /** A refused request: `{type:"error", info}`, then the socket is closed with the close code of its refusal code. */
  private refuse(ws: WebSocket, att: Attachment, r: Refusal): void {
    const info = r.info;
    const code = WS_CLOSE_CODE[r.code];
    log("info", "ws_endpoint_refused", { id: att.id, stream: att.name, role: att.role, refusal: r.code, info, code });
    att.phase = "ended";
    att.refused = true;
    ws.serializeAttachment(att);
    this.early = [];
    this.send(ws, { type: "error", info });
    this.close(ws, code, info);
  }

  /** A bad frame: `{type:"error", info}`, the socket stays open. */
  private error(ws: WebSocket, info: string): void {
    this.send(ws, { type: "error", info });
  }

  private send(ws: WebSocket, msg: WsServerMessage): void {
    try {
      ws.send(JSON.stringify(msg));
    } catch (err) {
      log("warn", "ws_endpoint_send_failed", { type: msg.type, error: String(err) });
    }
  }

  private close(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code, closeReason(reason));
    } catch {
      // already closed
    }
  }

  /**
   * The upgrade's access token against the grant the socket needs (publish or play of `name`; worker/access.ts).
   * @returns the refusal (unauthorized 4401, forbidden 4403, not_configured 4503), or undefined when allowed
   */
  private async authorize(token: string | undefined, role: LegRole, name: string, mediaSessionId: string): Promise<Refusal | undefined> {
    const cfg = config(this.env);
    const r = await authenticate(cfg, token);
    if (!r.ok) return r;
    const action = role === "publisher" ? "publish" : "play";
    if (!granted(r.access, action, name)) return refusal("forbidden", AuthInfo.notGranted(action, name));
    // the backend's say (WCS REST hook publishStream / playStream)
    const hook = await callRestHook(cfg, role === "publisher" ? "publishStream" : "playStream", {
      name,
      mediaSessionId,
      sessionId: this.ctx.id.toString(),
      published: role === "publisher",
      ...(r.access.sub ? { login: r.access.sub } : {}),
    });
    return hook.ok ? undefined : hook;
  }

  /**
   * Before the upgrade of a play: whether `name` is publishing, asked of its StreamDO (no media node call); the same
   * condition `playWithServerOffer` refuses with "Stream not found", which it still checks (the stream may end
   * meanwhile). An unreachable StreamDO is left to that call.
   * @returns the not_found refusal, or undefined
   */
  private async playable(name: string): Promise<Refusal | undefined> {
    try {
      const src = await this.stream(name).relaySource();
      return src.ok || src.code !== "not_found" ? undefined : refusal("not_found", Info.STREAM_NOT_FOUND);
    } catch (err) {
      log("warn", "ws_endpoint_play_check_failed", { stream: name, error: String(err) });
      return undefined;
    }
  }

  private stream(name: string) {
    return streamOf(this.env, name);
  }

  private owner(att: Attachment): LegOwner {
    return { kind: "ws", endpointId: att.id };
  }
}
