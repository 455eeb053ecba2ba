/** Who may write through the REST API: the credential checks from the gate, then tier and role. */
import { type BearerGateDeps, type WikiCaller, writeCredentialChallenge } from "../auth/bearer.ts";
import { canWrite } from "../auth/wiki-access.ts";
import { jsonError } from "../http/json.ts";
import type { Wiki } from "../wikis/wiki-store.ts";

export function writeRefusal(
  deps: BearerGateDeps,
  wiki: Wiki,
  caller: WikiCaller,
): Response | null {
  const challenge = writeCredentialChallenge(deps, wiki, caller);
  if (challenge !== null) return challenge;
  if (wiki.tier === "lapsed") {
    return jsonError(403, "wiki_lapsed", "this wiki's subscription has lapsed; it is read-only");
  }
  if (!canWrite(wiki, caller.principal)) {
    return jsonError(
      403,
      "forbidden",
      `your role on this wiki is ${caller.principal.role ?? "none"}; writing needs editor or owner`,
    );
  }
  return null;
}
