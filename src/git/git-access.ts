/**
 * Who may use which git service on a wiki (DESIGN §5): fetching needs read access; pushing needs
 * an editor or owner with a write token on a premium wiki. Refusals are GitHttpErrors whose text
 * git shows the user. 401 always carries a Basic challenge so git asks its credential helper.
 */
import {
  ANONYMOUS,
  canRead,
  canWrite,
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
  const challenge = { "www-authenticate": `Basic realm="${wiki.slug}", charset="UTF-8"` };
  const credentials = readBasicToken(authorization);
  if (credentials.kind === "malformed") {
    throw new GitHttpError(
      401,
      "authentication failed: send a wiki token as the password (any user name)",
      challenge,
      "malformed Authorization header",
    );
  }
  let principal: Principal = ANONYMOUS;
  if (credentials.kind === "token") {
    const access = resolveWikiToken(deps, wiki, credentials.token);
    if (access.kind === "invalid") {
      // One answer for unknown, revoked and other-wiki tokens; the reason goes to the log.
      throw new GitHttpError(
        401,
        `authentication failed: that token is not valid for ${wiki.slug} (unknown, revoked, or made for another wiki)`,
        challenge,
        access.reason,
      );
    }
    if (access.kind === "authenticated") principal = access.principal;
  }
  const anonymous = principal.user === null;

  if (service === "git-upload-pack") {
    if (canRead(wiki, principal)) return principal;
    if (anonymous) {
      throw new GitHttpError(
        401,
        `${wiki.slug} is a private wiki: use a wiki token as the password (any user name)`,
        challenge,
      );
    }
    throw new GitHttpError(403, `you have no role on ${wiki.slug}, so you cannot read it`);
  }

  if (anonymous) {
    throw new GitHttpError(
      401,
      `pushing to ${wiki.slug} needs a wiki token with write scope as the password (any user name)`,
      challenge,
    );
  }
  if (!canRead(wiki, principal)) {
    throw new GitHttpError(403, `you have no role on ${wiki.slug}, so you cannot push to it`);
  }
  if (wiki.tier === "free") {
    throw new GitHttpError(
      403,
      `this wiki is on the free plan: git access is read-only; upgrade ${wiki.slug} to premium to push, or edit pages in the browser or over MCP`,
    );
  }
  if (wiki.tier === "lapsed") {
    throw new GitHttpError(
      403,
      `this wiki's premium plan has lapsed: ${wiki.slug} is read-only until the plan is renewed`,
    );
  }
  if (principal.role !== "editor" && principal.role !== "owner") {
    throw new GitHttpError(
      403,
      `your role on ${wiki.slug} is ${principal.role ?? "none"}: pushing needs editor or owner`,
    );
  }
  if (!canWrite(wiki, principal)) {
    throw new GitHttpError(403, "this token is read-only: make a token with write scope to push");
  }
  return principal;
}
