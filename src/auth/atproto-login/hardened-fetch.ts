/**
 * The only `fetch` the ATProto OAuth client gets. On Bun, `@atproto/oauth-client-node` does no
 * SSRF filtering of its own once we inject a handle resolver (notes/atproto-login.md §1), yet it
 * fetches URLs that strangers control: a handle's well-known, a DID document's PDS, that PDS's
 * authorization server and its endpoints. So: https on the default port only, host names whose
 * every address is public, no redirects, a timeout and a response size cap (the rules of
 * Bluesky's cookbook, `atproto_security.py`, notes §6).
 * `allowLoopbackHttp` (tests and local development only, config ATPROTO_ALLOW_LOOPBACK_HTTP)
 * also allows http and any port, but only to loopback addresses; private ranges stay refused.
 * NOTE: Bun's fetch cannot pin the address we checked (no lookup hook or dispatcher), so a DNS
 * answer that changes between our lookup and the connection (rebinding) is not caught.
 */
import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

export interface HardenedFetchOptions {
  /** Allow http:, any port and loopback addresses (never private ones). Tests and development. */
  allowLoopbackHttp: boolean;
  /** Whole request, headers and body, in milliseconds. */
  timeoutMs?: number;
  /** Largest response body accepted. */
  maxResponseBytes?: number;
  /** Resolves a host name to its addresses; injectable so tests need no DNS. */
  resolveHost?: (hostname: string) => Promise<string[]>;
  fetch?: typeof fetch;
}

/** Why a request was refused before or after it was sent. */
export class HardenedFetchError extends TypeError {
  override name = "HardenedFetchError";
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** Special-purpose ranges (RFC 6890 and the IANA registries): nothing public lives there. */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96],
  ["100::", 64],
  ["2001::", 23],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, "ipv6");
}
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

function family(address: string): "ipv4" | "ipv6" {
  return isIP(address) === 6 ? "ipv6" : "ipv4";
}

/** IPv4-mapped IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address it carries. */
function unmapped(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}

export function isLoopbackAddress(address: string): boolean {
  const plain = unmapped(address);
  return LOOPBACK.check(plain, family(plain));
}

export function isPublicAddress(address: string): boolean {
  const plain = unmapped(address);
  // IPv4-mapped in hex form (::ffff:a00:1): not worth decoding, never a public PDS's address.
  if (/^::ffff:/i.test(plain)) return false;
  // NOTE: ::ffff:0:0/96 is not in the list: Node's BlockList would then match every IPv4 address.
  return isIP(plain) !== 0 && !NON_PUBLIC.check(plain, family(plain));
}

async function resolveWithDns(hostname: string): Promise<string[]> {
  const answers = await lookup(hostname, { all: true, verbatim: true });
  return answers.map((answer) => answer.address);
}

/** Builds the fetch; see the module header for what it refuses. */
export function createHardenedFetch(options: HardenedFetchOptions): typeof fetch {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const resolveHost = options.resolveHost ?? resolveWithDns;
  const innerFetch = options.fetch ?? fetch;

  async function checkDestination(url: URL): Promise<void> {
    if (url.username !== "" || url.password !== "")
      throw new HardenedFetchError(`refused ${url.origin}: credentials in the URL`);
    const httpAllowed = options.allowLoopbackHttp && url.protocol === "http:";
    if (url.protocol !== "https:" && !httpAllowed)
      throw new HardenedFetchError(`refused ${url.origin}: only https is allowed`);
    if (url.port !== "" && !options.allowLoopbackHttp)
      throw new HardenedFetchError(`refused ${url.origin}: only the default port is allowed`);
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const addresses = isIP(hostname) !== 0 ? [hostname] : await resolveHost(hostname);
    if (addresses.length === 0) throw new HardenedFetchError(`refused ${url.origin}: no address`);
    for (const address of addresses) {
      if (isPublicAddress(address)) {
        if (httpAllowed)
          throw new HardenedFetchError(`refused ${url.origin}: http to a public host`);
        continue;
      }
      if (options.allowLoopbackHttp && isLoopbackAddress(address)) continue;
      throw new HardenedFetchError(`refused ${url.origin}: it resolves to a non-public address`);
    }
  }

  const hardened = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    await checkDestination(url);
    const timeout = AbortSignal.timeout(timeoutMs);
    const response = await innerFetch(request, {
      redirect: "manual",
      signal: AbortSignal.any([request.signal, timeout]),
    });
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw new HardenedFetchError(`refused a redirect from ${url.origin}`);
    }
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > maxBytes) {
      await response.body?.cancel();
      throw new HardenedFetchError(`refused ${url.origin}: the response is over ${maxBytes} bytes`);
    }
    const body = await readCapped(response, maxBytes, url.origin);
    // A fresh Response: the body is already here, so later reads cannot outlast the timeout.
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
  return Object.assign(hardened, { preconnect: fetch.preconnect });
}

async function readCapped(
  response: Response,
  maxBytes: number,
  origin: string,
): Promise<ArrayBuffer | null> {
  if (response.body === null) return null;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new HardenedFetchError(`refused ${origin}: the response is over ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body.buffer;
}
