/**
 * The landing page and the management app (`/app/`) in real headless Chromium against the real
 * server: how the assets are served (CSP, caching, the loopback redirect, no path escapes), the
 * signed-out view, and the app's flows checked where they take effect: the first token works on
 * /mcp, copied commands are exact, members and tokens change in the API, a viewer sees no owner
 * controls, and the whole create flow works from the keyboard alone.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium, signedInContext } from "./support/browser.ts";
import { accessTokenState, connectApp, grantState } from "./support/connected-app.ts";
import { startGitHubStandin } from "./support/github-standin.ts";
import { mcpInitializeStatus } from "./support/mcp.ts";
import { addUser, startTestServer, type TestServer, testDid } from "./support/server.ts";
import { type SignedIn, signIn } from "./support/session.ts";

// Starts real processes (server, Chromium, git for each new wiki); 5 s is too short on 2 cores.
setDefaultTimeout(120_000);

const EXPECTED_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' https: http: data:",
  "connect-src 'self'",
  // No GitHub or Google sign-in is configured here, so no provider is a form target.
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

let t: TestServer;
let browser: Browser;
let olive: SignedIn;
let vera: SignedIn;
/** The apex session origin: 127.0.0.1 in loopback development (sessionOrigin). */
let app: string;
/** Console messages about the CSP from every page opened: none may appear. */
const cspViolations: string[] = [];
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [t, browser] = await Promise.all([startTestServer(), launchChromium()]);
  app = `http://127.0.0.1:${t.port}`;
  await addUser(t, "olive", { displayName: "Olive Owner" });
  await addUser(t, "vera", { displayName: "Vera Viewer" });
  await addUser(t, "sam", { displayName: "Sam Sampler" });
  await addUser(t, "mallory", { displayName: '<img src=x onerror="window.pwned=1">Mallory' });
  await t.adminJson("create-wiki", "--slug", "shared-lab", "--owner", "olive", "--name", "Lab");
  await t.adminJson("grant", "--wiki", "shared-lab", "--user", "vera", "--role", "viewer");
  await t.adminJson("grant", "--wiki", "shared-lab", "--user", "mallory", "--role", "viewer");
  olive = signIn(t, "olive");
  vera = signIn(t, "vera");
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

/** A signed-in (or anonymous) browser on `path` of the app, clipboard allowed, confirms accepted. */
async function openApp(who: SignedIn | null, path = "/app/"): Promise<Page> {
  const context = who === null ? await browser.newContext() : await signedInContext(browser, who);
  contexts.push(context);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: app });
  const page = await context.newPage();
  page.on("console", (message) => {
    if (/content security policy/i.test(message.text())) cspViolations.push(message.text());
  });
  page.on("dialog", (dialog) => void dialog.accept());
  await page.goto(`${app}${path}`);
  await page.locator("main h1").first().waitFor();
  return page;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON answers; every field read is checked by an expect
