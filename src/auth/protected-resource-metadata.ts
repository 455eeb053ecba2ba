/**
 * Each wiki's MCP endpoint is an OAuth protected resource (RFC 9728). This module builds its
 * metadata document and the `WWW-Authenticate: Bearer` challenges that point clients at it. It
 * does not decide who may do what (bearer.ts and wiki-access.ts do).
 */
import type { TokenScope } from "./wiki-token.ts";

/** OAuth scopes for a wiki; a wiki token's `write` scope carries both. */
export const WIKI_READ_SCOPE = "wiki:read";
export const WIKI_WRITE_SCOPE = "wiki:write";
export const WIKI_SCOPES: readonly string[] = [WIKI_READ_SCOPE, WIKI_WRITE_SCOPE];

export function scopesOfTokenScope(scope: TokenScope): string[] {
  return scope === "write" ? [WIKI_READ_SCOPE, WIKI_WRITE_SCOPE] : [WIKI_READ_SCOPE];
}

export const MCP_PATH = "/mcp";
export const PROTECTED_RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";

/** `https://{slug}.{domain}`, from PUBLIC_URL and never from the request's Host header. */
export function wikiOrigin(publicUrl: URL, slug: string): string {
  return `${publicUrl.protocol}//${slug}.${publicUrl.host}`;
}

/** A wiki's MCP URL: the protected resource, and the one audience its OAuth tokens carry (RFC 8707). */
export function mcpResourceUrl(publicUrl: URL, slug: string): string {
  return `${wikiOrigin(publicUrl, slug)}${MCP_PATH}`;
}

/** The absolute URL a 401 points clients to (anthropics/claude-ai-mcp#136: never relative). */
export function protectedResourceMetadataUrl(publicUrl: URL, slug: string): string {
  return `${wikiOrigin(publicUrl, slug)}${PROTECTED_RESOURCE_METADATA_PATH}${MCP_PATH}`;
}

/**
 * The RFC 9728 document. §3.3: `resource` must equal the identifier the well-known URL was built
 * from, so the path-aware document (`…/oauth-protected-resource/mcp`) names `/mcp` and the root
 * one names the wiki's origin. `authorization_servers` lists the wiki's own issuer (its origin,
 * src/oauth/); it is omitted only when none is configured, since pointing clients at an issuer
 * that does not answer would only make them fail later.
 */
export function protectedResourceMetadata(options: {
  publicUrl: URL;
  slug: string;
  wikiName: string;
  resourcePath: typeof MCP_PATH | "";
  authorizationServers: readonly string[];
}): Record<string, unknown> {
  const origin = wikiOrigin(options.publicUrl, options.slug);
  return {
    resource: `${origin}${options.resourcePath}`,
    ...(options.authorizationServers.length > 0
      ? { authorization_servers: options.authorizationServers }
      : {}),
    scopes_supported: WIKI_SCOPES,
    bearer_methods_supported: ["header"],
    resource_name: options.wikiName,
    resource_documentation: `${origin}/api/v1/openapi.json`,
  };
}

/** RFC 9110 §5.6.4 quoted-string: a verifier's message must not be able to break the header. */
function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, (character) => `\\${character}`).replace(/[\r\n]+/g, " ")}"`;
}

export interface BearerChallenge {
  /** Absent when no credentials were sent (RFC 6750 §3.1). */
  error?: "invalid_request" | "invalid_token" | "insufficient_scope";
  description?: string;
  scope?: readonly string[];
  resourceMetadata: string;
}

export function bearerChallenge(challenge: BearerChallenge): string {
  const parameters: string[] = [];
  if (challenge.error !== undefined) parameters.push(`error=${quoted(challenge.error)}`);
  if (challenge.description !== undefined) {
    parameters.push(`error_description=${quoted(challenge.description)}`);
  }
  if (challenge.scope !== undefined) parameters.push(`scope=${quoted(challenge.scope.join(" "))}`);
  parameters.push(`resource_metadata=${quoted(challenge.resourceMetadata)}`);
  return `Bearer ${parameters.join(", ")}`;
}
