#!/usr/bin/env node
// `wcs-edge` command: runs the TypeScript CLI (client/cli.ts) in this process through tsx's ESM loader.
// Usage: npx wcs-edge --help   (or npm run cli -- --help)
import { register } from "tsx/esm/api";

register();
await import(new URL("../client/cli.ts", import.meta.url).href);
