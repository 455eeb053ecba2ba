/**
 * Connected apps: the OAuth clients people allowed on a wiki (its authorization server,
 * src/oauth/, makes the grants). `/api/wikis/{slug}/connections[/{id}]` is one wiki's view
 * (owners: everyone's; others: their own); `/api/me/connections[/{id}]` is the caller's across
 * wikis. Revoking ends the grant and every token from it. The rules: src/wikis/connections.ts.
 */
import { Elysia, t } from "elysia";
import type { ConnectedApp } from "../auth/oauth-grant-store.ts";
import { jsonResponse } from "../http/json.ts";
import {
  listConnections,
  listOwnConnections,
  type OwnConnection,
  revokeConnection,
  revokeOwnConnection,
} from "../wikis/connections.ts";
import { callerOf, type ManageDeps } from "./context.ts";
import { COMMON_ERRORS, WRITE_ERRORS } from "./schemas.ts";

const NO_STORE = { "cache-control": "no-store" };
const TIME = t.String({ format: "date-time" });
const SLUG = t.String({ maxLength: 63 });
const GRANT_ID = t.String({ maxLength: 64 });

const CONNECTION_FIELDS = {
  id: t.String({ description: "The grant's id" }),
  client: t.Object({
    id: t.String({ description: "The OAuth client_id" }),
    name: t.String({ description: "As the client registered itself (client_name)" }),
    redirect_host: t.String({
      description: "Where its redirects go, e.g. claude.ai: what identifies the app",
    }),
  }),
  user: t.Object({
    username: t.String(),
    did: t.String(),
    display_name: t.String(),
  }),
  scopes: t.Array(t.String(), { description: "Granted scopes: wiki:read, wiki:write" }),
  created_at: TIME,
  last_used_at: t.Union([TIME, t.Null()]),
};

const CONNECTION = t.Object(CONNECTION_FIELDS);
const OWN_CONNECTION = t.Object({
  ...CONNECTION_FIELDS,
  wiki: t.Object({ slug: t.String(), name: t.String() }),
});

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

export function connectionRoutes(deps: ManageDeps) {
  const actorOf = (request: Request) => ({ kind: "user" as const, user: callerOf(request) });

  const json = (grant: ConnectedApp) => {
    const user = deps.users.findById(grant.userId);
    return {
      id: grant.grantId,
      client: { id: grant.clientId, name: grant.clientName, redirect_host: grant.redirectHost },
      user: {
        username: user?.username ?? "",
        did: user?.did ?? "",
        display_name: user?.displayName ?? "",
      },
      scopes: grant.scopes,
      created_at: iso(grant.createdAt),
      last_used_at: grant.lastUsedAt === null ? null : iso(grant.lastUsedAt),
    };
  };
  const ownJson = ({ connection, wiki }: OwnConnection) => ({
    ...json(connection),
    wiki: { slug: wiki.slug, name: wiki.name },
  });

  return new Elysia()
    .get(
      "/wikis/:slug/connections",
      ({ request, params }) => {
        const connections = listConnections(deps, actorOf(request), params.slug).map(json);
        return jsonResponse({ connections }, 200, NO_STORE);
      },
      {
        params: t.Object({ slug: SLUG }),
        detail: {
          summary: "Apps connected to this wiki: all of them for owners, your own for anyone else",
          tags: ["connections"],
        },
        response: { 200: t.Object({ connections: t.Array(CONNECTION) }), ...COMMON_ERRORS },
      },
    )
    .delete(
      "/wikis/:slug/connections/:id",
      ({ request, params }) => {
        const actor = actorOf(request);
        const revoked = revokeConnection(deps, actor, params);
        deps.logger.info("connected app revoked", {
          grant_id: revoked.grantId,
          by_user_id: actor.user.id,
        });
        return jsonResponse(json(revoked), 200, NO_STORE);
      },
      {
        params: t.Object({ slug: SLUG, id: GRANT_ID }),
        detail: {
          summary: "Disconnect an app (your own; owners: any of the wiki's)",
          description: "Its tokens stop working at once. Answers the connection revoked.",
          tags: ["connections"],
        },
        response: { 200: CONNECTION, ...WRITE_ERRORS },
      },
    )
    .get(
      "/me/connections",
      ({ request }) => {
        const connections = listOwnConnections(deps, callerOf(request)).map(ownJson);
        return jsonResponse({ connections }, 200, NO_STORE);
      },
      {
        detail: { summary: "Apps you connected, on every wiki", tags: ["connections", "me"] },
        response: {
          200: t.Object({ connections: t.Array(OWN_CONNECTION) }),
          401: COMMON_ERRORS[401],
        },
      },
    )
    .delete(
      "/me/connections/:id",
      ({ request, params }) => {
        const user = callerOf(request);
        const revoked = revokeOwnConnection(deps, user, params.id);
        deps.logger.info("connected app revoked", {
          grant_id: revoked.connection.grantId,
          by_user_id: user.id,
        });
        return jsonResponse(ownJson(revoked), 200, NO_STORE);
      },
      {
        params: t.Object({ id: GRANT_ID }),
        detail: {
          summary: "Disconnect one of your apps",
          description: "Its tokens stop working at once. Someone else's connection is 404.",
          tags: ["connections", "me"],
        },
        response: { 200: OWN_CONNECTION, ...WRITE_ERRORS },
      },
    );
}
