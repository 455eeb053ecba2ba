/**
 * The whole front door, as two people walk through it in headless Chromium against the real
 * server and a real local PLC + PDS: from the landing page through Bluesky sign-in and consent
 * to choosing a username and landing in the app; creating a wiki and copying its first token,
 * which then works on /mcp; adding a collaborator by Bluesky handle before they ever signed in
 * (resolved to their DID), who signs in, finds the wiki under "Shared with you", reads it in
 * the browser but cannot edit it; and removing them, after which their next request is refused.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "./support/browser.ts";
import { mcpInitializeStatus } from "./support/mcp.ts";
import { type LocalPds, localPdsEnv, startLocalPds } from "./support/pds.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

// Real processes (PDS under Node 22, server, Otterwiki, Chromium) on 2 shared cores.
setDefaultTimeout(180_000);

const PASSWORD = "journey password one";

let pds: LocalPds;
let t: TestServer;
let browser: Browser;
/** 127.0.0.1:{port}: where the loopback client's callback lands and the apex session lives. */
let apex: string;
let owen: { did: string; handle: string };
let vic: { did: string; handle: string };
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [pds, browser] = await Promise.all([startLocalPds(), launchChromium()]);
  t = await startTestServer({
    ...localPdsEnv(pds),
  });
  apex = `http://127.0.0.1:${t.port}`;
  owen = await pds.createAccount({ name: "owen", password: PASSWORD, displayName: "Owen Owner" });
  vic = await pds.createAccount({ name: "vic", password: PASSWORD, displayName: "Vic Viewer" });
});

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await t?.close();
  await pds?.stop();
});

async function freshPage(): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: apex });
  const page = await context.newPage();
  page.on("dialog", (dialog) => void dialog.accept());
  return page;
}

/** From the landing page: sign in with Bluesky, consent on the PDS, choose the suggested username. */
async function signUpFromLanding(page: Page, handle: string, username: string): Promise<void> {
  await page.goto(`http://localhost:${t.port}/`);
  await page.getByRole("link", { name: "Sign in with Bluesky" }).first().click();
  await page.locator("#handle").fill(handle);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.host === new URL(pds.pdsUrl).host);
  await page.locator("input[name=password]").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Authorize" }).click();
  await page.waitForURL(`${apex}/auth/signup`);
  expect(await page.locator("#username").inputValue()).toBe(username);
  await page.getByRole("button", { name: "Create my account" }).click();
  await page.waitForURL(`${apex}/app/`);
  await page.getByRole("heading", { name: "Your wikis" }).waitFor();
}

let owner: Page;
let viewer: Page;

test("a new person signs in from the landing page, picks a username and lands in the app", async () => {
  owner = await freshPage();
  await signUpFromLanding(owner, owen.handle, "owen");
  expect(await owner.getByText("You own no wikis yet").count()).toBe(1);
});

test("they create a wiki, copy its first token, and the token works on /mcp", async () => {
  await owner.getByLabel("Slug", { exact: true }).fill("journey");
  await owner.getByLabel("Name (optional)").fill("Journey Notes");
  await owner.getByRole("button", { name: "Create wiki" }).click();
  await owner.getByRole("heading", { name: /first token/ }).waitFor();
  await owner.getByRole("button", { name: "Copy token" }).click();
  const token = await owner.evaluate(() => navigator.clipboard.readText());
  expect(token).toMatch(/^wbt_/);
  expect(await mcpInitializeStatus(t, "journey", token)).toBe(200);
});

test("they add a collaborator by Bluesky handle before that person ever signed in", async () => {
  await owner.getByLabel("Bluesky handle or DID").fill(`@${vic.handle}`);
  await owner.getByLabel("Role", { exact: true }).selectOption("viewer");
  await owner.getByRole("button", { name: "Add member" }).click();
  await owner.locator("li.member", { hasText: vic.handle }).getByText("pending").waitFor();
  // The grant is keyed by the DID the handle names, not by the handle.
  const grant = t.server.db
    .query<{ subject_kind: string; subject: string; handle: string }, []>(
      "SELECT subject_kind, subject, handle FROM pending_grants",
    )
    .all();
  expect(grant).toEqual([{ subject_kind: "did", subject: vic.did, handle: vic.handle }]);
});

test("the collaborator signs in, finds the wiki shared with them, and reads but cannot edit it", async () => {
  viewer = await freshPage();
  await signUpFromLanding(viewer, vic.handle, "vic");
  const shared = viewer.getByRole("region", { name: "Shared with you" });
  await shared.getByRole("link", { name: "Journey Notes", exact: true }).waitFor();
  await shared.getByRole("link", { name: /Open wiki/ }).click();
  await viewer.waitForURL(`${t.wikiOrigin("journey")}/`);
  expect(await viewer.locator("#wikibot-account").textContent()).toBe("Sign out");
  expect(await viewer.locator("#edit-page-btn").count()).toBe(0);
  const editor = await viewer.goto(`${t.wikiOrigin("journey")}/Home?edit`);
  expect(editor?.status()).toBe(403);
});

test("the owner removes them in the app, and their next request is refused", async () => {
  await owner.reload();
  await owner.locator("li.member", { hasText: "Vic Viewer" }).waitFor();
  await owner.getByRole("button", { name: "Remove Vic Viewer" }).click();
  await owner.locator("li.member", { hasText: "Vic Viewer" }).waitFor({ state: "detached" });
  const again = await viewer.goto(`${t.wikiOrigin("journey")}/`);
  expect(again?.status()).toBe(403);
  await viewer.goto(`${apex}/app/`);
  await viewer.getByRole("heading", { name: "Shared with you" }).waitFor();
  expect(await viewer.getByText("No one has shared a wiki with you yet").count()).toBe(1);
});
