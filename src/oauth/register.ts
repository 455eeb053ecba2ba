/**
 * POST /oauth/register (and the legacy /register): RFC 7591 dynamic client registration, open
 * to anyone as MCP clients expect, so it is bounded instead: 16 KiB bodies, per-address and
 * global rate limits, at most 10 redirect URIs from the allowlist in redirect-uri.ts, and a
 * sweep of clients unused for 30 days. Metadata we do not use (scope, application_type,
 * logo_uri, …) is accepted and ignored (Claude.ai sends `scope: "offline_access mcp:tools"`).
 */
import { z } from "zod";
import { readTextWithin } from "../http/body-limit.ts";
import { perClientAndEveryone, type RateDecision } from "../http/rate-limit.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { CLIENT_AUTH_METHODS, type ClientAuthMethod } from "./client-store.ts";
import type { OAuthContext } from "./context.ts";
import { NO_STORE, OAuthError } from "./oauth-error.ts";
import { checkRedirectUri, redirectHostOf } from "./redirect-uri.ts";

const MAX_BODY_BYTES = 16 * 1024;
const MAX_NAME_LENGTH = 100;
const GRANT_TYPES = ["authorization_code", "refresh_token"];

const ClientMetadata = z.looseObject({
  redirect_uris: z.array(z.string()).min(1).max(10),
  token_endpoint_auth_method: z.string().optional(),
  grant_types: z.array(z.string()).optional(),
  response_types: z.array(z.string()).optional(),
  client_name: z.string().optional(),
});

/** Per client address (X-Forwarded-For behind our Caddy) and for everyone together. */
export function registrationLimits(): (clientKey: string) => RateDecision {
  return perClientAndEveryone({ burst: 10, perMinute: 10 }, { burst: 200, perMinute: 300 });
}

function isAuthMethod(value: string): value is ClientAuthMethod {
  return CLIENT_AUTH_METHODS.some((method) => method === value);
}

/** A display name: controls removed, whitespace collapsed, bounded; the consent page escapes it. */
function cleanName(raw: string | undefined): string {
  const cleaned = (raw ?? "")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we drop
    .replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return cleaned.slice(0, MAX_NAME_LENGTH);
}

export async function handleRegister(
  context: OAuthContext,
  request: Request,
  wiki: Wiki,
  limit: RateDecision,
): Promise<Response> {
  if (!limit.ok) {
    throw new OAuthError(
      "temporarily_unavailable",
      "too many registrations; try again later",
      429,
      {
        "retry-after": String(limit.retryAfterSeconds),
      },
    );
  }
  const text = await readTextWithin(request, MAX_BODY_BYTES);
  if (text === null)
    throw new OAuthError(
      "invalid_client_metadata",
      `the body is limited to ${MAX_BODY_BYTES} bytes`,
      413,
    );
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new OAuthError("invalid_client_metadata", "the body is not JSON");
  }
  const parsed = ClientMetadata.safeParse(body);
  if (!parsed.success) {
    const redirectsWrong = parsed.error.issues.some((issue) => issue.path[0] === "redirect_uris");
    throw redirectsWrong
      ? new OAuthError("invalid_redirect_uri", "redirect_uris must be a list of 1 to 10 URIs")
      : new OAuthError("invalid_client_metadata", "the client metadata is malformed");
  }
  const metadata = parsed.data;
  for (const uri of metadata.redirect_uris) {
    const check = checkRedirectUri(uri);
    if (!check.ok)
      throw new OAuthError(
        "invalid_redirect_uri",
        `redirect URI ${JSON.stringify(uri.slice(0, 200))} ${check.reason}`,
      );
  }
  // RFC 7591 §2: the default is client_secret_basic.
  const authMethod = metadata.token_endpoint_auth_method ?? "client_secret_basic";
  if (!isAuthMethod(authMethod))
    throw new OAuthError(
      "invalid_client_metadata",
      `token_endpoint_auth_method must be one of ${CLIENT_AUTH_METHODS.join(", ")}`,
    );
  if (metadata.grant_types?.some((grant) => !GRANT_TYPES.includes(grant)))
    throw new OAuthError(
      "invalid_client_metadata",
      "grant_types may only be authorization_code and refresh_token",
    );
  if (metadata.response_types?.some((type) => type !== "code"))
    throw new OAuthError("invalid_client_metadata", "response_types may only be code");
  const [first = ""] = metadata.redirect_uris;
  const name = cleanName(metadata.client_name) || redirectHostOf(first);

  const { client, secret } = context.clients.register({
    wikiId: wiki.id,
    authMethod,
    name,
    redirectUris: metadata.redirect_uris,
  });
  context.logger.info("oauth client registered", {
    wiki: wiki.slug,
    client: client.id,
    auth: authMethod,
  });
  return new Response(
    JSON.stringify({
      client_id: client.id,
      ...(secret === null ? {} : { client_secret: secret, client_secret_expires_at: 0 }),
      client_id_issued_at: client.createdAt,
      client_name: client.name,
      redirect_uris: client.redirectUris,
      token_endpoint_auth_method: client.authMethod,
      grant_types: GRANT_TYPES,
      response_types: ["code"],
    }),
    { status: 201, headers: { "content-type": "application/json; charset=utf-8", ...NO_STORE } },
  );
}
