/**
 * The browser wiki against a hostile member (issue 8, defects 3, 5 and 7): headers that would
 * move the path Otterwiki serves behind the proxy's back, every Otterwiki write route held to
 * the page-name rules (rename, revert, attachments), a browser save that dies mid-way, and the
 * `Client: browser` trailer. Real server, real Otterwiki processes, real git; fetch as client.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commitAuthorOf } from "../src/auth/commit-author.ts";
import { UserStore } from "../src/auth/user-store.ts";
import { summarizeCommit } from "../src/pages/commit-summary.ts";
import { gitText } from "../src/repo/git.ts";
import { readHead } from "../src/repo/repository.ts";
import { addUser, createUserAndWiki, startTestServer, type TestServer } from "./support/server.ts";
import { type CookieJar, signIn, wikiSession } from "./support/session.ts";

// Starts real processes (server, git, Otterwiki); the 5 s default is too short on 2 cores.
setDefaultTimeout(120_000);

let t: TestServer;
let owner: CookieJar;
let editor: CookieJar;

beforeAll(async () => {
  t = await startTestServer();
  await createUserAndWiki(t, { username: "olive", slug: "demo", displayName: "Olive Owner" });
  await addUser(t, "jurgen", { displayName: "Jürgen Łukasz", wiki: "demo", role: "editor" });
  [owner, editor] = await Promise.all([
    wikiSession(t, "demo", signIn(t, "olive")),
    wikiSession(t, "demo", signIn(t, "jurgen")),
  ]);
});
afterAll(() => t.close());

function wiki() {
  const found = t.server.browserSessions.wikis.findBySlug("demo");
  if (found === null) throw new Error("no wiki demo");
  return found;
}

const repo = () => t.server.pages.repo(wiki());
const head = () => readHead(repo());

function send(
  path: string,
  jar: CookieJar,
  init: { method?: string; headers?: Record<string, string>; body?: BodyInit } = {},
) {
  return fetch(`${t.wikiOrigin("demo")}${path}`, {
    method: init.method ?? "GET",
    headers: { ...init.headers, cookie: jar.header() },
    body: init.body,
    redirect: "manual",
  }).then((response) => {
    jar.store(response);
    return response;
  });
}

function postForm(
  path: string,
  jar: CookieJar,
  form: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return send(path, jar, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form),
  });
}

/** A CSRF token of the editor's Otterwiki session (any page with a form carries one). */
async function csrfToken(jar: CookieJar): Promise<string> {
  const html = await (await send("/-/create", jar)).text();
  const match = /name="csrf_token" (?:type="hidden" )?value="([^"]+)"/.exec(html);
  if (match?.[1] === undefined) throw new Error("no csrf_token on /-/create");
  return match[1];
}

async function seed(path: string, content = `# ${path}\n\nSeeded.\n`) {
  return t.server.pages.write(wiki(), {
    path,
    content,
    author: { name: "Seeder", email: "seed@users.wikibot.invalid" },
    client: "mcp/test",
  });
}

async function tree(): Promise<string[]> {
  return (await gitText(repo(), ["ls-tree", "-r", "-z", "--name-only", "HEAD"]))
    .split("\0")
    .filter((name) => name !== "");
}

async function workingTreeStatus(): Promise<string> {
  return gitText(repo(), ["status", "--porcelain=v1", "--untracked-files=all"]);
}

async function lastCommit(path?: string) {
  const [entry] = await t.server.pages.history(wiki(), { path, limit: 1 });
  if (entry === undefined) throw new Error("no history");
  return entry;
}

