/**
 * The last step of every sign-in: start an apex session for a user whose identity has been
 * proved, set its cookie, and send the browser on. The Bluesky login callback calls
 * `completeSignIn` once it knows the user; the test harness calls the very same function, so
 * the proxy and the handshake never depend on how a session was made.
 */

import { type HandoffDeps, resolveWikiUrl, safeReturnPath } from "./handoff.ts";
import { SESSION_LIFETIME_SECONDS } from "./session.ts";
import { cookiePolicyFor, serializeCookie, sessionOrigin } from "./session-cookie.ts";

/** The management app on the apex (DESIGN §2), where a sign-in with nowhere else to go ends. */
export const APP_PATH = "/app/";

/**
 * Creates the session and answers with a 302 to `returnTo` (a wiki URL of ours or an apex path)
 * carrying the session cookie. Without one the person lands in the app.
 */
export function completeSignIn(
  deps: HandoffDeps,
  userId: number,
  returnTo: string | null,
): Response {
  const issued = deps.sessions.createSession(userId);
  const wikiTarget = resolveWikiUrl(deps, returnTo);
  const location =
    wikiTarget !== null
      ? `${wikiTarget.origin}${wikiTarget.path}`
      : `${sessionOrigin(deps.publicUrl)}${returnTo === null ? APP_PATH : safeReturnPath(returnTo)}`;
  const headers = new Headers({ location, "cache-control": "no-store" });
  headers.append(
    "set-cookie",
    serializeCookie(
      "apex-session",
      cookiePolicyFor(deps.publicUrl),
      issued.token,
      SESSION_LIFETIME_SECONDS,
    ),
  );
  return new Response(null, { status: 302, headers });
}
