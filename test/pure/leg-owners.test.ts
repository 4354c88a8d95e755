/**
 * worker/leg-owners.ts OWNER_RULES, the table of leg owners, in Node: it has no `cloudflare:` import (its Worker
 * imports are types only), so it runs here with fake Durable Object stubs.
 *
 * It is imported with a computed specifier on purpose: the root tsconfig (Node types) checks test/pure, and a static
 * import would make it check worker/ too, which needs the Workers types (worker/tsconfig.json). The shape used here is
 * declared below; worker/tsconfig.json checks the module itself.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { StreamEvent } from "../../protocol/stream-events-types.js";
import { StreamStatus, type StreamStatusEvent } from "../../protocol/wcs-types.js";
import { statusEvent, type LegOwner, type LegRecord } from "../../worker/stream-types.js";

type Kind = LegOwner["kind"];
interface Rules {
  notify(env: unknown, owner: unknown, leg: unknown, stream: string, event: StreamStatusEvent): Promise<void>;
  notifyEvent: ((env: unknown, owner: unknown, leg: unknown, stream: string, event: StreamEvent) => Promise<void>) | null;
  trickles: boolean;
  serverOffer: boolean;
  ends: ReadonlySet<string>;
}
const LEG_OWNERS = "../../worker/leg-owners.js";
const { OWNER_RULES, ownerRules } = (await import(LEG_OWNERS)) as {
  OWNER_RULES: Record<Kind, Rules>;
  ownerRules(owner: { kind: Kind }): Rules;
};

const leg = (owner: LegOwner): LegRecord => ({
  legId: "leg-1",
  role: "publisher",
  owner,
  mediaSessionId: "ms-1",
  hasAudio: true,
  hasVideo: true,
  status: StreamStatus.PUBLISHING,
  createdAt: 1,
  deadline: 1,
});
/** The stream object of the publisher leg "leg-1" of "cam" (a session's, whatever owner is told). */
const event = (status: StreamStatus, info?: string): StreamStatusEvent => statusEvent("cam", leg({ kind: "session", sessionId: "s" }), status, info);

