/**
 * Wiki slugs are DNS labels under the apex: lowercase letters, digits and inner hyphens,
 * 3–63 characters (RFC 1035 §2.3.4 caps a label at 63), minus names we use ourselves or that
 * invite phishing (`login`, `admin`, …).
 */

export const RESERVED_SLUGS: ReadonlySet<string> = new Set([
  "www",
  "api",
  "app",
  "auth",
  "admin",
  "administrator",
  "mcp",
  "static",
  "assets",
  "mail",
  "smtp",
  "imap",
  "pop",
  "ftp",
  "ns1",
  "ns2",
  "dns",
  "git",
  "ssh",
  "oauth",
  "login",
  "logout",
  "signin",
  "signup",
  "register",
  "account",
  "accounts",
  "billing",
  "pay",
  "status",
  "health",
  "help",
  "support",
  "docs",
  "blog",
  "cdn",
  "media",
  "img",
  "images",
  "files",
  "download",
  "dev",
  "staging",
  "test",
  "internal",
  "root",
  "system",
  "wikibot",
  "security",
  "abuse",
  "postmaster",
  "hostmaster",
  "webmaster",
  "localhost",
  "dashboard",
  "console",
  "well-known",
]);

export type SlugCheck = { ok: true; slug: string } | { ok: false; reason: string };

const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

export function checkSlug(input: string): SlugCheck {
  const slug = input;
  if (slug.length < 3 || slug.length > 63) {
    return {
      ok: false,
      reason: `slug "${slug}" must be 3–63 characters long (it has ${slug.length})`,
    };
  }
  if (!SLUG_PATTERN.test(slug)) {
    return {
      ok: false,
      reason: `slug "${slug}" may contain only lowercase letters a–z, digits and hyphens, and must start and end with a letter or digit`,
    };
  }
  if (slug.includes("--")) {
    // "xn--" is punycode; double hyphens in general are confusing in a host name.
    return { ok: false, reason: `slug "${slug}" must not contain two hyphens in a row` };
  }
  if (RESERVED_SLUGS.has(slug)) {
    return { ok: false, reason: `slug "${slug}" is reserved; choose another name` };
  }
  return { ok: true, slug };
}
