/**
 * Opens the database and builds every store on it: what the server, the admin CLI and tests'
 * child processes share. Only storage modules are imported here, not the web stack, so a process
 * that needs only the stores starts in a fraction of the time (the server graph takes seconds
 * to import on a loaded 2-core machine).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { OAuthAccessTokenStore } from "./auth/oauth-access-token.ts";
import { OAuthGrantStore } from "./auth/oauth-grant-store.ts";
import { UserStore } from "./auth/user-store.ts";
import { WikiTokenStore } from "./auth/wiki-token.ts";
import { DEFAULT_PLAN_LIMITS, type PlanLimits } from "./config/config.ts";
import { openDatabase } from "./db/database.ts";
import { PageStore } from "./pages/page-store.ts";
import { WriteGate } from "./pages/write-gate.ts";
import { PendingGrantStore } from "./wikis/pending-grant-store.ts";
import { PlanPolicy } from "./wikis/plan-policy.ts";
import { WikiStore } from "./wikis/wiki-store.ts";

/** The committer of every commit we make; the author is the person (DESIGN §4). */
export const COMMITTER = { name: "wikibot", email: "wikibot@users.wikibot.invalid" };

/**
 * No process is started. `planLimits`: the server passes the configured ones; tools that only
 * read, or write as the operator, may rely on the defaults.
 */
export function openStores(dataDir: string, planLimits: PlanLimits = DEFAULT_PLAN_LIMITS) {
  mkdirSync(join(dataDir, "wikis"), { recursive: true });
  const db = openDatabase(join(dataDir, "wikibot.db"));
  const wikis = new WikiStore(db);
  const gate = new WriteGate();
  const plans = new PlanPolicy(planLimits);
  const pages = new PageStore({ db, wikis, gate, dataDir, committer: COMMITTER, plans });
  return {
    db,
    users: new UserStore(db),
    wikis,
    tokens: new WikiTokenStore(db),
    pendingGrants: new PendingGrantStore(db),
    oauthTokens: new OAuthAccessTokenStore(db),
    oauthGrants: new OAuthGrantStore(db),
    gate,
    pages,
    plans,
  };
}
