/**
 * Who is calling a wiki, and what they may do there (DESIGN §5). Credentials resolve to a user;
 * the user's role is read from the ACL on every request, never cached, so a revoked role or a
 * lapsed tier applies to the very next request. A wiki token is bound to one wiki.
 */
import type { Role, Wiki, WikiStore } from "../wikis/wiki-store.ts";
import { decideAccess } from "./access-decision.ts";
import type { User, UserStore } from "./user-store.ts";
import type { TokenScope, WikiTokenStore } from "./wiki-token.ts";

export interface Principal {
  user: User | null;
  /** The user's role on this wiki (null: anonymous or no role). */
  role: Role | null;
  /** The token's scope; null for anonymous callers. */
  scope: TokenScope | null;
  tokenId: string | null;
}

export type AccessResult =
  | { kind: "anonymous" }
  | { kind: "authenticated"; principal: Principal }
  | { kind: "invalid"; reason: string };

export interface WikiAccessDeps {
  users: UserStore;
  wikis: WikiStore;
  tokens: WikiTokenStore;
}

/** Resolves a presented wiki token (or none) against one wiki. */
export function resolveWikiToken(
  deps: WikiAccessDeps,
  wiki: Wiki,
  presented: string | null,
): AccessResult {
  if (presented === null) return { kind: "anonymous" };
  const verification = deps.tokens.verify(presented);
  switch (verification.kind) {
    case "malformed":
      return { kind: "invalid", reason: "it is malformed" };
    case "unknown":
      return { kind: "invalid", reason: "it is unknown" };
    case "revoked":
      return { kind: "invalid", reason: "it has been revoked" };
    case "valid":
      break;
  }
  const token = verification.token;
  // A token for another wiki is "not valid here", with the same answer as an unknown token.
  if (token.wikiId !== wiki.id) return { kind: "invalid", reason: "it was made for another wiki" };
  const user = deps.users.findById(token.userId);
  if (user === null) return { kind: "invalid", reason: "its user no longer exists" };
  return {
    kind: "authenticated",
    principal: {
      user,
      role: deps.wikis.roleOf(wiki.id, user.id),
      scope: token.scope,
      tokenId: token.id,
    },
  };
}

export const ANONYMOUS: Principal = { user: null, role: null, scope: null, tokenId: null };

export function canRead(wiki: Wiki, principal: Principal): boolean {
  return decideAccess(wiki, principal, "read").allowed;
}

/** Writing needs an editor or owner role, a write-scoped token, and a wiki that has not lapsed. */
export function canWrite(wiki: Wiki, principal: Principal): boolean {
  return decideAccess(wiki, principal, "write").allowed;
}
