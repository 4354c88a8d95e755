/**
 * Streams in the CLI: status events, waiting for a stream to go live, stopping it, and its failure messages; and the
 * `wcs-edge streams` command, the server's streams from the REST API (`/rest-api/stream/find_all`, or `/stream/find`
 * with `--name`) as a table, one row per stream (its publisher, node, codecs, players, age) or with `--legs` one row
 * per publisher and player. `--json`: one `{"type": "stream", "t", …}` line per stream (with `--legs`: `{"type":
 * "leg", …}` per WCS stream object). Exit codes: 0 listed (also none: "no streams"); 1 the call failed.
 */
import { z } from "zod";
import { STREAM_STATUS, WcsError, type Stream } from "../node.js";
import { fail, STOP_TIMEOUT_MS } from "./lifecycle.js";
import { out, type GlobalOptions } from "./output.js";
import { restCall } from "./rest.js";
import { fmtAge, table } from "./table.js";

/** How long a stream may take to become PUBLISHING/PLAYING (ms). */
export const ACTIVE_TIMEOUT_MS = 30_000;

/** Reports every status of `stream` as a `status` event (`role` "publish" or "play"; `extra` goes into the JSON). */
export function reportStatuses(stream: Stream, role: string, extra: Record<string, unknown> = {}): void {
  for (const st of [STREAM_STATUS.PENDING, STREAM_STATUS.PUBLISHING, STREAM_STATUS.PLAYING, STREAM_STATUS.UNPUBLISHED, STREAM_STATUS.STOPPED, STREAM_STATUS.FAILED] as const) {
    stream.on(st, (s) => {
      const info = s.getInfo();
      const detail = s.getErrorInfo();
      out.event(
        "status",
        { role, name: s.name(), status: st, ...(info ? { info } : {}), ...(detail ? { detail } : {}), ...extra },
        `${role} ${s.name()}: ${st}${info ? ` (${info}${detail ? `: ${detail}` : ""})` : ""}`,
      );
    });
  }
}

/** Waits until `stream` is PUBLISHING/PLAYING; fails the command (exit 1, the server's info) when it does not. */
export async function activeOrFail(stream: Stream): Promise<void> {
  try {
    await stream.active(ACTIVE_TIMEOUT_MS);
  } catch (e) {
    return fail(streamFailure(stream, e), { name: stream.name(), info: stream.getInfo() ?? null });
  }
}

/** Stops a stream and waits (bounded) for its final status. */
export async function stopStream(stream: Stream): Promise<void> {
  stream.stop();
  await stream.ended(STOP_TIMEOUT_MS).catch(() => undefined);
}

/** "publish NAME failed: INFO (DETAIL)" for a stream that did not go live (`e`: what active() rejected with). */
export function streamFailure(stream: Stream, e: unknown): string {
  const info = stream.getInfo() ?? (e instanceof WcsError ? e.info : undefined);
  const detail = stream.getErrorInfo();
  const base = info ?? (e instanceof Error ? e.message : String(e));
  return `${stream.published() ? "publish" : "play"} ${stream.name()} failed: ${base}${detail ? ` (${detail})` : ""}`;
}

/** "stream NAME ended: STATUS (INFO)" for a stream that ended while the command ran. */
export function streamEnded(stream: Stream, status: string): string {
  const info = stream.getInfo();
  return `stream ${stream.name()} ended: ${status}${info ? ` (${info})` : ""}`;
}

/** A WCS stream object of the REST API (protocol/wcs-types.ts StreamStatusEvent), the fields the listing uses. */
const RestStream = z
  .object({
    mediaSessionId: z.string(),
    name: z.string(),
    status: z.string(),
    info: z.string().optional(),
    published: z.boolean(),
    nodeId: z.string().optional(),
    sessionId: z.string().optional(),
    createDate: z.number().optional(),
    videoCodec: z.string().optional(),
    audioCodec: z.string().optional(),
  })
  .passthrough();
type RestStream = z.infer<typeof RestStream>;

/** One stream of the listing: its publisher's object (null while it has none) and its players. */
export interface StreamRow {
  name: string;
  status: string;
  nodeId?: string;
  videoCodec?: string;
  audioCodec?: string;
  /** Player objects, and how many of them are PLAYING. */
  players: number;
  playing: number;
  publisher?: string;
  createDate?: number;
}

/** Groups stream objects by name, publishers first. */
export function streamRows(objects: RestStream[]): StreamRow[] {
  const byName = new Map<string, StreamRow>();
  for (const o of objects) {
    let row = byName.get(o.name);
    if (!row) byName.set(o.name, (row = { name: o.name, status: "—", players: 0, playing: 0 }));
    if (o.published) {
      Object.assign(row, {
        status: o.status,
        publisher: o.mediaSessionId,
        ...(o.nodeId ? { nodeId: o.nodeId } : {}),
        ...(o.videoCodec ? { videoCodec: o.videoCodec } : {}),
        ...(o.audioCodec ? { audioCodec: o.audioCodec } : {}),
        ...(o.createDate !== undefined ? { createDate: o.createDate } : {}),
      });
    } else {
      row.players++;
      if (o.status === STREAM_STATUS.PLAYING) row.playing++;
      if (!row.nodeId && o.nodeId) row.nodeId = o.nodeId;
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The options of `streams` (see main.ts). */
export interface StreamsOptions extends GlobalOptions {
  name?: string;
  legs?: boolean;
}

/** Lists the server's streams. @throws Error when the REST call fails */
export async function streamsCommand(o: StreamsOptions): Promise<void> {
  out.configure(o);
  const objects =
    (o.name === undefined
      ? await restCall(o.url, "stream/find_all", z.array(RestStream), o.token)
      : await restCall(o.url, "stream/find", z.array(RestStream), o.token, { name: o.name })) ?? [];
  const now = Date.now();
  const age = (created?: number) => (created === undefined ? "—" : fmtAge(Math.max(0, now - created)));
  if (o.legs) {
    const legs = [...objects].sort((a, b) => a.name.localeCompare(b.name) || Number(b.published) - Number(a.published) || (a.createDate ?? 0) - (b.createDate ?? 0));
    if (o.json) return legs.forEach((l) => out.event("leg", l, ""));
    const rows = legs.map((l) => [l.name, l.published ? "publish" : "play", l.status, l.nodeId ?? "—", l.mediaSessionId, l.sessionId ?? "—", age(l.createDate), l.info ?? ""]);
    process.stdout.write(legs.length ? `${table(["NAME", "ROLE", "STATUS", "NODE", "MEDIA SESSION", "SESSION", "AGE", "INFO"], rows)}\n` : "no streams\n");
    return;
  }
  const streams = streamRows(objects);
  if (o.json) return streams.forEach((s) => out.event("stream", { ...s }, ""));
  const rows = streams.map((s) => [s.name, s.status, s.nodeId ?? "—", s.videoCodec ?? "—", s.audioCodec ?? "—", String(s.players), String(s.playing), age(s.createDate)]);
  process.stdout.write(streams.length ? `${table(["NAME", "STATUS", "NODE", "VIDEO", "AUDIO", "PLAYERS", "PLAYING", "AGE"], rows, new Set([5, 6]))}\n` : "no streams\n");
}
