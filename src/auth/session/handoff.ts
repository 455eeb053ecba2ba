/**
 * The per-host session handshake (DESIGN §5). A wiki host without a session sends the browser
 * once to the apex with a fresh state (also kept in a host-only cookie). The apex, if signed
 * in, answers with a one-time code bound to that state, which the wiki host redeems for its
 * own host-only session cookie; if not signed in, it says so (public wiki) or sends the
 * browser to sign in (private wiki). Plain fetch-style functions: the apex routes and the wiki
 * proxy both call them.
 */
import { resolveHost } from "../../http/host.ts";
import { randomSecret } from "../../lib/random.ts";
import { unixNow } from "../../lib/time.ts";
import type { Wiki, WikiStore } from "../../wikis/wiki-store.ts";
import { HANDOFF_STATE_PATTERN, type SessionService } from "./session.ts";
import {
  clearCookie,
  cookiePolicyFor,
  readCookie,
  serializeCookie,
  sessionOrigin,
} from "./session-cookie.ts";

export interface HandoffDeps {
  sessions: SessionService;
  wikis: WikiStore;
  publicUrl: URL;
}

/** The handshake state cookie outlives a slow sign-in page, not much more. */
const HANDOFF_STATE_MAX_AGE = 10 * 60;
/** How long a public wiki trusts "not signed in" before asking the apex again. */
export const CHECKED_MAX_AGE = 10 * 60;
/** Path of the handshake on both the apex and every wiki host. */
export const HANDOFF_PATH = "/auth/handoff";

const NO_STORE = { "cache-control": "no-store" };

export function wikiOrigin(publicUrl: URL, slug: string): string {
  return `${publicUrl.protocol}//${slug}.${publicUrl.host}`;
}

/**
 * A path on the same host to send the browser back to. Anything that is not a plain absolute
 * path ("//evil", "/\\evil", "https://…") becomes "/", so the handshake is no open redirect.
 */
