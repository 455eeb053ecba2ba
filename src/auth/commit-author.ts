/**
 * The git identity of a user: their display name and an address derived from their DID, which
 * never changes when they change handle (DESIGN §4). It is not a mailbox; `.invalid` is the TLD
 * RFC 2606 reserves for names that must never resolve.
 */
import type { Author } from "../pages/page-store.ts";
import type { User } from "./user-store.ts";

export function commitAuthorOf(user: User): Author {
  const local = user.did.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 64);
  return { name: user.displayName || user.handle, email: `${local}@users.wikibot.invalid` };
}
