/**
 * What the offer-capture scripts share (test/pure/offers/README.md says which script captured which file): where the
 * offers go, a small loopback HTTP server that serves a page and receives what it POSTs, and Debian's Chromium driven by
 * playwright-core. Capture tools only: the tests read the saved `.sdp` files and never run these.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";

/** Where the offers go: test/pure/offers/, or `OFFERS_OUT` (to try a capture without replacing the tests' files). */
export const OFFERS_DIR = process.env.OFFERS_OUT ?? resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Saves one offer exactly as received (bytes unchanged) as `<name>.sdp`, and says so. */
export function saveOffer(name: string, sdp: string): void {
  if (!sdp.startsWith("v=0")) throw new Error(`${name}: not an SDP offer: ${JSON.stringify(sdp.slice(0, 80))}`);
  mkdirSync(OFFERS_DIR, { recursive: true });
  const file = join(OFFERS_DIR, `${name}.sdp`);
  writeFileSync(file, sdp);
  const eol = sdp.includes("\r\n") ? "CRLF" : "LF";
  console.log(`saved ${file} (${Buffer.byteLength(sdp)} bytes, ${eol}, ${sdp.split(/\r?\n/).filter((l) => l.startsWith("m=")).length} m-lines)`);
}

/** Reads a request body as text. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => ok(Buffer.concat(chunks).toString("utf8")));
    req.on("error", fail);
  });
}

/** An HTTP server on 127.0.0.1 (ephemeral port); `handler` answers every request. */
export async function loopbackServer(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<{ server: Server; origin: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    void readBody(req).then((body) => handler(req, res, body));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** The Chromium flags of the captures (fake camera and microphone, no prompts). */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--allow-loopback-in-peer-connection",
  "--disable-background-networking",
];

/** Debian's Chromium (`CHROMIUM_PATH`, default /usr/bin/chromium), headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", headless: true, args: CHROMIUM_FLAGS });
}

/**
 * Page script: `makeOffer(mode)` builds an offer the way this project's SDK does (client/stream.ts `#negotiate`):
 * publish = getUserMedia({audio, video}), addTrack per track, every transceiver sendonly; play = an audio and a video
 * transceiver, recvonly. It returns `createOffer()`'s SDP after setLocalDescription, without waiting for candidates
 * (WCS clients send their offer without candidates).
 */
export const MAKE_OFFER_JS = `
async function makeOffer(mode) {
  const pc = new RTCPeerConnection();
  if (mode === "publish") {
    const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    for (const track of media.getTracks()) pc.addTrack(track, media);
    for (const tr of pc.getTransceivers()) tr.direction = "sendonly";
  } else {
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
  }
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  return offer.sdp;
}
`;
