/**
 * The browser wiki through our proxy, driven with fetch against the real server and real
 * Otterwiki processes: sessions and the per-host handshake, identities and roles, blocked and
 * answered routes, the write gate with its lost-update check, lapsed and broken wikis.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commitAuthorOf } from "../src/auth/commit-author.ts";
import { UserStore } from "../src/auth/user-store.ts";
import { readHead } from "../src/repo/repository.ts";
import { addUser, createUserAndWiki, startTestServer, type TestServer } from "./support/server.ts";
import {
  CookieJar,
  NAVIGATION_HEADERS,
  type SignedIn,
  signIn,
  wikiSession,
} from "./support/session.ts";

// Starts real processes (server, git, Otterwiki); the 5 s default is too short on 2 cores.
setDefaultTimeout(120_000);

let t: TestServer;
let olive: SignedIn;
let jurgen: SignedIn;
let vera: SignedIn;
let sam: SignedIn;
let oliveOnDemo: CookieJar;
let jurgenOnDemo: CookieJar;
let veraOnDemo: CookieJar;
let brokenToken: string;
const MAX_BODY = 200_000;

function createUser(username: string, displayName: string) {
  return addUser(t, username, { displayName });
}

function wikiOf(slug: string) {
  const wiki = t.server.browserSessions.wikis.findBySlug(slug);
  if (wiki === null) throw new Error(`no wiki ${slug}`);
  return wiki;
}

beforeAll(async () => {
  t = await startTestServer({ MAX_BODY_BYTES: String(MAX_BODY) });
  await createUserAndWiki(t, { username: "olive", slug: "demo", displayName: "Olive Owner" });
  await createUser("jurgen", "Jürgen Łukasz");
  await createUser("vera", "Vera Viewer");
  await createUser("sam", "Sam Stranger");
  await t.adminJson("grant", "--wiki", "demo", "--user", "jurgen", "--role", "editor");
  await t.adminJson("grant", "--wiki", "demo", "--user", "vera", "--role", "viewer");
  await t.adminJson("create-wiki", "--slug", "pub", "--owner", "olive", "--public");
  await t.adminJson("create-wiki", "--slug", "old", "--owner", "olive");
  await t.adminJson("grant", "--wiki", "old", "--user", "jurgen", "--role", "editor");
  await t.adminJson("set-tier", "--wiki", "old", "--tier", "lapsed");
  const broken = await t.adminJson("create-wiki", "--slug", "broken", "--owner", "olive");
  if (typeof broken !== "object" || broken === null || !("token" in broken))
    throw new Error("no token");
  brokenToken = String(broken.token);
  olive = signIn(t, "olive");
  jurgen = signIn(t, "jurgen");
  vera = signIn(t, "vera");
  sam = signIn(t, "sam");
  [oliveOnDemo, jurgenOnDemo, veraOnDemo] = await Promise.all([
    wikiSession(t, "demo", olive),
    wikiSession(t, "demo", jurgen),
    wikiSession(t, "demo", vera),
  ]);
});
afterAll(() => t.close());

function get(slug: string, path: string, jar?: CookieJar, headers: Record<string, string> = {}) {
  return fetch(`${t.wikiOrigin(slug)}${path}`, {
    headers: { ...headers, ...(jar ? { cookie: jar.header() } : {}) },
    redirect: "manual",
  }).then((response) => {
    jar?.store(response);
    return response;
  });
}

function postForm(
  slug: string,
  path: string,
  jar: CookieJar | undefined,
  form: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return fetch(`${t.wikiOrigin(slug)}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      referer: `${t.wikiOrigin(slug)}${path}`,
      ...headers,
      ...(jar ? { cookie: jar.header() } : {}),
    },
    body: new URLSearchParams(form),
    redirect: "manual",
  }).then((response) => {
    jar?.store(response);
    return response;
  });
}

function field(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (match?.[1] === undefined) throw new Error(`no ${name} in the page`);
  return match[1];
}

/** Opens the editor like a browser and returns what its save form carries. */
async function openEditor(slug: string, page: string, jar: CookieJar) {
  const response = await get(slug, `/${page}?edit`, jar);
  expect(response.status).toBe(200);
  const html = await response.text();
  return { csrf: field(html, "csrf_token"), base: field(html, "wikibot_base_revision") };
}

async function lastCommit(slug: string, file: string) {
  const [entry] = await t.server.pages.history(wikiOf(slug), { path: file, limit: 1 });
  if (entry === undefined) throw new Error(`no history for ${file}`);
  return entry;
}

