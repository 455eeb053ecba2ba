// Runs the pinned Otterwiki from the project venv behind our WSGI wrapper
// (src/wiki/otterwiki/wikibot_wsgi.py) on a unix socket, exactly as the server spawns it,
// and checks the contract the proxy relies on: proxy-header identities, percent-encoded
// UTF-8 author names, the page-to-file mapping and the https Referer rule for saves.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ensureOtterwiki, type OtterwikiRuntime } from "../scripts/setup/otterwiki.ts";
import { otterwikiPostOf, routeHeader } from "../src/wiki/route-policy.ts";

// Starts real processes (server, git, Otterwiki); the 5 s default is too short on 2 cores.
setDefaultTimeout(120_000);

const projectDir = join(import.meta.dir, "..");
const wrapperDir = join(projectDir, "src", "wiki", "otterwiki");
const publicOrigin = "https://demo.wiki.test";
const homeMarker = "Welcome to the runtime test wiki";

type Identity = { name: string; email: string; permissions: string };
const reader: Identity = { name: "Rea Der", email: "reader@example.org", permissions: "READ" };
const jurgen: Identity = {
  name: "J%C3%BCrgen%20%C5%81ukasz",
  email: "jl@example.org",
  permissions: "READ,WRITE,UPLOAD",
};

type RunningWiki = { dir: string; repo: string; socket: string; gunicorn: Subprocess };

// `bun install` runs the setup that makes .venv, so a missing runtime is a real failure here;
// the error says how to install it.
defineSuite(await ensureOtterwiki({ projectDir, quiet: true }));

function defineSuite({ gunicorn }: OtterwikiRuntime) {
  describe("Otterwiki behind wikibot_wsgi", () => {
    let wiki: RunningWiki;

    beforeAll(async () => {
      wiki = await startWiki(gunicorn);
    });

    afterAll(async () => {
      if (!wiki) return;
      wiki.gunicorn.kill("SIGTERM");
      await wiki.gunicorn.exited;
      await rm(wiki.dir, { recursive: true, force: true });
    });

    test("renders the Home page from Home.md for a READ identity", async () => {
      const root = await request(wiki, "/", reader);
      expect(root.status).toBe(200);
      expect(await root.text()).toContain(homeMarker);

      const home = await request(wiki, "/Home", reader);
      expect(home.status).toBe(200);
      expect(await home.text()).toContain(homeMarker);
    });

    test("commits a save to 'Research/Topic A.md' as the percent-decoded author", async () => {
      const form = await request(wiki, "/Research/Topic%20A/edit", jurgen);
      expect(form.status).toBe(200);
      const csrfToken = findCsrfToken(await form.text());
      const cookie = sessionCookie(form);

      const saved = await request(wiki, "/Research/Topic%20A/save", jurgen, {
        cookie,
        referer: `${publicOrigin}/Research/Topic%20A/edit`,
        form: { csrf_token: csrfToken, content: "# Topic A\n\nFirst notes.", commit: "Start" },
      });
      expect(saved.status).toBe(302);
      expect(saved.headers.get("location")).toBe("/Research/Topic%20A");

      expect(
        await git(wiki.repo, "log", "-1", "--format=%an%n%ae%n%s", "--", "Research/Topic A.md"),
      ).toBe("Jürgen Łukasz\njl@example.org\nStart");
      expect(await readFile(join(wiki.repo, "Research", "Topic A.md"), "utf8")).toBe(
        "# Topic A\n\nFirst notes.\n",
      );
      expect(await git(wiki.repo, "status", "--porcelain")).toBe("");
    });

    test("refuses a save from a READ-only identity with 403 and commits nothing", async () => {
      const page = await request(wiki, "/Home", reader);
      const csrfToken = findCsrfToken(await page.text());
      const headBefore = await git(wiki.repo, "rev-parse", "HEAD");

      const saved = await request(wiki, "/Home/save", reader, {
        cookie: sessionCookie(page),
        referer: `${publicOrigin}/Home`,
        form: { csrf_token: csrfToken, content: "# Vandalised", commit: "nope" },
      });
      expect(saved.status).toBe(403);
      expect(await git(wiki.repo, "rev-parse", "HEAD")).toBe(headBefore);
    });

    test("over https a save without a same-origin Referer is refused with 400", async () => {
      const form = await request(wiki, "/Scratch/edit", jurgen);
      const csrfToken = findCsrfToken(await form.text());

      const saved = await request(wiki, "/Scratch/save", jurgen, {
        cookie: sessionCookie(form),
        form: { csrf_token: csrfToken, content: "# Scratch", commit: "no referer" },
      });
      expect(saved.status).toBe(400);
      expect(await saved.text()).toContain("The referrer header is missing.");
    });
  });
}

