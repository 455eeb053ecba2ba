/**
 * What the proxy does with each Otterwiki path. Blocked and answered routes are decided on the
 * path as Otterwiki will route it, percent-decoded (gunicorn decodes PATH_INFO, so `%2F` is a
 * slash there) with repeated slashes merged and compared case-insensitively, so every spelling
 * is caught. A POST is named by the Otterwiki view Werkzeug will run (case-sensitive, as its
 * URL map is), so the checks for that view apply; the WSGI wrapper refuses the POST if Flask
 * routes it elsewhere. Pure functions.
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
  /** A POST, named by the Otterwiki view that will run it (see `OtterwikiPost`). */
  | { kind: "post"; post: OtterwikiPost }
  /** A GET or HEAD: Otterwiki only reads on those. */
  | { kind: "otterwiki" };

/**
 * The Otterwiki views that accept POST (otterwiki/views.py, 2.26.1), by Flask endpoint name,
 * with the view arguments Werkzeug will pass them. The proxy checks the request for that view;
 * our WSGI wrapper refuses it when Flask routed it anywhere else, so an odd spelling can only
 * be refused, never checked as one view and run as another.
 */
export type OtterwikiPost =
  /** Writes a page (save-guard.ts). */
  | { endpoint: "save"; args: { path: string } }
  | { endpoint: "rename"; args: { path: string } }
  | { endpoint: "delete"; args: { path: string } }
  | { endpoint: "revert"; args: { revision: string } }
  /** Upload (attachments, inline_attachment), rename or delete (edit_attachment). */
  | { endpoint: "attachments" | "inline_attachment"; args: { pagepath: string } }
  | { endpoint: "edit_attachment"; args: { pagepath: string; filename: string } }
  /** Deletes the pages it lists as empty (and drafts). */
  | { endpoint: "housekeeping"; args: Record<string, never> }
  /** Only read: search, history compare, diff, preview. */
  | { endpoint: "search"; args: { query?: string } }
  | { endpoint: "history" | "preview"; args: { path: string } }
  | { endpoint: "diff"; args: { path: string; rev_a: string; rev_b: string } }
  /** Editor with draft handling, drafts, create (a redirect): Otterwiki's database only. */
  | { endpoint: "view" | "edit" | "draft" | "discard_draft"; args: { path: string } }
  | { endpoint: "create" | "settings"; args: Record<string, never> }
  /** Owner-only site preferences that do not touch the repository (ADMIN; see identity.ts). */
  | {
      endpoint: "admin" | "admin_sidebar_preferences" | "admin_content_and_editing";
      args: Record<string, never>;
    };

/** Views whose POST changes the repository: they run under the gate and are repaired after. */
const REPOSITORY_WRITES: ReadonlySet<OtterwikiPost["endpoint"]> = new Set([
  "save",
  "rename",
  "delete",
  "revert",
  "attachments",
  "inline_attachment",
  "edit_attachment",
  "housekeeping",
]);

const READ_ONLY_POSTS: ReadonlySet<OtterwikiPost["endpoint"]> = new Set([
  "search",
  "history",
  "preview",
  "diff",
]);

export function writesRepository(post: OtterwikiPost): boolean {
  return REPOSITORY_WRITES.has(post.endpoint);
}

/** POSTs that only read, allowed for people who cannot write. */
export function readsOnly(post: OtterwikiPost): boolean {
  return READ_ONLY_POSTS.has(post.endpoint);
}

/** The X-Wikibot-Route value our WSGI wrapper compares with Flask's routing. */
export function routeHeader(post: OtterwikiPost): string {
  const args = new URLSearchParams();
  for (const [name, value] of Object.entries(post.args)) {
    if (typeof value === "string") args.set(name, value);
  }
  const query = args.toString();
  return query === "" ? post.endpoint : `${post.endpoint}?${query}`;
}

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
  if (method !== "POST") return { kind: "otterwiki" };
  const post = otterwikiPostOf(decodeURIComponent(url.pathname));
  return post === null ? { kind: "blocked" } : { kind: "post", post };
}

/** `/-/...` POST routes with fixed paths (Werkzeug tries these before any `<path:...>` rule). */
const STATIC_POSTS: ReadonlyMap<string, OtterwikiPost> = new Map<string, OtterwikiPost>([
  ["/-/admin", { endpoint: "admin", args: {} }],
  ["/-/admin/sidebar_preferences", { endpoint: "admin_sidebar_preferences", args: {} }],
  ["/-/admin/content_and_editing", { endpoint: "admin_content_and_editing", args: {} }],
  ["/-/create", { endpoint: "create", args: {} }],
  ["/-/housekeeping", { endpoint: "housekeeping", args: {} }],
  ["/-/settings", { endpoint: "settings", args: {} }],
  ["/-/search", { endpoint: "search", args: {} }],
]);

const PAGE_ACTIONS = ["save", "rename", "delete", "edit", "history", "preview", "draft"] as const;

/**
 * The view Werkzeug routes a POST of this (percent-decoded, case-kept) path to, mirroring its
 * precedence: fixed `/-/` routes, then the page rules with the most parts after the page path.
 * Null for routes we do not forward (plugins, anything new upstream).
 */
export function otterwikiPostOf(path: string): OtterwikiPost | null {
  const fixed = STATIC_POSTS.get(path);
  if (fixed !== undefined) return fixed;
  let match = /^\/-\/search\/([^/]+)$/.exec(path);
  if (match?.[1] !== undefined) return { endpoint: "search", args: { query: match[1] } };
  match = /^\/-\/revert\/([^/]+)$/.exec(path);
  if (match?.[1] !== undefined) return { endpoint: "revert", args: { revision: match[1] } };
  if (/^\/-\/(?:plugin|admin|user|api)\//.test(path)) return null;
  match = /^\/(.+)\/diff\/([^/]+)\/([^/]+)$/.exec(path);
  if (match?.[1] !== undefined && match[2] !== undefined && match[3] !== undefined)
    return { endpoint: "diff", args: { path: match[1], rev_a: match[2], rev_b: match[3] } };
  match = /^\/(.+)\/attachment\/([^/]+)$/.exec(path);
  if (match?.[1] !== undefined && match[2] !== undefined)
    return { endpoint: "edit_attachment", args: { pagepath: match[1], filename: match[2] } };
  match = /^\/(.+)\/draft\/discard$/.exec(path);
  if (match?.[1] !== undefined) return { endpoint: "discard_draft", args: { path: match[1] } };
  match = /^\/(.+)\/(attachments|inline_attachment)$/.exec(path);
  if (match?.[1] !== undefined && (match[2] === "attachments" || match[2] === "inline_attachment"))
    return { endpoint: match[2], args: { pagepath: match[1] } };
  match = /^\/(.+)\/([a-z]+)\/?$/.exec(path);
  const action = PAGE_ACTIONS.find((name) => name === match?.[2]);
  // Only rename and delete have a rule with a trailing slash.
  const slashOk = !path.endsWith("/") || action === "rename" || action === "delete";
  if (match?.[1] !== undefined && action !== undefined && slashOk)
    return { endpoint: action, args: { path: match[1] } };
  match = /^\/(.+)$/.exec(path);
  if (match?.[1] !== undefined) return { endpoint: "view", args: { path: match[1] } };
  return null;
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
