/**
 * Which redirect URIs a client may register and how a presented one is matched. An allowlist,
 * not a scheme blocklist (workers-oauth-provider's blocklist was bypassed by case and control
 * characters, its #97): https anywhere, or plain http on a loopback host for native apps
 * (RFC 8252 §7.3). Matching is exact string comparison (OAuth 2.1 §2.3.1, RFC 3986 §6.2.1),
 * except that a loopback URI matches on any port, since native apps bind an ephemeral one.
 */

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);
const MAX_LENGTH = 2000;

export type RedirectUriCheck = { ok: true } | { ok: false; reason: string };

function isLoopbackHttp(url: URL): boolean {
  return url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
}

/** Whether `raw` may be registered as a redirect URI; the reason says why not. */
export function checkRedirectUri(raw: string): RedirectUriCheck {
  if (raw.length === 0 || raw.length > MAX_LENGTH)
    return { ok: false, reason: `must be 1 to ${MAX_LENGTH} characters` };
  // The URL parser silently drops tabs and newlines; a URI that needs that is not one we store.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (/[\u0000-\u0020\u007f]/.test(raw))
    return { ok: false, reason: "contains spaces or controls" };
  const url = URL.parse(raw);
  if (url === null) return { ok: false, reason: "is not an absolute URL" };
  // RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a fragment component."
  if (raw.includes("#")) return { ok: false, reason: "must not have a fragment" };
  // An empty userinfo ("https://@host/") parses to no username, so look at the authority itself.
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(raw)?.[1] ?? "";
  if (url.username !== "" || url.password !== "" || authority.includes("@"))
    return { ok: false, reason: "must not carry user information" };
  if (url.protocol === "https:") return { ok: true };
  if (isLoopbackHttp(url)) return { ok: true };
  if (url.protocol === "http:")
    return { ok: false, reason: "http is allowed only on 127.0.0.1, [::1] or localhost" };
  return { ok: false, reason: "must be https (or http on a loopback host)" };
}

/** Whether `presented` names one of the `registered` redirect URIs (RFC 8252 §7.3 for loopback). */
export function redirectUriMatches(registered: readonly string[], presented: string): boolean {
  if (registered.includes(presented)) return true;
  const url = URL.parse(presented);
  // Only the canonical spelling may differ by port: "/cb/../cb" or "HTTP://" must match exactly.
  if (url === null || url.href !== presented || !isLoopbackHttp(url)) return false;
  if (!checkRedirectUri(presented).ok) return false;
  url.port = "";
  return registered.some((candidate) => {
    const known = URL.parse(candidate);
    if (known === null || known.href !== candidate || !isLoopbackHttp(known)) return false;
    known.port = "";
    return known.href === url.href;
  });
}

/** What the consent page shows a person as the destination: the redirect URI's host. */
export function redirectHostOf(redirectUri: string): string {
  return URL.parse(redirectUri)?.hostname ?? redirectUri;
}
