/**
 * `/api/wikis/{slug}/tokens[/{id}]`: wiki tokens. Members make tokens for themselves and see and
 * revoke their own; owners see and revoke all of the wiki's (src/wikis/tokens.ts).
 */
import { Elysia, t } from "elysia";
import type { User } from "../auth/user-store.ts";
import type { WikiToken } from "../auth/wiki-token.ts";
import { jsonResponse } from "../http/json.ts";
import { createToken, listTokens, MAX_TOKEN_LABEL_LENGTH, revokeToken } from "../wikis/tokens.ts";
import { callerOf, type ManageDeps } from "./context.ts";
import { COMMON_ERRORS, SCOPE, TOKEN, tokenJson, WRITE_ERRORS } from "./schemas.ts";

const NO_STORE = { "cache-control": "no-store" };

export function tokenRoutes(deps: ManageDeps) {
  const actorOf = (request: Request) => ({ kind: "user" as const, user: callerOf(request) });
  const json = (token: WikiToken, known?: User) =>
    tokenJson(token, known ?? deps.users.findById(token.userId));

  return new Elysia()
    .get(
      "/wikis/:slug/tokens",
      ({ request, params }) => {
        const tokens = listTokens(deps, actorOf(request), params.slug).map((token) => json(token));
        return jsonResponse({ tokens }, 200, NO_STORE);
      },
      {
        params: t.Object({ slug: t.String({ maxLength: 63 }) }),
        detail: {
          summary: "Tokens of this wiki: all of them for owners, your own for anyone else",
          tags: ["tokens"],
        },
        response: { 200: t.Object({ tokens: t.Array(TOKEN) }), ...COMMON_ERRORS },
      },
    )
    .post(
      "/wikis/:slug/tokens",
      ({ request, params, body }) => {
        const user = callerOf(request);
        const { token, plaintext } = createToken(deps, actorOf(request), params.slug, {
          user,
          scope: body.scope ?? "write",
          label: body.label ?? "",
        });
        return jsonResponse({ token: json(token, user), secret: plaintext }, 201, NO_STORE);
      },
      {
        params: t.Object({ slug: t.String({ maxLength: 63 }) }),
        body: t.Object(
          {
            label: t.Optional(t.String({ maxLength: MAX_TOKEN_LABEL_LENGTH })),
            scope: t.Optional(SCOPE),
          },
          { additionalProperties: false },
        ),
        detail: {
          summary: "Make a token for yourself (any member)",
          description:
            "The secret is in this answer only. The scope caps the token; your role decides the rest.",
          tags: ["tokens"],
        },
        response: {
          201: t.Object({
            token: TOKEN,
            secret: t.String({ description: "wbt_…, shown once" }),
          }),
          ...WRITE_ERRORS,
        },
      },
    )
    .delete(
      "/wikis/:slug/tokens/:id",
      ({ request, params }) => {
        const token = revokeToken(deps, actorOf(request), { slug: params.slug, id: params.id });
        return jsonResponse(json(token), 200, NO_STORE);
      },
      {
        params: t.Object({ slug: t.String({ maxLength: 63 }), id: t.String({ maxLength: 64 }) }),
        detail: {
          summary: "Revoke a token (your own; owners: any of the wiki's)",
          tags: ["tokens"],
        },
        response: { 200: TOKEN, ...WRITE_ERRORS },
      },
    );
}
