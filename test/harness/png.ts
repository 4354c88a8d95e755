/**
 * Reading the pixels of a PNG in tests, with Debian's ffmpeg (never a decoder of our own): the luma plane, 8 bits per
 * pixel, row by row (`ffmpeg -f png_pipe -i pipe:0 -f rawvideo -pix_fmt gray pipe:1`).
 */
import { spawn } from "node:child_process";
import { pngSize } from "../../media-node/snapshot.js";

/** A picture's luma plane: `width` × `height` bytes, row after row. */
export interface GrayPicture {
  width: number;
  height: number;
  gray: Buffer;
}

/**
 * Decodes `png` to its luma plane.
 * @throws Error when `png` is not a complete PNG, or ffmpeg fails or gives a plane of another size
 */
export async function decodePngGray(png: Buffer): Promise<GrayPicture> {
  const size = pngSize(png);
  if (!size) throw new Error(`not a complete PNG (${png.length} bytes, starts ${png.subarray(0, 8).toString("hex")})`);
  const proc = spawn(process.env.FFMPEG_PATH || "ffmpeg", ["-hide_banner", "-loglevel", "error", "-f", "png_pipe", "-i", "pipe:0", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  let err = "";
  proc.stdout.on("data", (d: Buffer) => out.push(d));
  proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
  proc.stdin.end(png);
  const code = await new Promise<number | null>((resolve, reject) => {
    proc.once("error", reject);
    proc.once("close", resolve);
  });
  const gray = Buffer.concat(out);
  if (code !== 0 || gray.length !== size.width * size.height) {
    throw new Error(`ffmpeg decoding the PNG: exit ${code}, ${gray.length} bytes for ${size.width}x${size.height}: ${err.trim()}`);
  }
  return { ...size, gray };
}

/** The mean of the luma values of a rectangle (x, y, width, height in pixels) of `pic`. */
export function meanLuma(pic: GrayPicture, x: number, y: number, w: number, h: number): number {
  let sum = 0;
  for (let r = y; r < y + h; r++) for (let c = x; c < x + w; c++) sum += pic.gray[r * pic.width + c]!;
  return sum / (w * h);
}
