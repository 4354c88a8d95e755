/**
 * `sendStreamEvent` on a WCS session (docs/protocols.md "Stream events"; Web SDK 2.0 `src/flashphoner-core.js`
 * sendStreamEvent(), sent by Stream muteAudio() / unmuteAudio() / muteVideo() / unmuteVideo() / sendData()): the
 * session side of stream events. The event must name, by mediaSessionId, a stream this session publishes; its
 * StreamDO relays it to the stream's players (StreamDO.publisherEvent, worker/stream-events.ts). Nothing is answered
 * on success (WCS answers nothing either); a refused event gets `fail {apiMethod: "sendStreamEvent", info}` (the Web
 * SDK's session WARN) and nothing is relayed:
 *
 * - session not ESTABLISHED: "Session not ready";
 * - a bad body (no mediaSessionId, an unknown `type`, a payload over the bounds of protocol/bounded.ts, a data event
 *   without payload, a mute event whose payload is not an object): "Invalid request: <field> <why>";
 * - a mediaSessionId that is no stream of this session: "Stream not found: no stream with mediaSessionId …";
 * - a player's mediaSessionId, or a publisher that is not PUBLISHING: "Invalid request: …" (StreamEventInfo).
 *
 * The SessionDO runs its events one at a time, in the order they arrived (worker/stream-events.ts InOrder): a Durable
 * Object takes the next WebSocket frame while the previous one waits for the StreamDO, so without it two quick events
 * (mute, unmute) could reach the players the other way round.
 */
import { Info, SendStreamEventRequest, StreamEventInfo, type LegRole } from "../protocol/index.js";
import { streamOf, type Env } from "./env.js";
import { log } from "./log.js";

/** What the handler needs from its SessionDO. */
export interface StreamEventHost {
  env: Env;
  sessionId: string;
  established: boolean;
  /** This session's stream with that mediaSessionId (its `stream:` record), if any. */
  sessionStream(mediaSessionId: string): Promise<{ name: string; role: LegRole; legId: string } | undefined>;
  /** Sends `fail {apiMethod: "sendStreamEvent", info}`. */
  fail(info: string): void;
}

/** Handles one `sendStreamEvent` (see the module docs). Never throws. */
export async function onSendStreamEvent(host: StreamEventHost, arg: unknown): Promise<void> {
  if (!host.established) return host.fail(Info.SESSION_NOT_READY);
  const req = SendStreamEventRequest.safeParse(arg);
  if (!req.success) {
    const issue = req.error.issues[0];
    return host.fail(`${Info.INVALID_REQUEST}: ${issue?.path.join(".") || "body"} ${issue?.message ?? ""}`.trim());
  }
  const { mediaSessionId, type, payload } = req.data;
  const stream = await host.sessionStream(mediaSessionId);
  if (!stream) return host.fail(StreamEventInfo.unknownStream(mediaSessionId));
  if (stream.role !== "publisher") return host.fail(StreamEventInfo.NOT_PUBLISHER);
  let res;
  try {
    res = await streamOf(host.env, stream.name).publisherEvent(stream.legId, type, payload);
  } catch (err) {
    log("error", "stream_event_error", { sessionId: host.sessionId, stream: stream.name, type, error: String(err) });
    return host.fail(Info.FAILED_BY_ERROR);
  }
  if (!res.ok) {
    log("info", "stream_event_refused", { sessionId: host.sessionId, stream: stream.name, mediaSessionId, type, code: res.code, info: res.info });
    return host.fail(res.info);
  }
  log("info", "stream_event", { sessionId: host.sessionId, stream: stream.name, mediaSessionId, type, players: res.players });
}
