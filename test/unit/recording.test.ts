/**
 * Recording uploads in the Workers runtime (worker/recordings.ts, worker/recording-do.ts) with Miniflare's R2: the
 * media node's signed calls as a node makes them (part bodies streamed into R2 and checked against their SHA-256),
 * completion into one object, the RecordingDO's rules (its node only, no gap, R2's part sizes), a lost node's parts
 * completed into a playable prefix, and the REST calls' bad input. The whole path with ffmpeg and real publishers is in
 * test/e2e/recording.test.ts.
 */
import { runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { MIN_PART_BYTES, recordBaseName, RecordingPaths, recordingPartQuery, RECORDINGS_PREFIX, signRequest } from "../../protocol/index.js";
import { recordingOf, type RecordingMeta } from "../../worker/recording-do.js";
import { E, nodeCall } from "./helpers.js";

const NODE = { nodeId: "node-rec", bootId: "boot-1" };

function meta(recordName: string): RecordingMeta {
  return { recordName, streamName: `stream-${recordName}`, mediaSessionId: "msid-1", legId: crypto.randomUUID(), contentType: "video/webm", createdAt: Date.now(), ...NODE };
}

const newName = () => `unit-${crypto.randomUUID()}.webm`;

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A part upload as the node sends it: signed path + query (empty body slot), the bytes as the body. */
async function putPart(recordName: string, part: number, bytes: Uint8Array<ArrayBuffer>, over: { sha256?: string; size?: number; node?: typeof NODE } = {}): Promise<Response> {
  const path =
    RecordingPaths.part +
    recordingPartQuery({ ...(over.node ?? NODE), recordName, part, size: over.size ?? bytes.length, sha256: over.sha256 ?? (await sha256(bytes)) });
  const headers = await signRequest("unit-test-secret", "PUT", path, "");
  return SELF.fetch(`http://x${path}`, { method: "PUT", body: bytes, headers });
}

/** `n` bytes of a pattern that starts at `seed`. */
function bytesOf(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 4096) b[i] = (seed + i / 4096) & 0xff;
  return b;
}

async function begun(recordName: string): Promise<void> {
  expect(await recordingOf(E, recordName).reserve(meta(recordName))).toBe(true);
  const res = await nodeCall(RecordingPaths.begin, { ...NODE, recordName });
  expect(res.status).toBe(200);
}

describe("recording uploads", () => {
  it("streams parts into R2 and completes them into one object; a name is reserved once", async () => {
    const name = newName();
    await begun(name);
    expect(await recordingOf(E, name).reserve(meta(name))).toBe(false);
    const p1 = bytesOf(MIN_PART_BYTES, 1);
    const p2 = bytesOf(12_345, 2);
    expect((await putPart(name, 2, p2)).status).toBe(200);
    expect((await putPart(name, 1, p1)).status).toBe(200);
    const done = await nodeCall(RecordingPaths.complete, { ...NODE, recordName: name, parts: 2, bytes: p1.length + p2.length });
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ ok: true, size: p1.length + p2.length });
    const obj = await E.RECORDINGS!.get(RECORDINGS_PREFIX + name);
    const got = new Uint8Array(await obj!.arrayBuffer());
    expect(got.length).toBe(p1.length + p2.length);
    const whole = new Uint8Array(p1.length + p2.length);
    whole.set(p1);
    whole.set(p2, p1.length);
    expect(await sha256(got), "the object is part 1 then part 2").toBe(await sha256(whole));
    expect(obj!.httpMetadata?.contentType).toBe("video/webm");
    expect(obj!.customMetadata).toMatchObject({ streamName: `stream-${name}`, mediaSessionId: "msid-1" });
    // completing again is idempotent; a late part is refused
    expect((await nodeCall(RecordingPaths.complete, { ...NODE, recordName: name, parts: 2, bytes: p1.length + p2.length })).status).toBe(200);
    expect((await putPart(name, 3, p2)).status).toBe(409);
  });

  it("refuses a part whose bytes do not match the signed digest or size, and parts of another node", async () => {
    const name = newName();
    await begun(name);
    const p = bytesOf(1000, 3);
    expect((await putPart(name, 1, p, { sha256: "0".repeat(64) })).status).toBe(400);
    expect((await putPart(name, 1, p, { size: 999 })).status).toBe(400);
    expect((await putPart(name, 1, p, { node: { nodeId: "node-rec", bootId: "boot-2" } })).status).toBe(409);
    expect((await putPart(`unit-${crypto.randomUUID()}.webm`, 1, p)).status).toBe(404);
    // the refused part was not counted
    const done = await nodeCall(RecordingPaths.complete, { ...NODE, recordName: name, parts: 1, bytes: 1000 });
    expect(done.status).toBe(409);
    expect(await done.json()).toMatchObject({ code: "conflict", info: "Part 1 of 1 was not uploaded" });
    // unsigned
    const unsigned = await SELF.fetch(`http://x${RecordingPaths.part}?recordName=${name}`, { method: "PUT", body: p });
    expect(unsigned.status).toBe(401);
  });

  it("refuses to complete parts of unequal size (R2's rule) with a clear reason", async () => {
    const name = newName();
    await begun(name);
    expect((await putPart(name, 1, bytesOf(1000, 4))).status).toBe(200);
    expect((await putPart(name, 2, bytesOf(1000, 5))).status).toBe(200);
    const done = await nodeCall(RecordingPaths.complete, { ...NODE, recordName: name, parts: 2, bytes: 2000 });
    expect(done.status).toBe(409);
    expect((await done.json()) as { info: string }).toMatchObject({ info: expect.stringContaining("every part but the last must have the same size") });
  });

  it("completes a lost node's recording with the parts 1..k it uploaded, or aborts it when there are none", async () => {
    const name = newName();
    await begun(name);
    const p1 = bytesOf(MIN_PART_BYTES, 6);
    const p2 = bytesOf(MIN_PART_BYTES, 7);
    expect((await putPart(name, 1, p1)).status).toBe(200);
    expect((await putPart(name, 2, p2)).status).toBe(200);
    expect((await putPart(name, 4, p2)).status).toBe(200); // after a gap: not part of the prefix
    await recordingOf(E, name).nodeLost(NODE.nodeId, "another-boot");
    expect((await recordingOf(E, name).describe())?.phase).toBe("recording");
    await recordingOf(E, name).nodeLost(NODE.nodeId, NODE.bootId);
    const state = await recordingOf(E, name).describe();
    expect(state).toMatchObject({ phase: "done", partial: true, size: 2 * MIN_PART_BYTES });
    expect((await E.RECORDINGS!.head(RECORDINGS_PREFIX + name))?.size).toBe(2 * MIN_PART_BYTES);
    expect((await putPart(name, 3, p2)).status).toBe(409);

    const none = newName();
    await begun(none);
    await recordingOf(E, none).nodeLost(NODE.nodeId, NODE.bootId);
    expect(await recordingOf(E, none).describe()).toMatchObject({ phase: "aborted", reason: "media node lost" });
    expect(await E.RECORDINGS!.head(RECORDINGS_PREFIX + none)).toBeNull();
  });

  it("forgets a reserved recording whose publisher leg is gone (the alarm's check)", async () => {
    const name = newName();
    const stub = recordingOf(E, name);
    expect(await stub.reserve(meta(name))).toBe(true);
    await runInDurableObject(stub, (_inst, state) => state.storage.setAlarm(Date.now()));
    // the runtime may run the due alarm itself before runDurableObjectAlarm finds it: wait for its effect
    await runDurableObjectAlarm(stub);
    await vi.waitFor(async () => expect(await stub.describe()).toBeNull(), { timeout: 5000, interval: 50 });
  });
});