describe("the per-host session handshake", () => {
  test("a signed-in user's wiki host gets its own host-only session cookie", () => {
    const cookie = jurgenOnDemo.get("wb_wiki_session");
    expect(cookie).toMatch(/^sess_[a-z0-9]{16}\./);
    expect(cookie).not.toBe(jurgen.value);
  });

  test("a handshake code works once, only on its wiki and only with the state cookie", async () => {
    const state = new CookieJar();
    const bounce = await get("demo", "/Home", state, NAVIGATION_HEADERS);
    expect(bounce.status).toBe(302);
    const apex = await fetch(bounce.headers.get("location") ?? "", {
      headers: { cookie: jurgen.apexCookie },
      redirect: "manual",
    });
    const back = new URL(apex.headers.get("location") ?? "");
    expect(back.origin).toBe(t.wikiOrigin("demo"));
    const code = back.searchParams.get("code") ?? "";
    expect(code).toMatch(/^handoff_/);

    // Another wiki's host, or a browser without the state (a link sent by someone else).
    const elsewhere = await get("pub", `/auth/handoff?code=${code}`, new CookieJar());
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.headers.getSetCookie().join()).not.toContain("wb_wiki_session=sess_");
    const replay = await get("demo", `${back.pathname}${back.search}`, state);
    expect(replay.status).toBe(400);
    expect(replay.headers.getSetCookie().join()).not.toContain("wb_wiki_session=sess_");
  });

  test("a redeemed code gives a session; redeeming it again does not", async () => {
    const state = new CookieJar();
    const bounce = await get("demo", "/Home", state, NAVIGATION_HEADERS);
    const apex = await fetch(bounce.headers.get("location") ?? "", {
      headers: { cookie: jurgen.apexCookie },
      redirect: "manual",
    });
    const back = new URL(apex.headers.get("location") ?? "");
    const first = await get("demo", `${back.pathname}${back.search}`, state);
    expect(first.status).toBe(302);
    expect(first.headers.get("location")).toBe("/Home");
    expect(state.get("wb_wiki_session")).toMatch(/^sess_/);
    const again = await get("demo", `${back.pathname}${back.search}`, new CookieJar());
    expect(again.status).toBe(400);
  });

  test("the apex refuses to hand a session to a host that is not one of our wikis", async () => {
    for (const returnTo of ["http://evil.example/", `${t.origin}/app/`, "not a url"]) {
      const response = await fetch(
        `${jurgen.origin}/auth/handoff?state=abcdefghijklmnopqrstuv&return_to=${encodeURIComponent(returnTo)}`,
        { headers: { cookie: jurgen.apexCookie }, redirect: "manual" },
      );
      expect(response.status).toBe(400);
    }
  });

  test("sign-in links cannot send the browser to another site", async () => {
    const response = await get("demo", "/-/login?next=//evil.example/x");
    const apex = new URL(response.headers.get("location") ?? "");
    expect(apex.searchParams.get("return_to")).toBe(`${t.wikiOrigin("demo")}/`);
  });

  test("signing out ends the wiki host's session and the apex session", async () => {
    const who = signIn(t, "vera");
    const jar = await wikiSession(t, "demo", who);
    expect((await get("demo", "/Home", jar)).status).toBe(200);
    const out = await get("demo", "/-/logout", jar);
    expect(out.status).toBe(302);
    expect(out.headers.get("location")).toBe(
      `${who.origin}/auth/logout?return_to=${encodeURIComponent(`${t.wikiOrigin("demo")}/`)}`,
    );
    const apexOut = await fetch(out.headers.get("location") ?? "", {
      headers: { cookie: who.apexCookie },
      redirect: "manual",
    });
    expect(apexOut.headers.get("location")).toBe(`${t.wikiOrigin("demo")}/`);
    expect(apexOut.headers.getSetCookie()[0]).toMatch(/^wb_session=; .*Max-Age=0/);
    // The old apex cookie no longer mints anything.
    const again = await wikiSession(t, "demo", who);
    expect(again.get("wb_wiki_session")).toBeUndefined();
  });
});

