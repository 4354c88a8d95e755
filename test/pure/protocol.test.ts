/**
 * The small pure parts of protocol/: candidate grammar (ice.ts), trickle fragments and content types (whip.ts),
 * WebSocket-endpoint candidates (ws-endpoint.ts), the per-wire status tables of every refusal code (whip.ts, rest.ts,
 * media-node.ts, ws-endpoint.ts), refusals and the JSON body parser; and the media node's MediaNodeError.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { MediaNodeError, invalidSdp, noCommonCodecs } from "../../media-node/errors.js";
import { MAX_CANDIDATES, candidateAddress, isCandidate } from "../../protocol/ice.js";
import { parseJsonBody } from "../../protocol/json-body.js";
import { API_HTTP_STATUS, CreateLegRequest, LEG_FAILURE_INFO, MediaNodePaths } from "../../protocol/media-node.js";
import { REFUSAL_CODES, refusal, type RefusalCode } from "../../protocol/refusal.js";
import { REST_HTTP_STATUS } from "../../protocol/rest.js";
import { Info } from "../../protocol/wcs-types.js";
import {
  MAX_FRAGMENT_BYTES,
  SDP_CONTENT_TYPE,
  TRICKLE_CONTENT_TYPE,
  WHIP_HTTP_STATUS,
  isContentType,
  parseTrickleFragment,
} from "../../protocol/whip.js";
import { WS_CLOSE_CODE, WsCloseCode, normalizeCandidate } from "../../protocol/ws-endpoint.js";

const HOST = "candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1";
const SRFLX = "candidate:842163049 1 udp 1677729535 198.51.100.7 52200 typ srflx raddr 0.0.0.0 rport 0 generation 0";
const TCP = "candidate:473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active";
const MDNS = "candidate:1560499547 1 udp 2113937151 2cf0b2c0-0842-4fe3-aaa0-4556a2dfbadc.local 33192 typ host generation 0";
const V6 = "candidate:3 1 UDP 2130705919 fd00::3f:ad47 58712 typ host";

// ---------------------------------------------------------------------------------------------------------------
describe("protocol/ice.ts", () => {
  it.each([
    [HOST, true],
    [SRFLX, true],
    [TCP, true],
    [MDNS, true],
    [V6, true],
    ["candidate:1 1 UDP 2122260223 127.0.0.1 9 typ relay raddr 1.2.3.4 rport 5", true],
    ["candidate:1 1 udp 1 127.0.0.1 9 typ prflx", true],
    [`a=${HOST}`, false],
    ["candidate:1 1 udp 2122260223 127.0.0.1 9", false],
    ["candidate:1 1 sctp 2122260223 127.0.0.1 9 typ host", false],
    ["candidate:1 1 udp 2122260223 127.0.0.1 9 typ bogus", false],
    ["candidate:1 1 udp 2122260223 127.0.0.1 123456 typ host", false],
    [`candidate:${"f".repeat(33)} 1 udp 1 127.0.0.1 9 typ host`, false],
    [`candidate:${"f".repeat(32)} 1 udp 1 127.0.0.1 9 typ host`, true],
    ["", false],
  ])("isCandidate(%j) → %s", (line, want) => {
    expect(isCandidate(line)).toBe(want);
  });

  it.each([
    [HOST, "192.0.2.1"],
    [MDNS, "2cf0b2c0-0842-4fe3-aaa0-4556a2dfbadc.local"],
    [V6, "fd00::3f:ad47"],
    ["candidate:1  1\tudp 1 10.0.0.1 9 typ host", "10.0.0.1"],
    ["candidate:1 1 udp", ""],
  ])("candidateAddress(%j) → %j", (line, address) => {
    expect(candidateAddress(line)).toBe(address);
  });

  it("MAX_CANDIDATES is 64", () => {
    expect(MAX_CANDIDATES).toBe(64);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("protocol/whip.ts parseTrickleFragment (RFC 8840 application/trickle-ice-sdpfrag)", () => {
  it("a PATCH body as RFC 9725 §4.3.1 shows it: ICE credentials, one media section, candidates, end-of-candidates", () => {
    const frag = [
      "a=ice-options:trickle ice2",
      "a=group:BUNDLE 0 1",
      "m=audio 9 UDP/TLS/RTP/SAVPF 111",
      "a=mid:0",
      "a=ice-ufrag:EsAw",
      "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1",
      `a=${HOST}`,
      `a=${TCP}`,
      "a=end-of-candidates",
      "",
    ].join("\r\n");
    expect(parseTrickleFragment(frag)).toEqual({
      ok: true,
      frag: {
        iceUfrag: "EsAw",
        icePwd: "P2uYro0UCOQ4zxjKXaWCBui1",
        candidates: [
          { candidate: HOST, mid: "0" },
          { candidate: TCP, mid: "0" },
        ],
        endOfCandidates: true,
      },
    });
  });

  it("several media sections (each its own mid, set anywhere in the section), session-level candidates without mid, LF, blank and unknown lines", () => {
    const frag = [
      "a=ice-ufrag:first",
      "a=ice-pwd:pwd1",
      `a=${SRFLX}`,
      "",
      "m=video 9 UDP/TLS/RTP/SAVPF 96",
      `a=${HOST}`,
      "a=mid:v",
      "c=IN IP4 0.0.0.0",
      "m=audio 9 UDP/TLS/RTP/SAVPF 111",
      "a=ice-ufrag:second",
      "  a=mid:a  ",
      `a=${V6}`,
      "m=audio 9 UDP/TLS/RTP/SAVPF 111",
      `a=${MDNS}`,
    ].join("\n");
    expect(parseTrickleFragment(frag)).toEqual({
      ok: true,
      frag: {
        iceUfrag: "first",
        icePwd: "pwd1",
        candidates: [{ candidate: SRFLX }, { candidate: HOST, mid: "v" }, { candidate: V6, mid: "a" }, { candidate: MDNS }],
        endOfCandidates: false,
      },
    });
  });

  it("an empty fragment (an ICE restart probe or a bare end-of-candidates) is fine", () => {
    expect(parseTrickleFragment("")).toEqual({ ok: true, frag: { candidates: [], endOfCandidates: false } });
    expect(parseTrickleFragment("a=end-of-candidates\r\n")).toEqual({ ok: true, frag: { candidates: [], endOfCandidates: true } });
  });

  it("refuses a malformed candidate line (quoted, cut to 120 characters)", () => {
    const bad = `a=candidate:1 1 udp 1 127.0.0.1 9 typ nope ${"x".repeat(200)}`;
    expect(parseTrickleFragment(`m=audio 9 RTP/AVP 0\r\n${bad}\r\n`)).toEqual({ ok: false, reason: `malformed candidate line: ${bad.slice(0, 120)}` });
  });

  it(`refuses more than ${MAX_CANDIDATES} candidates`, () => {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `a=candidate:${i} 1 udp 1 10.0.0.1 ${1000 + i} typ host`).join("\r\n");
    const ok = parseTrickleFragment(lines(MAX_CANDIDATES));
    expect(ok.ok && ok.frag.candidates.length).toBe(64);
    expect(parseTrickleFragment(lines(MAX_CANDIDATES + 1))).toEqual({ ok: false, reason: "more than 64 candidates in one fragment" });
  });

  it("isContentType: media type only, case and parameters ignored", () => {
    expect(isContentType("application/sdp", SDP_CONTENT_TYPE)).toBe(true);
    expect(isContentType(" Application/SDP ; charset=utf-8", SDP_CONTENT_TYPE)).toBe(true);
    expect(isContentType("application/trickle-ice-sdpfrag", TRICKLE_CONTENT_TYPE)).toBe(true);
    expect(isContentType("application/sdpx", SDP_CONTENT_TYPE)).toBe(false);
    expect(isContentType("text/plain; x=application/sdp", SDP_CONTENT_TYPE)).toBe(false);
    expect(isContentType(undefined, SDP_CONTENT_TYPE)).toBe(false);
    expect(isContentType(null, SDP_CONTENT_TYPE)).toBe(false);
    expect(isContentType("", SDP_CONTENT_TYPE)).toBe(false);
  });

  it("constants", () => {
    expect([SDP_CONTENT_TYPE, TRICKLE_CONTENT_TYPE, MAX_FRAGMENT_BYTES]).toEqual(["application/sdp", "application/trickle-ice-sdpfrag", 16384]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("protocol/ws-endpoint.ts normalizeCandidate", () => {
  it.each([
    ["null (end of candidates)", null, { ok: true, candidate: null }],
    ["an empty string", "", { ok: true, candidate: null }],
    ["an empty RTCIceCandidateInit", { candidate: "", sdpMid: "0", sdpMLineIndex: 0 }, { ok: true, candidate: null }],
    ["a bare string", HOST, { ok: true, candidate: { candidate: HOST } }],
    ["a string with a= and blanks", `  a=${HOST} `, { ok: true, candidate: { candidate: HOST } }],
    ["an RTCIceCandidateInit (JSON.stringify(e.candidate))", { candidate: HOST, sdpMid: "1", sdpMLineIndex: 1, usernameFragment: "EsAw" }, { ok: true, candidate: { candidate: HOST, mid: "1", mLineIndex: 1 } }],
    ["without sdpMid", { candidate: MDNS, sdpMid: null, sdpMLineIndex: 0 }, { ok: true, candidate: { candidate: MDNS, mLineIndex: 0 } }],
    ["with an empty sdpMid and no index", { candidate: V6, sdpMid: "" }, { ok: true, candidate: { candidate: V6 } }],
    ["malformed", "candidate:1 1 udp", { ok: false, reason: "malformed candidate: candidate:1 1 udp" }],
    ["malformed, in an object", { candidate: "a=candidate:x" }, { ok: false, reason: "malformed candidate: candidate:x" }],
  ])("%s", (_what, input, want) => {
    expect(normalizeCandidate(input)).toEqual(want);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("status tables: one entry per refusal code on every wire", () => {
  const table: Array<[RefusalCode, number, number, { status: number; retryAfter?: number }, number]> = [
    // code                media-node API  REST  WHIP/WHEP                       WebSocket close
    ["invalid_request", 400, 400, { status: 400 }, 4400],
    ["unauthorized", 401, 401, { status: 401 }, 4401],
    ["forbidden", 403, 403, { status: 403 }, 4403],
    ["not_found", 404, 404, { status: 409, retryAfter: 2 }, 4404],
    ["name_in_use", 409, 409, { status: 409 }, 4409],
    ["conflict", 409, 409, { status: 409 }, 4409],
    ["invalid_sdp", 400, 400, { status: 400 }, 4400],
    ["no_common_codecs", 400, 400, { status: 422 }, 4400],
    ["no_media_node", 503, 503, { status: 503, retryAfter: 5 }, 4503],
    ["node_full", 503, 503, { status: 503, retryAfter: 5 }, 4503],
    ["node_lost", 503, 500, { status: 503, retryAfter: 5 }, 4503],
    ["timeout", 504, 500, { status: 504 }, 4408],
    ["remote_error", 502, 500, { status: 500 }, 4500],
    ["stopped", 409, 500, { status: 409 }, 4500],
    ["rate_limited", 429, 429, { status: 429, retryAfter: 10 }, 4429],
    ["not_configured", 503, 503, { status: 503 }, 4503],
    ["error", 500, 500, { status: 500 }, 4500],
  ];

  it("lists every refusal code, in order", () => {
    expect(table.map((r) => r[0])).toEqual([...REFUSAL_CODES]);
    for (const t of [API_HTTP_STATUS, REST_HTTP_STATUS, WHIP_HTTP_STATUS, WS_CLOSE_CODE]) expect(Object.keys(t).sort()).toEqual([...REFUSAL_CODES].sort());
  });

  it.each(table)("%s → API %d, REST %d, WHIP %o, WebSocket %d", (code, api, rest, whip, ws) => {
    expect(API_HTTP_STATUS[code]).toBe(api);
    expect(REST_HTTP_STATUS[code]).toBe(rest);
    expect(WHIP_HTTP_STATUS[code]).toEqual(whip);
    expect(WS_CLOSE_CODE[code]).toBe(ws);
  });

  it("WebSocket close codes", () => {
    expect(WsCloseCode).toEqual({ NORMAL: 1000, FAILED: 4000, BAD_REQUEST: 4400, UNAUTHORIZED: 4401, FORBIDDEN: 4403, NOT_FOUND: 4404, TIMEOUT: 4408, CONFLICT: 4409, TOO_MANY_REQUESTS: 4429, ERROR: 4500, UNAVAILABLE: 4503 });
  });

  it("LEG_FAILURE_INFO: the Web SDK's info strings", () => {
    expect(LEG_FAILURE_INFO).toEqual({ ice: "Failed by ICE error", dtls: "Failed by DTLS error", error: "Failed by error" });
    expect(LEG_FAILURE_INFO.ice).toBe(Info.FAILED_BY_ICE_ERROR);
  });
});

describe("protocol/media-node.ts paths", () => {
  it("leg ids are URL-encoded into the paths", () => {
    expect(MediaNodePaths.leg("a/b c")).toBe("/v1/legs/a%2Fb%20c");
    expect(MediaNodePaths.candidates("l?1")).toBe("/v1/legs/l%3F1/candidates");
    expect(MediaNodePaths.answer("l#1")).toBe("/v1/legs/l%231/answer");
    expect([MediaNodePaths.legs, MediaNodePaths.status, MediaNodePaths.heartbeat, MediaNodePaths.events]).toEqual(["/v1/legs", "/v1/status", "/internal/nodes/heartbeat", "/internal/nodes/events"]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("refusals and errors", () => {
  it("refusal() builds the Refusal shape", () => {
    expect(refusal("node_full", "Media node is full")).toEqual({ ok: false, code: "node_full", info: "Media node is full" });
  });

  it("MediaNodeError carries code, info, the API status and the ApiError body", () => {
    const e = new MediaNodeError("name_in_use", "Stream x already has a publisher on this node");
    expect(e).toBeInstanceOf(Error);
    expect([e.name, e.message, e.code, e.info, e.status]).toEqual(["MediaNodeError", "Stream x already has a publisher on this node", "name_in_use", "Stream x already has a publisher on this node", 409]);
    expect(e.toBody()).toEqual({ code: "name_in_use", info: "Stream x already has a publisher on this node" });
    expect(invalidSdp("no m-lines").toBody()).toEqual({ code: "invalid_sdp", info: "Invalid SDP: no m-lines" });
    expect(invalidSdp("x").status).toBe(400);
    expect(noCommonCodecs().toBody()).toEqual({ code: "no_common_codecs", info: "No common codecs" });
  });
});

describe("protocol/json-body.ts parseJsonBody", () => {
  const Req = z.object({ name: z.string().min(1), n: z.number().int().optional() });

  it.each([
    ['{"name":"a","n":2}', undefined, { ok: true, value: { name: "a", n: 2 } }],
    ["  \n ", {}, { ok: false, code: "invalid_request", info: "Invalid body: name Required" }],
    ["", { name: "dflt" }, { ok: true, value: { name: "dflt" } }],
    ["", undefined, { ok: false, code: "invalid_request", info: "Invalid body: body Required" }],
    ["{name:", undefined, { ok: false, code: "invalid_request", info: "Malformed JSON body" }],
    ['{"name":""}', undefined, { ok: false, code: "invalid_request", info: "Invalid body: name String must contain at least 1 character(s)" }],
    ['{"name":"a","n":1.5}', undefined, { ok: false, code: "invalid_request", info: "Invalid body: n Expected integer, received float" }],
    ["[]", undefined, { ok: false, code: "invalid_request", info: "Invalid body: body Expected object, received array" }],
  ])("%j (empty = %j)", (text, empty, want) => {
    expect(parseJsonBody(text, Req, empty)).toEqual(want);
  });

  it("names nested paths (media-node CreateLegRequest)", () => {
    expect(parseJsonBody('{"legId":"l","streamName":"s","role":"viewer"}', CreateLegRequest)).toEqual({
      ok: false,
      code: "invalid_request",
      info: "Invalid body: role Invalid enum value. Expected 'publisher' | 'player', received 'viewer'",
    });
  });
});
