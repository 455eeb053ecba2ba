/**
 * Apex routes of Sign in with Bluesky: `/auth/login` (form and start), `/auth/callback`,
 * `/auth/signup` (a new DID chooses its username). HTTP only: reading the form, the host and
 * origin checks; the flow is login-flow.ts. Forms are read by hand (parse: "none") so a
 * malformed body still ends on our HTML page, never on a JSON error.
 */
import { Elysia } from "elysia";
import { jsonError, jsonResponse } from "../../http/json.ts";
import { errorFields } from "../../lib/log.ts";
import { cookiePolicyFor, readCookie, sessionOrigin } from "../session/session-cookie.ts";
import {
  type AtprotoLoginDeps,
  finishLogin,
  showSignup,
  startLogin,
  submitSignup,
  validReturnTo,
} from "./login-flow.ts";
import { CLIENT_METADATA_PATH, JWKS_PATH } from "./oauth-client.ts";
import { failurePage, loginPage } from "./pages.ts";

const MAX_FORM_BYTES = 8 * 1024;

export type { AtprotoLoginDeps };

/** The form fields of a urlencoded POST body, or null when it is not one or is too large. */
async function readForm(request: Request): Promise<URLSearchParams | null> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded")) return null;
  const text = await request.text();
  if (text.length > MAX_FORM_BYTES) return null;
  return new URLSearchParams(text);
}

/**
 * Cross-site form posts are refused: a browser always sends Origin on a POST, and ours is the
 * session origin (the apex, or 127.0.0.1:{port} in loopback development). Tools without Origin
 * (curl) carry no ambient cookies of a victim, so they may pass.
 */
function crossSite(request: Request, publicUrl: URL): boolean {
  const origin = request.headers.get("origin");
  if (origin === null) return request.headers.get("sec-fetch-site") === "cross-site";
  return origin !== sessionOrigin(publicUrl) && origin !== publicUrl.origin;
}

function refusedCrossSite(): Response {
  return failurePage({
    status: 403,
    title: "This form came from another site",
    detail: "For your safety we only accept sign-in forms sent from this site's own pages.",
    retryHref: "/auth/login",
  });
}

function badForm(): Response {
  return failurePage({
    status: 400,
    title: "We could not read that form",
    detail: "The form arrived incomplete. Reload the page and send it again.",
    retryHref: "/auth/login",
  });
}

export function atprotoLoginRoutes(deps: AtprotoLoginDeps) {
  const { publicUrl } = deps.handoff;
  const policy = cookiePolicyFor(publicUrl);
  const home = new URL(sessionOrigin(publicUrl));
  /** Unexpected errors are logged and answered with a page, never a stack trace or JSON. */
  const guarded = async (what: string, run: () => Promise<Response> | Response) => {
    try {
      return await run();
    } catch (error) {
      deps.logger.error(`sign-in: ${what} failed`, errorFields(error));
      return failurePage({
        status: 500,
        title: "Something went wrong on our side",
        detail: "Signing in failed because of a problem here, not with your account. Try again.",
        retryHref: "/auth/login",
      });
    }
  };
  const confidential = deps.client?.keyset !== undefined ? deps.client : null;
  const NOT_CONFIDENTIAL = "only an https PUBLIC_URL has a client metadata document";
  return (
    new Elysia()
      // The authorization server fetches these (client_id and jwks_uri); they must be exactly
      // 200 application/json (notes §2). The JWKS holds public members only.
      .get(CLIENT_METADATA_PATH, () =>
        confidential === null
          ? jsonError(404, "not_found", NOT_CONFIDENTIAL)
          : jsonResponse(confidential.clientMetadata, 200, { "cache-control": "max-age=600" }),
      )
      .get(JWKS_PATH, () =>
        confidential === null
          ? jsonError(404, "not_found", NOT_CONFIDENTIAL)
          : jsonResponse(confidential.jwks, 200, { "cache-control": "max-age=600" }),
      )
      .get("/auth/login", ({ request }) => {
        const url = new URL(request.url);
        // The callback lands on the session origin (127.0.0.1 in loopback development): start there.
        if (url.host !== home.host) {
          return new Response(null, {
            status: 302,
            headers: { location: `${home.origin}${url.pathname}${url.search}` },
          });
        }
        return loginPage({
          returnTo: validReturnTo(deps.handoff, url.searchParams.get("return_to")),
        });
      })
      .post(
        "/auth/login",
        ({ request }) =>
          guarded("login", async () => {
            if (crossSite(request, publicUrl)) return refusedCrossSite();
            const form = await readForm(request);
            if (form === null) return badForm();
            const returnTo = validReturnTo(deps.handoff, form.get("return_to"));
            return startLogin(deps, form.get("handle") ?? "", returnTo);
          }),
        { parse: "none" },
      )
      .get("/auth/callback", ({ request }) =>
        guarded("callback", () => finishLogin(deps, new URL(request.url).searchParams)),
      )
      .get("/auth/signup", ({ request }) =>
        guarded("signup page", () => showSignup(deps, readCookie(request, "signup", policy))),
      )
      .post(
        "/auth/signup",
        ({ request }) =>
          guarded("signup", async () => {
            if (crossSite(request, publicUrl)) return refusedCrossSite();
            const form = await readForm(request);
            if (form === null) return badForm();
            return submitSignup(
              deps,
              readCookie(request, "signup", policy),
              form.get("username") ?? "",
            );
          }),
        { parse: "none" },
      )
  );
}
