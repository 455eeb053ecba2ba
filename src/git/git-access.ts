/**
 * Who may use which git service on a wiki (DESIGN §5): fetching needs read access; pushing needs
 * an editor or owner with a write token on a premium wiki. Refusals are GitHttpErrors whose text
 * git shows the user. 401 always carries a Basic challenge so git asks its credential helper.
 */
import { decideAccess, invalidCredentialRefusal, type Refusal } from "../auth/access-decision.ts";
import {
  ANONYMOUS,
  type Principal,
  resolveWikiToken,
  type WikiAccessDeps,
} from "../auth/wiki-access.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { readBasicToken } from "./basic-auth.ts";
import { GitHttpError } from "./git-http-error.ts";

export type GitService = "git-upload-pack" | "git-receive-pack";

export function parseGitService(value: string | null): GitService | null {
  return value === "git-upload-pack" || value === "git-receive-pack" ? value : null;
}

/** Resolves the caller and checks they may run `service`; throws GitHttpError if not. */
export function authorizeGitService(
  deps: WikiAccessDeps,
  wiki: Wiki,
  authorization: string | null,
  service: GitService,
): Principal {
  const credentials = readBasicToken(authorization);
  if (credentials.kind === "malformed") {
    throw gitRefusal(
      wiki,
      invalidCredentialRefusal(wiki, "the Authorization header is not Basic credentials"),
    );
  }
  let principal: Principal = ANONYMOUS;
  if (credentials.kind === "token") {
    const access = resolveWikiToken(deps, wiki, credentials.token);
    if (access.kind === "invalid")
      throw gitRefusal(wiki, invalidCredentialRefusal(wiki, access.reason));
    if (access.kind === "authenticated") principal = access.principal;
  }
  const decision = decideAccess(wiki, principal, service === "git-upload-pack" ? "read" : "push");
  if (!decision.allowed) throw gitRefusal(wiki, decision.refusal);
  return principal;
}

/**
 * A refusal as git shows it: text/plain that git prints as `remote:` lines. What a credential
 * can fix is a 401 with a Basic challenge, so git asks its credential helper. Note that git
 * sends credentials only after a 401 (curl's CURLAUTH_ANY waits for the challenge), so on a
 * public wiki a clone with a token in its URL reads anonymously and the token is never seen;
 * a token that is presented is judged exactly as REST and MCP judge it.
 */
function gitRefusal(wiki: Wiki, refusal: Refusal): GitHttpError {
  const challenge = { "www-authenticate": `Basic realm="${wiki.slug}", charset="UTF-8"` };
  switch (refusal.reason) {
    case "invalid_token":
      return new GitHttpError(401, `authentication failed: ${refusal.message}`, challenge);
    case "unauthenticated":
      return new GitHttpError(
        401,
        `${refusal.message}: use it as the password (any user name)`,
        challenge,
      );
    default:
      return new GitHttpError(403, refusal.message);
  }
}
