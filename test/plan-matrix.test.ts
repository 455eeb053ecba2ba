/**
 * Plans and lapse in one place (issue 12, item 4). One table, written from DESIGN §5, says
 * what each role may do on each plan; every role × plan × surface cell is then tried for real
 * against the running server (browser over HTTP with the per-host handshake, REST, MCP over raw
 * JSON-RPC, git with the git client) and must match. Where the plan is what says no, the
 * refusal must carry the plan policy's own sentence. Then the quotas: the (n+1)th wiki and a
 * page past the page or byte quota are refused on every surface, with the policy's text.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { escapeHtml } from "../src/auth/session/handoff.ts";
import { UserStore } from "../src/auth/user-store.ts";
import { WikiTokenStore } from "../src/auth/wiki-token.ts";
import { COMMITTER } from "../src/stores.ts";
import { type PlanAction, planRefusal } from "../src/wikis/plan-policy.ts";
import { createWiki } from "../src/wikis/wiki-service.ts";
import { type Tier, type Wiki, WikiStore } from "../src/wikis/wiki-store.ts";
import {
  commitFiles,
  createGitClient,
  type GitClient,
  nextCloneDir,
  repoUrl,
} from "./support/git.ts";
import { startTestServer, type TestServer, testDid } from "./support/server.ts";
import { CookieJar, signIn, wikiSession } from "./support/session.ts";

// Real Otterwiki processes, git and many requests; the 5 s default is too short on 2 cores.
setDefaultTimeout(120_000);

const PLANS = ["free", "premium", "lapsed"] as const satisfies readonly Tier[];

const ROLES = [
  "anonymous on a public wiki",
  "anonymous on a private wiki",
  "viewer",
  "editor",
  "owner",
] as const;
type MatrixRole = (typeof ROLES)[number];

const SURFACES = [
  "browser view",
  "browser save",
  "REST read",
  "REST write",
  "MCP read",
  "MCP write",
  "git fetch",
  "git push",
] as const;
type Surface = (typeof SURFACES)[number];

/** DESIGN §5's role table: read pages, MCP read, API GET, git fetch | writes | git push. */
const ROLE_RIGHTS: Record<MatrixRole, { read: boolean; write: boolean; push: boolean }> = {
  "anonymous on a public wiki": { read: true, write: false, push: false },
  "anonymous on a private wiki": { read: false, write: false, push: false },
  viewer: { read: true, write: false, push: false },
  editor: { read: true, write: true, push: true },
  owner: { read: true, write: true, push: true },
};

/**
 * DESIGN §5 on plans: git push is "premium only"; "a lapsed wiki is read-only for everyone and
 * its MCP endpoint answers with a clear error" (REST reads, the browser and git fetch go on).
 */
const PLAN_RIGHTS: Record<Tier, { write: boolean; push: boolean; mcp: boolean }> = {
  free: { write: true, push: false, mcp: true },
  premium: { write: true, push: true, mcp: true },
  lapsed: { write: false, push: false, mcp: false },
};

const ACTION: Record<Surface, "read" | "write" | "push"> = {
  "browser view": "read",
  "browser save": "write",
  "REST read": "read",
  "REST write": "write",
  "MCP read": "read",
  "MCP write": "write",
  "git fetch": "read",
  "git push": "push",
};

function expectedAllowed(plan: Tier, role: MatrixRole, surface: Surface): boolean {
  const action = ACTION[surface];
  const byRole = ROLE_RIGHTS[role][action];
  const byPlan = action === "read" ? true : PLAN_RIGHTS[plan][action];
  const mcpOn = !surface.startsWith("MCP") || PLAN_RIGHTS[plan].mcp;
  return byRole && byPlan && mcpOn;
}

/** The plan's sentence when the plan (not the role) is what refuses this cell, else null. */
function planSentence(wiki: Wiki, role: MatrixRole, surface: Surface): string | null {
  const action = ACTION[surface];
  if (!ROLE_RIGHTS[role][action]) return null;
  const asked: PlanAction | null = surface.startsWith("MCP")
    ? "mcp"
    : action === "read"
      ? null
      : action;
  return asked === null ? null : (planRefusal(wiki, asked)?.message ?? null);
}

interface Outcome {
  allowed: boolean;
  /** Everything the client was shown, for the refusal's wording. */
  shown: string;
}

