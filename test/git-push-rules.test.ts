/**
 * A push meets the page rules of every other write path (issue 8, defect 4): page size and
 * "text", page names and reserved names, case twins, no gitlinks or links, attachment size. The
 * whole push is refused with a `remote:` line naming the file, and nothing lands: HEAD, the
 * working tree and the page index stay as they were. Real git client, real server.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gitText } from "../src/repo/git.ts";
import { readHead } from "../src/repo/repository.ts";
import type { Wiki } from "../src/wikis/wiki-store.ts";
import {
  commitFiles,
  type GitClient,
  type GitRun,
  type PushWiki,
  startPushWiki,
} from "./support/git.ts";
import type { TestServer } from "./support/server.ts";

// Real server, many git processes, and one 150 MB file on the client side.
setDefaultTimeout(180_000);

let t: TestServer;
let git: GitClient;
let repo: string;
let target: PushWiki;

beforeAll(async () => {
  target = await startPushWiki("rules", "rita");
  ({ t, git, repo } = target);
});
afterAll(() => target.close());

const wiki = (): Wiki => target.wiki();
const freshClone = (): Promise<string> => target.freshClone();

async function pagePaths(): Promise<string[]> {
  return (await t.server.pages.list(wiki())).map((page) => page.path);
}

/**
 * Pushes the clone's main and expects the whole push refused by the page rules: git fails, the
 * hook's `remote:` lines include every one of `mentions`, and the server is exactly as before.
 */
async function expectRefused(
  dir: string,
  mentions: readonly string[],
  // An object over every size limit is refused before the gate (pack-scan.ts), not by the hook.
  rejection = "pre-receive hook declined",
): Promise<GitRun> {
  const head = readHead(repo);
  const pages = await pagePaths();
  const push = await git.run(["push", "origin", "main"], { cwd: dir });
  expect(push.exitCode).not.toBe(0);
  expect(push.stderr).toContain(`! [remote rejected] main -> main (${rejection})`);
  const remote = push.stderr
    .split("\n")
    .filter((line) => line.startsWith("remote: "))
    .join("\n");
  expect(remote).toContain("remote: refused: ");
  expect(remote).toContain("remote: nothing was pushed");
  for (const mention of mentions) expect(remote).toContain(mention);
  expect(readHead(repo)).toBe(head);
  expect(await gitText(repo, ["status", "--porcelain", "--untracked-files=all"])).toBe("");
  expect(await pagePaths()).toEqual(pages);
  // The quarantine is gone with the refusal: no pushed object stays behind in the repository.
  expect(
    readdirSync(join(repo, ".git", "objects")).filter((name) => name.includes("incoming")),
  ).toEqual([]);
  return push;
}

describe("page size and content", () => {
  test("a page over the page limit is refused, naming the file; nothing lands", async () => {
    const dir = await freshClone();
    // Text that does not compress away: base64 of random bytes, 1.4 MB.
    const big = `# Big\n\n${randomBytes(1_050_000).toString("base64")}\n`;
    await commitFiles(git, dir, { "Notes/Big.md": big, "Notes/Fine.md": "fine\n" }, "big page");
    await expectRefused(dir, ['"Notes/Big.md"', `page content is ${big.length} bytes`, "1000000"]);
    expect(await pagePaths()).not.toContain("Notes/Fine");
  });

  test("150 MB of one repeated letter (a few hundred KB on the wire) is refused by its size", async () => {
    const dir = await freshClone();
    writeFileSync(join(dir, "Huge.md"), Buffer.alloc(150_000_000, "a"));
    await git.ok(["add", "Huge.md"], { cwd: dir });
    await git.ok(["commit", "-q", "-m", "huge page"], { cwd: dir });
    await expectRefused(dir, ["a file of 150000000 bytes"], "object over the size limit");
    expect(existsSync(join(repo, "Huge.md"))).toBe(false);
  });

  test("a page holding a NUL byte is refused: pages are text", async () => {
    const dir = await freshClone();
    await commitFiles(git, dir, { "Binary.md": "text\u0000more\n" }, "nul");
    const push = await expectRefused(dir, ['"Binary.md"', "NUL"]);
    // The hook quotes the push's request id, the one the server logged it under.
    expect(push.stderr).toMatch(/^remote: request id: [A-Za-z0-9._-]{16}\s*$/m);
  });

  test("an over-size page only in an intermediate commit is refused too", async () => {
    const dir = await freshClone();
    const big = randomBytes(800_000).toString("base64");
    await commitFiles(git, dir, { "Passing.md": big }, "add a big page");
    await git.ok(["rm", "-q", "Passing.md"], { cwd: dir });
    await git.ok(["commit", "-q", "-m", "and remove it again"], { cwd: dir });
    await expectRefused(dir, ['"Passing.md"', "page content is"]);
  });

  test("a file other than a page over the upload limit (MAX_BODY_BYTES) is refused", async () => {
    const dir = await freshClone();
    await commitFiles(git, dir, { "Gallery/big.png": randomBytes(4_500_000) }, "big image");
    await expectRefused(
      dir,
      ["a file of 4500000 bytes; files are limited to 4194304 bytes"],
      "object over the size limit",
    );
  });
});

