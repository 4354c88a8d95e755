/**
 * Builds the npm package of the SDK, `@wcs-edge/sdk` (client/package.json), into client/dist/:
 *   dist/index.js, dist/node.js, dist/chunks/*.js   ES modules (esbuild; the two entries share their common code, so
 *                                                   `Session` of "." and of "./node" is one class)
 *   dist/types/client/*.d.ts, dist/types/protocol/*.d.ts   declarations (tsc, @internal members stripped)
 *
 *   npm run build:sdk-package           (also the package's `prepack`, so `npm pack` / `npm publish` in client/ run it)
 *
 * The package is self-contained: protocol/ code the SDK uses is bundled into the JavaScript, and the protocol/
 * declarations the public types reach are emitted next to the client's. The build fails when
 *   - client/package.json's version differs from the root package.json's;
 *   - the JavaScript imports a package other than the optional peers `ws` / `@roamhq/wrtc` (and node: builtins), or
 *     the browser entry "." reaches any of them (it must stay browser-safe, like public/sdk/ of client/build.ts);
 *   - the public declarations reach a package (e.g. zod through protocol/wcs.ts) — declarations nothing public
 *     reaches are not shipped.
 * tsc emits into a temporary directory; client/dist/ is emptied only once the declarations are built and checked.
 * public/sdk/ (client/build.ts, wrangler's [build]) is separate and not touched here.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile } from "esbuild";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PKG_DIR = join(ROOT, "client");
const DIST = join(PKG_DIR, "dist");
const TYPES = join(DIST, "types");
const ENTRIES = { index: join(PKG_DIR, "index.ts"), node: join(PKG_DIR, "node.ts") };
/** Packages the JavaScript may import (the optional peer dependencies), besides node: builtins; node entry only. */
const NODE_PEERS = new Set(["ws", "@roamhq/wrtc"]);
/** Packages the declarations may reference (consumers then need them for types); today they reference none. */
const TYPE_PACKAGES = new Set<string>(["@roamhq/wrtc"]);

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

function checkVersion(): string {
  const pkg = readJson(join(PKG_DIR, "package.json"));
  const root = readJson(join(ROOT, "package.json"));
  if (pkg.version !== root.version) {
    throw new Error(`client/package.json version ${String(pkg.version)} differs from package.json's ${String(root.version)}`);
  }
  return `${String(pkg.name)}@${String(pkg.version)}`;
}

