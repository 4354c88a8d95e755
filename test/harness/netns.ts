/**
 * A small NAT lab in Linux network namespaces, for test/e2e/nat.test.ts: a media node on a private address behind a
 * router that translates one "public" address 1:1 to it (the situation of an AWS/GCP/Azure VM), and a client network
 * on the public side. Needs root, `ip` (iproute2) and `nft` (nftables).
 *
 * ```
 *  root namespace (vitest, wrangler dev on workerIp)
 *    │ veth  workerIp 198.18.K.1/30 ── 198.18.K.2/30
 *  router namespace  (forwarding on; public address 198.19.K.1/32 on lo, nowhere else)
 *    ├─ veth 198.18.K.5/30 ── 198.18.K.6/30  node namespace   (the media node: nodeIp, default route via the router)
 *    └─ veth 198.19.K.5/30 ── 198.19.K.6/30  client namespace (WCS clients: clientIp, default route via the router)
 * ```
 *
 * The router's nftables ruleset (nftables wiki, "Performing Network Address Translation (NAT)"):
 * - prerouting: UDP to the public address → DNAT to the node's private address, ports unchanged;
 * - postrouting: UDP from the node out of the client-side link → SNAT to the public address (ports kept when free);
 * - forward: the client side may reach the node's subnet only through that DNAT (`ct status dnat`): the private
 *   address is unreachable from "the internet", as on a cloud VM. The control plane (HTTP between the worker in the
 *   root namespace and the node, WebSocket between clients and the worker) is routed without translation.
 *
 * K is picked per lab among values whose 198.18.K.0/24 and 198.19.K.0/24 no interface or route of the root
 * namespace uses; only addresses of 198.18.0.0/15 (RFC 2544, benchmarking) are configured, and IPv6 is switched off on
 * every interface of the lab (no link-local addresses). Namespace names are `wcsnat-<pid>-<hex>-<role>`: a lab left
 * behind by a killed run (its pid gone) is removed by the next {@link createNatLab}. The root namespace gets one veth
 * (`wn<hex>`) and two routes through it, which go away with the router namespace.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface NatLab {
  /** Namespace names. */
  routerNs: string;
  nodeNs: string;
  clientNs: string;
  /** Root namespace's end of the link to the router: where wrangler dev listens. */
  workerIp: string;
  /** The media node's private address (its namespace's only address besides loopback). */
  nodeIp: string;
  /** The public address: only on the router, translated 1:1 to {@link nodeIp} for UDP. */
  publicIp: string;
  /** The client namespace's address. */
  clientIp: string;
  /** Packets the router translated to the node so far (the DNAT rule's counter). */
  dnatPackets(): Promise<number>;
  /** Runs a command in a namespace of the lab; resolves with its stdout. */
  exec(ns: string, cmd: string[]): Promise<string>;
  /** Deletes the namespaces (with their links and the root's routes). Idempotent; kill the lab's processes first. */
  destroy(): Promise<void>;
}

const PREFIX = "wcsnat-";

/**
 * Why a NAT lab cannot be made here, or undefined when it can: the tests skip on the first two reasons only
 * (a missing `nft` is an error, the CI installs it).
 */
export async function natLabUnavailable(): Promise<string | undefined> {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "network namespaces need root";
  try {
    await run("ip", ["netns", "list"]);
  } catch (e) {
    return `\`ip netns\` is unavailable (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`;
  }
  return undefined;
}

/** Runs `ip ARGS…`; its stdout. @throws the command's error */
export async function ip(...args: string[]): Promise<string> {
  return (await run("ip", args)).stdout;
}

/**
 * Removes the namespaces named `<prefix><pid>-…` of test runs that are gone (a killed run leaves its lab behind):
 * each lab puts its process id after the prefix.
 */
export async function removeStaleNamespaces(prefix: string): Promise<void> {
  const names = (await ip("netns", "list")).split("\n").map((l) => l.split(" ")[0]!).filter((n) => n.startsWith(prefix));
  for (const name of names) {
    const pid = Number(name.slice(prefix.length).split("-")[0]);
    if (!pid || pid === process.pid) continue;
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === "EPERM";
    }
    if (!alive) await ip("netns", "del", name).catch(() => undefined);
  }
}

/** A K whose /24s in 198.18/198.19 nothing in the root namespace uses. @throws Error when none is found */
export async function pickSubnet(): Promise<number> {
  const used = (await ip("-o", "addr")) + (await ip("route")) + (await ip("-6", "route").catch(() => ""));
  for (let i = 0; i < 100; i++) {
    const k = 16 + Math.floor(Math.random() * 224);
    if (!used.includes(`198.18.${k}.`) && !used.includes(`198.19.${k}.`)) return k;
  }
  throw new Error("no free 198.18.K.0/24 for a test lab");
}

