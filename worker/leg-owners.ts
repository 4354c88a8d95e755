/**
 * The one table of leg owners (worker/stream-types.ts LegOwner): per kind, how the owner hears its leg's
 * asynchronous statuses, whether its client trickles ICE candidates through the worker or answers a server offer,
 * and how it may end its leg. The StreamDO consults only this table; adding an entry point is adding a row.
 *
 * | kind    | told of statuses                          | trickles | server offer | ends with (`StreamDO.end`)          |
 * |---------|-------------------------------------------|----------|--------------|-------------------------------------|
 * | session | `SessionDO.deliver` (notifyStreamStatus…) | no       | no           | stop (unPublish/stopStream), gone   |
 * | http    | nobody (logged; DTLS close tells client)  | yes      | no           | stop (DELETE)                       |
 * | ws      | `WsEndpointDO.deliver` ({type:"status"})  | yes      | yes          | gone (socket closed / bad answer)   |
 * | relay   | `RelayDO.onLocalEnd` (terminal only)      | no       | no           | stop (terminate), failed (remote)   |
 *
 * Legs of every kind also end without their owner: ICE/DTLS timeout or failure, a transport closed by the client,
 * their media node lost, REST terminate, and (players) their publisher's end.
 */
import { StreamStatus, type StreamStatusEvent } from "../protocol/index.js";
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
  /** Its client trickles candidates through the worker (`StreamDO.addRemoteCandidates`). */
  trickles: boolean;
  /** Its players may be server-offer legs whose answer comes later (`StreamDO.playWithServerOffer` / `answerLeg`). */
  serverOffer: boolean;
  /** The ways the owner may end its own leg. */
  ends: ReadonlySet<OwnerEnd["kind"]>;
}

type Rules = { [K in LegOwnerKind]: OwnerRules<Extract<LegOwner, { kind: K }>> };

/** Runs a delivery, logging (never throwing) when the recipient cannot be reached. */
async function delivering(stream: string, leg: LegRecord, event: StreamStatusEvent, send: () => Promise<unknown>): Promise<void> {
  try {
    await send();
  } catch (err) {
    log("warn", "status_delivery_failed", { stream, legId: leg.legId, owner: leg.owner.kind, mediaSessionId: leg.mediaSessionId, status: event.status, error: String(err) });
  }
}

export const OWNER_RULES: Rules = {
  session: {
    notify: (env, owner, leg, stream, event) => delivering(stream, leg, event, () => sessionOf(env, owner.sessionId).deliver(event)),
    trickles: false,
    serverOffer: false,
    ends: new Set(["stop", "gone"]),
  },
  http: {
    // a WHIP/WHEP resource has nobody to tell; its client sees the transport end
    notify: async (_env, _owner, leg, stream, event) =>
      log("info", "http_leg_status", { stream, legId: leg.legId, role: leg.role, mediaSessionId: leg.mediaSessionId, status: event.status, info: event.info }),
    trickles: true,
    serverOffer: false,
    ends: new Set(["stop"]),
  },
  ws: {
    notify: (env, owner, leg, stream, event) =>
      delivering(stream, leg, event, () => env.WS_ENDPOINT.get(env.WS_ENDPOINT.idFromString(owner.endpointId)).deliver(event)),
    trickles: true,
    serverOffer: true,
    ends: new Set(["gone"]),
  },
  relay: {
    // the relay only needs to learn that its local stream ended
    notify: async (env, owner, leg, stream, event) => {
      if (event.status === StreamStatus.PUBLISHING) return;
      await delivering(stream, leg, event, () => relaysOf(env).onLocalEnd(owner.relayId, leg.legId, event));
    },
    trickles: false,
    serverOffer: false,
    ends: new Set(["stop", "failed"]),
  },
};

/** The rules of `owner`'s kind. */
export function ownerRules<O extends LegOwner>(owner: O): OwnerRules<O> {
  return OWNER_RULES[owner.kind] as unknown as OwnerRules<O>;
}
