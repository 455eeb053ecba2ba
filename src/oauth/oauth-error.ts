/**
 * The one error of the authorization server and the one place it becomes a response. Where an
 * error is shown depends on how far the request got (RFC 6749 §4.1.2.1): before the client and
 * its redirect URI are trusted it is an HTML page (never a redirect, or we would be an open
 * redirector); after, a redirect back to the client with `error`, `state` and `iss` (RFC 9207);
 * at the token, registration and revocation endpoints a JSON body (RFC 6749 §5.2, RFC 7591 §3.2.2).
 */
import { escapeHtml } from "../auth/session/handoff.ts";
import { htmlPage } from "./consent-page.ts";

export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "unsupported_token_type"
  | "invalid_scope"
  | "invalid_target"
  | "access_denied"
  | "invalid_redirect_uri"
  | "invalid_client_metadata"
  | "temporarily_unavailable";

export class OAuthError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    readonly status = 400,
    /** Extra response headers: WWW-Authenticate for Basic clients, Retry-After for limits. */
    readonly headers: Record<string, string> = {},
  ) {
    super(`${code}: ${description}`);
    this.name = "OAuthError";
  }
}

/** RFC 6749 §5.1: token responses (and their errors) must not be cached. */
export const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" };

export type ErrorDelivery =
  | { kind: "json"; headers?: Record<string, string> }
  | { kind: "redirect"; redirectUri: string; state: string | null; issuer: string }
  | { kind: "page" };

/** The response for `error` delivered as the endpoint it happened at requires. */
export function oauthErrorResponse(error: OAuthError, delivery: ErrorDelivery): Response {
  switch (delivery.kind) {
    case "json":
      return new Response(
        JSON.stringify({ error: error.code, error_description: error.description }),
        {
          status: error.status,
          headers: {
            "content-type": "application/json; charset=utf-8",
            ...NO_STORE,
            ...delivery.headers,
            ...error.headers,
          },
        },
      );
    case "redirect":
      return redirectToClient(delivery.redirectUri, {
        error: error.code,
        error_description: error.description,
        state: delivery.state,
        iss: delivery.issuer,
      });
    case "page": {
      const page = htmlPage(
        error.status,
        "This app's sign-in request cannot be used",
        `<p>${escapeHtml(error.description)}</p><p>Go back to the app and connect again. If it keeps happening, the app is not set up to connect to this wiki.</p>`,
      );
      for (const [name, value] of Object.entries(error.headers)) page.headers.set(name, value);
      return page;
    }
  }
}

/** A 302 to the client's (already validated) redirect URI with the given query parameters added. */
export function redirectToClient(
  redirectUri: string,
  parameters: Record<string, string | null>,
): Response {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(parameters))
    if (value !== null) url.searchParams.set(name, value);
  return new Response(null, { status: 302, headers: { location: url.href, ...NO_STORE } });
}