describe("who may read", () => {
  test("an anonymous reader of a public wiki sees its Home page with a sign-in link", async () => {
    const response = await get("pub", "/");
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain("Welcome to <strong>pub</strong>");
    expect(html).toContain('id="wikibot-account" href="/-/login"');
    expect(html).not.toContain('id="edit-page-btn"');
  });

  test("an anonymous browser on a public wiki asks the apex once, then reads", async () => {
    const jar = new CookieJar();
    const bounce = await get("pub", "/Home", jar, NAVIGATION_HEADERS);
    expect(new URL(bounce.headers.get("location") ?? "").pathname).toBe("/auth/handoff");
    const apex = await fetch(bounce.headers.get("location") ?? "", { redirect: "manual" });
    const back = new URL(apex.headers.get("location") ?? "");
    expect(back.searchParams.get("anonymous")).toBe("1");
    const checked = await get("pub", `${back.pathname}${back.search}`, jar);
    expect(checked.headers.get("location")).toBe("/Home");
    const page = await get("pub", "/Home", jar, NAVIGATION_HEADERS);
    expect(page.status).toBe(200);
  });

  test("an anonymous visitor of a private wiki is sent to sign in, then back", async () => {
    const direct = await get("demo", "/Research?x=1");
    expect(direct.status).toBe(302);
    const expected = `${jurgen.origin}/auth/login?return_to=${encodeURIComponent(`${t.wikiOrigin("demo")}/Research?x=1`)}`;
    expect(direct.headers.get("location")).toBe(expected);

    // A browser navigation asks the apex first; not signed in there, it lands on the same page.
    const bounce = await get("demo", "/Research?x=1", new CookieJar(), NAVIGATION_HEADERS);
    const apex = await fetch(bounce.headers.get("location") ?? "", { redirect: "manual" });
    expect(apex.headers.get("location")).toBe(expected);
  });

  test("a signed-in user without a role on a private wiki gets a 403 page", async () => {
    const jar = await wikiSession(t, "demo", sam);
    const response = await get("demo", "/Home", jar);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("sam.bsky.social");
  });

  test("a revoked role applies at the next request", async () => {
    await createUser("rita", "Rita Revoked");
    await t.adminJson("grant", "--wiki", "demo", "--user", "rita", "--role", "viewer");
    const jar = await wikiSession(t, "demo", signIn(t, "rita"));
    expect((await get("demo", "/Home", jar)).status).toBe(200);
    await t.adminJson("revoke", "--wiki", "demo", "--user", "rita");
    expect((await get("demo", "/Home", jar)).status).toBe(403);
  });
});

describe("identity headers and blocked routes", () => {
  const forged = {
    "x-otterwiki-name": "Mallory",
    "x-otterwiki-email": "mallory@example.org",
    "x-otterwiki-permissions": "READ,WRITE,UPLOAD,ADMIN",
  };

  test("a client-sent x-otterwiki-permissions: ADMIN changes nothing", async () => {
    for (const path of ["/-/admin", "/Home?edit", "/-/admin/sidebar_preferences"]) {
      const plain = await get("pub", path);
      const withHeader = await get("pub", path, undefined, forged);
      expect(withHeader.status).toBe(plain.status);
      expect(withHeader.status).toBe(403);
    }
    const page = await (await get("pub", "/Home", undefined, forged)).text();
    expect(page).not.toContain('id="edit-page-btn"');
    const viewer = await get("demo", "/Home?edit", veraOnDemo, forged);
    expect(viewer.status).toBe(403);
  });

  test("owners reach Otterwiki's site settings", async () => {
    expect((await get("demo", "/-/admin", oliveOnDemo)).status).toBe(200);
  });

  test.each([
    "/-/admin/repository_management",
    "/-/admin/repository_management/",
    "/-/admin%2Frepository_management",
    "//-/admin/repository_management",
    "/-/admin/user_management",
    "/-/admin/permissions_and_registration",
    "/-/api/v1/pull/abc",
    "/.git/info/refs",
  ])("%s is refused for the owner (GET and POST)", async (path) => {
    const read = await get("demo", path, oliveOnDemo);
    expect(read.status).toBe(403);
    expect(await read.text()).toContain("Not available on this wiki");
    const write = await postForm("demo", path, oliveOnDemo, { git_pull: "1" });
    expect(write.status).toBe(403);
  });

  test.each([
    ["/-/logout", "/auth/logout"],
    ["/-/register", "/auth/handoff"],
    ["/-/lost_password", "/auth/handoff"],
    ["/-/user/1", "/app/"],
  ])("%s is answered by us with a redirect to %s, not Otterwiki's 500", async (path, target) => {
    const response = await get("demo", path, await wikiSession(t, "demo", signIn(t, "jurgen")));
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get("location") ?? "").pathname).toBe(target);
  });
});

