/**
 * The StreamDO's part in recording (WCS `record: true`; protocol/recording.ts, docs/architecture.md "Recording"):
 * choosing the record name when a publisher asks to be recorded, keeping it once its media node took the recording
 * (the RecordingDO of that name is reserved before the client gets its answer, so it exists when the node begins
 * uploading), recording on demand (REST `/recorder/startup` and `/recorder/terminate`: {@link recordNow},
 * {@link stopRecordingNow}), and telling the RecordingDO when the node is lost.
 */
import { NO_RECORDINGS_BUCKET, recordBaseName, recordContentType, recordingFormat, refusal, type LegMedia, type RecordingStarted, type Result } from "../protocol/index.js";
import type { Env } from "./env.js";
import { log } from "./log.js";
import type { MediaNodeClient } from "./media-node-client.js";
import { recordingOf } from "./recording-do.js";
import type { LegRecord, NodeRef, OfferLegRequest } from "./stream-types.js";

/** The refusal of `/recorder/terminate` for a publisher that is not being recorded. */
export const NOT_RECORDED = "The stream is not being recorded";

/**
 * The `record` of the publisher leg's CreateLegRequest for `req` (undefined: not asked, or no RECORDINGS bucket — then
 * the stream is published unrecorded and its statuses say `record: false`). The name follows the WCS template
 * (protocol/recording.ts recordBaseName); the node adds the container's extension.
 */
export function recordRequest(env: Env, streamName: string, req: Pick<OfferLegRequest, "record" | "mediaSessionId">, now = Date.now()): { name: string } | undefined {
  if (!req.record) return undefined;
  if (!env.RECORDINGS) {
    log("warn", "recording_not_configured", { stream: streamName, mediaSessionId: req.mediaSessionId, why: "no RECORDINGS bucket: published unrecorded" });
    return undefined;
  }
  return { name: recordBaseName(streamName, req.mediaSessionId, now) };
}

/**
 * The node answered a publish it was asked to record (`asked`) with `recordName` (undefined: it declined) and the
 * negotiated `media`: reserves the
 * RecordingDO and returns the name to keep in the publisher's record, or undefined (declined; a name that is not the
 * asked one; the name taken — which the start time and mediaSessionId in it make practically impossible).
 */
export async function keepRecording(
  env: Env,
  streamName: string,
  leg: LegRecord,
  node: NodeRef,
  media: LegMedia,
  asked: { name: string } | undefined,
  recordName: string | undefined,
): Promise<string | undefined> {
  if (!asked) return undefined;
  const where = { stream: streamName, mediaSessionId: leg.mediaSessionId, nodeId: node.nodeId };
  if (!recordName) {
    log("warn", "recording_declined_by_node", where);
    return undefined;
  }
  if (!recordName.startsWith(`${asked.name}.`)) {
    log("error", "recording_name_unexpected", { ...where, recordName, asked: asked.name });
    return undefined;
  }
  const reserved = await recordingOf(env, recordName).reserve({
    recordName,
    streamName,
    mediaSessionId: leg.mediaSessionId,
    legId: leg.legId,
    contentType: recordingFormat(media.videoCodec, media.audioCodec)?.contentType ?? recordContentType(recordName),
    createdAt: Date.now(),
    nodeId: node.nodeId,
    bootId: node.bootId,
  });
  if (!reserved) log("error", "recording_name_taken", { ...where, recordName });
  return reserved ? recordName : undefined;
}

/** The stream's node was lost: the publisher's recording is completed with the parts it had uploaded. */
export function recordingNodeLost(env: Env, leg: LegRecord, node: NodeRef): Promise<void> {
  if (!leg.recordName) return Promise.resolve();
  return recordingOf(env, leg.recordName).nodeLost(node.nodeId, node.bootId);
}

/**
 * Records the publishing leg `leg` from now on (REST `/recorder/startup`), in a new file named by the WCS template.
 * The RecordingDO is reserved first (the node begins uploading as soon as it starts), then the node is asked; a node
 * refusal gives the name back. The caller has finished a recording the leg had ({@link stopRecordingNow}).
 * Refusals: not_configured (no bucket; the node's own: no ffmpeg), conflict (no codec to record, or the node records
 * the leg already), node_full (the node's recording limit or low disk), not_found, timeout, error.
 * @param media the stream's negotiated codecs (the container follows them, protocol/recording.ts recordingFormat)
 */
export async function recordNow(
  env: Env,
  streamName: string,
  leg: LegRecord,
  node: NodeRef,
  media: LegMedia | null | undefined,
  client: Pick<MediaNodeClient, "startRecording" | "stopRecording">,
  now = Date.now(),
): Promise<Result<RecordingStarted>> {
  if (!env.RECORDINGS) return refusal("not_configured", NO_RECORDINGS_BUCKET);
  const format = recordingFormat(media?.videoCodec, media?.audioCodec);
  if (!format) return refusal("conflict", `No codec to record (video ${media?.videoCodec ?? "none"}, audio ${media?.audioCodec ?? "none"})`);
  const base = recordBaseName(streamName, leg.mediaSessionId, now);
  const recordName = `${base}.${format.container}`;
  const where = { stream: streamName, mediaSessionId: leg.mediaSessionId, nodeId: node.nodeId, recordName };
  const stub = recordingOf(env, recordName);
  const meta = { recordName, streamName, mediaSessionId: leg.mediaSessionId, legId: leg.legId, contentType: format.contentType, createdAt: now, nodeId: node.nodeId, bootId: node.bootId };
  if (!(await stub.reserve(meta))) return refusal("conflict", `The record name ${recordName} is taken`);
  const res = await client.startRecording(leg.legId, base);
  if (!res.ok) {
    await stub.release();
    log("warn", "recording_on_demand_refused", { ...where, code: res.code, info: res.info });
    return res;
  }
  if (res.recordName !== recordName) {
    // the node chose another container than the stream's codecs say: nothing would take its upload
    await client.stopRecording(leg.legId);
    await stub.release();
    log("error", "recording_name_unexpected", { ...where, got: res.recordName });
    return refusal("error", `The media node recorded under an unexpected name (${res.recordName})`);
  }
  log("info", "recording_on_demand_started", where);
  return { ok: true, recordName };
}

/**
 * Finishes the recording of `leg` while its stream goes on (REST `/recorder/terminate`; also before a new
 * `/recorder/startup`): the node closes the file and uploads the rest. A node that no longer records it (the
 * recording ended by itself: ffmpeg failed, the file reached its limit) still counts as finished. Refusals:
 * not_found (`leg` has no recording), and the node's timeout or error.
 */
export async function stopRecordingNow(
  streamName: string,
  leg: LegRecord,
  node: NodeRef,
  client: Pick<MediaNodeClient, "stopRecording">,
): Promise<Result<RecordingStarted>> {
  const recordName = leg.recordName;
  if (!recordName) return refusal("not_found", NOT_RECORDED);
  const res = await client.stopRecording(leg.legId);
  if (!res.ok && res.code !== "not_found") return res;
  log("info", "recording_on_demand_stopped", { stream: streamName, mediaSessionId: leg.mediaSessionId, nodeId: node.nodeId, recordName, onNode: res.ok });
  return { ok: true, recordName };
}
