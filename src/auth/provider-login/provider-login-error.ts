/**
 * The one error of GitHub / Google sign-in and its one mapper: every refusal is a
 * ProviderLoginError with a failure kind, answered with a page that says what happened and how
 * to go on (never JSON or a stack trace); the detail and cause go to the log only.
 */
import type { Logger } from "../../lib/log.ts";
import { sessionOrigin } from "../session/session-cookie.ts";
import { APP_PATH } from "../session/sign-in.ts";
import { noticePage } from "./provider-pages.ts";
import type { SignInProvider } from "./providers.ts";

export type ProviderLoginFailure =
  | "unknown_provider"
  | "cross_site"
  | "bad_form"
  | "rate_limited"
  | "not_signed_in"
  | "wrong_host"
  | "state_missing"
  | "state_not_this_browser"
  | "state_expired"
  | "access_denied"
  | "provider_error"
  | "token_failed"
  | "user_failed"
  | "session_changed"
  | "taken"
  | "not_linked";

/** The one error of this flow; `provider` names the provider in the page, when known. */
export class ProviderLoginError extends Error {
  override name = "ProviderLoginError";
  constructor(
    readonly failure: ProviderLoginFailure,
    readonly provider: SignInProvider | null,
    detail: string = failure,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
  }
}

/** The page for each refusal: what happened and how to go on. The one mapper of this flow. */
export function failurePage(
  error: ProviderLoginError,
  publicUrl: URL,
  cookies: string[] = [],
): Response {
  const name = error.provider?.displayName ?? "that provider";
  const home = sessionOrigin(publicUrl);
  const signIn = { href: `${home}/auth/login`, text: "Go to the sign-in page" };
  const app = { href: `${home}${APP_PATH}`, text: "Back to your account" };
  const page = (status: number, title: string, detail: string, links = [signIn, app]) =>
    noticePage({ status, title, detail, links, cookies });
  switch (error.failure) {
    case "unknown_provider":
      return page(
        404,
        "This sign-in is not available here",
        "This instance has not enabled that way of signing in.",
        [signIn],
      );
    case "cross_site":
      return page(
        403,
        "This form came from another site",
        "For your safety we only accept sign-in forms sent from this site's own pages. Start again from here.",
      );
    case "bad_form":
      return page(
        400,
        "We could not read that form",
        "The form arrived incomplete. Reload the page and send it again.",
      );
    case "rate_limited":
      return page(
        429,
        "Too many sign-in attempts",
        "Too many sign-in attempts came from your network. Wait a minute and try again.",
      );
    case "wrong_host":
      return page(
        400,
        "Start from the sign-in page",
        "This request reached the wrong address of this site. Start again from the sign-in page.",
      );
    case "not_signed_in":
      return page(
        401,
        "Sign in first",
        `To link a ${name} account you must be signed in. Sign in with Bluesky, then link ${name} from your account page.`,
        [signIn],
      );
    case "state_missing":
      return page(
        400,
        "This sign-in link is not complete",
        `It carries no sign-in request. Start again and confirm on ${name}.`,
      );
    case "state_not_this_browser":
      return page(
        400,
        "This sign-in was started elsewhere",
        `It was not started in this browser, or this browser lost its cookie. Start again here and confirm on ${name}.`,
      );
    case "state_expired":
      return page(
        400,
        "This sign-in link has expired",
        "Each link works once and for 10 minutes. Start again.",
      );
    case "access_denied":
      return page(
        403,
        "Sign-in cancelled",
        `${name} says access was not granted, so nothing happened. If that was a mistake, start again and choose Authorize.`,
      );
    case "provider_error":
      return page(
        502,
        `${name} stopped the sign-in`,
        `${name} did not send the sign-in back as expected. Try again; if it keeps happening, ${name} may be having trouble.`,
      );
    case "token_failed":
      return page(
        502,
        `We could not confirm the sign-in with ${name}`,
        `${name} did not confirm it. It may be down, or the link may be stale. Try again in a minute.`,
      );
    case "user_failed":
      return page(
        502,
        `We could not read your ${name} account`,
        `${name} confirmed the sign-in but did not tell us who you are. Try again in a minute.`,
      );
    case "session_changed":
      return page(
        403,
        "You are no longer signed in as the person who started this",
        `Linking ${name} must finish in the session that started it. Sign in again and link ${name} from your account page.`,
      );
    case "taken":
      return page(
        409,
        `This ${name} account is already linked to another wikibot account`,
        `A ${name} account can be a way into one wikibot account only. Unlink it there first, or link a different ${name} account.`,
        [app],
      );
    case "not_linked":
      return page(
        403,
        `This ${name} account is not linked to any wikibot account`,
        `Sign in with Bluesky first, then link ${name} from your account page; after that you can sign in with ${name}.`,
        [signIn],
      );
  }
}

/** Logs what the page does not say. Expected refusals are warnings, not errors. */
export function logRefusal(logger: Logger, error: ProviderLoginError): void {
  logger.warn("provider sign-in refused", {
    provider: error.provider?.name,
    failure: error.failure,
    reason: error.message,
    // The cause's message only: a provider's answer may quote the code, never worth a stack.
    cause: error.cause instanceof Error ? error.cause.message : undefined,
  });
}