describe("names", () => {
  test("case twins in one push are refused: Foo.md and foo.md", async () => {
    const dir = await freshClone();
    await commitFiles(git, dir, { "Foo.md": "upper\n", "foo.md": "lower\n" }, "twins");
    await expectRefused(dir, ['"Foo.md" and "foo.md" differ only in letter case']);
  });

  test("case twins as folders are refused: Dir/a.md and dir/b.md", async () => {
    const dir = await freshClone();
    await commitFiles(git, dir, { "Dir/a.md": "a\n", "dir/b.md": "b\n" }, "folder twins");
    await expectRefused(dir, ['"Dir" and "dir" differ only in letter case']);
  });

  test("a case twin of a page already in the wiki is refused", async () => {
    const dir = await freshClone();
    await commitFiles(git, dir, { "home.md": "a second home\n" }, "twin of Home");
    await expectRefused(dir, ['"Home.md" and "home.md"']);
  });

  test("reserved page names are refused: mcp.md, api.md, mcp/Connect.md", async () => {
    const dir = await freshClone();
    await commitFiles(
      git,
      dir,
      { "mcp.md": "m\n", "api.md": "a\n", "mcp/Connect.md": "c\n" },
      "reserved",
    );
    await expectRefused(dir, ['"mcp.md"', '"api.md"', '"mcp/Connect.md"', "reserved"]);
  });

  test("a page name the browser would rewrite is refused: a?b.md", async () => {
    const dir = await freshClone();
    await commitFiles(git, dir, { "a?b.md": "q\n" }, "question mark");
    await expectRefused(dir, ['"a?b.md"', "page names cannot hold"]);
  });

  test("git's own files and folders that no page could name are refused", async () => {
    const dir = await freshClone();
    await commitFiles(
      git,
      dir,
      { ".gitattributes": "* text eol=crlf\n", "mcp/logo.png": "png", "v1.2/x.png": "x" },
      "odd files",
    );
    await expectRefused(dir, ['".gitattributes"', '"mcp/logo.png"', '"v1.2/x.png"']);
  });
});

describe("only plain files", () => {
  test("a gitlink (submodule entry) at Sub.md is refused", async () => {
    const dir = await freshClone();
    const head = (await git.ok(["rev-parse", "HEAD"], { cwd: dir })).trim();
    await git.ok(["update-index", "--add", "--cacheinfo", `160000,${head},Sub.md`], { cwd: dir });
    await git.ok(["commit", "-q", "-m", "a gitlink"], { cwd: dir });
    await expectRefused(dir, ['"Sub.md"', "gitlink"]);
  });
});

describe("what the rules let through", () => {
  test("a push of 300 pages, a subfolder and an image still lands and is searchable", async () => {
    const dir = await freshClone();
    const files: Record<string, string | Uint8Array> = {};
    for (let index = 0; index < 300; index++) {
      files[`Bulk/Page ${index}.md`] = `# Page ${index}\n\nquokkabulk number ${index}\n`;
    }
    files["Bulk/Page 7/Deeper.md"] = "# Deeper\n";
    files["Bulk/Page 7/photo.png"] = randomBytes(200_000);
    const commit = await commitFiles(git, dir, files, "bulk pages");
    const push = await git.run(["push", "origin", "main"], { cwd: dir });
    expect(push.stderr).not.toContain("refused");
    expect(push.exitCode).toBe(0);
    expect(readHead(repo)).toBe(commit);
    const paths = await pagePaths();
    expect(paths).toContain("Bulk/Page 299");
    expect(paths).toContain("Bulk/Page 7/Deeper");
    const found = await t.server.pages.search(wiki(), "quokkabulk", 100);
    expect(found.hits.length).toBeGreaterThan(0);
    expect(found.hits.every((hit) => hit.path.startsWith("Bulk/Page "))).toBe(true);
  });
});
