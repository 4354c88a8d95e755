/**
 * Node entry of the SDK: everything of the browser entry, with `createSession` / `roomApi.connect` defaulting to a
 * platform built from `ws` (WebSocket) and `@roamhq/wrtc` (RTCPeerConnection, MediaStream), plus synthetic media
 * sources and a received-frame monitor (node-media.ts). Not part of the browser bundle.
 *
 *   import { createSession, createSyntheticStream, watchVideoFrames } from "./client/node.js";
 *   const session = await createSession({ urlServer: "ws://127.0.0.1:8787" }).established();
 *   const media = createSyntheticStream();                       // 640x480 @ 30 fps + 440 Hz tone
 *   const pub = session.createStream({ name: "cam1", stream: media.stream }).publish();
 *   await pub.active();
 *   ...
 *   process.exit(0);
 *
 * Ending a Node program: @roamhq/wrtc can crash (SIGSEGV) while the process exits with peer connections or media
 * sources still alive, and its native threads keep the event loop running. Stop the streams and sources, disconnect
 * the sessions, then end with `process.exit()`.
 *
 * There is no camera in Node: `getUserMedia` is not provided; publish with the `stream` option.
 *
 * @module wcs-sdk/node
 */
import os from "node:os";
import wrtc from "@roamhq/wrtc";
import { WebSocket as NodeWebSocket } from "ws";
import type { Platform, WebSocketConstructor } from "./platform.js";
import { randomUUID } from "./platform.js";
import { RoomSession, type RoomApiOptions } from "./room-session.js";
import { ROOM_EVENT } from "./constants.js";
import { Session } from "./session.js";
import type { SessionOptions } from "./session-types.js";

export * from "./index.js";
export * from "./node-media.js";

/**
 * The Node platform: `ws` for the signaling socket (its `onopen`/`onmessage`/`onclose`/`onerror` and `readyState`
 * behave as the browser's WebSocket; text frames arrive as strings) and @roamhq/wrtc for WebRTC.
 */
export function nodePlatform(): Platform {
  return {
    // ws's class has the browser WebSocket's shape for everything the SDK uses, but not the DOM type's exact one
    WebSocket: NodeWebSocket as unknown as WebSocketConstructor,
    RTCPeerConnection: wrtc.RTCPeerConnection,
    MediaStream: wrtc.MediaStream,
    clientInfo: {
      osVersion: `${os.type()} ${os.release()} ${os.arch()}`,
      browserVersion: `Node.js ${process.version} (wcs-edge SDK, @roamhq/wrtc)`,
    },
    randomUUID,
  };
}

/** `createSession` of the browser entry with the Node platform as default (`options.platform` still overrides). */
export function createSession(options: SessionOptions): Session {
  return new Session({ ...options, platform: { ...nodePlatform(), ...options.platform } });
}

/** `roomApi` of the browser entry with the Node platform as default. */
export const roomApi = {
  connect(options: RoomApiOptions): RoomSession {
    return new RoomSession({ ...options, platform: { ...nodePlatform(), ...options.platform } });
  },
  events: ROOM_EVENT,
} as const;
