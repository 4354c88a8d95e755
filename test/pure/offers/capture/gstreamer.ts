/**
 * Captures the WHIP offers of Debian's `simple-whip-client` (Meetecho; GStreamer webrtcbin), the body of its
 * `POST` to a loopback HTTP server:
 *
 *   npx tsx test/pure/offers/capture/gstreamer.ts
 *
 * → gstreamer-vp8.sdp (VP8 + Opus, the pipelines of test/e2e/whip-whep.test.ts) and gstreamer-h264.sdp (x264enc
 * Constrained Baseline + Opus). The server answers the POST with 503, so the client stops there.
 *
 * Debian bookworm's whip-client runs with the shims of test/harness/whip-client.ts (a stub libgupnp-igd and a
 * getifaddrs() filter; see there why). The loopback filter does not change the offer: the client trickles its
 * candidates.
 */
import { spawn } from "node:child_process";
import { WHIP_AUDIO, WHIP_CLIENT, WHIP_VIDEO_VP8, whipClientShims, type WhipClientShims } from "../../../harness/whip-client.js";
import { loopbackServer, saveOffer } from "./common.js";

const VIDEO: Record<string, string> = {
  "gstreamer-vp8": WHIP_VIDEO_VP8,
  "gstreamer-h264":
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert ! queue ! " +
    "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! video/x-h264,profile=constrained-baseline ! " +
    "rtph264pay pt=96 ssrc=2 config-interval=-1 ! queue ! application/x-rtp,media=video,encoding-name=H264,payload=96",
};

async function capture(name: string, video: string, shims: WhipClientShims): Promise<void> {
  let got!: (sdp: string) => void;
  const offer = new Promise<string>((ok) => (got = ok));
  const srv = await loopbackServer((req, res, body) => {
    res.writeHead(503, { "retry-after": "60" }).end();
    if (req.method === "POST") {
      console.log(`${name}: ${req.method} ${req.url} content-type ${req.headers["content-type"]}, user-agent ${req.headers["user-agent"] ?? "-"}`);
      got(body);
    }
  });
  const child = spawn(WHIP_CLIENT, ["-u", `${srv.origin}/whip/capture`, "-V", video, "-A", WHIP_AUDIO, "-o", "-l", "2"], {
    env: { ...process.env, ...shims.env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  try {
    const timeout = new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`${name}: no POST within 30 s`)), 30_000).unref());
    saveOffer(name, await Promise.race([offer, timeout]));
  } finally {
    child.kill("SIGKILL");
    await exited;
    await srv.close();
  }
}

const shims = whipClientShims();
try {
  for (const [name, video] of Object.entries(VIDEO)) await capture(name, video, shims);
} finally {
  shims.remove();
}