describe("writes through the write gate", () => {
  test("an editor's save commits as the editor and is at once in the page store", async () => {
    const { csrf, base } = await openEditor("demo", "Research/Topic%20A", jurgenOnDemo);
    expect(base).toBe("");
    const saved = await postForm("demo", "/Research/Topic%20A/save", jurgenOnDemo, {
      csrf_token: csrf,
      wikibot_base_revision: base,
      content: "# Topic A\n\nNotes by Jürgen.",
      commit: "Start topic A",
    });
    expect(saved.status).toBe(302);
    expect(saved.headers.get("location")).toBe("/Research/Topic%20A");
    const page = await t.server.pages.read(wikiOf("demo"), "Research/Topic A");
    expect(page.content).toBe("# Topic A\n\nNotes by Jürgen.\n");
    const commit = await lastCommit("demo", "Research/Topic A");
    expect(commit.authorName).toBe("Jürgen Łukasz");
    const user = new UserStore(t.server.db).findByUsername("jurgen");
    if (user === null) throw new Error("no jurgen");
    // The same author MCP and git commits get for this user.
    expect(commit.authorEmail).toBe(commitAuthorOf(user).email);
    expect(page.revision).toBe(commit.commit);
  });

  test("a page written through the page store (as MCP does) shows on the next view", async () => {
    await t.server.pages.write(wikiOf("demo"), {
      path: "Agent Notes",
      content: "# Agent Notes\n\nWritten by an agent at step 7.\n",
      author: { name: "Claude", email: "claude@users.wikibot.invalid" },
      client: "mcp/test",
    });
    const response = await get("demo", "/Agent%20Notes", veraOnDemo);
    expect(await response.text()).toContain("Written by an agent at step 7.");
  });

  test("a viewer's forged save is refused and commits nothing", async () => {
    const head = readHead(t.server.pages.repo(wikiOf("demo")));
    const response = await postForm("demo", "/Home/save", veraOnDemo, {
      csrf_token: "x",
      wikibot_base_revision: "",
      content: "# Vandalised",
    });
    expect(response.status).toBe(403);
    expect(readHead(t.server.pages.repo(wikiOf("demo")))).toBe(head);
  });

  test("a viewer may still search (a POST that only reads)", async () => {
    const response = await postForm("demo", "/-/search", veraOnDemo, { query: "agent" });
    expect(response.status).not.toBe(403);
  });

  test("a save without a base revision is refused: it could overwrite a change", async () => {
    const { csrf } = await openEditor("demo", "Home", jurgenOnDemo);
    const head = readHead(t.server.pages.repo(wikiOf("demo")));
    const response = await postForm("demo", "/Home/save", jurgenOnDemo, {
      csrf_token: csrf,
      content: "# Home\n\nReplaced.",
    });
    expect(response.status).toBe(409);
    expect(readHead(t.server.pages.repo(wikiOf("demo")))).toBe(head);
  });

  test("a page name Otterwiki would silently rename is refused", async () => {
    const { csrf } = await openEditor("demo", "Home", jurgenOnDemo);
    const response = await postForm("demo", "/What%3F/save", jurgenOnDemo, {
      csrf_token: csrf,
      wikibot_base_revision: "",
      content: "x",
    });
    expect(response.status).toBe(400);
  });
});

