/**
 * Server-to-server relays on the media node (protocol/relay.ts): the node acts as a WCS client of a remote server.
 *
 * - push: an offer-mode sendonly player leg of the local stream (fed by its StreamRouter like any player) makes the
 *   offer; the node opens a WebSocket to `uri`, sends `connection`, then `publishStream {name: remoteStreamName, sdp}`
 *   and applies the `setRemoteSDP` answer.
 * - pull: an offer-mode recvonly publisher leg of `localStreamName` makes the offer (`playStream`); once the answer is
 *   applied and ICE/DTLS are up, its RTP feeds the local StreamRouter as the publisher's (the worker's StreamDO holds
 *   the leg as the stream's publisher and hears `connected` / `failed` like for any publisher leg).
 *
 * The server's `ping` is answered with `pong`; its `notifyStreamStatusEvent`s for our mediaSessionId are followed:
 * PUBLISHING/PLAYING → relay event `active`; FAILED/UNPUBLISHED/STOPPED, a closed socket, the leg failing (ICE/DTLS
 * with the remote node) or disappearing (local publisher gone) → the relay ends: `unPublishStream`/`stopStream` sent
 * when the socket is still open, socket closed, leg deleted, relay event `failed` with the reason. A relay stopped by
 * the worker (DELETE) ends the same way without an event.
 */
import type { Logger } from "pino";
import WebSocket from "ws";
import { LEG_FAILURE_INFO } from "../protocol/media-node.js";
import type { RefusalCode } from "../protocol/refusal.js";
import { RelayInfo, type RelayEvent, type StartRelayRequest, type StartRelayResponse } from "../protocol/relay.js";
import { MediaNodeError } from "./errors.js";
import type { LegManager, LegNotice } from "./legs.js";

export type RelayEventBody = Omit<RelayEvent, "nodeId" | "bootId">;

export interface RelayManagerOptions {
  manager: LegManager;
  /** Sends a relay event to the worker (signed, queued, in order per relay). */
  report: (ev: RelayEventBody) => void;
  log: Logger;
}

type Frame = { message?: unknown; data?: unknown };

/** One relay: its socket, its leg and where it stands. */
class Relay {
  ws: WebSocket | undefined;
  /** The remote accepted our offer (answer applied); failures from now on are reported as events. */
  accepted = false;
  /** The remote has spoken WCS (sent a frame we understood): from then on its closes are reported as such. */
  spokeWcs = false;
  ended = false;
  settle: ((err?: MediaNodeError) => void) | undefined;

  constructor(readonly req: StartRelayRequest) {}
}

const CLIENT_INFO = "wcs-edge media node relay";

export class RelayManager {
  private readonly relays = new Map<string, Relay>();
  private readonly byLeg = new Map<string, Relay>();

  constructor(private readonly o: RelayManagerOptions) {}

  /** Whether a relay holds the leg `legId` (heartbeat `relay` flag: the RelayDO, not a StreamDO, knows it). */
  holdsLeg(legId: string): boolean {
    return this.byLeg.has(legId);
  }

  /** Relays currently running (for status and shutdown). */
  get size(): number {
    return this.relays.size;
  }

  /**
   * Starts a relay and resolves once the remote accepted its offer (answer applied).
   * @throws MediaNodeError conflict (relay id in use), not_found (push: no local stream), remote_error (the remote
   *   refused: its `info`, or cannot be reached), timeout (no answer within `timeoutMs`), and the leg's creation
   *   errors
   */
  async start(req: StartRelayRequest): Promise<StartRelayResponse> {
    if (this.relays.has(req.relayId)) throw new MediaNodeError("conflict", `Relay ${req.relayId} already exists`);
    const relay = new Relay(req);
    this.relays.set(req.relayId, relay);
    this.byLeg.set(req.legId, relay);
    const log = this.o.log.child({ relayId: req.relayId, direction: req.direction, uri: req.uri });
    let created: { offer: string; media: { videoCodec?: string; audioCodec?: string } };
    try {
      const res =
        req.direction === "push"
          ? await this.o.manager.create({ legId: req.legId, streamName: req.localStreamName, role: "player" })
          : await this.o.manager.createPullLeg({ legId: req.legId, streamName: req.localStreamName });
      if (!("offer" in res)) throw new MediaNodeError("error", "relay leg made no offer");
      created = res;
    } catch (e) {
      this.forget(relay);
      throw e;
    }
    if (relay.ended) throw new MediaNodeError("stopped", "Relay was stopped while it was being created");
    log.info({ leg: req.legId, media: created.media }, "relay offer made, connecting to the remote server");

    const done = new Promise<MediaNodeError | undefined>((resolve) => (relay.settle = resolve));
    const timer = setTimeout(
      () => (relay.spokeWcs ? this.end(relay, RelayInfo.REMOTE_TIMEOUT, { code: "timeout" }) : this.end(relay, RelayInfo.REMOTE_UNREACHABLE)),
      req.timeoutMs,
    );
    this.connect(relay, created.offer, created.media, log);
    const err = await done;
    clearTimeout(timer);
    if (err) throw err;
    log.info("relay accepted by the remote server");
    return { ok: true, ...created.media };
  }

