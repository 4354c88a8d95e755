/**
 * Debian's `simple-whip-client` (Meetecho; GStreamer webrtcbin) as a test publisher: its command, the test pipelines,
 * and the two shims it needs on this platform.
 *
 * Debian bookworm's simple-whip-client links libsoup 2, while libnice links libsoup 3 through gupnp-igd (UPnP port
 * mapping), and libsoup 3 aborts a process that holds both ("libsoup2 symbols detected"). And libnice never gathers
 * loopback candidates. So {@link whipClientShims} builds two tiny shims with the C compiler: a stub libgupnp-igd (no
 * UPnP; libnice handles a NULL IGD agent) and a getifaddrs() filter that leaves only 127.0.0.1 (docs/testing.md).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The simple-whip-client binary (`WHIP_CLIENT` overrides). */
export const WHIP_CLIENT = process.env.WHIP_CLIENT ?? "whip-client";

/** `-A`: an Opus sine tone, payload type 100, SSRC 1. */
export const WHIP_AUDIO =
  "audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! queue ! opusenc ! rtpopuspay pt=100 ssrc=1 ! queue ! " +
  "application/x-rtp,media=audio,encoding-name=OPUS,payload=100";

/** `-V`: a 320x240 30 fps VP8 "ball" pattern, keyframe every 30 frames, payload type 96, SSRC 2. */
export const WHIP_VIDEO_VP8 =
  "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert ! queue ! " +
  "vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=96 ssrc=2 ! queue ! application/x-rtp,media=video,encoding-name=VP8,payload=96";

/** The built shims: the environment to run simple-whip-client with, and their removal. */
export interface WhipClientShims {
  dir: string;
  /** `LD_LIBRARY_PATH` and `LD_PRELOAD` to add to the client's environment. */
  env: Record<string, string>;
  remove(): void;
}

/**
 * Builds the two shims into a new temporary directory with the system C compiler:
 * - `libgupnp-igd-1.0.so.4` (found through LD_LIBRARY_PATH): no UPnP IGD, so libsoup 3 is never loaded;
 * - `loopback-only.so` (LD_PRELOAD): getifaddrs() shows libnice only 127.0.0.1, as a non-loopback interface (libnice
 *   skips loopback interfaces, and pins each socket to its interface with IP_UNICAST_IF, so a socket on another
 *   interface could not reach the media node's 127.0.0.1 anyway). Every candidate is then 127.0.0.1.
 * @throws Error when the C compiler is missing or fails
 */
export function whipClientShims(): WhipClientShims {
  const dir = mkdtempSync(join(tmpdir(), "whip-client-shims-"));
  writeFileSync(
    join(dir, "igd.c"),
    [
      "void *gupnp_simple_igd_thread_new(void) { return 0; }",
      "unsigned long gupnp_simple_igd_get_type(void) { return 0; }",
      "void gupnp_simple_igd_add_port(void) {}",
      "void gupnp_simple_igd_remove_port_local(void) {}",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "lo.c"),
    [
      "#define _GNU_SOURCE",
      "#include <dlfcn.h>",
      "#include <ifaddrs.h>",
      "#include <net/if.h>",
      "#include <stddef.h>",
      "#include <sys/socket.h>",
      "int getifaddrs(struct ifaddrs **ifap) {",
      "  static int (*real)(struct ifaddrs **);",
      "  if (!real) real = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, \"getifaddrs\");",
      "  int r = real(ifap);",
      "  if (r != 0) return r;",
      "  for (struct ifaddrs *i = *ifap; i; i = i->ifa_next) {",
      "    if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_LOOPBACK)) i->ifa_flags &= ~IFF_LOOPBACK;",
      "    else i->ifa_addr = NULL; /* hidden; the list stays one allocation for freeifaddrs() */",
      "  }",
      "  return 0;",
      "}",
      "",
    ].join("\n"),
  );
  const build = (args: string[]) => {
    const cc = spawnSync("cc", ["-shared", "-fPIC", ...args], { encoding: "utf8" });
    if (cc.status !== 0) throw new Error(`building the whip-client shims failed (is a C compiler installed?): ${cc.error ?? cc.stderr}`);
  };
  build(["-Wl,-soname,libgupnp-igd-1.0.so.4", "-o", join(dir, "libgupnp-igd-1.0.so.4"), join(dir, "igd.c")]);
  build(["-o", join(dir, "loopback-only.so"), join(dir, "lo.c"), "-ldl"]);
  return {
    dir,
    env: {
      LD_LIBRARY_PATH: [dir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":"),
      LD_PRELOAD: join(dir, "loopback-only.so"),
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A running simple-whip-client: its process, its last 300 output lines, its exit code once it exits. */
export interface WhipClient {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

/**
 * Runs simple-whip-client against `url` (…/whip/NAME) with `token`: the 320x240 30 fps VP8 "ball" pattern + an Opus
 * sine ({@link WHIP_VIDEO_VP8}, {@link WHIP_AUDIO}), trickling its candidates with PATCH. The caller kills it.
 * @throws Error when the binary is missing (apt-get install simple-whip-client, see .ci/run)
 */
export function startWhipClient(url: string, token: string, shims: WhipClientShims): WhipClient {
  const which = spawnSync("sh", ["-c", `command -v ${WHIP_CLIENT}`], { encoding: "utf8" });
  if (which.status !== 0) throw new Error(`${WHIP_CLIENT} not found: apt-get install simple-whip-client (see .ci/run)`);
  const child = spawn(WHIP_CLIENT, ["-u", url, "-t", token, "-V", WHIP_VIDEO_VP8, "-A", WHIP_AUDIO, "-o", "-l", "4"], {
    env: { ...process.env, ...shims.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const push = (d: Buffer) => {
    for (const line of d.toString().split("\n")) if (line.trim()) output.push(line);
    if (output.length > 300) output.splice(0, output.length - 300);
  };
  child.stdout?.on("data", push);
  child.stderr?.on("data", push);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output, exited };
}