describe("headers cannot move the path Otterwiki serves", () => {
  test("SCRIPT_NAME does not take an owner to repository management", async () => {
    for (const [path, scriptName] of [
      ["/x/-/admin/repository_management", "/x"],
      ["/x/-/admin/mail_preferences", "/x"],
    ] as const) {
      const response = await send(path, owner, { headers: { SCRIPT_NAME: scriptName } });
      const html = await response.text();
      expect(html).not.toContain("git_remote_pull_url");
      expect(html).not.toContain("mail_server");
    }
    const before = head();
    const posted = await postForm(
      "/x/-/admin/mail_preferences",
      owner,
      { csrf_token: await csrfToken(owner), mail_server: "127.0.0.1", mail_port: "9" },
      { script_name: "/x" },
    );
    expect(posted.status).not.toBe(302);
    expect(head()).toBe(before);
  });

  test("an editor cannot save past the lost-update check or create the reserved mcp page", async () => {
    const before = head();
    const csrf = await csrfToken(editor);
    for (const [path, headers] of [
      ["/-/mcp/save", { SCRIPT_NAME: "/-" }],
      ["/-/mcp/save", {}],
      ["/x/mcp/save", { SCRIPT_NAME: "/x" }],
      ["/-/Home/save", {}],
    ] as const) {
      const response = await postForm(
        path,
        editor,
        { csrf_token: csrf, content: "# Pwned" },
        headers,
      );
      expect(response.status).toBeGreaterThanOrEqual(400);
    }
    expect(head()).toBe(before);
    expect(await tree()).not.toContain("mcp.md");
  });

  test("underscore and forwarding headers never reach Otterwiki", async () => {
    // X_Otterwiki_Permissions would become HTTP_X_OTTERWIKI_PERMISSIONS if anything mapped it.
    // (gunicorn's default header_map already dropped it; a guard, not a regression test.)
    const response = await send("/-/admin", editor, {
      headers: { X_Otterwiki_Permissions: "READ,WRITE,UPLOAD,ADMIN", "X-Forwarded-SSL": "on" },
    });
    expect(response.status).toBe(403);
  });
});

describe("behind the proxy, the wiki's own process trusts no header either", () => {
  // Straight to the socket, as if something had slipped past the proxy.
  async function direct(path: string, init: { method?: string; headers?: Record<string, string> }) {
    await send("/Home", owner);
    const socket = join(t.dataDir, "run", `ow-${wiki().id}.sock`);
    return fetch(`${new URL(t.wikiOrigin("demo")).origin}${path}`, {
      unix: socket,
      method: init.method ?? "GET",
      headers: {
        "x-otterwiki-name": "Olive",
        "x-otterwiki-email": "olive@users.wikibot.invalid",
        "x-otterwiki-permissions": "READ,WRITE,UPLOAD,ADMIN",
        ...init.headers,
      },
      redirect: "manual",
    });
  }

  test("the wiki's process takes no SCRIPT_NAME from a header, and blocked views stay blocked", async () => {
    const moved = await direct("/x/-/admin/repository_management", {
      headers: { SCRIPT_NAME: "/x" },
    });
    expect(await moved.text()).not.toContain("git_remote_pull_url");
    const blocked = await direct("/-/admin/repository_management", {});
    expect(blocked.status).toBe(403);
  });

  test("a POST is refused unless Flask routes it to the view the proxy checked", async () => {
    const before = head();
    for (const route of [undefined, "search", "save?path=Other"]) {
      const response = await direct("/-/mcp/save", {
        method: "POST",
        headers: route === undefined ? {} : { "x-wikibot-route": route },
      });
      expect(response.status).toBe(400);
      expect(await response.text()).toContain("does not match the route");
    }
    expect(head()).toBe(before);
  });
});

