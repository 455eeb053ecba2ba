/**
 * Sign in with Bluesky end to end: our server (loopback development client, PUBLIC_URL on
 * localhost) against a real local PLC + PDS, driven in headless Chromium through the PDS's own
 * sign-in and consent pages. New people choose a username; known DIDs go straight in with their
 * handle and display name refreshed; the session then works on wiki hosts through the per-host
 * handshake. And every way it can go wrong ends on a page that says so.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { OAuthGrantStore } from "../src/auth/oauth-grant-store.ts";
import { UserStore } from "../src/auth/user-store.ts";
import { WikiTokenStore } from "../src/auth/wiki-token.ts";
import { grantRole } from "../src/wikis/members.ts";
import { PendingGrantStore } from "../src/wikis/pending-grant-store.ts";
import { OPERATOR } from "../src/wikis/use-case.ts";
import { WikiStore } from "../src/wikis/wiki-store.ts";
import { launchChromium } from "./support/browser.ts";
import { type LocalPds, localPdsEnv, startLocalPds } from "./support/pds.ts";
import { addUser, startTestServer, type TestServer } from "./support/server.ts";

// Starts real processes (PDS under Node 22, server, Otterwiki, Chromium) on 2 shared cores.
setDefaultTimeout(120_000);

const PASSWORD = "correct horse battery";

let pds: LocalPds;
let t: TestServer;
let browser: Browser;
/** 127.0.0.1:{port}: where the loopback client's callback lands and the apex session lives. */
let apex: string;
const accounts: Record<string, { did: string; handle: string }> = {};

beforeAll(async () => {
  [pds, browser] = await Promise.all([startLocalPds(), launchChromium()]);
  t = await startTestServer({
    ...localPdsEnv(pds),
  });
  apex = `http://127.0.0.1:${t.port}`;
  for (const [name, displayName, avatar] of [
    ["alice", "Alice Example", false],
    ["bob", "Bob", false],
    ["carol", undefined, false],
    ["dave", "Dave Display", true],
    ["erin", "Erin", false],
    ["gina", "Gina", false],
  ] as const) {
    accounts[name] = await pds.createAccount({ name, password: PASSWORD, displayName, avatar });
  }
  await addUser(t, "olive", { displayName: "Olive Owner" });
  await t.adminJson("create-wiki", "--slug", "openwiki", "--owner", "olive", "--public");
  await t.adminJson("create-wiki", "--slug", "lab", "--owner", "olive", "--name", "The Lab");
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await pds?.stop();
});

function account(name: string): { did: string; handle: string } {
  const found = accounts[name];
  if (found === undefined) throw new Error(`no account ${name}`);
  return found;
}

/** Our sign-in form → the PDS's password page → its consent page, as a person clicks them. */
async function throughPds(
  page: Page,
  handle: string,
  consent: "authorize" | "deny",
): Promise<{ callbackUrl: string | null; callbackToLandedMs: number }> {
  let callbackUrl: string | null = null;
  let callbackAt = 0;
  page.on("request", (request) => {
    if (!request.url().startsWith(`${apex}/auth/callback`)) return;
    callbackUrl = request.url();
    callbackAt = performance.now();
  });
  await page.locator("#handle").fill(handle);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.host === new URL(pds.pdsUrl).host);
  await page.locator("input[name=password]").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  const button = consent === "authorize" ? "Authorize" : "Deny access";
  await page.getByRole("button", { name: button }).click();
  // Back on our side: a redirect on success, a page at /auth/callback itself on failure.
  await page.waitForURL((url) => url.host === new URL(apex).host);
  return { callbackUrl, callbackToLandedMs: performance.now() - callbackAt };
}

async function freshPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  return { context, page: await context.newPage() };
}

function userRow(did: string) {
  return t.server.db
    .query<
      { username: string; handle: string; display_name: string; avatar_url: string | null },
      [string]
    >("SELECT username, handle, display_name, avatar_url FROM users WHERE did = ?")
    .get(did);
}

