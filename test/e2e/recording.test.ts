/**
 * Stream recording (WCS `record: true`; protocol/recording.ts) against a real worker (`wrangler dev`, its local R2),
 * a real media node (ffmpeg from Debian) and real WebRTC publishers: the file's name in the stream status, the file
 * itself (probed and decoded with ffprobe / ffmpeg), the REST calls on it (list, download with byte ranges, delete),
 * a publisher whose socket drops, recording on demand (REST `/recorder/startup` and `/recorder/terminate`), a media
 * node killed mid-recording, and H.264 to fragmented MP4.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import nodeDataChannel from "node-datachannel";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { withoutCandidates, type RecordingInfo } from "../../protocol/index.js";
import { closeAllClients, readMarker, spawnPublisher, waitUntil, WcsSocket, type WcsClientHandle } from "../clients/index.js";
import { freePort, startCluster, type Cluster, type MediaNodeProc } from "../harness/cluster.js";
import { scrapeMetrics } from "../harness/prometheus.js";

const run = promisify(execFile);

let cluster: Cluster;
let node: MediaNodeProc;
let spool: string;
let work: string;

beforeAll(async () => {
  spool = mkdtempSync(join(tmpdir(), "wcs-rec-spool-"));
  work = mkdtempSync(join(tmpdir(), "wcs-rec-files-"));
  cluster = await startCluster({ nodes: 0 });
  // a REMB ceiling above the publishers' pinned bitrates (the node-kill test publishes at 8 Mbps)
  node = await cluster.startNode({ MEDIA_NODE_RECORD_DIR: spool, MEDIA_NODE_PUBLISHER_MAX_KBPS: "20000" });
});
afterEach(async () => {
  await closeAllClients();
});
afterAll(async () => {
  await cluster?.stop();
  rmSync(spool, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const uniq = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

async function rest(path: string, body?: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${cluster.httpUrl}/rest-api${path}`, {
    method: body === undefined ? "GET" : "POST",
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    ...init,
  });
}

/** The finished recordings of `streamName` (REST find_all; [] on 404). */
async function recordingsOf(streamName: string): Promise<RecordingInfo[]> {
  const res = await rest("/recordings/find_all", { streamName });
  if (res.status === 404) return [];
  expect(res.status).toBe(200);
  return (await res.json()) as RecordingInfo[];
}

/** Waits until `recordName` is listed (the upload completed), returns its entry. */
async function waitForRecording(streamName: string, recordName: string, timeoutMs = 30_000): Promise<RecordingInfo> {
  return waitUntil(async () => (await recordingsOf(streamName)).find((r) => r.recordName === recordName), timeoutMs, () => `recording ${recordName} listed\n${cluster.logs()}`, 500);
}

/** Downloads `url` (relative to the worker) into a file of the work directory; returns its path and bytes. */
async function download(url: string, file: string): Promise<{ path: string; bytes: Buffer; res: Response }> {
  const res = await fetch(cluster.httpUrl + url);
  expect(res.status, `GET ${url}`).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  const path = join(work, file);
  writeFileSync(path, bytes);
  return { path, bytes, res };
}

interface Probe {
  streams: { codec_type: string; codec_name: string; width?: number; height?: number; nb_read_frames?: string }[];
  format: { format_name: string; duration?: string };
}

async function ffprobe(path: string, countFrames = false): Promise<Probe> {
  const { stdout } = await run("ffprobe", ["-v", "error", ...(countFrames ? ["-count_frames"] : []), "-show_entries", "stream=codec_type,codec_name,width,height,nb_read_frames:format=format_name,duration", "-of", "json", path]);
  return JSON.parse(stdout) as Probe;
}

/** The media node's recording metrics (media-node/metrics.ts). */
async function recordingMetrics(): Promise<{ held: number; started: number; completed: number; failed: number; bytes: number }> {
  const m = await scrapeMetrics(`${node.controlUrl}/metrics`);
  return {
    held: m.value("wcs_media_node_recordings"),
    started: m.value("wcs_media_node_recordings_started_total"),
    completed: m.value("wcs_media_node_recordings_ended_total", { outcome: "completed" }),
    failed: m.value("wcs_media_node_recordings_ended_total", { outcome: "failed" }),
    bytes: m.value("wcs_media_node_recorded_bytes_total"),
  };
}