interface Caller {
  wiki: Wiki;
  /** A write-scoped wiki token; null for anonymous callers. */
  token: string | null;
  /** The wiki host's browser cookies (signed in through the handshake, or none). */
  jar: CookieJar;
  /** Unique per cell, so no cell depends on another. */
  page: string;
}

let t: TestServer;
let git: GitClient;
const callers = new Map<string, Omit<Caller, "page">>();
const ownerTokens = new Map<string, string>();

function serviceDeps(server: TestServer) {
  const db = server.server.db;
  return {
    db,
    users: new UserStore(db),
    wikis: new WikiStore(db),
    tokens: new WikiTokenStore(db),
    dataDir: server.dataDir,
    publicUrl: server.server.publicUrl,
    committer: COMMITTER,
  };
}

function makeUser(server: TestServer, username: string) {
  return new UserStore(server.server.db).create({
    did: testDid(),
    handle: `${username}.bsky.social`,
    username,
    displayName: username,
  });
}

beforeAll(async () => {
  t = await startTestServer();
  git = createGitClient();
  const deps = serviceDeps(t);
  for (const plan of PLANS) {
    const owner = makeUser(t, `${plan}owner`);
    const editor = makeUser(t, `${plan}editor`);
    const viewer = makeUser(t, `${plan}viewer`);
    // Made on a plan that can be created, then moved to the plan under test.
    const tier = plan === "lapsed" ? "premium" : plan;
    const pub = await createWiki(deps, {
      slug: `${plan}-public`,
      ownerUsername: owner.username,
      isPublic: true,
      tier,
    });
    const priv = await createWiki(deps, {
      slug: `${plan}-private`,
      ownerUsername: owner.username,
      isPublic: false,
      tier,
    });
    deps.wikis.setRole(priv.wiki.id, editor.id, "editor");
    deps.wikis.setRole(priv.wiki.id, viewer.id, "viewer");
    deps.wikis.setTier(pub.wiki.id, plan);
    deps.wikis.setTier(priv.wiki.id, plan);
    ownerTokens.set(pub.wiki.slug, pub.token);
    ownerTokens.set(priv.wiki.slug, priv.token);
    const privateWiki = deps.wikis.findById(priv.wiki.id);
    const publicWiki = deps.wikis.findById(pub.wiki.id);
    if (privateWiki === null || publicWiki === null) throw new Error("wikis vanished");
    const tokenFor = (userId: number) =>
      deps.tokens.create({ wikiId: privateWiki.id, userId, scope: "write", label: "matrix" })
        .plaintext;
    const members: [MatrixRole, { id: number; username: string }, string][] = [
      ["viewer", viewer, tokenFor(viewer.id)],
      ["editor", editor, tokenFor(editor.id)],
      ["owner", owner, priv.token],
    ];
    for (const [role, user, token] of members) {
      const jar = await wikiSession(t, privateWiki.slug, signIn(t, user.username));
      callers.set(`${plan}/${role}`, { wiki: privateWiki, token, jar });
    }
    callers.set(`${plan}/anonymous on a public wiki`, {
      wiki: publicWiki,
      token: null,
      jar: new CookieJar(),
    });
    callers.set(`${plan}/anonymous on a private wiki`, {
      wiki: privateWiki,
      token: null,
      jar: new CookieJar(),
    });
  }
});
afterAll(async () => {
  git?.close();
  await t?.close();
});

function bearer(token: string | null): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

interface BrowserInit {
  method?: string;
  headers?: Record<string, string>;
  body?: URLSearchParams;
}

function browser(caller: Caller, path: string, init: BrowserInit = {}): Promise<Response> {
  return fetch(`${t.wikiOrigin(caller.wiki.slug)}${path}`, {
    ...init,
    headers: { ...init.headers, cookie: caller.jar.header() },
    redirect: "manual",
  }).then((response) => {
    caller.jar.store(response);
    return response;
  });
}

const pageExists = (wiki: Wiki, path: string) =>
  t.server.pages.index.get(wiki.id, path)?.body.includes("matrix") === true;