describe("no silent overwrite", () => {
  const lines = (first: string, third: string) => `# Plan\n\n${first}\nsecond line\n${third}\n`;

  async function seed(page: string) {
    await t.server.pages.write(wikiOf("demo"), {
      path: page,
      content: lines("first line", "third line"),
      author: { name: "Seeder", email: "seed@users.wikibot.invalid" },
      client: "mcp/test",
    });
  }

  async function agentEdits(page: string, content: string) {
    await t.server.pages.write(wikiOf("demo"), {
      path: page,
      content,
      author: { name: "Agent", email: "agent@users.wikibot.invalid" },
      client: "mcp/test",
    });
  }

  test("edits to different lines made while the editor was open are merged", async () => {
    await seed("Plan One");
    const { csrf, base } = await openEditor("demo", "Plan%20One", jurgenOnDemo);
    expect(base).toMatch(/^[0-9a-f]{6,40}$/);
    await agentEdits("Plan One", lines("first line", "third line, edited by the agent"));
    const saved = await postForm("demo", "/Plan%20One/save", jurgenOnDemo, {
      csrf_token: csrf,
      wikibot_base_revision: base,
      content: lines("first line, edited by Jürgen", "third line"),
      commit: "Jürgen's edit",
    });
    expect(saved.status).toBe(302);
    const page = await t.server.pages.read(wikiOf("demo"), "Plan One");
    expect(page.content).toBe(
      lines("first line, edited by Jürgen", "third line, edited by the agent"),
    );
    expect((await lastCommit("demo", "Plan One")).authorName).toBe("Jürgen Łukasz");
  });

  test("overlapping edits are refused with the diff and the editor's text; nothing is lost", async () => {
    await seed("Plan Two");
    const { csrf, base } = await openEditor("demo", "Plan%20Two", jurgenOnDemo);
    await agentEdits("Plan Two", lines("first line, the agent's version", "third line"));
    const agentRevision = (await t.server.pages.read(wikiOf("demo"), "Plan Two")).revision;
    const refused = await postForm("demo", "/Plan%20Two/save", jurgenOnDemo, {
      csrf_token: csrf,
      wikibot_base_revision: base,
      content: lines("first line, Jürgen's version", "third line"),
    });
    expect(refused.status).toBe(409);
    const html = await refused.text();
    expect(html).toContain(`href="/Plan%20Two/diff/${base}/${agentRevision}"`);
    expect(html).toContain("first line, Jürgen&#39;s version");
    const page = await t.server.pages.read(wikiOf("demo"), "Plan Two");
    expect(page.revision).toBe(agentRevision);
    expect(page.content).toContain("the agent's version");
    // The diff link works for the editor.
    expect(
      (await get("demo", `/Plan%20Two/diff/${base}/${agentRevision}`, jurgenOnDemo)).status,
    ).toBe(200);
  });

  test("a save from an editor opened on the current version goes straight through", async () => {
    await seed("Plan Three");
    const { csrf, base } = await openEditor("demo", "Plan%20Three", jurgenOnDemo);
    const saved = await postForm("demo", "/Plan%20Three/save", jurgenOnDemo, {
      csrf_token: csrf,
      wikibot_base_revision: base,
      content: "# Plan\n\nRewritten.",
    });
    expect(saved.status).toBe(302);
    expect((await t.server.pages.read(wikiOf("demo"), "Plan Three")).content).toBe(
      "# Plan\n\nRewritten.\n",
    );
  });
});

describe("lapsed and broken wikis", () => {
  test("a lapsed wiki reads, but shows no edit button, no editor, and refuses saves", async () => {
    const jar = await wikiSession(t, "old", jurgen);
    const page = await get("old", "/Home", jar);
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain('id="edit-page-btn"');
    expect((await get("old", "/Home?edit", jar)).status).toBe(403);
    const head = readHead(t.server.pages.repo(wikiOf("old")));
    const save = await postForm("old", "/Home/save", jar, {
      csrf_token: "x",
      wikibot_base_revision: "",
      content: "# Changed",
    });
    expect(save.status).toBe(403);
    expect(await save.text()).toContain("subscription has lapsed: the wiki is read-only");
    expect(readHead(t.server.pages.repo(wikiOf("old")))).toBe(head);
  });

  test("a wiki whose Otterwiki cannot start answers 503 while its REST API keeps working", async () => {
    // A file where Otterwiki's state folder belongs: the process cannot come up.
    writeFileSync(join(t.dataDir, "wikis", "broken", "otterwiki"), "not a folder");
    const jar = await wikiSession(t, "broken", olive);
    const response = await get("broken", "/Home", jar);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await response.text()).toContain("unavailable");
    const api = await fetch(`${t.wikiOrigin("broken")}/api/v1/`, {
      headers: { authorization: `Bearer ${brokenToken}` },
    });
    expect(api.status).toBe(200);
  });
});

describe("limits and the socket", () => {
  test("a streamed body over the limit is refused with 413 before reaching Otterwiki", async () => {
    const chunk = new Uint8Array(64 * 1024).fill(97);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= MAX_BODY + chunk.byteLength) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const response = await fetch(`${t.wikiOrigin("demo")}/-/search`, {
      method: "POST",
      headers: {
        cookie: jurgenOnDemo.header(),
        "content-type": "application/x-www-form-urlencoded",
      },
      body,
      redirect: "manual",
    });
    expect(response.status).toBe(413);
  });

  test("sockets are 0600 in a 0700 folder; /health counts live processes and names no wiki", async () => {
    const health = await (await fetch(`${t.origin}/health`)).json();
    expect(health.wiki_processes.live).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(health)).not.toContain("demo");
    const processes = t.server.wikiProcesses().processes;
    expect(processes.map((entry) => entry.wiki)).toContain("demo");
    const runDir = join(t.dataDir, "run");
    expect(statSync(runDir).mode & 0o777).toBe(0o700);
    const socket = join(runDir, `ow-${wikiOf("demo").id}.sock`);
    expect(statSync(socket).isSocket()).toBe(true);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
  });
});