/**
 * Decodes the whole file; returns ffmpeg's error output (empty when it decoded cleanly). Every decoded frame keeps the
 * file's own millisecond time (`-fps_mode passthrough`, `-enc_time_base:v -1`: the demuxer's 1/1000): by default
 * ffmpeg puts the output on a 1/frame-rate time base, and two frames a loaded publisher sent less than a frame time
 * apart then fall on one slot ("non monotonically increasing dts … 128 >= 128"), a complaint about the check's own
 * output, not the file (reproduced with a file from a run under 3 busy loops: its packets' times are increasing).
 */
async function decodeErrors(path: string): Promise<string> {
  const { stderr } = await run("ffmpeg", ["-v", "error", "-i", path, "-fps_mode", "passthrough", "-enc_time_base:v", "-1", "-f", "null", "-"]);
  return stderr;
}

/** A publisher with `record: true` that reached PUBLISHING, and the record name its status carries. */
async function recordedPublisher(name: string, opts: Parameters<typeof spawnPublisher>[0] | object = {}): Promise<{ pub: WcsClientHandle; recordName: string }> {
  const pub = await spawnPublisher({ url: cluster.wsUrl, name, record: true, ...opts });
  const publishing = await pub.waitForStatus("PUBLISHING");
  expect(publishing.data.record).toBe(true);
  const recordName = publishing.data.recordName as string;
  expect(recordName).toMatch(new RegExp(`^${name}-\\d{13}-[A-Za-z0-9_-]{1,36}\\.webm$`));
  return { pub, recordName };
}

