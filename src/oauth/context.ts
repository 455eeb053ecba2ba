/** What every endpoint of the authorization server works with, built once by routes.ts. */
import type { SessionService } from "../auth/session/session.ts";
import type { UserStore } from "../auth/user-store.ts";
import type { Logger } from "../lib/log.ts";
import type { WikiStore } from "../wikis/wiki-store.ts";
import type { OAuthClientStore } from "./client-store.ts";
import type { OAuthGrantIssuer } from "./grant-issuer.ts";
import type { OAuthRequestStore } from "./request-store.ts";

export interface OAuthContext {
  publicUrl: URL;
  wikis: WikiStore;
  users: Pick<UserStore, "findById">;
  sessions: SessionService;
  clients: OAuthClientStore;
  requests: OAuthRequestStore;
  issuer: OAuthGrantIssuer;
  /** HMAC key for the consent form's CSRF token (derived from the server secret). */
  csrfKey: string;
  logger: Logger;
}
