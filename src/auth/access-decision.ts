/**
 * Why a request may not do what it asks, decided once for every surface (DESIGN §5, §10). What
 * each plan allows, and its refusal texts, come from src/wikis/plan-policy.ts.
 * REST, MCP, git and the browser each render a refusal in their own protocol — a status code and
 * a challenge, a tool error, a `remote:` line, an HTML page — but the reason, its order of
 * precedence and its wording come from here, so the surfaces cannot drift apart again.
 */
import { type PlanRefusalReason, planRefusal } from "../wikis/plan-policy.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import type { Principal } from "./wiki-access.ts";

/** What the caller wants: read pages, change them, push with git, or use MCP at all. */
export type WikiAction = "read" | "write" | "push" | "mcp";

export type RefusalReason =
  /** A credential was presented and is unknown, revoked, malformed or for another wiki. */
  | "invalid_token"
  /** No credential, and this action needs one. */
  | "unauthenticated"
  /** Signed in, but not a member of a private wiki. */
  | "no_role"
  /** The wiki's plan says no (src/wikis/plan-policy.ts): lapsed, or free and asked to push. */
  | PlanRefusalReason
  /** A viewer asking to change something. */
  | "read_only_role"
  /** A read-scoped token asking to change something. */
  | "read_only_token";

export interface Refusal {
  reason: RefusalReason;
  /** One sentence for a person or an agent; each surface may add how to fix it in its terms. */
  message: string;
}

export type AccessDecision = { allowed: true } | { allowed: false; refusal: Refusal };

const ALLOWED: AccessDecision = { allowed: true };

function refuse(reason: RefusalReason, message: string): AccessDecision {
  return { allowed: false, refusal: { reason, message } };
}

/** The refusal for a presented credential that did not verify (`detail`: e.g. "it has been revoked"). */
export function invalidCredentialRefusal(wiki: Wiki, detail: string): Refusal {
  return {
    reason: "invalid_token",
    message: `that token is not valid for ${wiki.slug}: ${detail}`,
  };
}

/**
 * Decides whether `principal` may do `action` on `wiki`. The order is the order in which a
 * caller can fix things: present a credential, get a role, then the plan, then the role's and
 * the token's rights — so nobody is told to make a new token when no token would help.
 */
export function decideAccess(wiki: Wiki, principal: Principal, action: WikiAction): AccessDecision {
  const anonymous = principal.user === null;
  const member = principal.role !== null;
  if (!wiki.isPublic && !member) {
    return anonymous
      ? refuse("unauthenticated", `${wiki.slug} is a private wiki: reading it needs a wiki token`)
      : refuse("no_role", `you have no role on ${wiki.slug}, so you cannot read it`);
  }
  if (action === "read") return ALLOWED;
  if (action === "mcp") {
    const plan = planRefusal(wiki, "mcp");
    return plan === null ? ALLOWED : refuse(plan.reason, plan.message);
  }

  const verb = action === "push" ? "pushing to" : "changing";
  if (anonymous) {
    return refuse("unauthenticated", `${verb} ${wiki.slug} needs a wiki token with write scope`);
  }
  if (!member)
    return refuse("no_role", `you have no role on ${wiki.slug}, so you cannot change it`);
  const plan = planRefusal(wiki, action);
  if (plan !== null) return refuse(plan.reason, plan.message);
  if (principal.role !== "editor" && principal.role !== "owner") {
    return refuse(
      "read_only_role",
      `your role on ${wiki.slug} is ${principal.role ?? "none"}: changing pages needs editor or owner`,
    );
  }
  if (principal.scope !== "write") {
    return refuse(
      "read_only_token",
      "this token is read-only: make a token with write scope to change pages",
    );
  }
  return ALLOWED;
}
