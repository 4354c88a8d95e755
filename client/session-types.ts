/**
 * The public types of a session: the options of {@link createSession}, its events and the server objects they carry.
 */
import type { FailEvent, ServerMessages } from "../protocol/wcs-types.js";
import type { Logger } from "./events.js";
import type { Platform } from "./platform.js";
import type { AutoRestoreOptions, RestoreAttempt } from "./restore.js";
import type { Session } from "./session.js";

/** The `getUserData` object the server sends when the session is established (sessionId, authToken, …). */
export type UserData = ServerMessages["getUserData"][0];
/** The `OnDataEvent` object of the APP_DATA event (`payload` is what the server's app pushed). */
export type AppData = ServerMessages["OnDataEvent"][0];
/** The `fail` object of the WARN event. */
export type { FailEvent } from "../protocol/wcs-types.js";

/** Session event callbacks (`session.on(SESSION_STATUS.X, cb)`). */
export interface SessionEvents {
  CONNECTED: (session: Session) => void;
  ESTABLISHED: (session: Session, userData: UserData) => void;
  DISCONNECTED: (session: Session) => void;
  FAILED: (session: Session) => void;
  WARN: (fail: FailEvent) => void;
  APP_DATA: (data: AppData) => void;
  RESTORING: (session: Session, attempt: RestoreAttempt) => void;
}

/** Options of {@link createSession}. Times in milliseconds. */
export interface SessionOptions {
  /** `ws://host:port` or `wss://host` (any path is accepted by our server). Required. */
  urlServer: string;
  /** The server app (default "defaultApp"; the Room API uses "roomApp"). */
  appKey?: string;
  /** Any JSON, sent as `connection.custom` (the Room API puts `{login, token}` here). */
  custom?: unknown;
  /** Sent as `connection.authToken`. */
  authToken?: string;
  /** Sent as `connection.keepAlive`. */
  keepAlive?: boolean;
  /**
   * RTCPeerConnection configuration of every stream (e.g. `{iceTransportPolicy: "relay"}`); `bundlePolicy` is always
   * "max-compat". Without `iceServers` here the session asks the server for them (see `iceServersUrl`); with them,
   * they are used as given and nothing is asked.
   */
  mediaOptions?: RTCConfiguration;
  /**
   * Where the session gets the STUN / TURN servers (with short-lived TURN credentials) of its peer connections:
   * default `http(s)://<urlServer's host>/ice-servers` (README "TURN"), asked with the session's token
   * (`custom.token` or `?token=`) once the session is ESTABLISHED and again shortly before the credentials expire.
   * `false`: never ask. A server without the endpoint (e.g. WCS itself) just means no ICE servers.
   */
  iceServersUrl?: string | false;
  /** Connection timeout: a socket still connecting after this long is closed (FAILED). Default none. */
  timeout?: number;
  /** Send a client `ping` this often (default 0 = never). */
  pingInterval?: number;
  /** FAILED (and socket closed) after this many `probesInterval`s without any server message (default 0 = off; 10 with autoRestore). */
  receiveProbes?: number;
  /** See receiveProbes (default 0; 5000 with autoRestore). */
  probesInterval?: number;
  /** sendData rejects when no DataStatusEvent came within this time (default 30000; 0 = wait forever). */
  sendDataTimeoutMs?: number;
  /** Opt-in reconnection and stream restore; see the policy in `restore.ts` / {@link AutoRestoreOptions}. */
  autoRestore?: boolean | AutoRestoreOptions;
  /** Environment overrides (Node: `nodePlatform()` of the node entry). Defaults: browser globals. */
  platform?: Partial<Platform>;
  /** Where swallowed errors go (default: console warn/error). */
  logger?: Logger;
}
