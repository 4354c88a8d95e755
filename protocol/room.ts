/**
 * The WCS Room API ("roomApp"): not a protocol of its own but `sendData` / `DataStatusEvent` / `OnDataEvent` traffic on
 * a session whose `appKey` is "roomApp" and whose `connection.custom.login` names the participant
 * (Web SDK 2.0 src/room-module.js; docs/protocols.md "Rooms").
 *
 * Client → server: `sendData {operationId, payload: {command, options}}`; every command gets exactly one
 * `DataStatusEvent {operationId, status: "ACCEPTED" | "FAILED", info?}`.
 * Server → client: `OnDataEvent {payload: {roomName, name, info}}` with `name` one of {@link RoomEvent}.
 *
 * Extensions to what the SDK sends (documented in the README): `sendMessage` also accepts `to` as a list of logins,
 * and `broadcast: true` (with no `to`) to reach every other participant of the room.
 */
import { z } from "zod";
import { freeForm, wellFormedName } from "./bounded.js";
import { MAX_ROOM_PARTICIPANTS } from "./room-types.js";

export * from "./room-types.js";

const roomName = wellFormedName(1, 256);
const login = wellFormedName(1, 128);

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
export const SendDataRequest = z.object({ operationId: wellFormedName(1, 128), payload: freeForm(Number.POSITIVE_INFINITY) });
export type SendDataRequest = z.infer<typeof SendDataRequest>;
