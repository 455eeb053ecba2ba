/**
 * Who may use a wiki, shared by the admin CLI and the management API (DESIGN §10).
 *
 * A member is named by DID or by handle. A DID or handle of someone who has signed in becomes
 * an ACL row at once; anyone else gets a pending grant (keyed by whichever was given) that
 * `claimPendingGrants` turns into a role when they first sign in. Rules, for every caller:
 * only owners grant, change or remove roles (anyone may remove themselves: leaving), and a
 * wiki never loses its last owner.
 */
import type { Database } from "bun:sqlite";
import type { OAuthGrantStore } from "../auth/oauth-grant-store.ts";
import type { User, UserStore } from "../auth/user-store.ts";
import type { WikiTokenStore } from "../auth/wiki-token.ts";
import type { GrantSubject, PendingGrant, PendingGrantStore } from "./pending-grant-store.ts";
import { type Actor, requireRole, roleAtLeast, WikiError, wikiForActor } from "./use-case.ts";
import type { Role, Wiki, WikiStore } from "./wiki-store.ts";

export interface MemberDeps {
  db: Database;
  users: UserStore;
  wikis: WikiStore;
  tokens: WikiTokenStore;
  pendingGrants: PendingGrantStore;
  /** Connected apps: removing a member ends the ones they authorized on the wiki. */
  oauthGrants: OAuthGrantStore;
}

export type Membership =
  | { kind: "member"; user: User; role: Role }
  | { kind: "pending"; subject: GrantSubject; role: Role; createdAt: number };

// The same shapes the admin CLI accepts (src/admin/commands.ts): ATProto DIDs in use today and
// domain-style handles (https://atproto.com/specs/handle).
export const DID_PATTERN = /^did:(plc:[a-z2-7]{24}|web:[a-zA-Z0-9.%:-]+)$/;
export const HANDLE_PATTERN =
  /^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const MAX_HANDLE_LENGTH = 253;

/** Reads "did:…" or a handle (optionally with a leading @); handles compare lowercased. */
export function parseSubject(text: string): GrantSubject {
  const trimmed = text.trim();
  if (trimmed.startsWith("did:")) {
    if (!DID_PATTERN.test(trimmed))
      throw new WikiError(`"${trimmed}" is not a did:plc or did:web identifier`);
    return { kind: "did", did: trimmed };
  }
  const handle = trimmed.replace(/^@/, "").toLowerCase();
  // What the identity resolver reports for a handle that failed verification: nobody's name.
  if (handle === "handle.invalid")
    throw new WikiError(`"${trimmed}" is not a usable handle; name the person by DID`);
  if (handle.length > MAX_HANDLE_LENGTH || !HANDLE_PATTERN.test(handle))
    throw new WikiError(`"${trimmed}" is neither a DID nor a handle such as alice.bsky.social`);
  return { kind: "handle", handle };
}

/**
 * The user a subject names, or null when nobody with it has signed in. A handle is matched
 * against the handle each user had at their last sign-in; when several accounts were last seen
 * with it (a handle moved between DIDs) the caller must name the DID.
 */
function userOf(deps: MemberDeps, subject: GrantSubject): User | null {
  if (subject.kind === "did") return deps.users.findByDid(subject.did);
  const found = deps.users.findByHandle(subject.handle);
  if (found.length > 1)
    throw new WikiError(
      `several accounts were last seen with the handle ${subject.handle}; name the person by DID`,
      "conflict",
    );
  return found[0] ?? null;
}

function refuseLosingLastOwner(deps: MemberDeps, wiki: Wiki, current: Role | null): void {
  if (current === "owner" && deps.wikis.ownerCount(wiki.id) <= 1)
    throw new WikiError(
      `that is the last owner of ${wiki.slug}; make someone else owner first`,
      "conflict",
    );
}

/** Every member and pending grant of the wiki. Any member may look. */
export function listMembers(deps: MemberDeps, actor: Actor, slug: string): Membership[] {
  const { wiki } = wikiForActor(deps.wikis, actor, slug);
  const members: Membership[] = deps.wikis.members(wiki.id).flatMap(({ userId, role }) => {
    const user = deps.users.findById(userId);
    return user === null ? [] : [{ kind: "member" as const, user, role }];
  });
  const pending: Membership[] = deps.pendingGrants.listForWiki(wiki.id).map(toPending);
  return [...members, ...pending];
}

function toPending(grant: PendingGrant): Membership {
  return { kind: "pending", subject: grant.subject, role: grant.role, createdAt: grant.createdAt };
}

/** One member or pending grant; not_found when the subject has neither. Any member may look. */
export function getMember(
  deps: MemberDeps,
  actor: Actor,
  slug: string,
  subject: GrantSubject,
): Membership {
  const { wiki } = wikiForActor(deps.wikis, actor, slug);
  const user = userOf(deps, subject);
  if (user !== null) {
    const role = deps.wikis.roleOf(wiki.id, user.id);
    if (role !== null) return { kind: "member", user, role };
  }
  const pending = deps.pendingGrants.find(wiki.id, subject);
  if (pending !== null) return toPending(pending);
  throw new WikiError(`${describe(subject)} has no role on ${wiki.slug}`, "not_found");
}

/** What a handle names today (auth/atproto-login/handle-lookup.ts). */
export type HandleResolution =
  | { kind: "did"; did: string }
  | { kind: "unknown" }
  | { kind: "unreachable" };

