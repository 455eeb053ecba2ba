/** `GET /api/me`: who is signed in, the wikis they own or share, and their sign-in methods. */
import { Elysia, t } from "elysia";
import { jsonResponse } from "../http/json.ts";
import { callerOf, type ManageDeps } from "./context.ts";
import {
  COMMON_ERRORS,
  SIGN_IN_METHOD,
  signInMethodsJson,
  USER,
  userJson,
  WIKI,
  wikiJson,
} from "./schemas.ts";

export function meRoutes(deps: ManageDeps) {
  return new Elysia().get(
    "/me",
    ({ request }) => {
      const user = callerOf(request);
      const held = deps.wikis.listForUser(user.id);
      const json = ({ wiki, role }: (typeof held)[number]) => wikiJson(deps.publicUrl, wiki, role);
      return jsonResponse(
        {
          user: userJson(user),
          wikis: {
            owned: held.filter((entry) => entry.role === "owner").map(json),
            shared: held.filter((entry) => entry.role !== "owner").map(json),
          },
          sign_in_methods: signInMethodsJson(
            deps.signInProviders,
            deps.identityLinks.listForUser(user.id),
          ),
        },
        200,
        { "cache-control": "no-store" },
      );
    },
    {
      detail: { summary: "The signed-in user and their wikis", tags: ["me"] },
      response: {
        200: t.Object({
          user: USER,
          wikis: t.Object({
            owned: t.Array(WIKI),
            shared: t.Array(WIKI, { description: "Wikis where you are editor or viewer" }),
          }),
          sign_in_methods: t.Array(SIGN_IN_METHOD, {
            description: "Other ways into this account: each enabled provider and its link",
          }),
        }),
        401: COMMON_ERRORS[401],
      },
    },
  );
}
