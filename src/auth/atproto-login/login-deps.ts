/**
 * Assembles Sign in with Bluesky from configuration: the hardened fetch, the OAuth client (with
 * its sealed SQLite stores) and the signup cookie. Called once by the composition root.
 */
import type { Database } from "bun:sqlite";
import type { Logger } from "../../lib/log.ts";
import type { HandoffDeps } from "../session/handoff.ts";
import { clearCookie, cookiePolicyFor, serializeCookie } from "../session/session-cookie.ts";
import type { User, UserStore } from "../user-store.ts";
import { loadOrCreateClientKey } from "./client-key.ts";
import { createHardenedFetch } from "./hardened-fetch.ts";
import type { AtprotoLoginDeps } from "./login-flow.ts";
import { clientKindFor, createAtprotoOAuthClient } from "./oauth-client.ts";
import { PendingSignupStore } from "./pending-signup-store.ts";

export interface AtprotoLoginOptions {
  db: Database;
  users: UserStore;
  handoff: HandoffDeps;
  logger: Logger;
  /** DATA_DIR/keys: the confidential client's signing key lives there. */
  keysDir: string;
  /** deriveKey(secrets, "atproto-oauth-stores"). */
  sealingKey: string;
  plcUrl: URL;
  handleResolverUrl: URL | null;
  allowLoopbackHttp: boolean;
  claimPendingGrants: (user: User, verifiedHandle: string | null) => void;
}

export async function buildAtprotoLogin(options: AtprotoLoginOptions): Promise<AtprotoLoginDeps> {
  const { publicUrl } = options.handoff;
  const policy = cookiePolicyFor(publicUrl);
  const hardenedFetch = createHardenedFetch({ allowLoopbackHttp: options.allowLoopbackHttp });
  if (options.allowLoopbackHttp)
    options.logger.warn(
      "ATPROTO_ALLOW_LOOPBACK_HTTP is set: the login may fetch http and loopback addresses (tests and development only)",
    );
  const kind = clientKindFor(publicUrl);
  const unavailableReason = typeof kind === "object" ? kind.unsupported : null;
  const client =
    typeof kind === "object"
      ? null
      : createAtprotoOAuthClient({
          clientKey: kind === "confidential" ? await loadOrCreateClientKey(options.keysDir) : null,
          publicUrl,
          db: options.db,
          sealingKey: options.sealingKey,
          fetch: hardenedFetch,
          plcUrl: options.plcUrl,
          handleResolverUrl: options.handleResolverUrl,
          allowHttp: options.allowLoopbackHttp,
        });
  return {
    client,
    unavailableReason,
    users: options.users,
    pendingSignups: new PendingSignupStore(options.db),
    handoff: options.handoff,
    fetch: hardenedFetch,
    logger: options.logger,
    claimPendingGrants: options.claimPendingGrants,
    signupCookie: {
      set: (value, maxAgeSeconds) => serializeCookie("signup", policy, value, maxAgeSeconds),
      clear: () => clearCookie("signup", policy),
    },
  };
}
