/**
 * Browser sessions for tests, made exactly as the Bluesky login will make them: through
 * `completeSignIn`, the function its callback calls. Also a minimal cookie jar and the
 * per-host handshake driven with fetch, for tests that do not need a real browser.
 */
import { completeSignIn } from "../../src/auth/session/sign-in.ts";
import type { TestServer } from "./server.ts";

export interface SignedIn {
  /** The apex session cookie as `name=value`. */
  apexCookie: string;
  name: string;
  value: string;
  /** The origin that holds it (127.0.0.1 in loopback development, see sessionOrigin). */
  origin: string;
}

/** Signs `username` in (the user must exist) and returns the apex session cookie. */
export function signIn(t: TestServer, username: string): SignedIn {
  const user = t.server.db
    .query<{ id: number }, [string]>("SELECT id FROM users WHERE username = ?")
    .get(username);
  if (user === null) throw new Error(`no user ${username}`);
  const response = completeSignIn(t.server.browserSessions, user.id, null);
  const setCookie = response.headers.getSetCookie()[0];
  if (setCookie === undefined) throw new Error("completeSignIn set no cookie");
  const pair = setCookie.split(";")[0] ?? "";
  const separator = pair.indexOf("=");
  return {
    apexCookie: pair,
    name: pair.slice(0, separator),
    value: pair.slice(separator + 1),
    origin: new URL(response.headers.get("location") ?? "").origin,
  };
}

/** Cookies by name for one host, fed from Set-Cookie headers (Max-Age=0 deletes). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  constructor(initial: string[] = []) {
    for (const pair of initial) this.setPair(pair);
  }

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";");
      if (attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute))) {
        this.cookies.delete(pair.slice(0, pair.indexOf("=")).trim());
      } else {
        this.setPair(pair);
      }
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  private setPair(pair: string): void {
    const separator = pair.indexOf("=");
    if (separator > 0) this.cookies.set(pair.slice(0, separator).trim(), pair.slice(separator + 1));
  }
}

/** What Chromium sends on a top-level navigation; the wiki host bounces only those. */
export const NAVIGATION_HEADERS = { "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" };

/**
 * Runs the per-host handshake with fetch, as a browser would: wiki host → apex (with the apex
 * cookie) → wiki host with a one-time code. Returns the wiki host's cookie jar.
 */
export async function wikiSession(t: TestServer, slug: string, who: SignedIn): Promise<CookieJar> {
  const wikiJar = new CookieJar();
  const apexJar = new CookieJar([who.apexCookie]);
  let url = `${t.wikiOrigin(slug)}/`;
  for (let hop = 0; hop < 6; hop++) {
    const onWiki = new URL(url).host !== new URL(who.origin).host;
    const jar = onWiki ? wikiJar : apexJar;
    const response = await fetch(url, {
      headers: { ...NAVIGATION_HEADERS, cookie: jar.header() },
      redirect: "manual",
    });
    jar.store(response);
    const location = response.headers.get("location");
    if (response.status !== 302 || location === null) {
      await response.arrayBuffer();
      return wikiJar;
    }
    url = new URL(location, url).href;
  }
  throw new Error("the handshake did not settle");
}
