/**
 * createApp(deps) builds the request handler for every host: it resolves the tenant from the
 * Host header, enforces the body limit, hands the request to the apex or wiki routes, and writes
 * one JSON log line per request. It does no I/O of its own, so tests can build it on any deps.
 */
import { type AnyElysia, Elysia } from "elysia";
import { type ApiDeps, apiRoutes } from "./api/routes.ts";
import { type AtprotoLoginDeps, atprotoLoginRoutes } from "./auth/atproto-login/routes.ts";
import {
  otherSignIns,
  type ProviderLoginDeps,
  providerLoginRoutes,
} from "./auth/provider-login/routes.ts";
import { type SessionRouteDeps, sessionRoutes } from "./auth/session/routes.ts";
import { apexRoutes, type HealthReport } from "./http/apex-routes.ts";
import { exceedsDeclaredLength } from "./http/body-limit.ts";
import { resolveHost } from "./http/host.ts";
import { jsonError } from "./http/json.ts";
import { assignRequestId, attachWiki } from "./http/request-context.ts";
import type { WebApp } from "./http/web-app.ts";
import { errorFields, type Logger, withLogFields } from "./lib/log.ts";
import { isManagePath } from "./manage/routes.ts";

export type FetchHandler = (request: Request) => Promise<Response>;

/**
 * Protocol handlers on a wiki host (DESIGN §2), each a plain fetch handler. Null means the
 * protocol is not served by this build and its paths answer 404.
 */
export interface WikiHostHandlers {
  /** `/mcp` and the RFC 9728 / RFC 8414 well-known documents. */
  mcp: FetchHandler | null;
  /** `/oauth/*` and the legacy `/authorize`, `/token`, `/register` aliases. */
  oauth: FetchHandler | null;
  /** `/repo.git/*`: git smart HTTP. */
  git: FetchHandler | null;
  /** Everything else: the wiki's Otterwiki process behind our proxy. */
  browser: FetchHandler | null;
}

export type WikiPathKind = "api" | keyof WikiHostHandlers;

/** Which protocol owns a path on a wiki host. */
export function classifyWikiPath(path: string): WikiPathKind {
  const under = (prefix: string) => path === prefix || path.startsWith(`${prefix}/`);
  if (under("/api/v1")) return "api";
  if (
    under("/mcp") ||
    under("/.well-known/oauth-protected-resource") ||
    under("/.well-known/oauth-authorization-server")
  ) {
    return "mcp";
  }
  if (
    under("/oauth") ||
    path === "/authorize" ||
    path === "/token" ||
    path === "/register" ||
    // OIDC discovery, which some OAuth clients probe before RFC 8414 (notes/mcp-and-oauth.md §2).
    path === "/.well-known/openid-configuration"
  )
    return "oauth";
  if (under("/repo.git")) return "git";
  return "browser";
}

export interface AppDeps extends ApiDeps, SessionRouteDeps {
  /** Sign in with Bluesky on the apex; absent in tests that build the app without it. */
  atprotoLogin?: AtprotoLoginDeps;
  /** Sign in with GitHub / Google, linked to an account; absent in tests that build without it. */
  providerLogin?: ProviderLoginDeps;
  wikiHandlers: WikiHostHandlers;
  logger: Logger;
  maxBodyBytes: number;
  /** The landing page and the management app, built before the app (src/http/web-app.ts). */
  webApp: WebApp;
  health: () => HealthReport;
  /** `/api/*` on the apex: the management API (src/manage/routes.ts). */
  manageApi: FetchHandler;
}

export interface App {
  fetch(request: Request): Promise<Response>;
}

/** One host's routes behind one error mapper: anything unexpected is a logged 500 in our JSON shape. */
function hostApp(logger: Logger, routes: AnyElysia) {
  return new Elysia()
    .onError(({ code, error, request }) => {
      if (code === "NOT_FOUND") return jsonError(404, "not_found", "no such route");
      if (code === "VALIDATION" || code === "PARSE")
        return jsonError(400, "bad_request", "the request is malformed");
      logger.error("unhandled error", {
        path: pathOf(request),
        ...errorFields(error),
      });
      return jsonError(500, "internal_error", "something went wrong on our side");
    })
    .use(routes);
}

export function createApp(deps: AppDeps): App {
  const apexWithSessions = apexRoutes(deps).use(sessionRoutes(deps));
  const apexBase = deps.providerLogin
    ? apexWithSessions.use(providerLoginRoutes(deps.providerLogin))
    : apexWithSessions;
  const others = deps.providerLogin ? otherSignIns(deps.providerLogin) : [];
  const apex = hostApp(
    deps.logger,
    deps.atprotoLogin ? apexBase.use(atprotoLoginRoutes(deps.atprotoLogin, others)) : apexBase,
  );
  const wikiHost = hostApp(deps.logger, apiRoutes(deps));

  async function route(request: Request): Promise<Response> {
    const target = resolveHost(request.headers.get("host"), deps.publicUrl);
    if (target.kind === "malformed") return jsonError(400, "bad_host", target.reason);
    // Bun builds request.url from the Host header; every handler below may parse it.
    if (URL.parse(request.url) === null)
      return jsonError(400, "bad_host", "the Host header does not form a valid URL");
    if (target.kind === "unknown")
      return jsonError(404, "unknown_host", "this host is not served here");
    if (exceedsDeclaredLength(request, deps.maxBodyBytes) && !isGitRpc(request)) {
      return jsonError(
        413,
        "body_too_large",
        `request bodies are limited to ${deps.maxBodyBytes} bytes`,
      );
    }
    if (target.kind === "apex") {
      if (isManagePath(pathOf(request))) return deps.manageApi(request);
      return apex.handle(request);
    }
    const wiki = deps.wikis.findBySlug(target.slug);
    if (wiki === null)
      return jsonError(404, "unknown_wiki", `there is no wiki named "${target.slug}"`);
    attachWiki(request, wiki);
    const kind = classifyWikiPath(pathOf(request));
    if (kind === "api") return wikiHost.handle(request);
    const handler = deps.wikiHandlers[kind];
    if (handler === null) return jsonError(404, "not_found", "no such route");
    return handler(request);
  }

  return {
    fetch(request: Request): Promise<Response> {
      const requestId = assignRequestId(request);
      // Every line logged while this request is handled carries its id, this one included.
      return withLogFields({ request_id: requestId }, async () => {
        const started = performance.now();
        let response: Response;
        try {
          response = await route(request);
        } catch (error) {
          deps.logger.error("unhandled error", errorFields(error));
          response = jsonError(500, "internal_error", "something went wrong on our side");
        }
        // Path only: query strings can carry OAuth codes; headers (tokens, cookies) are never logged.
        deps.logger.info("request", {
          method: request.method,
          host: request.headers.get("host"),
          path: pathOf(request),
          status: response.status,
          ms: Math.round((performance.now() - started) * 10) / 10,
        });
        response.headers.set("x-request-id", requestId);
        return response;
      });
    },
  };
}

/** Git RPC bodies stream into git, which enforces its own limits (src/git/routes.ts). */
function isGitRpc(request: Request): boolean {
  const path = pathOf(request);
  return (
    request.method === "POST" &&
    (path === "/repo.git/git-receive-pack" || path === "/repo.git/git-upload-pack")
  );
}

/** Bun builds request.url from the Host header, so a hostile Host can make it unparsable. */
function pathOf(request: Request): string {
  return URL.parse(request.url)?.pathname ?? "(unparsable)";
}
