/**
 * `/api/wikis/{slug}/members[/{did or handle}]`: who may use a wiki. The rules (owners grant,
 * anyone may leave, the last owner stays) live in src/wikis/members.ts, shared with the CLI.
 */
import { Elysia, t } from "elysia";
import { jsonResponse } from "../http/json.ts";
import {
  getMember,
  grantRole,
  listMembers,
  parseSubject,
  removeMember,
  resolveGrantSubject,
} from "../wikis/members.ts";
import { callerOf, type ManageDeps } from "./context.ts";
import { COMMON_ERRORS, MEMBER, memberJson, ROLE, WRITE_ERRORS } from "./schemas.ts";

const NO_STORE = { "cache-control": "no-store" };
const MEMBER_PARAMS = t.Object({
  slug: t.String({ maxLength: 63 }),
  member: t.String({
    maxLength: 300,
    description: "A DID (did:plc:…) or a handle (alice.bsky.social)",
  }),
});

export function memberRoutes(deps: ManageDeps) {
  const actorOf = (request: Request) => ({ kind: "user" as const, user: callerOf(request) });

  return new Elysia()
    .get(
      "/wikis/:slug/members",
      ({ request, params }) => {
        const members = listMembers(deps, actorOf(request), params.slug).map(memberJson);
        return jsonResponse({ members }, 200, NO_STORE);
      },
      {
        params: t.Object({ slug: t.String({ maxLength: 63 }) }),
        detail: { summary: "Members and pending grants (any member)", tags: ["members"] },
        response: { 200: t.Object({ members: t.Array(MEMBER) }), ...COMMON_ERRORS },
      },
    )
    .get(
      "/wikis/:slug/members/:member",
      ({ request, params }) => {
        const membership = getMember(
          deps,
          actorOf(request),
          params.slug,
          parseSubject(params.member),
        );
        return jsonResponse(memberJson(membership), 200, NO_STORE);
      },
      {
        params: MEMBER_PARAMS,
        detail: { summary: "One member's role (any member)", tags: ["members"] },
        response: { 200: MEMBER, ...COMMON_ERRORS },
      },
    )
    .put(
      "/wikis/:slug/members/:member",
      async ({ request, params, body }) => {
        const actor = actorOf(request);
        const subject = await resolveGrantSubject(
          deps,
          actor,
          params.slug,
          parseSubject(params.member),
          deps.resolveHandle,
        );
        const membership = grantRole(deps, actor, params.slug, subject, body.role);
        return jsonResponse(memberJson(membership), 200, NO_STORE);
      },
      {
        params: MEMBER_PARAMS,
        body: t.Object({ role: ROLE }, { additionalProperties: false }),
        detail: {
          summary: "Grant or change a role (owners)",
          description:
            "Someone who has never signed in gets a pending grant, claimed at their first sign-in; " +
            "a handle is resolved to the DID it names today (404 when it names nobody). " +
            "Demoting the last owner is refused (409).",
          tags: ["members"],
        },
        response: { 200: MEMBER, ...WRITE_ERRORS },
      },
    )
    .delete(
      "/wikis/:slug/members/:member",
      ({ request, params }) => {
        removeMember(deps, actorOf(request), params.slug, parseSubject(params.member));
        return jsonResponse({ removed: params.member }, 200, NO_STORE);
      },
      {
        params: MEMBER_PARAMS,
        detail: {
          summary: "Remove a member or a pending grant (owners; anyone may remove themselves)",
          description: "Their tokens for this wiki are revoked. The last owner cannot be removed.",
          tags: ["members"],
        },
        response: { 200: t.Object({ removed: t.String() }), ...WRITE_ERRORS },
      },
    );
}
