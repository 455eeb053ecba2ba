/**
 * Forwarding one request to an Otterwiki socket and its answer back. Hop-by-hop headers are
 * dropped both ways (RFC 9110 §7.6.1), and so is every client header that could speak for us:
 * `x-otterwiki-*` (Otterwiki trusts them blindly), `x-wikibot-*` (our route to the WSGI
 * wrapper), `x-forwarded-*`/`forwarded`, credentials, our own cookies, and any name with an
 * underscore: a WSGI server maps `-` and `_` to the same environ key, and gunicorn takes
 * `SCRIPT_NAME` from such a header and cuts it off the path Otterwiki routes (issue 8). Identity
 * and Host come from the server alone; the scheme is fixed per deployment (WIKIBOT_URL_SCHEME).
 * Bodies stream back untouched (`decompress: false` keeps Content-Encoding and the bytes).
 */
import { OUR_COOKIE_PATTERN } from "../auth/session/session-cookie.ts";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Client headers never forwarded, beyond hop-by-hop ones. */
const NOT_FORWARDED = new Set([
  "host",
  "content-length",
  "authorization",
  "cookie",
  "forwarded",
  "x-real-ip",
  // Ours replaces it (below), so Otterwiki's side of a request is logged under the same id.
  "x-request-id",
]);

/** Client header prefixes never forwarded: identity, our route, and forwarding claims. */
const UNTRUSTED_PREFIXES = ["x-otterwiki-", "x-wikibot-", "x-forwarded-"];

function connectionListed(headers: Headers): Set<string> {
  const listed = new Set<string>();
  for (const token of (headers.get("connection") ?? "").split(",")) {
    const name = token.trim().toLowerCase();
    if (name !== "") listed.add(name);
  }
  return listed;
}

export interface UpstreamRequest {
  method: string;
  /** Path and query exactly as the client sent them. */
  pathAndQuery: string;
  clientHeaders: Headers;
  body: Uint8Array<ArrayBuffer> | null;
  /** The public host of the wiki, e.g. `demo.wikibot.example`. */
  publicHost: string;
  identity: [string, string][];
  /** For a POST: the Otterwiki view and arguments the proxy checked (route-policy.ts). */
  route?: string;
  /** Replaces the client's Content-Type when the proxy re-serialised the body. */
  contentType?: string;
  /** Our id for the request (request-context.ts), sent on as X-Request-Id. */
  requestId?: string;
}

export function upstreamHeaders(request: UpstreamRequest): Headers {
  const listed = connectionListed(request.clientHeaders);
  const headers = new Headers();
  for (const [name, value] of request.clientHeaders) {
    if (HOP_BY_HOP.has(name) || listed.has(name) || NOT_FORWARDED.has(name)) continue;
    if (name.includes("_") || UNTRUSTED_PREFIXES.some((prefix) => name.startsWith(prefix)))
      continue;
    headers.append(name, value);
  }
  const cookies = forwardedCookies(request.clientHeaders.get("cookie"));
  if (cookies !== "") headers.set("cookie", cookies);
  if (request.contentType !== undefined) headers.set("content-type", request.contentType);
  if (request.route !== undefined) headers.set("x-wikibot-route", request.route);
  if (request.requestId !== undefined) headers.set("x-request-id", request.requestId);
  for (const [name, value] of request.identity) headers.set(name, value);
  return headers;
}

/** The Cookie header minus our own cookies: a session token has no business in Otterwiki. */
export function forwardedCookies(header: string | null): string {
  if (header === null) return "";
  return header
    .split(";")
    .map((part) => part.trim())
    .filter((part) => {
      const name = part.slice(0, Math.max(0, part.indexOf("="))).trim();
      return part !== "" && !OUR_COOKIE_PATTERN.test(name);
    })
    .join("; ");
}

/** Sends the request to the socket; throws only when the socket itself fails. */
export function sendToOtterwiki(socket: string, request: UpstreamRequest): Promise<Response> {
  return fetch(`http://${request.publicHost}${request.pathAndQuery}`, {
    unix: socket,
    method: request.method,
    headers: upstreamHeaders(request),
    body: request.body,
    redirect: "manual",
    decompress: false,
  });
}

/** Otterwiki's response for the client: hop-by-hop headers dropped, `onDone` once the body ends. */
export function clientResponse(
  upstream: Response,
  onDone: () => void,
  extraCookies: readonly string[] = [],
): Response {
  const listed = connectionListed(upstream.headers);
  const headers = new Headers();
  for (const [name, value] of upstream.headers) {
    if (HOP_BY_HOP.has(name) || listed.has(name) || name === "set-cookie") continue;
    headers.append(name, value);
  }
  for (const cookie of upstream.headers.getSetCookie()) headers.append("set-cookie", cookie);
  for (const cookie of extraCookies) headers.append("set-cookie", cookie);
  // Pages differ per signed-in user; no shared cache may keep one.
  if (!headers.has("cache-control") && (headers.get("content-type") ?? "").startsWith("text/html"))
    headers.set("cache-control", "private, no-cache");
  const init = { status: upstream.status, statusText: upstream.statusText, headers };
  if (upstream.body === null) {
    onDone();
    return new Response(null, init);
  }
  return new Response(releaseWhenDone(upstream.body, onDone), init);
}

/**
 * How much of a response is read ahead of a slow client. gunicorn's sync worker serves one
 * request at a time and blocks while its socket is full, so a client that reads slowly would
 * stall the whole wiki; reading ahead (like nginx's proxy buffering) frees the worker as soon
 * as it is done, while bytes still reach the client as they arrive.
 */
export const READ_AHEAD_BYTES = 16 * 1024 * 1024;

/**
 * Passes the body through, reading up to READ_AHEAD_BYTES ahead of the client, and calls
 * `onDone` once: when Otterwiki's body has been read to its end, on error, or when the client
 * goes away.
 */
function releaseWhenDone(
  body: ReadableStream<Uint8Array>,
  onDone: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    onDone();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            finish();
            controller.close();
            return;
          }
          controller.enqueue(value);
        } catch (error) {
          finish();
          controller.error(error);
        }
      },
      async cancel(reason) {
        finish();
        await reader.cancel(reason);
      },
    },
    { highWaterMark: READ_AHEAD_BYTES, size: (chunk) => chunk?.byteLength ?? 0 },
  );
}