export function safeReturnPath(raw: string | null): string {
  if (raw === null || !raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\"))
    return "/";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (/[\u0000-\u001f\u007f]/.test(raw)) return "/";
  // Percent-encode what a Location header cannot carry (non-ASCII), keeping the same host.
  const url = URL.parse(raw, SAME_HOST);
  if (url === null || url.origin !== SAME_HOST) return "/";
  return url.pathname + url.search;
}

const SAME_HOST = "http://same-host.invalid";

/**
 * Where to go after signing in: an absolute URL on one of our wiki hosts, or a path on the apex;
 * anything else (other hosts, "//evil", "javascript:") is dropped. completeSignIn checks again.
 * Every sign-in (Bluesky, GitHub, Google) keeps `return_to` through this one check.
 */
export function validReturnTo(deps: HandoffDeps, raw: string | null): string | null {
  if (raw === null || raw === "") return null;
  const wiki = resolveWikiUrl(deps, raw);
  if (wiki !== null) return `${wiki.origin}${wiki.path}`;
  if (raw.startsWith("/")) {
    const path = safeReturnPath(raw);
    return path === "/" && raw !== "/" ? null : path;
  }
  return null;
}

/** An absolute URL on one of our wiki hosts, split into the wiki and the path to return to. */
export function resolveWikiUrl(
  deps: HandoffDeps,
  raw: string | null,
): { wiki: Wiki; origin: string; path: string } | null {
  if (raw === null) return null;
  const url = URL.parse(raw);
  if (url === null || url.protocol !== deps.publicUrl.protocol) return null;
  if (url.username !== "" || url.password !== "") return null;
  const target = resolveHost(url.host, deps.publicUrl);
  if (target.kind !== "wiki") return null;
  const wiki = deps.wikis.findBySlug(target.slug);
  if (wiki === null) return null;
  return {
    wiki,
    origin: wikiOrigin(deps.publicUrl, wiki.slug),
    path: safeReturnPath(url.pathname + url.search),
  };
}

function redirect(location: string, cookies: string[] = []): Response {
  const headers = new Headers({ location, ...NO_STORE });
  for (const cookie of cookies) headers.append("set-cookie", cookie);
  return new Response(null, { status: 302, headers });
}

/** Where a visitor who must sign in goes; the sign-in page sends them back to `returnTo`. */
export function signInUrl(publicUrl: URL, returnTo: string): string {
  return `${sessionOrigin(publicUrl)}/auth/login?return_to=${encodeURIComponent(returnTo)}`;
}

/**
 * Wiki host → apex: asks the apex for a code for this browser. `login` makes the apex send a
 * visitor who is not signed in to the sign-in page even on a public wiki.
 */
export function bounceThroughApex(
  deps: Pick<HandoffDeps, "publicUrl">,
  wiki: Wiki,
  returnPath: string,
  options: { login: boolean; extraCookies?: string[] },
): Response {
  const policy = cookiePolicyFor(deps.publicUrl);
  const state = randomSecret(16);
  const returnTo = `${wikiOrigin(deps.publicUrl, wiki.slug)}${safeReturnPath(returnPath)}`;
  const query = new URLSearchParams({ return_to: returnTo, state });
  if (options.login) query.set("login", "1");
  return redirect(`${sessionOrigin(deps.publicUrl)}${HANDOFF_PATH}?${query}`, [
    serializeCookie("handoff-state", policy, state, HANDOFF_STATE_MAX_AGE),
    ...(options.extraCookies ?? []),
  ]);
}

/** GET {apex}/auth/handoff?return_to=<wiki URL>&state=…[&login=1] */
export function answerHandoffAtApex(deps: HandoffDeps, request: Request): Response {
  const policy = cookiePolicyFor(deps.publicUrl);
  const query = new URL(request.url).searchParams;
  const target = resolveWikiUrl(deps, query.get("return_to"));
  const state = query.get("state");
  if (target === null || state === null || !HANDOFF_STATE_PATTERN.test(state)) {
    return messagePage(400, "This sign-in link is not valid", "It names no wiki of ours.");
  }
  const token = readCookie(request, "apex-session", policy);
  const session =
    token === null ? null : deps.sessions.validateSessionToken(token, { kind: "apex" });
  const back = new URLSearchParams({ return_to: target.path });
  if (session !== null) {
    back.set("code", deps.sessions.createHandoffCode(session, target.wiki.id, state));
    return redirect(`${target.origin}${HANDOFF_PATH}?${back}`);
  }
  const cookies = token === null ? [] : [clearCookie("apex-session", policy)];
  if (!target.wiki.isPublic || query.get("login") === "1") {
    return redirect(signInUrl(deps.publicUrl, `${target.origin}${target.path}`), cookies);
  }
  back.set("anonymous", "1");
  back.set("state", state);
  return redirect(`${target.origin}${HANDOFF_PATH}?${back}`, cookies);
}

/** GET {wiki}/auth/handoff?code=…&return_to=… or ?anonymous=1&state=…&return_to=… */
export function answerHandoffAtWiki(deps: HandoffDeps, wiki: Wiki, request: Request): Response {
  const policy = cookiePolicyFor(deps.publicUrl);
  const query = new URL(request.url).searchParams;
  const returnPath = safeReturnPath(query.get("return_to"));
  const state = readCookie(request, "handoff-state", policy);
  const spent = clearCookie("handoff-state", policy);
  const code = query.get("code");
  if (code !== null) {
    const issued = deps.sessions.redeemHandoffCode(code, wiki.id, state);
    if (issued === null) {
      return messagePage(
        400,
        "This sign-in link has expired",
        "It was used already, is more than a minute old, or was opened in another browser.",
        returnPath,
        [spent],
      );
    }
    return redirect(returnPath, [
      spent,
      clearCookie("checked", policy),
      serializeCookie("wiki-session", policy, issued.token, issued.session.expiresAt - unixNow()),
    ]);
  }
  if (query.get("anonymous") === "1" && state !== null && query.get("state") === state) {
    return redirect(returnPath, [spent, serializeCookie("checked", policy, "1", CHECKED_MAX_AGE)]);
  }
  return messagePage(400, "This sign-in link is not valid", "", returnPath, [spent]);
}

/** GET {apex}/auth/logout[?return_to=…]: ends the apex session and every wiki-host session. */
export function answerLogoutAtApex(deps: HandoffDeps, request: Request): Response {
  const policy = cookiePolicyFor(deps.publicUrl);
  const token = readCookie(request, "apex-session", policy);
  const session =
    token === null ? null : deps.sessions.validateSessionToken(token, { kind: "apex" });
  if (session !== null) deps.sessions.invalidateSession(session.id);
  const raw = new URL(request.url).searchParams.get("return_to");
  const target = resolveWikiUrl(deps, raw);
  const location = target === null ? "/" : `${target.origin}${target.path}`;
  return redirect(location, [clearCookie("apex-session", policy)]);
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (char) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[char] ?? "",
  );
}

function messagePage(
  status: number,
  title: string,
  detail: string,
  continuePath?: string,
  cookies: string[] = [],
): Response {
  const link =
    continuePath === undefined
      ? ""
      : `<p><a href="${escapeHtml(continuePath)}">Continue to the wiki</a></p>`;
  const headers = new Headers({ "content-type": "text/html; charset=utf-8", ...NO_STORE });
  for (const cookie of cookies) headers.append("set-cookie", cookie);
  return new Response(
    `<!doctype html><meta charset="utf-8"><title>${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1><p>${escapeHtml(detail)}</p>${link}`,
    { status, headers },
  );
}