  /** Ends a relay at the worker's request (no event): stop message to the remote, socket closed, leg deleted. */
  stop(relayId: string): boolean {
    const relay = this.relays.get(relayId);
    if (!relay) return false;
    this.end(relay, RelayInfo.TERMINATED, { byWorker: true, code: "stopped" });
    return true;
  }

  /** Leg lifecycle notices (legs.ts): a relay leg that fails, closes or disappears ends its relay. */
  onLegNotice(n: LegNotice): void {
    const relay = this.byLeg.get(n.legId);
    if (!relay || relay.ended) return;
    if (n.kind === "failed") this.end(relay, n.failure === "error" ? `${LEG_FAILURE_INFO.error}: ${n.detail}` : LEG_FAILURE_INFO[n.failure]);
    else if (n.kind === "closed") this.end(relay, `${RelayInfo.REMOTE_CLOSED} (media: ${n.detail})`);
    else if (n.kind === "removed") this.end(relay, n.cause === "publisher_gone" ? RelayInfo.LOCAL_STREAM_STOPPED : `Relay leg removed (${n.cause})`);
  }

  /** Ends every relay (shutdown), reporting each as failed. */
  closeAll(reason: string): void {
    for (const r of [...this.relays.values()]) this.end(r, reason);
  }

  private connect(relay: Relay, offer: string, media: { videoCodec?: string; audioCodec?: string }, log: Logger): void {
    const { req } = relay;
    let ws: WebSocket;
    try {
      ws = new WebSocket(req.uri, { handshakeTimeout: Math.min(req.timeoutMs, 10_000) });
    } catch (e) {
      log.warn({ error: (e as Error).message }, "remote server unreachable");
      this.end(relay, RelayInfo.REMOTE_UNREACHABLE);
      return;
    }
    relay.ws = ws;
    const send = (message: string, obj: unknown) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ message, data: [obj] }));
    };
    ws.on("open", () => {
      send("connection", {
        appKey: "defaultApp",
        mediaProviders: ["WebRTC"],
        clientVersion: "2.0",
        clientOSVersion: CLIENT_INFO,
        clientBrowserVersion: CLIENT_INFO,
        msePacketizationVersion: 2,
        custom: { relay: req.direction },
      });
    });
    ws.on("message", (raw, isBinary) => {
      if (isBinary || relay.ended) return;
      let frame: Frame;
      try {
        frame = JSON.parse(raw.toString()) as Frame;
      } catch {
        return;
      }
      const data = Array.isArray(frame.data) ? (frame.data as unknown[]) : [];
      switch (frame.message) {
        case "ping":
          ws.send(JSON.stringify({ message: "pong", data: [null] }));
          return;
        case "getUserData":
          relay.spokeWcs = true;
          send(req.direction === "push" ? "publishStream" : "playStream", {
            mediaSessionId: req.remoteMediaSessionId,
            name: req.remoteStreamName,
            published: req.direction === "push",
            hasVideo: req.direction === "push" ? media.videoCodec !== undefined : true,
            hasAudio: req.direction === "push" ? media.audioCodec !== undefined : true,
            status: "PENDING",
            record: false,
            mediaProvider: "WebRTC",
            sdp: offer,
            custom: { relay: req.direction },
          });
          return;
        case "setRemoteSDP": {
          if (data[0] !== req.remoteMediaSessionId || typeof data[1] !== "string") return;
          try {
            this.o.manager.applyAnswer(req.legId, { answer: data[1] });
          } catch (e) {
            const info = e instanceof MediaNodeError ? e.info : String(e);
            log.warn({ info }, "remote answer refused");
            this.end(relay, `Remote answer refused: ${info}`);
            return;
          }
          relay.accepted = true;
          relay.settle?.();
          relay.settle = undefined;
          return;
        }
        case "notifyStreamStatusEvent": {
          const ev = data[0] as { mediaSessionId?: unknown; status?: unknown; info?: unknown } | undefined;
          if (!ev || ev.mediaSessionId !== req.remoteMediaSessionId) return;
          const status = String(ev.status);
          const info = typeof ev.info === "string" && ev.info ? ev.info : undefined;
          log.info({ status, info }, "remote stream status");
          if (status === "PUBLISHING" || status === "PLAYING") {
            if (relay.accepted) this.o.report({ relayId: req.relayId, state: "active" });
          } else if (status === "FAILED" || status === "UNPUBLISHED" || status === "STOPPED") {
            this.end(relay, info ?? `Remote stream ${status}`, { tellRemote: false });
          }
          return;
        }
        case "fail": {
          const f = data[0] as { apiMethod?: unknown; info?: unknown } | undefined;
          log.warn({ apiMethod: f?.apiMethod, info: f?.info }, "remote server sent fail");
          return;
        }
        default:
          return;
      }
    });
    // Before the remote speaks WCS, every failure (refused, unreachable, not a WebSocket, closed) gets one text: the
    // answer must not tell a closed port from an open one. The details are logged here.
    ws.on("close", (code, reason) => {
      if (relay.ended) return;
      if (!relay.spokeWcs) {
        log.warn({ code, reason: reason.toString() }, "remote server closed before speaking WCS");
        this.end(relay, RelayInfo.REMOTE_UNREACHABLE);
        return;
      }
      this.end(relay, `${RelayInfo.REMOTE_CLOSED} (${code}${reason.length ? ` ${reason.toString()}` : ""})`);
    });
    ws.on("error", (err) => {
      if (relay.ended) return;
      log.warn({ error: err.message, spokeWcs: relay.spokeWcs }, "relay socket error");
      this.end(relay, RelayInfo.REMOTE_UNREACHABLE);
    });
  }

  /**
   * Ends a relay once: tells the remote (unPublishStream/stopStream, unless it already ended the stream), closes the
   * socket, deletes the leg. Before acceptance the pending start() fails with `info` and `code` (default
   * remote_error); after it, a `failed` event goes to the worker unless the worker asked for the end (`byWorker`).
   * `tellRemote: false`: the remote ended the stream itself.
   */
  private end(relay: Relay, info: string, o: { code?: RefusalCode; tellRemote?: boolean; byWorker?: boolean } = {}): void {
    if (relay.ended) return;
    relay.ended = true;
    const { req } = relay;
    this.forget(relay);
    const ws = relay.ws;
    if (ws) {
      if (ws.readyState === WebSocket.OPEN) {
        if (o.tellRemote !== false && relay.accepted) {
          ws.send(JSON.stringify({ message: req.direction === "push" ? "unPublishStream" : "stopStream", data: [{ mediaSessionId: req.remoteMediaSessionId, name: req.remoteStreamName }] }));
        }
        ws.close(1000, "relay ended");
        // a peer that never completes the closing handshake
        setTimeout(() => ws.terminate(), 2000).unref();
      } else if (ws.readyState === WebSocket.CONNECTING) {
        ws.terminate();
      }
    }
    this.o.manager.delete(req.legId);
    if (relay.settle) {
      relay.settle(new MediaNodeError(o.code ?? "remote_error", info));
      relay.settle = undefined;
      this.o.log.warn({ relayId: req.relayId, info }, "relay refused");
      return;
    }
    this.o.log.info({ relayId: req.relayId, info }, "relay ended");
    if (!o.byWorker) this.o.report({ relayId: req.relayId, state: "failed", info });
  }

  private forget(relay: Relay): void {
    if (this.relays.get(relay.req.relayId) === relay) this.relays.delete(relay.req.relayId);
    if (this.byLeg.get(relay.req.legId) === relay) this.byLeg.delete(relay.req.legId);
  }
}
