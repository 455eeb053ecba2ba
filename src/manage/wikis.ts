/** `/api/wikis` and `/api/wikis/{slug}`: list, create, read, change and delete wikis. */
import { Elysia, t } from "elysia";
import { jsonResponse } from "../http/json.ts";
import { wikiForActor } from "../wikis/use-case.ts";
import { createWiki, deleteWiki, updateWiki } from "../wikis/wiki-service.ts";
import { callerOf, type ManageDeps } from "./context.ts";
import { COMMON_ERRORS, SLUG_PARAMS, WIKI, WRITE_ERRORS, wikiJson } from "./schemas.ts";

const NO_STORE = { "cache-control": "no-store" };

export function wikiRoutes(deps: ManageDeps) {
  const actorOf = (request: Request) => ({ kind: "user" as const, user: callerOf(request) });

  return new Elysia()
    .get(
      "/wikis",
      ({ request }) => {
        const user = callerOf(request);
        const wikis = deps.wikis
          .listForUser(user.id)
          .map(({ wiki, role }) => wikiJson(deps.publicUrl, wiki, role));
        return jsonResponse({ wikis }, 200, NO_STORE);
      },
      {
        detail: { summary: "Every wiki you hold a role on", tags: ["wikis"] },
        response: { 200: t.Object({ wikis: t.Array(WIKI) }), 401: COMMON_ERRORS[401] },
      },
    )
    .post(
      "/wikis",
      async ({ request, body }) => {
        const user = callerOf(request);
        // New wikis start free; plans change through billing (not built), never through this call.
        const created = await createWiki(deps, {
          slug: body.slug,
          ownerUsername: user.username,
          name: body.name,
          isPublic: body.public ?? false,
          tier: "free",
          client: "app",
          plans: deps.plans,
        });
        return jsonResponse(
          { wiki: wikiJson(deps.publicUrl, created.wiki, "owner"), token: created.token },
          201,
          NO_STORE,
        );
      },
      {
        body: t.Object(
          {
            slug: t.String({ maxLength: 63, description: "3–63 of a–z 0–9 -; becomes the host" }),
            name: t.Optional(t.String({ maxLength: 100 })),
            public: t.Optional(t.Boolean({ description: "Anyone may read; default false" })),
          },
          { additionalProperties: false },
        ),
        detail: {
          summary: "Create a wiki; you become its owner",
          description: "The answer holds your first write token for it, shown this once.",
          tags: ["wikis"],
        },
        response: {
          201: t.Object({
            wiki: WIKI,
            token: t.String({ description: "A write token (wbt_…), shown once" }),
          }),
          ...WRITE_ERRORS,
        },
      },
    )
    .get(
      "/wikis/:slug",
      ({ request, params }) => {
        const { wiki, role } = wikiForActor(deps.wikis, actorOf(request), params.slug);
        return jsonResponse(wikiJson(deps.publicUrl, wiki, role), 200, NO_STORE);
      },
      {
        params: SLUG_PARAMS,
        detail: { summary: "One wiki (any member)", tags: ["wikis"] },
        response: { 200: WIKI, ...COMMON_ERRORS },
      },
    )
    .patch(
      "/wikis/:slug",
      async ({ request, params, body }) => {
        const wiki = await updateWiki(deps, actorOf(request), params.slug, {
          name: body.name,
          isPublic: body.public,
        });
        return jsonResponse(wikiJson(deps.publicUrl, wiki, "owner"), 200, NO_STORE);
      },
      {
        params: SLUG_PARAMS,
        body: t.Object(
          {
            name: t.Optional(t.String({ maxLength: 100 })),
            public: t.Optional(t.Boolean()),
          },
          { additionalProperties: false },
        ),
        detail: { summary: "Rename a wiki or make it public or private (owners)", tags: ["wikis"] },
        response: { 200: WIKI, ...WRITE_ERRORS },
      },
    )
    .delete(
      "/wikis/:slug",
      async ({ request, params, body }) => {
        await deleteWiki(deps, actorOf(request), params.slug, body.confirm);
        return jsonResponse({ deleted: params.slug }, 200, NO_STORE);
      },
      {
        params: SLUG_PARAMS,
        body: t.Object(
          { confirm: t.String({ maxLength: 63, description: "The wiki's slug, typed again" }) },
          { additionalProperties: false },
        ),
        detail: {
          summary: "Delete a wiki, its repository and its tokens for good (owners)",
          description:
            "Waits for writes in flight, stops the wiki's processes and removes its data.",
          tags: ["wikis"],
        },
        response: { 200: t.Object({ deleted: t.String() }), ...WRITE_ERRORS },
      },
    );
}
