/**
 * Preloaded into Node (`node --require`) for clients that resolve names themselves, such as
 * mcp-remote: `{slug}.localhost` resolves to loopback as RFC 6761 §6.3 says and as Chromium and
 * Bun do, but this machine's glibc resolver only knows the bare `localhost` from /etc/hosts.
 * Only names under `.localhost` are touched; the connection and the Host header stay as given.
 */
const dns = require("node:dns");

const lookup = dns.lookup;
dns.lookup = function lookupLocalhostSubdomains(hostname, options, callback) {
  const name =
    typeof hostname === "string" && hostname.toLowerCase().endsWith(".localhost")
      ? "localhost"
      : hostname;
  return lookup.call(this, name, options, callback);
};
