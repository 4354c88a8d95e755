/**
 * Connecting to the WCS server: a ws WebSocket that remembers why it failed, a session established (or the command
 * fails with exit code 1 and the socket's reason), and a watch that fails the command when the session drops.
 */
import { WebSocket as NodeWebSocket, type ClientOptions } from "ws";
import { createSession, type Session, type WebSocketConstructor } from "../node.js";
import { fail, isExiting, onExit } from "./lifecycle.js";
import { out, sdkLogger } from "./output.js";

/** How long the WebSocket handshake and the session's establishment may take (ms). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** A WebSocket class for the SDK's platform, and the last socket error it saw (undefined before any). */
export interface RecordingWebSocket {
  WebSocket: WebSocketConstructor;
  lastError: () => string | undefined;
}

/**
 * A ws WebSocket that remembers why it failed (the SDK reports only FAILED/DISCONNECTED, not the socket's error), and
 * times out a hanging handshake.
 */
export function recordingWebSocket(): RecordingWebSocket {
  let lastError: string | undefined;
  class RecordingWebSocket extends NodeWebSocket {
    constructor(url: string) {
      const options: ClientOptions = { handshakeTimeout: CONNECT_TIMEOUT_MS };
      super(url, options);
      this.on("error", (e: Error) => (lastError = e.message || String(e)));
    }
  }
  return { WebSocket: RecordingWebSocket as unknown as WebSocketConstructor, lastError: () => lastError };
}

/**
 * Why a session could not be established: the server's close reason (a refused `connection`, e.g. "Not authorized:
 * an access token is required"), else the socket's error, else the session status.
 */
export function connectionError(url: string, session: Pick<Session, "status" | "lastDisconnect">, socketError: string | undefined): string {
  return `cannot connect to ${url}: ${session.lastDisconnect()?.reason || socketError || `session ${session.status()}`}`;
}

/**
 * Connects a session to `url` (with `token` as `connection.custom.token`) and reports it (`session` event); it is disconnected at exit. Fails the command
 * (exit 1) when it is not established within the connect timeout, or later when it drops.
 */
export async function openSession(url: string, token?: string): Promise<Session> {
  const ws = recordingWebSocket();
  out.debug(`connecting to ${url}`);
  const session = createSession({
    urlServer: url,
    ...(token ? { custom: { token } } : {}),
    platform: { WebSocket: ws.WebSocket },
    logger: sdkLogger,
    timeout: CONNECT_TIMEOUT_MS,
  });
  await establishedOrFail(session, session, url, ws);
  out.event("session", { status: "ESTABLISHED", url, sessionId: session.getUserData()?.sessionId }, `connected to ${url}`);
  return session;
}

/**
 * The common part of every command's connection: `conn` (a Session, or a RoomSession over `session`) is
 * disconnected at exit; the command fails (exit 1, {@link connectionError}) when it is not established within the
 * connect timeout, and later when `session` drops ({@link watchSession}).
 */
export async function establishedOrFail(
  conn: { established(timeoutMs: number): Promise<unknown>; status(): string; disconnect(): void },
  session: Session,
  url: string,
  ws: RecordingWebSocket,
): Promise<void> {
  onExit(() => conn.disconnect());
  try {
    await conn.established(CONNECT_TIMEOUT_MS + 1000);
  } catch {
    const info = connectionError(url, session, ws.lastError());
    await fail(info, { url, status: conn.status(), info });
  }
  watchSession(session, url, ws.lastError);
}

/** A session that drops while the command runs ends it with an error. */
export function watchSession(session: Session, url: string, lastError: () => string | undefined): void {
  const lost = (s: Session): void => {
    if (!isExiting()) void fail(`connection to ${url} lost (session ${s.status()}${lastError() ? `: ${lastError()}` : ""})`, { status: s.status() });
  };
  session.on("DISCONNECTED", lost).on("FAILED", lost);
}
