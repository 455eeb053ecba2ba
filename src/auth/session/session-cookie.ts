/**
 * The cookies of browser sessions. Every one is host-only (no Domain attribute): a cookie with
 * `Domain=localhost` never reaches `demo.localhost` in Chromium (DESIGN §5), and host-only
 * cookies keep each wiki's credential on its own host. Over https the names carry the
 * `__Host-` prefix, so the browser itself refuses any variant with a Domain or without Secure.
 */

export interface CookiePolicy {
  /** True when PUBLIC_URL is https: cookies get Secure and the __Host- prefix. */
  secure: boolean;
}

export type CookieKind =
  /** The apex session (`sess_…`), set by signing in. */
  | "apex-session"
  /** A wiki host's own session (`sess_…`), set by the handshake. */
  | "wiki-session"
  /** The wiki host's handshake state, binding a handoff code to the browser that asked. */
  | "handoff-state"
  /** "Checked with the apex, not signed in": stops a public wiki from bouncing every page. */
  | "checked"
  /** A new Bluesky account choosing its username (`signup_…`, atproto-login). */
  | "signup"
  /** The OAuth state of a GitHub / Google sign-in in flight (`pstate_…`, provider-login). */
  | "provider-state";

const BASE_NAMES: Record<CookieKind, string> = {
  "apex-session": "wb_session",
  "wiki-session": "wb_wiki_session",
  "handoff-state": "wb_handoff",
  checked: "wb_checked",
  signup: "wb_signup",
  "provider-state": "wb_provider_state",
};

/** Every cookie name we may set, so the proxy can keep them away from Otterwiki. */
export const OUR_COOKIE_PATTERN = /^(?:__Host-)?wb_/;

export function cookieName(kind: CookieKind, policy: CookiePolicy): string {
  return policy.secure ? `__Host-${BASE_NAMES[kind]}` : BASE_NAMES[kind];
}

/** A Set-Cookie value: HttpOnly, SameSite=Lax (sent on the top-level redirects of the handshake). */
export function serializeCookie(
  kind: CookieKind,
  policy: CookiePolicy,
  value: string,
  maxAgeSeconds: number,
): string {
  const parts = [
    `${cookieName(kind, policy)}=${value}`,
    "Path=/",
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    "HttpOnly",
    "SameSite=Lax",
  ];
  if (policy.secure) parts.push("Secure");
  return parts.join("; ");
}

export function clearCookie(kind: CookieKind, policy: CookiePolicy): string {
  return serializeCookie(kind, policy, "", 0);
}

/** The value of one cookie of ours in the request, or null. Values we set are URL-safe. */
export function readCookie(
  request: Request,
  kind: CookieKind,
  policy: CookiePolicy,
): string | null {
  const header = request.headers.get("cookie");
  if (header === null) return null;
  const wanted = cookieName(kind, policy);
  for (const part of header.split(";")) {
    const separator = part.indexOf("=");
    if (separator === -1) continue;
    if (part.slice(0, separator).trim() === wanted) return part.slice(separator + 1).trim();
  }
  return null;
}

/**
 * The origin that holds the apex session. In loopback development (PUBLIC_URL on localhost)
 * that is `127.0.0.1:{port}`: ATProto's loopback client must redirect its callback to
 * 127.0.0.1 (notes/atproto-login.md §4), so the login sets its cookie there, and the handshake
 * must ask that host.
 */
export function sessionOrigin(publicUrl: URL): string {
  if (publicUrl.hostname !== "localhost") return publicUrl.origin;
  return `${publicUrl.protocol}//127.0.0.1${publicUrl.port === "" ? "" : `:${publicUrl.port}`}`;
}

export function cookiePolicyFor(publicUrl: URL): CookiePolicy {
  return { secure: publicUrl.protocol === "https:" };
}
