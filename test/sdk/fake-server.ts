/**
 * An in-process fake WCS signaling server for the SDK's unit tests: a real `ws` WebSocketServer on 127.0.0.1 that
 * records every client frame and answers `connection` with `getUserData` (unless told otherwise). Tests drive the
 * rest by hand with typed server messages (protocol's encodeServerMessage), so each state machine step is explicit.
 */
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { encodeServerMessage, type ServerMessageName, type ServerMessages } from "../../protocol/index.js";

export interface ReceivedFrame {
  message: string;
  /** `data[0]` of the frame (clients always send exactly one argument). */
  arg: Record<string, unknown> & { mediaSessionId?: string; operationId?: string };
  data: unknown[];
  t: number;
  conn: FakeConnection;
}

export class FakeConnection {
  readonly received: ReceivedFrame[] = [];
  readonly sessionId = randomUUID();
  closed = false;
  constructor(
    readonly ws: WebSocket,
    readonly index: number,
  ) {
    ws.on("close", () => (this.closed = true));
  }

  /** Sends one typed server → client frame. */
  send<M extends ServerMessageName>(message: M, ...data: ServerMessages[M]): void {
    this.ws.send(encodeServerMessage(message, ...data));
  }

  /** Sends a raw text frame (malformed input tests). */
  sendRaw(text: string): void {
    this.ws.send(text);
  }

  /** notifyStreamStatusEvent for a stream (the fields the SDK reads; the rest filled with plausible values). */
  status(mediaSessionId: string, status: ServerMessages["notifyStreamStatusEvent"][0]["status"], info?: string, name = "s"): void {
    this.send("notifyStreamStatusEvent", {
      mediaSessionId,
      name,
      status,
      ...(info ? { info } : {}),
      published: true,
      hasVideo: true,
      hasAudio: true,
      mediaProvider: "WebRTC",
      mediaType: "publish",
      record: false,
      audioState: { muted: false },
      videoState: { muted: false },
    });
  }

  /** Answers a publishStream/playStream offer with a fake answer SDP. */
  answer(mediaSessionId: string): void {
    this.send("setRemoteSDP", mediaSessionId, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=fake-answer\r\n", false);
  }

  /** Room event (OnDataEvent payload). */
  roomEvent(roomName: string, name: string, info: unknown): void {
    this.send("OnDataEvent", { payload: { roomName, name, info } });
  }

  /** DataStatusEvent for a sendData. */
  dataStatus(operationId: string, status: "ACCEPTED" | "FAILED", info?: string): void {
    this.send("DataStatusEvent", { operationId, status, ...(info ? { info } : {}) });
  }

  /** Abrupt drop (no close handshake): the client sees a close (1006). */
  drop(): void {
    this.ws.terminate();
  }

  /** Orderly close from the server side. */
  close(code = 1000): void {
    this.ws.close(code);
  }
}

type Handler = (f: ReceivedFrame) => void;

export class FakeWcsServer {
  readonly connections: FakeConnection[] = [];
  readonly frames: ReceivedFrame[] = [];
  readonly #handlers = new Map<string, Handler>();
  readonly #waiters = new Set<() => void>();
  /** Called for each new socket; return false to close it at once (refuse). */
  accept: (index: number) => boolean = () => true;

  private constructor(
    readonly wss: WebSocketServer,
    readonly url: string,
  ) {
    this.on("connection", (f) =>
      f.conn.send("getUserData", { ...f.arg, sessionId: f.conn.sessionId, authToken: `token-${f.conn.index}`, status: "ESTABLISHED" }),
    );
    wss.on("connection", (ws) => {
      const conn = new FakeConnection(ws, this.connections.length);
      this.connections.push(conn);
      if (!this.accept(conn.index)) {
        ws.terminate();
        return;
      }
      ws.on("message", (raw, isBinary) => {
        if (isBinary) return;
        const parsed = JSON.parse(String(raw)) as { message: string; data: unknown[] };
        const arg0 = parsed.data?.[0];
        const frame: ReceivedFrame = {
          message: parsed.message,
          data: parsed.data,
          arg: (typeof arg0 === "object" && arg0 !== null ? arg0 : {}) as ReceivedFrame["arg"],
          t: Date.now(),
          conn,
        };
        conn.received.push(frame);
        this.frames.push(frame);
        this.#handlers.get(parsed.message)?.(frame);
        for (const w of [...this.#waiters]) w();
      });
      for (const w of [...this.#waiters]) w();
    });
  }

  static async start(): Promise<FakeWcsServer> {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((res) => wss.once("listening", () => res()));
    const { port } = wss.address() as AddressInfo;
    return new FakeWcsServer(wss, `ws://127.0.0.1:${port}`);
  }

  /** Replaces the automatic handling of a client message (default: `connection` → getUserData). */
  on(message: string, handler: Handler | null): void {
    if (handler) this.#handlers.set(message, handler);
    else this.#handlers.delete(message);
  }

  /** Frames with this message name received so far (optionally on one connection). */
  received(message: string, conn?: FakeConnection): ReceivedFrame[] {
    return this.frames.filter((f) => f.message === message && (!conn || f.conn === conn));
  }

  /** Resolves with the first frame (received so far or later) matching `message` and `pred`. */
  waitFor(message: string, pred: (f: ReceivedFrame) => boolean = () => true, timeoutMs = 3000): Promise<ReceivedFrame> {
    return this.#until(() => this.frames.find((f) => f.message === message && pred(f)), timeoutMs, `frame ${message}`);
  }

  /** Resolves with connection number `index` (0-based) once it exists. */
  connection(index: number, timeoutMs = 3000): Promise<FakeConnection> {
    return this.#until(() => this.connections[index], timeoutMs, `connection #${index}`);
  }

  #until<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const v = probe();
        if (v === undefined) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(v);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.ws.terminate();
    await new Promise<void>((res) => this.wss.close(() => res()));
  }
}
