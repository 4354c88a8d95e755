/**
 * YUV4MPEG2 (.y4m) reader for the CLI's `--source FILE.y4m`: the uncompressed format ffmpeg (`-f yuv4mpegpipe`,
 * `-pix_fmt yuv420p`) and gstreamer (`y4menc`) write. Only 4:2:0 8-bit files (C420, C420jpeg, C420paldv, C420mpeg2,
 * or no C tag) are accepted: their frames are already I420, which is what @roamhq/wrtc's RTCVideoSource takes.
 *
 * Layout: a header line `YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n` (space-separated tagged fields, unknown ones
 * ignored), then per frame a line `FRAME[ params]\n` followed by width*height luma bytes and two quarter-size chroma
 * planes. The file is indexed once (frame offsets) and frames are read on demand, so long files are not held in memory.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** What the header of a .y4m file says. */
export interface Y4mInfo {
  width: number;
  height: number;
  /** Frames per second from the F tag (30 when absent). */
  fps: number;
  /** The C tag ("420jpeg" when absent). */
  colorspace: string;
  /** Number of complete frames in the file. */
  frames: number;
}

const ACCEPTED_COLORSPACES = new Set(["420", "420jpeg", "420paldv", "420mpeg2"]);
const MAX_LINE = 4096;

/** A .y4m file opened for reading; {@link Y4mReader.frame} returns one I420 frame. Call close() when done. */
export class Y4mReader {
  readonly info: Y4mInfo;
  readonly #fd: number;
  readonly #offsets: number[];
  readonly #frameBytes: number;

  /** @throws Error with a readable reason when the file is missing, not YUV4MPEG2, not 4:2:0 or has no frame. */
  constructor(path: string) {
    this.#fd = openSync(path, "r");
    try {
      const size = fstatSync(this.#fd).size;
      const header = this.#line(0, size);
      if (!header || !header.text.startsWith("YUV4MPEG2 ")) throw new Error(`${path}: not a YUV4MPEG2 file`);
      const tags = new Map<string, string>();
      for (const field of header.text.slice("YUV4MPEG2 ".length).split(" ")) {
        if (field) tags.set(field[0]!, field.slice(1));
      }
      const width = Number(tags.get("W"));
      const height = Number(tags.get("H"));
      if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
        throw new Error(`${path}: bad or missing W/H in the YUV4MPEG2 header`);
      }
      if (width % 2 || height % 2) throw new Error(`${path}: odd frame size ${width}x${height} is not supported`);
      const colorspace = tags.get("C") ?? "420jpeg";
      if (!ACCEPTED_COLORSPACES.has(colorspace)) {
        throw new Error(`${path}: colorspace C${colorspace} is not supported (only 8-bit 4:2:0, e.g. ffmpeg -pix_fmt yuv420p)`);
      }
      let fps = 30;
      const f = tags.get("F");
      if (f) {
        const [num, den] = f.split(":").map(Number);
        if (!num || !den || !(num / den > 0)) throw new Error(`${path}: bad frame rate F${f}`);
        fps = num / den;
      }
      this.#frameBytes = (width * height * 3) / 2;
      this.#offsets = [];
      let pos = header.next;
      while (pos < size) {
        const line = this.#line(pos, size);
        if (!line || !line.text.startsWith("FRAME")) throw new Error(`${path}: no FRAME marker at byte ${pos}`);
        if (line.next + this.#frameBytes > size) break; // truncated last frame: ignored
        this.#offsets.push(line.next);
        pos = line.next + this.#frameBytes;
      }
      if (!this.#offsets.length) throw new Error(`${path}: no complete frame`);
      this.info = { width, height, fps, colorspace, frames: this.#offsets.length };
    } catch (e) {
      closeSync(this.#fd);
      throw e;
    }
  }

  /** Reads frame `index` (modulo the frame count: the file loops) into `into` (or a new buffer) and returns it. */
  frame(index: number, into?: Uint8ClampedArray): Uint8ClampedArray {
    const buf = into ?? new Uint8ClampedArray(this.#frameBytes);
    if (buf.length !== this.#frameBytes) throw new RangeError("frame buffer of the wrong size");
    const offset = this.#offsets[index % this.#offsets.length]!;
    let done = 0;
    while (done < this.#frameBytes) {
      const n = readSync(this.#fd, buf, done, this.#frameBytes - done, offset + done);
      if (n <= 0) throw new Error("unexpected end of the y4m file");
      done += n;
    }
    return buf;
  }

  close(): void {
    closeSync(this.#fd);
  }

  /** The '\n'-terminated line at `pos` (without the newline) and the position after it. */
  #line(pos: number, size: number): { text: string; next: number } | null {
    const buf = Buffer.alloc(Math.min(MAX_LINE, size - pos));
    const n = readSync(this.#fd, buf, 0, buf.length, pos);
    const nl = buf.subarray(0, n).indexOf(0x0a);
    if (nl < 0) return null;
    return { text: buf.subarray(0, nl).toString("latin1"), next: pos + nl + 1 };
  }
}
