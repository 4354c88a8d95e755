/**
 * WCS stream events: the zod schemas of what clients send — the WebSocket `sendStreamEvent` and the REST
 * `/rest-api/stream/event/send` body — next to the zod-free types of `stream-events-types.ts` (re-exported here).
 * The payload is a free-form JSON value with the bounds of `protocol/bounded.ts` (at most 32 levels and 16 KiB of
 * JSON): anything larger is refused before anything is relayed. docs/protocols.md "Stream events".
 */
import { z } from "zod";
import { FreeForm } from "./bounded.js";
import { isJsonObject, isMuteEvent, STREAM_EVENT_TYPES, StreamEventType } from "./stream-events-types.js";
import { MediaSessionId, StreamName } from "./wcs.js";

export * from "./stream-events-types.js";

const eventType = z.enum(STREAM_EVENT_TYPES, {
  errorMap: () => ({ message: `must be one of ${STREAM_EVENT_TYPES.join(", ")}` }),
});

/**
 * `sendStreamEvent {mediaSessionId, type, payload?}` (Web SDK `src/flashphoner-core.js` sendStreamEvent()): `type` one
 * of {@link STREAM_EVENT_TYPES}; a mute event's payload is absent (the Web SDK sends none) or an object; a `data`
 * event needs a payload (any JSON value). Payloads are bounded ({@link FreeForm}).
 */
export const SendStreamEventRequest = z
  .object({ mediaSessionId: MediaSessionId, type: eventType, payload: FreeForm.optional() })
  .passthrough()
  .superRefine((r, ctx) => {
    if (r.type === StreamEventType.DATA && r.payload === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["payload"], message: "is required for a data event" });
    }
    if (isMuteEvent(r.type) && r.payload != null && !isJsonObject(r.payload)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["payload"], message: `of ${r.type} must be an object` });
    }
  });
export type SendStreamEventRequest = z.infer<typeof SendStreamEventRequest>;

/**
 * REST `/rest-api/stream/event/send {streamName, payload}`: a `data` event to every player of the stream (WCS docs
 * "Stream event passing to subscribers", "Sending stream event from server"). `type` may be given, and then must be
 * "data"; other fields are ignored.
 */
export const StreamEventSendBody = z
  .object({ streamName: StreamName, type: z.literal(StreamEventType.DATA).optional(), payload: FreeForm })
  .passthrough()
  .superRefine((b, ctx) => {
    if (b.payload === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["payload"], message: "is required" });
  });
export type StreamEventSendBody = z.infer<typeof StreamEventSendBody>;