/** A fake Durable Object namespace: ids are strings, stubs record their calls. */
function namespace(method: string, fail = false) {
  const calls: unknown[][] = [];
  return {
    calls,
    ns: {
      idFromString: (s: string) => `string:${s}`,
      idFromName: (s: string) => `name:${s}`,
      get: (id: string) => ({
        [method]: async (...args: unknown[]) => {
          calls.push([id, ...args]);
          if (fail) throw new Error("stub unreachable");
        },
      }),
    },
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("OWNER_RULES", () => {
  it("one row per owner kind: trickle, server offers, how it ends its leg", () => {
    const rows = Object.fromEntries(
      Object.entries(OWNER_RULES).map(([k, r]) => [k, { trickles: r.trickles, serverOffer: r.serverOffer, ends: [...r.ends].sort() }]),
    );
    expect(rows).toEqual({
      session: { trickles: false, serverOffer: false, ends: ["gone", "stop"] },
      http: { trickles: true, serverOffer: false, ends: ["stop"] },
      ws: { trickles: true, serverOffer: true, ends: ["gone"] },
      relay: { trickles: false, serverOffer: false, ends: ["failed", "stop"] },
    });
  });

  it("ownerRules picks the row of the owner's kind", () => {
    for (const kind of ["session", "http", "ws", "relay"] as const) expect(ownerRules({ kind })).toBe(OWNER_RULES[kind]);
  });

  it("session: the status goes to the SessionDO of the owner's session id", async () => {
    const s = namespace("deliver");
    const owner: LegOwner = { kind: "session", sessionId: "abc" };
    const ev = event(StreamStatus.PUBLISHING);
    await OWNER_RULES.session.notify({ SESSION: s.ns }, owner, leg(owner), "cam", ev);
    expect(s.calls).toEqual([["string:abc", ev]]);
  });

  it("ws: the status goes to the WsEndpointDO of the owner's endpoint id", async () => {
    const s = namespace("deliver");
    const owner: LegOwner = { kind: "ws", endpointId: "e1" };
    const ev = event(StreamStatus.FAILED, "Failed by ICE error");
    await OWNER_RULES.ws.notify({ WS_ENDPOINT: s.ns }, owner, leg(owner), "cam", ev);
    expect(s.calls).toEqual([["string:e1", ev]]);
  });

  it("relay: only the end of its local stream is told, to the one RelayDO", async () => {
    const s = namespace("onLocalEnd");
    const owner: LegOwner = { kind: "relay", relayId: "r1" };
    await OWNER_RULES.relay.notify({ RELAY: s.ns }, owner, leg(owner), "cam", event(StreamStatus.PUBLISHING));
    expect(s.calls).toEqual([]);
    const ev = event(StreamStatus.UNPUBLISHED);
    await OWNER_RULES.relay.notify({ RELAY: s.ns }, owner, leg(owner), "cam", ev);
    expect(s.calls).toEqual([["name:global", "r1", "leg-1", ev]]);
  });

  it("http: nobody to tell; the status is logged", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const owner: LegOwner = { kind: "http", etag: "t" };
    await OWNER_RULES.http.notify({}, owner, leg(owner), "cam", event(StreamStatus.PUBLISHING));
    expect(log).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(log.mock.calls[0]![0]))).toEqual({
      level: "info",
      event: "http_leg_status",
      stream: "cam",
      legId: "leg-1",
      role: "publisher",
      mediaSessionId: "ms-1",
      status: "PUBLISHING",
    });
  });

  it("stream events (players): a session's go to its SessionDO; http, ws and relay owners have no channel for them", async () => {
    expect(Object.fromEntries(Object.entries(OWNER_RULES).map(([k, r]) => [k, r.notifyEvent !== null]))).toEqual({
      session: true,
      http: false,
      ws: false,
      relay: false,
    });
    const s = namespace("deliverStreamEvent");
    const owner: LegOwner = { kind: "session", sessionId: "abc" };
    const ev: StreamEvent = { mediaSessionId: "ms-1", type: "audioMuted", payload: { streamName: "cam" } };
    await OWNER_RULES.session.notifyEvent!({ SESSION: s.ns }, owner, leg(owner), "cam", ev);
    expect(s.calls).toEqual([["string:abc", ev]]);

    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const down = namespace("deliverStreamEvent", true);
    await expect(OWNER_RULES.session.notifyEvent!({ SESSION: down.ns }, owner, leg(owner), "cam", ev)).resolves.toBeUndefined();
    expect(JSON.parse(String(warn.mock.calls[0]![0]))).toMatchObject({
      level: "warn",
      event: "stream_event_delivery_failed",
      stream: "cam",
      owner: "session",
      mediaSessionId: "ms-1",
      type: "audioMuted",
      error: "Error: stub unreachable",
    });
  });

  it.each([
    ["session", "SESSION", "deliver", { kind: "session", sessionId: "abc" }],
    ["ws", "WS_ENDPOINT", "deliver", { kind: "ws", endpointId: "e1" }],
    ["relay", "RELAY", "onLocalEnd", { kind: "relay", relayId: "r1" }],
  ] as const)("%s: a failed delivery is logged, never thrown", async (kind, binding, method, owner) => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const s = namespace(method, true);
    await expect(OWNER_RULES[kind].notify({ [binding]: s.ns }, owner, leg(owner), "cam", event(StreamStatus.FAILED))).resolves.toBeUndefined();
    expect(s.calls).toHaveLength(1);
    expect(JSON.parse(String(warn.mock.calls[0]![0]))).toMatchObject({
      level: "warn",
      event: "status_delivery_failed",
      stream: "cam",
      legId: "leg-1",
      owner: kind,
      status: "FAILED",
      error: "Error: stub unreachable",
    });
  });
});
