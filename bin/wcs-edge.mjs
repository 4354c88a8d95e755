#!/usr/bin/env node
// `wcs-edge` command: runs the TypeScript CLI (client/cli/main.ts) in this process through tsx's ESM loader.
// Usage: npx wcs-edge --help   (or npm run cli -- --help)
import { register } from "tsx/esm/api";

register();
const { main } = await import(new URL("../client/cli/main.ts", import.meta.url).href);
await main(process.argv);