describe("every browser write route keeps the page rules", () => {
  test("a rename to a reserved name is refused and the page stays where MCP and REST see it", async () => {
    await seed("Topic");
    const before = head();
    const csrf = await csrfToken(editor);
    for (const name of ["mcp/Connect", "api", "Topic/edit", "-x", "a/../b"]) {
      const response = await postForm("/Topic/rename", editor, {
        csrf_token: csrf,
        new_pagename: name,
      });
      expect(response.status).toBe(400);
      expect(await response.text()).toContain("cannot be renamed");
    }
    expect(head()).toBe(before);
    expect((await t.server.pages.read(wiki(), "Topic")).content).toContain("Seeded.");
  });

  test("a rename to a case twin of another page is refused; a plain rename goes through", async () => {
    await seed("Alpha");
    await seed("Bëta");
    await seed("Bëta/Child");
    const csrf = await csrfToken(editor);
    const before = head();
    const twin = await postForm("/B%C3%ABta/rename", editor, {
      csrf_token: csrf,
      new_pagename: "alpha",
    });
    expect(twin.status).toBe(409);
    expect(head()).toBe(before);

    const renamed = await postForm("/B%C3%ABta/rename", editor, {
      csrf_token: csrf,
      new_pagename: "Gämma",
    });
    expect(renamed.status).toBe(302);
    const paths = (await t.server.pages.list(wiki())).map((page) => page.path);
    expect(paths).toContain("Gämma");
    expect(paths).toContain("Gämma/Child");
    expect(paths).not.toContain("Bëta");
    expect(summarizeCommit(await lastCommit("Gämma")).client).toBe("browser");
  });

  test("a revert that would bring back a case twin is refused", async () => {
    await seed("Delta");
    const deleted = await t.server.pages.delete(wiki(), {
      path: "Delta",
      author: { name: "Seeder", email: "seed@users.wikibot.invalid" },
      client: "mcp/test",
    });
    await seed("delta");
    const before = head();
    const response = await postForm(`/-/revert/${deleted.revision}`, editor, {
      csrf_token: await csrfToken(editor),
    });
    expect(response.status).toBe(409);
    expect(head()).toBe(before);
    expect(await tree()).not.toContain("Delta.md");
  });

  async function upload(page: string, files: [string, string][], filename?: string) {
    const form = new FormData();
    form.set("csrf_token", await csrfToken(editor));
    if (filename !== undefined) form.set("filename", filename);
    for (const [name, content] of files) form.append("file", new File([content], name));
    return send(`/${page}/attachments`, editor, { method: "POST", body: form });
  }

  test("attachment names follow the rules: no pages, no hidden files, no case twins", async () => {
    await seed("Gallery");
    const ok = await upload("Gallery", [["photo.png", "png bytes"]]);
    expect(ok.status).toBe(302);
    expect(await tree()).toContain("Gallery/photo.png");
    expect(summarizeCommit(await lastCommit()).client).toBe("browser");

    const before = head();
    for (const name of ["notes.md", "NOTES.MD", ".gitattributes", "PHOTO.png"]) {
      const refused = await upload("Gallery", [[name, "x"]]);
      expect(refused.status).toBeGreaterThanOrEqual(400);
    }
    // The "filename" field names the stored file, whatever the upload is called.
    expect((await upload("Gallery", [["fine.png", "x"]], "sneaky.md")).status).toBe(400);
    const inline = new FormData();
    inline.set("csrf_token", await csrfToken(editor));
    inline.append("file", new File(["x"], "inline.md"));
    const inlineRefused = await send("/Gallery/inline_attachment", editor, {
      method: "POST",
      body: inline,
    });
    expect(inlineRefused.status).toBe(400);
    // A folder for a page no write may create (it would end in a page action).
    expect((await upload("Notes/edit", [["x.png", "x"]])).status).toBe(400);
    const renamed = await postForm("/Gallery/attachment/photo.png", editor, {
      csrf_token: await csrfToken(editor),
      new_filename: "photo.md",
    });
    expect(renamed.status).toBe(400);
    expect(head()).toBe(before);
    expect(await tree()).not.toContain("Gallery/photo.md");
  });
});

/**
 * The pid of the process serving the wiki: with gunicorn, the worker (the master's child that
 * carries the same `unix:` command line); forked by the zygote, the pool's process itself.
 */
function workerPid(): number {
  const master = t.server.wikiProcesses().processes.find((entry) => entry.wiki === "demo")?.pid;
  if (master === undefined || master === null) throw new Error("demo has no process");
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === master && readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("unix:"))
        return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  return master;
}

async function until(condition: () => boolean): Promise<void> {
  for (let tries = 0; tries < 1200 && !condition(); tries++) await Bun.sleep(25);
  if (!condition()) throw new Error("condition never held");
}

