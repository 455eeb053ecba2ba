/**
 * The gate in front of a wiki's machine interfaces (MCP and the REST API): Origin validation,
 * `Authorization: Bearer` parsing, and the RFC 6750 / RFC 9728 challenges. Guards return either
 * the caller or the Response to send, so handlers write `if (gate instanceof Response) return gate`.
 * Roles are read fresh on every request by wiki-access.ts; nothing here caches them.
 */
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { jsonError } from "../http/json.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import {
  bearerChallenge,
  protectedResourceMetadataUrl,
  scopesOfTokenScope,
  WIKI_SCOPES,
  wikiOrigin,
} from "./protected-resource-metadata.ts";
import {
  ANONYMOUS,
  canRead,
  type Principal,
  resolveWikiToken,
  type WikiAccessDeps,
} from "./wiki-access.ts";

export interface BearerGateDeps extends WikiAccessDeps {
  publicUrl: URL;
}

/** Who is calling: their principal, and the SDK's AuthInfo for authenticated callers. */
export interface WikiCaller {
  principal: Principal;
  /** Null for anonymous callers (no Authorization header) on a public wiki. */
  authInfo: AuthInfo | null;
}

export const LAPSED_MESSAGE =
  "this wiki's subscription has lapsed; it is read-only and MCP is disabled";

type PresentedCredentials =
  | { kind: "none" }
  | { kind: "bearer"; token: string }
  | { kind: "malformed" };

/** Only the header carries tokens: never the query string (MCP authorization, token usage). */
function presentedCredentials(request: Request): PresentedCredentials {
  const header = request.headers.get("authorization");
  if (header === null) return { kind: "none" };
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  return match?.[1] === undefined ? { kind: "malformed" } : { kind: "bearer", token: match[1] };
}

/**
 * MCP transports: "Servers MUST validate the Origin header on all incoming connections to prevent
 * DNS rebinding attacks … If the Origin header is present and invalid, servers MUST respond with
 * HTTP 403." Server-to-server callers (Claude.ai, Claude Code, scripts) send no Origin at all.
 */
export function refuseForeignOrigin(request: Request, publicUrl: URL, wiki: Wiki): Response | null {
  const origin = request.headers.get("origin");
  if (origin === null) return null;
  if (origin.toLowerCase() === wikiOrigin(publicUrl, wiki.slug).toLowerCase()) return null;
  return jsonError(
    403,
    "forbidden_origin",
    `requests from origin ${JSON.stringify(origin.slice(0, 200))} are not accepted here`,
  );
}

function challenge(
  deps: BearerGateDeps,
  wiki: Wiki,
  status: 401 | 403,
  code: string,
  message: string,
  error?: "invalid_request" | "invalid_token" | "insufficient_scope",
): Response {
  const header = bearerChallenge({
    error,
    description: error === undefined ? undefined : message,
    scope: WIKI_SCOPES,
    resourceMetadata: protectedResourceMetadataUrl(deps.publicUrl, wiki.slug),
  });
  return jsonError(status, code, message, { "www-authenticate": header });
}

/** Checks Origin and credentials and that the caller may read this wiki. */
export function authenticateWikiRequest(
  deps: BearerGateDeps,
  request: Request,
  wiki: Wiki,
): WikiCaller | Response {
  const foreign = refuseForeignOrigin(request, deps.publicUrl, wiki);
  if (foreign !== null) return foreign;
  const credentials = presentedCredentials(request);
  if (credentials.kind === "malformed") {
    return challenge(
      deps,
      wiki,
      401,
      "invalid_token",
      "the Authorization header must be `Bearer <token>`",
      "invalid_request",
    );
  }
  const presented = credentials.kind === "bearer" ? credentials.token : null;
  const access = resolveWikiToken(deps, wiki, presented);
  if (access.kind === "invalid") {
    return challenge(deps, wiki, 401, "invalid_token", access.reason, "invalid_token");
  }
  if (access.kind === "anonymous") {
    if (!canRead(wiki, ANONYMOUS)) {
      return challenge(
        deps,
        wiki,
        401,
        "unauthorized",
        "this wiki is private; send Authorization: Bearer <wiki token>",
      );
    }
    return { principal: ANONYMOUS, authInfo: null };
  }
  const { principal } = access;
  if (!canRead(wiki, principal)) {
    return jsonError(403, "forbidden", "you have no role on this wiki");
  }
  return {
    principal,
    authInfo: {
      token: presented ?? "",
      clientId: `wiki-token:${principal.tokenId ?? ""}`,
      scopes: principal.scope === null ? [] : scopesOfTokenScope(principal.scope),
      extra: { userId: principal.user?.id ?? null, role: principal.role },
    },
  };
}

/**
 * The part of "may this caller write?" that new credentials can fix: no credentials (401, so an
 * OAuth client can sign in) or a read-only token (403 insufficient_scope, RFC 6750 §3.1).
 * Role and tier are checked separately because no token can change them.
 */
export function writeCredentialChallenge(
  deps: BearerGateDeps,
  wiki: Wiki,
  caller: WikiCaller,
): Response | null {
  if (caller.principal.user === null) {
    return challenge(
      deps,
      wiki,
      401,
      "unauthorized",
      "writing needs a wiki token with write scope",
    );
  }
  if (caller.principal.scope !== "write") {
    return challenge(
      deps,
      wiki,
      403,
      "insufficient_scope",
      "this token is read-only; writing needs a token with write scope",
      "insufficient_scope",
    );
  }
  return null;
}
