/**
 * What `publish` (and `room --publish`) sends: synthetic video (moving pattern + frame counter) or a looped .y4m file,
 * plus a 440 Hz tone unless `--no-audio`.
 */
import wrtc from "@roamhq/wrtc";
import { createSyntheticVideoTrack, createToneAudioTrack, pacedFrames, type ToneAudio } from "../node.js";
import { UsageError } from "./lifecycle.js";
import { Y4mReader } from "./y4m.js";

/** A running media source: its MediaStream to publish, the video's size (px) and rate (frames/s). */
export interface MediaSource {
  stream: MediaStream;
  width: number;
  height: number;
  fps: number;
  /** What is sent, for the `source` line. */
  label: string;
  /** Video frames handed to the encoder so far. */
  framesSent(): number;
  /** Stops the clocks, the tracks and the file. */
  stop(): void;
}

/** The source options of a command: `source` is "synthetic" or a .y4m path; size and rate are the command line's. */
export interface SourceOptions {
  source: string;
  width?: number;
  height?: number;
  fps?: number;
  audio: boolean;
}

/** The stream of a video track plus the tone (when there is one). */
function withTone(video: MediaStreamTrack, audio: ToneAudio | undefined): MediaStream {
  return new wrtc.MediaStream([audio?.track, video].filter((t): t is MediaStreamTrack => !!t));
}

const toneLabel = (audio: ToneAudio | undefined): string => (audio ? " + 440 Hz tone" : "");

/** Synthetic video (640x480 @ 30 fps unless given) and the tone. */
export function syntheticSource(o: SourceOptions): MediaSource {
  const video = createSyntheticVideoTrack({ width: o.width ?? 640, height: o.height ?? 480, fps: o.fps ?? 30 });
  const audio = o.audio ? createToneAudioTrack() : undefined;
  return {
    stream: withTone(video.track, audio),
    width: video.width,
    height: video.height,
    fps: video.fps,
    label: `synthetic${toneLabel(audio)}`,
    framesSent: () => video.framesSent(),
    stop() {
      video.stop();
      audio?.stop();
    },
  };
}

/**
 * A .y4m file looped as the video track (paced by the wall clock at the file's or --fps rate), plus the tone.
 * @throws UsageError with --width/--height; Error when the file cannot be read ({@link Y4mReader}).
 */
function y4mSource(path: string, o: SourceOptions): MediaSource {
  if (o.width !== undefined || o.height !== undefined) {
    throw new UsageError("--width/--height apply to the synthetic source only; a .y4m file has its own size.");
  }
  const reader = new Y4mReader(path);
  const { width, height } = reader.info;
  const fps = o.fps ?? reader.info.fps;
  const source = new wrtc.nonstandard.RTCVideoSource();
  const track = source.createTrack();
  const frame = new Uint8ClampedArray((width * height * 3) / 2);
  const clock = pacedFrames(fps, (index) => {
    reader.frame(index, frame);
    // wrtc wants a Uint8ClampedArray for I420 data; its .d.ts says Uint8Array
    source.onFrame({ width, height, data: frame as unknown as Uint8Array });
  });
  const audio = o.audio ? createToneAudioTrack() : undefined;
  return {
    stream: withTone(track, audio),
    width,
    height,
    fps,
    label: `${path} (${reader.info.frames} frames, looped)${toneLabel(audio)}`,
    framesSent: () => clock.next(),
    stop() {
      clock.stop();
      track.stop();
      audio?.stop();
      reader.close();
    },
  };
}

/**
 * Opens `--source`: "synthetic" or a .y4m file.
 * @throws UsageError for another source or --width/--height with a file; Error when the file cannot be read.
 */
export function openSource(o: SourceOptions): MediaSource {
  if (o.source === "synthetic") return syntheticSource(o);
  if (!/\.y4m$/i.test(o.source)) throw new UsageError(`--source must be "synthetic" or a .y4m file, not "${o.source}".`);
  return y4mSource(o.source, o);
}
