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
  decideAccess,
  invalidCredentialRefusal,
  type Refusal,
  type WikiAction,
} from "./access-decision.ts";
import {
  bearerChallenge,
  protectedResourceMetadataUrl,
  scopesOfTokenScope,
  WIKI_SCOPES,
  wikiOrigin,
} from "./protected-resource-metadata.ts";
import { ANONYMOUS, type Principal, resolveWikiToken, type WikiAccessDeps } from "./wiki-access.ts";

export type BearerGateDeps = WikiAccessDeps;

/** Who is calling: their principal, and the SDK's AuthInfo for authenticated callers. */
export interface WikiCaller {
  principal: Principal;
  /** Null for anonymous callers (no Authorization header) on a public wiki. */
  authInfo: AuthInfo | null;
}

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

/**
 * A refusal from the access decision as the bearer-token surfaces (REST and MCP) send it: what a
 * new credential can fix is a 401 or 403 with an RFC 6750 challenge (so an OAuth client can sign
 * in or ask for more scope); the rest is a plain 403 with the reason as its code.
 */
export function bearerRefusal(deps: BearerGateDeps, wiki: Wiki, refusal: Refusal): Response {
  const { message } = refusal;
  switch (refusal.reason) {
    case "invalid_token":
      return challenge(deps, wiki, 401, "invalid_token", message, "invalid_token");
    case "unauthenticated":
      return challenge(
        deps,
        wiki,
        401,
        "unauthorized",
        `${message}: send Authorization: Bearer <wiki token>`,
      );
    case "read_only_token":
      return challenge(deps, wiki, 403, "insufficient_scope", message, "insufficient_scope");
    case "lapsed":
      return jsonError(403, "wiki_lapsed", message);
    case "no_role":
    case "read_only_role":
    case "free_plan":
      return jsonError(403, "forbidden", message);
  }
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
    return bearerRefusal(deps, wiki, invalidCredentialRefusal(wiki, access.reason));
  }
  const principal = access.kind === "anonymous" ? ANONYMOUS : access.principal;
  const decision = decideAccess(wiki, principal, "read");
  if (!decision.allowed) return bearerRefusal(deps, wiki, decision.refusal);
  if (principal.user === null) return { principal, authInfo: null };
  const oauth = principal.oauthClient;
  return {
    principal,
    authInfo: {
      token: presented ?? "",
      clientId: oauth === null ? `wiki-token:${principal.tokenId ?? ""}` : oauth.clientId,
      scopes:
        oauth === null
          ? principal.scope === null
            ? []
            : scopesOfTokenScope(principal.scope)
          : oauth.scopes,
      ...(oauth === null ? {} : { expiresAt: oauth.expiresAt, resource: new URL(oauth.resource) }),
      extra: { userId: principal.user.id, role: principal.role },
    },
  };
}

/** The REST/MCP answer when `caller` may not do `action` here, or null when they may. */
export function refuseUnless(
  deps: BearerGateDeps,
  wiki: Wiki,
  caller: WikiCaller,
  action: WikiAction,
): Response | null {
  const decision = decideAccess(wiki, caller.principal, action);
  return decision.allowed ? null : bearerRefusal(deps, wiki, decision.refusal);
}