describe("a new person", () => {
  test("signs in with their handle, consents on their PDS, picks a username and lands where they were going, signed in", async () => {
    const { context, page } = await freshPage();
    const wikiPage = `${t.wikiOrigin("openwiki")}/Home`;
    await page.goto(`${t.origin}/auth/login?return_to=${encodeURIComponent(wikiPage)}`);
    // The loopback client's callback is on 127.0.0.1, so the sign-in starts there too.
    expect(new URL(page.url()).host).toBe(new URL(apex).host);
    await throughPds(page, "@Alice.test", "authorize");
    expect(new URL(page.url()).pathname).toBe("/auth/signup");
    expect(await page.locator("h1").textContent()).toBe("Welcome, Alice Example (@alice.test)");
    expect(await page.locator("#username").inputValue()).toBe("alice");
    await page.getByRole("button", { name: "Create my account" }).click();
    await page.waitForURL(wikiPage);
    expect(await page.locator("#wikibot-account").textContent()).toBe("Sign out");
    expect(userRow(account("alice").did)).toEqual({
      username: "alice",
      handle: "alice.test",
      display_name: "Alice Example",
      avatar_url: null,
    });
    const apexCookies = await context.cookies(apex);
    expect(apexCookies.map((cookie) => cookie.name).sort()).toEqual(["wb_session"]);
    // We keep no PDS session and no finished authorization request.
    const left = t.server.db
      .query<{ n: number }, []>(
        "SELECT (SELECT COUNT(*) FROM atproto_oauth_sessions) + (SELECT COUNT(*) FROM pending_signups) AS n",
      )
      .get();
    expect(left?.n).toBe(0);

    // Granted a role afterwards, they edit the private wiki in the same browser.
    await t.adminJson("grant", "--wiki", "lab", "--user", "alice", "--role", "editor");
    const lab = await page.goto(`${t.wikiOrigin("lab")}/Home`);
    expect(lab?.status()).toBe(200);
    expect(page.url()).toBe(`${t.wikiOrigin("lab")}/Home`);
    expect(await page.textContent("body")).toContain("Welcome to The Lab");
    expect(await page.locator("#edit-page-btn").count()).toBe(1);
    await context.close();
  });

  test("is asked again, with the reason, for a taken, reserved or malformed username", async () => {
    await addUser(t, "bob"); // someone else already has "bob"
    const { context, page } = await freshPage();
    await page.goto(`${apex}/auth/login`);
    await throughPds(page, "bob.test", "authorize");
    expect(await page.locator("#username").inputValue()).toBe("bob");
    const attempts: [string, string][] = [
      ["bob", 'The username "bob" is taken. Choose another.'],
      ["admin", "reserved"],
      ["b", "must be 3–63 characters long"],
      ["Bob Smith!", "may contain only lowercase letters"],
    ];
    for (const [username, reason] of attempts) {
      // The server's own checks, not the browser's (minlength, required), are under test.
      await page.locator("form").evaluate((form) => form.setAttribute("novalidate", ""));
      await page.locator("#username").fill(username);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${apex}/auth/signup`),
        page.getByRole("button", { name: "Create my account" }).click(),
      ]);
      expect(response.status()).toBeGreaterThanOrEqual(400);
      expect(await page.locator("#username-error").textContent()).toContain(reason);
      expect(await page.locator("#username").getAttribute("aria-invalid")).toBe("true");
    }
    await page.locator("#username").fill("bob-two");
    await page.getByRole("button", { name: "Create my account" }).click();
    await page.waitForURL(`${apex}/app/`);
    expect(userRow(account("bob").did)?.username).toBe("bob-two");
    // The pending signup is spent: the form cannot make a second account.
    const again = await page.goto(`${apex}/auth/signup`);
    expect(again?.status()).toBe(400);
    expect(await page.locator("h1").textContent()).toBe("This sign-up has expired");
    await context.close();
  });
});

describe("roles granted before the first sign-in", () => {
  test("a role granted to a handle is theirs as soon as they sign up", async () => {
    // Through the same use case the management API and the admin CLI call.
    const db = t.server.db;
    const stores = {
      db,
      users: new UserStore(db),
      wikis: new WikiStore(db),
      tokens: new WikiTokenStore(db),
      pendingGrants: new PendingGrantStore(db),
      oauthGrants: new OAuthGrantStore(db),
    };
    grantRole(stores, OPERATOR, "lab", { kind: "handle", handle: "gina.test" }, "viewer");
    const { context, page } = await freshPage();
    await page.goto(
      `${apex}/auth/login?return_to=${encodeURIComponent(`${t.wikiOrigin("lab")}/Home`)}`,
    );
    await throughPds(page, "gina.test", "authorize");
    await page.getByRole("button", { name: "Create my account" }).click();
    await page.waitForURL(`${t.wikiOrigin("lab")}/Home`);
    expect(await page.textContent("body")).toContain("Welcome to The Lab");
    // A viewer: reads, cannot edit.
    expect(await page.locator("#edit-page-btn").count()).toBe(0);
    expect(stores.pendingGrants.listForPerson(account("gina").did, "gina.test")).toEqual([]);
    await context.close();
  });
});

describe("a known DID", () => {
  test("goes straight in, with its handle, display name and avatar refreshed from the network", async () => {
    const dave = account("dave");
    await t.adminJson(
      "create-user",
      ...["--username", "dave", "--did", dave.did, "--handle", "old-dave.bsky.social"],
      ...["--display-name", "Old Name"],
    );
    const { context, page } = await freshPage();
    await page.goto(`${apex}/auth/login?return_to=/health`);
    const { callbackToLandedMs } = await throughPds(page, "dave.test", "authorize");
    expect(page.url()).toBe(`${apex}/health`);
    // A figure, not an assertion (test/README.md): the callback's identity checks to the page.
    console.log(`figure: callback → landed signed in: ${Math.round(callbackToLandedMs)} ms`);
    const { avatar_url, ...named } = userRow(dave.did) ?? { avatar_url: null };
    expect(named).toEqual({ username: "dave", handle: "dave.test", display_name: "Dave Display" });
    // The avatar is the profile's blob on the PDS, which serves the picture itself.
    expect(avatar_url).toStartWith(
      `${pds.pdsUrl}/xrpc/com.atproto.sync.getBlob?did=${encodeURIComponent(dave.did)}&cid=b`,
    );
    const picture = await fetch(avatar_url ?? "");
    expect(picture.status).toBe(200);
    expect(new Uint8Array(await picture.arrayBuffer()).slice(1, 4)).toEqual(
      new TextEncoder().encode("PNG"),
    );
    await context.close();
  });
});

describe("failures end on a page that says what happened", () => {
  test("denied consent: not signed in, told so, with a way to try again", async () => {
    const { context, page } = await freshPage();
    await page.goto(`${apex}/auth/login`);
    const { callbackUrl } = await throughPds(page, "carol.test", "deny");
    expect(callbackUrl).toContain("error=access_denied");
    expect(await page.locator("h1").textContent()).toBe("Sign-in cancelled");
    expect(
      await page.getByRole("link", { name: "Try signing in again" }).getAttribute("href"),
    ).toBe("/auth/login");
    expect(await context.cookies(apex)).toEqual([]);
    expect(userRow(account("carol").did)).toBeNull();
    await context.close();
  });

  test("a replayed callback is refused, and a callback with the wrong iss too", async () => {
    const { context, page } = await freshPage();
    // Hold the callback back, as an attacker who copied it would, and send variants ourselves.
    // (The PDS's consent page navigates to /oauth/authorize/redirect, which carries the
    // response parameters and redirects to the callback with them; that navigation is stopped.)
    const held: { url: string | null } = { url: null };
    const redirectPath = (url: URL) =>
      url.origin === pds.pdsUrl && url.pathname === "/oauth/authorize/redirect";
    await context.route(redirectPath, async (route) => {
      const query = new URL(route.request().url()).searchParams;
      const callback = new URL(query.get("redirect_uri") ?? "");
      for (const name of ["state", "iss", "code"])
        callback.searchParams.set(name, query.get(name) ?? "");
      held.url = callback.href;
      await route.abort();
    });
    await page.goto(`${apex}/auth/login`);
    await page.locator("#handle").fill("erin.test");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("input[name=password]").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Authorize" }).click();
    for (let i = 0; i < 100 && held.url === null; i++) await Bun.sleep(50);
    const original = held.url;
    if (original === null) throw new Error("the PDS never sent the browser back");
    const forged = new URL(original);
    expect(forged.searchParams.get("iss")).toBe(pds.pdsUrl);
    forged.searchParams.set("iss", "https://evil.example");
    const wrongIss = await fetch(forged);
    expect(wrongIss.status).toBe(400);
    expect(wrongIss.headers.get("content-type")).toStartWith("text/html");
    expect(await wrongIss.text()).toContain("The sign-in answer came from the wrong server");
    // The state was spent by the forged attempt: the genuine callback no longer works either.
    const replay = await fetch(original);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain("This sign-in link has expired");
    expect(replay.headers.getSetCookie()).toEqual([]);
    expect(userRow(account("erin").did)).toBeNull();
    await context.close();
  });

  test("a successful callback cannot be replayed", async () => {
    const { context, page } = await freshPage();
    await page.goto(`${apex}/auth/login`);
    const { callbackUrl } = await throughPds(page, "alice.test", "authorize");
    if (callbackUrl === null) throw new Error("no callback seen");
    const replay = await fetch(callbackUrl, { redirect: "manual" });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain("This sign-in link has expired");
    expect(replay.headers.getSetCookie()).toEqual([]);
    await context.close();
  });

  test("an unknown handle re-shows the form with the reason", async () => {
    const response = await postForm("/auth/login", { handle: "nobody.test" });
    expect(response.status).toBe(404);
    const html = await response.text();
    expect(html).toContain("We could not find the Bluesky account &quot;nobody.test&quot;");
    expect(html).toContain('value="nobody.test"');
  });

  test("a malformed handle re-shows the form without asking the network", async () => {
    const response = await postForm("/auth/login", { handle: "not a handle" });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("is not a Bluesky handle");
  });

  test("a callback without a sign-in request, or a signup without one, is a page, not JSON", async () => {
    for (const path of [
      "/auth/callback",
      "/auth/callback?code=x&state=nope&iss=x",
      "/auth/signup",
    ]) {
      const response = await fetch(`${apex}${path}`);
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(await response.text()).toContain("Try signing in again");
    }
  });

  test("a sign-in form posted from another site is refused", async () => {
    const response = await postForm(
      "/auth/login",
      { handle: "alice.test" },
      { origin: "https://evil.example" },
    );
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("This form came from another site");
  });
});

test("a loopback instance publishes no client metadata or JWKS (it is a public client)", async () => {
  for (const path of ["/auth/client-metadata.json", "/auth/jwks.json"]) {
    expect((await fetch(`${apex}${path}`)).status).toBe(404);
  }
});

describe("return_to", () => {
  test("a wiki URL of ours or an apex path is kept; anything off our hosts is dropped", async () => {
    const kept = [`${t.wikiOrigin("lab")}/Home`, "/app/wikis"];
    const dropped = [
      "https://evil.example/",
      "//evil.example/x",
      "/\\evil.example",
      "javascript:alert(1)",
      `http://lab.localhost.evil.example:${t.port}/`,
      `${t.wikiOrigin("no-such-wiki")}/`,
    ];
    for (const value of [...kept, ...dropped]) {
      const response = await fetch(`${apex}/auth/login?return_to=${encodeURIComponent(value)}`);
      const html = await response.text();
      const hidden = /name="return_to" value="([^"]*)"/.exec(html)?.[1] ?? null;
      expect([value, hidden]).toEqual([value, kept.includes(value) ? value : null]);
    }
  });
});