describe("recordings REST", () => {
  it("refuses names that are not record names before storage, and unknown ones with 404", async () => {
    for (const bad of ["..%2F..%2Fsecret", "a.b.webm", "x.mkv", "%00.webm"]) {
      expect((await SELF.fetch(`http://x/client/records/${bad}`)).status, bad).toBe(400);
      expect((await SELF.fetch(`http://x/rest-api/recordings/${bad}`)).status, bad).toBe(400);
    }
    expect((await SELF.fetch("http://x/client/records/nope.webm")).status).toBe(404);
    const del = await SELF.fetch("http://x/rest-api/recordings/delete", { method: "POST", body: JSON.stringify({ recordName: "../x.webm" }) });
    expect(del.status).toBe(400);
    const filter = await SELF.fetch("http://x/rest-api/recordings/find_all", { method: "POST", body: JSON.stringify({ limit: 0 }) });
    expect(filter.status).toBe(400);
  });
});

describe("recordings find_all", () => {
  /** Stores a finished recording object as RecordingDO leaves it (metadata only matters here). */
  const store = (recordName: string, streamName: string, mediaSessionId: string) =>
    E.RECORDINGS!.put(RECORDINGS_PREFIX + recordName, "x", { customMetadata: { streamName, mediaSessionId, createdAt: "1" }, httpMetadata: { contentType: "video/webm" } });
  const findAll = async (filter: object) => {
    const res = await SELF.fetch("http://x/rest-api/recordings/find_all", { method: "POST", body: JSON.stringify(filter) });
    const body = (await res.json()) as { recordName: string; streamName: string }[] | { error: string };
    return { status: res.status, body, next: res.headers.get("X-Next-Cursor") };
  };

  it("pages one stream's recordings with an exact cursor and leaves out a stream whose record names start the same", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const stream = `fa ${tag}`; // record names start "fa_<tag>-", as those of "fa_<tag>" do
    const mine = [1, 2, 3, 4, 5].map((t) => `${recordBaseName(stream, `m${t}`, t)}.webm`);
    await Promise.all(mine.map((n) => store(n, stream, "m")));
    await Promise.all([6, 7].map((t) => store(`${recordBaseName(`fa_${tag}`, "o", t)}.webm`, `fa_${tag}`, "o")));

    const seen: string[] = [];
    let cursor: string | undefined;
    for (const expected of [2, 2, 1]) {
      const page = await findAll({ streamName: stream, limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.status).toBe(200);
      const list = page.body as { recordName: string; streamName: string }[];
      expect(list.length).toBe(expected);
      expect(list.every((r) => r.streamName === stream)).toBe(true);
      seen.push(...list.map((r) => r.recordName));
      cursor = page.next ?? undefined;
      expect(cursor === undefined, `cursor after ${seen.length}`).toBe(seen.length === mine.length);
    }
    expect(seen).toEqual([...mine].sort());
    expect((await findAll({ cursor: "not a record name" })).status).toBe(400);
  });

  it("finds a mediaSessionId's recording behind more than one R2 page of others", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const fillers = Array.from({ length: 1050 }, (_, i) => `fill-${tag}-${String(i).padStart(4, "0")}.webm`);
    for (let i = 0; i < fillers.length; i += 50) await Promise.all(fillers.slice(i, i + 50).map((n) => store(n, `fill-${tag}`, "other")));
    const target = `fill-${tag}-zzzz.webm`;
    await store(target, `fill-${tag}`, `wanted-${tag}`);
    const found = await findAll({ mediaSessionId: `wanted-${tag}` });
    expect(found.status).toBe(200);
    expect((found.body as { recordName: string }[]).map((r) => r.recordName)).toEqual([target]);
    expect(found.next).toBeNull();
  });
});