async function mcpCall(caller: Caller, tool: string, args: Record<string, unknown>) {
  const response = await fetch(`${t.wikiOrigin(caller.wiki.slug)}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-11-25",
      ...bearer(caller.token),
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: tool, arguments: args },
    }),
  });
  const shown = await response.text();
  // A refused tool call is a 200 whose result has isError (DESIGN §6); a refused caller, a 4xx.
  return { allowed: response.status === 200 && !shown.includes('"isError":true'), shown };
}

/** A clone made with the owner's token, so a push cell tests only the pusher's credentials. */
async function ownerClone(wiki: Wiki): Promise<string> {
  const dir = nextCloneDir(git);
  await git.ok(["clone", "-q", repoUrl(t, wiki.slug, ownerTokens.get(wiki.slug)), dir]);
  return dir;
}

const TRY: Record<Surface, (caller: Caller) => Promise<Outcome>> = {
  async "browser view"(caller) {
    const response = await browser(caller, "/Home");
    const shown = await response.text();
    return { allowed: response.status === 200 && shown.includes("Agent Guide"), shown };
  },
  async "browser save"(caller) {
    const editor = await browser(caller, `/${caller.page}?edit`);
    const html = editor.status === 200 ? await editor.text() : "";
    if (editor.status !== 200) await editor.arrayBuffer();
    const field = (name: string) =>
      new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
    const saved = await browser(caller, `/${caller.page}/save`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        csrf_token: field("csrf_token"),
        wikibot_base_revision: field("wikibot_base_revision"),
        content: `# ${caller.page}\n\nSaved in the matrix.`,
      }),
    });
    const shown = await saved.text();
    return { allowed: saved.status === 302 && pageExists(caller.wiki, caller.page), shown };
  },
  async "REST read"(caller) {
    const response = await fetch(`${t.wikiOrigin(caller.wiki.slug)}/api/v1/pages/Home`, {
      headers: bearer(caller.token),
    });
    return { allowed: response.status === 200, shown: await response.text() };
  },
  async "REST write"(caller) {
    const response = await fetch(`${t.wikiOrigin(caller.wiki.slug)}/api/v1/pages/${caller.page}`, {
      method: "PUT",
      headers: { "content-type": "application/json", ...bearer(caller.token) },
      body: JSON.stringify({ content: `# ${caller.page}\n\nWritten in the matrix.\n` }),
    });
    const shown = await response.text();
    return { allowed: response.ok && pageExists(caller.wiki, caller.page), shown };
  },
  "MCP read": (caller) => mcpCall(caller, "read_note", { path: "Home" }),
  async "MCP write"(caller) {
    const outcome = await mcpCall(caller, "write_note", {
      path: caller.page,
      content: `# ${caller.page}\n\nWritten in the matrix.\n`,
    });
    return { ...outcome, allowed: outcome.allowed && pageExists(caller.wiki, caller.page) };
  },
  async "git fetch"(caller) {
    const dir = nextCloneDir(git);
    const url = repoUrl(t, caller.wiki.slug, caller.token ?? undefined);
    const run = await git.run(["clone", "-q", url, dir]);
    return { allowed: run.exitCode === 0, shown: run.stderr };
  },
  async "git push"(caller) {
    const dir = await ownerClone(caller.wiki);
    await commitFiles(git, dir, { [`${caller.page}.md`]: "# Pushed in the matrix\n" }, "push");
    const url = repoUrl(t, caller.wiki.slug, caller.token ?? undefined);
    const run = await git.run(["push", "-q", url, "HEAD:main"], { cwd: dir });
    return {
      allowed: run.exitCode === 0 && pageExists(caller.wiki, caller.page),
      shown: run.stderr,
    };
  },
};

const CELLS = PLANS.flatMap((plan) =>
  ROLES.flatMap((role) =>
    SURFACES.map((surface) => ({
      plan,
      role,
      surface,
      allowed: expectedAllowed(plan, role, surface),
    })),
  ),
);

describe("role × plan × surface, as DESIGN §5 says", () => {
  test("the table covers 3 plans × 5 roles × 8 surfaces, allowing and refusing", () => {
    expect(CELLS).toHaveLength(120);
    // Per plan: 4 roles read on 4 surfaces; editor and owner write on 3 (not lapsed) and push
    // on premium; MCP reads are off on lapsed. 22 + 24 + 12.
    expect(CELLS.filter((cell) => cell.allowed)).toHaveLength(58);
  });

  test.each(CELLS)("$plan, $role, $surface: allowed $allowed", async (cell) => {
    const known = callers.get(`${cell.plan}/${cell.role}`);
    if (known === undefined) throw new Error("no caller");
    const page = `Matrix-${cell.role.split(" ").join("-")}-${cell.surface.split(" ").join("-")}`;
    const caller: Caller = { ...known, page };
    const outcome = await TRY[cell.surface](caller);
    // What the client was shown rides along, so a wrong cell says why.
    expect({ allowed: outcome.allowed, shown: outcome.shown.slice(0, 600) }).toMatchObject({
      allowed: cell.allowed,
    });
    const sentence = planSentence(caller.wiki, cell.role, cell.surface);
    if (!cell.allowed && sentence !== null) {
      // The browser page starts the sentence with a capital and escapes it into HTML.
      const expected = cell.surface.startsWith("browser")
        ? escapeHtml(sentence.slice(1))
        : sentence;
      expect(outcome.shown).toContain(expected);
    }
  });
});