describe("a browser save that dies mid-way leaves the tree at HEAD", () => {
  const hook = () => join(repo(), ".git", "hooks", "pre-commit");

  async function openEditor(page: string) {
    const html = await (await send(`/${page}?edit`, editor)).text();
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
    return { csrf: field("csrf_token") ?? "", base: field("wikibot_base_revision") ?? "" };
  }

  async function mcpWriteIsClean(saved: string, unsaved: string) {
    const written = await t.server.pages.write(wiki(), {
      path: "Agent Log",
      content: `# Agent Log\n\nEntry after ${saved}.\n`,
      author: { name: "Claude", email: "claude@users.wikibot.invalid" },
      client: "mcp/test",
    });
    const commit = await lastCommit();
    expect(commit.commit).toBe(written.revision);
    expect(commit.files).toEqual(["Agent Log.md"]);
    expect(commit.authorName).toBe("Claude");
    const page = await t.server.pages.read(wiki(), saved);
    expect(page.content).not.toContain(unsaved);
    expect(page.content).toBe(readFileSync(join(repo(), `${saved}.md`), "utf8"));
  }

  test("a save whose commit fails (500) is rolled back before the next writer", async () => {
    await seed("Fragile");
    const { csrf, base } = await openEditor("Fragile");
    writeFileSync(hook(), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    try {
      const response = await postForm("/Fragile/save", editor, {
        csrf_token: csrf,
        wikibot_base_revision: base,
        content: "# Fragile\n\nHalf-finished text.",
      });
      expect(response.status).toBeGreaterThanOrEqual(500);
    } finally {
      rmSync(hook(), { force: true });
    }
    expect(await workingTreeStatus()).toBe("");
    const view = await (await send("/Fragile", editor)).text();
    expect(view).not.toContain("Half-finished text.");
    await mcpWriteIsClean("Fragile", "Half-finished text.");
  });

  test("a save whose worker is killed mid-commit is rolled back and the process replaced", async () => {
    await seed("Killed");
    const { csrf, base } = await openEditor("Killed");
    const marker = join(t.dataDir, "hook-started");
    // The hook runs after Otterwiki staged the page and before the commit exists.
    writeFileSync(hook(), `#!/bin/sh\ntouch '${marker}'\nsleep 60\n`, { mode: 0o755 });
    const worker = workerPid();
    try {
      const saving = postForm("/Killed/save", editor, {
        csrf_token: csrf,
        wikibot_base_revision: base,
        content: "# Killed\n\nNever acknowledged.",
      });
      await until(() => existsSync(marker));
      process.kill(worker, "SIGKILL");
      const response = await saving;
      expect(response.status).toBe(502);
    } finally {
      rmSync(hook(), { force: true });
    }
    expect(await workingTreeStatus()).toBe("");
    const view = await (await send("/Killed", editor)).text();
    expect(view).not.toContain("Never acknowledged.");
    await mcpWriteIsClean("Killed", "Never acknowledged.");
  });
});

describe("browser commits say where they came from", () => {
  test("a browser save carries Client: browser, and its message stays the person's", async () => {
    const html = await (await send("/Trailer%20Page?edit", editor)).text();
    const field = (name: string) =>
      new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
    const saved = await postForm("/Trailer%20Page/save", editor, {
      csrf_token: field("csrf_token"),
      wikibot_base_revision: field("wikibot_base_revision"),
      content: "# Trailer Page",
      commit: "Start the page\n\nClient: mcp/forged",
    });
    expect(saved.status).toBe(302);
    const commit = await lastCommit("Trailer Page");
    expect(commit.message).toEndWith("\n\nClient: browser");
    const summary = summarizeCommit(commit);
    expect(summary.client).toBe("browser");
    expect(summary.message).toStartWith("Start the page");
    const user = new UserStore(t.server.db).findByUsername("jurgen");
    if (user === null) throw new Error("no jurgen");
    expect(commit.authorEmail).toBe(commitAuthorOf(user).email);
  });
});
