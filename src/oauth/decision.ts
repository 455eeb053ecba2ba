/**
 * POST /oauth/authorize: the person's Allow or Deny from the consent page. A forged decision is
 * the attack here (consent CSRF), so the post must come from this wiki's own page (Origin, or
 * Sec-Fetch-Site when a browser omits Origin), from the same wiki session the page was shown
 * to (the CSRF token is bound to it), for a request not answered yet (the handle is spent).
 * Allow makes a grant and a code (grant-issuer.ts); both answers go back to the client with
 * `state` and `iss` (RFC 9207).
 */
import { readTextWithin } from "../http/body-limit.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { consentCsrfMatches } from "./consent-csrf.ts";
import { noAccessPage } from "./consent-page.ts";
import type { OAuthContext } from "./context.ts";
import { issuerOf } from "./metadata.ts";
import { OAuthError, oauthErrorResponse, redirectToClient } from "./oauth-error.ts";
import { scopesForRole } from "./scopes.ts";
import { signedInPerson } from "./signed-in-person.ts";

const MAX_FORM_BYTES = 8 * 1024;

/**
 * RFC 6454 §7 Origin, or when a browser withholds it (absent, or "null" under some referrer
 * policies) the Fetch Metadata header it sets itself and a page cannot forge.
 */
function isFromThisWiki(request: Request, issuer: string): boolean {
  const origin = request.headers.get("origin");
  if (origin !== null && origin !== "null") return origin === issuer;
  return request.headers.get("sec-fetch-site") === "same-origin";
}

/** Throws OAuthError for anything refused before the client can be told; routes.ts shows it as a page. */
export async function handleDecision(
  context: OAuthContext,
  request: Request,
  wiki: Wiki,
): Promise<Response> {
  const issuer = issuerOf(context.publicUrl, wiki);
  if (!isFromThisWiki(request, issuer))
    throw new OAuthError(
      "access_denied",
      "This answer did not come from this wiki's consent page.",
      403,
    );
  const contentType = request.headers.get("content-type") ?? "";
  if (!contentType.toLowerCase().startsWith("application/x-www-form-urlencoded"))
    throw new OAuthError("invalid_request", "The answer must be sent from the consent form.");
  const text = await readTextWithin(request, MAX_FORM_BYTES);
  if (text === null) throw new OAuthError("invalid_request", "The form is too large.", 413);
  const form = new URLSearchParams(text);
  const handle = form.get("request") ?? "";
  const csrf = form.get("csrf") ?? "";
  const decision = form.get("decision");

  const person = signedInPerson(context, request, wiki);
  if (person === null)
    throw new OAuthError(
      "access_denied",
      "You are not signed in to this wiki; start connecting the app again.",
      403,
    );
  const pending = context.requests.find(handle, wiki.id);
  if (pending === null)
    throw new OAuthError("invalid_request", "This request has expired or was already answered.");
  // Checked before the handle is spent, so a forged post cannot burn a real person's request.
  if (!consentCsrfMatches(context.csrfKey, pending.id, person.session.id, csrf))
    throw new OAuthError(
      "access_denied",
      "This answer did not come from the page you were shown.",
      403,
    );
  if (decision !== "allow" && decision !== "deny")
    throw new OAuthError("invalid_request", "Choose Allow or Deny.");
  const saved = context.requests.take(handle, wiki.id);
  const client = saved === null ? null : context.clients.find(saved.clientId, wiki.id);
  if (saved === null || client === null)
    throw new OAuthError("invalid_request", "This request has expired or was already answered.");

  if (decision === "deny") {
    return oauthErrorResponse(new OAuthError("access_denied", "The person declined."), {
      kind: "redirect",
      redirectUri: saved.redirectUri,
      state: saved.state,
      issuer,
    });
  }
  const role = context.wikis.roleOf(wiki.id, person.user.id);
  if (role === null) return noAccessPage(wiki);
  const code = context.issuer.approve({
    wikiId: wiki.id,
    userId: person.user.id,
    clientId: client.id,
    scopes: scopesForRole(saved.scopes, role),
    resource: saved.resource,
    redirectUri: saved.redirectUri,
    codeChallenge: saved.codeChallenge,
  });
  context.logger.info("oauth grant approved", {
    wiki: wiki.slug,
    client: client.id,
    user: person.user.id,
  });
  return redirectToClient(saved.redirectUri, { code, state: saved.state, iss: issuer });
}