describe("quotas, with tiny limits", () => {
  let q: TestServer;
  let qGit: GitClient;
  let full: Wiki;
  let fullToken: string;
  let fullJar: CookieJar;
  const PAGES = 4; // the 3 bootstrap pages and one more
  const BYTES = 64 * 1024;

  beforeAll(async () => {
    q = await startTestServer({
      PLAN_FREE_WIKIS_PER_OWNER: "1",
      PLAN_PREMIUM_WIKIS_PER_OWNER: "1",
      PLAN_FREE_PAGES_PER_WIKI: String(PAGES),
      PLAN_PREMIUM_PAGES_PER_WIKI: String(PAGES),
      PLAN_FREE_BYTES_PER_WIKI: String(BYTES),
      PLAN_PREMIUM_BYTES_PER_WIKI: String(BYTES),
    });
    qGit = createGitClient();
    const deps = serviceDeps(q);
    const owner = makeUser(q, "quinn");
    const created = await createWiki(deps, {
      slug: "full",
      ownerUsername: owner.username,
      isPublic: false,
      tier: "premium",
    });
    fullToken = created.token;
    await q.server.pages.write(created.wiki, {
      path: "Fourth",
      content: "# Fourth\n\nThe last page the plan allows.\n",
      author: { name: "Quinn", email: "quinn@users.wikibot.invalid" },
      client: "mcp/test",
    });
    const found = deps.wikis.findById(created.wiki.id);
    if (found === null) throw new Error("no wiki full");
    full = found;
    expect(q.server.pages.index.totals(full.id).pages).toBe(PAGES);
    fullJar = await wikiSession(q, "full", signIn(q, "quinn"));
  });
  afterAll(async () => {
    qGit?.close();
    await q?.close();
  });

  const pageSentence = `full is on the premium plan, which allows ${PAGES} pages per wiki, and this change would make ${PAGES + 1}: delete or merge pages first`;
  const hasPage = (path: string) => q.server.pages.index.get(full.id, path) !== null;

  test("the (n+1)th wiki is refused by the management API with the policy's text", async () => {
    const who = signIn(q, "quinn");
    const response = await fetch(`${who.origin}/api/wikis`, {
      method: "POST",
      headers: { origin: who.origin, cookie: who.apexCookie, "content-type": "application/json" },
      body: JSON.stringify({ slug: "second" }),
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      error: {
        code: "plan_limit",
        message:
          "you already own 1 wiki, and the free plan allows 1 per person; delete one you no longer need, or ask the operator for more",
      },
    });
    expect(new WikiStore(q.server.db).findBySlug("second")).toBeNull();
    // The operator is not held to a plan: the admin CLI creates it.
    const operator = await q.admin("create-wiki", "--slug", "second", "--owner", "quinn");
    expect(operator.exitCode).toBe(0);
    expect(new WikiStore(q.server.db).findBySlug("second")?.ownerId).toBe(full.ownerId);
  });

  test("MCP: a new page past the page quota is a tool error with the policy's text", async () => {
    const response = await fetch(`${q.wikiOrigin("full")}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2025-11-25",
        authorization: `Bearer ${fullToken}`,
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "write_note", arguments: { path: "Fifth MCP", content: "# Fifth\n" } },
      }),
    });
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).toContain('"isError":true');
    expect(body).toContain(`Error (plan_limit): ${pageSentence}`);
    expect(hasPage("Fifth MCP")).toBe(false);
  });

  test("REST: a new page past the page quota is 403 plan_limit with the policy's text", async () => {
    const response = await fetch(`${q.wikiOrigin("full")}/api/v1/pages/Fifth%20REST`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${fullToken}` },
      body: JSON.stringify({ content: "# Fifth\n" }),
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      error: { code: "plan_limit", message: pageSentence },
    });
    expect(hasPage("Fifth REST")).toBe(false);
  });

  test("git: a push past the page quota is refused by the hook with the policy's text", async () => {
    const dir = nextCloneDir(qGit);
    await qGit.ok(["clone", "-q", repoUrl(q, "full", fullToken), dir]);
    const before = q.server.pages.head(full);
    await commitFiles(qGit, dir, { "Fifth Git.md": "# Fifth\n" }, "One page too many");
    const push = await qGit.run(["push", "-q", "origin", "HEAD:main"], { cwd: dir });
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toContain(`remote: refused: ${pageSentence}`);
    expect(q.server.pages.head(full)).toBe(before);
    expect(hasPage("Fifth Git")).toBe(false);
  });

  test("browser: a save of a new page past the page quota is refused; the text comes back", async () => {
    const send = (path: string, init: BrowserInit = {}) =>
      fetch(`${q.wikiOrigin("full")}${path}`, {
        ...init,
        headers: { ...init.headers, cookie: fullJar.header() },
        redirect: "manual",
      }).then((response) => {
        fullJar.store(response);
        return response;
      });
    const html = await (await send("/Fifth-Browser?edit")).text();
    const field = (name: string) =>
      new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
    const saved = await send("/Fifth-Browser/save", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        csrf_token: field("csrf_token"),
        wikibot_base_revision: field("wikibot_base_revision"),
        content: "# Fifth\n\nMy unsaved words.",
      }),
    });
    expect(saved.status).toBe(403);
    const page = await saved.text();
    expect(page).toContain("This wiki is full for its plan");
    expect(page).toContain(escapeHtml(`F${pageSentence.slice(1)}`));
    expect(page).toContain("My unsaved words.");
    expect(hasPage("Fifth-Browser")).toBe(false);
  });

  test("browser: a revert that would bring a page back past the quota is refused", async () => {
    const deps = serviceDeps(q);
    const rhea = makeUser(q, "rhea");
    const { wiki } = await createWiki(deps, {
      slug: "reverts",
      ownerUsername: rhea.username,
      isPublic: false,
      tier: "premium",
    });
    const author = { author: { name: "Rhea", email: "rhea@users.wikibot.invalid" } };
    const change = { ...author, client: "mcp/test" };
    await q.server.pages.write(wiki, { path: "Doomed", content: "# Doomed\n", ...change });
    const deleted = await q.server.pages.delete(wiki, { path: "Doomed", ...change });
    await q.server.pages.write(wiki, { path: "Replacement", content: "# R\n", ...change });
    const jar = await wikiSession(q, "reverts", signIn(q, "rhea"));
    const send = (path: string, init: BrowserInit = {}) =>
      fetch(`${q.wikiOrigin("reverts")}${path}`, {
        ...init,
        headers: { ...init.headers, cookie: jar.header() },
        redirect: "manual",
      }).then((response) => {
        jar.store(response);
        return response;
      });
    const form = await (await send("/-/create")).text();
    const csrf = /name="csrf_token" (?:type="hidden" )?value="([^"]+)"/.exec(form)?.[1] ?? "";
    const before = q.server.pages.head(wiki);
    const reverted = await send(`/-/revert/${deleted.revision}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf_token: csrf }),
    });
    expect(reverted.status).toBe(403);
    expect(await reverted.text()).toContain(
      escapeHtml(
        `Reverts is on the premium plan, which allows ${PAGES} pages per wiki, and this change would make ${PAGES + 1}`,
      ),
    );
    expect(q.server.pages.head(wiki)).toBe(before);
    expect(q.server.pages.index.get(wiki.id, "Doomed")).toBeNull();
  });

  test("the byte quota refuses growth but an existing page can still be edited", async () => {
    const put = (path: string, body: string) =>
      fetch(`${q.wikiOrigin("full")}/api/v1/pages/${path}`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${fullToken}` },
        body: JSON.stringify({ content: body }),
      });
    const big = await put("Fourth", `# Fourth\n\n${"x".repeat(BYTES)}\n`);
    expect(big.status).toBe(403);
    expect(await big.json()).toEqual({
      error: {
        code: "plan_limit",
        message: expect.stringMatching(
          /^full is on the premium plan, which allows 64 KiB of pages per wiki, and this change would make \d+(\.\d)? KiB: shorten or delete pages first$/,
        ),
      },
    });
    const small = await put("Fourth", "# Fourth\n\nStill editable at the page quota.\n");
    expect(small.status).toBe(200);
    expect(q.server.pages.index.get(full.id, "Fourth")?.body).toContain("Still editable");
  });
});