describe("the stores", () => {
  test("an authorization in flight is stored sealed: no verifier or DPoP key in the clear", async () => {
    const response = await postForm("/auth/login", { handle: "alice.test" });
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get("location") ?? "").origin).toBe(pds.pdsUrl);
    const rows = t.server.db
      .query<{ sealed: Uint8Array }, []>("SELECT sealed FROM atproto_oauth_states")
      .all();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const text = Buffer.from(row.sealed).toString("latin1");
      for (const clear of ["verifier", "dpopJwk", '"d"', pds.pdsUrl]) {
        expect(text.includes(clear)).toBe(false);
      }
    }
  });
});

describe("bounded work", () => {
  test("sign-in starts are limited per client: past the burst, the form says how long to wait", async () => {
    // Behind our Caddy the client is the X-Forwarded-For address (request-context.ts clientKeyOf).
    const from = (address: string) => ({ origin: apex, "x-forwarded-for": address });
    for (let attempt = 0; attempt < 20; attempt++) {
      const response = await postForm("/auth/login", { handle: "x" }, from("203.0.113.7"));
      expect(response.status).toBe(400);
    }
    const refused = await postForm("/auth/login", { handle: "alice.test" }, from("203.0.113.7"));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    const html = await refused.text();
    expect(html).toContain("Too many sign-in attempts from your network");
    expect(html).toContain('value="alice.test"');
    // Another client is not affected.
    const other = await postForm("/auth/login", { handle: "x" }, from("203.0.113.8"));
    expect(other.status).toBe(400);
  });
});

// Last: it stops the PDS the other tests share.
describe("when the person's Bluesky server is down", () => {
  test("signing in ends on the form, saying their server did not answer", async () => {
    await pds.stop();
    const { context, page } = await freshPage();
    await page.goto(`${apex}/auth/login`);
    await page.locator("#handle").fill("alice.test");
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${apex}/auth/login`),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
    expect(response.status()).toBe(502);
    expect(await page.locator("#handle-error").textContent()).toContain("did not answer");
    expect(await page.locator("#handle").inputValue()).toBe("alice.test");
    // The library stores its state before it pushes the request; that row expires within the
    // hour and is swept at the next sign-in (oauth-stores.ts), bounded by the rate limit.
    await context.close();
  });
});

async function postForm(
  path: string,
  fields: Record<string, string>,
  headers: Record<string, string> = { origin: "" },
): Promise<Response> {
  return fetch(`${apex}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(headers.origin === "" ? { origin: apex } : headers),
    },
    body: new URLSearchParams(fields),
  });
}
