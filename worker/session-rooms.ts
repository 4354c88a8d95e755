/**
 * The Room API side of a WCS session (protocol/room.ts; docs/protocols.md "Rooms"): the `sendData` room commands
 * (join, leave, sendMessage) of a roomApp session, and the session's record of the rooms it joined (storage keys
 * `room:<name>` → login), which the SessionDO uses to leave them all when its socket closes.
 *
 * Every command gets exactly one `DataStatusEvent` with its `operationId`; other appKeys have no server application,
 * so their sendData fails. A join needs the room in the session's `rooms` grant (protocol/access.ts), else FAILED
 * "Not authorized to join room …", and the backend's yes (WCS REST hook `sendData`, when configured); the login is the
 * session's (the token's `sub` when authentication is on).
 */
import {
  AuthInfo,
  granted,
  Info,
  MAX_ROOM_MESSAGE_CHARS,
  ROOM_APP_KEY,
  RoomCommand,
  RoomEvent,
  RoomInfo,
  SendDataRequest,
  type ServerMessageName,
  type Access,
  type ServerMessages,
} from "../protocol/index.js";
import { roomOf, type Env } from "./env.js";
import type { HookVerdict } from "./rest-hooks.js";

/** Storage key prefix of a joined room: `room:<name>` → login. */
const ROOM_PREFIX = "room:";

/** What the room commands need from their session. */
export interface SessionRoomsHost {
  env: Env;
  storage: DurableObjectStorage;
  sessionId: string;
  /** The session's state from its `connection`. */
  established: boolean;
  appKey?: string;
  login?: string;
  /** What the session's token grants (undefined before `connection`). */
  access?: Access;
  /** Asks the backend (WCS REST hook `sendData`) whether a room command may go on. */
  restHook(body: object): Promise<HookVerdict>;
  /** Sends one server frame to the client. */
  send<M extends ServerMessageName>(message: M, ...data: ServerMessages[M]): void;
  /** Whether the session still has its socket. */
  connected(): boolean;
  /** Ends this session's streams in `room` (on leave), telling the client their terminal statuses. */
  endRoomStreams(room: string): Promise<void>;
}

/** Handles one `sendData` (a room command). */
export async function onSendData(host: SessionRoomsHost, arg: unknown): Promise<void> {
  const req = SendDataRequest.safeParse(arg);
  const asked = SendDataRequest.shape.operationId.safeParse((arg as { operationId?: unknown } | null)?.operationId);
  if (!asked.success) return host.send("fail", { apiMethod: "sendData", info: `${Info.INVALID_REQUEST}: operationId is required` });
  const operationId = asked.data;
  const done = (info?: string) =>
    host.send("DataStatusEvent", info === undefined ? { operationId, status: "ACCEPTED" } : { operationId, status: "FAILED", info });
  if (!req.success) {
    const issue = req.error.issues[0];
    return done(`${Info.INVALID_REQUEST}: ${issue?.path.join(".") || "payload"} ${issue?.message ?? ""}`.trim());
  }
  if (!host.established) return done(Info.SESSION_NOT_READY);
  if (host.appKey !== ROOM_APP_KEY) return done(`No application handles sendData for appKey ${host.appKey}`);
  const login = host.login;
  if (!login) return done(RoomInfo.LOGIN_REQUIRED);
  const cmd = RoomCommand.safeParse(req.data.payload);
  if (!cmd.success) {
    const issue = cmd.error.issues[0];
    return done(`${Info.INVALID_REQUEST}: ${issue?.path.join(".") || "payload"} ${issue?.message ?? ""}`.trim());
  }
  const { sessionId, storage } = host;
  const c = cmd.data;
  if (c.command === "join") {
    const room = c.options.name;
    if (!host.access || !granted(host.access, "rooms", room)) return done(AuthInfo.roomNotGranted(room));
    const hook = await host.restHook({ operationId, payload: req.data.payload, sessionId, appKey: host.appKey, login });
    if (!hook.ok) return done(hook.info);
    const res = await roomOf(host.env, room).join(room, login, sessionId);
    if (!res.ok) return done(res.info);
    if (!host.connected()) {
      // the socket closed while the room was answering: the session's cleanup did not know this room yet
      await roomOf(host.env, room).leave(login, sessionId, "socket closed during join");
      return;
    }
    await storage.put(ROOM_PREFIX + room, login);
    done();
    host.send("OnDataEvent", { operationId, payload: { roomName: room, name: RoomEvent.STATE, info: res.state } });
    return;
  }
  if (c.command === "leave") {
    const room = c.options.name;
    if ((await storage.get(ROOM_PREFIX + room)) !== login) return done(RoomInfo.NOT_A_MEMBER);
    await host.endRoomStreams(room);
    const res = await roomOf(host.env, room).leave(login, sessionId);
    await storage.delete(ROOM_PREFIX + room);
    return done(res.ok ? undefined : res.info);
  }
  const room = c.options.roomConfig.name;
  if ((await storage.get(ROOM_PREFIX + room)) !== login) return done(RoomInfo.NOT_A_MEMBER);
  if (c.options.text.length > MAX_ROOM_MESSAGE_CHARS) return done(RoomInfo.MESSAGE_TOO_LARGE);
  const to = c.options.to === undefined ? "broadcast" : typeof c.options.to === "string" ? [c.options.to] : c.options.to;
  const res = await roomOf(host.env, room).sendMessage(login, sessionId, to, c.options.text);
  return done(res.ok ? undefined : res.info);
}

/** Whether the session recorded `room` as joined with `login`. */
export async function joinedAs(storage: DurableObjectStorage, room: string, login: string): Promise<boolean> {
  return (await storage.get<string>(ROOM_PREFIX + room)) === login;
}

/** The session leaves every room it joined (its socket closed); the rooms tell the others LEFT. */
export async function leaveAllRooms(env: Env, storage: DurableObjectStorage, sessionId: string, why: string): Promise<number> {
  const rooms = await storage.list<string>({ prefix: ROOM_PREFIX });
  await Promise.allSettled([...rooms].map(([key, login]) => roomOf(env, key.slice(ROOM_PREFIX.length)).leave(login, sessionId, why)));
  return rooms.size;
}
