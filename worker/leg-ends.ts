/**
 * How legs end, and the WCS statuses each end gives (Web SDK 2.0 constants.js STREAM_STATUS / STREAM_STATUS_INFO):
 * the leg's own terminal status, and, when a publisher ends, its players' status. Pure functions; the StreamDO
 * applies them (worker/stream-do.ts).
 */
import { Info, StreamStatus } from "../protocol/index.js";
import type { LegRecord, OwnerEnd } from "./stream-types.js";

/** Why a leg or the whole stream ends; decides the statuses and `info` everyone gets. */
export type EndReason =
  | { kind: "user" } // the owner stopped it: unPublishStream / stopStream, DELETE, relay terminate
  | { kind: "session" } // the owner is gone (socket closed)
  | { kind: "transport-closed" } // the client closed its PeerConnection
  | { kind: "rest" } // REST /stream/terminate
  | { kind: "node-lost" } // the media node was lost
  | { kind: "node-shutdown" } // the media node drained and deregistered with the stream still on it
  | { kind: "failed"; info: string }; // ICE/DTLS failure or timeout, the owner failed

/** A terminal status and its `info`. */
export interface EndStatus {
  status: StreamStatus;
  info: string;
}

/** The end reason of an owner's own end (see OwnerEnd). */
export function endReason(how: OwnerEnd): EndReason {
  switch (how.kind) {
    case "stop":
      return { kind: "user" };
    case "gone":
      return { kind: "session" };
    case "failed":
      return { kind: "failed", info: how.info };
  }
}

/** The terminal status a leg's own client gets: UNPUBLISHED (publisher) / STOPPED (player), or FAILED. */
export function ownStatus(leg: Pick<LegRecord, "role">, reason: EndReason): EndStatus {
  const normal = leg.role === "publisher" ? StreamStatus.UNPUBLISHED : StreamStatus.STOPPED;
  switch (reason.kind) {
    case "user":
      return { status: normal, info: Info.STOPPED_BY_USER };
    case "session":
      return { status: normal, info: Info.STOPPED_BY_SESSION_DISCONNECT };
    case "transport-closed":
      return { status: normal, info: Info.STOPPED_BY_USER };
    case "rest":
      return { status: normal, info: Info.STOPPED_BY_REST_TERMINATE };
    case "node-lost":
      return { status: StreamStatus.FAILED, info: Info.MEDIA_NODE_LOST };
    case "node-shutdown":
      return { status: StreamStatus.FAILED, info: Info.MEDIA_NODE_SHUTDOWN };
    case "failed":
      return { status: StreamStatus.FAILED, info: reason.info };
  }
}

/**
 * The status every player gets when its publisher ends for `reason`: STOPPED "Stopped by rest /terminate" (REST
 * terminate reaches them too), FAILED "media node lost" / "media node shutting down" (they were on the same node),
 * else FAILED "Stopped by publisher stop" (the WCS status a player of a stopped publisher gets).
 */
export function playersStatus(reason: EndReason): EndStatus {
  if (reason.kind === "rest") return { status: StreamStatus.STOPPED, info: Info.STOPPED_BY_REST_TERMINATE };
  if (reason.kind === "node-lost") return { status: StreamStatus.FAILED, info: Info.MEDIA_NODE_LOST };
  if (reason.kind === "node-shutdown") return { status: StreamStatus.FAILED, info: Info.MEDIA_NODE_SHUTDOWN };
  return { status: StreamStatus.FAILED, info: Info.STOPPED_BY_PUBLISHER_STOP };
}
