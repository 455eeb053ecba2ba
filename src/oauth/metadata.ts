/**
 * RFC 8414 authorization server metadata. Every wiki is its own issuer (DESIGN §2), exactly its
 * origin with no path and no trailing slash, so the document lives at the plain
 * `/.well-known/oauth-authorization-server` and `issuer` is what a client built that URL from
 * (MCP 2026-07-28 requires the match). Also answered under the path-suffixed form and at
 * `/.well-known/openid-configuration`, which clients probe too.
 */

import { mcpResourceUrl, WIKI_SCOPES, wikiOrigin } from "../auth/protected-resource-metadata.ts";
import { jsonResponse } from "../http/json.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { CLIENT_AUTH_METHODS } from "./client-store.ts";

/** The issuer of a wiki's authorization server: `https://{slug}.{domain}`. */
export function issuerOf(publicUrl: URL, wiki: Pick<Wiki, "slug">): string {
  return wikiOrigin(publicUrl, wiki.slug);
}

/** The only audience its tokens carry (RFC 8707): the wiki's MCP URL. */
export function resourceOf(publicUrl: URL, wiki: Pick<Wiki, "slug">): string {
  return mcpResourceUrl(publicUrl, wiki.slug);
}

export function authorizationServerMetadata(issuer: string): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    registration_endpoint: `${issuer}/oauth/register`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    scopes_supported: WIKI_SCOPES,
    authorization_response_iss_parameter_supported: true,
    service_documentation: `${issuer}/api/v1/openapi.json`,
  };
}

/** Public, cacheable metadata any origin may read (browser-based MCP clients discover with it). */
export function metadataResponse(publicUrl: URL, wiki: Wiki): Response {
  return jsonResponse(authorizationServerMetadata(issuerOf(publicUrl, wiki)), 200, {
    "access-control-allow-origin": "*",
    "cache-control": "public, max-age=300",
  });
}
