/**
 * The scopes a client asks for and what a person's role lets them grant. Unknown scopes are
 * ignored rather than refused: Claude.ai asks for whatever the 401 challenge or its own defaults
 * say ("claudeai", "offline_access mcp:tools"), and a refusal would only strand the person
 * (notes/mcp-and-oauth.md §3). Nothing asked means the base set.
 */
import { WIKI_READ_SCOPE, WIKI_WRITE_SCOPE } from "../auth/protected-resource-metadata.ts";
import type { Role } from "../wikis/wiki-store.ts";

const BOTH = [WIKI_READ_SCOPE, WIKI_WRITE_SCOPE];

/** The known scopes in a space-separated `scope` parameter; wiki:write includes reading. */
export function requestedScopes(raw: string | null): string[] {
  const words = new Set((raw ?? "").split(" "));
  if (words.has(WIKI_WRITE_SCOPE)) return BOTH;
  if (words.has(WIKI_READ_SCOPE)) return [WIKI_READ_SCOPE];
  return BOTH;
}

/** What the person can grant: a viewer can never hand out writing (OAuth only narrows a role). */
export function scopesForRole(requested: readonly string[], role: Role): string[] {
  if (role === "viewer") return [WIKI_READ_SCOPE];
  return BOTH.filter((scope) => requested.includes(scope));
}

/**
 * RFC 6749 §6: a refresh may ask for fewer scopes, never more. Null when it asks for one the
 * grant does not hold; an absent or empty `scope` keeps the grant's.
 */
export function narrowedScopes(raw: string | null, granted: readonly string[]): string[] | null {
  const asked = (raw ?? "").split(" ").filter((word) => word !== "");
  if (asked.length === 0) return [...granted];
  if (asked.some((scope) => !granted.includes(scope))) return null;
  return granted.filter((scope) => asked.includes(scope));
}