/**
 * The subject a grant by handle should be keyed by: the DID the handle names today, so the
 * role follows the person even if the handle later moves. A handle that names nobody goes to
 * the person last seen with it here, or is refused (most likely a typo); when the network
 * cannot be asked, the grant stays keyed by the handle, which is claimed only by a sign-in
 * whose handle was verified both ways. Owners only: a lookup costs us a request.
 */
export async function resolveGrantSubject(
  deps: MemberDeps,
  actor: Actor,
  slug: string,
  subject: GrantSubject,
  lookup: ((handle: string) => Promise<HandleResolution>) | null,
): Promise<GrantSubject> {
  if (subject.kind !== "handle" || lookup === null) return subject;
  const { role } = wikiForActor(deps.wikis, actor, slug);
  requireRole(role, "owner", "manage its members");
  // Looked up even when someone here was last seen with the handle: it may have moved to
  // another person since, and the grant must go to whoever holds it now.
  const found = await lookup(subject.handle);
  if (found.kind === "did") return { kind: "did", did: found.did, handle: subject.handle };
  // It names nobody now: the person last seen with it here is the best we know of, if any.
  if (found.kind === "unknown" && userOf(deps, subject) === null)
    throw new WikiError(
      `no Bluesky account has the handle ${subject.handle}; check the spelling`,
      "not_found",
    );
  return subject;
}

/**
 * Gives `subject` the role (or changes it). Owners only. Demoting the last owner is refused.
 * Someone who never signed in gets a pending grant instead.
 */
export function grantRole(
  deps: MemberDeps,
  actor: Actor,
  slug: string,
  subject: GrantSubject,
  role: Role,
): Membership {
  const { wiki, role: actorRole } = wikiForActor(deps.wikis, actor, slug);
  requireRole(actorRole, "owner", "manage its members");
  const user = userOf(deps, subject);
  if (user === null) {
    const grant = deps.pendingGrants.put(
      wiki.id,
      subject,
      role,
      actor.kind === "user" ? actor.user.id : null,
    );
    return toPending(grant);
  }
  return deps.db
    .transaction((): Membership => {
      const current = deps.wikis.roleOf(wiki.id, user.id);
      if (role !== "owner") refuseLosingLastOwner(deps, wiki, current);
      deps.wikis.setRole(wiki.id, user.id, role);
      return { kind: "member", user, role };
    })
    .immediate();
}

/**
 * Takes the subject's role away (or drops their pending grant) and revokes the tokens they made
 * for this wiki and the apps they connected to it: on a public wiki a token without a role would
 * still read. Owners may remove anyone; anyone may remove themselves. The last owner cannot be
 * removed.
 */
export function removeMember(
  deps: MemberDeps,
  actor: Actor,
  slug: string,
  subject: GrantSubject,
): void {
  const { wiki, role: actorRole } = wikiForActor(deps.wikis, actor, slug);
  const user = userOf(deps, subject);
  const leaving = actor.kind === "user" && user !== null && user.id === actor.user.id;
  if (!leaving) requireRole(actorRole, "owner", "manage its members");
  if (user === null || deps.wikis.roleOf(wiki.id, user.id) === null) {
    if (deps.pendingGrants.remove(wiki.id, subject)) return;
    throw new WikiError(`${describe(subject)} has no role on ${wiki.slug}`, "not_found");
  }
  deps.db
    .transaction(() => {
      refuseLosingLastOwner(deps, wiki, deps.wikis.roleOf(wiki.id, user.id));
      deps.wikis.removeRole(wiki.id, user.id);
      for (const token of deps.tokens.listForWiki(wiki.id)) {
        if (token.userId === user.id && token.revokedAt === null) deps.tokens.revoke(token.id);
      }
      deps.oauthGrants.revokeAllFor(wiki.id, user.id);
    })
    .immediate();
}

/**
 * Turns the grants waiting for a person into roles; the sign-in calls it after every sign-in
 * (cheap when there is nothing to claim), once the DID is proved and the handle verified both
 * ways — a handle-keyed grant is only as good as that check. An existing role is never lowered
 * by a pending one. Returns what was claimed.
 */
export function claimPendingGrants(
  deps: Pick<MemberDeps, "db" | "wikis" | "pendingGrants">,
  user: Pick<User, "id" | "did">,
  /**
   * The handle this very sign-in verified both ways, or null (a GitHub/Google sign-in, or a
   * handle that failed verification): a stored handle may have moved to someone else since,
   * so only a fresh verification may claim a grant keyed by handle.
   */
  verifiedHandle: string | null,
): { wikiId: number; role: Role }[] {
  return deps.db
    .transaction(() => {
      const claimed: { wikiId: number; role: Role }[] = [];
      const handle = verifiedHandle === null ? null : verifiedHandle.toLowerCase();
      for (const grant of deps.pendingGrants.listForPerson(user.did, handle)) {
        deps.pendingGrants.remove(grant.wikiId, grant.subject);
        const current = deps.wikis.roleOf(grant.wikiId, user.id);
        if (!roleAtLeast(current, grant.role)) {
          deps.wikis.setRole(grant.wikiId, user.id, grant.role);
          claimed.push({ wikiId: grant.wikiId, role: grant.role });
        }
      }
      return claimed;
    })
    .immediate();
}

export function describe(subject: GrantSubject): string {
  return subject.kind === "did" ? subject.did : subject.handle;
}
