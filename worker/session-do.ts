/**
 * SessionDO: one per WCS WebSocket connection (`newUniqueId()`), using the WebSocket Hibernation API so an idle
 * session costs nothing between frames.
 *
 * Protocol (Web SDK 2.0 src/flashphoner-core.js; docs/protocols.md "WCS WebSocket protocol"): the client sends
 * `connection`, we authenticate it (its access token, worker/access.ts; stored as the session's {@link Access}) and
 * answer `getUserData` (session ESTABLISHED); every publish, play and room join is checked against its grants
 * (protocol/access.ts); we send `ping` every PING_INTERVAL_MS (alarm) and close
 * the socket after MISSED_PONGS_LIMIT pings without a `pong`. publishStream / playStream go to the StreamDO of the
 * name (owner `{kind: "session"}`); its answer returns here as `setRemoteSDP`, its later statuses arrive through
 * {@link SessionDO.deliver}. Room commands (`sendData`) are in worker/session-rooms.ts, stream events
 * (`sendStreamEvent` from its publishers, `notifyStreamEvent` to its players) in worker/session-stream-events.ts. A
 * closed socket ends every stream of the session and leaves its rooms.
 *
 * Bad input never closes the socket: malformed JSON, unknown messages, wrong types and oversized frames get a `fail`
 * message (or a FAILED stream status when the frame names a mediaSessionId), and the session keeps working.
 */
import { DurableObject } from "cloudflare:workers";
import {
  API_HTTP_STATUS,
  AuthInfo,
  MAX_FREE_FORM_DEPTH,
  nameProblem,
  nestedDeeperThan,
  checkOffer,
  ClientEnvelope,
  ConnectionRequest,
  encodeServerMessage,
  Info,
  MAX_FRAME_BYTES,
  ROOM_APP_KEY,
  StreamRequest,
  StreamStatus,
  StreamStopRequest,
  TERMINAL_STATUSES,
  type LegRole,
  type ServerMessageName,
  type ServerMessages,
  refusal,
  streamAllowed,
  type Access,
  type Refusal,
  type StreamEvent,
  type StreamStatusEvent,
} from "../protocol/index.js";
import { closeReason, WS_CLOSE_CODE } from "../protocol/ws-endpoint.js";
import { authenticate, type AccessResult } from "./access.js";
import { clientAddress, rateLimit } from "./rate-limit.js";
import { callRestHook } from "./rest-hooks.js";
import { config, streamOf, type Config, type Env } from "./env.js";
import { configureLog, log } from "./log.js";
import { reportStats } from "./stats-do.js";
import { joinedAs, leaveAllRooms, onSendData } from "./session-rooms.js";
import { onSendStreamEvent, type StreamEventHost } from "./session-stream-events.js";
import { onSnapshot, type SnapshotHost } from "./session-snapshot.js";
import { InOrder } from "./stream-events.js";
import { statusEvent, type LegOwner, type OfferLegRequest } from "./stream-types.js";

/** Per-socket state, kept in the socket's attachment so it survives hibernation (≤ 2 KiB). */
interface Attachment {
  sessionId: string;
  established: boolean;
  appKey?: string;
  /** `connection.custom.login` (Room API participant name), when given. */
  login?: string;
  /** ms epoch of the last `pong` (or of the socket's opening). */
  lastPongAt: number;
  /** The client's address (`CF-Connecting-IP` of the upgrade), the key of its rate limits. */
  address: string;
}

/**
 * A stream of this session (storage key `stream:<mediaSessionId>`), persisted so that a closed socket can end it
 * even after hibernation. Written before the StreamDO is asked, so its leg can be ended while the request is in flight.
 */
interface SessionStream {
  name: string;
  role: LegRole;
  legId: string;
  /** Room of a room stream (`custom.name` on a roomApp session). */
  room?: string;
}

const STREAM_PREFIX = "stream:";
/** Storage key of the session's {@link Access} (set by `connection`). */
const ACCESS_KEY = "access";
/** Storage key of the access of a valid `?token=` in the upgrade URL (used when `connection` has no custom.token). */
const URL_ACCESS_KEY = "url-access";
/** Stored while the session counts in StatsDO's `sessions` gauge (see endSession). */
const COUNTED_KEY = "counted";

