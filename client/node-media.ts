/**
 * Node media helpers on @roamhq/wrtc's non-standard sources and sinks: a synthetic video track (I420 frames with a
 * moving pattern and a machine-readable frame counter), a sine-tone audio track, and a monitor of the frames a player
 * receives (count, frame rate, resolution, counter). Node only: not part of the browser bundle.
 *
 * Frame counter: 40 blocks across the top of the luma plane, each `width / 40` pixels square (16 px at 640 wide);
 * blocks 0–31 are the counter's bits (LSB first), 32–39 a check byte, bright = 1, dark = 0. The blocks survive VP8/H264
 * at ordinary bitrates, so a player can tell which frame it got, and whether frames were lost or repeated.
 */
import wrtc from "@roamhq/wrtc";

const { RTCVideoSource, RTCAudioSource, RTCVideoSink } = wrtc.nonstandard;

const COUNTER_BLOCKS = 40;
const LUMA_ONE = 235;
const LUMA_ZERO = 16;

function checkByte(counter: number): number {
  return (counter ^ (counter >>> 8) ^ (counter >>> 16) ^ (counter >>> 24) ^ 0xa5) & 0xff;
}

/** Writes `counter` (an unsigned 32-bit integer) into the top blocks of the luma plane `y` of a `width`-wide frame. */
export function writeFrameCounter(y: Uint8Array | Uint8ClampedArray, width: number, counter: number): void {
  const blk = Math.floor(width / COUNTER_BLOCKS);
  const c = counter >>> 0;
  const check = checkByte(c);
  for (let b = 0; b < COUNTER_BLOCKS; b++) {
    const bit = b < 32 ? (c >>> b) & 1 : (check >> (b - 32)) & 1;
    const v = bit ? LUMA_ONE : LUMA_ZERO;
    for (let r = 0; r < blk; r++) y.fill(v, r * width + b * blk, r * width + (b + 1) * blk);
  }
}

/** Reads the counter written by {@link writeFrameCounter} from an I420 frame; null when absent or unreadable. */
export function readFrameCounter(data: Uint8Array | Uint8ClampedArray, width: number, height: number): number | null {
  const blk = Math.floor(width / COUNTER_BLOCKS);
  if (blk < 2 || height < blk || data.length < width * height) return null;
  let counter = 0;
  let check = 0;
  const cy = Math.floor(blk / 2);
  for (let b = 0; b < COUNTER_BLOCKS; b++) {
    const cx = b * blk + Math.floor(blk / 2);
    const v =
      ((data[cy * width + cx] ?? 0) +
        (data[cy * width + cx - 1] ?? 0) +
        (data[(cy - 1) * width + cx] ?? 0) +
        (data[(cy - 1) * width + cx - 1] ?? 0)) /
      4;
    const bit = v > (LUMA_ONE + LUMA_ZERO) / 2 ? 1 : 0;
    if (b < 32) counter = (counter | (bit << b)) >>> 0;
    else check |= bit << (b - 32);
  }
  return check === checkByte(counter) ? counter : null;
}

/** Options of {@link pacedFrames}: what to do after a stall. */
export interface PacedFramesOptions {
  /** Most frames handed over at once when late (default 2); when more are due, the older ones are skipped. */
  maxBurst?: number;
  /** After such a skip, how many of the newest due frames are handed over (default 1: just the current one). */
  afterSkip?: number;
}

/** A running frame clock started by {@link pacedFrames}. */
export interface PacedFrames {
  /** The index of the next frame: frames handed over so far, plus the ones skipped after stalls. */
  next(): number;
  /** Stops the clock; no `onFrame` call follows. */
  stop(): void;
}

/**
 * A wall-clock frame pacer: calls `onFrame(index)` for frames 0, 1, 2, … at `fps` frames per second, frame `i` being
 * due `i * 1000 / fps` ms after the call (measured with `performance.now()`). A timer ticks every
 * `max(2, floor(500 / fps))` ms and hands over, synchronously and in order, every frame that has come due since the
 * previous tick. After a stall (a blocked event loop, a suspended machine) it skips ahead instead of bursting stale
 * frames: when more than `maxBurst` frames are due, only the newest `afterSkip` are handed over and the indices in
 * between are skipped. `onFrame` errors are not caught (they surface as uncaught exceptions of the timer).
 */
export function pacedFrames(fps: number, onFrame: (index: number) => void, options: PacedFramesOptions = {}): PacedFrames {
  const maxBurst = options.maxBurst ?? 2;
  const afterSkip = options.afterSkip ?? 1;
  let next = 0;
  const t0 = performance.now();
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) * fps) / 1000);
    if (due - next > maxBurst) next = due - afterSkip;
    for (; next < due; next++) onFrame(next);
  }, Math.max(2, Math.floor(500 / fps)));
  return { next: () => next, stop: () => clearInterval(timer) };
}

