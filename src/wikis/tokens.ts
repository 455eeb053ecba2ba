/**
 * Wiki tokens, shared by the admin CLI and the management API (DESIGN §10).
 *
 * Who sees and revokes which tokens: a token acts as the person who made it, so members make
 * tokens only for themselves, see only their own and revoke only their own; owners see and
 * revoke every token of their wiki (to cut off a lost laptop or a departed collaborator), but
 * cannot make one in someone else's name. The scope only caps a token; the maker's role, read
 * on every request, decides the rest (a viewer's write token writes once they become editor).
 * The operator may do all of it for anyone with a role.
 */
import type { User, UserStore } from "../auth/user-store.ts";
import type { TokenScope, WikiToken, WikiTokenStore } from "../auth/wiki-token.ts";
import { type Actor, WikiError, wikiForActor } from "./use-case.ts";
import type { Wiki, WikiStore } from "./wiki-store.ts";

export interface TokenDeps {
  users: UserStore;
  wikis: WikiStore;
  tokens: WikiTokenStore;
}

export const MAX_TOKEN_LABEL_LENGTH = 100;

export interface CreatedToken {
  token: WikiToken;
  /** Shown once; only its hash is kept. */
  plaintext: string;
}

/** Makes a token for `owner` (the actor themself, unless the operator acts). */
export function createToken(
  deps: TokenDeps,
  actor: Actor,
  slug: string,
  input: { user: User; scope: TokenScope; label: string },
): CreatedToken {
  const { wiki } = wikiForActor(deps.wikis, actor, slug);
  if (actor.kind === "user" && actor.user.id !== input.user.id)
    throw new WikiError("tokens can only be made for yourself", "forbidden");
  const role = deps.wikis.roleOf(wiki.id, input.user.id);
  if (role === null)
    throw new WikiError(`${input.user.username} has no role on ${wiki.slug}; grant one first`);
  const label = input.label.trim();
  if (label.length > MAX_TOKEN_LABEL_LENGTH || [...label].some((c) => c < " "))
    throw new WikiError(
      `a token label is limited to ${MAX_TOKEN_LABEL_LENGTH} printable characters`,
    );
  return deps.tokens.create({ wikiId: wiki.id, userId: input.user.id, scope: input.scope, label });
}

/** The wiki's tokens the actor may see: an owner's view is all of them, anyone else's their own. */
export function listTokens(deps: TokenDeps, actor: Actor, slug: string): WikiToken[] {
  const { wiki, role } = wikiForActor(deps.wikis, actor, slug);
  const all = deps.tokens.listForWiki(wiki.id);
  if (role === "owner") return all;
  return all.filter((token) => actor.kind === "user" && token.userId === actor.user.id);
}

/**
 * Revokes a token. With a slug (the API) the token must belong to that wiki; without one (the
 * CLI's `revoke-token --id`) only the operator may call. Revoking twice is a conflict.
 */
export function revokeToken(
  deps: TokenDeps,
  actor: Actor,
  target: { slug: string | null; id: string },
): WikiToken {
  let wiki: Wiki | null = null;
  let role: string | null = null;
  if (target.slug !== null) ({ wiki, role } = wikiForActor(deps.wikis, actor, target.slug));
  else if (actor.kind !== "operator") throw new Error("users revoke tokens through their wiki");
  const token = deps.tokens.findById(target.id);
  if (token === null || (wiki !== null && token.wikiId !== wiki.id))
    throw new WikiError(`no token "${target.id}"`, "not_found");
  const own = actor.kind === "user" && token.userId === actor.user.id;
  if (actor.kind === "user" && role !== "owner" && !own)
    throw new WikiError("only owners may revoke other people's tokens", "forbidden");
  if (!deps.tokens.revoke(token.id))
    throw new WikiError(`token ${token.id} was already revoked`, "conflict");
  return deps.tokens.findById(token.id) ?? token;
}
