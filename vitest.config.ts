import { tmpdir } from "node:os";
import { join } from "node:path";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/**
 * Four projects:
 * - unit: Durable Object logic inside the Workers runtime (vitest-pool-workers, Miniflare), no media.
 * - e2e:  Node; a real `wrangler dev` worker + real media node processes + real WebRTC peers (@roamhq/wrtc in child
 *         processes, headless Chromium). Files run one at a time: they share the 2 cores with media.
 * - sdk:  Node; the client SDK's state machines (client/) against an in-process fake WCS server and a fake
 *         RTCPeerConnection injected through the SDK's platform. Fast, no cluster.
 * - pure: Node; the pure modules (SDP planning, RTCP, signing, protocol tables, the media node's leg rules with
 *         node-datachannel on 127.0.0.1, its config) against real captured offers (test/pure/offers/). Seconds.
 *         `vitest run --project pure --coverage` measures exactly those modules (see `coverage` below).
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
            miniflare: {
              bindings: { MEDIA_NODE_SECRET: "unit-test-secret", ICE_TIMEOUT_MS: "2000", LOG_LEVEL: "silent", RELAY_ALLOWED_URIS: "*", AUTH: "off" },
              // every unit test comes from one address: no limit trips (the e2e rate-limit test sets small ones)
              ratelimits: Object.fromEntries(["RATE_LIMIT_CONNECT", "RATE_LIMIT_MEDIA", "RATE_LIMIT_REST"].map((n) => [n, { simple: { limit: 1e9, period: 10 } }])),
            },
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
      {
        test: { name: "pure", include: ["test/pure/**/*.test.ts"], environment: "node", testTimeout: 10_000 },
      },
    ],
    // Only with --coverage (npm test runs it for the pure project): the modules the pure project is about, as a text
    // table on the console. Nothing is written into the repository (v8's raw data goes to the temp directory).
    coverage: {
      provider: "v8",
      include: [
        "media-node/sdp.ts",
        "media-node/plans.ts",
        "media-node/rtcp.ts",
        "media-node/legs.ts",
        "media-node/config.ts",
        "media-node/errors.ts",
        "media-node/engine/keyframe-throttle.ts",
        "media-node/engine/queue-delay.ts",
        "media-node/engine/nack-requester.ts",
        "media-node/engine/gop-cache.ts",
        "media-node/engine/keyframes.ts",
        "media-node/engine/candidates.ts",
        "media-node/snapshot.ts",
        "media-node/metrics.ts",
        "protocol/sdp.ts",
        "protocol/ice.ts",
        "protocol/whip.ts",
        "protocol/ws-endpoint.ts",
        "protocol/rest.ts",
        "protocol/media-node.ts",
        "protocol/refusal.ts",
        "protocol/relay.ts",
        "protocol/json-body.ts",
        "protocol/signing.ts",
        "worker/leg-owners.ts",
        "worker/access.ts",
        "worker/config.ts",
        "protocol/access.ts",
        "worker/rest-hooks.ts",
        "worker/webhook-events.ts",
        "protocol/webhooks.ts",
        "protocol/bounded.ts",
        "protocol/recording.ts",
        "worker/recording-access.ts",
      ],
      reporter: ["text", "text-summary"],
      reportsDirectory: join(tmpdir(), "wcs-edge-coverage"),
    },
  },
});
