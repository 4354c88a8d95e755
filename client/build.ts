/**
 * Builds the browser bundles of the SDK (`npm run build:client`; also run by wrangler's [build] before `wrangler dev`
 * and `wrangler deploy`, so the worker serves them at /sdk/…):
 *   public/sdk/wcs-sdk.mjs  ES module       (import { createSession } from "/sdk/wcs-sdk.mjs")
 *   public/sdk/wcs-sdk.js   classic script  (<script src="/sdk/wcs-sdk.js"> → global `WcsSdk`)
 * from client/index.ts. The bundles must not contain Node-only code (ws, @roamhq/wrtc) nor zod: the build fails if
 * one of them shows up in the bundle's inputs.
 */
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type BuildOptions, type Metafile } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "public/sdk");
const FORBIDDEN = [/node_modules\/ws\//, /node_modules\/@roamhq\//, /node_modules\/zod\//, /client\/node(-media)?\.ts$/];

const common: BuildOptions = {
  entryPoints: [join(ROOT, "client/index.ts")],
  bundle: true,
  platform: "browser",
  target: "es2022",
  sourcemap: true,
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
  banner: { js: "/* wcs-edge client SDK (built from client/ by `npm run build:client`; do not edit) */" },
};

function check(meta: Metafile | undefined, file: string): void {
  const inputs = Object.keys(meta?.inputs ?? {});
  const bad = inputs.filter((i) => FORBIDDEN.some((re) => re.test(i)));
  if (bad.length) throw new Error(`${file} must not contain ${bad.join(", ")}`);
}

mkdirSync(OUT, { recursive: true });
const started = Date.now();
const esm = await build({ ...common, format: "esm", outfile: join(OUT, "wcs-sdk.mjs") });
check(esm.metafile, "wcs-sdk.mjs");
const iife = await build({ ...common, format: "iife", globalName: "WcsSdk", outfile: join(OUT, "wcs-sdk.js") });
check(iife.metafile, "wcs-sdk.js");
const size = (m: Metafile | undefined) => Object.values(m?.outputs ?? {}).find((o) => o.entryPoint)?.bytes ?? 0;
console.log(
  `client SDK built in ${Date.now() - started} ms: public/sdk/wcs-sdk.mjs (${size(esm.metafile)} B), public/sdk/wcs-sdk.js (${size(iife.metafile)} B)`,
);