describe("recording", () => {
  it("records 10 s of VP8/Opus to WebM: listed, probed, decoded with its frame marker, ranges, deleted", async () => {
    const name = uniq("rec");
    const { pub, recordName } = await recordedPublisher(name);
    expect(recordName.includes(pub.mediaSessionId.slice(0, 36).replace(/[^A-Za-z0-9_-]/g, "_"))).toBe(true);
    const active = await rest("/recorder/find_all");
    expect(await active.json()).toContainEqual({ fileName: recordName, mediaSessionId: pub.mediaSessionId });
    await new Promise((r) => setTimeout(r, 10_000));
    await pub.stop();
    const end = await pub.waitForStatus("UNPUBLISHED");
    expect(end.data.recordName).toBe(recordName);

    const info = await waitForRecording(name, recordName);
    expect(info).toMatchObject({ streamName: name, mediaSessionId: pub.mediaSessionId, contentType: "video/webm", url: `/client/records/${recordName}` });
    const viaRest = await download(`/rest-api/recordings/${recordName}`, "rest.webm");
    expect(viaRest.res.headers.get("content-type")).toBe("video/webm");
    expect(viaRest.res.headers.get("accept-ranges")).toBe("bytes");
    expect(viaRest.bytes.length).toBe(info.size);
    const viaLink = await download(info.url, "link.webm");
    expect(viaLink.bytes.equals(viaRest.bytes)).toBe(true);

    const probe = await ffprobe(viaRest.path);
    expect(probe.format.format_name).toContain("webm");
    expect(probe.streams.find((s) => s.codec_type === "video")).toMatchObject({ codec_name: "vp8", width: 640, height: 480 });
    expect(probe.streams.find((s) => s.codec_type === "audio")).toMatchObject({ codec_name: "opus" });
    expect(Math.abs(Number(probe.format.duration) - 10)).toBeLessThanOrEqual(1);
    expect(await decodeErrors(viaRest.path)).toBe("");
    // a frame 5 s in, decoded to its luma plane: the publisher's frame marker reads back
    const { stdout: gray } = (await run("ffmpeg", ["-v", "error", "-ss", "5", "-i", viaRest.path, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"], {
      encoding: "buffer",
      maxBuffer: 4 * 2 ** 20,
    })) as unknown as { stdout: Buffer };
    expect(gray.length).toBe(640 * 480);
    const marker = readMarker(gray, 640, 480);
    expect(marker, "frame marker of the decoded frame").not.toBeNull();
    expect(marker!.index).toBeGreaterThan(60);

    // byte ranges: exactly the asked bytes (206), a suffix, one past the end (416)
    const size = viaRest.bytes.length;
    const part = await fetch(`${cluster.httpUrl}${info.url}`, { headers: { Range: "bytes=100-1099" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 100-1099/${size}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(viaRest.bytes.subarray(100, 1100))).toBe(true);
    const tail = await rest(`/recordings/${recordName}`, undefined, { headers: { Range: "bytes=-500" } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(viaRest.bytes.subarray(size - 500))).toBe(true);
    const past = await fetch(`${cluster.httpUrl}${info.url}`, { headers: { Range: `bytes=${size}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe(`bytes */${size}`);
    await past.body?.cancel();

    // names that are not record names never reach storage; delete removes the file
    expect((await fetch(`${cluster.httpUrl}/client/records/..%2F..%2Fwrangler.toml`)).status).toBe(400);
    expect((await fetch(`${cluster.httpUrl}/client/records/nope.webm`)).status).toBe(404);
    expect((await rest("/recordings/delete", { recordName: "../x.webm" })).status).toBe(400);
    const del = await rest("/recordings/delete", { recordName });
    expect(del.status).toBe(200);
    expect(await del.json()).toEqual({ deleted: recordName });
    expect((await fetch(`${cluster.httpUrl}${info.url}`)).status).toBe(404);
    expect((await rest("/recordings/delete", { recordName })).status).toBe(404);
    expect(await recordingsOf(name)).toEqual([]);
  });

  it("records a Room API publisher (room.publish({record: true})) and closes the file cleanly when its socket drops", async () => {
    const name = uniq("recdrop");
    const room = uniq("room");
    const { pub, recordName } = await recordedPublisher(name, { appKey: "roomApp", custom: { login: "alice" }, room });
    await new Promise((r) => setTimeout(r, 4000));
    await pub.dropSocket();
    const info = await waitForRecording(name, recordName);
    const file = await download(info.url, "drop.webm");
    const probe = await ffprobe(file.path);
    const duration = Number(probe.format.duration);
    expect(duration, "the header rewritten at the end: a real duration").toBeGreaterThan(3);
    expect(duration).toBeLessThan(6);
    expect(await decodeErrors(file.path)).toBe("");
  });

  it("records audio-only streams to WebM audio and video-only streams to WebM video", async () => {
    const [a, v] = [uniq("recaudio"), uniq("recvideo")];
    const [audioOnly, videoOnly] = await Promise.all([recordedPublisher(a, { video: false }), recordedPublisher(v, { audio: false })]);
    await new Promise((r) => setTimeout(r, 3000));
    await Promise.all([audioOnly.pub.stop(), videoOnly.pub.stop()]);
    const [ai, vi] = await Promise.all([waitForRecording(a, audioOnly.recordName), waitForRecording(v, videoOnly.recordName)]);
    expect(ai.contentType).toBe("audio/webm");
    expect(vi.contentType).toBe("video/webm");
    const [af, vf] = await Promise.all([download(ai.url, "audio.webm"), download(vi.url, "video.webm")]);
    expect(af.res.headers.get("content-type")).toBe("audio/webm");
    const [ap, vp] = await Promise.all([ffprobe(af.path), ffprobe(vf.path)]);
    expect(ap.streams.map((s) => s.codec_name)).toEqual(["opus"]);
    expect(vp.streams.map((s) => s.codec_name)).toEqual(["vp8"]);
    for (const p of [ap, vp]) expect(Number(p.format.duration)).toBeGreaterThan(2);
  });

  it("records H.264 to fragmented MP4", async () => {
    const name = uniq("rech264");
    const seconds = 4;
    const { recordName, stop } = await h264Publisher(name);
    expect(recordName).toMatch(/\.mp4$/);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await stop();
    const info = await waitForRecording(name, recordName);
    expect(info.contentType).toBe("video/mp4");
    const file = await download(info.url, "h264.mp4");
    expect(file.res.headers.get("content-type")).toBe("video/mp4");
    // fragmented: an empty moov with mvex, then moof fragments
    expect(file.bytes.includes(Buffer.from("mvex"))).toBe(true);
    expect(file.bytes.includes(Buffer.from("moof"))).toBe(true);
    const probe = await ffprobe(file.path);
    expect(probe.streams.find((s) => s.codec_type === "video")).toMatchObject({ codec_name: "h264", width: 640, height: 480 });
    expect(probe.streams.find((s) => s.codec_type === "audio")).toMatchObject({ codec_name: "opus" });
    expect(Math.abs(Number(probe.format.duration) - seconds)).toBeLessThanOrEqual(1.5);
    expect(await decodeErrors(file.path)).toBe("");
  });

  it("records on demand over REST: startup, startup again (a new file), terminate; the stream plays on", async () => {
    const name = uniq("recdemand");
    const pub = await spawnPublisher({ url: cluster.wsUrl, name });
    expect((await pub.waitForStatus("PUBLISHING")).data.record).toBe(false);
    const mediaSessionId = pub.mediaSessionId;

    // bad input and unknown publishers change nothing
    expect((await rest("/recorder/startup", { mediaSessionId: "nobody" })).status).toBe(404);
    const withConfig = await rest("/recorder/startup", { mediaSessionId, config: { rotation: "20M" } });
    expect(withConfig.status).toBe(400);
    expect(((await withConfig.json()) as { error: string }).error).toContain("config");
    const notRecorded = await rest("/recorder/terminate", { mediaSessionId });
    expect(notRecorded.status).toBe(404);
    expect(await notRecorded.json()).toEqual({ error: "The stream is not being recorded" });
    expect((await rest("/recorder/find_all")).status).toBe(404);

    const before = await recordingMetrics();
    await new Promise((r) => setTimeout(r, 1500));
    const first = await rest("/recorder/startup", { mediaSessionId });
    expect(first.status).toBe(200);
    const { fileName: firstName } = (await first.json()) as { fileName: string };
    expect(firstName).toMatch(new RegExp(`^${name}-\\d{13}-[A-Za-z0-9_-]{1,36}\\.webm$`));
    expect(await (await rest("/recorder/find_all")).json()).toContainEqual({ fileName: firstName, mediaSessionId });

    // startup while recording (WCS's older name of the call): the first file is finished, a second one begins
    await new Promise((r) => setTimeout(r, 4000));
    const second = await rest("/stream/startRecording", { mediaSessionId });
    expect(second.status).toBe(200);
    const { fileName: secondName } = (await second.json()) as { fileName: string };
    expect(secondName).not.toBe(firstName);
    await new Promise((r) => setTimeout(r, 3000));
    const stopped = await rest("/recorder/terminate", { mediaSessionId });
    expect(stopped.status).toBe(200);
    expect(await stopped.json()).toEqual({ fileName: secondName, mediaSessionId });
    expect((await rest("/recorder/terminate", { mediaSessionId })).status).toBe(404);
    expect((await rest("/recorder/find_all")).status).toBe(404);

    for (const [recordName, seconds] of [
      [firstName, 4],
      [secondName, 3],
    ] as const) {
      const info = await waitForRecording(name, recordName);
      expect(info).toMatchObject({ streamName: name, mediaSessionId, contentType: "video/webm" });
      const file = await download(info.url, recordName);
      const probe = await ffprobe(file.path);
      expect(probe.streams.find((s) => s.codec_type === "video")).toMatchObject({ codec_name: "vp8", width: 640, height: 480 });
      expect(probe.streams.find((s) => s.codec_type === "audio")).toMatchObject({ codec_name: "opus" });
      // from the last keyframe before the call (the router's cached GOP) to the next call: at least the time between them
      const duration = Number(probe.format.duration);
      expect(duration, `${recordName} duration`).toBeGreaterThanOrEqual(seconds - 1);
      expect(duration, `${recordName} duration`).toBeLessThan(seconds + 4);
      expect(await decodeErrors(file.path), `${recordName} decodes from its first frame`).toBe("");
    }
    // the publisher went on publishing the whole time
    expect(pub.statuses.map((s) => s.status)).toEqual(["PUBLISHING"]);
    // the node's /metrics: two started, two completed with their bytes, none held any more
    await waitUntil(async () => ((await recordingMetrics()).held === 0 ? true : undefined), 5000, "no recording held");
    const after = await recordingMetrics();
    expect(after.started - before.started).toBe(2);
    expect(after.completed - before.completed).toBe(2);
    expect(after.failed - before.failed).toBe(0);
    expect(after.bytes - before.bytes).toBeGreaterThan(100_000);
  });

  // last: it kills the cluster's only media node
  it("keeps what was uploaded when the media node is killed mid-recording", async () => {
    const name = uniq("reckill");
    const { pub, recordName } = await recordedPublisher(name, { width: 1280, height: 720, bitrateKbps: 8000 });
    // the first 5 MiB part is uploaded while the stream runs
    await waitUntil(() => cluster.logs().split("\n").some((l) => l.includes(recordName) && l.includes("recording part uploaded")), 40_000, "the first part uploaded", 250);
    await node.kill("SIGKILL");
    const failed = await pub.waitForStatus("FAILED", 15_000);
    expect(failed.info).toBe("Failed by error: media node lost");
    const info = await waitForRecording(name, recordName);
    expect(info.size).toBeGreaterThanOrEqual(5 * 2 ** 20);
    const file = await download(info.url, "killed.webm");
    const probe = await ffprobe(file.path, true);
    const video = probe.streams.find((s) => s.codec_type === "video");
    expect(video).toMatchObject({ codec_name: "vp8", width: 1280, height: 720 });
    // 5 MiB at 8 Mbps is about 5 s of the stream: at least 3 s of its 30 fps decode
    expect(Number(video!.nb_read_frames)).toBeGreaterThanOrEqual(90);
    const { stderr } = await run("ffmpeg", ["-v", "fatal", "-i", file.path, "-f", "null", "-"]);
    expect(stderr).toBe("");
  });
});

/**
 * A WCS publisher of H.264 + Opus the way a browser sends them, without a browser: a node-datachannel PeerConnection
 * offering one sendonly H.264 and one Opus m-line, fed by ffmpeg encoding a test pattern and a tone (libx264 with
 * SPS/PPS before every keyframe, `-bsf:v dump_extra`, as browsers send them in-band) to RTP on loopback ports, each
 * packet passed to the track unchanged. Publishes with `record: true`; `stop` sends unPublishStream.
 */
async function h264Publisher(name: string): Promise<{ recordName: string; stop: () => Promise<void> }> {
  const { PeerConnection, Video, Audio } = nodeDataChannel;
  const pc = new PeerConnection("h264pub", { iceServers: [], bindAddress: "127.0.0.1" });
  const ssrc = { video: 0x1234567, audio: 0x7654321 };
  const video = new Video("0", "SendOnly");
  video.addH264Codec(102, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
  video.addSSRC(ssrc.video, "h264pub", "h264pub", "h264pub-video");
  const audio = new Audio("1", "SendOnly");
  audio.addOpusCodec(111, "minptime=10;useinbandfec=1");
  audio.addSSRC(ssrc.audio, "h264pub", "h264pub", "h264pub-audio");
  const tracks = { video: pc.addTrack(video), audio: pc.addTrack(audio) };
  pc.setLocalDescription();
  const offer = withoutCandidates(pc.localDescription()!.sdp);
  const ws = await WcsSocket.connect(cluster.wsUrl);
  const mediaSessionId = randomUUID();
  ws.send("publishStream", { mediaSessionId, name, published: true, hasVideo: true, hasAudio: true, status: "PENDING", record: true, mediaProvider: "WebRTC", sdp: offer });
  const answer = await ws.waitForMessage("setRemoteSDP", 15_000, (f) => f.data[0] === mediaSessionId);
  pc.setRemoteDescription(answer.data[1] as string, "answer");
  const publishing = await ws.waitForMessage("notifyStreamStatusEvent", 15_000, (f) => (f.data[0] as { status?: string }).status === "PUBLISHING");
  const status = publishing.data[0] as { record?: boolean; recordName?: string };
  expect(status.record).toBe(true);

  // ffmpeg → RTP on two loopback ports → the tracks, unchanged
  const sock = createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  const audioSock = createSocket("udp4");
  await new Promise<void>((r) => audioSock.bind(0, "127.0.0.1", () => r()));
  sock.on("message", (m) => tracks.video.sendMessageBinary(m));
  audioSock.on("message", (m) => tracks.audio.sendMessageBinary(m));
  const rtcpPort = await freePort(); // ffmpeg's RTCP goes nowhere useful
  const ffmpeg = execFile("ffmpeg", [
    "-v", "error", "-re",
    "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=30",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
    "-map", "0:v", "-c:v", "libx264", "-profile:v", "baseline", "-tune", "zerolatency", "-g", "30", "-b:v", "1500k", "-bsf:v", "dump_extra",
    "-payload_type", "102", "-ssrc", String(ssrc.video), "-f", "rtp", `rtp://127.0.0.1:${(sock.address()).port}?rtcpport=${rtcpPort}&pkt_size=1200`,
    "-map", "1:a", "-c:a", "libopus", "-ac", "2", "-b:a", "64k",
    "-payload_type", "111", "-ssrc", String(ssrc.audio), "-f", "rtp", `rtp://127.0.0.1:${(audioSock.address()).port}?rtcpport=${rtcpPort}&pkt_size=1200`,
  ]);
  return {
    recordName: status.recordName ?? "",
    async stop() {
      ffmpeg.kill("SIGKILL");
      ws.send("unPublishStream", { mediaSessionId, name });
      await ws.waitForMessage("notifyStreamStatusEvent", 10_000, (f) => (f.data[0] as { status?: string }).status === "UNPUBLISHED");
      sock.close();
      audioSock.close();
      await ws.close();
      pc.close();
    },
  };
}
