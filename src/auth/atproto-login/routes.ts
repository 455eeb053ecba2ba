/**
 * Apex routes of Sign in with Bluesky: `/auth/login` (form and start), `/auth/callback`,
 * `/auth/signup` (a new DID chooses its username). HTTP only: reading the form, the host and
 * origin checks; the flow is login-flow.ts. Forms are read by hand (parse: "none") so a
 * malformed body still ends on our HTML page, never on a JSON error.
 */
import { Elysia } from "elysia";
import { jsonError, jsonResponse } from "../../http/json.ts";
import { signInStartLimits } from "../../http/rate-limit.ts";
import { clientKeyOf } from "../../http/request-context.ts";
import { errorFields } from "../../lib/log.ts";
import { validReturnTo } from "../session/handoff.ts";
import { cookiePolicyFor, readCookie, sessionOrigin } from "../session/session-cookie.ts";
import { isCrossSiteForm, readSignInForm } from "../session/sign-in-form.ts";
import {
  type AtprotoLoginDeps,
  finishLogin,
  showSignup,
  startLogin,
  submitSignup,
  submitSignupJson,
} from "./login-flow.ts";
import { CLIENT_METADATA_PATH, JWKS_PATH } from "./oauth-client.ts";
import { failurePage, loginPage, type OtherSignIn } from "./pages.ts";

export type { AtprotoLoginDeps };

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

/** POST /api/signup's work, for the management API to call (src/manage/signup.ts). */
export function signupJsonHandler(deps: AtprotoLoginDeps) {
  const policy = cookiePolicyFor(deps.handoff.publicUrl);
  return (request: Request, username: string): Response =>
    submitSignupJson(deps, readCookie(request, "signup", policy), username);
}

function tooManyAttempts(
  deps: AtprotoLoginDeps,
  handle: string,
  returnTo: string | null,
  refused: { retryAfterSeconds: number },
): Response {
  const response = loginPage({
    handle,
    returnTo,
    otherSignIns: deps.otherSignIns,
    status: 429,
    error: `Too many sign-in attempts from your network. Wait ${refused.retryAfterSeconds} seconds and try again.`,
  });
  response.headers.set("retry-after", String(refused.retryAfterSeconds));
  return response;
}

/** `otherSignIns`: buttons for the enabled GitHub / Google sign-in (src/auth/provider-login/). */
export function atprotoLoginRoutes(
  loginDeps: AtprotoLoginDeps,
  otherSignIns: readonly OtherSignIn[] = [],
) {
  const deps: AtprotoLoginDeps = { ...loginDeps, otherSignIns };
  const { publicUrl } = deps.handoff;
  const admitStart = signInStartLimits();
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
          otherSignIns,
        });
      })
      .post(
        "/auth/login",
        ({ request }) =>
          guarded("login", async () => {
            if (isCrossSiteForm(request, publicUrl)) return refusedCrossSite();
            const form = await readSignInForm(request);
            if (form === null) return badForm();
            const returnTo = validReturnTo(deps.handoff, form.get("return_to"));
            const admitted = admitStart(clientKeyOf(request));
            if (!admitted.ok)
              return tooManyAttempts(deps, form.get("handle") ?? "", returnTo, admitted);
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
            if (isCrossSiteForm(request, publicUrl)) return refusedCrossSite();
            const form = await readSignInForm(request);
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
