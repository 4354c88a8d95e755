/**
 * CHILD PROCESS of test/e2e/sdk-node.test.ts: runs one scenario of the Node SDK (client/node.ts, ws + @roamhq/wrtc)
 * against a real cluster, prints one JSON line `RESULT {...}` and ends with process.exit() (wrtc can crash at exit
 * and keeps the event loop alive; see client/node.ts).
 *
 *   node --import tsx test/sdk/node-scenarios.ts stream ws://127.0.0.1:8787
 *   node --import tsx test/sdk/node-scenarios.ts room ws://127.0.0.1:8787
 *   node --import tsx test/sdk/node-scenarios.ts restore ws://127.0.0.1:8787   (prints `STEP active` for the parent)
 */
import { randomUUID } from "node:crypto";
import {
  createSession,
  createSyntheticStream,
  ROOM_EVENT,
  roomApi,
  STREAM_STATUS,
  watchVideoFrames,
  type Participant,
  type RoomMessage,
  type Stream,
  type VideoFrameStats,
} from "../../client/node.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const [scenario, url] = process.argv.slice(2);

function record(stream: Stream): string[] {
  const out: string[] = [];
  for (const st of [STREAM_STATUS.PENDING, STREAM_STATUS.PUBLISHING, STREAM_STATUS.PLAYING, STREAM_STATUS.UNPUBLISHED, STREAM_STATUS.STOPPED, STREAM_STATUS.FAILED] as const) {
    stream.on(st, (s) => out.push(st === STREAM_STATUS.FAILED ? `${st}:${s.getInfo() ?? ""}` : st));
  }
  return out;
}

/** Frames received over `ms` after the first `warmup` frames: the two snapshots around the window. */
async function measure(player: Stream, warmup: number, ms: number): Promise<{ first: VideoFrameStats; later: VideoFrameStats; firstFrameMs: number }> {
  const remote = player.getRemoteMediaStream();
  if (!remote) throw new Error("player has no remote MediaStream");
  const t0 = Date.now();
  const mon = watchVideoFrames(remote);
  const first = await mon.waitForFrames(warmup, 20_000);
  const firstFrameMs = (first.firstFrameAt ?? Date.now()) - t0;
  await sleep(ms);
  const later = mon.stats();
  mon.stop();
  return { first, later, firstFrameMs };
}

async function streamScenario(): Promise<Record<string, unknown>> {
  const name = `sdk-node-${randomUUID().slice(0, 8)}`;
  const t0 = Date.now();
  const pubSession = await createSession({ urlServer: url! }).established(10_000);
  const media = createSyntheticStream({ video: { width: 640, height: 480, fps: 30 } });
  const pub = pubSession.createStream({ name, stream: media.stream });
  const pubStatuses = record(pub);
  pub.publish();
  await pub.active(20_000);
  const publishMs = Date.now() - t0;

  const playSession = await createSession({ urlServer: url! }).established(10_000);
  const t1 = Date.now();
  const player = playSession.createStream({ name });
  const playStatuses = record(player);
  player.play();
  await player.active(20_000);
  const playMs = Date.now() - t1;
  const frames = await measure(player, 30, 3000);

  player.stop();
  const playerEnd = await player.ended(10_000);
  pub.stop();
  const pubEnd = await pub.ended(10_000);
  const framesSent = media.video?.framesSent() ?? 0;
  media.stop();
  pubSession.disconnect();
  playSession.disconnect();
  return {
    name,
    publishMs,
    playMs,
    ...frames,
    framesSent,
    pubStatuses,
    playStatuses,
    playerEnd,
    pubEnd,
    sessionIds: [pubSession.getUserData()?.sessionId, playSession.getUserData()?.sessionId],
  };
}

