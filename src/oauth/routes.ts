/**
 * The authorization server of every wiki (issue 10, DESIGN §2): one fetch handler for the
 * wiki host's `/oauth/*` paths and the legacy `/authorize`, `/token`, `/register` that Claude.ai
 * synthesises on the MCP origin when it skips discovery (claude-ai-mcp#82, #341, #706). The
 * well-known metadata is served through the MCP handler (authorizationServerMetadataHandler).
 * Protocol errors from the JSON endpoints are mapped here, once; the browser endpoints map
 * theirs to pages and redirects as oauth-error.ts decides.
 */
import type { Database } from "bun:sqlite";
import type { OAuthGrantStore } from "../auth/oauth-grant-store.ts";
import type { SessionService } from "../auth/session/session.ts";
import type { UserStore } from "../auth/user-store.ts";
import { jsonError } from "../http/json.ts";
import { perClientAndEveryone } from "../http/rate-limit.ts";
import { clientKeyOf, wikiOf } from "../http/request-context.ts";
import { errorFields, type Logger } from "../lib/log.ts";
import type { Wiki, WikiStore } from "../wikis/wiki-store.ts";
import { AUTHORIZE_PATH, handleAuthorize } from "./authorize.ts";
import { OAuthClientStore } from "./client-store.ts";
import type { OAuthContext } from "./context.ts";
import { handleDecision } from "./decision.ts";
import { OAuthGrantIssuer } from "./grant-issuer.ts";
import { issuerOf, metadataResponse } from "./metadata.ts";
import { OAuthError, oauthErrorResponse } from "./oauth-error.ts";
import { handleRegister, registrationLimits } from "./register.ts";
import { OAuthRequestStore } from "./request-store.ts";
import { handleRevoke } from "./revoke.ts";
import { handleToken } from "./token.ts";

export interface OAuthHandlerDeps {
  db: Database;
  wikis: WikiStore;
  users: Pick<UserStore, "findById">;
  sessions: SessionService;
  oauthGrants: Pick<OAuthGrantStore, "revoke">;
  publicUrl: URL;
  /** HMAC key for the consent form's CSRF token, derived from the server secret. */
  csrfKey: string;
  logger: Logger;
}

/** No credentials ride along (tokens are in the body or Authorization), so any origin may call. */
const CORS = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "www-authenticate, retry-after",
};

function preflight(methods: string): Response {
  return new Response(null, {
    status: 204,
    headers: {
      ...CORS,
      "access-control-allow-methods": methods,
      "access-control-allow-headers": "authorization, content-type, mcp-protocol-version",
      "access-control-max-age": "86400",
    },
  });
}

function methodNotAllowed(allow: string): Response {
  return jsonError(405, "method_not_allowed", `use ${allow}`, { allow, ...CORS });
}

function withCors(response: Response): Response {
  for (const [name, value] of Object.entries(CORS)) response.headers.set(name, value);
  return response;
}

/** The wiki's stores for the authorization server, on one database. */
export function oauthStores(deps: Pick<OAuthHandlerDeps, "db" | "wikis" | "oauthGrants">) {
  return {
    clients: new OAuthClientStore(deps.db),
    requests: new OAuthRequestStore(deps.db),
    issuer: new OAuthGrantIssuer(deps.db, {
      revokeGrant: (grantId) => deps.oauthGrants.revoke(grantId),
      roleOf: (wikiId, userId) => deps.wikis.roleOf(wikiId, userId),
    }),
  };
}