/** The package name of an import path ("@scope/name/x" → "@scope/name", "ws" → "ws"); null for node: builtins. */
function packageOf(path: string): string | null {
  if (path.startsWith("node:")) return null;
  const parts = path.split("/");
  return path.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

async function buildJs(): Promise<Metafile> {
  const result = await build({
    absWorkingDir: ROOT, // metafile paths relative to the repository, whatever the cwd (npm runs prepack in client/)
    entryPoints: ENTRIES,
    outdir: DIST,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    // every bare import (ws, @roamhq/wrtc, node:os) stays an import; checked below against what may be imported
    packages: "external",
    chunkNames: "chunks/[name]-[hash]",
    sourcemap: true,
    metafile: true,
    legalComments: "none",
    logLevel: "warning",
    banner: { js: "/* @wcs-edge/sdk (built from client/ by `npm run build:sdk-package`) */" },
  });
  const meta = result.metafile;
  const outputs = meta.outputs;
  // what each output reaches through static imports of other outputs
  const reach = (file: string, seen = new Set<string>()): Set<string> => {
    if (seen.has(file)) return seen;
    seen.add(file);
    for (const imp of outputs[file]?.imports ?? []) if (!imp.external && imp.kind === "import-statement") reach(imp.path, seen);
    return seen;
  };
  for (const [file, out] of Object.entries(outputs)) {
    if (!file.endsWith(".js")) continue;
    for (const imp of out.imports) {
      const name = imp.external ? packageOf(imp.path) : null;
      if (name !== null && !NODE_PEERS.has(name)) throw new Error(`${file} imports ${imp.path}: not a dependency of the package`);
    }
    const inputs = Object.keys(out.inputs);
    const escaped = inputs.filter((i) => !i.startsWith("client/") && !i.startsWith("protocol/"));
    if (escaped.length) throw new Error(`${file} bundles files outside client/ and protocol/: ${escaped.join(", ")}`);
    if (inputs.some((i) => i.startsWith("client/cli/"))) throw new Error(`${file} bundles the CLI (client/cli/), which is not part of the SDK`);
  }
  const indexOut = Object.keys(outputs).find((f) => outputs[f]!.entryPoint === relative(ROOT, ENTRIES.index));
  if (!indexOut) throw new Error("no output for client/index.ts");
  for (const file of reach(indexOut)) {
    const bad = outputs[file]!.imports.filter((i) => i.external).map((i) => i.path);
    const nodeOnly = Object.keys(outputs[file]!.inputs).filter((i) => /^client\/node(-media)?\.ts$/.test(i));
    if (bad.length || nodeOnly.length) throw new Error(`the browser entry reaches ${[...bad, ...nodeOnly].join(", ")} (through ${file})`);
  }
  return meta;
}

/**
 * Emits the declarations into `stage` (tsc writes every file of the program, most of which are not shipped) and
 * returns the ones the two entries reach, relative to `stage`.
 */
function emitTypes(stage: string): string[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  });
  if (!parsed) throw new Error("cannot read tsconfig.json");
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    // @internal members (constructors taking internal links, Room._command …) would drag protocol/wcs.ts and zod in
    stripInternal: true,
    declarationMap: false,
    sourceMap: false,
    rootDir: ROOT,
    outDir: stage,
  };
  const program = ts.createProgram([ENTRIES.index, ENTRIES.node], options);
  const emitted = program.emit();
  const diags = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (diags.length) {
    const host = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: () => ROOT, getNewLine: () => "\n" };
    throw new Error(`declarations:\n${ts.formatDiagnostics(diags, host)}`);
  }

  // keep only the declarations the two entries reach; nothing they reach may name a package (zod, sdp-transform …)
  const reached = new Set<string>();
  const visit = (file: string): void => {
    if (reached.has(file)) return;
    reached.add(file);
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    for (const ref of [...info.importedFiles, ...info.referencedFiles]) {
      const spec = ref.fileName;
      if (spec.startsWith(".")) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, ".d.ts"));
        if (!statSync(target, { throwIfNoEntry: false })?.isFile()) throw new Error(`${relative(stage, file)}: ${spec} was not emitted`);
        visit(target);
      } else if (!TYPE_PACKAGES.has(packageOf(spec) ?? "")) {
        throw new Error(`the public declarations reach "${spec}" (in ${relative(stage, file)}); the package does not depend on it`);
      }
    }
    // `/// <reference types="node" />` would make consumers install @types/node
    for (const t of info.typeReferenceDirectives) {
      throw new Error(`the public declarations reference the types of "${t.fileName}" (in ${relative(stage, file)})`);
    }
  };
  visit(join(stage, "client/index.d.ts"));
  visit(join(stage, "client/node.d.ts"));
  return [...reached].map((f) => relative(stage, f)).sort();
}

const started = Date.now();
const id = checkVersion();
// The slow part (tsc) runs in a staging directory outside the repository; client/dist/ is replaced only at the end,
// within milliseconds: test/harness/cluster.ts copies client/ for every cluster it starts, maybe while this runs.
const stage = mkdtempSync(join(tmpdir(), "wcs-edge-sdk-types-"));
let meta: Metafile;
let types: string[];
try {
  types = emitTypes(stage);
  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(DIST, { recursive: true });
  meta = await buildJs();
  for (const f of types) {
    mkdirSync(dirname(join(TYPES, f)), { recursive: true });
    cpSync(join(stage, f), join(TYPES, f));
  }
} finally {
  rmSync(stage, { recursive: true, force: true });
}
const js = Object.entries(meta.outputs)
  .filter(([f]) => f.endsWith(".js"))
  .map(([f, o]) => `${relative(PKG_DIR, join(ROOT, f))} (${o.bytes} B)`);
// on stderr: `npm pack --json` / `npm publish --json` run this as prepack and print their JSON on stdout
console.error(`${id} built in ${Date.now() - started} ms into client/dist: ${js.join(", ")}; ${types.length} declaration files`);
