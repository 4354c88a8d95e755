/**
 * The relay allow list (protocol/relay.ts parseRelayAllowList / relayUriAllowed; RELAY_ALLOWED_URIS): the entry
 * grammar, default ports, wildcards, and what is refused — names are matched as written, never resolved.
 */
import { describe, expect, it } from "vitest";
import { parseRelayAllowList, relayNotAllowedInfo, relayUriAllowed } from "../../protocol/relay.js";

const list = (text: string) => {
  const r = parseRelayAllowList(text);
  if (!r.ok) throw new Error(`bad entry ${r.bad}`);
  return r.entries;
};

describe("parseRelayAllowList", () => {
  it("parses HOST[:PORT] entries, lower-cased, blanks and empty items ignored", () => {
    expect(list(" WCS.Example.com , 10.0.0.5:8443,,*.edge.example:*, [::1]:8080 ")).toEqual([
      { host: "wcs.example.com" },
      { host: "10.0.0.5", port: 8443 },
      { host: "*.edge.example", port: "*" },
      { host: "[::1]", port: 8080 },
    ]);
    expect(list("")).toEqual([]);
    expect(list("*")).toEqual([{ host: "*", port: "*" }]);
  });

  it.each(["ws://host", "host/path", "host:0", "host:65536", "host:80:81", "*.*", "a*.example", "host:port", "exa mple"])("refuses the entry %j", (entry) => {
    expect(parseRelayAllowList(`ok.example, ${entry}`)).toEqual({ ok: false, bad: entry });
  });
});

describe("relayUriAllowed", () => {
  it.each([
    ["nothing is allowed by an empty list", "", "ws://127.0.0.1:8787/", false],
    ["* allows every host and port", "*", "wss://anything.example:1234/x", true],
    ["a host without port: the scheme's default port only (ws 80)", "wcs.example.com", "ws://wcs.example.com/", true],
    ["… (wss 443)", "wcs.example.com", "wss://WCS.example.com:443/", true],
    ["… another port is refused", "wcs.example.com", "wss://wcs.example.com:8443/", false],
    ["an explicit port", "wcs.example.com:8443", "wss://wcs.example.com:8443/", true],
    ["any port", "10.0.0.5:*", "ws://10.0.0.5:9/", true],
    ["*.domain: a subdomain", "*.edge.example:*", "ws://a.b.edge.example:1/", true],
    ["*.domain: not the domain itself", "*.edge.example:*", "ws://edge.example:1/", false],
    ["*.domain: not a look-alike", "*.edge.example:*", "ws://evil-edge.example:1/", false],
    ["*:PORT: any host on that port", "*:8787", "ws://10.1.2.3:8787/", true],
    ["*:PORT: another port", "*:8787", "ws://10.1.2.3:8788/", false],
    ["a name is not its address (no DNS)", "127.0.0.1:*", "ws://localhost:8787/", false],
    ["IPv6 in brackets", "[::1]:8080", "ws://[::1]:8080/", true],
    ["not a URL", "*", "not a url", false],
  ])("%s", (_what, allowed, uri, want) => {
    expect(relayUriAllowed(uri, list(allowed))).toBe(want);
  });
});

describe("relayNotAllowedInfo", () => {
  it("names the scheme, host and port, not the path", () => {
    expect(relayNotAllowedInfo("ws://localhost:9/secret?x")).toBe("Relay to ws://localhost:9 is not allowed (RELAY_ALLOWED_URIS)");
    expect(relayNotAllowedInfo("nope")).toBe("Relay to nope is not allowed (RELAY_ALLOWED_URIS)");
  });
});
