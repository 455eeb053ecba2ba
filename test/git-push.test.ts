/**
 * git push over smart HTTP with the real git client against the real server: who may push
 * (DESIGN §5), what receive-pack refuses, the pack size limit, and pushes racing page writes
 * under the wiki's write gate (DESIGN §4) without losing anything. The page rules a push must
 * meet are in git-push-rules.test.ts.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { encodePacket } from "../src/git/pkt-line.ts";
import { gitText } from "../src/repo/git.ts";
import { readHead } from "../src/repo/repository.ts";
import { repoDir } from "../src/wikis/wiki-paths.ts";
import { type Wiki, WikiStore } from "../src/wikis/wiki-store.ts";
import {
  basicAuthorization,
  commitFiles,
  createGitClient,
  type GitClient,
  nextCloneDir,
  repoUrl,
} from "./support/git.ts";
import { callTool, connectMcp, structuredOf } from "./support/mcp.ts";
import {
  addUser,
  createToken,
  createUserAndWiki,
  startTestServer,
  type TestServer,
} from "./support/server.ts";

// Starts real servers and many git processes; the 5 s default is too short on 2 cores.
setDefaultTimeout(120_000);

let t: TestServer;
let git: GitClient;
let mcp: Client;
const tokens: Record<string, string> = {};

function createUser(username: string): Promise<void> {
  return addUser(t, username);
}

async function makeToken(wiki: string, user: string, scope: "read" | "write"): Promise<string> {
  return (await createToken(t, wiki, user, scope)).token;
}

beforeAll(async () => {
  t = await startTestServer();
  git = createGitClient();
  tokens.owner = (
    await createUserAndWiki(t, { username: "olive", slug: "demo", tier: "premium" })
  ).token;
  await createUser("eddie");
  await t.adminJson("grant", "--wiki", "demo", "--user", "eddie", "--role", "editor");
  tokens.editor = await makeToken("demo", "eddie", "write");
  await createUser("vic");
  await t.adminJson("grant", "--wiki", "demo", "--user", "vic", "--role", "viewer");
  tokens.viewer = await makeToken("demo", "vic", "write");
  tokens.ownerRead = await makeToken("demo", "olive", "read");
  tokens.free = (await createUserAndWiki(t, { username: "fred", slug: "freewiki" })).token;
  tokens.lapsed = (
    await createUserAndWiki(t, { username: "lara", slug: "lapsed", tier: "premium" })
  ).token;
  await t.adminJson("set-tier", "--wiki", "lapsed", "--tier", "lapsed");
  await createUserAndWiki(t, { username: "pat", slug: "pub", public: true, tier: "premium" });
  mcp = await connectMcp(t, "demo", tokens.owner, "claude-code");
});
afterAll(async () => {
  await mcp.close();
  git.close();
  await t.close();
});

function wikiNamed(slug: string): Wiki {
  const wiki = new WikiStore(t.server.db).findBySlug(slug);
  if (wiki === null) throw new Error(`no wiki ${slug}`);
  return wiki;
}

async function cloneOf(slug: string, token: string): Promise<string> {
  const dir = nextCloneDir(git);
  await git.ok(["clone", "-q", repoUrl(t, slug, token), dir]);
  return dir;
}

/** The server repository's working tree differences from HEAD; "" when clean. */
function serverStatus(server: TestServer, slug: string): Promise<string> {
  return gitText(repoDir(server.dataDir, slug), ["status", "--porcelain", "--untracked-files=all"]);
}

/** An agent's page write through the real MCP server; returns the new revision. */
async function mcpWrite(path: string, content: string): Promise<string> {
  const result = await callTool(mcp, "write_note", { path, content });
  expect(result.isError).toBeFalsy();
  return String(structuredOf(result).revision);
}

