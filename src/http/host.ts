/**
 * Tenancy by Host (DESIGN §2): the apex is PUBLIC_URL's host (port included) and `{slug}.{apex}`
 * is a wiki. In loopback development `127.0.0.1:{port}` is the apex too, because ATProto's
 * loopback client must redirect to 127.0.0.1, not localhost.
 */

export type HostTarget =
  | { kind: "apex" }
  | { kind: "wiki"; slug: string }
  | { kind: "malformed"; reason: string }
  | { kind: "unknown" };

const HOST_PATTERN = /^[a-z0-9.-]+(?::\d{1,5})?$/;
const LABEL_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function apexHosts(publicUrl: URL): string[] {
  const hosts = [publicUrl.host];
  if (publicUrl.hostname === "localhost") {
    hosts.push(publicUrl.port === "" ? "127.0.0.1" : `127.0.0.1:${publicUrl.port}`);
  }
  return hosts;
}

export function resolveHost(rawHost: string | null, publicUrl: URL): HostTarget {
  if (rawHost === null || rawHost.length === 0)
    return { kind: "malformed", reason: "the Host header is missing" };
  if (rawHost.length > 300) return { kind: "malformed", reason: "the Host header is too long" };
  let host = rawHost.toLowerCase();
  // A fully-qualified name may end in a dot ("wiki.example.com." or "wiki.example.com.:443"); it
  // names the same host. A dot after the port ("host:8080.") is not a Host (RFC 9110 §7.2: port
  // is digits) and is refused below by HOST_PATTERN.
  host = host.replace(/\.(?=:\d+$)|\.$/, "");
  if (/:\d*\.$/.test(rawHost))
    return { kind: "malformed", reason: "the Host header's port is not a number" };
  if (!HOST_PATTERN.test(host) || host.startsWith(".") || host.includes("..")) {
    return { kind: "malformed", reason: "the Host header is not a host name" };
  }
  const apex = publicUrl.host;
  if (apexHosts(publicUrl).includes(host)) return { kind: "apex" };
  const suffix = `.${apex}`;
  if (!host.endsWith(suffix)) return { kind: "unknown" };
  const label = host.slice(0, -suffix.length);
  if (!LABEL_PATTERN.test(label))
    return label.includes(".")
      ? { kind: "unknown" }
      : { kind: "malformed", reason: "the subdomain is not a valid label" };
  return { kind: "wiki", slug: label };
}
