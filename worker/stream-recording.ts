/**
 * The StreamDO's part in recording (WCS `record: true`; protocol/recording.ts, docs/architecture.md "Recording"):
 * choosing the record name when a publisher asks to be recorded, keeping it once its media node took the recording
 * (the RecordingDO of that name is reserved before the client gets its answer, so it exists when the node begins
 * uploading), and telling the RecordingDO when the node is lost.
 */
import { recordBaseName, recordContentType, recordingFormat, type LegMedia } from "../protocol/index.js";
import type { Env } from "./env.js";
import { log } from "./log.js";
import { recordingOf } from "./recording-do.js";
import type { LegRecord, NodeRef, OfferLegRequest } from "./stream-types.js";

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
