/**
 * The browser wiki in real headless Chromium against the real server, Otterwiki processes and
 * MCP: anonymous and signed-in reading through the per-host handshake, editing in Otterwiki's
 * editor with the result (and its `Client: browser` trailer) visible to MCP, MCP writes visible on reload, read-only viewers, and
 * a save that would overwrite someone else's change.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium, signedInContext } from "./support/browser.ts";
import { callTool, connectMcp, structuredOf } from "./support/mcp.ts";
import { addUser, createToken, startTestServer, type TestServer } from "./support/server.ts";
import { type SignedIn, signIn } from "./support/session.ts";

// Starts real processes (server, Otterwiki, Chromium); the 5 s default is too short on 2 cores.
setDefaultTimeout(120_000);

let t: TestServer;
let browser: Browser;
let anonymous: BrowserContext;
let jurgenBrowser: BrowserContext;
let veraBrowser: BrowserContext;
let jurgen: SignedIn;
let jurgenToken: string;

function createUser(username: string, displayName: string) {
  return addUser(t, username, { displayName });
}

beforeAll(async () => {
  [t, browser] = await Promise.all([startTestServer(), launchChromium()]);
  await createUser("olive", "Olive Owner");
  await createUser("jurgen", "Jürgen Łukasz");
  await createUser("vera", "Vera Viewer");
  await t.adminJson("create-wiki", "--slug", "openwiki", "--owner", "olive", "--public");
  await t.adminJson("create-wiki", "--slug", "lab", "--owner", "olive", "--name", "The Lab");
  for (const slug of ["openwiki", "lab"]) {
    await t.adminJson("grant", "--wiki", slug, "--user", "jurgen", "--role", "editor");
    await t.adminJson("grant", "--wiki", slug, "--user", "vera", "--role", "viewer");
  }
  jurgenToken = (await createToken(t, "lab", "jurgen")).token;
  jurgen = signIn(t, "jurgen");
  [anonymous, jurgenBrowser, veraBrowser] = await Promise.all([
    browser.newContext(),
    signedInContext(browser, jurgen),
    signedInContext(browser, signIn(t, "vera")),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function open(context: BrowserContext, url: string): Promise<{ page: Page; status: number }> {
  const page = await context.newPage();
  const response = await page.goto(url);
  return { page, status: response?.status() ?? 0 };
}

/** Replaces the editor's text the way a person does (select all, type) and saves. */
async function editAndSave(page: Page, text: string, message: string) {
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(text);
  await page.locator("#save-page-btn").click();
  await page.locator("#commit-message").fill(message);
  await Promise.all([
    page.waitForEvent("framenavigated"),
    page.locator('#modal-commit input[type="submit"]').click(),
  ]);
  await page.waitForLoadState();
}

async function readNote(path: string) {
  const client = await connectMcp(t, "lab", jurgenToken);
  try {
    return structuredOf(await callTool(client, "read_note", { path }));
  } finally {
    await client.close();
  }
}

describe("reading", () => {
  test("an anonymous reader sees a public wiki's Home page rendered, with a way to sign in", async () => {
    const { page, status } = await open(anonymous, `${t.wikiOrigin("openwiki")}/`);
    expect(status).toBe(200);
    expect(new URL(page.url()).host).toBe(new URL(t.wikiOrigin("openwiki")).host);
    expect(await page.locator("h1").first().textContent()).toContain("openwiki");
    expect(await page.textContent("body")).toContain(
      "a research wiki shared by people and AI agents",
    );
    expect(await page.locator("#wikibot-account").textContent()).toBe("Sign in");
    expect(await page.locator("#edit-page-btn").count()).toBe(0);
    await page.close();
  });

  test("an anonymous visitor of a private wiki is sent to sign in at the apex", async () => {
    const { page } = await open(anonymous, `${t.wikiOrigin("lab")}/Home`);
    const landed = new URL(page.url());
    expect(landed.origin).toBe(jurgen.origin);
    expect(landed.pathname).toBe("/auth/login");
    expect(landed.searchParams.get("return_to")).toBe(`${t.wikiOrigin("lab")}/Home`);
    await page.close();
  });

  test("a signed-in member reaches a private wiki through the handshake, with its own cookie", async () => {
    const { page, status } = await open(jurgenBrowser, `${t.wikiOrigin("lab")}/Home`);
    expect(status).toBe(200);
    expect(page.url()).toBe(`${t.wikiOrigin("lab")}/Home`);
    expect(await page.textContent("body")).toContain("Welcome to The Lab");
    expect(await page.locator("#wikibot-account").textContent()).toBe("Sign out");
    const cookies = await jurgenBrowser.cookies(t.wikiOrigin("lab"));
    const wikiCookie = cookies.find((cookie) => cookie.name === "wb_wiki_session");
    expect(wikiCookie?.httpOnly).toBe(true);
    expect(wikiCookie?.domain).toBe("lab.localhost");
    expect(cookies.find((cookie) => cookie.name === "wb_session")).toBeUndefined();
    await page.close();
  });
});