/** Options of {@link createSyntheticVideoTrack}. */
export interface SyntheticVideoOptions {
  /** Frame width in pixels, even, >= 80 (default 640). */
  width?: number;
  /** Frame height in pixels, even (default 480). */
  height?: number;
  /** Frames per second (default 30). */
  fps?: number;
}

/** A running synthetic video source. */
export interface SyntheticVideo {
  /** The track to publish. */
  readonly track: MediaStreamTrack;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Frames handed to the encoder so far (= the next frame's counter). */
  framesSent(): number;
  /** Stops the frame clock and the track. */
  stop(): void;
}

/**
 * A video track fed with I420 frames at `fps`: a scrolling pattern (so the encoder has motion to code) plus the
 * frame counter ({@link writeFrameCounter}). Frames are paced by the wall clock ({@link pacedFrames}); after a stall it
 * skips ahead rather than bursting stale frames.
 */
export function createSyntheticVideoTrack(options: SyntheticVideoOptions = {}): SyntheticVideo {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const fps = options.fps ?? 30;
  if (width % 2 || height % 2 || width < 80 || height < 16) throw new RangeError(`bad frame size ${width}x${height}`);
  if (!(fps > 0 && fps <= 120)) throw new RangeError(`bad fps ${fps}`);
  const source = new RTCVideoSource();
  const track = source.createTrack();
  const scroll = 256;
  const tw = width + scroll;
  const tex = new Uint8Array(tw * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < tw; x++) tex[y * tw + x] = (128 + 60 * Math.sin(x / 11) * Math.cos(y / 17) + 30 * Math.sin((x + y) / 37)) & 255;
  const frame = new Uint8ClampedArray((width * height * 3) / 2);
  frame.fill(128, width * height); // neutral chroma
  const yPlane = new Uint8Array(frame.buffer, 0, width * height);
  const clock = pacedFrames(fps, (index) => {
    const off = (index * 4) % scroll;
    for (let y = 0; y < height; y++) yPlane.set(tex.subarray(y * tw + off, y * tw + off + width), y * width);
    writeFrameCounter(yPlane, width, index);
    // wrtc wants a Uint8ClampedArray for I420 data; its .d.ts says Uint8Array
    source.onFrame({ width, height, data: frame as unknown as Uint8Array });
  });
  return {
    track,
    width,
    height,
    fps,
    framesSent: () => clock.next(),
    stop() {
      clock.stop();
      track.stop();
    },
  };
}

/** Options of {@link createToneAudioTrack}. */
export interface ToneOptions {
  /** Tone frequency in Hz (default 440). */
  frequency?: number;
  /** Sample rate in Hz (default 48000). */
  sampleRate?: number;
  /** Peak amplitude of the 16-bit samples (default 8000). */
  amplitude?: number;
}

/** A running tone source. */
export interface ToneAudio {
  /** The track to publish. */
  readonly track: MediaStreamTrack;
  /** 10 ms chunks handed to the encoder so far. */
  chunksSent(): number;
  /** Stops the clock and the track. */
  stop(): void;
}

/**
 * A mono audio track playing a continuous sine tone, fed in 10 ms chunks paced by the wall clock ({@link pacedFrames}
 * at 100 chunks/s; after a stall of more than 200 ms, only the newest 200 ms are sent).
 */
export function createToneAudioTrack(options: ToneOptions = {}): ToneAudio {
  const sampleRate = options.sampleRate ?? 48_000;
  const frequency = options.frequency ?? 440;
  const amplitude = options.amplitude ?? 8000;
  const source = new RTCAudioSource();
  const track = source.createTrack();
  const n = sampleRate / 100;
  const step = (2 * Math.PI * frequency) / sampleRate;
  let phase = 0;
  // 100 chunks per second (a tick every 5 ms); after a stall of more than 200 ms, the newest 200 ms are sent
  const clock = pacedFrames(
    100,
    () => {
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) {
        samples[i] = Math.round(amplitude * Math.sin(phase));
        phase += step;
      }
      phase %= 2 * Math.PI;
      source.onData({ samples, sampleRate, bitsPerSample: 16, channelCount: 1, numberOfFrames: n });
    },
    { maxBurst: 20, afterSkip: 20 },
  );
  return {
    track,
    chunksSent: () => clock.next(),
    stop() {
      clock.stop();
      track.stop();
    },
  };
}

