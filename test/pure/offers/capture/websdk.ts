/**
 * Captures the offers the official Flashphoner WCS Web SDK (@flashphoner/websdk, `flashphoner.js` unchanged, from
 * node_modules) sends in `publishStream` and `playStream`, running in Debian's Chromium (playwright-core, fake camera
 * and microphone):
 *
 *   npx tsx test/pure/offers/capture/websdk.ts
 *
 * → websdk-publish.sdp, websdk-play.sdp. A loopback HTTP server serves the page and the SDK; its WebSocket server
 * plays the WCS server just far enough: it answers `connection` with `getUserData` (the session is ESTABLISHED) and
 * records the `sdp` field of the `publishStream` / `playStream` messages. It never answers them.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { WebSocketServer } from "ws";
import { launchChromium, loopbackServer, saveOffer } from "./common.js";

const require = createRequire(import.meta.url);
const SDK = readFileSync(require.resolve("@flashphoner/websdk/flashphoner.js"));
const SDK_VERSION = (JSON.parse(readFileSync(require.resolve("@flashphoner/websdk/package.json"), "utf8")) as { version: string }).version;

const PAGE = `<!doctype html><meta charset="utf-8"><title>Web SDK offer capture</title>
<script src="/flashphoner.js"></script>
<div id="pub" style="width:320px;height:240px"></div><div id="play" style="width:320px;height:240px"></div>
<script>
  window.run = async function (url) {
    await Flashphoner.init({ preferredMediaProviders: ["WebRTC"] });
    const S = Flashphoner.constants.SESSION_STATUS;
    Flashphoner.createSession({ urlServer: url }).on(S.ESTABLISHED, function (session) {
      session.createStream({ name: "capture", display: document.getElementById("pub") }).publish();
      session.createStream({ name: "capture", display: document.getElementById("play") }).play();
    });
  };
</script>`;

const wanted = new Map<string, string>([
  ["publishStream", "websdk-publish"],
  ["playStream", "websdk-play"],
]);
let finished!: () => void;
const done = new Promise<void>((ok) => (finished = ok));

const srv = await loopbackServer((req, res) => {
  if (req.url === "/flashphoner.js") res.writeHead(200, { "content-type": "application/javascript" }).end(SDK);
  else res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
});
const wss = new WebSocketServer({ server: srv.server });
wss.on("connection", (ws) => {
  ws.on("message", (raw) => {
    const { message, data } = JSON.parse(String(raw)) as { message: string; data?: Array<Record<string, unknown>> };
    const arg = data?.[0] ?? {};
    if (message === "connection") {
      console.log(`websdk ${SDK_VERSION}: clientVersion ${String(arg.clientVersion)}, ${String(arg.clientBrowserVersion)}`);
      ws.send(JSON.stringify({ message: "getUserData", data: [{ ...arg, sessionId: "capture", authToken: "capture", status: "ESTABLISHED" }] }));
    } else if (wanted.has(message)) {
      saveOffer(wanted.get(message)!, String(arg.sdp));
      wanted.delete(message);
      if (wanted.size === 0) finished();
    }
  });
});

const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") console.log(`page: ${m.text()}`);
  });
  await page.goto(`${srv.origin}/capture.html`);
  await page.evaluate((url) => (window as unknown as { run(u: string): Promise<void> }).run(url), srv.origin.replace(/^http/, "ws"));
  const timeout = new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`no ${[...wanted.keys()].join(", ")} within 30 s`)), 30_000).unref());
  await Promise.race([done, timeout]);
} finally {
  await browser.close();
  for (const c of wss.clients) c.terminate();
  wss.close();
  await srv.close();
}
