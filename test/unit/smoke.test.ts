import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { expect, it } from "vitest";
import type { Env } from "../../worker/env.js";

it("allocates nothing without nodes", async () => {
  const e = env as unknown as Env;
  const stub = e.NODE_REGISTRY.get(e.NODE_REGISTRY.idFromName("global"));
  expect(await stub.allocate("x")).toBeNull();
  await runInDurableObject(stub, async (inst) => expect(await inst.list()).toEqual([]));
});
