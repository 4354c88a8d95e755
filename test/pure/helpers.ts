/**
 * Helpers of the `pure` project: the real offers of test/pure/offers/ (README.md there says where each came from) and
 * assertions on the media node's {@link MediaNodeError}.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { MediaNodeError } from "../../media-node/errors.js";
import type { RefusalCode } from "../../protocol/refusal.js";

const OFFERS_DIR = join(dirname(fileURLToPath(import.meta.url)), "offers");

/** Every offer file, by name (file name without `.sdp`). */
export const OFFERS = {
  /** Debian Chromium 156, getUserMedia audio + video, sendonly (captured here). */
  chromePublish: "chrome-publish",
  /** Debian Chromium 156, recvonly audio + video transceivers (captured here). */
  chromePlay: "chrome-play",
  /** Debian Firefox ESR 153, getUserMedia audio + video, sendonly; no H.264 (captured here). */
  firefoxPublish: "firefox-publish",
  /** Debian Firefox ESR 153, recvonly audio + video; no H.264 (captured here). */
  firefoxPlay: "firefox-play",
  /** Firefox 121, two sendrecv transceivers without tracks, with H.264 (published by elixir-webrtc/ex_webrtc). */
  firefox121: "firefox121-sendrecv",
  /** Safari on macOS: video recvonly (H.264 High first), audio sendrecv, data channel (published by awslabs). */
  safari: "safari-mac",
  /** The official WCS Web SDK 2.0.276 `publishStream` offer in Chromium 156 (captured here). */
  websdkPublish: "websdk-publish",
  /** The official WCS Web SDK 2.0.276 `playStream` offer in Chromium 156 (captured here). */
  websdkPlay: "websdk-play",
  /** simple-whip-client (GStreamer 1.22 webrtcbin), VP8 + Opus, audio m-line bundle-only (captured here). */
  gstreamerVp8: "gstreamer-vp8",
  /** simple-whip-client (GStreamer 1.22 webrtcbin), x264 Constrained Baseline + Opus, bundle-only (captured here). */
  gstreamerH264: "gstreamer-h264",
  /** OBS Studio 30.0.2 WHIP (libdatachannel), H.264 + Opus with candidates (published by elixir-webrtc/ex_webrtc). */
  obs: "obs-publish",
} as const;
export type OfferName = (typeof OFFERS)[keyof typeof OFFERS];

/** The text of an offer file, exactly as stored. */
export function offer(name: OfferName): string {
  return readFileSync(join(OFFERS_DIR, `${name}.sdp`), "utf8");
}

/** Runs `fn`, expecting a {@link MediaNodeError} with `code` (and `info`, when given); returns it. */
export function expectRefusal(fn: () => unknown, code: RefusalCode, info?: string | RegExp): MediaNodeError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, "expected a MediaNodeError").toBeInstanceOf(MediaNodeError);
  const err = thrown as MediaNodeError;
  expect(err.code).toBe(code);
  if (typeof info === "string") expect(err.info).toBe(info);
  else if (info) expect(err.info).toMatch(info);
  return err;
}

/** Like {@link expectRefusal} for a promise. */
export async function expectRefusalAsync(p: Promise<unknown>, code: RefusalCode, info?: string | RegExp): Promise<MediaNodeError> {
  let thrown: unknown;
  try {
    await p;
  } catch (e) {
    thrown = e;
  }
  return expectRefusal(() => {
    if (thrown !== undefined) throw thrown;
  }, code, info);
}
