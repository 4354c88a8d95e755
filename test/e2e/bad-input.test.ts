/**
 * Bad input over the real WebSocket signaling (wrangler dev + a media node): every bad frame gets a clear WCS-style
 * error, the socket stays open, the session keeps working, and other sessions are unaffected.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeAllClients, spawnPlayer, spawnPublisher, WcsSocket } from "../clients/index.js";
import { startCluster, type Cluster } from "../harness/cluster.js";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ nodes: 1 });
});
afterEach(async () => {
  await closeAllClients();
});
afterAll(async () => {
  await cluster?.stop();
});

/** Sends one raw frame and returns the next frame the server sends back. */
async function exchange(ws: WcsSocket, frame: string | Buffer) {
  const next = new Promise<{ message: string; data: unknown[] }>((resolve) => {
    const off = ws.onFrame((f) => {
      if (f.message === "ping") return; // keep-alive frames may come at any time
      off();
      resolve({ message: f.message, data: f.data });
    });
  });
  ws.sendRaw(frame);
  return next;
}

const streamReq = (over: Record<string, unknown>) => ({
  mediaSessionId: randomUUID(),
  name: `bad-${randomUUID().slice(0, 6)}`,
  published: true,
  hasVideo: true,
  hasAudio: true,
  status: "PENDING",
  record: false,
  mediaProvider: "WebRTC",
  ...over,
});

describe("bad input", () => {
  it("answers each bad frame with a clear error and keeps the session working", async () => {
    const ws = await WcsSocket.connect(cluster.wsUrl);
    try {
      expect(await exchange(ws, "this is not json")).toEqual({ message: "fail", data: [{ apiMethod: "unknown", info: "Malformed JSON" }] });
      expect((await exchange(ws, JSON.stringify({ data: [] }))).data[0]).toMatchObject({ info: expect.stringMatching(/^Invalid request/) });
      expect(await exchange(ws, JSON.stringify({ message: "launchRocket", data: [{}] }))).toEqual({
        message: "fail",
        data: [{ apiMethod: "launchRocket", info: "Unknown message: launchRocket" }],
      });
      expect(await exchange(ws, Buffer.from([1, 2, 3]))).toEqual({ message: "fail", data: [{ apiMethod: "binary", info: "Binary frames are not supported" }] });
      const big = await exchange(ws, JSON.stringify({ message: "sendData", data: [{ payload: "x".repeat(2 * 1024 * 1024) }] }));
      expect(big.message).toBe("fail");
      expect((big.data[0] as { info: string }).info).toMatch(/^Frame too large: \d+ bytes, the limit is 1048576$/);

      // missing fields and wrong types
      const noId = await exchange(ws, JSON.stringify({ message: "publishStream", data: [{ name: "x", sdp: "v=0\r\n" }] }));
      expect(noId).toEqual({ message: "fail", data: [{ apiMethod: "publishStream", info: "MediaSessionId is null" }] });
      const wrongType = streamReq({ name: 42, sdp: "v=0\r\n" });
      const r1 = await exchange(ws, JSON.stringify({ message: "publishStream", data: [wrongType] }));
      expect(r1.message).toBe("notifyStreamStatusEvent");
      expect(r1.data[0]).toMatchObject({ mediaSessionId: wrongType.mediaSessionId, status: "FAILED", info: expect.stringMatching(/^Invalid request: name/) });

      // an sdp that is not SDP
      const notSdp = streamReq({ sdp: "hello, I am not an SDP" });
      const r2 = await exchange(ws, JSON.stringify({ message: "publishStream", data: [notSdp] }));
      expect(r2.data[0]).toMatchObject({ mediaSessionId: notSdp.mediaSessionId, status: "FAILED", info: "Invalid SDP: does not start with v=0" });
      const noMedia = streamReq({ sdp: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" });
      const r3 = await exchange(ws, JSON.stringify({ message: "publishStream", data: [noMedia] }));
      expect(r3.data[0]).toMatchObject({ status: "FAILED", info: "Invalid SDP: no audio or video m-line" });

      // the session still works: a real request gets its real answer
      const unknown = streamReq({ published: false, name: `nobody-${randomUUID()}`, sdp: "v=0\r\n" });
      const r4 = await exchange(ws, JSON.stringify({ message: "playStream", data: [unknown] }));
      expect(r4.data[0]).toMatchObject({ status: "FAILED" });
      expect(ws.isOpen).toBe(true);
    } finally {
      await ws.close();
    }
  });

  it("fails a stream request before connection with Session not ready", async () => {
    const ws = await WcsSocket.open(cluster.wsUrl);
    try {
      const req = streamReq({ sdp: "v=0\r\n" });
      const r = await exchange(ws, JSON.stringify({ message: "publishStream", data: [req] }));
      expect(r.data[0]).toMatchObject({ mediaSessionId: req.mediaSessionId, status: "FAILED", info: "Session not ready" });
    } finally {
      await ws.close();
    }
  });

  it("keeps serving other sessions while one sends garbage", async () => {
    const name = `ok-${randomUUID().slice(0, 8)}`;
    const noisy = await WcsSocket.connect(cluster.wsUrl);
    try {
      const pub = await spawnPublisher({ url: cluster.wsUrl, name });
      for (let i = 0; i < 50; i++) noisy.sendRaw(i % 2 ? "{{{" : JSON.stringify({ message: "playStream", data: [null] }));
      await pub.waitForStatus("PUBLISHING");
      const player = await spawnPlayer({ url: cluster.wsUrl, name });
      await player.waitForStatus("PLAYING");
      await player.waitForStats((s) => s.framesDecoded > 10, 15_000, "frames");
      expect(noisy.framesNamed("fail").length).toBeGreaterThanOrEqual(50);
      expect(noisy.isOpen).toBe(true);
    } finally {
      await noisy.close();
    }
  });
});
