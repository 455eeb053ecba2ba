/**
 * `POST /api/signup`: a person who has just proved their Bluesky identity chooses the username
 * they will have here. No session exists yet; the pending signup cookie the sign-in callback set
 * names them, so the route runs before authentication (routes.ts) but still behind the
 * same-origin and JSON checks. The work is the sign-in's (src/auth/atproto-login/), injected.
 */
import { Elysia, t } from "elysia";
import { jsonError } from "../http/json.ts";
import type { ManageDeps } from "./context.ts";
import { ERROR, USER } from "./schemas.ts";

export const SIGNUP_PATH = "/signup";

export function signupRoutes(deps: ManageDeps) {
  return new Elysia().post(
    SIGNUP_PATH,
    ({ request, body }) => {
      if (deps.signUp === null)
        return jsonError(404, "not_found", "sign-in with Bluesky is not available here");
      return deps.signUp(request, body.username);
    },
    {
      body: t.Object(
        { username: t.String({ maxLength: 100, description: "3–63 of a–z 0–9 -; immutable" }) },
        { additionalProperties: false },
      ),
      detail: {
        summary: "Choose your username after your first Bluesky sign-in",
        description:
          "Needs the sign-up cookie the sign-in callback set (valid 15 minutes). Creates the " +
          "account, claims roles granted to you before, and sets the session cookie.",
        tags: ["me"],
        security: [],
      },
      response: {
        201: t.Object({
          user: USER,
          location: t.String({ description: "Where the sign-in was going" }),
        }),
        400: ERROR,
        401: t.Object(ERROR.properties, { description: "No sign-up in progress, or expired" }),
        403: ERROR,
        409: t.Object(ERROR.properties, { description: "The username is taken" }),
        413: ERROR,
        415: ERROR,
      },
    },
  );
}
