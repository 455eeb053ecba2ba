/**
 * The tenant a request was routed to. The dispatcher resolves the Host once and attaches the
 * wiki here; wiki-host handlers read it back instead of parsing the Host again.
 */
import { randomId } from "../lib/random.ts";
import type { Wiki } from "../wikis/wiki-store.ts";

const wikiByRequest = new WeakMap<Request, Wiki>();

export function attachWiki(request: Request, wiki: Wiki): void {
  wikiByRequest.set(request, wiki);
}

export function wikiOf(request: Request): Wiki {
  const wiki = wikiByRequest.get(request);
  if (wiki === undefined)
    throw new Error("wikiOf() called on a request that was not routed to a wiki");
  return wiki;
}

const clientAddressByRequest = new WeakMap<Request, string>();

/** The peer address Bun saw for this request (server.ts). */
export function attachClientAddress(request: Request, address: string): void {
  clientAddressByRequest.set(request, address);
}

const LOOPBACK = /^(?:127\.|::1$|::ffff:127\.)/;

/**
 * Who is asking, for rate limits: the peer address, or, when the peer is on this machine (our
 * Caddy in front, DESIGN §2), the address Caddy put in X-Forwarded-For. Caddy replaces that header
 * for clients it does not trust (its default, no `trusted_proxies`), so the right-most entry is
 * the address it saw. A client reaching us directly from elsewhere cannot choose its key.
 */
export function clientKeyOf(request: Request): string {
  const peer = clientAddressByRequest.get(request) ?? "";
  if (!LOOPBACK.test(peer)) return peer;
  const forwarded = request.headers.get("x-forwarded-for");
  const last = forwarded?.split(",").at(-1)?.trim() ?? "";
  return last === "" ? peer : last.slice(0, 64);
}

const requestIdByRequest = new WeakMap<Request, string>();
/** What we accept as an id: short, and nothing a log reader or header could misparse. */
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The id this request is logged and answered under (issue 12): the X-Request-Id our Caddy in
 * front set when the request came through it (a loopback peer, the rule of clientKeyOf), so its
 * access log and ours line up; otherwise, or when the value is not a plain token, a new one.
 */
export function assignRequestId(request: Request): string {
  const peer = clientAddressByRequest.get(request) ?? "";
  const offered = request.headers.get("x-request-id");
  const id =
    LOOPBACK.test(peer) && offered !== null && REQUEST_ID.test(offered) ? offered : randomId(16);
  requestIdByRequest.set(request, id);
  return id;
}

/** The id assignRequestId gave this request; null for one that never passed through the app. */
export function requestIdOf(request: Request): string | null {
  return requestIdByRequest.get(request) ?? null;
}
