/**
 * Helpers of the tests of the plain-WebRTC endpoints (WHIP/WHEP, the WebSocket endpoint): the REST API's view of a
 * stream, a static SDP offer and candidate, and a bare test page in Chromium with failure reports.
 */
import type { Page } from "playwright-core";
import { expect } from "vitest";
import { waitUntil } from "../clients/index.js";
import { openRoutedPage, pageVideoStats, sleep, type BrowserHandle } from "./browser.js";
import type { Cluster } from "./cluster.js";

/** POST /rest-api`path` with a JSON body (and `token` as the bearer token, when given). */
export async function restCall(cluster: Cluster, path: string, body: unknown, token?: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${cluster.httpUrl}/rest-api${path}`, {
    method: "POST",
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

/** The stream objects of `name` (REST /stream/find), [] when none. */
export async function findStreams(cluster: Cluster, name: string, token?: string): Promise<Array<Record<string, unknown>>> {
  const r = await restCall(cluster, "/stream/find", { name }, token);
  return r.status === 200 ? (r.json as Array<Record<string, unknown>>) : [];
}

const FINGERPRINT = Array.from({ length: 32 }, (_, i) => ((i * 37 + 11) & 0xff).toString(16).padStart(2, "0").toUpperCase()).join(":");

/** A syntactically complete offer from a peer that never connects (for status-code and protocol checks). */
export function staticOffer(direction: "sendonly" | "recvonly", ufrag = "tStU"): string {
  return [
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "a=msid-semantic: WMS",
    "m=video 9 UDP/TLS/RTP/SAVPF 96",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    `a=ice-ufrag:${ufrag}`,
    "a=ice-pwd:abcdefghijklmnopqrstuvwx",
    "a=ice-options:trickle",
    `a=fingerprint:sha-256 ${FINGERPRINT}`,
    "a=setup:actpass",
    "a=mid:0",
    `a=${direction}`,
    "a=rtcp-mux",
    "a=rtpmap:96 VP8/90000",
    "a=rtcp-fb:96 nack pli",
    ...(direction === "sendonly" ? ["a=ssrc:11223344 cname:static", "a=ssrc:11223344 msid:s v"] : []),
    "",
  ].join("\r\n");
}

export const HOST_CANDIDATE = "candidate:1 1 udp 2122260223 127.0.0.1 9 typ host";

/**
 * A Chromium page showing `html` at `/__test/<file>` on the worker's origin; `report()` is its `window.state`, the
 * browser's console and the server logs, for failure messages.
 */
export async function openTestPage(
  browser: BrowserHandle,
  cluster: Cluster,
  label: string,
  file: string,
  html: string,
): Promise<{ page: Page; report(): Promise<string> }> {
  const page = await openRoutedPage(browser, cluster.httpUrl, label, { [file]: { contentType: "text/html", body: html } }, file);
  const report = async (): Promise<string> =>
    `page state: ${JSON.stringify(await page.evaluate(() => (window as unknown as { state: unknown }).state).catch(() => null))}\n` +
    `${browser.consoleDump()}\n--- cluster ---\n${cluster.logs()}`;
  return { page, report };
}

/** Runs `body`; a failure is rethrown with `report()` appended. */
export async function withReport<T>(report: () => Promise<string>, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await report()}`);
  }
}

/** The page's `#v` <video> plays the fake camera's 640×480 and, 1.5 s later, has decoded more than 10 more frames. */
export async function expectPagePlaysCamera(page: Page, what: string): Promise<void> {
  const first = await waitUntil(async () => {
    const s = await pageVideoStats(page, "#v");
    return s.videoWidth > 0 && s.framesDecoded > 10 ? s : undefined;
  }, 20_000, what);
  expect(first.videoWidth).toBe(640);
  expect(first.videoHeight).toBe(480);
  await sleep(1500);
  const later = await pageVideoStats(page, "#v");
  expect(later.framesDecoded).toBeGreaterThan(first.framesDecoded + 10);
}
