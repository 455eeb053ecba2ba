/** Apex routes of browser sessions: the handshake that gives wiki hosts their own session, and sign-out. */
import { Elysia } from "elysia";
import {
  answerHandoffAtApex,
  answerLogoutAtApex,
  HANDOFF_PATH,
  type HandoffDeps,
} from "./handoff.ts";

export type SessionRouteDeps = HandoffDeps;

export function sessionRoutes(deps: SessionRouteDeps) {
  return new Elysia()
    .get(HANDOFF_PATH, ({ request }) => answerHandoffAtApex(deps, request))
    .get("/auth/logout", ({ request }) => answerLogoutAtApex(deps, request))
    .post("/auth/logout", ({ request }) => answerLogoutAtApex(deps, request));
}
