/** Every message shape on every wire of the project: re-exported from one place. */
export * from "./wcs.js";
export * from "./stream-events.js";
export * from "./media-node.js";
export * from "./signing.js";
export * from "./sdp.js";
export * from "./ice.js";
export * from "./refusal.js";
export * from "./room.js";
export * from "./rest.js";
export * from "./relay.js";
export * from "./snapshot.js";
export * from "./json-body.js";
export * from "./bounded.js";
export * from "./access.js";
export * from "./webhooks.js";
export * from "./rest-hooks.js";
export * from "./recording.js";
