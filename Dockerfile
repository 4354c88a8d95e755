# Media node image: Node 20, the runtime dependencies only, run by tsx as a non-root user.
#
#   podman build -t wcs-media-node .          (or docker build; the build context is this repository)
#   podman run -d --name wcs-media-node --network host --stop-timeout 40 \
#     --env-file deploy/media-node.env wcs-media-node
#
# Configuration is the environment (README "Configuration", media-node/config.ts; deploy/media-node.env.example).
# WebRTC media wants --network host: the node binds ICE sockets in MEDIA_NODE_RTC_PORT_MIN..MAX and announces the
# addresses it sees, so with bridged networking publish the whole UDP range 1:1 (-p 40000-40999:40000-40999/udp) and
# set MEDIA_NODE_ANNOUNCED_ADDRESSES to the host's address. The drain on SIGTERM lasts up to
# MEDIA_NODE_DRAIN_TIMEOUT_MS (30 s): give the stop a longer timeout (--stop-timeout / podman stop -t) than that.
#
# BASE_IMAGE must be a Debian-based Node >= 20.18 image with npm in PATH, useradd and apt-get with a reachable Debian
# mirror (for ffmpeg; the official node:20 slim image is all of that); test/e2e/container.test.ts builds with a locally
# made one (Debian bookworm minbase + the test host's node).
ARG BASE_IMAGE=docker.io/library/node:20-bookworm-slim

# --- runtime dependencies (node-datachannel and @roamhq/wrtc come as prebuilt npm packages: no compiler needed)
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- the image that runs
FROM ${BASE_IMAGE}
# Debian's ffmpeg: the media node decodes snapshots and records streams with it (media-node/snapshot.ts, recorder.ts;
# FFMPEG_PATH overrides the path). Recordings are spooled in MEDIA_NODE_RECORD_DIR (default /tmp/wcs-edge-records).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 wcs \
 && useradd --uid 10001 --gid wcs --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin wcs
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY protocol ./protocol
COPY media-node ./media-node
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
ENV NODE_ENV=production \
    MEDIA_NODE_PORT=9000 \
    MEDIA_NODE_RTC_PORT_MIN=40000 \
    MEDIA_NODE_RTC_PORT_MAX=40999
# control API (TCP) and the ICE port range (UDP); change the ENV above and publish what you set
EXPOSE 9000/tcp 40000-40999/udp
USER wcs:wcs
# GET /healthz on the control port (200 while running or draining); needs a fixed MEDIA_NODE_PORT (not 0)
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "deploy/healthcheck.mjs"]
# the node drains on SIGTERM, then deregisters and exits 0 (README "Drain and upgrades")
STOPSIGNAL SIGTERM
# node itself is PID 1 (not npm, which does not pass signals on): tsx loads the TypeScript
CMD ["node", "--import", "tsx", "media-node/main.ts"]
