/**
 * Snapshot requests in the Workers runtime, no media node (the decoding itself: test/pure/snapshot.test.ts and
 * test/e2e/snapshot.test.ts): WCS `snapshot` checked by the SessionDO (worker/session-snapshot.ts) and answered with
 * one `notifyStreamEvent` snapshotFailed on the request's mediaSessionId; REST `/rest-api/stream/snapshot`
 * (worker/rest.ts) with its statuses; the StreamDO's refusals (worker/stream-do.ts snapshot): not publishing, no video,
 * the node unreachable. Bad input changes nothing and the session keeps working.
 */
import { SELF } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { deadNode, leg, seedStream, uniqueName, WcsClient } from "./helpers.js";

const open: WcsClient[] = [];
async function client(connected = true): Promise<WcsClient> {
  const c = connected ? await WcsClient.connected() : await WcsClient.open();
  open.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

/** A PUBLISHING stream on a node nobody listens on; `media` the publisher's codecs. */
async function publishing(media: { videoCodec?: string; audioCodec?: string }): Promise<string> {
  const name = uniqueName("snap");
  await seedStream({ name, node: deadNode(), publisher: leg("publisher", crypto.randomUUID().replaceAll("-", "")), players: {}, media });
  return name;
}

/** The next frame of `c` must be snapshotFailed for `mediaSessionId` with `info`. */
async function expectFailed(c: WcsClient, mediaSessionId: string, info: string): Promise<void> {
  expect(await c.next()).toEqual({ message: "notifyStreamEvent", data: [{ mediaSessionId, type: "snapshotFailed", payload: { info } }] });
}

const restSnapshot = (body: unknown) =>
  SELF.fetch("http://x/rest-api/stream/snapshot", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });

describe("WCS snapshot", () => {
  it("without a mediaSessionId: fail (nowhere to answer); the session keeps working", async () => {
    const c = await client();
    c.send("snapshot", { name: "cam1" });
    expect(await c.next()).toEqual({ message: "fail", data: [{ apiMethod: "snapshot", info: "MediaSessionId is null" }] });
    c.send("snapshot", null);
    expect(await c.next()).toEqual({ message: "fail", data: [{ apiMethod: "snapshot", info: "MediaSessionId is null" }] });
    await c.expectIdle();
  });

  it("before connection: snapshotFailed Session not ready", async () => {
    const c = await client(false);
    c.send("snapshot", { name: "cam1", mediaSessionId: "m1" });
    await expectFailed(c, "m1", "Session not ready");
  });

  it("a bad name: snapshotFailed Invalid request (nothing asked of any stream)", async () => {
    const c = await client();
    c.send("snapshot", { mediaSessionId: "m2" });
    await expectFailed(c, "m2", "Invalid request: name Required");
    c.send("snapshot", { mediaSessionId: "m3", name: "x".repeat(257) });
    const f = await c.next();
    expect(f.message).toBe("notifyStreamEvent");
    expect(f.data[0]).toMatchObject({ mediaSessionId: "m3", type: "snapshotFailed", payload: { info: expect.stringMatching(/^Invalid request: name /) } });
    await c.expectIdle();
  });

  it("a stream that is not publishing: snapshotFailed Stream not found, on the asked mediaSessionId (need not be a stream of the session)", async () => {
    const c = await client();
    c.send("snapshot", { name: uniqueName("nobody"), mediaSessionId: "fresh-stream-object" });
    await expectFailed(c, "fresh-stream-object", "Stream not found");
  });

  it("an audio-only stream: snapshotFailed Stream has no video (no node asked)", async () => {
    const c = await client();
    const name = await publishing({ audioCodec: "opus" });
    c.send("snapshot", { name, mediaSessionId: "m4" });
    await expectFailed(c, "m4", "Stream has no video");
  });

  it("a stream whose node is unreachable: snapshotFailed media node lost", async () => {
    const c = await client();
    const name = await publishing({ videoCodec: "VP8", audioCodec: "opus" });
    c.send("snapshot", { name, mediaSessionId: "m5" });
    await expectFailed(c, "m5", "Failed by error: media node lost");
  });
});

describe("REST /rest-api/stream/snapshot", () => {
  it("400 a bad body, 404 an unknown stream, 409 an audio-only stream, 500 an unreachable node", async () => {
    const bad = await restSnapshot({ name: "cam1" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: expect.stringMatching(/streamName/) });
    expect((await restSnapshot("{not json")).status).toBe(400);

    const unknown = await restSnapshot({ streamName: uniqueName("nobody") });
    expect([unknown.status, await unknown.json()]).toEqual([404, { error: "Stream not found" }]);

    const audio = await restSnapshot({ streamName: await publishing({ audioCodec: "opus" }) });
    expect([audio.status, await audio.json()]).toEqual([409, { error: "Stream has no video" }]);

    const lost = await restSnapshot({ streamName: await publishing({ videoCodec: "VP8" }) });
    expect([lost.status, await lost.json()]).toEqual([500, { error: "Failed by error: media node lost" }]);
  });
});
