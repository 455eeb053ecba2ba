/**
 * Connected apps (OAuth grants, src/auth/oauth-grant-store.ts), shared by the management API and
 * the admin CLI: who sees and revokes which.
 *
 * The rules follow wiki tokens (src/wikis/tokens.ts), since a grant is a token a client holds in
 * a person's name: owners see and revoke every connection of their wiki (to cut off an app a
 * departed collaborator left connected), anyone else sees and revokes only their own. Across
 * wikis a person sees and revokes their own connections wherever they are, role or not, so an
 * app can always be disconnected by the person who connected it.
 */
import type { ConnectedApp, OAuthGrantStore } from "../auth/oauth-grant-store.ts";
import type { User } from "../auth/user-store.ts";
import { type Actor, WikiError, wikiForActor } from "./use-case.ts";
import type { Wiki, WikiStore } from "./wiki-store.ts";

export interface ConnectionDeps {
  wikis: WikiStore;
  oauthGrants: OAuthGrantStore;
}

/** A connection with the wiki it is on, for the person's view across wikis. */
export interface OwnConnection {
  connection: ConnectedApp;
  wiki: Wiki;
}

function notFound(id: string): WikiError {
  return new WikiError(`no connected app "${id}"`, "not_found");
}

/** The wiki's live connections the actor may see: all for owners, their own for anyone else. */
export function listConnections(deps: ConnectionDeps, actor: Actor, slug: string): ConnectedApp[] {
  const { wiki, role } = wikiForActor(deps.wikis, actor, slug);
  const all = deps.oauthGrants.listForWiki(wiki.id);
  if (role === "owner") return all;
  return all.filter((grant) => actor.kind === "user" && grant.userId === actor.user.id);
}

/**
 * Revokes one connection of the wiki `slug` (its tokens stop working at once). A grant of
 * another wiki is "not found" here, whatever the actor's rights there.
 */
export function revokeConnection(
  deps: ConnectionDeps,
  actor: Actor,
  target: { slug: string; id: string },
): ConnectedApp {
  const { wiki, role } = wikiForActor(deps.wikis, actor, target.slug);
  const grant = deps.oauthGrants.find(target.id);
  if (grant === null || grant.wikiId !== wiki.id) throw notFound(target.id);
  const own = actor.kind === "user" && grant.userId === actor.user.id;
  if (role !== "owner" && !own)
    throw new WikiError("only owners may revoke other people's connected apps", "forbidden");
  // False only when a concurrent request revoked it first: then it is gone, as for an unknown id.
  if (!deps.oauthGrants.revoke(grant.grantId)) throw notFound(target.id);
  return grant;
}

/** The person's live connections on every wiki, newest first. */
export function listOwnConnections(deps: ConnectionDeps, user: User): OwnConnection[] {
  return deps.oauthGrants.listForUser(user.id).flatMap((connection) => {
    // A grant's wiki cascades with it, so a missing one is a row deleted between the two reads.
    const wiki = deps.wikis.findById(connection.wikiId);
    return wiki === null ? [] : [{ connection, wiki }];
  });
}

/** Revokes one of the person's own connections; someone else's is "not found". */
export function revokeOwnConnection(deps: ConnectionDeps, user: User, id: string): OwnConnection {
  const connection = deps.oauthGrants.find(id);
  const wiki = connection === null ? null : deps.wikis.findById(connection.wikiId);
  if (connection === null || wiki === null || connection.userId !== user.id) throw notFound(id);
  if (!deps.oauthGrants.revoke(connection.grantId)) throw notFound(id);
  return { connection, wiki };
}
