/**
 * WCS `snapshot {name, mediaSessionId}` of a session (Web SDK Stream.snapshot(); protocol/snapshot.ts,
 * docs/protocols.md "Snapshots"): the StreamDO of the name has the node that holds its publisher take a PNG, and the
 * answer is one `notifyStreamEvent` on the request's mediaSessionId — `snapshotCompleted {snapshot: <base64 PNG>}` or
 * `snapshotFailed {info}`. The mediaSessionId need not be a stream of this session (the official demo asks with a
 * fresh stream object), so nothing is stored.
 *
 * Rules: the session must be established; a snapshot counts against the address's RATE_LIMIT_MEDIA (it runs a
 * decoder); the session's access must grant `play` of the name (a snapshot shows what a player would see; room
 * grants alone do not allow it). A frame without a usable mediaSessionId gets `fail` (nowhere to send the event).
 */
import {
  AuthInfo,
  Info,
  MediaSessionId,
  refusal,
  SnapshotMessage,
  streamAllowed,
  type Access,
  type Result,
  type ServerMessageName,
  type ServerMessages,
  type SnapshotResponse,
} from "../protocol/index.js";
import { streamOf, type Env } from "./env.js";
import { log } from "./log.js";
import { rateLimit } from "./rate-limit.js";

/** What a snapshot request needs from its session. */
export interface SnapshotHost {
  env: Env;
  sessionId: string;
  /** Whether `connection` made the session ESTABLISHED. */
  established: boolean;
  /** The client's address (the key of its rate limits). */
  address: string;
  /** What the session's token grants (undefined before `connection`). */
  access(): Promise<Access | undefined>;
  /** Sends one server frame to the client. */
  send<M extends ServerMessageName>(message: M, ...data: ServerMessages[M]): void;
}

/** Handles one `snapshot` message: exactly one `notifyStreamEvent` (or a `fail` without a mediaSessionId). */
export async function onSnapshot(host: SnapshotHost, arg: unknown): Promise<void> {
  const id = MediaSessionId.safeParse((arg as { mediaSessionId?: unknown } | null)?.mediaSessionId);
  if (!id.success) return host.send("fail", { apiMethod: "snapshot", info: Info.MEDIASESSION_ID_NULL });
  const mediaSessionId = id.data;
  const res = await snapshotFor(host, arg);
  if (!res.ok) {
    log("info", "snapshot_refused", { sessionId: host.sessionId, mediaSessionId, code: res.code, info: res.info });
    return host.send("notifyStreamEvent", { mediaSessionId, type: "snapshotFailed", payload: { info: res.info } });
  }
  host.send("notifyStreamEvent", { mediaSessionId, type: "snapshotCompleted", payload: { snapshot: res.data } });
}

/** The checks, then the StreamDO's snapshot. */
async function snapshotFor(host: SnapshotHost, arg: unknown): Promise<Result<SnapshotResponse>> {
  if (!host.established) return refusal("invalid_request", Info.SESSION_NOT_READY);
  const limited = await rateLimit(host.env, "media", host.address);
  if (limited) return limited;
  const req = SnapshotMessage.safeParse(arg);
  if (!req.success) {
    const issue = req.error.issues[0];
    return refusal("invalid_request", `${Info.INVALID_REQUEST}: ${issue?.path.join(".") || "body"} ${issue?.message ?? ""}`.trim());
  }
  const access = await host.access();
  if (!access) return refusal("invalid_request", Info.SESSION_NOT_READY);
  const name = req.data.name;
  if (!streamAllowed(access, "player", name).ok) return refusal("forbidden", AuthInfo.notGranted("play", name));
  try {
    return await streamOf(host.env, name).snapshot();
  } catch (err) {
    log("error", "snapshot_error", { sessionId: host.sessionId, stream: name, error: String(err) });
    return refusal("error", Info.FAILED_BY_ERROR);
  }
}
