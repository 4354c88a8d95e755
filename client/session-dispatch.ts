/**
 * What a session does with each server frame (flashphoner-core.js onmessage; docs/protocols.md "WCS WebSocket
 * protocol"): `ping` is answered with `pong`; `getUserData` makes the session ESTABLISHED; `setRemoteSDP`, stream
 * statuses and stream events (`notifyStreamEvent`) go to the stream whose id they name; `DataStatusEvent` settles a
 * sendData; `OnDataEvent` is the APP_DATA event; `fail` is the WARN event (and a stream status when apiMethod is
 * StreamStatusEvent). Malformed arguments are ignored; other messages are logged at debug level.
 */
import type { StreamStatusEvent } from "../protocol/wcs-types.js";
import type { Logger } from "./events.js";
import type { AppData, FailEvent, UserData } from "./session-types.js";
import { isObject, type Frame } from "./session-socket.js";
import type { Stream } from "./stream.js";

/** @internal The session's side of the dispatch. */
export interface FrameHandlers {
  readonly logger: Logger;
  /** Answers the server's `ping`. */
  pong(): void;
  /** `getUserData`: the session is ESTABLISHED. */
  established(userData: UserData): void;
  /** The stream whose current id() is `id`, if any. */
  stream(id: string): Stream | undefined;
  /** `DataStatusEvent` of the sendData `operationId`. */
  dataStatus(operationId: string, status: unknown, info: string | undefined): void;
  /** `OnDataEvent`: the APP_DATA event. */
  appData(data: AppData): void;
  /** `fail`: the WARN event. */
  warn(fail: FailEvent): void;
}

/** Routes one server frame. */
export function dispatchFrame({ message, data }: Frame, to: FrameHandlers): void {
  const obj = data[0];
  switch (message) {
    case "ping":
      to.pong();
      return;
    case "getUserData":
      to.established(isObject(obj) ? obj : {});
      return;
    case "setRemoteSDP": {
      const [id, sdp] = data;
      if (typeof id === "string" && typeof sdp === "string") to.stream(id)?._applyAnswer(sdp);
      return;
    }
    case "notifyStreamStatusEvent":
    case "notifyVideoFormat":
      if (isObject(obj) && typeof obj.mediaSessionId === "string" && typeof obj.status === "string") {
        to.stream(obj.mediaSessionId)?._serverStatus(obj as Partial<StreamStatusEvent> & { status: string });
      }
      return;
    case "notifyStreamEvent":
      if (isObject(obj) && typeof obj.mediaSessionId === "string" && typeof obj.type === "string") {
        to.stream(obj.mediaSessionId)?._streamEvent({ mediaSessionId: obj.mediaSessionId, type: obj.type, payload: obj.payload });
      }
      return;
    case "DataStatusEvent":
      if (!isObject(obj) || typeof obj.operationId !== "string") return;
      to.dataStatus(obj.operationId, obj.status, typeof obj.info === "string" ? obj.info : undefined);
      return;
    case "OnDataEvent":
      if (isObject(obj)) to.appData(obj as AppData);
      return;
    case "fail": {
      if (!isObject(obj)) return;
      const fail = obj as unknown as FailEvent;
      if (fail.apiMethod === "StreamStatusEvent" && typeof fail.id === "string") {
        to.stream(fail.id)?._serverStatus({ ...fail, status: fail.status ?? "FAILED" });
      }
      to.warn(fail);
      return;
    }
    default:
      // getVersion, rate reports, …: nothing the SDK acts on
      to.logger.debug(`server message ${message} ignored`);
  }
}
