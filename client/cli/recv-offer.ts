/**
 * The recvonly offer of a cheap node-datachannel player that counts RTP instead of decoding it, shared by
 * `wcs-edge load` (client/cli/load-clients.ts) and the fan-out benchmark's light players (test/bench/light-player.ts):
 * what a Chrome / Web SDK player sends, so the server finds the publisher's codec and payload type whatever it is.
 */
import nodeDataChannel, { type PeerConnection, type Track } from "node-datachannel";

/**
 * Adds Chrome's recvonly m-lines to `pc`: audio "0" (opus 111 first, G722, PCMU, PCMA), then video "1" (VP8, VP9
 * profiles 0 and 2, H.264 profiles 42001f/42e01f/64001f/4d001f in both packetization modes where Chrome offers them,
 * AV1, with RTX), libwebrtc M1xx default payload types. addTrack order = m-line order.
 */
export function addChromeRecvTracks(pc: PeerConnection): { audio: Track; video: Track } {
  const a = new nodeDataChannel.Audio("0", "RecvOnly");
  a.addOpusCodec(111, "minptime=10;useinbandfec=1");
  a.addAudioCodec(9, "G722/8000");
  a.addAudioCodec(0, "PCMU/8000");
  a.addAudioCodec(8, "PCMA/8000");
  const v = new nodeDataChannel.Video("1", "RecvOnly");
  v.addVP8Codec(96);
  v.addRTXCodec(97, 96, 90000);
  v.addVideoCodec(98, "VP9", "profile-id=0");
  v.addRTXCodec(99, 98, 90000);
  v.addVideoCodec(100, "VP9", "profile-id=2");
  v.addRTXCodec(101, 100, 90000);
  v.addH264Codec(102, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f");
  v.addRTXCodec(103, 102, 90000);
  v.addH264Codec(104, "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f");
  v.addH264Codec(106, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
  v.addRTXCodec(107, 106, 90000);
  v.addH264Codec(108, "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f");
  v.addH264Codec(112, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f");
  v.addRTXCodec(113, 112, 90000);
  v.addH264Codec(127, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f");
  v.addAV1Codec(45);
  return { audio: pc.addTrack(a), video: pc.addTrack(v) };
}

/** The first payload type of the answer's video m-line and its codec name (`{pt: -1, codec: ""}` without one). */
export function answerVideoCodec(sdp: string): { pt: number; codec: string } {
  const lines = sdp.split(/\r?\n/);
  const mi = lines.findIndex((l) => l.startsWith("m=video "));
  if (mi < 0) return { pt: -1, codec: "" };
  const pt = Number((lines[mi] ?? "").split(" ")[3] ?? -1);
  let codec = "";
  for (let i = mi + 1; i < lines.length && !lines[i]!.startsWith("m="); i++) {
    const r = /^a=rtpmap:(\d+) ([^/]+)/.exec(lines[i]!);
    if (r && Number(r[1]) === pt) codec = r[2] ?? "";
  }
  return { pt: Number.isFinite(pt) ? pt : -1, codec };
}
