/**
 * Client authentication at the token and revocation endpoints (RFC 6749 §2.3.1): HTTP Basic,
 * the secret in the form body, or none for public clients — and it must be the method the
 * client registered, so a confidential client's id alone never passes as a public client.
 * A failure is 401 invalid_client (RFC 6749 §5.2), which also tells Claude.ai to register
 * again when its registration was swept.
 */
import type { Wiki } from "../wikis/wiki-store.ts";
import type { ClientAuthMethod, OAuthClient, OAuthClientStore } from "./client-store.ts";
import { OAuthError } from "./oauth-error.ts";

interface Presented {
  method: ClientAuthMethod;
  clientId: string | null;
  secret: string | null;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined with ":". */
function formDecode(value: string): string | null {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    return null;
  }
}

function presentedCredentials(request: Request, form: URLSearchParams): Presented {
  const header = request.headers.get("authorization");
  const basic = header === null ? null : /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
  if (basic?.[1] !== undefined) {
    const decoded = Buffer.from(basic[1], "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const clientId = colon === -1 ? null : formDecode(decoded.slice(0, colon));
    const secret = colon === -1 ? null : formDecode(decoded.slice(colon + 1));
    if (clientId === null || secret === null)
      throw invalidClient("the Basic credentials are malformed", true);
    // RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request."
    if (form.has("client_secret"))
      throw new OAuthError(
        "invalid_request",
        "send the client secret once: Basic or the body, not both",
      );
    const bodyId = form.get("client_id");
    if (bodyId !== null && bodyId !== clientId)
      throw invalidClient("client_id differs from the Basic credentials", true);
    return { method: "client_secret_basic", clientId, secret };
  }
  const secret = form.get("client_secret");
  return {
    method: secret === null ? "none" : "client_secret_post",
    clientId: form.get("client_id"),
    secret,
  };
}

function invalidClient(description: string, basic: boolean): OAuthError {
  return new OAuthError(
    "invalid_client",
    description,
    401,
    basic ? { "www-authenticate": 'Basic realm="wikibot OAuth", charset="UTF-8"' } : {},
  );
}

/** The authenticated client, or throws 401 invalid_client. */
export function authenticateClient(
  clients: OAuthClientStore,
  request: Request,
  form: URLSearchParams,
  wiki: Wiki,
): OAuthClient {
  const presented = presentedCredentials(request, form);
  const basic = presented.method === "client_secret_basic";
  if (presented.clientId === null) throw invalidClient("client authentication is required", basic);
  const client = clients.authenticate(presented.clientId, wiki.id, presented.secret);
  if (client === null) throw invalidClient("client authentication failed", basic);
  if (client.authMethod !== presented.method)
    throw invalidClient(`this client authenticates with ${client.authMethod}`, basic);
  return client;
}
