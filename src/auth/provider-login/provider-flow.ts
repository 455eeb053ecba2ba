/**
 * Sign in with GitHub or Google, start to finish, as plain functions returning Responses. The
 * provider identity is never an account of its own: a signed-in person links it from the app
 * (purpose "link"), and afterwards it signs that same account in (purpose "login"). An identity
 * nobody linked signs nobody in and creates nothing. Every refusal is a ProviderLoginError
 * (provider-login-error.ts, which turns it into a page).
 */
import { CodeChallengeMethod, generateCodeVerifier, OAuth2Client, type OAuth2Tokens } from "arctic";
import type { Logger } from "../../lib/log.ts";
import { hashSecret, sameHash } from "../../lib/prefixed-token.ts";
import { SECOND } from "../../lib/time.ts";
import { type HandoffDeps, validReturnTo } from "../session/handoff.ts";
import { sessionOrigin } from "../session/session-cookie.ts";
import { APP_PATH, completeSignIn } from "../session/sign-in.ts";
import type { User, UserStore } from "../user-store.ts";
import {
  AUTHORIZATION_STATE_LIFETIME,
  type AuthorizationPurpose,
  type AuthorizationStateStore,
} from "./authorization-state-store.ts";
import type { IdentityLinkStore } from "./identity-link-store.ts";
import { ProviderLoginError } from "./provider-login-error.ts";
import type { ProviderIdentity, SignInProvider } from "./providers.ts";

export interface ProviderLoginDeps {
  /** Only the configured providers; an empty list turns the feature off. */
  providers: readonly SignInProvider[];
  links: IdentityLinkStore;
  states: AuthorizationStateStore;
  users: UserStore;
  handoff: HandoffDeps;
  /** For the provider's user endpoint (the hardened fetch). */
  fetch: typeof fetch;
  logger: Logger;
  claimPendingGrants: (user: User) => void;
  /** Where the state cookie goes: serialize / clear (session-cookie.ts policy). */
  stateCookie: {
    set(value: string, maxAgeSeconds: number): string;
    clear(): string;
  };
}

/** How long we wait for the provider's token and user endpoints. */
const PROVIDER_TIMEOUT = 10 * SECOND;

/** The OAuth redirect_uri: on the session origin, where the state cookie and session live. */
export function callbackUrl(publicUrl: URL, provider: SignInProvider): string {
  return `${sessionOrigin(publicUrl)}/auth/${provider.name}/callback`;
}

function clientFor(deps: ProviderLoginDeps, provider: SignInProvider): OAuth2Client {
  const { clientId, clientSecret } = provider.endpoints;
  return new OAuth2Client(clientId, clientSecret, callbackUrl(deps.handoff.publicUrl, provider));
}

/** POST /auth/{provider}/login and /auth/link/{provider}: send the browser to the provider. */
export function startAuthorization(
  deps: ProviderLoginDeps,
  provider: SignInProvider,
  purpose: AuthorizationPurpose,
): Response {
  const codeVerifier = provider.usesPkce ? generateCodeVerifier() : null;
  const state = deps.states.create({ provider: provider.name, purpose, codeVerifier });
  const client = clientFor(deps, provider);
  const endpoint = provider.endpoints.authorizationEndpoint.href;
  const url =
    codeVerifier === null
      ? client.createAuthorizationURL(endpoint, state, provider.scopes)
      : client.createAuthorizationURLWithPKCE(
          endpoint,
          state,
          CodeChallengeMethod.S256,
          codeVerifier,
          provider.scopes,
        );
  const headers = new Headers({ location: url.href, "cache-control": "no-store" });
  headers.append("set-cookie", deps.stateCookie.set(state, AUTHORIZATION_STATE_LIFETIME / SECOND));
  return new Response(null, { status: 302, headers });
}

/**
 * GET /auth/{provider}/callback. `cookieState` is the state cookie of this browser;
 * `sessionUserId` the user of its apex session, if any.
 */
