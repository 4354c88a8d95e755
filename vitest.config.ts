import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/**
 * Three projects:
 * - unit: Durable Object logic inside the Workers runtime (vitest-pool-workers, Miniflare), no media.
 * - e2e:  Node; a real `wrangler dev` worker + real media node processes + real WebRTC peers (@roamhq/wrtc in child
 *         processes, headless Chromium). Files run one at a time: they share the 2 cores with media.
 * - sdk:  Node; the client SDK's state machines (client/) against an in-process fake WCS server and a fake
 *         RTCPeerConnection injected through the SDK's platform. Fast, no cluster.
 */
export default defineConfig({
  test: {
    // console output of passing tests is noise (worker and media-node logs); failing tests keep theirs
    silent: "passed-only",
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { MEDIA_NODE_SECRET: "unit-test-secret", ICE_TIMEOUT_MS: "2000", LOG_LEVEL: "silent" } },
          }),
        ],
        test: { name: "unit", include: ["test/unit/**/*.test.ts"] },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          fileParallelism: false,
          // Real media on 2 shared cores has timing noise (and one known intermittent engine error, see the relay
          // notes): a failing test gets one more try, from scratch. A test that fails twice fails the run.
          retry: 1,
          testTimeout: 90_000,
          hookTimeout: 90_000,
        },
      },
      {
        test: { name: "sdk", include: ["test/sdk/**/*.test.ts"], environment: "node", testTimeout: 15_000 },
      },
    ],
  },
});
