/**
 * Sign in with GitHub (arctic) against a local stand-in speaking GitHub's OAuth endpoints,
 * pointed at by GITHUB_OAUTH_BASE_URL / GITHUB_API_BASE_URL. A GitHub identity is only ever a
 * second way into an account that exists: a signed-in person links it, then it signs that same
 * person in; an unlinked one signs nobody in and creates nothing. Every refusal ends on a page.
 * Driven with fetch and a cookie jar, as a browser would follow the redirects.
 */
import {
  afterAll,
  beforeAll,
  describe,
  expect,
  setDefaultTimeout,
  setSystemTime,
  test,
} from "bun:test";
import {
  type GitHubStandin,
  type GitHubUser,
  startGitHubStandin,
} from "./support/github-standin.ts";
import { startGoogleStandin } from "./support/google-standin.ts";
import { addUser, startTestServer, type TestServer } from "./support/server.ts";
import { CookieJar, signIn } from "./support/session.ts";

// Each user is made by the admin CLI, a child process; the 5 s default is too short on 2 cores.
setDefaultTimeout(60_000);

let standin: GitHubStandin;
let t: TestServer;
/** 127.0.0.1:{port}: the session origin, where the callback lands and the apex session lives. */
let apex: string;
let githubIds = 1000;

/** A GitHub account nobody has used yet in this file. */
function newGitHubUser(login: string): GitHubUser {
  githubIds += 1;
  return { id: githubIds, login };
}

beforeAll(async () => {
  standin = startGitHubStandin();
  t = await startTestServer({
    ATPROTO_ALLOW_LOOPBACK_HTTP: "true",
    GITHUB_CLIENT_ID: standin.clientId,
    GITHUB_CLIENT_SECRET: standin.clientSecret,
    GITHUB_OAUTH_BASE_URL: standin.url,
    GITHUB_API_BASE_URL: standin.url,
  });
  apex = `http://127.0.0.1:${t.port}`;
  standin.registerCallback(`${apex}/auth/github/callback`);
  for (const name of ["alice", "bob", "carol", "dave", "erin"]) await addUser(t, name);
});

afterAll(async () => {
  await t?.close();
  await standin?.stop();
});

function jarOf(username: string | null): CookieJar {
  return new CookieJar(username === null ? [] : [signIn(t, username).apexCookie]);
}

let clients = 0;
/**
 * A form post from our own page (Origin = the session origin), as the browser sends it. Each
 * comes from its own client address (X-Forwarded-For, as our Caddy sets it), so the many starts
 * of this file stay under the per-client limit, which has its own test.
 */
