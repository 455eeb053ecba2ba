/**
 * What the proxy does with each Otterwiki path, decided on the path as Otterwiki will route it:
 * percent-decoded (gunicorn decodes PATH_INFO, so `%2F` is a slash there) with repeated
 * slashes merged (Werkzeug merges them) and compared case-insensitively. Pure functions.
 */

export type BrowserRoute =
  /** The wiki-host end of the session handshake. */
  | { kind: "handoff" }
  /** Otterwiki's account pages, which fail in proxy mode: answered by our sign-in. */
  | { kind: "sign-in"; next: string }
  | { kind: "sign-out" }
  | { kind: "account" }
  /** Never reaches Otterwiki, whoever asks. */
  | { kind: "blocked" }
  /** POST /<page>/save: the one write the proxy checks for a lost update. */
  | { kind: "save"; pagePath: string }
  | { kind: "otterwiki" };

/**
 * Repository and user management (a tenant could point the wiki at another repository), the
 * pull webhook, Otterwiki's own git endpoints (wikibot serves git itself), and admin pages
 * that mean nothing in proxy mode (registration, mail, plugins).
 */
const BLOCKED_PREFIXES = [
  "/-/admin/repository_management",
  "/-/admin/user_management",
  "/-/admin/permissions_and_registration",
  "/-/admin/mail_preferences",
  "/-/admin/plugin",
  "/-/api",
  "/.git",
];

/** ProxyHeaderAuth lacks these views' methods (they answer 500); we send people to sign in. */
const SIGN_IN_PREFIXES = [
  "/-/login",
  "/-/register",
  "/-/lost_password",
  "/-/confirm_email",
  "/-/recover_password",
  "/-/request_confirmation_link",
];

/** POSTs that only read, allowed for people who cannot write (search, history compare, preview). */
const READ_ONLY_POST = [
  /^\/-\/search(?:\/.*)?$/,
  /^\/.+\/(?:history|preview)$/,
  /^\/.+\/diff\/.+$/,
];

const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

/** The path as Otterwiki routes it, lower-cased for matching; null when it is not decodable. */
export function normalizeWikiPath(pathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (/[\u0000-\u001f\u007f]/.test(decoded)) return null;
  const merged = decoded.replace(/\/{2,}/g, "/");
  const trimmed = merged.length > 1 ? merged.replace(/\/+$/, "") : merged;
  return trimmed.toLowerCase();
}

export function classifyBrowserRoute(method: string, url: URL, normalized: string): BrowserRoute {
  if (normalized === "/auth/handoff") return { kind: "handoff" };
  if (BLOCKED_PREFIXES.some((prefix) => under(normalized, prefix))) return { kind: "blocked" };
  if (SIGN_IN_PREFIXES.some((prefix) => under(normalized, prefix)))
    return { kind: "sign-in", next: url.searchParams.get("next") ?? "/" };
  if (under(normalized, "/-/logout")) return { kind: "sign-out" };
  if (under(normalized, "/-/user")) return { kind: "account" };
  if (method === "POST" && normalized.endsWith("/save") && !normalized.startsWith("/-/")) {
    const decoded = decodeURIComponent(url.pathname).replace(/\/{2,}/g, "/");
    return { kind: "save", pagePath: decoded.replace(/^\//, "").replace(/\/save\/?$/i, "") };
  }
  return { kind: "otterwiki" };
}

export function isReadOnlyPost(normalized: string): boolean {
  return READ_ONLY_POST.some((pattern) => pattern.test(normalized));
}

/** The editor: `/<page>?edit`, `/<page>/edit`, `/<page>/edit/<revision>`. */
export function isEditorRequest(url: URL, normalized: string): boolean {
  if (normalized.startsWith("/-/")) return false;
  return url.searchParams.has("edit") || /^\/.+\/edit(?:\/[0-9a-f]+)?$/.test(normalized);
}

/** `/Research/Topic A` → `/Research/Topic%20A`: a page path as an Otterwiki URL path. */
export function pageUrlPath(pagePath: string): string {
  return `/${pagePath.split("/").map(encodeURIComponent).join("/")}`;
}
