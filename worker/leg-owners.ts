/**
 * The one table of leg owners (worker/stream-types.ts LegOwner): per kind, how the owner hears its leg's
 * asynchronous statuses and (players) its stream's events, whether its client trickles ICE candidates through the
 * worker or answers a server offer, and how it may end its leg. The StreamDO consults only this table; adding an
 * entry point is adding a row.
 *
 * | kind    | told of statuses                          | stream events (players)          | trickles | server offer | ends with (`StreamDO.end`)          |
 * |---------|-------------------------------------------|----------------------------------|----------|--------------|-------------------------------------|
 * | session | `SessionDO.deliver` (notifyStreamStatus…) | `SessionDO.deliverStreamEvent`   | no       | no           | stop (unPublish/stopStream), gone   |
 * | http    | nobody (logged; DTLS close tells client)  | none (no channel to the client)  | yes      | no           | stop (DELETE)                       |
 * | ws      | `WsEndpointDO.deliver` ({type:"status"})  | none (the endpoint has no frame) | yes      | yes          | gone (socket closed / bad answer)   |
 * | relay   | `RelayDO.onLocalEnd` (terminal only)      | none (publisher legs only)       | no       | no           | stop (terminate), failed (remote)   |
 *
 * Legs of every kind also end without their owner: ICE/DTLS timeout or failure, a transport closed by the client,
 * their media node lost, REST terminate, and (players) their publisher's end.
 */
import { StreamStatus, type StreamEvent, type StreamStatusEvent } from "../protocol/index.js";
import { relaysOf, sessionOf, type Env } from "./env.js";
import { log } from "./log.js";
import type { LegOwner, LegOwnerKind, LegRecord, OwnerEnd } from "./stream-types.js";

/** What the StreamDO needs to know about one kind of owner. */
export interface OwnerRules<O extends LegOwner> {
  /**
   * Tells the owner an asynchronous status of its leg (a request's own result is returned to the caller instead).
   * Never throws: delivery failures are logged.
   */
  notify(env: Env, owner: O, leg: LegRecord, stream: string, event: StreamStatusEvent): Promise<void>;
  /**
   * Tells the owner of a player leg a stream event of its stream (`notifyStreamEvent`, worker/stream-events.ts), or
   * null when its client has no way to hear one. Never throws: delivery failures are logged.
   */
  notifyEvent: ((env: Env, owner: O, leg: LegRecord, stream: string, event: StreamEvent) => Promise<void>) | null;
  /** Its client trickles candidates through the worker (`StreamDO.addRemoteCandidates`). */
  trickles: boolean;
  /** Its players may be server-offer legs whose answer comes later (`StreamDO.playWithServerOffer` / `answerLeg`). */
  serverOffer: boolean;
  /** The ways the owner may end its own leg. */
  ends: ReadonlySet<OwnerEnd["kind"]>;
}

type Rules = { [K in LegOwnerKind]: OwnerRules<Extract<LegOwner, { kind: K }>> };

/**
 * Runs a delivery, logging (never throwing) when the recipient cannot be reached.
 * @param what what is delivered, for the log: a status event's `{status}`, a stream event's `{type}`
 */
async function delivering(stream: string, leg: LegRecord, what: { status: string } | { type: string }, send: () => Promise<unknown>): Promise<void> {
  try {
    await send();
  } catch (err) {
    log("warn", "status" in what ? "status_delivery_failed" : "stream_event_delivery_failed", { stream, legId: leg.legId, owner: leg.owner.kind, mediaSessionId: leg.mediaSessionId, ...what, error: String(err) });
  }
}

export const OWNER_RULES: Rules = {
  session: {
    notify: (env, owner, leg, stream, event) => delivering(stream, leg, { status: event.status }, () => sessionOf(env, owner.sessionId).deliver(event)),
    notifyEvent: (env, owner, leg, stream, event) =>
      delivering(stream, leg, { type: event.type }, () => sessionOf(env, owner.sessionId).deliverStreamEvent(event)),
    trickles: false,
    serverOffer: false,
    ends: new Set(["stop", "gone"]),
  },
  http: {
    // a WHIP/WHEP resource has nobody to tell; its client sees the transport end
    notify: async (_env, _owner, leg, stream, event) =>
      log("info", "http_leg_status", { stream, legId: leg.legId, role: leg.role, mediaSessionId: leg.mediaSessionId, status: event.status, info: event.info }),
    notifyEvent: null,
    trickles: true,
    serverOffer: false,
    ends: new Set(["stop"]),
  },
  ws: {
    notify: (env, owner, leg, stream, event) =>
      delivering(stream, leg, { status: event.status }, () => env.WS_ENDPOINT.get(env.WS_ENDPOINT.idFromString(owner.endpointId)).deliver(event)),
    // the endpoint's frames (protocol/ws-endpoint.ts) carry no stream events
    notifyEvent: null,
    trickles: true,
    serverOffer: true,
    ends: new Set(["gone"]),
  },
  relay: {
    // the relay only needs to learn that its local stream ended
    notify: async (env, owner, leg, stream, event) => {
      if (event.status === StreamStatus.PUBLISHING) return;
      await delivering(stream, leg, { status: event.status }, () => relaysOf(env).onLocalEnd(owner.relayId, leg.legId, event));
    },
    // its legs are publishers (a pull's local stream); a push relay's player leg is the node's own, not a player of
    // the StreamDO: stream events are not passed on to remote servers
    notifyEvent: null,
    trickles: false,
    serverOffer: false,
    ends: new Set(["stop", "failed"]),
  },
};

/** The rules of `owner`'s kind. */
export function ownerRules<O extends LegOwner>(owner: O): OwnerRules<O> {
  return OWNER_RULES[owner.kind] as unknown as OwnerRules<O>;
}