async function post(
  path: string,
  jar: CookieJar,
  headers: Record<string, string> = {
    origin: apex,
    "x-forwarded-for": `192.0.2.${(clients++ % 250) + 1}`,
  },
): Promise<Response> {
  const response = await fetch(`${apex}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      cookie: jar.header(),
      ...headers,
    },
    body: "",
    redirect: "manual",
  });
  jar.store(response);
  return response;
}

/** Follows our redirect to the stand-in, which approves and sends the browser back. */
async function throughGitHub(started: Response): Promise<string> {
  expect(started.status).toBe(302);
  const authorize = started.headers.get("location") ?? "";
  expect(authorize.startsWith(`${standin.url}/login/oauth/authorize?`)).toBe(true);
  const answered = await fetch(authorize, { redirect: "manual" });
  expect(answered.status).toBe(302);
  const back = answered.headers.get("location") ?? "";
  expect(back.startsWith(`${apex}/auth/github/callback?`)).toBe(true);
  return back;
}

async function get(url: string, jar: CookieJar): Promise<Response> {
  const response = await fetch(url, { headers: { cookie: jar.header() }, redirect: "manual" });
  jar.store(response);
  return response;
}

async function link(jar: CookieJar, who: GitHubUser): Promise<Response> {
  standin.signInAs(who);
  return get(await throughGitHub(await post("/auth/link/github", jar)), jar);
}

async function loginWithGitHub(jar: CookieJar, who: GitHubUser): Promise<Response> {
  standin.signInAs(who);
  return get(await throughGitHub(await post("/auth/github/login", jar)), jar);
}

/** Asserts an HTML page (never JSON) with this status that says `words`. */
async function expectPage(response: Response, status: number, words: string): Promise<string> {
  const html = await response.text();
  expect({ status: response.status, type: response.headers.get("content-type") }).toEqual({
    status,
    type: "text/html; charset=utf-8",
  });
  expect(html).toContain(words);
  // No stack trace or JSON error leaks into the page.
  expect(html).not.toMatch(/\bat .+:\d+:\d+|"error":/);
  return html;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON answers; every field read is checked by an expect
async function me(jar: CookieJar): Promise<{ status: number; body: any }> {
  const response = await fetch(`${apex}/api/me`, { headers: { cookie: jar.header() } });
  return { status: response.status, body: await response.json() };
}

function userCount(): number {
  return (
    t.server.db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM users").get()?.n ?? Number.NaN
  );
}

function linkOwner(who: GitHubUser): string | null {
  return (
    t.server.db
      .query<{ username: string }, [string]>(
        `SELECT users.username FROM identity_links JOIN users ON users.id = identity_links.user_id
         WHERE provider = 'github' AND subject = ?`,
      )
      .get(String(who.id))?.username ?? null
  );
}

describe("linking GitHub, then signing in with it", () => {
  test("a signed-in user links GitHub from the app; GitHub then signs in that same user", async () => {
    const alice = jarOf("alice");
    const aliceGitHub = newGitHubUser("alice-gh");
    const started = await post("/auth/link/github", alice);
    // The authorization request GitHub sees: our client, our callback, the state we bound.
    const location = new URL(started.headers.get("location") ?? "");
    expect(location.searchParams.get("client_id")).toBe(standin.clientId);
    expect(location.searchParams.get("redirect_uri")).toBe(`${apex}/auth/github/callback`);
    expect(location.searchParams.get("state")).toMatch(/^pstate_[a-z0-9]{16}\.[\w-]{43}$/);
    expect(alice.get("wb_provider_state")).toBe(location.searchParams.get("state") ?? "");
    standin.signInAs(aliceGitHub);
    const linked = await get(await throughGitHub(started), alice);
    expect(linked.status).toBe(302);
    expect(linked.headers.get("location")).toBe(`${apex}/app/?linked=github`);
    // The state cookie is gone once used.
    expect(alice.get("wb_provider_state")).toBeUndefined();
    expect(linkOwner(aliceGitHub)).toBe("alice");

    const listed = await me(alice);
    expect(listed.body.sign_in_methods).toEqual([
      {
        provider: "github",
        name: "GitHub",
        linked: { label: "alice-gh", linked_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      },
    ]);

    // A fresh browser with no session: GitHub signs Alice in.
    const browser = jarOf(null);
    const users = userCount();
    const signedIn = await loginWithGitHub(browser, aliceGitHub);
    expect(signedIn.status).toBe(302);
    expect(signedIn.headers.get("location")).toBe(`${apex}/app/`);
    expect(browser.get("wb_session")).toMatch(/^sess_/);
    const who = await me(browser);
    expect(who.status).toBe(200);
    expect(who.body.user.username).toBe("alice");
    expect(userCount()).toBe(users);
    const used = t.server.db
      .query<{ last_used_at: number | null }, [string]>(
        "SELECT last_used_at FROM identity_links WHERE provider = 'github' AND subject = ?",
      )
      .get(String(aliceGitHub.id));
    expect(used?.last_used_at).toBeGreaterThan(0);
  });

  test("a GitHub sign-in keeps a return_to on one of our hosts and drops a foreign one", async () => {
    const carol = jarOf("carol");
    const carolGitHub = newGitHubUser("carol-gh");
    expect((await link(carol, carolGitHub)).status).toBe(302);
    for (const [returnTo, expected] of [
      ["/app/wikis", `${apex}/app/wikis`],
      ["https://evil.example/", `${apex}/app/`],
    ] as const) {
      const browser = jarOf(null);
      standin.signInAs(carolGitHub);
      const started = await fetch(`${apex}/auth/github/login`, {
        method: "POST",
        headers: { origin: apex, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ return_to: returnTo }).toString(),
        redirect: "manual",
      });
      browser.store(started);
      const done = await get(await throughGitHub(started), browser);
      expect(done.status).toBe(302);
      expect(done.headers.get("location")).toBe(expected);
    }
  });

  test("an unlinked GitHub identity signs nobody in and creates no account", async () => {
    const browser = jarOf(null);
    const users = userCount();
    const refused = await loginWithGitHub(browser, newGitHubUser("stranger"));
    await expectPage(refused, 403, "is not linked to any wikibot account");
    expect(browser.get("wb_session")).toBeUndefined();
    expect(userCount()).toBe(users);
    expect((await me(browser)).status).toBe(401);
  });

  test("a GitHub identity linked to one user cannot be linked to another", async () => {
    const daveGitHub = newGitHubUser("dave-gh");
    expect((await link(jarOf("dave"), daveGitHub)).status).toBe(302);
    const bob = jarOf("bob");
    const refused = await link(bob, daveGitHub);
    await expectPage(refused, 409, "already linked to another wikibot account");
    expect(linkOwner(daveGitHub)).toBe("dave");
    expect((await me(bob)).body.sign_in_methods[0].linked).toBeNull();
  });

  test("linking a second GitHub account replaces the first", async () => {
    const erin = jarOf("erin");
    const first = newGitHubUser("erin-old");
    const second = newGitHubUser("erin-new");
    expect((await link(erin, first)).status).toBe(302);
    expect((await link(erin, second)).status).toBe(302);
    expect(linkOwner(first)).toBeNull();
    expect(linkOwner(second)).toBe("erin");
    await expectPage(await loginWithGitHub(jarOf(null), first), 403, "is not linked");
  });

  test("a link finishes only in the session that started it", async () => {
    const bob = jarOf("bob");
    standin.signInAs(newGitHubUser("bob-gh"));
    const back = await throughGitHub(await post("/auth/link/github", bob));
    // The same browser, now signed in as someone else.
    const swapped = new CookieJar([
      `wb_provider_state=${bob.get("wb_provider_state")}`,
      signIn(t, "carol").apexCookie,
    ]);
    await expectPage(await get(back, swapped), 403, "no longer signed in as the person");
    expect((await me(bob)).body.sign_in_methods[0].linked).toBeNull();
  });
});

describe("unlinking", () => {
  test("DELETE /api/me/links/github unlinks; GitHub then no longer signs in", async () => {
    const bob = jarOf("bob");
    const bobGitHub = newGitHubUser("bob-unlink");
    expect((await link(bob, bobGitHub)).status).toBe(302);
    expect((await loginWithGitHub(jarOf(null), bobGitHub)).status).toBe(302);
    const remove = (jar: CookieJar, headers: Record<string, string> = { origin: apex }) =>
      fetch(`${apex}/api/me/links/github`, {
        method: "DELETE",
        headers: { cookie: jar.header(), ...headers },
      });
    // Cross-site and unauthenticated deletes are refused by the management API's guard.
    expect((await remove(bob, { origin: "https://evil.example" })).status).toBe(403);
    expect((await remove(jarOf(null))).status).toBe(401);
    expect(linkOwner(bobGitHub)).toBe("bob");
    const removed = await remove(bob);
    expect(removed.status).toBe(200);
    expect(await removed.json()).toEqual({ unlinked: "github" });
    expect(linkOwner(bobGitHub)).toBeNull();
    const again = await remove(bob);
    expect(again.status).toBe(404);
    expect((await again.json()).error.code).toBe("not_found");
    expect((await me(bob)).body.sign_in_methods).toEqual([
      { provider: "github", name: "GitHub", linked: null },
    ]);
    await expectPage(await loginWithGitHub(jarOf(null), bobGitHub), 403, "is not linked");
  });
});

describe("refusals end on a page", () => {
  test("a replayed callback is refused: each state works once", async () => {
    const aliceGitHub = newGitHubUser("alice-replay");
    const alice = jarOf("alice");
    expect((await link(alice, aliceGitHub)).status).toBe(302);
    const browser = jarOf(null);
    standin.signInAs(aliceGitHub);
    const back = await throughGitHub(await post("/auth/github/login", browser));
    const stateCookie = browser.get("wb_provider_state") ?? "";
    expect((await get(back, browser)).status).toBe(302);
    const replay = new CookieJar([`wb_provider_state=${stateCookie}`]);
    await expectPage(await get(back, replay), 400, "has expired");
    expect(replay.get("wb_session")).toBeUndefined();
  });

  test("a wrong, missing or foreign state is refused", async () => {
    const browser = jarOf(null);
    standin.signInAs(newGitHubUser("state-tester"));
    const back = new URL(await throughGitHub(await post("/auth/github/login", browser)));
    const state = back.searchParams.get("state") ?? "";
    const tampered = new URL(back);
    tampered.searchParams.set(
      "state",
      `${state.slice(0, -2)}${state.endsWith("AA") ? "BB" : "AA"}`,
    );
    await expectPage(await get(tampered.href, browser), 400, "was started elsewhere");
    const missing = new URL(back);
    missing.searchParams.delete("state");
    await expectPage(await get(missing.href, browser), 400, "not complete");
    // Another browser (no state cookie) cannot finish it: no login CSRF.
    await expectPage(await get(back.href, jarOf(null)), 400, "was started elsewhere");
    await expectPage(await get(back.href, jarOf("bob")), 400, "was started elsewhere");
  });

  test("a state older than 10 minutes is refused", async () => {
    const aliceGitHub = newGitHubUser("alice-late");
    expect((await link(jarOf("alice"), aliceGitHub)).status).toBe(302);
    const browser = jarOf(null);
    standin.signInAs(aliceGitHub);
    const back = await throughGitHub(await post("/auth/github/login", browser));
    setSystemTime(new Date(Date.now() + 11 * 60 * 1000));
    try {
      await expectPage(await get(back, browser), 400, "has expired");
    } finally {
      setSystemTime();
    }
    expect(browser.get("wb_session")).toBeUndefined();
  });

  test("access denied at GitHub ends on a page that says so", async () => {
    const alice = jarOf("alice");
    const tokensBefore = standin.tokensIssued();
    standin.denyNext();
    const back = await throughGitHub(await post("/auth/link/github", alice));
    expect(new URL(back).searchParams.get("error")).toBe("access_denied");
    await expectPage(await get(back, alice), 403, "Sign-in cancelled");
    // Nothing was exchanged, and the state is spent.
    expect(standin.tokensIssued()).toBe(tokensBefore);
    expect(alice.get("wb_provider_state")).toBeUndefined();
  });

  test("the token exchange failing (GitHub answers 500) ends on a page", async () => {
    const aliceGitHub = newGitHubUser("alice-500");
    expect((await link(jarOf("alice"), aliceGitHub)).status).toBe(302);
    const browser = jarOf(null);
    standin.signInAs(aliceGitHub);
    const back = await throughGitHub(await post("/auth/github/login", browser));
    standin.failTokenNext(500);
    await expectPage(await get(back, browser), 502, "could not confirm the sign-in with GitHub");
    expect(browser.get("wb_session")).toBeUndefined();
  });

  test("a spent code (GitHub's 200 bad_verification_code) or an unreadable user ends on a page", async () => {
    const aliceGitHub = newGitHubUser("alice-spent");
    expect((await link(jarOf("alice"), aliceGitHub)).status).toBe(302);
    standin.spoilNextCode();
    const spent = jarOf(null);
    await expectPage(await loginWithGitHub(spent, aliceGitHub), 502, "could not confirm");
    expect(spent.get("wb_session")).toBeUndefined();
    standin.failUserNext();
    const unread = jarOf(null);
    await expectPage(await loginWithGitHub(unread, aliceGitHub), 502, "could not read your GitHub");
    expect(unread.get("wb_session")).toBeUndefined();
    // And the next attempt works again.
    expect((await loginWithGitHub(jarOf(null), aliceGitHub)).status).toBe(302);
  });

  test("a cross-site POST to /auth/link/github is refused", async () => {
    const alice = jarOf("alice");
    const attempts: Record<string, string>[] = [
      { origin: "https://evil.example" },
      { origin: "null" },
      { "sec-fetch-site": "cross-site" },
    ];
    for (const headers of attempts) {
      const refused = await post("/auth/link/github", alice, headers);
      await expectPage(refused, 403, "came from another site");
      expect(refused.headers.get("location")).toBeNull();
    }
  });

  test("starts are limited per client: past the burst, a page says to wait", async () => {
    // Behind our Caddy the client is the X-Forwarded-For address (request-context.ts).
    const from = (address: string) => ({ origin: apex, "x-forwarded-for": address });
    for (let attempt = 0; attempt < 20; attempt++)
      expect((await post("/auth/github/login", jarOf(null), from("198.51.100.4"))).status).toBe(
        302,
      );
    const refused = await post("/auth/github/login", jarOf(null), from("198.51.100.4"));
    await expectPage(refused, 429, "Too many sign-in attempts");
    expect(refused.headers.get("location")).toBeNull();
    expect((await post("/auth/github/login", jarOf(null), from("198.51.100.5"))).status).toBe(302);
  });

  test("POST /auth/link/github without a session is refused", async () => {
    const refused = await post("/auth/link/github", jarOf(null));
    await expectPage(refused, 401, "Sign in first");
    expect(refused.headers.get("location")).toBeNull();
    const tampered = await post("/auth/link/github", new CookieJar(["wb_session=sess_forged"]));
    await expectPage(tampered, 401, "Sign in first");
  });

  test("a provider that is not configured answers 404 pages", async () => {
    // Google has no client id here.
    await expectPage(await post("/auth/google/login", jarOf(null)), 404, "not available here");
    await expectPage(await post("/auth/link/google", jarOf("alice")), 404, "not available here");
    await expectPage(
      await get(`${apex}/auth/google/callback?state=x`, jarOf(null)),
      404,
      "not available",
    );
  });

  test("the sign-in page offers GitHub next to Bluesky", async () => {
    const page = await (await fetch(`${apex}/auth/login?return_to=/app/wikis`)).text();
    expect(page).toContain('<form method="post" action="/auth/github/login">');
    expect(page).toContain("Sign in with GitHub");
    expect(page).toContain('name="return_to" value="/app/wikis"');
    expect(page).not.toContain("Sign in with Google");
  });
});

describe("without GitHub configured", () => {
  let plain: TestServer;
  let plainApex: string;
  beforeAll(async () => {
    plain = await startTestServer();
    plainApex = `http://127.0.0.1:${plain.port}`;
    await addUser(plain, "olive");
  });
  afterAll(async () => {
    await plain?.close();
  });

  test("no routes, no buttons and no sign-in methods", async () => {
    const started = await fetch(`${plainApex}/auth/github/login`, {
      method: "POST",
      headers: { origin: plainApex, "content-type": "application/x-www-form-urlencoded" },
      body: "",
      redirect: "manual",
    });
    expect(started.status).toBe(404);
    await started.arrayBuffer();
    const page = await (await fetch(`${plainApex}/auth/login`)).text();
    expect(page).toContain("Sign in with Bluesky");
    expect(page).not.toContain("Sign in with GitHub");
    expect(page).not.toContain("/auth/github/login");
    const olive = signIn(plain, "olive");
    const listed = await fetch(`${plainApex}/api/me`, { headers: { cookie: olive.apexCookie } });
    expect(listed.status).toBe(200);
    expect((await listed.json()).sign_in_methods).toEqual([]);
  });
});

