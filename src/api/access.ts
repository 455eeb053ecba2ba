/** Who may write through the REST API: the one access decision, rendered as REST refuses. */
import { type BearerGateDeps, refuseUnless, type WikiCaller } from "../auth/bearer.ts";
import type { Wiki } from "../wikis/wiki-store.ts";

export function writeRefusal(
  deps: BearerGateDeps,
  wiki: Wiki,
  caller: WikiCaller,
): Response | null {
  return refuseUnless(deps, wiki, caller, "write");
}
