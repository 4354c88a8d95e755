/**
 * WCS REST hooks ("REST methods", https://docs.flashphoner.com/display/WCS52EN/REST+Hooks): the WCS way to let an
 * existing backend allow or deny what clients do. Before accepting a request the server POSTs its object as JSON to
 * the backend's app URL plus the method name (WCS: `http://host/app/connect`, `…/publishStream`, `…/playStream`,
 * `…/sendData`; "Type 1 - the connect method", "Type 2 - the direct invocation"):
 *
 *   connect        the `connection` object (appKey, sessionId, clientVersion, …, custom — without custom.token)
 *   publishStream  the stream object (name, mediaSessionId, sessionId, appKey, published: true, hasAudio, hasVideo, custom)
 *   playStream     the same with published: false
 *   sendData       a Room API `join`: {operationId, payload: {command: "join", options}, sessionId, appKey, login}
 *
 * The answer, as WCS documents it: **200** allows, and its JSON body may overwrite fields — here `custom` (an object
 * replaces the request's `custom`; WCS "restPolicy OVERWRITE"); **any other status** declines, and the client gets the
 * backend's reason (WCS "restOnError FAIL": "Declines, Returns FAIL to a client"). A backend that does not answer
 * within REST_HOOK_TIMEOUT_MS declines too, unless REST_HOOK_ON_TIMEOUT is "allow".
 *
 * Every call is signed with REST_HOOK_SECRET exactly as the worker ↔ media-node API (protocol/signing.ts headers
 * `x-wcs-timestamp`, `x-wcs-nonce`, `x-wcs-signature`), so a backend can tell our calls from anyone else's with
 * `verifyRequest`. No runtime dependency but zod.
 */
import { z } from "zod";

/** The hooked methods (the last path segment of the call). */
export const REST_HOOK_METHODS = ["connect", "publishStream", "playStream", "sendData"] as const;
export type RestHookMethod = (typeof REST_HOOK_METHODS)[number];

/** What a 200 answer may carry: `custom` overwrites the request's. Anything else in it is ignored. */
export const RestHookAnswer = z.object({ custom: z.record(z.unknown()).optional() }).passthrough();

/** Longest backend reason passed on to a client. */
export const MAX_HOOK_REASON_CHARS = 200;

/** The `info` of a declined request. */
export const HookInfo = {
  /** @param reason the backend's reason: JSON `{reason}` / `{info}` / `{error}`, a text body, or the status line */
  declined: (reason: string) => `Declined by backend: ${reason}`,
  TIMEOUT: "Declined: the backend did not answer in time",
  UNREACHABLE: "Declined: the backend cannot be reached",
} as const;
