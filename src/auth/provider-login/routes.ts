/**
 * Apex routes of Sign in with GitHub / Google: `POST /auth/{provider}/login` (from the sign-in
 * page), `POST /auth/link/{provider}` (from the app, signed in), `GET /auth/{provider}/callback`.
 * HTTP only: the provider, the host and origin checks, the form, the cookies; the flow is
 * provider-flow.ts. Forms are read by hand (parse: "none") so a bad body ends on our page.
 */
import { Elysia } from "elysia";
import { signInStartLimits } from "../../http/rate-limit.ts";
import { clientKeyOf } from "../../http/request-context.ts";
import { errorFields } from "../../lib/log.ts";
import { validReturnTo } from "../session/handoff.ts";
import { cookiePolicyFor, readCookie, sessionOrigin } from "../session/session-cookie.ts";
import { isCrossSiteForm, readSignInForm } from "../session/sign-in-form.ts";
import {
  finishAuthorization,
  type ProviderLoginDeps,
  startAuthorization,
} from "./provider-flow.ts";
import { failurePage, logRefusal, ProviderLoginError } from "./provider-login-error.ts";
import { noticePage } from "./provider-pages.ts";
import type { SignInProvider } from "./providers.ts";

export type { ProviderLoginDeps };

/** The buttons the Bluesky sign-in page shows for the enabled providers. */
export function otherSignIns(deps: ProviderLoginDeps): { path: string; label: string }[] {
  return deps.providers.map((provider) => ({
    path: `/auth/${provider.name}/login`,
    label: `Sign in with ${provider.displayName}`,
  }));
}

export function providerLoginRoutes(deps: ProviderLoginDeps) {
  const { publicUrl } = deps.handoff;
  const policy = cookiePolicyFor(publicUrl);
  const home = new URL(sessionOrigin(publicUrl));

  const providerNamed = (name: string): SignInProvider => {
    const provider = deps.providers.find((candidate) => candidate.name === name);
    if (provider === undefined) throw new ProviderLoginError("unknown_provider", null);
    return provider;
  };
  const sessionUserId = (request: Request): number | null => {
    const token = readCookie(request, "apex-session", policy);
    if (token === null) return null;
    return deps.handoff.sessions.validateSessionToken(token, { kind: "apex" })?.userId ?? null;
  };
  /** A POST that starts an authorization: on the session origin, from one of our pages. */
  const admitStart = signInStartLimits();
  const checkStart = (request: Request, provider: SignInProvider) => {
    if (isCrossSiteForm(request, publicUrl)) throw new ProviderLoginError("cross_site", provider);
    // The state cookie must be set where the callback lands (the redirect_uri's host).
    if (new URL(request.url).host !== home.host)
      throw new ProviderLoginError("wrong_host", provider);
    if (!admitStart(clientKeyOf(request)).ok)
      throw new ProviderLoginError("rate_limited", provider);
  };
  /** Refusals become pages (and clear the state cookie); anything else is a logged 500 page. */
  const guarded = async (what: string, run: () => Promise<Response> | Response) => {
    try {
      return await run();
    } catch (error) {
      if (error instanceof ProviderLoginError) {
        logRefusal(deps.logger, error);
        return failurePage(error, publicUrl, [deps.stateCookie.clear()]);
      }
      deps.logger.error(`provider sign-in: ${what} failed`, errorFields(error));
      return noticePage({
        status: 500,
        title: "Something went wrong on our side",
        detail: "Signing in failed because of a problem here, not with your account. Try again.",
        links: [{ href: `${home.origin}/auth/login`, text: "Go to the sign-in page" }],
      });
    }
  };

  return new Elysia()
    .post(
      "/auth/:provider/login",
      ({ request, params }) =>
        guarded("login", async () => {
          const provider = providerNamed(params.provider);
          checkStart(request, provider);
          const form = await readSignInForm(request);
          if (form === null) throw new ProviderLoginError("bad_form", provider);
          const returnTo = validReturnTo(deps.handoff, form.get("return_to"));
          return startAuthorization(deps, provider, { kind: "login", returnTo });
        }),
      { parse: "none" },
    )
    .post(
      "/auth/link/:provider",
      ({ request, params }) =>
        guarded("link", () => {
          const provider = providerNamed(params.provider);
          checkStart(request, provider);
          const userId = sessionUserId(request);
          if (userId === null) throw new ProviderLoginError("not_signed_in", provider);
          return startAuthorization(deps, provider, { kind: "link", userId });
        }),
      { parse: "none" },
    )
    .get("/auth/:provider/callback", ({ request, params }) =>
      guarded("callback", () =>
        finishAuthorization(
          deps,
          providerNamed(params.provider),
          new URL(request.url).searchParams,
          readCookie(request, "provider-state", policy),
          sessionUserId(request),
        ),
      ),
    );
}
