/**
 * Liveness that load cannot fake (media-node/heartbeat.ts, heartbeat-thread.ts): heartbeats come from a thread of
 * their own, so a main event loop that is blocked solid keeps heartbeating, with `seq` rising and the age of the last
 * main-loop snapshot growing. The "worker" is a child process (the test's own loop is the one blocked), which
 * verifies each signature and prints every heartbeat it gets with its arrival time.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import pino from "pino";
import { afterEach, expect, it } from "vitest";
import { HeartbeatThread } from "../../media-node/heartbeat.js";
import type { NodeHeartbeat } from "../../protocol/media-node.js";

const SECRET = "0123456789abcdef0123456789abcdef";

/** A tiny HTTP server in a child process: prints `{port}` once, then `{at, path, signed, body}` per request. */
const SERVER = `
const http = require("node:http");
const { createHmac } = require("node:crypto");
const secret = ${JSON.stringify(SECRET)};
const srv = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const h = req.headers;
    const mac = createHmac("sha256", secret).update(h["x-wcs-timestamp"] + "\\n" + h["x-wcs-nonce"] + "\\n" + req.method + "\\n" + req.url + "\\n" + body).digest("hex");
    process.stdout.write(JSON.stringify({ at: Date.now(), path: req.url, signed: mac === h["x-wcs-signature"], body: JSON.parse(body) }) + "\\n");
    res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
  });
});
srv.listen(0, "127.0.0.1", () => process.stdout.write(JSON.stringify({ port: srv.address().port }) + "\\n"));
`;

let server: ChildProcess | undefined;
let thread: HeartbeatThread | undefined;
afterEach(() => {
  thread?.stop();
  server?.kill("SIGKILL");
});

it("keeps heartbeating while the main event loop is blocked, and says so", async () => {
  server = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"] });
  const seen: Array<{ at: number; path: string; signed: boolean; body: NodeHeartbeat }> = [];
  const port = await new Promise<number>((resolve) => {
    createInterface({ input: server!.stdout! }).on("line", (line) => {
      const m = JSON.parse(line) as { port?: number };
      if (m.port) resolve(m.port);
      else seen.push(m as (typeof seen)[number]);
    });
  });

  const legs = [{ legId: "leg-1", streamName: "s1", ageMs: 0 }];
  thread = new HeartbeatThread({
    config: {
      workerUrl: `http://127.0.0.1:${port}`,
      secret: SECRET,
      nodeId: "n1",
      bootId: "b1",
      controlUrl: "http://127.0.0.1:9",
      intervalMs: 200,
      maxLegs: 0,
    },
    snapshot: () => ({ counts: { publishers: 1, players: 0 }, legs, legCount: 1 }),
    snapshotMs: 100,
    log: pino({ level: "silent" }),
  });
  thread.start();
  await new Promise((r) => setTimeout(r, 1000));

  const blockedFrom = Date.now();
  while (Date.now() - blockedFrom < 2500) {
    // a starved media loop: nothing else runs on this thread
  }
  const blockedTo = Date.now();
  await new Promise((r) => setTimeout(r, 500));
  thread.stop();
  await new Promise((r) => setTimeout(r, 300));

  expect(seen.length).toBeGreaterThan(5);
  expect(seen.every((s) => s.signed && s.path === "/internal/nodes/heartbeat")).toBe(true);
  const seqs = seen.map((s) => s.body.seq);
  expect(seqs[0]).toBe(1);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size).toBe(seqs.length);

  const during = seen.filter((s) => s.at > blockedFrom + 300 && s.at < blockedTo);
  // one every 200 ms while blocked (~11), allowing for a loaded machine
  expect(during.length).toBeGreaterThanOrEqual(6);
  const ages = during.map((s) => s.body.eventLoop!.snapshotAgeMs);
  expect(Math.max(...ages)).toBeGreaterThan(1500);
  expect(during.every((s) => s.body.legs?.[0]?.legId === "leg-1" && s.body.legCount === 1 && s.body.load.publishers === 1)).toBe(true);

  // once the loop runs again, fresh snapshots: the lag of the blocked period shows in the first one
  const after = seen.filter((s) => s.at > blockedTo + 250);
  expect(after.length).toBeGreaterThan(0);
  expect(Math.min(...after.map((s) => s.body.eventLoop!.snapshotAgeMs))).toBeLessThan(500);
  expect(Math.max(...seen.map((s) => s.body.eventLoop!.lagMaxMs))).toBeGreaterThan(2000);
  expect(Math.max(...seen.map((s) => s.body.eventLoop!.utilization))).toBeGreaterThan(0.9);
}, 15_000);
