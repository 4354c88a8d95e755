/**
 * Captures the publish (sendonly audio + video) and play (recvonly) offers of Debian's Chromium and Firefox ESR:
 *
 *   npx tsx test/pure/offers/capture/browsers.ts [chrome|firefox]...   (default: both)
 *
 * → chrome-publish.sdp, chrome-play.sdp, firefox-publish.sdp, firefox-play.sdp. Both browsers load the same page from a
 * loopback HTTP server (127.0.0.1 is a secure context, so getUserMedia works) and build their offers with
 * {@link MAKE_OFFER_JS}. Chromium is driven by playwright-core; Firefox ESR (apt-get install firefox-esr) cannot be
 * (playwright needs its own patched Firefox), so it is started headless with a throw-away profile whose prefs give a
 * fake camera and microphone without prompts, and the page POSTs its offers back.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAKE_OFFER_JS, launchChromium, loopbackServer, saveOffer } from "./common.js";

const MODES = ["publish", "play"] as const;

/** The page: makes both offers and POSTs each to /offer/<mode> (and the user agent to /ua). */
const PAGE = `<!doctype html><meta charset="utf-8"><title>offer capture</title><script>
${MAKE_OFFER_JS}
async function post(path, text) { await fetch(path, { method: "POST", body: text }); }
window.captureAll = async function () {
  await post("/ua", navigator.userAgent);
  for (const mode of ${JSON.stringify(MODES)}) await post("/offer/" + mode, await makeOffer(mode));
  await post("/done", "");
};
if (location.hash === "#auto") captureAll().catch((e) => post("/error", String(e && e.stack || e)));
</script>`;

async function capture(browser: "chrome" | "firefox"): Promise<void> {
  let finished!: () => void;
  let failed!: (e: Error) => void;
  const done = new Promise<void>((ok, fail) => ((finished = ok), (failed = fail)));
  const srv = await loopbackServer((req, res, body) => {
    const path = req.url ?? "/";
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
      return;
    }
    res.writeHead(204).end();
    if (path === "/ua") console.log(`${browser}: ${body}`);
    else if (path.startsWith("/offer/")) saveOffer(`${browser}-${path.slice("/offer/".length)}`, body);
    else if (path === "/done") finished();
    else if (path === "/error") failed(new Error(`${browser} page: ${body}`));
  });
  try {
    if (browser === "chrome") {
      const chromium = await launchChromium();
      try {
        const page = await chromium.newPage();
        await page.goto(`${srv.origin}/capture.html`);
        await page.evaluate(() => (window as unknown as { captureAll(): Promise<void> }).captureAll());
        await done;
      } finally {
        await chromium.close();
      }
    } else {
      const profile = mkdtempSync(join(tmpdir(), "offer-capture-firefox-"));
      writeFileSync(
        join(profile, "user.js"),
        [
          'user_pref("media.navigator.streams.fake", true);',
          'user_pref("media.navigator.permission.disabled", true);',
          'user_pref("browser.shell.checkDefaultBrowser", false);',
          'user_pref("datareporting.policy.dataSubmissionEnabled", false);',
          'user_pref("app.update.enabled", false);',
          "",
        ].join("\n"),
      );
      const child = spawn(process.env.FIREFOX_PATH ?? "firefox-esr", ["--headless", "--no-remote", "--profile", profile, `${srv.origin}/capture.html#auto`], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
      child.once("exit", (code) => failed(new Error(`firefox exited (${code}) before the offers arrived`)));
      const timer = setTimeout(() => failed(new Error("firefox: no offers within 60 s")), 60_000);
      try {
        await done;
      } finally {
        clearTimeout(timer);
        child.kill("SIGTERM");
        await exited;
        rmSync(profile, { recursive: true, force: true });
      }
    }
  } finally {
    await srv.close();
  }
}

const wanted = process.argv.slice(2);
for (const b of ["chrome", "firefox"] as const) if (wanted.length === 0 || wanted.includes(b)) await capture(b);
