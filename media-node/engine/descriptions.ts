/**
 * Track descriptions (node-datachannel `Video`/`Audio`, i.e. libdatachannel `Description::Media`) built from the SDP
 * plans of media-node/plans.ts: one codec under one payload type, and "inactive" m-lines for what we do not use.
 */
import { Audio, Video } from "node-datachannel";
import type { MediaKind, OfferedCodec, OfferedMedia } from "../sdp.js";

/** Adds `codec` under payload type `pt` to a track description (fmtp copied from the offer; opus gets ours). */
export function addCodec(desc: Video | Audio, kind: MediaKind, pt: number, codec: OfferedCodec): void {
  const rtpmap =
    kind === "video" ? `${codec.name}/${codec.clockRate}` : `${codec.name}/${codec.clockRate}/${codec.channels ?? 1}`;
  if (kind === "video") {
    const v = desc as Video;
    if (codec.fmtp) v.addVideoCodec(pt, rtpmap, codec.fmtp);
    else v.addVideoCodec(pt, rtpmap);
  } else {
    const a = desc as Audio;
    if (codec.name.toLowerCase() === "opus") a.addAudioCodec(pt, rtpmap, "minptime=10;useinbandfec=1");
    else if (codec.fmtp) a.addAudioCodec(pt, rtpmap, codec.fmtp);
    else a.addAudioCodec(pt, rtpmap);
  }
}

/** A description for an m-line we do not use: same mid, direction inactive, its first offered codec. */
export function inactiveDescription(m: OfferedMedia): Video | Audio {
  const kind = m.type as MediaKind;
  const desc = kind === "video" ? new Video(m.mid, "Inactive") : new Audio(m.mid, "Inactive");
  const first = m.codecs[0];
  if (first) addCodec(desc, kind, first.pt, first);
  else if (kind === "video") (desc as Video).addVP8Codec(96);
  else (desc as Audio).addOpusCodec(111);
  return desc;
}

/** A message callback that drops what it gets (drains tracks whose RTCP we do not read). */
export const noop = (): void => {};