export async function finishAuthorization(
  deps: ProviderLoginDeps,
  provider: SignInProvider,
  params: URLSearchParams,
  cookieState: string | null,
  sessionUserId: number | null,
): Promise<Response> {
  const state = params.get("state");
  if (state === null || state === "")
    throw new ProviderLoginError("state_missing", provider, "callback without state");
  // Constant time: the cookie and the parameter are both bearer values.
  if (cookieState === null || !sameHash(hashSecret(cookieState), hashSecret(state)))
    throw new ProviderLoginError("state_not_this_browser", provider, "state differs from cookie");
  const pending = deps.states.consume(state);
  if (pending === null || pending.provider !== provider.name)
    throw new ProviderLoginError("state_expired", provider, "state unknown, used or expired");
  // RFC 6749 §4.1.2.1: the provider reports a refusal in `error` on the redirect.
  const error = params.get("error");
  if (error === "access_denied") throw new ProviderLoginError("access_denied", provider);
  const code = params.get("code");
  if (error !== null || code === null || code === "")
    throw new ProviderLoginError(
      "provider_error",
      provider,
      // A known RFC 6749 code, or not quoted: query values stay out of the log.
      `provider error ${error === null ? "(no code)" : /^[a-z_]{1,64}$/.test(error) ? error : "(unrecognised)"}`,
    );
  const accessToken = await exchangeCode(deps, provider, code, pending.codeVerifier);
  const identity = await readProviderUser(deps, provider, accessToken);
  const { purpose } = pending;
  if (purpose.kind === "link")
    return linkIdentity(deps, provider, identity, purpose, sessionUserId);
  return signInWithIdentity(deps, provider, identity, purpose.returnTo);
}

function linkIdentity(
  deps: ProviderLoginDeps,
  provider: SignInProvider,
  identity: ProviderIdentity,
  purpose: { userId: number },
  sessionUserId: number | null,
): Response {
  // The person who started the link must still be the one signed in here.
  if (sessionUserId !== purpose.userId || deps.users.findById(purpose.userId) === null)
    throw new ProviderLoginError("session_changed", provider);
  const result = deps.links.link(purpose.userId, provider.name, identity.subject, identity.label);
  if (result.kind === "taken") throw new ProviderLoginError("taken", provider);
  deps.logger.info("sign-in method linked", { provider: provider.name, user_id: purpose.userId });
  const location = `${sessionOrigin(deps.handoff.publicUrl)}${APP_PATH}?linked=${provider.name}`;
  const headers = new Headers({ location, "cache-control": "no-store" });
  headers.append("set-cookie", deps.stateCookie.clear());
  return new Response(null, { status: 302, headers });
}

function signInWithIdentity(
  deps: ProviderLoginDeps,
  provider: SignInProvider,
  identity: ProviderIdentity,
  returnTo: string | null,
): Response {
  const link = deps.links.find(provider.name, identity.subject);
  const user = link === null ? null : deps.users.findById(link.userId);
  // Never an account of its own: an unlinked identity signs nobody in.
  if (user === null) throw new ProviderLoginError("not_linked", provider);
  deps.links.recordUse(provider.name, identity.subject, identity.label);
  deps.claimPendingGrants(user);
  const response = completeSignIn(deps.handoff, user.id, validReturnTo(deps.handoff, returnTo));
  response.headers.append("set-cookie", deps.stateCookie.clear());
  return response;
}

async function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out`)), PROVIDER_TIMEOUT);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The code for an access token (RFC 6749 §4.1.3), through arctic. NOTE: arctic sends with the
 * global fetch; the token endpoint comes from our configuration, never from a stranger.
 */
async function exchangeCode(
  deps: ProviderLoginDeps,
  provider: SignInProvider,
  code: string,
  codeVerifier: string | null,
): Promise<string> {
  let tokens: OAuth2Tokens;
  try {
    tokens = await withTimeout(
      clientFor(deps, provider).validateAuthorizationCode(
        provider.endpoints.tokenEndpoint.href,
        code,
        codeVerifier,
      ),
      "token request",
    );
  } catch (error) {
    throw new ProviderLoginError("token_failed", provider, "token exchange failed", {
      cause: error,
    });
  }
  // GitHub answers a bad or used code with 200 and `{"error": "bad_verification_code"}`.
  const data: object = tokens.data;
  if ("error" in data) {
    const code = typeof data.error === "string" ? data.error : "malformed";
    throw new ProviderLoginError("token_failed", provider, `token endpoint said ${code}`);
  }
  if (!("access_token" in data) || typeof data.access_token !== "string")
    throw new ProviderLoginError("token_failed", provider, "no access_token in the answer");
  return data.access_token;
}

async function readProviderUser(
  deps: ProviderLoginDeps,
  provider: SignInProvider,
  accessToken: string,
): Promise<ProviderIdentity> {
  let json: unknown;
  try {
    const response = await withTimeout(
      deps.fetch(provider.endpoints.userEndpoint, {
        headers: { ...provider.userRequestHeaders, authorization: `Bearer ${accessToken}` },
      }),
      "user request",
    );
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`user endpoint answered ${response.status}`);
    }
    json = await response.json();
  } catch (error) {
    throw new ProviderLoginError("user_failed", provider, "user request failed", { cause: error });
  }
  const identity = provider.readIdentity(json);
  if (identity === null)
    throw new ProviderLoginError("user_failed", provider, "user answer has an unexpected shape");
  return identity;
}