export function createOAuthHandler(
  deps: OAuthHandlerDeps,
): (request: Request) => Promise<Response> {
  const context: OAuthContext = { ...deps, ...oauthStores(deps) };
  const registrationLimit = registrationLimits();

  /** A JSON endpoint (token, register, revoke): OAuthError → RFC 6749 §5.2 body, with CORS. */
  async function jsonEndpoint(
    request: Request,
    wiki: Wiki,
    handle: (request: Request, wiki: Wiki) => Promise<Response>,
  ): Promise<Response> {
    if (request.method === "OPTIONS") return preflight("POST, OPTIONS");
    if (request.method !== "POST") return methodNotAllowed("POST");
    try {
      return withCors(await handle(request, wiki));
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      return oauthErrorResponse(error, { kind: "json", headers: CORS });
    }
  }

  // Each new authorization request stores a row (at most a few KiB, 10 minutes) before anyone
  // signs in. A person authorizes a handful of apps; 60 a minute per client and 600 for all
  // bound what a stranger can store to a few MiB.
  const admitAuthorize = perClientAndEveryone(
    { burst: 60, perMinute: 60 },
    { burst: 600, perMinute: 600 },
  );

  return async (request) => {
    const wiki = wikiOf(request);
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/.well-known/openid-configuration":
        return authorizationServerMetadataResponse(deps.publicUrl, request, wiki);
      case "/authorize":
        // The one alias that is a browser navigation: send it to the real endpoint, query kept.
        return new Response(null, {
          status: 302,
          headers: { location: `${AUTHORIZE_PATH}${url.search}`, "cache-control": "no-store" },
        });
      case AUTHORIZE_PATH:
        if (request.method === "GET") {
          // The return trip with its `request` handle is not a new request.
          const admitted = url.searchParams.has("request")
            ? { ok: true as const }
            : admitAuthorize(clientKeyOf(request));
          if (!admitted.ok)
            return oauthErrorResponse(
              new OAuthError(
                "temporarily_unavailable",
                "Too many authorization requests from your network. Wait a minute and try again.",
                429,
                { "retry-after": String(admitted.retryAfterSeconds) },
              ),
              { kind: "page" },
            );
          return handleAuthorize(context, request, wiki);
        }
        if (request.method !== "POST")
          return jsonError(405, "method_not_allowed", "use GET or POST", { allow: "GET, POST" });
        try {
          return await handleDecision(context, request, wiki);
        } catch (error) {
          if (!(error instanceof OAuthError)) throw error;
          return oauthErrorResponse(error, { kind: "page" });
        }
      case "/oauth/token":
      case "/token":
        return jsonEndpoint(request, wiki, (r, w) => handleToken(context, r, w));
      case "/oauth/register":
      case "/register":
        return jsonEndpoint(request, wiki, (r, w) =>
          handleRegister(
            context,
            r,
            w,
            request.method === "POST" ? registrationLimit(clientKeyOf(r)) : { ok: true },
          ),
        );
      case "/oauth/revoke":
        return jsonEndpoint(request, wiki, (r, w) => handleRevoke(context, r, w));
      default:
        return jsonError(404, "not_found", "no such route");
    }
  };
}

function authorizationServerMetadataResponse(
  publicUrl: URL,
  request: Request,
  wiki: Wiki,
): Response {
  if (request.method === "OPTIONS") return preflight("GET, HEAD, OPTIONS");
  if (request.method !== "GET" && request.method !== "HEAD") return methodNotAllowed("GET, HEAD");
  return metadataResponse(publicUrl, wiki);
}

/** For the MCP handler's `authorizationServerMetadata`: `/.well-known/oauth-authorization-server*`. */
export function authorizationServerMetadataHandler(
  publicUrl: URL,
): (request: Request) => Promise<Response> {
  return async (request) =>
    authorizationServerMetadataResponse(publicUrl, request, wikiOf(request));
}

/** For the MCP handler's `authorizationServers`: each wiki is its own issuer. */
export function authorizationServersOf(publicUrl: URL): (wiki: Wiki) => readonly string[] {
  return (wiki) => [issuerOf(publicUrl, wiki)];
}

/** Sweeps expired requests, codes and tokens, and clients unused for 30 days: now and daily. */
export function startOAuthSweeps(
  deps: Pick<OAuthHandlerDeps, "db" | "wikis" | "oauthGrants" | "logger">,
): () => void {
  const stores = oauthStores(deps);
  const sweep = () => {
    try {
      const removed =
        stores.requests.deleteExpired() +
        stores.issuer.deleteExpired() +
        stores.clients.deleteUnused();
      if (removed > 0) deps.logger.info("oauth sweep", { removed });
    } catch (error) {
      deps.logger.error("oauth sweep failed", errorFields(error));
    }
  };
  sweep();
  const timer = setInterval(sweep, 24 * 3600 * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