/** Options of {@link createSyntheticStream}: `false` leaves the kind out. */
export interface SyntheticStreamOptions {
  video?: SyntheticVideoOptions | false;
  audio?: ToneOptions | false;
}

/** A MediaStream of synthetic tracks, to pass as a publisher's `stream` option. */
export interface SyntheticStream {
  readonly stream: MediaStream;
  readonly video: SyntheticVideo | undefined;
  readonly audio: ToneAudio | undefined;
  /** Stops every source (the SDK never stops a `stream` the app passed). */
  stop(): void;
}

/** A MediaStream with a synthetic video track (640x480 at 30 fps by default) and a 440 Hz tone. */
export function createSyntheticStream(options: SyntheticStreamOptions = {}): SyntheticStream {
  const video = options.video === false ? undefined : createSyntheticVideoTrack(options.video);
  const audio = options.audio === false ? undefined : createToneAudioTrack(options.audio);
  const tracks = [audio?.track, video?.track].filter((t): t is MediaStreamTrack => t !== undefined);
  if (!tracks.length) throw new RangeError("a synthetic stream needs audio or video");
  return {
    stream: new wrtc.MediaStream(tracks),
    video,
    audio,
    stop() {
      video?.stop();
      audio?.stop();
    },
  };
}

/** What a {@link VideoFrameMonitor} has seen. Times are `Date.now()` milliseconds. */
export interface VideoFrameStats {
  /** Decoded frames received. */
  frames: number;
  /** Size of the last frame (0 before the first). */
  width: number;
  height: number;
  /** Frames per second over the last second. */
  fps: number;
  /** The counter of the last frame carrying one ({@link writeFrameCounter}), or null. */
  lastCounter: number | null;
  /** Frames whose counter could be read. */
  framesWithCounter: number;
  firstFrameAt: number | null;
  lastFrameAt: number | null;
}

interface SinkFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Counts the decoded frames of a received video track (RTCVideoSink); see {@link watchVideoFrames}. */
export class VideoFrameMonitor {
  readonly #sink: InstanceType<typeof RTCVideoSink>;
  readonly #times: number[] = [];
  readonly #waiters = new Set<() => void>();
  #frames = 0;
  #width = 0;
  #height = 0;
  #lastCounter: number | null = null;
  #withCounter = 0;
  #first: number | null = null;
  #last: number | null = null;

  constructor(track: MediaStreamTrack) {
    if (track.kind !== "video") throw new TypeError("VideoFrameMonitor needs a video track");
    this.#sink = new RTCVideoSink(track);
    this.#sink.onframe = (ev: { frame: SinkFrame }) => this.#onFrame(ev.frame);
  }

  #onFrame(frame: SinkFrame): void {
    const now = Date.now();
    this.#frames++;
    this.#width = frame.width;
    this.#height = frame.height;
    this.#first ??= now;
    this.#last = now;
    this.#times.push(now);
    while (this.#times.length && (this.#times[0] ?? now) < now - 1000) this.#times.shift();
    const c = readFrameCounter(frame.data, frame.width, frame.height);
    if (c !== null) {
      this.#lastCounter = c;
      this.#withCounter++;
    }
    for (const w of [...this.#waiters]) w();
  }

  /** A snapshot of what was received. */
  stats(): VideoFrameStats {
    const now = Date.now();
    return {
      frames: this.#frames,
      width: this.#width,
      height: this.#height,
      fps: this.#times.filter((t) => t >= now - 1000).length,
      lastCounter: this.#lastCounter,
      framesWithCounter: this.#withCounter,
      firstFrameAt: this.#first,
      lastFrameAt: this.#last,
    };
  }

  /** Resolves once `count` more frames than now have arrived; rejects after `timeoutMs` (default 10000). */
  waitForFrames(count: number, timeoutMs = 10_000): Promise<VideoFrameStats> {
    const target = this.#frames + count;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.#frames < target) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(this.stats());
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`only ${this.#frames - (target - count)} of ${count} frames within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  /** Detaches the sink. */
  stop(): void {
    if (!this.#sink.stopped) this.#sink.stop();
  }
}

/**
 * Watches the video frames of a player: pass `stream.getRemoteMediaStream()` (or a video track).
 * @throws TypeError when there is no video track.
 */
export function watchVideoFrames(source: MediaStream | MediaStreamTrack): VideoFrameMonitor {
  const track = "getVideoTracks" in source ? source.getVideoTracks()[0] : source;
  if (!track) throw new TypeError("no video track to watch");
  return new VideoFrameMonitor(track);
}
