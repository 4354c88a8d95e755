/**
 * A TCP proxy for e2e tests of connection trouble between the worker and a media node (or the other way): it can
 * hold every new connection (paused), or reset chosen ones before or after the target saw the request.
 */
import { createConnection, createServer, type Socket } from "node:net";
import { freePort, type Cluster, type MediaNodeProc } from "./cluster.js";

export interface TestProxy {
  url: string;
  /** Holds every connection (nothing forwarded) until {@link resume}. */
  pause(): void;
  resume(): void;
  /**
   * Resets the next `n` connections whose first bytes start with `prefix` (e.g. "POST /v1/legs"): before forwarding
   * the request, or (`at: "response"`) once the target answered it, so the request took effect but its answer is lost.
   */
  dropNext(prefix: string, n: number, at?: "request" | "response"): void;
  /** How many connections were reset by {@link dropNext}. */
  readonly dropped: number;
  close(): Promise<void>;
}

/** A TCP proxy to `target` (host:port) that can hold connections while paused, or reset chosen ones. */
export async function testProxy(target: URL): Promise<TestProxy> {
  let paused = false;
  let drop = { prefix: "", left: 0, at: "request" };
  let dropped = 0;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    open.add(client);
    client.on("close", () => open.delete(client));
    client.on("error", () => client.destroy());
    if (paused) return; // held: the heartbeat times out
    client.once("data", (first: Buffer) => {
      const reset = drop.left > 0 && first.toString("latin1").startsWith(drop.prefix);
      if (reset) {
        drop.left--;
        dropped++;
      }
      if (reset && drop.at === "request") return void client.resetAndDestroy();
      const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
      open.add(upstream);
      upstream.on("close", () => open.delete(upstream));
      upstream.on("error", () => client.destroy());
      upstream.write(first);
      if (reset) {
        upstream.once("data", () => {
          client.resetAndDestroy();
          upstream.destroy();
        });
        return;
      }
      client.pipe(upstream).pipe(client);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const dropAll = () => open.forEach((s) => s.destroy());
  return {
    url: `http://127.0.0.1:${port}`,
    pause() {
      paused = true;
      dropAll(); // kept-alive connections too
    },
    resume() {
      paused = false;
      dropAll();
    },
    dropNext(prefix, n, at = "request") {
      drop = { prefix, left: n, at };
      dropAll(); // kept-alive connections would carry the next request past the check
    },
    get dropped() {
      return dropped;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        dropAll(); // kept-alive connections would hold close() open
      }),
  };
}

/**
 * Starts a media node whose control API the worker reaches only through a {@link testProxy} (the node announces the
 * proxy's URL) and stops the cluster's other nodes (SIGTERM: they deregister), so new streams land on it. The caller
 * closes the proxy.
 */
export async function onlyNodeBehindProxy(cluster: Cluster): Promise<{ node: MediaNodeProc; proxy: TestProxy }> {
  const port = await freePort();
  const proxy = await testProxy(new URL(`http://127.0.0.1:${port}`));
  try {
    const node = await cluster.startNode({ MEDIA_NODE_PORT: String(port), MEDIA_NODE_PUBLIC_URL: proxy.url });
    for (const other of cluster.nodes.filter((n) => n !== node)) await other.kill("SIGTERM");
    return { node, proxy };
  } catch (e) {
    await proxy.close();
    throw e;
  }
}
