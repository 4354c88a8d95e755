/**
 * The WCS Room API ("roomApp") without runtime validation: event names, event payloads, limits and `info` strings.
 * Clients (our SDK in `client/`) import from here so that they do not carry zod; `room.ts` re-exports all of it next
 * to the zod schemas of the room commands. See `room.ts` for the wire format.
 */

/** The appKey of Room API sessions (room-module.js ROOM_REST_APP). */
export const ROOM_APP_KEY = "roomApp";
/** Largest `text` of one sendMessage, in characters (a ~500 KB base64 image fits). Larger → FAILED. */
export const MAX_ROOM_MESSAGE_CHARS = 700 * 1024;
/** Largest number of participants in one room. */
export const MAX_ROOM_PARTICIPANTS = 500;

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
