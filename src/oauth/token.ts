/**
 * POST /oauth/token (and the legacy /token): the authorization_code and refresh_token grants
 * (RFC 6749 §4.1.3, §6; OAuth 2.1 §4.3). HTTP work only — form, client authentication, the
 * JSON answer with no-store; what a code or a refresh token yields is grant-issuer.ts.
 */
import { readTextWithin } from "../http/body-limit.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { authenticateClient } from "./client-auth.ts";
import type { OAuthContext } from "./context.ts";
import type { TokenOutcome } from "./grant-issuer.ts";
import { NO_STORE, OAuthError } from "./oauth-error.ts";

const MAX_FORM_BYTES = 16 * 1024;

/** The form of a token or revocation request; every parameter at most once (RFC 6749 §3.2). */
export async function readOAuthForm(request: Request): Promise<URLSearchParams> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!contentType.toLowerCase().startsWith("application/x-www-form-urlencoded"))
    throw new OAuthError("invalid_request", "send application/x-www-form-urlencoded");
  const text = await readTextWithin(request, MAX_FORM_BYTES);
  if (text === null)
    throw new OAuthError("invalid_request", `the body is limited to ${MAX_FORM_BYTES} bytes`, 413);
  const form = new URLSearchParams(text);
  const names = [...form.keys()];
  if (new Set(names).size !== names.length)
    throw new OAuthError("invalid_request", "a parameter was given more than once");
  return form;
}

function required(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (value === null || value === "")
    throw new OAuthError("invalid_request", `${name} is required`);
  return value;
}

export async function handleToken(
  context: OAuthContext,
  request: Request,
  wiki: Wiki,
): Promise<Response> {
  const form = await readOAuthForm(request);
  const client = authenticateClient(context.clients, request, form, wiki);
  let outcome: TokenOutcome;
  switch (form.get("grant_type")) {
    case "authorization_code":
      outcome = context.issuer.exchangeCode({
        wikiId: wiki.id,
        clientId: client.id,
        code: required(form, "code"),
        redirectUri: form.get("redirect_uri"),
        codeVerifier: required(form, "code_verifier"),
        resource: form.get("resource"),
      });
      break;
    case "refresh_token":
      outcome = context.issuer.refresh({
        wikiId: wiki.id,
        clientId: client.id,
        refreshToken: required(form, "refresh_token"),
        scope: form.get("scope"),
        resource: form.get("resource"),
      });
      break;
    case null:
      throw new OAuthError("invalid_request", "grant_type is required");
    default:
      throw new OAuthError("unsupported_grant_type", "use authorization_code or refresh_token");
  }
  context.clients.touch(client.id);
  if (outcome.kind === "refused") {
    context.logger.info("oauth token refused", {
      wiki: wiki.slug,
      client: client.id,
      reason: outcome.error.description,
    });
    throw outcome.error;
  }
  const { tokens } = outcome;
  return new Response(
    JSON.stringify({
      access_token: tokens.accessToken,
      token_type: "Bearer",
      expires_in: tokens.expiresIn,
      refresh_token: tokens.refreshToken,
      scope: tokens.scopes.join(" "),
    }),
    { status: 200, headers: { "content-type": "application/json; charset=utf-8", ...NO_STORE } },
  );
}
