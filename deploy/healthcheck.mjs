// Container health check (Dockerfile HEALTHCHECK): GET /healthz on the media node's own control port.
// Exit 0 on 200 ({"status":"ok"|"draining"}), 1 otherwise. Uses the node's own MEDIA_NODE_LISTEN_HOST and
// MEDIA_NODE_PORT; a wildcard listen address (0.0.0.0, ::) is reached through loopback.
const host = (process.env.MEDIA_NODE_LISTEN_HOST || "127.0.0.1").trim();
const port = (process.env.MEDIA_NODE_PORT || "9000").trim();
const target = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
try {
  const res = await fetch(`http://${target}:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
  const body = await res.text();
  console.log(`${res.status} ${body}`);
  process.exit(res.status === 200 ? 0 : 1);
} catch (err) {
  console.log(`GET /healthz failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