async function apiAs(who: SignedIn, method: string, path: string, body?: unknown): Promise<any> {
  const headers: Record<string, string> = { cookie: who.apexCookie, origin: who.origin };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${who.origin}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const clipboard = (page: Page) => page.evaluate(() => navigator.clipboard.readText());

/** Presses Tab until `selector` has focus; fails after `limit` presses. */
async function tabTo(page: Page, selector: string, limit = 40): Promise<void> {
  for (let press = 0; press < limit; press++) {
    if (await page.locator(selector).evaluate((node) => node === document.activeElement)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`Tab never reached ${selector}`);
}

describe("serving", () => {
  test("the landing page explains the product and links to sign-in and the app", async () => {
    const response = await fetch(`${t.origin}/`);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-security-policy")).toBe(EXPECTED_CSP);
    expect(html).toContain('href="/auth/login"');
    expect(html).toContain("Sign in with Bluesky");
    expect(html).toContain('href="/app/"');
    expect(html).toMatch(/git clone/);
    expect(html).not.toMatch(/<script|<style|style=/i);
    const css = await fetch(`${t.origin}/landing.css`);
    expect(css.headers.get("content-type")).toStartWith("text/css");
    expect(await css.text()).toContain(".button");
  });

  test("/app/ on localhost redirects to the session origin, path and query kept", async () => {
    const response = await fetch(`${t.origin}/app/wikis/lab?x=1`, { redirect: "manual" });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe(`${app}/app/wikis/lab?x=1`);
    const bare = await fetch(`${app}/app`, { redirect: "manual" });
    expect(bare.status).toBe(302);
    expect(bare.headers.get("location")).toBe(`${app}/app/`);
  });

  test("the app's index is strict: CSP, no inline script or style, not cached stale", async () => {
    const response = await fetch(`${app}/app/`);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/html");
    expect(response.headers.get("content-security-policy")).toBe(EXPECTED_CSP);
    expect(response.headers.get("cache-control")).toBe("no-cache");
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((match) => match[0]);
    expect(scripts.length).toBe(1);
    for (const script of scripts) expect(script).toMatch(/ src="\/app\/assets\/[\w-]+\.js"/);
    expect(html).not.toMatch(/<script\b[^>]*>[^<]+<\/script>|<style|style=/i);
  });

  test("hashed assets are immutable and revalidate by ETag", async () => {
    const html = await (await fetch(`${app}/app/`)).text();
    const paths = [...html.matchAll(/(?:src|href)="(\/app\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(paths.some((path) => path?.endsWith(".js"))).toBe(true);
    expect(paths.some((path) => path?.endsWith(".css"))).toBe(true);
    for (const path of paths) {
      const response = await fetch(`${app}${path}`);
      await response.arrayBuffer();
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/(javascript|css)/);
      expect(response.headers.get("cache-control")).toContain("immutable");
      const etag = response.headers.get("etag") ?? "";
      expect(etag).not.toBe("");
      const again = await fetch(`${app}${path}`, { headers: { "if-none-match": etag } });
      expect(again.status).toBe(304);
    }
  });

  test("unknown assets are 404, nothing escapes, and any other /app path is the app", async () => {
    for (const path of [
      "/app/assets/nope.js",
      "/app/assets/..%2f..%2fpackage.json",
      "/app/assets/%2e%2e/%2e%2e/src/server.ts",
      "/app/assets/",
    ]) {
      const response = await fetch(`${app}${path}`);
      const text = await response.text();
      expect(response.status).toBe(404);
      expect(text).not.toContain("wikibot");
    }
    const route = await fetch(`${app}/app/wikis/x`);
    expect(route.status).toBe(200);
    expect(await route.text()).toContain('<main id="main"');
  });
});

describe("signed out", () => {
  test("the app offers Sign in with Bluesky that returns to the same page", async () => {
    const page = await openApp(null, "/app/wikis/shared-lab");
    const link = page.getByRole("link", { name: "Sign in with Bluesky" });
    expect(await link.getAttribute("href")).toBe(
      `/auth/login?return_to=${encodeURIComponent("/app/wikis/shared-lab")}`,
    );
    expect(await page.getByRole("navigation", { name: "Main" }).count()).toBe(0);
    const response = await Promise.all([page.waitForNavigation(), link.click()]);
    expect(response[0]?.status()).toBe(200);
    expect(page.url()).toContain("/auth/login");
  });
});

describe("creating a wiki", () => {
  let page: Page;
  let token = "";

  beforeAll(async () => {
    page = await openApp(olive);
  });

  test("an empty home says what to do", async () => {
    const fresh = await openApp(signIn(t, "sam"));
    await expect(fresh.getByText("You own no wikis yet").count()).resolves.toBe(1);
    await expect(fresh.getByText("No one has shared a wiki with you yet").count()).resolves.toBe(1);
  });

  test("the first token is shown once with exact copyable commands, and it works on /mcp", async () => {
    await page.getByLabel("Slug", { exact: true }).fill("alpha-notes");
    await page.getByLabel("Name (optional)").fill("Alpha Notes");
    await page.getByRole("button", { name: "Create wiki" }).click();
    await page.getByRole("heading", { name: /first token/ }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/app/wikis/alpha-notes");
    expect(await page.locator("main h1").textContent()).toBe("Alpha Notes");
    // The heading of the new view has focus (keyboard and screen-reader users land there).
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe("H1");

    token = (await page.locator(".reveal code").first().textContent()) ?? "";
    expect(token).toMatch(/^wbt_/);
    const mcp = `http://alpha-notes.localhost:${t.port}/mcp`;
    const expected: [string, string][] = [
      ["Copy token", token],
      ["Copy connector URL", mcp],
      [
        "Copy Claude Code command",
        `claude mcp add --transport http alpha-notes ${mcp} --header "Authorization: Bearer ${token}"`,
      ],
      [
        "Copy git command",
        `git clone http://git:${token}@alpha-notes.localhost:${t.port}/repo.git`,
      ],
    ];
    for (const [button, text] of expected) {
      await page.evaluate(() => navigator.clipboard.writeText("stale"));
      await page.getByRole("button", { name: button }).click();
      await page.locator(".reveal .copied", { hasText: "Copied" }).first().waitFor();
      expect(await clipboard(page)).toBe(text);
    }
    expect(await page.getByText("will not be shown again").count()).toBe(1);
    expect(await mcpInitializeStatus(t, "alpha-notes", token)).toBe(200);
    expect(await mcpInitializeStatus(t, "alpha-notes", `${token}x`)).toBe(401);
  });

  test("after a reload the token is gone for good", async () => {
    await page.reload();
    await page.getByRole("heading", { name: "Members" }).waitFor();
    expect(await page.locator(".reveal").count()).toBe(0);
    expect(await page.content()).not.toContain(token);
  });

  test("a taken slug is refused next to the slug field", async () => {
    await page.goto(`${app}/app/`);
    const slug = page.getByLabel("Slug", { exact: true });
    await slug.fill("alpha-notes");
    await page.getByRole("button", { name: "Create wiki" }).click();
    const error = page.getByRole("alert").filter({ hasText: "already exists" });
    await error.waitFor();
    expect(await slug.getAttribute("aria-invalid")).toBe("true");
    const errorId = await error.getAttribute("id");
    expect((await slug.getAttribute("aria-describedby"))?.split(" ")).toContain(errorId ?? "-");
    // Fixing it clears the error state.
    await slug.fill("BAD SLUG");
    await page.getByRole("button", { name: "Create wiki" }).click();
    await page.getByRole("alert").filter({ hasNotText: "already exists" }).first().waitFor();
    expect(await slug.getAttribute("aria-invalid")).toBe("true");
    const me = await apiAs(olive, "GET", "/api/me");
    expect(me.body.wikis.owned.map((wiki: { slug: string }) => wiki.slug).sort()).toEqual([
      "alpha-notes",
      "shared-lab",
    ]);
  });

  test("a network failure is said inline, without blaming the field", async () => {
    await page.goto(`${app}/app/`);
    await page.route("**/api/wikis", (route) => route.abort("internetdisconnected"));
    const slug = page.getByLabel("Slug", { exact: true });
    await slug.fill("offline-wiki");
    await page.getByRole("button", { name: "Create wiki" }).click();
    await page.getByRole("alert").filter({ hasText: "Could not reach the server" }).waitFor();
    expect(await slug.getAttribute("aria-invalid")).toBeNull();
    await page.unroute("**/api/wikis");
    expect((await apiAs(olive, "GET", "/api/wikis/offline-wiki")).status).toBe(404);
  });

  test("home lists the wiki with its app page and its browser address", async () => {
    await page.goto(`${app}/app/`);
    const item = page.locator(".wiki-item", { hasText: "alpha-notes" });
    const appLink = item.getByRole("link", { name: "Alpha Notes", exact: true });
    expect(await appLink.getAttribute("href")).toBe("/app/wikis/alpha-notes");
    const browserLink = item.getByRole("link", { name: "Open wiki Alpha Notes in the browser" });
    expect(await browserLink.getAttribute("href")).toBe(`http://alpha-notes.localhost:${t.port}/`);
  });

  test("the whole create flow works from the keyboard alone", async () => {
    const keys = await openApp(olive);
    await tabTo(keys, "input[name=slug]");
    await keys.keyboard.type("keyed-wiki");
    await keys.keyboard.press("Tab");
    await keys.keyboard.type("Keyed");
    await keys.keyboard.press("Tab");
    await keys.keyboard.press("Space");
    await keys.keyboard.press("Tab");
    await keys.keyboard.press("Enter");
    await keys.getByRole("heading", { name: /first token/ }).waitFor();
    const secret = (await keys.locator(".reveal code").first().textContent()) ?? "";
    await tabTo(keys, ".reveal button.copy >> nth=0");
    await keys.keyboard.press("Enter");
    await keys.locator(".reveal .copied", { hasText: "Copied" }).first().waitFor();
    expect(await clipboard(keys)).toBe(secret);
    const wiki = await apiAs(olive, "GET", "/api/wikis/keyed-wiki");
    expect(wiki.body).toMatchObject({ slug: "keyed-wiki", name: "Keyed", public: true });
    expect(await mcpInitializeStatus(t, "keyed-wiki", secret)).toBe(200);
  });
});

describe("a wiki's page", () => {
  let page: Page;

  beforeAll(async () => {
    page = await openApp(olive, "/app/wikis/alpha-notes");
    await page.getByRole("heading", { name: "Members" }).waitFor();
  });

  const memberRow = (text: string) => page.locator("li.member", { hasText: text });

  test("members: add an existing user and a pending handle, change a role, remove", async () => {
    const who = page.getByLabel("Bluesky handle or DID");
    await who.fill("sam.bsky.social");
    await page.getByLabel("Role", { exact: true }).selectOption("viewer");
    await page.getByRole("button", { name: "Add member" }).click();
    await memberRow("Sam Sampler").waitFor();

    // Handles are looked up (src/wikis/members.ts); one that names nobody is most likely a typo.
    await who.fill("@nobody-yet.bsky.social");
    await page.getByRole("button", { name: "Add member" }).click();
    await page
      .getByRole("alert")
      .filter({ hasText: "no Bluesky account has the handle" })
      .waitFor();
    expect(await who.getAttribute("aria-invalid")).toBe("true");

    // Someone who has never signed in, named by DID, waits as a pending grant.
    const newcomer = testDid();
    await who.fill(newcomer);
    await page.getByRole("button", { name: "Add member" }).click();
    await memberRow(newcomer).getByText("pending").waitFor();
    expect(await who.getAttribute("aria-invalid")).toBeNull();

    await who.fill("not a handle");
    await page.getByRole("button", { name: "Add member" }).click();
    await page.getByRole("alert").filter({ hasText: "neither a DID nor a handle" }).waitFor();
    expect(await who.getAttribute("aria-invalid")).toBe("true");

    await memberRow("Sam Sampler").getByRole("combobox").selectOption("editor");
    await page.getByRole("button", { name: "Change role of Sam Sampler" }).click();
    await memberRow("Sam Sampler").getByRole("combobox").and(page.locator(":focus")).waitFor();
    const granted = await apiAs(olive, "GET", "/api/wikis/alpha-notes/members/sam.bsky.social");
    expect(granted.body.role).toBe("editor");

    await page.getByRole("button", { name: "Remove Sam Sampler" }).click();
    await memberRow("Sam Sampler").waitFor({ state: "detached" });
    const members = await apiAs(olive, "GET", "/api/wikis/alpha-notes/members");
    expect(members.body.members.map((m: { did: string }) => m.did).sort()).toEqual(
      [
        newcomer,
        members.body.members.find((m: { username: string }) => m.username === "olive").did,
      ].sort(),
    );
  });

  test("the last owner cannot be demoted: the refusal shows on that member", async () => {
    await memberRow("Olive Owner").getByRole("combobox").selectOption("viewer");
    await page.getByRole("button", { name: "Change role of Olive Owner" }).click();
    await memberRow("Olive Owner").getByRole("alert").waitFor();
    expect(await memberRow("Olive Owner").getByRole("alert").textContent()).toMatch(/owner/);
  });

  test("tokens: create one, see it once, use it, revoke it", async () => {
    await page.getByLabel("Label").fill("laptop git");
    await page.getByLabel("Scope").selectOption("read");
    await page.getByRole("button", { name: "Create token" }).click();
    await page.getByRole("heading", { name: "Your new token" }).waitFor();
    const secret = (await page.locator(".reveal code").first().textContent()) ?? "";
    expect(secret).toMatch(/^wbt_/);
    expect(await mcpInitializeStatus(t, "alpha-notes", secret)).toBe(200);

    const row = page.locator("tr", { hasText: "laptop git" });
    expect(await row.textContent()).toContain("read");
    expect(await row.textContent()).toContain("olive");
    await row.getByRole("button", { name: "Revoke token laptop git" }).click();
    await row.getByText(/revoked/).waitFor();
    expect(await mcpInitializeStatus(t, "alpha-notes", secret)).toBe(401);
  });

  test("rename and make public, both checked in the API", async () => {
    await page.getByLabel("Name", { exact: true }).fill("Alpha Renamed");
    await page.getByRole("button", { name: "Rename" }).click();
    await page.locator("main h1", { hasText: "Alpha Renamed" }).waitFor();
    await page.getByRole("button", { name: "Make it public" }).click();
    await page.getByRole("button", { name: "Make it private" }).waitFor();
    const wiki = await apiAs(olive, "GET", "/api/wikis/alpha-notes");
    expect(wiki.body).toMatchObject({ name: "Alpha Renamed", public: true });
    const anonymous = await fetch(`${t.wikiOrigin("alpha-notes")}/api/v1/`);
    await anonymous.arrayBuffer();
    expect(anonymous.status).toBe(200);
  });

  test("API text is shown as text, never as HTML", async () => {
    const lab = await openApp(olive, "/app/wikis/shared-lab");
    await lab.locator("li.member", { hasText: "Mallory" }).waitFor();
    expect(await lab.locator("li.member img").count()).toBe(0);
    expect(await lab.locator("li.member", { hasText: "<img src=x" }).count()).toBe(1);
    expect(await lab.evaluate(() => Reflect.get(window, "pwned"))).toBeUndefined();
  });

  test("delete needs the slug typed: wrong text is refused inline, the right one deletes", async () => {
    const created = await apiAs(olive, "POST", "/api/wikis", { slug: "doomed-wiki" });
    expect(created.status).toBe(201);
    const doomed = await openApp(olive, "/app/wikis/doomed-wiki");
    const confirm = doomed.getByLabel(/Type the slug/);
    await confirm.fill("doomed");
    await doomed.getByRole("button", { name: "Delete this wiki forever" }).click();
    await doomed.getByRole("alert").filter({ hasText: "Type doomed-wiki exactly" }).waitFor();
    expect(await confirm.getAttribute("aria-invalid")).toBe("true");
    expect((await apiAs(olive, "GET", "/api/wikis/doomed-wiki")).status).toBe(200);

    await confirm.fill("doomed-wiki");
    await doomed.getByRole("button", { name: "Delete this wiki forever" }).click();
    await doomed.waitForURL(`${app}/app/`);
    await doomed.getByRole("heading", { name: "Your wikis" }).waitFor();
    expect(await doomed.locator(".wiki-item", { hasText: "doomed-wiki" }).count()).toBe(0);
    expect((await apiAs(olive, "GET", "/api/wikis/doomed-wiki")).status).toBe(404);
  });
});

describe("a viewer", () => {
  test("sees the wiki under Shared with you and no owner controls, and may leave", async () => {
    const page = await openApp(vera);
    const shared = page.getByRole("region", { name: "Shared with you" });
    await shared.getByRole("link", { name: "Lab", exact: true }).click();
    await page.getByRole("heading", { name: "Members" }).waitFor();
    expect(await page.locator("main h1").textContent()).toBe("Lab");
    expect(await page.getByText("Viewer: you read pages.").count()).toBe(1);
    for (const name of ["Add member", "Rename", "Make it public", "Delete this wiki forever"]) {
      expect(await page.getByRole("button", { name }).count()).toBe(0);
    }
    expect(await page.getByRole("button", { name: /Change role|^Remove/ }).count()).toBe(0);
    expect(await page.getByRole("combobox", { name: /Role of/ }).count()).toBe(0);

    await page.getByRole("button", { name: "Leave this wiki" }).click();
    await page.waitForURL(`${app}/app/`);
    await page.getByText("No one has shared a wiki with you yet").waitFor();
    expect((await apiAs(vera, "GET", "/api/wikis/shared-lab")).status).toBe(404);
  });
});

describe("small screens", () => {
  test("at 360 px wide nothing scrolls sideways", async () => {
    const page = await openApp(olive, "/app/wikis/alpha-notes");
    await page.setViewportSize({ width: 360, height: 740 });
    await page.getByRole("heading", { name: "Tokens" }).waitFor();
    for (const path of ["/app/", "/app/wikis/alpha-notes", "/app/account"]) {
      await page.goto(`${app}${path}`);
      await page.locator("main h2").first().waitFor();
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width).toBeLessThanOrEqual(360);
    }
  });
});

describe("account", () => {
  test("shows who you are and signs out", async () => {
    t.server.db
      .query("UPDATE users SET avatar_url = ? WHERE username = 'olive'")
      .run("data:image/gif;base64,R0lGODlhAQABAAAAACw=");
    const who = signIn(t, "olive");
    const page = await openApp(who, "/app/account");
    const main = page.locator("main");
    expect(await main.locator("img.avatar").getAttribute("src")).toStartWith("data:image/gif");
    expect(await main.textContent()).toContain("Olive Owner");
    expect(await main.textContent()).toContain("@olive.bsky.social");
    await Promise.all([
      page.waitForURL(`${app}/`),
      page.getByRole("button", { name: "Sign out" }).click(),
    ]);
    expect((await apiAs(who, "GET", "/api/me")).status).toBe(401);
  });

  test("GitHub is linked through a form (the CSP lets it reach the provider) and unlinked", async () => {
    const standin = startGitHubStandin();
    const withGitHub = await startTestServer({
      ATPROTO_ALLOW_LOOPBACK_HTTP: "true",
      GITHUB_CLIENT_ID: standin.clientId,
      GITHUB_CLIENT_SECRET: standin.clientSecret,
      GITHUB_OAUTH_BASE_URL: standin.url,
      GITHUB_API_BASE_URL: standin.url,
    });
    try {
      const apex = `http://127.0.0.1:${withGitHub.port}`;
      standin.registerCallback(`${apex}/auth/github/callback`);
      standin.signInAs({ id: 4242, login: "olive-gh" });
      await addUser(withGitHub, "olive", { displayName: "Olive Owner" });
      const who = signIn(withGitHub, "olive");
      const csp = (await fetch(`${apex}/app/`)).headers.get("content-security-policy");
      expect(csp).toContain(`form-action 'self' ${standin.url};`);

      const context = await signedInContext(browser, who);
      contexts.push(context);
      const page = await context.newPage();
      page.on("console", (message) => {
        if (/content security policy/i.test(message.text())) cspViolations.push(message.text());
      });
      await page.goto(`${apex}/app/account`);
      await page.getByText("GitHub: not linked").waitFor();
      await page.getByRole("button", { name: "Link GitHub" }).click();
      await page.waitForURL(`${apex}/app/?linked=github`);
      await page
        .getByRole("status")
        .filter({ hasText: "GitHub is now linked (olive-gh)" })
        .waitFor();

      await page.getByRole("link", { name: "Manage sign-in methods" }).click();
      await page.getByText("GitHub: linked as olive-gh").waitFor();
      await page.getByRole("button", { name: "Unlink GitHub" }).click();
      await page.getByText("GitHub: not linked").waitFor();
      const me = await fetch(`${apex}/api/me`, { headers: { cookie: who.apexCookie } });
      const body = await me.json();
      expect(body.sign_in_methods).toEqual([{ provider: "github", name: "GitHub", linked: null }]);
    } finally {
      await withGitHub.close();
      await standin.stop();
    }
  });

  test("no page ever reported a CSP violation", () => {
    expect(cspViolations).toEqual([]);
  });
});

describe("connected apps", () => {
  let sam: SignedIn;

  beforeAll(async () => {
    await t.adminJson("create-wiki", "--slug", "apps-lab", "--owner", "olive", "--name", "Apps");
    await t.adminJson("grant", "--wiki", "apps-lab", "--user", "sam", "--role", "editor");
    await t.adminJson("create-wiki", "--slug", "apps-garden", "--owner", "sam", "--name", "Garden");
    await t.adminJson("grant", "--wiki", "apps-garden", "--user", "olive", "--role", "viewer");
    sam = signIn(t, "sam");
  });

  const section = (page: Page, name: string) => page.getByRole("region", { name, exact: true });
  const rows = (page: Page, name: string) => section(page, name).locator("tbody tr");

  test("the owner sees everyone's apps in words; a member sees only their own", async () => {
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    connectApp(t, { slug: "apps-lab", username: "olive", createdAt: hourAgo });
    connectApp(t, {
      slug: "apps-lab",
      username: "sam",
      clientName: "Claude Code",
      redirectUri: "http://127.0.0.1:33418/callback",
      scopes: ["wiki:read"],
      createdAt: hourAgo - 60,
      lastUsedAt: hourAgo,
    });
    const page = await openApp(olive, "/app/wikis/apps-lab");
    const apps = section(page, "Connected apps");
    await apps.waitFor();
    expect(await rows(page, "Connected apps").count()).toBe(2);
    const own = apps.locator("tr", { hasText: "Olive Owner" });
    expect(await own.locator("td").allTextContents()).toEqual([
      "Claude (claude.ai)",
      "Olive Owner (you)",
      "read and write",
      expect.any(String),
      "never",
      "Revoke",
    ]);
    const sams = apps.locator("tr", { hasText: "Sam Sampler" });
    const cells = await sams.locator("td").allTextContents();
    expect(cells.slice(0, 3)).toEqual(["Claude Code (127.0.0.1)", "Sam Sampler", "read"]);
    expect(cells[4]).not.toBe("never");
    await apps.getByRole("button", { name: "Revoke Claude for Olive Owner" }).waitFor();
    await apps.getByRole("button", { name: "Revoke Claude Code for Sam Sampler" }).waitFor();

    const member = await openApp(sam, "/app/wikis/apps-lab");
    await section(member, "Connected apps").waitFor();
    expect(await rows(member, "Connected apps").count()).toBe(1);
    expect(await rows(member, "Connected apps").first().textContent()).toContain("Claude Code");
    expect(await member.getByRole("button", { name: /^Revoke Claude for/ }).count()).toBe(0);
  });

  test("an app's name is shown as text, never as HTML", async () => {
    const evil = connectApp(t, {
      slug: "apps-lab",
      username: "olive",
      clientName: '<img src=x onerror="window.pwned=1">Evil',
    });
    const page = await openApp(olive, "/app/wikis/apps-lab");
    const apps = section(page, "Connected apps");
    await apps.locator("tr", { hasText: "<img src=x" }).waitFor();
    expect(await apps.locator("img").count()).toBe(0);
    expect(await page.evaluate(() => Reflect.get(window, "pwned"))).toBeUndefined();
    const revoked = await apiAs(olive, "DELETE", `/api/wikis/apps-lab/connections/${evil.grantId}`);
    expect(revoked.status).toBe(200);
  });

  test("the owner revokes a member's app: the row goes, and so do the grant and its tokens", async () => {
    const doomed = connectApp(t, { slug: "apps-lab", username: "sam", clientName: "Doomed Bot" });
    const page = await openApp(olive, "/app/wikis/apps-lab");
    const apps = section(page, "Connected apps");
    const revoke = apps.getByRole("button", { name: "Revoke Doomed Bot for Sam Sampler" });
    await revoke.click();
    await apps.locator("tr", { hasText: "Doomed Bot" }).waitFor({ state: "detached" });
    await page.locator("#connections-heading:focus").waitFor();
    expect(grantState(t, doomed.grantId)).toEqual({ tokens: 0, revoked: true });
    expect(accessTokenState(t, doomed.accessToken)).not.toBe("valid");
    const listed = await apiAs(olive, "GET", "/api/wikis/apps-lab/connections");
    const names = listed.body.connections.map((c: { client: { name: string } }) => c.client.name);
    expect(names.sort()).toEqual(["Claude", "Claude Code"]);
  });

  test("with nothing connected the section says how to connect Claude", async () => {
    const page = await openApp(sam, "/app/wikis/apps-garden");
    const apps = section(page, "Connected apps");
    await apps.waitFor();
    expect(await apps.locator("table").isHidden()).toBe(true);
    const words = await apps.locator(".empty").textContent();
    expect(words).toContain("No apps are connected to this wiki yet.");
    expect(words).toContain(`http://apps-garden.localhost:${t.port}/mcp`);
    expect(words).toContain("Add custom connector");

    const member = await openApp(olive, "/app/wikis/apps-garden");
    await section(member, "Connected apps")
      .getByText("You have not connected any apps to this wiki.")
      .waitFor();
  });

  test("the account page lists your apps on every wiki and revokes one", async () => {
    const garden = connectApp(t, {
      slug: "apps-garden",
      username: "olive",
      clientName: "Garden Bot",
      redirectUri: "https://bot.example.org/cb",
    });
    const page = await openApp(olive, "/app/account");
    const mine = section(page, "Your connected apps");
    await mine.waitFor();
    // Olive's Claude on apps-lab and Garden Bot on apps-garden; not Sam's Claude Code.
    expect(await rows(page, "Your connected apps").count()).toBe(2);
    const row = mine.locator("tr", { hasText: "Garden Bot" });
    expect(await row.getByRole("link", { name: "Garden" }).getAttribute("href")).toBe(
      "/app/wikis/apps-garden",
    );
    expect(await mine.textContent()).not.toContain("Claude Code");
    await mine.getByRole("button", { name: "Revoke Garden Bot on Garden" }).click();
    await row.waitFor({ state: "detached" });
    await page.locator("#my-connections-heading:focus").waitFor();
    expect(grantState(t, garden.grantId)).toEqual({ tokens: 0, revoked: true });
    const listed = await apiAs(olive, "GET", "/api/me/connections");
    expect(listed.body.connections.map((c: { wiki: { slug: string } }) => c.wiki.slug)).toEqual([
      "apps-lab",
    ]);

    const empty = await openApp(vera, "/app/account");
    await section(empty, "Your connected apps")
      .getByText("You have not connected any apps to your wikis.")
      .waitFor();
  });

  test("a refused revoke is said inline on its row", async () => {
    const page = await openApp(olive, "/app/wikis/apps-lab");
    const apps = section(page, "Connected apps");
    const row = apps.locator("tr", { hasText: "Claude Code" });
    await row.waitFor();
    // Revoked elsewhere meanwhile: the app's answer is 404, shown on the row.
    const sams = await apiAs(sam, "GET", "/api/me/connections");
    const id: string = sams.body.connections.find(
      (c: { client: { name: string } }) => c.client.name === "Claude Code",
    ).id;
    expect((await apiAs(sam, "DELETE", `/api/me/connections/${id}`)).status).toBe(200);
    await row.getByRole("button", { name: "Revoke Claude Code for Sam Sampler" }).click();
    await row.getByRole("alert").filter({ hasText: "no connected app" }).waitFor();
    expect(await row.getByRole("button", { name: /^Revoke/ }).isEnabled()).toBe(true);
  });

  test("no connected-apps page reported a CSP violation", () => {
    expect(cspViolations).toEqual([]);
  });
});