async function roomScenario(): Promise<Record<string, unknown>> {
  const roomName = `sdk-room-${randomUUID().slice(0, 8)}`;
  const aliceName = `alice-${randomUUID().slice(0, 4)}`;
  const bobName = `bob-${randomUUID().slice(0, 4)}`;
  const alice = roomApi.connect({ urlServer: url!, username: aliceName });
  const bob = roomApi.connect({ urlServer: url!, username: bobName });
  const aliceEvents: string[] = [];
  const bobEvents: string[] = [];
  const bobMessages: RoomMessage[] = [];
  const aliceMessages: RoomMessage[] = [];

  const aliceRoom = alice
    .join({ name: roomName })
    .on(ROOM_EVENT.JOINED, (p) => aliceEvents.push(`JOINED ${p.name()}`))
    .on(ROOM_EVENT.LEFT, (p) => aliceEvents.push(`LEFT ${p.name()}`))
    .on(ROOM_EVENT.MESSAGE, (m) => aliceMessages.push(m));
  await aliceRoom.joined(10_000);
  const aliceStateAtJoin = aliceRoom.getParticipants().map((p) => p.name());

  let published!: (p: Participant) => void;
  const bobSawPublished = new Promise<Participant>((r) => (published = r));
  const bobRoom = bob
    .join({ name: roomName })
    .on(ROOM_EVENT.PUBLISHED, (p) => {
      bobEvents.push(`PUBLISHED ${p.name()} ${p.getStreams().map((s) => s.streamName()).join(",")}`);
      published(p);
    })
    .on(ROOM_EVENT.MESSAGE, (m) => bobMessages.push(m));
  await bobRoom.joined(10_000);
  const bobStateAtJoin = bobRoom.getParticipants().map((p) => p.name());
  for (let i = 0; i < 100 && !aliceRoom.getParticipant(bobName); i++) await sleep(50);

  // messages both ways: alice → bob directly, bob → everyone (broadcast extension)
  await aliceRoom.getParticipant(bobName)!.sendMessage("hello bob");
  await bobRoom.sendMessageToAll("hi all");
  for (let i = 0; i < 100 && (!bobMessages.length || !aliceMessages.length); i++) await sleep(50);

  // alice publishes, bob plays what PUBLISHED announced
  const media = createSyntheticStream({ video: { width: 640, height: 480, fps: 30 } });
  const pub = aliceRoom.publish({ stream: media.stream });
  const pubStatuses = record(pub);
  await pub.active(20_000);
  const p = await Promise.race([bobSawPublished, sleep(15_000).then(() => null)]);
  if (!p) throw new Error("bob never got PUBLISHED");
  const player = p.getStreams()[0]!.play();
  const playStatuses = record(player);
  await player.active(20_000);
  const frames = await measure(player, 30, 2000);

  await bobRoom.leave();
  for (let i = 0; i < 100 && !aliceEvents.some((e) => e.startsWith("LEFT")); i++) await sleep(50);
  const playerEnd = await player.ended(10_000);
  await aliceRoom.leave();
  const pubEnd = await pub.ended(10_000);
  media.stop();
  alice.disconnect();
  bob.disconnect();
  return {
    roomName,
    aliceName,
    bobName,
    pubName: pub.name(),
    aliceStateAtJoin,
    bobStateAtJoin,
    aliceEvents,
    bobEvents,
    bobMessages: bobMessages.map((m) => ({ from: m.from.name(), text: m.text })),
    aliceMessages: aliceMessages.map((m) => ({ from: m.from.name(), text: m.text })),
    pubStatuses,
    playStatuses,
    ...frames,
    playerEnd,
    pubEnd,
  };
}

/**
 * Auto-restore across a media node loss: publisher and player on autoRestore sessions; once both are active the
 * script prints `STEP active` and the parent kills the media node (and starts another). Both streams go FAILED
 * ("media node lost") and must come back on their own, with frames flowing again.
 */
async function restoreScenario(): Promise<Record<string, unknown>> {
  const name = `sdk-restore-${randomUUID().slice(0, 8)}`;
  const autoRestore = { initialDelayMs: 500, maxDelayMs: 2000, maxAttempts: 40 };
  const pubSession = await createSession({ urlServer: url!, autoRestore }).established(10_000);
  const playSession = await createSession({ urlServer: url!, autoRestore }).established(10_000);
  const media = createSyntheticStream({ video: { width: 640, height: 480, fps: 30 } });
  const pub = pubSession.createStream({ name, stream: media.stream });
  const pubStatuses = record(pub);
  pub.publish();
  await pub.active(20_000);
  const player = playSession.createStream({ name });
  const playStatuses = record(player);
  player.play();
  await player.active(20_000);
  const before = await measure(player, 20, 500);
  const firstPubId = pub.id();
  console.log("STEP active");
  // wait for the failure, then for both to be active again
  for (let i = 0; i < 400 && pub.status() !== STREAM_STATUS.FAILED; i++) await sleep(50);
  const failedAt = Date.now();
  const pubFailInfo = pub.getInfo();
  const restoringAfterFail = pub.isRestoring();
  await pub.active(40_000);
  const pubBackMs = Date.now() - failedAt;
  for (let i = 0; i < 400 && player.status() === STREAM_STATUS.PLAYING; i++) await sleep(50); // its FAILED may lag
  await player.active(40_000);
  const playBackMs = Date.now() - failedAt;
  const after = await measure(player, 30, 2000);
  const result = {
    name,
    pubStatuses,
    playStatuses,
    pubFailInfo,
    restoringAfterFail,
    newPubId: pub.id() !== firstPubId,
    pubBackMs,
    playBackMs,
    beforeFrames: before.later.frames,
    first: after.first,
    later: after.later,
    firstFrameMs: after.firstFrameMs,
  };
  player.stop();
  pub.stop();
  await Promise.all([player.ended(10_000), pub.ended(10_000)]);
  media.stop();
  pubSession.disconnect();
  playSession.disconnect();
  return { ...result, playerEnd: player.status(), pubEnd: pub.status() };
}

const watchdog = setTimeout(() => {
  console.log(`RESULT ${JSON.stringify({ ok: false, error: "scenario timed out" })}`);
  process.exit(2);
}, 110_000);

try {
  if (!url) throw new Error("usage: node-scenarios.ts stream|room|restore WS_URL");
  const result =
    scenario === "room" ? await roomScenario() : scenario === "restore" ? await restoreScenario() : await streamScenario();
  console.log(`RESULT ${JSON.stringify({ ok: true, ...result })}`);
  clearTimeout(watchdog);
  await sleep(200); // let the last frames (stop messages, socket closes) go out
  process.exit(0);
} catch (e) {
  console.log(`RESULT ${JSON.stringify({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) })}`);
  process.exit(1);
}
