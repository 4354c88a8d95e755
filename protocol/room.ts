/**
 * The WCS Room API ("roomApp"): not a protocol of its own but `sendData` / `DataStatusEvent` / `OnDataEvent` traffic on
 * a session whose `appKey` is "roomApp" and whose `connection.custom.login` names the participant
 * (Web SDK 2.0 src/room-module.js; shared/reference/wcs-protocol.md §3).
 *
 * Client → server: `sendData {operationId, payload: {command, options}}`; every command gets exactly one
 * `DataStatusEvent {operationId, status: "ACCEPTED" | "FAILED", info?}`.
 * Server → client: `OnDataEvent {payload: {roomName, name, info}}` with `name` one of {@link RoomEvent}.
 *
 * Extensions to what the SDK sends (documented in the README): `sendMessage` also accepts `to` as a list of logins,
 * and `broadcast: true` (with no `to`) to reach every other participant of the room.
 */
import { z } from "zod";

/** The appKey of Room API sessions (room-module.js ROOM_REST_APP). */
export const ROOM_APP_KEY = "roomApp";
/** Largest `text` of one sendMessage, in characters (a ~500 KB base64 image fits). Larger → FAILED. */
export const MAX_ROOM_MESSAGE_CHARS = 700 * 1024;
/** Largest number of participants in one room. */
export const MAX_ROOM_PARTICIPANTS = 500;

const roomName = z.string().min(1).max(256);
const login = z.string().min(1).max(128);

/** `join {name, record?}` (room-module.js join()). */
export const JoinOptions = z.object({ name: roomName, record: z.boolean().optional() }).passthrough();
/** `leave {name}` (room-module.js leave()). */
export const LeaveOptions = z.object({ name: roomName }).passthrough();
/** `sendMessage {roomConfig: {name}, to, text}` (room-module.js attachSendMessage()), plus list/broadcast forms. */
export const SendMessageOptions = z
  .object({
    roomConfig: z.object({ name: roomName }).passthrough(),
    to: z.union([login, z.array(login).min(1).max(MAX_ROOM_PARTICIPANTS)]).optional(),
    broadcast: z.boolean().optional(),
    text: z.string(),
  })
  .passthrough()
  .refine((o) => o.to !== undefined || o.broadcast === true, { message: "either to or broadcast: true is required" });

export const RoomCommand = z.discriminatedUnion("command", [
  z.object({ command: z.literal("join"), options: JoinOptions }),
  z.object({ command: z.literal("leave"), options: LeaveOptions }),
  z.object({ command: z.literal("sendMessage"), options: SendMessageOptions }),
]);
export type RoomCommand = z.infer<typeof RoomCommand>;

/** The `sendData` argument. */
export const SendDataRequest = z.object({ operationId: z.string().min(1).max(128), payload: z.unknown() });
export type SendDataRequest = z.infer<typeof SendDataRequest>;

/** Room event names (room-module.js roomHandlers switch). */
export const RoomEvent = {
  STATE: "STATE",
  JOINED: "JOINED",
  LEFT: "LEFT",
  PUBLISHED: "PUBLISHED",
  UNPUBLISHED: "UNPUBLISHED",
  FAILED: "FAILED",
  MESSAGE: "MESSAGE",
} as const;
export type RoomEvent = (typeof RoomEvent)[keyof typeof RoomEvent];

/** A participant's published stream, as in STATE / PUBLISHED / UNPUBLISHED / FAILED. */
export interface RoomStreamInfo {
  login: string;
  name: string;
}

/**
 * `info` per event: STATE = the OTHER participants, each a login string (no stream) or one {login, name} per
 * published stream; JOINED/LEFT = login; PUBLISHED/UNPUBLISHED/FAILED = {login, name}; MESSAGE = {from, text}.
 */
export interface RoomEventInfo {
  STATE: Array<string | RoomStreamInfo>;
  JOINED: string;
  LEFT: string;
  PUBLISHED: RoomStreamInfo;
  UNPUBLISHED: RoomStreamInfo;
  FAILED: RoomStreamInfo;
  MESSAGE: { from: string; text: string };
}

/** The `OnDataEvent` payload of a room event. */
export interface RoomEventPayload<E extends RoomEvent = RoomEvent> {
  roomName: string;
  name: E;
  info: RoomEventInfo[E];
}

/** Room `info` strings of FAILED DataStatusEvents (ours; WCS documents none). */
export const RoomInfo = {
  NOT_ROOM_SESSION: "Room commands need a session with appKey roomApp",
  LOGIN_REQUIRED: "Room commands need connection.custom.login",
  LOGIN_IN_USE: "Login is already in use in this room",
  NOT_A_MEMBER: "Not a member of this room",
  RECIPIENT_NOT_IN_ROOM: "Recipient is not in this room",
  MESSAGE_TOO_LARGE: `Message too large: the limit is ${MAX_ROOM_MESSAGE_CHARS} characters`,
  ROOM_FULL: `Room is full: the limit is ${MAX_ROOM_PARTICIPANTS} participants`,
  UNKNOWN_COMMAND: "Unknown room command",
} as const;