export class SessionDO extends DurableObject<Env> {
  /** Tunables from the env (validated once: env does not change for an object\'s lifetime). */
  private readonly cfg: Config;
  /** `sendStreamEvent`s are relayed one at a time, in arrival order (worker/session-stream-events.ts). */
  private readonly streamEvents = new InOrder();
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.cfg = config(env);
    configureLog(env);
  }

  /** Accepts the WebSocket upgrade that the worker routed here. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    // a token in the URL (`?token=`, for clients that cannot set connection custom) is checked before the upgrade:
    // a bad one refuses the upgrade (the Web SDK reports FAILED)
    const urlToken = new URL(request.url).searchParams.get("token");
    if (urlToken !== null) {
      const r = await authenticate(this.cfg, urlToken);
      if (!r.ok) {
        log("info", "session_refused", { sessionId: this.ctx.id.toString(), code: r.code, info: r.info, via: "url" });
        return new Response(r.info, { status: API_HTTP_STATUS[r.code] });
      }
      await this.ctx.storage.put(URL_ACCESS_KEY, r.access);
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    // counted once: endSession subtracts only while this flag is stored (it deletes everything after)
    await this.ctx.storage.put(COUNTED_KEY, true);
    reportStats(this.env, this.ctx, { sessions: 1 });
    const now = Date.now();
    const att: Attachment = { sessionId: this.ctx.id.toString(), established: false, lastPongAt: now, address: clientAddress(request.headers) };
    server.serializeAttachment(att);
    await this.ctx.storage.setAlarm(now + this.cfg.PING_INTERVAL_MS);
    log("info", "session_opened", { sessionId: att.sessionId, path: new URL(request.url).pathname });
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment;
    if (typeof message !== "string") {
      this.fail(ws, "binary", Info.BINARY_NOT_SUPPORTED);
      return;
    }
    if (message.length > MAX_FRAME_BYTES) {
      const info = `${Info.FRAME_TOO_LARGE}: ${message.length} bytes, the limit is ${MAX_FRAME_BYTES}`;
      // a sendData caller waits for its operationId: answer it (the SDK serializes operationId first)
      const op = /^\{"message":"sendData","data":\[\{"operationId":"([^"\\]{1,128})"/.exec(message.slice(0, 256))?.[1];
      if (op) this.send(ws, "DataStatusEvent", { operationId: op, status: "FAILED", info });
      else this.fail(ws, "unknown", info);
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(message);
    } catch {
      this.fail(ws, "unknown", Info.MALFORMED_JSON);
      return;
    }
    // the whole frame, before any field is looked at: free-form fields get their own bounds (protocol/bounded.ts)
    if (nestedDeeperThan(json, MAX_FREE_FORM_DEPTH + 4)) {
      this.fail(ws, "unknown", `${Info.INVALID_REQUEST}: the frame nests deeper than ${MAX_FREE_FORM_DEPTH + 4} levels`);
      return;
    }
    const env = ClientEnvelope.safeParse(json);
    if (!env.success) {
      this.fail(ws, "unknown", `${Info.INVALID_REQUEST}: expected {"message": string, "data": [..]}`);
      return;
    }
    const { message: name, data } = env.data;
    const arg = data?.[0];
    switch (name) {
      case "connection":
        return this.onConnection(ws, att, arg);
      case "pong":
        att.lastPongAt = Date.now();
        ws.serializeAttachment(att);
        return;
      case "ping": // the SDK's optional pinger expects no answer
      case "pushLogs":
      case "sessionDebug":
      case "submitBugReport":
        return;
      case "publishStream":
      case "playStream":
        return this.onStreamRequest(ws, att, name, arg);
      case "unPublishStream":
      case "stopStream":
        return this.onStopRequest(ws, att, name, arg);
      case "sendData":
        return onSendData(await this.roomsHost(ws, att), arg);
      case "sendStreamEvent":
        return this.streamEvents.run(() => onSendStreamEvent(this.streamEventHost(ws, att), arg));
      case "snapshot":
        return onSnapshot(this.snapshotHost(ws, att), arg);
      default:
        this.fail(ws, name, `${Info.UNKNOWN_MESSAGE}: ${name}`);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
    await this.endSession("socket closed", code);
  }

  override async webSocketError(_ws: WebSocket, error: unknown): Promise<void> {
    await this.endSession("socket error", undefined, String(error));
  }

  /** Keep-alive: `ping` every interval; close the socket when the client stopped answering. */
  override async alarm(): Promise<void> {
    const sockets = this.ctx.getWebSockets();
    const cfg = this.cfg;
    if (sockets.length === 0) {
      await this.endSession("no socket");
      return;
    }
    const now = Date.now();
    for (const ws of sockets) {
      const att = ws.deserializeAttachment() as Attachment;
      // half an interval of slack: alarms fire a little late, and the client gets MISSED_PONGS_LIMIT pings to answer
      if (now - att.lastPongAt > cfg.PING_INTERVAL_MS * (cfg.MISSED_PONGS_LIMIT + 0.5)) {
        log("warn", "session_keepalive_timeout", { sessionId: att.sessionId, silentMs: now - att.lastPongAt });
        try {
          ws.close(4000, Info.TERMINATED_BY_KEEP_ALIVE);
        } catch {
          // ignore
        }
        await this.endSession("keep-alive timeout");
        return;
      }
      this.send(ws, "ping");
    }
    await this.ctx.storage.setAlarm(now + cfg.PING_INTERVAL_MS);
  }

  /** Sends a ready-made server frame to the client (room events from RoomDO). False when there is no socket. */
  async push(frame: string): Promise<boolean> {
    const ws = this.ctx.getWebSockets()[0];
    if (!ws) return false;
    try {
      ws.send(frame);
      return true;
    } catch {
      return false;
    }
  }

  /** Whether this session still has its socket and is in `room` as `login` (RoomDO's stale-participant check). */
  async inRoom(room: string, login: string): Promise<boolean> {
    if (this.ctx.getWebSockets().length === 0) return false;
    return joinedAs(this.ctx.storage, room, login);
  }

  /**
   * Pushes a stream status to the client (called by StreamDO). A terminal status releases the stream here too.
   * Returns false when the session has no socket any more.
   */
  async deliver(event: StreamStatusEvent): Promise<boolean> {
    if (TERMINAL_STATUSES.has(event.status)) await this.ctx.storage.delete(STREAM_PREFIX + event.mediaSessionId);
    const ws = this.ctx.getWebSockets()[0];
    if (!ws) return false;
    this.send(ws, "notifyStreamStatusEvent", event);
    return true;
  }

  /**
   * Pushes a stream event of a stream this session plays (`notifyStreamEvent`, called by the StreamDO through the
   * owner table, worker/leg-owners.ts). Returns false when the session has no socket any more.
   */
  async deliverStreamEvent(event: StreamEvent): Promise<boolean> {
    const ws = this.ctx.getWebSockets()[0];
    if (!ws) return false;
    this.send(ws, "notifyStreamEvent", event);
    return true;
  }

  // ---- handlers ----

  /**
   * `connection`: authenticates the session (its token: `custom.token`, else the URL's `?token=`; none needed with
   * AUTH off) and answers `getUserData` (ESTABLISHED). The login (`custom.login`, the room participant name) is the
   * token's `sub` when authentication is on; a different `custom.login` is refused. A refused session gets `fail`
   * (apiMethod "connection", the reason as `info`: the Web SDK's WARN) and is closed with the close code of the
   * refusal (4401 unauthorized, 4503 not configured; the Web SDK's DISCONNECTED).
   */
  private async onConnection(ws: WebSocket, att: Attachment, arg: unknown): Promise<void> {
    const req = ConnectionRequest.safeParse(arg ?? {});
    if (!req.success) {
      this.fail(ws, "connection", `${Info.INVALID_REQUEST}: ${req.error.issues[0]?.path.join(".")} ${req.error.issues[0]?.message}`);
      return;
    }
    const custom = typeof req.data.custom === "object" && req.data.custom !== null ? (req.data.custom as Record<string, unknown>) : undefined;
    const token = custom?.token;
    const urlAccess = await this.ctx.storage.get<Access>(URL_ACCESS_KEY);
    const auth: AccessResult =
      token === undefined && urlAccess
        ? { ok: true, access: urlAccess }
        : typeof token === "string" || token === undefined
          ? await authenticate(this.cfg, token)
          : refusal("unauthorized", AuthInfo.tokenInvalid("custom.token must be a string"));
    if (!auth.ok) return this.refuseConnection(ws, att, auth);
    const access = auth.access;
    const asked = custom?.login;
    if (asked !== undefined && (typeof asked !== "string" || asked.length < 1 || asked.length > 128 || nameProblem(asked))) {
      const why = typeof asked === "string" ? (nameProblem(asked) ?? "must be 1 to 128 characters") : "must be a string";
      this.fail(ws, "connection", `${Info.INVALID_REQUEST}: custom.login ${why}`);
      return;
    }
    const login = asked;
    if (this.cfg.AUTH && login !== undefined && login !== access.sub) return this.refuseConnection(ws, att, refusal("forbidden", AuthInfo.LOGIN_MISMATCH));
    const appKey = req.data.appKey ?? "defaultApp";
    const { authToken: _ignored, ...rest } = req.data;
    const { token: _secret, ...clientCustom } = custom ?? {};
    const connection = { ...rest, ...(custom ? { custom: clientCustom } : {}), appKey, sessionId: att.sessionId };
    // the backend's say (WCS REST hook "connect"): it may decline, or give the custom to use
    const hook = await callRestHook(this.cfg, "connect", { ...connection, ...(this.cfg.AUTH && access.sub ? { login: access.sub } : {}) });
    if (!hook.ok) return this.refuseConnection(ws, att, hook);
    const finalCustom = hook.custom ?? (custom ? clientCustom : undefined);
    const hookLogin = hook.custom?.login;
    const backendLogin = typeof hookLogin === "string" && hookLogin.length > 0 && hookLogin.length <= 128 && !nameProblem(hookLogin) ? hookLogin : undefined;
    const who = this.cfg.AUTH ? access.sub : (backendLogin ?? login);
    att.established = true;
    att.appKey = appKey;
    if (who === undefined) delete att.login;
    else att.login = who;
    ws.serializeAttachment(att);
    await this.ctx.storage.put(ACCESS_KEY, access);
    this.send(ws, "getUserData", {
      ...connection,
      ...(finalCustom ? { custom: finalCustom } : {}),
      authToken: att.sessionId,
      status: "ESTABLISHED",
    });
    log("info", "session_established", { sessionId: att.sessionId, appKey: att.appKey, clientVersion: req.data.clientVersion, login: att.login });
  }

  /** A refused `connection`: `fail` with the reason, then the socket closes and the session ends. */
  private async refuseConnection(ws: WebSocket, att: Attachment, r: Refusal): Promise<void> {
    log("info", "session_refused", { sessionId: att.sessionId, code: r.code, info: r.info });
    this.fail(ws, "connection", r.info);
    try {
      ws.close(WS_CLOSE_CODE[r.code], closeReason(r.info));
    } catch {
      // already closed
    }
    await this.endSession("refused", WS_CLOSE_CODE[r.code]);
  }

  private async onStreamRequest(ws: WebSocket, att: Attachment, method: "publishStream" | "playStream", arg: unknown): Promise<void> {
    const role: LegRole = method === "publishStream" ? "publisher" : "player";
    const mediaSessionId = pickString(arg, "mediaSessionId");
    const name = pickString(arg, "name") ?? "";
    const owner: LegOwner = { kind: "session", sessionId: att.sessionId };
    /** FAILED for the request's mediaSessionId (with the request's facts once it parsed), else `fail`. */
    const failStream = (info: string, asked?: OfferLegRequest) => {
      if (!mediaSessionId) return this.fail(ws, method, info);
      const facts = asked ?? { owner, mediaSessionId, appKey: att.appKey, hasAudio: false, hasVideo: false };
      this.send(ws, "notifyStreamStatusEvent", statusEvent(name, { ...facts, role, createdAt: Date.now() }, StreamStatus.FAILED, info));
    };
    if (!att.established) return failStream(Info.SESSION_NOT_READY);
    if (!mediaSessionId) return this.fail(ws, method, Info.MEDIASESSION_ID_NULL);
    const limited = await rateLimit(this.env, "media", att.address ?? "unknown");
    if (limited) return failStream(limited.info);
    const req = StreamRequest.safeParse(arg);
    if (!req.success) {
      const issue = req.error.issues[0];
      return failStream(`${Info.INVALID_REQUEST}: ${issue?.path.join(".") || "body"} ${issue?.message ?? ""}`.trim());
    }
    const access = await this.ctx.storage.get<Access>(ACCESS_KEY);
    if (!access) return failStream(Info.SESSION_NOT_READY);
    const roomName = (req.data.custom as { name?: unknown } | undefined)?.name;
    const room = att.appKey === ROOM_APP_KEY && att.login && typeof roomName === "string" ? roomName : undefined;
    const joined = room !== undefined && att.login !== undefined && (await joinedAs(this.ctx.storage, room, att.login));
    const allowed = streamAllowed(access, role, req.data.name, joined && att.login ? { name: room, login: att.login } : undefined);
    if (!allowed.ok) {
      log("info", "stream_not_authorized", { sessionId: att.sessionId, method, stream: req.data.name, login: att.login });
      return failStream(AuthInfo.notGranted(role === "publisher" ? "publish" : "play", req.data.name));
    }
    const offer = checkOffer(req.data.sdp, role);
    if (!offer.ok) return failStream(`${Info.INVALID_SDP}: ${offer.reason}`);
    const { sdp: _sdp, ...streamObject } = req.data;
    const hook = await callRestHook(this.cfg, method, { ...streamObject, published: role === "publisher", sessionId: att.sessionId, appKey: att.appKey, ...(att.login ? { login: att.login } : {}) });
    if (!hook.ok) return failStream(hook.info);
    const key = STREAM_PREFIX + mediaSessionId;
    if (await this.ctx.storage.get(key)) return failStream(Info.MEDIASESSION_ID_ALREADY_IN_USE);
    const count = (await this.ctx.storage.list({ prefix: STREAM_PREFIX })).size;
    if (count >= this.cfg.MAX_STREAMS_PER_SESSION) return failStream(Info.TOO_MANY_STREAMS);
    const legId = crypto.randomUUID();
    await this.ctx.storage.put(key, { name: req.data.name, role, legId, ...(room ? { room } : {}) } satisfies SessionStream);

    const leg: OfferLegRequest = {
      legId,
      owner,
      mediaSessionId,
      appKey: att.appKey,
      ...(room && att.login ? { room: { name: room, login: att.login } } : {}),
      ...(allowed.inRoom !== undefined && role === "player" ? { requireRoom: allowed.inRoom } : {}),
      sdp: offer.text,
      hasAudio: req.data.hasAudio ?? true,
      hasVideo: req.data.hasVideo ?? true,
      custom: hook.custom ?? req.data.custom,
      ...(role === "publisher" && req.data.record === true ? { record: true } : {}),
    };
    const stream = streamOf(this.env, req.data.name);
    let result;
    try {
      result = role === "publisher" ? await stream.publish(req.data.name, leg) : await stream.play(req.data.name, leg);
    } catch (err) {
      log("error", "stream_request_error", { sessionId: att.sessionId, mediaSessionId, stream: req.data.name, error: String(err) });
      result = { ok: false as const, code: "error" as const, info: Info.FAILED_BY_ERROR };
    }
    if (!result.ok) {
      await this.ctx.storage.delete(key);
      log("info", "stream_request_failed", { sessionId: att.sessionId, method, stream: req.data.name, mediaSessionId, code: result.code, info: result.info });
      return failStream(result.info, leg);
    }
    this.send(ws, "setRemoteSDP", mediaSessionId, result.answer, false);
  }

  private async onStopRequest(ws: WebSocket, att: Attachment, method: "unPublishStream" | "stopStream", arg: unknown): Promise<void> {
    const req = StreamStopRequest.safeParse(arg);
    if (!req.success) return this.fail(ws, method, Info.MEDIASESSION_ID_NULL);
    const key = STREAM_PREFIX + req.data.mediaSessionId;
    const rec = await this.ctx.storage.get<SessionStream>(key);
    if (!rec) return this.fail(ws, method, `${Info.STREAM_NOT_FOUND}: no stream with mediaSessionId ${req.data.mediaSessionId} in this session`);
    const ev = await streamOf(this.env, rec.name).end(rec.legId, { kind: "stop" });
    await this.ctx.storage.delete(key);
    if (ev) this.send(ws, "notifyStreamStatusEvent", ev);
    else {
      // the leg ended concurrently (its status is on its way or already sent); nothing else to do
      log("info", "stop_of_ended_stream", { sessionId: att.sessionId, mediaSessionId: req.data.mediaSessionId, stream: rec.name });
    }
  }

  /** The stream events' view of this session (worker/session-stream-events.ts). */
  private streamEventHost(ws: WebSocket, att: Attachment): StreamEventHost {
    return {
      env: this.env,
      sessionId: att.sessionId,
      established: att.established,
      sessionStream: (mediaSessionId) => this.ctx.storage.get<SessionStream>(STREAM_PREFIX + mediaSessionId),
      fail: (info) => this.fail(ws, "sendStreamEvent", info),
    };
  }

  /** The snapshots' view of this session (worker/session-snapshot.ts). */
  private snapshotHost(ws: WebSocket, att: Attachment): SnapshotHost {
    return {
      env: this.env,
      sessionId: att.sessionId,
      established: att.established,
      address: att.address ?? "unknown",
      access: () => this.ctx.storage.get<Access>(ACCESS_KEY),
      send: (message, ...data) => this.send(ws, message, ...data),
    };
  }

  /** The room commands' view of this session (worker/session-rooms.ts). */
  private async roomsHost(ws: WebSocket, att: Attachment) {
    const access = await this.ctx.storage.get<Access>(ACCESS_KEY);
    return {
      ...(access ? { access } : {}),
      restHook: (body: object) => callRestHook(this.cfg, "sendData", body),
      env: this.env,
      storage: this.ctx.storage,
      sessionId: att.sessionId,
      established: att.established,
      appKey: att.appKey,
      login: att.login,
      send: <M extends ServerMessageName>(message: M, ...data: ServerMessages[M]) => this.send(ws, message, ...data),
      connected: () => this.ctx.getWebSockets().length > 0,
      endRoomStreams: (room: string) => this.endRoomStreams(ws, room),
    };
  }

  /** Ends this session's streams in `room` (on leave), telling the client their terminal statuses. */
  private async endRoomStreams(ws: WebSocket, room: string): Promise<void> {
    const streams = await this.ctx.storage.list<SessionStream>({ prefix: STREAM_PREFIX });
    for (const [key, s] of streams) {
      if (s.room !== room) continue;
      const ev = await streamOf(this.env, s.name).end(s.legId, { kind: "stop" });
      await this.ctx.storage.delete(key);
      if (ev) this.send(ws, "notifyStreamStatusEvent", ev);
    }
  }

  /** Ends every stream of the session (socket closed, errored or timed out), leaves its rooms, forgets the session. */
  private async endSession(why: string, code?: number, error?: string): Promise<void> {
    const streams = await this.ctx.storage.list<SessionStream>({ prefix: STREAM_PREFIX });
    const sessionId = this.ctx.id.toString();
    await Promise.allSettled([...streams.values()].map((s) => streamOf(this.env, s.name).end(s.legId, { kind: "gone" })));
    // streams first, so the rooms hear UNPUBLISHED before LEFT
    const rooms = await leaveAllRooms(this.env, this.ctx.storage, sessionId, why);
    log("info", "session_closed", { sessionId, why, code, error, streams: streams.size, rooms });
    if (await this.ctx.storage.get<boolean>(COUNTED_KEY)) reportStats(this.env, this.ctx, { sessions: -1 });
    await this.ctx.storage.deleteAll();
    await this.ctx.storage.deleteAlarm();
  }

  private send<M extends ServerMessageName>(ws: WebSocket, message: M, ...data: ServerMessages[M]): void {
    try {
      ws.send(encodeServerMessage(message, ...data));
    } catch (err) {
      log("warn", "send_failed", { message, error: String(err) });
    }
  }

  private fail(ws: WebSocket, apiMethod: string, info: string): void {
    this.send(ws, "fail", { apiMethod, info });
  }
}

function pickString(obj: unknown, key: string): string | undefined {
  if (typeof obj !== "object" || obj === null) return undefined;
  const v = (obj as Record<string, unknown>)[key];
  return typeof v === "string" && v.length > 0 && v.length <= 256 ? v : undefined;
}
