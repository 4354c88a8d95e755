/**
 * CHILD PROCESS of test/e2e/sdk-node.test.ts: runs one scenario of the Node SDK (client/node.ts, ws + @roamhq/wrtc)
 * against a real cluster, prints one JSON line `RESULT {...}` and ends with process.exit() (wrtc can crash at exit
 * and keeps the event loop alive; see client/node.ts).
 *
 *   node --import tsx test/sdk/node-scenarios.ts stream ws://127.0.0.1:8787
 *   node --import tsx test/sdk/node-scenarios.ts room ws://127.0.0.1:8787
 *   node --import tsx test/sdk/node-scenarios.ts restore ws://127.0.0.1:8787   (prints `STEP active` for the parent)
 *   node --import tsx test/sdk/node-scenarios.ts events ws://127.0.0.1:8787
 */
import { randomUUID } from "node:crypto";
import {
  createSession,
  createSyntheticStream,
  ROOM_EVENT,
  roomApi,
  STREAM_EVENT,
  STREAM_STATUS,
  type FailEvent,
  type Session,
  type StreamEvent,
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

/** Every STREAM_EVENT of `stream`, as `{type, mediaSessionId, payload, same}` (`same`: the callback got this stream). */
function recordEvents(stream: Stream): Array<{ type: string; mediaSessionId: string; payload: unknown; same: boolean }> {
  const out: Array<{ type: string; mediaSessionId: string; payload: unknown; same: boolean }> = [];
  stream.on(STREAM_EVENT, (e: StreamEvent, s) => out.push({ type: e.type, mediaSessionId: e.mediaSessionId, payload: e.payload, same: s === stream }));
  return out;
}

/** The `info` of every WARN (the server's `fail`) of `session`. */
function recordWarnings(session: Session): string[] {
  const out: string[] = [];
  session.on("WARN", (f: FailEvent) => out.push(`${f.apiMethod}: ${f.info}`));
  return out;
}

/** Polls until `done()` or `ms` passed. */
async function until(done: () => boolean, ms = 10_000): Promise<void> {
  for (let t = 0; t < ms && !done(); t += 25) await sleep(25);
}

/** The message of what `f` throws ("" when it does not). */
function thrown(f: () => void): string {
  try {
    f();
    return "";
  } catch (e) {
    return `${e instanceof Error ? e.name : "?"}: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/**
 * Stream events with our SDK on both sides: mute calls disable the published tracks and reach a player as typed
 * STREAM_EVENTs (getAudioState / getVideoState follow), sendData, a player joining while video is muted, a mute made
 * before PUBLISHING announced once PUBLISHING, the calls a player or a non-PUBLISHING stream may not make, and an
 * oversized payload refused with WARN.
 */
async function eventsScenario(): Promise<Record<string, unknown>> {
  const name = `sdk-events-${randomUUID().slice(0, 8)}`;
  const pubSession = await createSession({ urlServer: url! }).established(10_000);
  const playSession = await createSession({ urlServer: url! }).established(10_000);
  const pubWarnings = recordWarnings(pubSession);
  const playWarnings = recordWarnings(playSession);
  const media = createSyntheticStream({ video: { width: 320, height: 240, fps: 15 } });
  const pub = pubSession.createStream({ name, stream: media.stream });
  const beforePublish = thrown(() => pub.muteAudio());
  pub.publish();
  await pub.active(20_000);
  const player = playSession.createStream({ name });
  const events = recordEvents(player);
  player.play();
  await player.active(20_000);
  const stateAtPlay = { audio: player.getAudioState(), video: player.getVideoState() };

  pub.muteAudio();
  const afterMuteAudio = { enabled: media.stream.getAudioTracks().map((t) => t.enabled), muted: pub.isAudioMuted() };
  pub.muteVideo();
  const afterMuteVideo = { enabled: media.stream.getVideoTracks().map((t) => t.enabled), muted: pub.isVideoMuted() };
  pub.sendData({ hello: "node", list: [1, 2, 3] });
  pub.unmuteAudio();
  await until(() => events.length >= 4);
  const stateAfter = { audio: player.getAudioState(), video: player.getVideoState() };

  // a player that joins while video is muted
  const late = playSession.createStream({ name });
  late.play();
  await late.active(20_000);
  const lateState = { audio: late.getAudioState(), video: late.getVideoState() };

  // an oversized payload: WARN on the publisher's session, nothing reaches the player (the next data does)
  pub.sendData({ big: "x".repeat(20_000) });
  pub.sendData("after the big one");
  await until(() => events.length >= 5 && pubWarnings.length >= 1);

  // a mute before PUBLISHING goes out once PUBLISHING
  const nameB = `${name}-b`;
  const mediaB = createSyntheticStream({ video: { width: 320, height: 240, fps: 15 } });
  const pubB = pubSession.createStream({ name: nameB, stream: mediaB.stream }).publish();
  pubB.muteVideo();
  const pendingSendData = thrown(() => pubB.sendData({ early: true }));
  await pubB.active(20_000);
  await sleep(300);
  const playerB = playSession.createStream({ name: nameB }).play();
  await playerB.active(20_000);
  const playerBState = { audio: playerB.getAudioState(), video: playerB.getVideoState() };

  const refusals = {
    beforePublish,
    pendingSendData,
    playerMute: thrown(() => player.muteVideo()),
    playerSendData: thrown(() => player.sendData({ x: 1 })),
    undefinedData: thrown(() => pub.sendData(undefined)),
    cyclicData: thrown(() => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      pub.sendData(cyclic);
    }),
  };
  // what the sessions were told before the teardown (a stop() can race its own transport's close, which also ends
  // the leg: its stopStream then gets `fail` "Stream not found")
  const warnings = { pub: [...pubWarnings], play: [...playWarnings] };
  // players first: a publisher's stop ends its players on the server, and their own stop would then find nothing
  for (const s of [playerB, late, player]) s.stop();
  await Promise.all([playerB, late, player].map((s) => s.ended(10_000)));
  for (const s of [pubB, pub]) s.stop();
  await Promise.all([pubB, pub].map((s) => s.ended(10_000)));
  media.stop();
  mediaB.stop();
  pubSession.disconnect();
  playSession.disconnect();
  return {
    name,
    playerId: player.id(),
    events,
    stateAtPlay,
    afterMuteAudio,
    afterMuteVideo,
    stateAfter,
    lateState,
    playerBState,
    refusals,
    pubWarnings: warnings.pub,
    playWarnings: warnings.play,
  };
}

const watchdog = setTimeout(() => {
  console.log(`RESULT ${JSON.stringify({ ok: false, error: "scenario timed out" })}`);
  process.exit(2);
}, 110_000);

try {
  if (!url) throw new Error("usage: node-scenarios.ts stream|room|restore|events WS_URL");
  const result =
    scenario === "room"
      ? await roomScenario()
      : scenario === "restore"
        ? await restoreScenario()
        : scenario === "events"
          ? await eventsScenario()
          : await streamScenario();
  console.log(`RESULT ${JSON.stringify({ ok: true, ...result })}`);
  clearTimeout(watchdog);
  await sleep(200); // let the last frames (stop messages, socket closes) go out
  process.exit(0);
} catch (e) {
  console.log(`RESULT ${JSON.stringify({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) })}`);
  process.exit(1);
}
