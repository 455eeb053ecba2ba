/**
 * Who is at the browser on a wiki host: the wiki host's own session (DESIGN §5), made by the
 * handshake through the apex. The authorization server reads it and never the apex session,
 * so it trusts exactly what the wiki proxy trusts.
 */
import type { Session, SessionService } from "../auth/session/session.ts";
import { cookiePolicyFor, readCookie } from "../auth/session/session-cookie.ts";
import type { User, UserStore } from "../auth/user-store.ts";
import type { Wiki } from "../wikis/wiki-store.ts";

export interface SignedInPersonDeps {
  sessions: SessionService;
  users: Pick<UserStore, "findById">;
  publicUrl: URL;
}

export function signedInPerson(
  deps: SignedInPersonDeps,
  request: Request,
  wiki: Wiki,
): { session: Session; user: User } | null {
  const token = readCookie(request, "wiki-session", cookiePolicyFor(deps.publicUrl));
  if (token === null) return null;
  const session = deps.sessions.validateSessionToken(token, { kind: "wiki", wikiId: wiki.id });
  if (session === null) return null;
  const user = deps.users.findById(session.userId);
  return user === null ? null : { session, user };
}
