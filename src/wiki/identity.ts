/**
 * The identity Otterwiki sees for a browser request (DESIGN §5, notes/otterwiki.md): the
 * x-otterwiki-name/-email/-permissions headers, set only by us. Roles map to permissions as
 * viewer → READ, editor → READ,WRITE,UPLOAD, owner → also ADMIN (the proxy blocks the
 * repository- and user-management parts of Otterwiki's admin for everyone); a lapsed wiki is
 * READ for all. Anonymous readers of a public wiki need headers too: in proxy mode Otterwiki
 * ignores READ_ACCESS and treats a request without them as a visitor who must log in.
 */
import { commitAuthorOf } from "../auth/commit-author.ts";
import { canRead, canWrite, type Principal } from "../auth/wiki-access.ts";
import type { Wiki } from "../wikis/wiki-store.ts";

export type OtterwikiPermission = "READ" | "WRITE" | "UPLOAD" | "ADMIN";

export interface BrowserIdentity {
  name: string;
  email: string;
  permissions: readonly OtterwikiPermission[];
  canWrite: boolean;
}

/** Otterwiki treats an empty email as "not logged in", so anonymous readers get this one. */
export const ANONYMOUS_EMAIL = "anonymous@users.wikibot.invalid";

/** The identity for this principal on this wiki, or null when they may not read it. */
export function browserIdentityOf(wiki: Wiki, principal: Principal): BrowserIdentity | null {
  if (!canRead(wiki, principal)) return null;
  const writer = canWrite(wiki, principal);
  const permissions: OtterwikiPermission[] = writer ? ["READ", "WRITE", "UPLOAD"] : ["READ"];
  if (writer && principal.role === "owner") permissions.push("ADMIN");
  if (principal.user === null) {
    return { name: "Anonymous", email: ANONYMOUS_EMAIL, permissions, canWrite: false };
  }
  // The same author as MCP and git commits, so history shows one person, not three.
  const author = commitAuthorOf(principal.user);
  return { name: author.name, email: author.email, permissions, canWrite: writer };
}

/**
 * The identity headers. Values are percent-encoded UTF-8 (a fetch header value cannot carry
 * characters above U+00FF; our WSGI wrapper decodes them); permissions have no spaces, which
 * every Otterwiki version since 2.14 parses.
 */
export function identityHeaders(identity: BrowserIdentity): [string, string][] {
  return [
    ["x-otterwiki-name", encodeURIComponent(identity.name)],
    ["x-otterwiki-email", encodeURIComponent(identity.email)],
    ["x-otterwiki-permissions", identity.permissions.join(",")],
  ];
}
