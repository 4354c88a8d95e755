/**
 * The worker's side of the calls media nodes make (heartbeats, leg and relay events, deregistration, recording
 * uploads): each is signed with the shared MEDIA_NODE_SECRET (protocol/signing.ts) and its nonce claimed once in
 * NonceDO, so a captured call cannot be replayed. Refusals are the media-node API's `ApiError {code, info}` with the
 * status of the code (protocol/media-node.ts API_HTTP_STATUS): 401 unsigned, badly signed or replayed; 400 a body
 * that breaks the schema; 500 a worker without MEDIA_NODE_SECRET.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { API_HTTP_STATUS, parseJsonBody, refusal, verifyRequest, type Refusal } from "../protocol/index.js";
import type { Env } from "./env.js";
import { log } from "./log.js";
import { noncesOf } from "./nonce-do.js";

type App = { Bindings: Env };

/** A refused media-node call: the ApiError body `{code, info}` with the status of its code. */
export function nodeRefused(c: Context<App>, r: Refusal): Response {
  return c.json({ code: r.code, info: r.info }, API_HTTP_STATUS[r.code]);
}

/**
 * Verifies the signature of a media node's call whose signed body text is `body` (the raw JSON; "" for a call whose
 * streamed body is covered by a digest in its query, protocol/recording.ts) and claims its nonce.
 * @returns null when the call is genuine and new, else the Response refusing it
 */
export async function verifyNodeCall(c: Context<App>, body: string): Promise<Response | null> {
  const secret = c.env.MEDIA_NODE_SECRET;
  if (!secret) {
    log("error", "media_node_secret_missing", { path: c.req.path });
    return nodeRefused(c, refusal("error", "MEDIA_NODE_SECRET is not configured on the worker"));
  }
  const url = new URL(c.req.url);
  const signed = await verifyRequest(secret, c.req.method, url.pathname + url.search, body, c.req.raw.headers);
  if (!signed.ok) {
    log("warn", "media_node_call_rejected", { path: url.pathname, why: signed.reason });
    return nodeRefused(c, refusal("unauthorized", "Bad or missing request signature"));
  }
  if (!(await noncesOf(c.env, signed.nonce).claim(signed.nonce, signed.expiresAt))) {
    log("warn", "media_node_call_rejected", { path: url.pathname, why: "replayed request" });
    return nodeRefused(c, refusal("unauthorized", "Replayed request"));
  }
  return null;
}

/** Verifies the signature of a media node's call and parses its JSON body with `schema`; returns a Response on refusal. */
export async function nodeCall<S extends z.ZodTypeAny>(c: Context<App>, schema: S): Promise<z.infer<S> | Response> {
  const body = await c.req.text();
  const refusedCall = await verifyNodeCall(c, body);
  if (refusedCall) return refusedCall;
  const parsed = parseJsonBody(body, schema);
  return parsed.ok ? parsed.value : nodeRefused(c, parsed);
}
