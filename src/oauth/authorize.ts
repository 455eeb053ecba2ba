/**
 * GET /oauth/authorize (RFC 6749 §4.1.1, OAuth 2.1 §4.1.1): validates the request, stores it,
 * and shows the consent page — after the per-host sign-in handshake when the browser has no
 * session on this wiki host, which comes back to `/oauth/authorize?request=<handle>`.
 * Until the client and its redirect URI are known good, errors are a page; after, they go back
 * to the client (RFC 6749 §4.1.2.1). PKCE S256 is required of every client; `resource` is
 * optional (Claude.ai often omits it) and may only name this wiki's MCP endpoint.
 */
import { bounceThroughApex } from "../auth/session/handoff.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import type { OAuthClient } from "./client-store.ts";
import { consentCsrfToken } from "./consent-csrf.ts";
import { consentPage, noAccessPage } from "./consent-page.ts";
import type { OAuthContext } from "./context.ts";
import { issuerOf, resourceOf } from "./metadata.ts";
import { OAuthError, oauthErrorResponse } from "./oauth-error.ts";
import { isValidS256Challenge } from "./pkce.ts";
import { redirectHostOf, redirectUriMatches } from "./redirect-uri.ts";
import type { AuthorizationRequest } from "./request-store.ts";
import { requestedScopes, scopesForRole } from "./scopes.ts";
import { signedInPerson } from "./signed-in-person.ts";

/** Clients send a random value of a few dozen characters; 1 KiB leaves ample room. */
const MAX_STATE_LENGTH = 1024;

export const AUTHORIZE_PATH = "/oauth/authorize";

type Validation =
  | { kind: "valid"; request: Omit<AuthorizationRequest, "id">; client: OAuthClient }
  | { kind: "page"; error: OAuthError }
  | { kind: "redirect"; error: OAuthError; redirectUri: string; state: string | null };

/** RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once." */
function single(query: URLSearchParams, name: string): string | null | undefined {
  const values = query.getAll(name);
  if (values.length > 1) return undefined;
  return values[0] ?? null;
}

function validate(context: OAuthContext, wiki: Wiki, query: URLSearchParams): Validation {
  const clientId = single(query, "client_id");
  const presentedRedirect = single(query, "redirect_uri");
  if (clientId === undefined || presentedRedirect === undefined)
    return {
      kind: "page",
      error: new OAuthError(
        "invalid_request",
        "client_id and redirect_uri may be given once each.",
      ),
    };
  const client = clientId === null ? null : context.clients.find(clientId, wiki.id);
  if (client === null)
    return {
      kind: "page",
      error: new OAuthError(
        "invalid_client",
        "The app is not registered with this wiki (or its registration expired).",
      ),
    };
  let redirectUri: string;
  if (presentedRedirect === null) {
    // OAuth 2.1 §4.1.1: optional only when the client registered exactly one.
    const [only, ...others] = client.redirectUris;
    if (only === undefined || others.length > 0)
      return {
        kind: "page",
        error: new OAuthError("invalid_request", "The request names no redirect_uri."),
      };
    redirectUri = only;
  } else if (redirectUriMatches(client.redirectUris, presentedRedirect)) {
    redirectUri = presentedRedirect;
  } else {
    return {
      kind: "page",
      error: new OAuthError("invalid_request", "The redirect_uri is not one the app registered."),
    };
  }

  const state = single(query, "state");
  // Stored with the request until the person decides: bounded, and answered with a page, since
  // echoing an oversized state back to the app is no help to anyone.
  if (typeof state === "string" && state.length > MAX_STATE_LENGTH)
    return {
      kind: "page",
      error: new OAuthError(
        "invalid_request",
        `The state parameter is limited to ${MAX_STATE_LENGTH} characters.`,
      ),
    };
  const back = (error: OAuthError): Validation => ({
    kind: "redirect",
    error,
    redirectUri,
    state: state ?? null,
  });
  if (state === undefined)
    return back(new OAuthError("invalid_request", "state may be given once"));
  const responseType = single(query, "response_type");
  if (responseType !== "code")
    return back(new OAuthError("unsupported_response_type", "response_type must be code"));
  const challenge = single(query, "code_challenge");
  const method = single(query, "code_challenge_method");
  if (typeof challenge !== "string" || challenge === "")
    return back(
      new OAuthError(
        "invalid_request",
        "PKCE is required: send code_challenge with code_challenge_method=S256",
      ),
    );
  // RFC 7636 §4.3: an absent method means plain, which we refuse like an explicit one.
  if (method !== "S256")
    return back(new OAuthError("invalid_request", "code_challenge_method must be S256"));
  if (!isValidS256Challenge(challenge))
    return back(new OAuthError("invalid_request", "code_challenge is not a base64url SHA-256"));
  const expected = resourceOf(context.publicUrl, wiki);
  const resources = query.getAll("resource");
  if (
    resources.length > 1 ||
    resources.some((resource) => resource.replace(/\/$/, "") !== expected)
  )
    return back(new OAuthError("invalid_target", `the only resource here is ${expected}`));
  const scope = single(query, "scope");
  if (scope === undefined)
    return back(new OAuthError("invalid_request", "scope may be given once"));
  return {
    kind: "valid",
    client,
    request: {
      wikiId: wiki.id,
      clientId: client.id,
      redirectUri,
      state,
      codeChallenge: challenge,
      scopes: requestedScopes(scope),
      resource: expected,
    },
  };
}

export function handleAuthorize(context: OAuthContext, request: Request, wiki: Wiki): Response {
  const query = new URL(request.url).searchParams;
  const handle = query.get("request");
  if (handle !== null) {
    const saved = context.requests.find(handle, wiki.id);
    const client = saved === null ? null : context.clients.find(saved.clientId, wiki.id);
    if (saved === null || client === null) {
      return oauthErrorResponse(
        new OAuthError("invalid_request", "This request has expired or was already answered."),
        { kind: "page" },
      );
    }
    return consentOrSignIn(context, request, wiki, client, saved, handle);
  }
  const validation = validate(context, wiki, query);
  switch (validation.kind) {
    case "page":
      return oauthErrorResponse(validation.error, { kind: "page" });
    case "redirect":
      return oauthErrorResponse(validation.error, {
        kind: "redirect",
        redirectUri: validation.redirectUri,
        state: validation.state,
        issuer: issuerOf(context.publicUrl, wiki),
      });
    case "valid": {
      const saved = context.requests.save(validation.request);
      return consentOrSignIn(
        context,
        request,
        wiki,
        validation.client,
        saved.request,
        saved.handle,
      );
    }
  }
}

function consentOrSignIn(
  context: OAuthContext,
  request: Request,
  wiki: Wiki,
  client: OAuthClient,
  saved: AuthorizationRequest,
  handle: string,
): Response {
  const person = signedInPerson(context, request, wiki);
  if (person === null) {
    return bounceThroughApex(
      context,
      wiki,
      `${AUTHORIZE_PATH}?request=${encodeURIComponent(handle)}`,
      {
        login: true,
      },
    );
  }
  const role = context.wikis.roleOf(wiki.id, person.user.id);
  if (role === null) return noAccessPage(wiki);
  const redirect = new URL(saved.redirectUri);
  return consentPage({
    clientName: client.name,
    redirectHost: redirectHostOf(saved.redirectUri),
    redirectIsLoopback: redirect.protocol === "http:",
    wiki,
    user: person.user,
    scopes: scopesForRole(saved.scopes, role),
    requestHandle: handle,
    csrf: consentCsrfToken(context.csrfKey, saved.id, person.session.id),
  });
}