describe("who may push", () => {
  test("an editor's push to a premium wiki lands: working tree, page index and search", async () => {
    const dir = await cloneOf("demo", tokens.editor ?? "");
    const commit = await commitFiles(
      git,
      dir,
      { "Research/Topic A.md": "# Topic A\n\nSea otters crack zanzibarshells with stones.\n" },
      "Add topic A",
    );
    const push = await git.run(["push", "origin", "main"], { cwd: dir });
    expect(push.stderr).toContain("main -> main");
    expect(push.exitCode).toBe(0);

    const repo = repoDir(t.dataDir, "demo");
    expect(readHead(repo)).toBe(commit);
    expect(readFileSync(join(repo, "Research/Topic A.md"), "utf8")).toContain("zanzibarshells");
    expect(await serverStatus(t, "demo")).toBe("");

    const page = structuredOf(await callTool(mcp, "read_note", { path: "Research/Topic A" }));
    expect(page.content).toContain("zanzibarshells");
    expect(page.revision).toBe(commit);
    expect(page.author).toBe("Test Pusher");
    const found = structuredOf(await callTool(mcp, "search", { query: "zanzibarshells" }));
    expect(JSON.stringify(found.hits)).toContain('"path":"Research/Topic A"');
    const wiki = wikiNamed("demo");
    const queued = t.server.db
      .query("SELECT path FROM reindex_queue WHERE wiki_id = ? AND path = ?")
      .all(wiki.id, "Research/Topic A");
    expect(queued).toHaveLength(1);
  });

  test("a free wiki refuses pushes on the advertisement, with a message git shows", async () => {
    const dir = await cloneOf("freewiki", tokens.free ?? "");
    const before = readHead(repoDir(t.dataDir, "freewiki"));
    await commitFiles(git, dir, { "Free.md": "free" }, "try to push");
    const push = await git.run(["push", "origin", "main"], { cwd: dir });
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toContain("remote: freewiki is on the free plan: git access is read-only;");
    expect(readHead(repoDir(t.dataDir, "freewiki"))).toBe(before);
  });

  test("a free wiki refuses the push request itself too (403, plain text)", async () => {
    const response = await fetch(`${t.wikiOrigin("freewiki")}/repo.git/git-receive-pack`, {
      method: "POST",
      headers: {
        authorization: basicAuthorization(tokens.free ?? ""),
        "content-type": "application/x-git-receive-pack-request",
      },
      body: "0000",
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("content-type")).toStartWith("text/plain");
    expect(await response.text()).toContain("free plan");
  });

  test("a lapsed wiki can be cloned but not pushed to", async () => {
    const dir = await cloneOf("lapsed", tokens.lapsed ?? "");
    await commitFiles(git, dir, { "Late.md": "late" }, "too late");
    const push = await git.run(["push", "origin", "main"], { cwd: dir });
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toContain(
      "remote: lapsed's subscription has lapsed: the wiki is read-only",
    );
  });

  test("a viewer cannot push, even with a write-scoped token", async () => {
    const dir = await cloneOf("demo", tokens.viewer ?? "");
    await commitFiles(git, dir, { "Viewer.md": "v" }, "viewer edit");
    const push = await git.run(["push", "origin", "main"], { cwd: dir });
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toContain("remote: your role on demo is viewer:");
    expect(push.stderr).toContain("needs editor or owner");
  });

  test("a read-scoped token cannot push, even the owner's", async () => {
    const dir = await cloneOf("demo", tokens.ownerRead ?? "");
    await commitFiles(git, dir, { "Read.md": "r" }, "read token edit");
    const push = await git.run(["push", "origin", "main"], { cwd: dir });
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toContain("remote: this token is read-only");
  });

  test("pushing to a public wiki without credentials asks for them (401)", async () => {
    const response = await fetch(
      `${t.wikiOrigin("pub")}/repo.git/info/refs?service=git-receive-pack`,
    );
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toStartWith('Basic realm="pub"');
    const dir = nextCloneDir(git);
    await git.ok(["clone", "-q", repoUrl(t, "pub"), dir]);
    await commitFiles(git, dir, { "Anon.md": "a" }, "anonymous edit");
    const push = await git.run(["push", "origin", "main"], { cwd: dir });
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toContain("could not read Username");
  });
});

describe("what receive-pack refuses", () => {
  test("force-push, deleting main, other branches and tags are refused; nothing changes", async () => {
    const repo = repoDir(t.dataDir, "demo");
    const dir = await cloneOf("demo", tokens.owner ?? "");
    const before = readHead(repo);
    await git.ok(["checkout", "-q", "--orphan", "rewrite"], { cwd: dir });
    await commitFiles(git, dir, { "Home.md": "history rewritten" }, "rewrite history");

    const force = await git.run(["push", "--force", "origin", "rewrite:main"], { cwd: dir });
    expect(force.exitCode).not.toBe(0);
    expect(force.stderr).toContain("! [remote rejected] rewrite -> main (non-fast-forward)");

    const deletion = await git.run(["push", "origin", ":main"], { cwd: dir });
    expect(deletion.exitCode).not.toBe(0);
    expect(deletion.stderr).toContain("[remote rejected] main");

    await git.ok(["checkout", "-q", "main"], { cwd: dir });
    await commitFiles(git, dir, { "Branch.md": "b" }, "on a branch");
    await git.ok(["tag", "v1"], { cwd: dir });
    const branch = await git.run(["push", "origin", "HEAD:refs/heads/feature", "v1"], { cwd: dir });
    expect(branch.exitCode).not.toBe(0);
    expect(branch.stderr).toContain("HEAD -> feature (deny updating a hidden ref)");
    expect(branch.stderr).toContain("v1 -> v1 (deny updating a hidden ref)");

    expect(readHead(repo)).toBe(before);
    expect((await gitText(repo, ["for-each-ref", "--format=%(refname)"])).trim()).toBe(
      "refs/heads/main",
    );
    expect(await serverStatus(t, "demo")).toBe("");
  });

  test("an image is accepted, stored byte for byte and left out of the page index", async () => {
    const dir = await cloneOf("demo", tokens.owner ?? "");
    // Over http.postBuffer (1 MiB), so git streams it chunked after an auth pre-flight POST.
    const image = new Uint8Array([0x89, 0x50, 0x4e, 0x47, ...randomBytes(1_500_000)]);
    await commitFiles(
      git,
      dir,
      { "images/otter.png": image, "Gallery.md": "# Gallery\n\n![otter](images/otter.png)\n" },
      "Add an image",
    );
    const push = await git.run(["push", "origin", "main"], {
      cwd: dir,
      env: { GIT_TRACE_CURL: "1", GIT_TRACE_CURL_NO_DATA: "1" },
    });
    expect(push.exitCode).toBe(0);
    expect(push.stderr).toMatch(/Send header: Transfer-Encoding: chunked/i);

    const repo = repoDir(t.dataDir, "demo");
    expect(new Uint8Array(readFileSync(join(repo, "images/otter.png")))).toEqual(image);
    const fresh = await cloneOf("demo", tokens.owner ?? "");
    expect(new Uint8Array(readFileSync(join(fresh, "images/otter.png")))).toEqual(image);
    expect(await git.ok(["ls-files", "images"], { cwd: fresh })).toBe("images/otter.png\n");
    const paths = (await t.server.pages.list(wikiNamed("demo"))).map((page) => page.path);
    expect(paths).toContain("Gallery");
    expect(paths.some((path) => path.includes("otter"))).toBe(false);
  });

  test("a pushed symlink is refused: no other way of writing makes links", async () => {
    const repo = repoDir(t.dataDir, "demo");
    const before = readHead(repo);
    const dir = await cloneOf("demo", tokens.owner ?? "");
    symlinkSync("/etc/passwd", join(dir, "Secrets.md"));
    await git.ok(["add", "Secrets.md"], { cwd: dir });
    await git.ok(["commit", "-q", "-m", "a symlink"], { cwd: dir });
    const push = await git.run(["push", "origin", "main"], { cwd: dir });
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toContain('remote: refused: "Secrets.md": a symbolic link');
    expect(push.stderr).toContain("! [remote rejected] main -> main (pre-receive hook declined)");
    expect(readHead(repo)).toBe(before);
    expect(existsSync(join(repo, "Secrets.md"))).toBe(false);
    expect(await serverStatus(t, "demo")).toBe("");
  });

  test("the auth pre-flight POST (a bare flush) gets an empty 200", async () => {
    const response = await fetch(`${t.wikiOrigin("demo")}/repo.git/git-receive-pack`, {
      method: "POST",
      headers: {
        authorization: basicAuthorization(tokens.owner ?? ""),
        "content-type": "application/x-git-receive-pack-request",
      },
      body: "0000",
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/x-git-receive-pack-result");
    expect(await response.text()).toBe("");
  });
});

describe("pushes and MCP writes share the write gate", () => {
  test("a push behind an MCP write is rejected, then lands after a pull; nothing is lost", async () => {
    const wiki = wikiNamed("demo");
    const dir = await cloneOf("demo", tokens.editor ?? "");
    await mcpWrite("Race/Agent", "agent notes\n");
    await commitFiles(git, dir, { "Race/Human.md": "human notes\n" }, "human edit");

    const first = await git.run(["push", "origin", "main"], { cwd: dir });
    expect(first.exitCode).not.toBe(0);
    expect(first.stderr).toContain("[rejected]");
    expect(first.stderr).toContain("fetch first");

    await git.ok(["pull", "-q", "--no-rebase", "--no-edit", "origin", "main"], { cwd: dir });
    await git.ok(["push", "-q", "origin", "main"], { cwd: dir });

    expect((await t.server.pages.read(wiki, "Race/Agent")).content).toBe("agent notes\n");
    expect((await t.server.pages.read(wiki, "Race/Human")).content).toBe("human notes\n");
    const log = await gitText(repoDir(t.dataDir, "demo"), ["log", "--format=%s", "-5"]);
    expect(log).toContain("human edit");
    expect(log).toContain("Create Race/Agent");
    expect(await serverStatus(t, "demo")).toBe("");
  });

  test("a push and an MCP write at the same time both end up in history", async () => {
    const wiki = wikiNamed("demo");
    const dir = await cloneOf("demo", tokens.editor ?? "");
    await commitFiles(git, dir, { "Race/Concurrent Human.md": "human\n" }, "concurrent human");
    const [push] = await Promise.all([
      git.run(["push", "origin", "main"], { cwd: dir }),
      mcpWrite("Race/Concurrent Agent", "agent\n"),
    ]);
    let landed = push.exitCode === 0;
    for (let attempt = 0; !landed && attempt < 3; attempt++) {
      // The loser is told to fetch first (or that main moved), pulls, and pushes again.
      expect(push.stderr).toMatch(/fetch first|failed to update ref|non-fast-forward/);
      await git.ok(["pull", "-q", "--no-rebase", "--no-edit", "origin", "main"], { cwd: dir });
      landed = (await git.run(["push", "origin", "main"], { cwd: dir })).exitCode === 0;
    }
    expect(landed).toBe(true);
    expect((await t.server.pages.read(wiki, "Race/Concurrent Agent")).content).toBe("agent\n");
    expect((await t.server.pages.read(wiki, "Race/Concurrent Human")).content).toBe("human\n");
    expect(await serverStatus(t, "demo")).toBe("");
  });

  test("a push whose base moved after the advertisement is refused and leaves the tree alone", async () => {
    // git checks `fetch first` itself when it sees main moved; this request skips that check,
    // as a push racing a page write between its two HTTP requests would.
    const wiki = wikiNamed("demo");
    const repo = repoDir(t.dataDir, "demo");
    const dir = await cloneOf("demo", tokens.owner ?? "");
    const base = (await git.ok(["rev-parse", "HEAD"], { cwd: dir })).trim();
    const pushed = await commitFiles(git, dir, { "Stale/Pushed.md": "pushed\n" }, "stale push");
    await mcpWrite("Stale/Agent", "agent wins\n");
    const agentHead = readHead(repo);

    const pack = Bun.spawn(["git", "pack-objects", "--revs", "--stdout", "-q"], {
      cwd: dir,
      stdin: new TextEncoder().encode(`${pushed}\n^${base}\n`),
      stdout: "pipe",
    });
    const body = new Uint8Array([
      ...encodePacket(`${base} ${pushed} refs/heads/main\0report-status side-band-64k agent=test`),
      ...new TextEncoder().encode("0000"),
      ...(await new Response(pack.stdout).bytes()),
    ]);
    const response = await fetch(`${t.wikiOrigin("demo")}/repo.git/git-receive-pack`, {
      method: "POST",
      headers: {
        authorization: basicAuthorization(tokens.owner ?? ""),
        "content-type": "application/x-git-receive-pack-request",
      },
      body,
    });
    expect(response.status).toBe(200);
    const report = await response.text();
    expect(report).toContain("main moved on while you were pushing");
    expect(report).toContain("ng refs/heads/main failed to update ref");

    expect(readHead(repo)).toBe(agentHead);
    expect(await serverStatus(t, "demo")).toBe("");
    expect(readFileSync(join(repo, "Stale/Agent.md"), "utf8")).toBe("agent wins\n");
    expect(existsSync(join(repo, "Stale/Pushed.md"))).toBe(false);
    expect((await t.server.pages.read(wiki, "Stale/Agent")).content).toBe("agent wins\n");
  });
});

describe("pack size limit", () => {
  let small: TestServer;
  let smallToken: string;

  beforeAll(async () => {
    small = await startTestServer({ GIT_MAX_PACK_BYTES: String(1024 * 1024) });
    smallToken = (
      await createUserAndWiki(small, { username: "sam", slug: "tiny", tier: "premium" })
    ).token;
  });
  afterAll(() => small.close());

  test("a pack over GIT_MAX_PACK_BYTES is refused with git's own clear error, nothing kept", async () => {
    const repo = repoDir(small.dataDir, "tiny");
    const before = readHead(repo);
    const dir = nextCloneDir(git);
    await git.ok(["clone", "-q", repoUrl(small, "tiny", smallToken), dir]);
    await commitFiles(git, dir, { "big.bin": randomBytes(3_000_000) }, "too big");

    const push = await git.run(["push", "origin", "main"], { cwd: dir });
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toContain("remote: fatal: pack exceeds maximum allowed size");
    expect(push.stderr).toContain("! [remote rejected] main -> main (unpacker error)");
    expect(readHead(repo)).toBe(before);
    expect(await serverStatus(small, "tiny")).toBe("");
    expect(readdirSync(join(small.dataDir, "tmp", "git-push"))).toEqual([]);

    // The same clone can still push once the oversized commit is gone.
    await git.ok(["reset", "-q", "--hard", "HEAD~1"], { cwd: dir });
    const fits = await commitFiles(git, dir, { "Small.md": "fits\n" }, "small enough");
    await git.ok(["push", "-q", "origin", "main"], { cwd: dir });
    expect(readHead(repo)).toBe(fits);
  });
});
