/**
 * POST /oauth/revoke (RFC 7009). The client authenticates as at the token endpoint. Revoking a
 * refresh token ends the whole grant; an access token only itself. §2.2: an unknown or invalid
 * token still gets 200, so the answer says nothing about which tokens exist; a token of another
 * client is treated the same way.
 */
import type { Wiki } from "../wikis/wiki-store.ts";
import { authenticateClient } from "./client-auth.ts";
import type { OAuthContext } from "./context.ts";
import { NO_STORE, OAuthError } from "./oauth-error.ts";
import { readOAuthForm } from "./token.ts";

export async function handleRevoke(
  context: OAuthContext,
  request: Request,
  wiki: Wiki,
): Promise<Response> {
  const form = await readOAuthForm(request);
  const client = authenticateClient(context.clients, request, form, wiki);
  const token = form.get("token");
  if (token === null || token === "") throw new OAuthError("invalid_request", "token is required");
  context.issuer.revokeToken({ wikiId: wiki.id, clientId: client.id, token });
  return new Response(null, { status: 200, headers: NO_STORE });
}
