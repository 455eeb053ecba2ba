/** Routes on the apex host: the landing page, the management app and /health. */
import { Elysia } from "elysia";
import { sessionOrigin } from "../auth/session/session-cookie.ts";
import { jsonError, jsonResponse } from "./json.ts";
import {
  ASSET_PREFIX,
  assetResponse,
  contentSecurityPolicy,
  LANDING_CSS_PATH,
  type WebApp,
} from "./web-app.ts";

export interface HealthReport {
  ok: boolean;
  [component: string]: unknown;
}

export interface ApexRouteDeps {
  health: () => HealthReport;
  publicUrl: URL;
  /** The landing page and the app, built once at start (src/http/web-app.ts). */
  webApp: WebApp;
  /** Sign-in providers the account page links to: their authorization endpoints are form targets. */
  providerLogin?: { providers: readonly { endpoints: { authorizationEndpoint: URL } }[] };
}

const APP_PREFIX = "/app/";

export function apexRoutes(deps: ApexRouteDeps) {
  const csp = contentSecurityPolicy(
    deps.publicUrl,
    (deps.providerLogin?.providers ?? []).map(
      (provider) => provider.endpoints.authorizationEndpoint,
    ),
  );
  const home = new URL(sessionOrigin(deps.publicUrl));

  const app = (request: Request) => {
    const url = new URL(request.url);
    // The apex session cookie lives on the session origin (127.0.0.1 in loopback development);
    // the app's API calls only carry it from there.
    if (url.host !== home.host || url.pathname === "/app") {
      const path = url.pathname === "/app" ? APP_PREFIX : url.pathname;
      return new Response(null, {
        status: 302,
        headers: { location: `${home.origin}${path}${url.search}` },
      });
    }
    if (url.pathname.startsWith(ASSET_PREFIX)) {
      const asset = deps.webApp.assets.get(url.pathname.slice(ASSET_PREFIX.length));
      if (asset === undefined) return jsonError(404, "not_found", "no such asset");
      return assetResponse(asset, request, csp);
    }
    // Every other path is a client-side route (e.g. /app/wikis/{slug}): the app decides.
    return assetResponse(deps.webApp.appIndex, request, csp);
  };

  return (
    new Elysia()
      .get("/health", () => {
        const report = deps.health();
        return jsonResponse(report, report.ok ? 200 : 503, { "cache-control": "no-store" });
      })
      .get("/", ({ request }) => assetResponse(deps.webApp.landing, request, csp))
      .get(LANDING_CSS_PATH, ({ request }) => assetResponse(deps.webApp.landingCss, request, csp))
      // Elysia matches "/app" and "/app/" alike (strictPath off); app() tells them apart.
      .get("/app", ({ request }) => app(request))
      .get(`${APP_PREFIX}*`, ({ request }) => app(request))
  );
}