/** Builds the lab (see the file header). On failure everything made so far is removed. */
export async function createNatLab(): Promise<NatLab> {
  await removeStaleNamespaces(PREFIX);
  const id = randomBytes(2).toString("hex");
  const k = await pickSubnet();
  const base = `${PREFIX}${process.pid}-${id}`;
  const routerNs = `${base}-router`;
  const nodeNs = `${base}-node`;
  const clientNs = `${base}-client`;
  const rootIf = `wn${id}`;
  const workerIp = `198.18.${k}.1`;
  const nodeIp = `198.18.${k}.6`;
  const publicIp = `198.19.${k}.1`;
  const clientIp = `198.19.${k}.6`;
  const inNs = (ns: string, ...args: string[]) => ip("-n", ns, ...args);
  const exec = async (ns: string, cmd: string[]) => (await run("ip", ["netns", "exec", ns, ...cmd])).stdout;
  const noIpv6 = (ns: string) => exec(ns, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]);

  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    for (const ns of [clientNs, nodeNs, routerNs]) await ip("netns", "del", ns).catch(() => undefined);
    await ip("link", "del", rootIf).catch(() => undefined); // normally gone with the router namespace
  };

  try {
    for (const ns of [routerNs, nodeNs, clientNs]) {
      await ip("netns", "add", ns);
      await noIpv6(ns);
      await inNs(ns, "link", "set", "lo", "up");
    }
    // root ↔ router (control plane)
    await ip("link", "add", rootIf, "type", "veth", "peer", "name", "up0", "netns", routerNs);
    await run("sysctl", ["-qw", `net.ipv6.conf.${rootIf}.disable_ipv6=1`]);
    await ip("addr", "add", `${workerIp}/30`, "dev", rootIf);
    await ip("link", "set", rootIf, "up");
    await inNs(routerNs, "addr", "add", `198.18.${k}.2/30`, "dev", "up0");
    await inNs(routerNs, "link", "set", "up0", "up");
    // router ↔ node (private side) and router ↔ client (public side)
    for (const [ns, routerIf, routerIp, hostIp] of [
      [nodeNs, "priv0", `198.18.${k}.5`, nodeIp],
      [clientNs, "pub0", `198.19.${k}.5`, clientIp],
    ] as const) {
      await inNs(routerNs, "link", "add", routerIf, "type", "veth", "peer", "name", "eth0", "netns", ns);
      await inNs(routerNs, "addr", "add", `${routerIp}/30`, "dev", routerIf);
      await inNs(routerNs, "link", "set", routerIf, "up");
      await inNs(ns, "addr", "add", `${hostIp}/30`, "dev", "eth0");
      await inNs(ns, "link", "set", "eth0", "up");
      await inNs(ns, "route", "add", "default", "via", routerIp);
    }
    await inNs(routerNs, "addr", "add", `${publicIp}/32`, "dev", "lo");
    await exec(routerNs, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    // the root namespace reaches the node (control API) and the clients (their WebSocket) through the router
    await ip("route", "add", `198.18.${k}.4/30`, "via", `198.18.${k}.2`, "dev", rootIf);
    await ip("route", "add", `198.19.${k}.0/24`, "via", `198.18.${k}.2`, "dev", rootIf);
    const ruleset = `
      table ip nat1to1 {
        chain prerouting {
          type nat hook prerouting priority dstnat; policy accept;
          ip daddr ${publicIp} meta l4proto udp counter dnat to ${nodeIp}
        }
        chain postrouting {
          type nat hook postrouting priority srcnat; policy accept;
          oifname "pub0" ip saddr ${nodeIp} meta l4proto udp snat to ${publicIp}
        }
        chain forward {
          type filter hook forward priority filter; policy accept;
          iifname "pub0" ip daddr 198.18.${k}.4/30 ct status dnat accept
          iifname "pub0" ip daddr 198.18.${k}.4/30 drop
        }
      }`;
    await exec(routerNs, ["nft", ruleset]);
  } catch (e) {
    await destroy();
    throw e;
  }

  return {
    routerNs,
    nodeNs,
    clientNs,
    workerIp,
    nodeIp,
    publicIp,
    clientIp,
    exec,
    destroy,
    async dnatPackets() {
      const out = await exec(routerNs, ["nft", "list", "chain", "ip", "nat1to1", "prerouting"]);
      return Number(/counter packets (\d+)/.exec(out)?.[1] ?? NaN);
    },
  };
}
