/**
 * Who is calling a wiki, and what they may do there (DESIGN §5). Credentials — a wiki token
 * (`wbt_`) or an OAuth access token (`wboa_`, issued by the wiki's own authorization server) —
 * resolve to a user; the user's role is read from the ACL on every request, never cached, so a
 * removed member or a lapsed tier applies to the very next request. Both kinds of token are
 * bound to one wiki; an OAuth token also to its audience, the wiki's MCP URL (RFC 8707).
 */
import type { Role, Wiki, WikiStore } from "../wikis/wiki-store.ts";
import { decideAccess } from "./access-decision.ts";
import {
  OAUTH_ACCESS_TOKEN_PREFIX,
  type OAuthAccessToken,
  type OAuthAccessTokenStore,
} from "./oauth-access-token.ts";
import { mcpResourceUrl, WIKI_WRITE_SCOPE } from "./protected-resource-metadata.ts";
import type { User, UserStore } from "./user-store.ts";
import type { TokenScope, WikiTokenStore } from "./wiki-token.ts";

export interface Principal {
  user: User | null;
  /** The user's role on this wiki (null: anonymous or no role). */
  role: Role | null;
  /** The token's scope; null for anonymous callers. */
  scope: TokenScope | null;
  /** What binds an MCP session id: the wiki token's id, or `oauth:<grant id>` (stable across refreshes). */
  tokenId: string | null;
  /** The OAuth client acting for the user; null for wiki tokens, sessions and anonymous callers. */
  oauthClient: OAuthAccessToken | null;
}

export type AccessResult =
  | { kind: "anonymous" }
  | { kind: "authenticated"; principal: Principal }
  | { kind: "invalid"; reason: string };

export interface WikiAccessDeps {
  users: UserStore;
  wikis: WikiStore;
  tokens: WikiTokenStore;
  oauthTokens: OAuthAccessTokenStore;
  publicUrl: URL;
}

/** Why a presented token is not valid, worded once for both kinds of token. */
const INVALID_REASONS = {
  malformed: "it is malformed",
  unknown: "it is unknown",
  revoked: "it has been revoked",
  expired: "it has expired",
} as const;

/** Resolves a presented wiki token (or none) against one wiki. */
export function resolveWikiToken(
  deps: WikiAccessDeps,
  wiki: Wiki,
  presented: string | null,
): AccessResult {
  if (presented === null) return { kind: "anonymous" };
  if (presented.startsWith(OAUTH_ACCESS_TOKEN_PREFIX))
    return resolveOAuthToken(deps, wiki, presented);
  const verification = deps.tokens.verify(presented);
  if (verification.kind !== "valid")
    return { kind: "invalid", reason: INVALID_REASONS[verification.kind] };
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
      oauthClient: null,
    },
  };
}

/**
 * An OAuth access token: valid, for this wiki, with this wiki's MCP URL as its audience (a token
 * for wiki A is "not valid here" at wiki B, with the same answer as an unknown one). Its scopes
 * cap what the person's role allows: wiki:write acts as a write token, wiki:read as a read one.
 */
function resolveOAuthToken(deps: WikiAccessDeps, wiki: Wiki, presented: string): AccessResult {
  const verification = deps.oauthTokens.verify(presented);
  if (verification.kind !== "valid")
    return { kind: "invalid", reason: INVALID_REASONS[verification.kind] };
  const token = verification.token;
  const audience = mcpResourceUrl(deps.publicUrl, wiki.slug);
  if (token.wikiId !== wiki.id || token.resource !== audience)
    return { kind: "invalid", reason: "it was made for another wiki" };
  const user = deps.users.findById(token.userId);
  if (user === null) return { kind: "invalid", reason: "its user no longer exists" };
  return {
    kind: "authenticated",
    principal: {
      user,
      role: deps.wikis.roleOf(wiki.id, user.id),
      scope: token.scopes.includes(WIKI_WRITE_SCOPE) ? "write" : "read",
      tokenId: `oauth:${token.grantId}`,
      oauthClient: token,
    },
  };
}

export const ANONYMOUS: Principal = {
  user: null,
  role: null,
  scope: null,
  tokenId: null,
  oauthClient: null,
};

export function canRead(wiki: Wiki, principal: Principal): boolean {
  return decideAccess(wiki, principal, "read").allowed;
}

/** Writing needs an editor or owner role, a write-scoped token, and a wiki that has not lapsed. */
export function canWrite(wiki: Wiki, principal: Principal): boolean {
  return decideAccess(wiki, principal, "write").allowed;
}
