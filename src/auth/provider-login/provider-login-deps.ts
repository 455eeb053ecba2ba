/**
 * Assembles Sign in with GitHub / Google from configuration: the enabled providers, the link
 * store, the in-memory state store and the state cookie. Called once by the composition root.
 */
import type { Database } from "bun:sqlite";
import type { ProviderLoginConfig } from "../../config/config.ts";
import type { Logger } from "../../lib/log.ts";
import type { HandoffDeps } from "../session/handoff.ts";
import { clearCookie, cookiePolicyFor, serializeCookie } from "../session/session-cookie.ts";
import type { User, UserStore } from "../user-store.ts";
import { AuthorizationStateStore } from "./authorization-state-store.ts";
import { IdentityLinkStore } from "./identity-link-store.ts";
import type { ProviderLoginDeps } from "./provider-flow.ts";
import { enabledProviders } from "./providers.ts";

export interface ProviderLoginOptions {
  db: Database;
  users: UserStore;
  handoff: HandoffDeps;
  logger: Logger;
  githubLogin: ProviderLoginConfig | null;
  googleLogin: ProviderLoginConfig | null;
  /** For the providers' user endpoints: the hardened fetch. */
  fetch: typeof fetch;
  claimPendingGrants: (user: User) => void;
}

export function buildProviderLogin(options: ProviderLoginOptions): ProviderLoginDeps {
  const policy = cookiePolicyFor(options.handoff.publicUrl);
  return {
    providers: enabledProviders(options),
    links: new IdentityLinkStore(options.db),
    states: new AuthorizationStateStore(),
    users: options.users,
    handoff: options.handoff,
    fetch: options.fetch,
    logger: options.logger,
    claimPendingGrants: options.claimPendingGrants,
    stateCookie: {
      set: (value, maxAgeSeconds) =>
        serializeCookie("provider-state", policy, value, maxAgeSeconds),
      clear: () => clearCookie("provider-state", policy),
    },
  };
}