describe("viewers", () => {
  test("a viewer sees no edit button, the editor is refused, and a forged save POST too", async () => {
    const { page } = await open(veraBrowser, `${t.wikiOrigin("lab")}/Home`);
    expect(await page.locator("#edit-page-btn").count()).toBe(0);
    const forged = await page.evaluate(async () => {
      const response = await fetch("/Home/save", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "content=%23%20Vandalised&wikibot_base_revision=",
      });
      return response.status;
    });
    expect(forged).toBe(403);
    const editor = await page.goto(`${t.wikiOrigin("lab")}/Home?edit`);
    expect(editor?.status()).toBe(403);
    expect((await readNote("Home")).content).toContain("Welcome to **The Lab**");
    await page.close();
  });
});

describe("editing", () => {
  test("an editor's browser edit is what MCP read_note returns, authored by the editor", async () => {
    const { page, status } = await open(
      jurgenBrowser,
      `${t.wikiOrigin("lab")}/Research/From%20the%20Browser?edit`,
    );
    expect(status).toBe(200);
    await editAndSave(page, "# From the Browser\n\nTyped in Chromium by Jürgen.", "Browser edit");
    expect(page.url()).toBe(`${t.wikiOrigin("lab")}/Research/From%20the%20Browser`);
    expect(await page.textContent("body")).toContain("Typed in Chromium by Jürgen.");
    const note = await readNote("Research/From the Browser");
    expect(note.content).toBe("# From the Browser\n\nTyped in Chromium by Jürgen.\n");
    expect(note.author).toBe("Jürgen Łukasz");
    // Browser commits name their client like every other surface's (DESIGN §4).
    const client = await connectMcp(t, "lab", jurgenToken);
    try {
      const history = structuredOf(
        await callTool(client, "note_history", { path: "Research/From the Browser" }),
      );
      expect(history).toMatchObject({ commits: [{ client: "browser", message: "Browser edit" }] });
    } finally {
      await client.close();
    }
    await page.close();
  });

  test("an MCP write shows in the browser on reload", async () => {
    const { page } = await open(jurgenBrowser, `${t.wikiOrigin("lab")}/Home`);
    const client = await connectMcp(t, "lab", jurgenToken);
    try {
      const home = await readNote("Home");
      const written = await callTool(client, "write_note", {
        path: "Home",
        content: `${home.content}\nAdded over MCP at step 42.\n`,
        expected_revision: home.revision,
      });
      expect(written.isError).toBeFalsy();
    } finally {
      await client.close();
    }
    await page.reload();
    expect(await page.textContent("body")).toContain("Added over MCP at step 42.");
    await page.close();
  });

  test("a save over a change made while the editor was open is refused; the diff is one click away", async () => {
    const client = await connectMcp(t, "lab", jurgenToken);
    try {
      await callTool(client, "write_note", {
        path: "Budget",
        content: "# Budget\n\nTotal: 100\n",
      });
      const { page } = await open(jurgenBrowser, `${t.wikiOrigin("lab")}/Budget?edit`);
      await page.locator(".cm-content").waitFor();
      const opened = await readNote("Budget");
      const agent = await callTool(client, "write_note", {
        path: "Budget",
        content: "# Budget\n\nTotal: 250 (the agent's figure)\n",
        expected_revision: opened.revision,
      });
      expect(agent.isError).toBeFalsy();
      await editAndSave(page, "# Budget\n\nTotal: 120 (Jürgen's figure)", "My figure");
      expect(await page.locator("h1").textContent()).toBe(
        "This page changed while you were editing",
      );
      expect(await page.locator("#your-text").inputValue()).toContain("Jürgen's figure");
      const after = await readNote("Budget");
      expect(after.content).toContain("the agent's figure");
      await Promise.all([
        page.waitForEvent("framenavigated"),
        page.getByText("See what changed since you started editing").click(),
      ]);
      await page.waitForLoadState();
      expect(await page.textContent("body")).toContain("250 (the agent's figure)");
      await page.close();
    } finally {
      await client.close();
    }
  });
});
