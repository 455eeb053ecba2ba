/**
 * The git identity of a user: their display name and an address derived from their DID, which
 * never changes when they change handle (DESIGN §4). It is not a mailbox; `.invalid` is the TLD
 * RFC 2606 reserves for names that must never resolve.
 */
import type { Author } from "../pages/page-store.ts";
import type { User } from "./user-store.ts";
import type { Principal } from "./wiki-access.ts";

export function commitAuthorOf(user: User): Author {
  const local = user.did.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 64);
  return { name: user.displayName || user.handle, email: `${local}@users.wikibot.invalid` };
}

const MAX_CLIENT_NAME = 64;

/** A client name safe for a commit trailer: no newlines, no spaces, bounded. */
export function sanitizeClientName(name: string): string {
  const cleaned = name
    .replace(/[^A-Za-z0-9._@+-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, MAX_CLIENT_NAME);
  return cleaned.length > 0 ? cleaned : "unknown";
}

/**
 * The `Client:` trailer of a commit: an OAuth client acting for the person is named by the name
 * it registered with (`oauth/Claude`), whatever surface it used; otherwise the surface's own
 * label (`mcp/claude-code`, `api`).
 */
export function commitClientOf(principal: Principal, surfaceLabel: string): string {
  const oauth = principal.oauthClient;
  return oauth === null ? surfaceLabel : `oauth/${sanitizeClientName(oauth.clientName)}`;
}
