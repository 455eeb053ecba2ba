/**
 * What the use cases shared by the admin CLI and the management API have in common: who is
 * acting, the one error they raise, and the role check. Roles are read fresh from the ACL on
 * every call, so a revoked role applies to the very next request (DESIGN §5).
 */
import type { User } from "../auth/user-store.ts";
import type { Role, Wiki, WikiStore } from "./wiki-store.ts";

/**
 * Why a use case refused. Each protocol renders it in its own form: the CLI prints the message,
 * the management API maps the code to a status (src/manage/manage-error.ts).
 */
export type WikiErrorCode = "invalid" | "not_found" | "forbidden" | "conflict" | "plan_limit";

/** A request that cannot be carried out as given (bad slug, unknown user, taken name, no right). */
export class WikiError extends Error {
  override name = "WikiError";
  constructor(
    message: string,
    readonly code: WikiErrorCode = "invalid",
  ) {
    super(message);
  }
}

/**
 * Who asks. The operator (the admin CLI, run by whoever holds DATA_DIR) passes every role check;
 * a user passes what their role on the wiki allows.
 */
export type Actor = { kind: "operator" } | { kind: "user"; user: User };

export const OPERATOR: Actor = { kind: "operator" };

const RANK: Record<Role, number> = { viewer: 1, editor: 2, owner: 3 };

export function roleAtLeast(role: Role | null, minimum: Role): boolean {
  return role !== null && RANK[role] >= RANK[minimum];
}

/**
 * The wiki named `slug` and the actor's role on it (operator: "owner"). Someone with no role
 * gets the same answer as for a wiki that does not exist, so private wikis stay unnamed.
 */
export function wikiForActor(
  wikis: WikiStore,
  actor: Actor,
  slug: string,
): { wiki: Wiki; role: Role } {
  const wiki = wikis.findBySlug(slug);
  const role =
    wiki === null
      ? null
      : actor.kind === "operator"
        ? "owner"
        : wikis.roleOf(wiki.id, actor.user.id);
  if (wiki === null || role === null) throw new WikiError(`no wiki "${slug}"`, "not_found");
  return { wiki, role };
}

/** Refuses unless the actor's role is at least `minimum`. */
export function requireRole(role: Role, minimum: Role, what: string): void {
  if (!roleAtLeast(role, minimum))
    throw new WikiError(`only ${minimum}s of this wiki may ${what}; you are ${role}`, "forbidden");
}