describe("Google (OpenID Connect with PKCE)", () => {
  const google = startGoogleStandin();
  let g: TestServer;
  let gApex: string;
  beforeAll(async () => {
    g = await startTestServer({
      ATPROTO_ALLOW_LOOPBACK_HTTP: "true",
      GOOGLE_CLIENT_ID: google.clientId,
      GOOGLE_CLIENT_SECRET: google.clientSecret,
      GOOGLE_OAUTH_BASE_URL: google.url,
      GOOGLE_API_BASE_URL: google.url,
    });
    gApex = `http://127.0.0.1:${g.port}`;
    google.registerCallback(`${gApex}/auth/google/callback`);
    await addUser(g, "gwen");
  });
  afterAll(async () => {
    await g?.close();
    await google.stop();
  });

  /** Our start → the stand-in → our callback, in one browser jar. */
  async function roundTrip(path: string, jar: CookieJar): Promise<Response> {
    const started = await fetch(`${gApex}${path}`, {
      method: "POST",
      headers: {
        origin: gApex,
        "content-type": "application/x-www-form-urlencoded",
        cookie: jar.header(),
      },
      body: "",
      redirect: "manual",
    });
    jar.store(started);
    expect(started.status).toBe(302);
    const authorize = new URL(started.headers.get("location") ?? "");
    expect(authorize.origin).toBe(google.url);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("scope")).toBe("openid email");
    const answered = await fetch(authorize, { redirect: "manual" });
    const back = answered.headers.get("location") ?? "";
    expect(back.startsWith(`${gApex}/auth/google/callback?code=`)).toBe(true);
    const done = await fetch(back, { headers: { cookie: jar.header() }, redirect: "manual" });
    jar.store(done);
    return done;
  }

  test("links a Google account with PKCE, which then signs the same user in", async () => {
    google.signInAs({ sub: "109876543210987654321", email: "gwen@example.com" });
    const gwen = new CookieJar([signIn(g, "gwen").apexCookie]);
    const linked = await roundTrip("/auth/link/google", gwen);
    expect(linked.headers.get("location")).toBe(`${gApex}/app/?linked=google`);
    const listed = await fetch(`${gApex}/api/me`, { headers: { cookie: gwen.header() } });
    expect((await listed.json()).sign_in_methods).toEqual([
      {
        provider: "google",
        name: "Google",
        linked: { label: "gwen@example.com", linked_at: expect.any(String) },
      },
    ]);
    const browser = new CookieJar();
    const signedIn = await roundTrip("/auth/google/login", browser);
    expect(signedIn.headers.get("location")).toBe(`${gApex}/app/`);
    const who = await fetch(`${gApex}/api/me`, { headers: { cookie: browser.header() } });
    expect((await who.json()).user.username).toBe("gwen");
    expect(google.verifierRefusals()).toBe(0);
    // GitHub is not configured on this instance.
    const github = await fetch(`${gApex}/auth/github/login`, {
      method: "POST",
      headers: { origin: gApex, "content-type": "application/x-www-form-urlencoded" },
      body: "",
    });
    expect(github.status).toBe(404);
    await github.arrayBuffer();
  });
});
