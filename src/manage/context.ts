/** What the management routes share: their dependencies and the caller of each request. */
import type { IdentityLinkStore } from "../auth/provider-login/identity-link-store.ts";
import type { SignInProvider } from "../auth/provider-login/providers.ts";
import type { User } from "../auth/user-store.ts";
import type { Logger } from "../lib/log.ts";
import type { ConnectionDeps } from "../wikis/connections.ts";
import type { HandleResolution, MemberDeps } from "../wikis/members.ts";
import type { PlanPolicy } from "../wikis/plan-policy.ts";
import type { TokenDeps } from "../wikis/tokens.ts";
import type { WikiLifecycleDeps, WikiServiceDeps } from "../wikis/wiki-service.ts";
import type { GuardDeps } from "./guard.ts";

export interface ManageDeps
  extends GuardDeps,
    MemberDeps,
    TokenDeps,
    ConnectionDeps,
    WikiServiceDeps,
    WikiLifecycleDeps {
  logger: Logger;
  /** The plans: a new wiki is held to its owner's wikis-per-owner limit. */
  plans: PlanPolicy;
  /** The enabled other sign-in providers (src/auth/provider-login/), in button order. */
  signInProviders: readonly Pick<SignInProvider, "name" | "displayName">[];
  identityLinks: IdentityLinkStore;
  /**
   * POST /api/signup, answered by the Bluesky sign-in (it owns pending signups); null when
   * sign-in is not built into this app.
   */
  signUp: ((request: Request, username: string) => Response) | null;
  /** A Bluesky handle to its DID, for grants by handle; null when sign-in is not built in. */
  resolveHandle: ((handle: string) => Promise<HandleResolution>) | null;
}

const callers = new WeakMap<Request, User>();

export function attachCaller(request: Request, user: User): void {
  callers.set(request, user);
}

/** The signed-in user the handler in front of the router admitted (src/manage/routes.ts). */
export function callerOf(request: Request): User {
  const user = callers.get(request);
  if (user === undefined) throw new Error("a management route ran without an admitted caller");
  return user;
}
