/**
 * The tenant a request was routed to. The dispatcher resolves the Host once and attaches the
 * wiki here; wiki-host handlers read it back instead of parsing the Host again.
 */
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