async function startWiki(gunicorn: string): Promise<RunningWiki> {
  const dir = await mkdtemp(join(tmpdir(), "wikibot-ow-"));
  const repo = join(dir, "repo");
  const socket = join(dir, "ow.sock");
  await git(dir, "init", "--quiet", "--initial-branch=main", repo);
  await writeFile(join(repo, "Home.md"), `# Home\n\n${homeMarker}.\n`);
  await git(repo, "add", "Home.md");
  await git(repo, "commit", "--quiet", "-m", "Initial page");

  const child = Bun.spawn(
    [
      gunicorn,
      "--workers",
      "1",
      "--no-control-socket",
      "--bind",
      `unix:${socket}`,
      "--pythonpath",
      wrapperDir,
      "wikibot_wsgi:app",
    ],
    {
      cwd: dir,
      stdin: "ignore",
      stdout: Bun.file(join(dir, "gunicorn.log")),
      stderr: Bun.file(join(dir, "gunicorn.err.log")),
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: dir,
        PYTHONUTF8: "1",
        PYTHONDONTWRITEBYTECODE: "1",
        WIKIBOT_REPOSITORY: repo,
        WIKIBOT_STATE_DIR: join(dir, "otterwiki"),
        WIKIBOT_SECRET_KEY: crypto.randomUUID(),
        WIKIBOT_COOKIE_NAME: "ow_demo",
        WIKIBOT_SITE_NAME: "Runtime test",
        WIKIBOT_COMMITTER_NAME: "wikibot",
        WIKIBOT_COMMITTER_EMAIL: "wikibot@wiki.test",
        // Otterwiki would read this as config and stop matching any Host; the wrapper drops it.
        SERVER_NAME: "elsewhere.invalid",
      },
    },
  );
  const wiki = { dir, repo, socket, gunicorn: child };
  await waitUntilHealthy(wiki);
  return wiki;
}

async function waitUntilHealthy(wiki: RunningWiki): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (wiki.gunicorn.exitCode !== null) break;
    const status = await fetch("http://localhost/-/healthz", { unix: wiki.socket })
      .then((response) => response.status)
      .catch(() => 0);
    if (status === 200) return;
    await Bun.sleep(25);
  }
  wiki.gunicorn.kill();
  const log = await readFile(join(wiki.dir, "gunicorn.err.log"), "utf8").catch(() => "");
  throw new Error(`Otterwiki did not become healthy:\n${log.split("\n").slice(-20).join("\n")}`);
}

type RequestOptions = { cookie?: string; referer?: string; form?: Record<string, string> };

/** Sends what the Bun proxy sends: public Host, X-Forwarded-Proto https and identity headers. */
function request(
  wiki: RunningWiki,
  path: string,
  identity: Identity,
  { cookie, referer, form }: RequestOptions = {},
): Promise<Response> {
  const headers = new Headers({
    "x-forwarded-proto": "https",
    "x-otterwiki-name": identity.name,
    "x-otterwiki-email": identity.email,
    "x-otterwiki-permissions": identity.permissions,
  });
  if (cookie) headers.set("cookie", cookie);
  if (referer) headers.set("referer", referer);
  // The proxy names the view every POST was checked for; the wrapper refuses any other.
  const post = form ? otterwikiPostOf(decodeURIComponent(path)) : null;
  if (post !== null) headers.set("x-wikibot-route", routeHeader(post));
  return fetch(`http://${new URL(publicOrigin).host}${path}`, {
    unix: wiki.socket,
    method: form ? "POST" : "GET",
    headers,
    body: form ? new URLSearchParams(form) : undefined,
    redirect: "manual",
  });
}

function findCsrfToken(html: string): string {
  const match = /name="csrf[-_]token" (?:value|content)="([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error("no CSRF token in the page");
  return match[1];
}

function sessionCookie(response: Response): string {
  const cookie = response.headers.getSetCookie().find((line) => line.startsWith("ow_demo="));
  if (!cookie) throw new Error("Otterwiki set no ow_demo session cookie");
  return cookie.split(";")[0] ?? "";
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  const child = Bun.spawn(
    [
      "git",
      "-c",
      "user.name=Test Setup",
      "-c",
      "user.email=setup@wiki.test",
      "-c",
      "commit.gpgsign=false",
      "-c",
      "core.quotepath=false",
      ...args,
    ],
    { cwd, stdout: "pipe", stderr: "pipe" },
  );
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  if (exitCode !== 0) throw new Error(`git ${args.join(" ")} failed: ${stderr}`);
  return stdout.trim();
}
