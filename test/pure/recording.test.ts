/**
 * protocol/recording.ts: record names (WCS template, safe characters, never a path), the container of each codec
 * pair, the part-upload query, and HTTP byte ranges (RFC 9110 §14).
 */
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { CreateLegRequest } from "../../protocol/media-node.js";
import {
  parseByteRange,
  recordBaseName,
  RECORD_NAME_RE,
  recordingFormat,
  RecordingPartQuery,
  recordingPartQuery,
  RecordName,
} from "../../protocol/recording.js";
import { config } from "../../worker/config.js";
import { downloadAccess } from "../../worker/recording-access.js";

describe("record names", () => {
  it("follow {streamName}-{startTimeMillis}-{mediaSessionId} with unsafe characters replaced", () => {
    expect(recordBaseName("cam1", "5a072377-73c1-4caf-abd3-1234567890ab", 1767225600123)).toBe("cam1-1767225600123-5a072377-73c1-4caf-abd3-1234567890ab");
    expect(recordBaseName("../a b/ç.mp4", "id/..", 1)).toBe("___a_b___mp4-1-id___");
    expect(recordBaseName("", "", 0)).toBe("_-0-_");
    const long = recordBaseName("n".repeat(256), "m".repeat(128), 1767225600123);
    expect(long).toBe(`${"n".repeat(64)}-1767225600123-${"m".repeat(36)}`);
    expect(RECORD_NAME_RE.test(`${long}.webm`)).toBe(true);
  });

  it("are file names: no slash, no dot but the extension's, a known extension", () => {
    for (const ok of ["a.webm", "A_b-9.mp4", `${"x".repeat(200)}.webm`]) expect(RecordName.safeParse(ok).success, ok).toBe(true);
    for (const bad of ["../a.webm", "a/b.webm", "a..webm", ".webm", "a.b.webm", "a.mkv", "a.webm ", "a%2F.webm", `${"x".repeat(201)}.webm`, "ä.webm"]) {
      expect(RecordName.safeParse(bad).success, bad).toBe(false);
    }
  });

  it("are asked for only on publisher legs that answer an offer", () => {
    const base = { legId: "l", streamName: "s", role: "publisher" as const, offer: "v=0", record: { name: "s-1-m" } };
    expect(CreateLegRequest.safeParse(base).success).toBe(true);
    expect(CreateLegRequest.safeParse({ ...base, role: "player" }).success).toBe(false);
    expect(CreateLegRequest.safeParse({ ...base, offer: undefined, cascade: "pull" }).success).toBe(false);
    expect(CreateLegRequest.safeParse({ ...base, record: { name: "../etc" } }).success).toBe(false);
  });
});

describe("recordingFormat", () => {
  it.each([
    ["VP8", "opus", { container: "webm", contentType: "video/webm", video: true, audio: true }],
    ["vp9", undefined, { container: "webm", contentType: "video/webm", video: true, audio: false }],
    ["H264", "opus", { container: "mp4", contentType: "video/mp4", video: true, audio: true }],
    ["H264", "PCMU", { container: "mp4", contentType: "video/mp4", video: true, audio: false }],
    [undefined, "opus", { container: "webm", contentType: "audio/webm", video: false, audio: true }],
    ["AV1", "opus", { container: "webm", contentType: "audio/webm", video: false, audio: true }],
    ["AV1", "PCMA", null],
    [undefined, undefined, null],
  ])("%s + %s", (v, a, want) => {
    expect(recordingFormat(v, a)).toEqual(want);
  });
});

describe("part upload query", () => {
  it("round-trips through the query string the worker parses", () => {
    const q = { nodeId: "n 1", bootId: "b&1", recordName: "a-1-b.webm", part: 3, size: 5_242_880, sha256: "a".repeat(64) };
    const parsed = RecordingPartQuery.parse(Object.fromEntries(new URLSearchParams(recordingPartQuery(q).slice(1))));
    expect(parsed).toEqual(q);
    expect(RecordingPartQuery.safeParse({ ...q, part: "0" }).success).toBe(false);
    expect(RecordingPartQuery.safeParse({ ...q, part: "10001" }).success).toBe(false);
    expect(RecordingPartQuery.safeParse({ ...q, sha256: "A".repeat(64) }).success).toBe(false);
  });
});

describe("parseByteRange", () => {
  it.each([
    ["bytes=0-99", 1000, { start: 0, end: 99 }],
    ["bytes=100-", 1000, { start: 100, end: 999 }],
    ["bytes=900-5000", 1000, { start: 900, end: 999 }],
    ["bytes=-100", 1000, { start: 900, end: 999 }],
    ["bytes=-5000", 1000, { start: 0, end: 999 }],
    [" bytes=5-5 ", 1000, { start: 5, end: 5 }],
    ["bytes=1000-", 1000, "unsatisfiable"],
    ["bytes=1000-1001", 1000, "unsatisfiable"],
    ["bytes=-0", 1000, "unsatisfiable"],
    ["bytes=0-", 0, "unsatisfiable"],
    ["bytes=5-4", 1000, undefined],
    ["bytes=0-1,5-6", 1000, undefined],
    ["items=0-1", 1000, undefined],
    ["bytes=-", 1000, undefined],
    ["bytes=a-b", 1000, undefined],
    [undefined, 1000, undefined],
    [null, 1000, undefined],
  ])("%s of %i bytes", (header, size, want) => {
    expect(parseByteRange(header, size)).toEqual(want);
  });
});

describe("downloadAccess (GET /client/records/<recordName>)", () => {
  const SECRET = "k".repeat(32);
  const on = { ...config({} as never), AUTH: true, AUTH_JWT_SECRET: SECRET, REST_API_TOKEN: "rest-token-0123456789" };
  const token = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setAudience("wcs-edge").setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));

  it("is open with AUTH off", async () => {
    const a = await downloadAccess({ ...on, AUTH: false }, undefined, undefined);
    expect(a.ok && a.allows("anything")).toBe(true);
  });

  it("takes an admin token or a play grant of the stream, from the header or ?token=", async () => {
    const viewer = await token({ sub: "v", play: ["cam-*"] });
    for (const [header, query] of [[`Bearer ${viewer}`, undefined], [undefined, viewer]] as const) {
      const a = await downloadAccess(on, header, query);
      expect(a.ok).toBe(true);
      if (a.ok) expect([a.allows("cam-1"), a.allows("other")]).toEqual([true, false]);
    }
    for (const admin of ["rest-token-0123456789", await token({ sub: "ops", admin: true })]) {
      const a = await downloadAccess(on, `Bearer ${admin}`, undefined);
      expect(a.ok && a.allows("other")).toBe(true);
    }
  });

  it("refuses a missing or bad token (401), a header that is not Bearer (400), AUTH on without keys (503)", async () => {
    expect(await downloadAccess(on, undefined, undefined)).toMatchObject({ ok: false, status: 401 });
    expect(await downloadAccess(on, "Bearer nope", undefined)).toMatchObject({ ok: false, status: 401 });
    expect(await downloadAccess(on, "Basic dTpw", undefined)).toMatchObject({ ok: false, status: 400 });
    expect(await downloadAccess({ ...config({} as never), AUTH: true }, undefined, "x")).toMatchObject({ ok: false, status: 503 });
  });
});
