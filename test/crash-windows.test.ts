/**
 * The crash windows of DESIGN §4, each reproduced on a real data dir with real git: a commit
 * that landed without its index update, a half-finished save left in git's index, leftovers in
 * the working tree, a page over the size limit that arrived before the rules, and an edit that
 * multiplies a page's size. "A fresh process" is a fresh set of stores on the same data dir,
 * which is exactly what a restarted server starts from.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_PAGE_BYTES } from "../src/pages/page-rules.ts";
import type { ChangeContext } from "../src/pages/page-store.ts";
import { gitText, runGit } from "../src/repo/git.ts";
import { openStores } from "../src/stores.ts";
import type { Wiki } from "../src/wikis/wiki-store.ts";
import { pageError } from "./support/page-error.ts";
import { makeDataDir, runAdmin, testDid } from "./support/server.ts";

setDefaultTimeout(60_000);

const dataDir = makeDataDir();
const env = { DATA_DIR: dataDir, PUBLIC_URL: "http://localhost:8080" };
const who: ChangeContext = {
  author: { name: "Agent Smith", email: "smith@users.wikibot.invalid" },
  client: "mcp/test",
};
let slugCounter = 0;

beforeAll(async () => {
  const user = await runAdmin(env, [
    "create-user",
    "--username",
    "owner",
    "--did",
    testDid(),
    "--handle",
    "owner.bsky.social",
  ]);
  expect(user.exitCode).toBe(0);
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** A new wiki, and a fresh process's stores (nothing recovered or synced in memory yet). */
async function freshWiki(): Promise<{ slug: string; repo: string }> {
  const slug = `crash-${++slugCounter}`;
  const made = await runAdmin(env, ["create-wiki", "--slug", slug, "--owner", "owner"]);
  expect(made.exitCode).toBe(0);
  return { slug, repo: join(dataDir, "wikis", slug, "repo") };
}

function freshProcess(slug: string) {
  const stores = openStores(dataDir);
  const wiki = stores.wikis.findBySlug(slug);
  if (wiki === null) throw new Error(`no wiki ${slug}`);
  return { ...stores, wiki: wiki as Wiki };
}

/** A commit made behind the index's back, as a push or browser save whose process died before
 * the index caught up leaves it. */
async function commitOutsideTheGate(repo: string, file: string, content: string): Promise<string> {
  writeFileSync(join(repo, file), content);
  await runGit(repo, ["add", "--", file]);
  await runGit(repo, ["commit", "-q", "-m", `pushed ${file}`], {
    env: {
      GIT_AUTHOR_NAME: "Pusher",
      GIT_AUTHOR_EMAIL: "pusher@example.invalid",
      GIT_COMMITTER_NAME: "Pusher",
      GIT_COMMITTER_EMAIL: "pusher@example.invalid",
    },
  });
  return (await gitText(repo, ["rev-parse", "HEAD"])).trim();
}

describe("a commit that landed without its index update", () => {
  test("the first write after restart cannot be based on the pre-crash revision", async () => {
    const { slug, repo } = await freshWiki();
    const before = freshProcess(slug);
    const preCrash = await before.pages.write(before.wiki, {
      ...who,
      path: "Plan",
      content: "# Plan\n\nstep one\n",
    });
    before.db.close();
    const pushed = await commitOutsideTheGate(repo, "Plan.md", "# Plan\n\nstep one\nstep two\n");

    const after = freshProcess(slug);
    const refused = await pageError(
      after.pages.write(after.wiki, {
        ...who,
        path: "Plan",
        content: "# Plan\n\noverwritten\n",
        expectedRevision: preCrash.revision,
      }),
    );
    expect(refused.code).toBe("conflict");
    expect(refused.details.currentRevision).toBe(pushed);
    expect(readFileSync(join(repo, "Plan.md"), "utf8")).toContain("step two");
    after.db.close();
  });

  test("an append after restart keeps the change that landed before the crash", async () => {
    const { slug, repo } = await freshWiki();
    const before = freshProcess(slug);
    await before.pages.write(before.wiki, { ...who, path: "Log", content: "# Log\n\n- one\n" });
    before.db.close();
    await commitOutsideTheGate(repo, "Log.md", "# Log\n\n- one\n- pushed\n");

    const after = freshProcess(slug);
    await after.pages.edit(after.wiki, {
      ...who,
      path: "Log",
      edit: { kind: "append", text: "- appended" },
    });
    const text = await gitText(repo, ["show", "HEAD:Log.md"]);
    expect(text).toBe("# Log\n\n- one\n- pushed\n- appended\n");
    expect((await after.pages.read(after.wiki, "Log")).content).toBe(text);
    after.db.close();
  });

  test("a commit behind the index's back in a running process is caught up before a write", async () => {
    const { slug, repo } = await freshWiki();
    const running = freshProcess(slug);
    const first = await running.pages.write(running.wiki, {
      ...who,
      path: "Same",
      content: "a\n",
    });
    await commitOutsideTheGate(repo, "Same.md", "a\nb\n");
    const refused = await pageError(
      running.pages.write(running.wiki, {
        ...who,
        path: "Same",
        content: "c\n",
        expectedRevision: first.revision,
      }),
    );
    expect(refused.code).toBe("conflict");
    running.db.close();
  });
});

describe("leftovers of a writer that died", () => {
  test("a change staged by a dead writer is never committed under the next author", async () => {
    const { slug, repo } = await freshWiki();
    const running = freshProcess(slug);
    await running.pages.write(running.wiki, { ...who, path: "Mine", content: "mine\n" });
    // What a browser save killed between `git add` and `git commit` leaves behind.
    writeFileSync(join(repo, "Half saved.md"), "half-finished text of someone else\n");
    await runGit(repo, ["add", "--", "Half saved.md"]);

    const result = await running.pages.write(running.wiki, {
      ...who,
      path: "Mine",
      content: "mine, changed\n",
    });
    const files = await gitText(repo, ["show", "--name-only", "--format=", result.revision]);
    expect(files.trim().split("\n")).toEqual(["Mine.md"]);
    expect((await gitText(repo, ["log", "-1", "--format=%an", result.revision])).trim()).toBe(
      "Agent Smith",
    );
    // The index holds what git holds: no page for the uncommitted file.
    expect((await running.pages.list(running.wiki)).map((page) => page.path)).not.toContain(
      "Half saved",
    );
    running.db.close();
  });

  test("a fresh process repairs the tree and removes temp files before the first read", async () => {
    const { slug, repo } = await freshWiki();
    const head = (await gitText(repo, ["rev-parse", "HEAD"])).trim();
    writeFileSync(join(repo, "Home.md"), "unacknowledged half-written text\n");
    writeFileSync(join(repo, "Stray.md"), "never committed\n");
    writeFileSync(join(repo, ".git", "wikibot-abc123.tmp"), "partial");
    writeFileSync(join(repo, ".git", "index.lock"), "");

    const after = freshProcess(slug);
    const home = await after.pages.read(after.wiki, "Home");
    expect(home.content).not.toContain("unacknowledged");
    expect(readFileSync(join(repo, "Home.md"), "utf8")).toBe(home.content);
    expect(existsSync(join(repo, "Stray.md"))).toBe(false);
    expect(existsSync(join(repo, ".git", "wikibot-abc123.tmp"))).toBe(false);
    expect(existsSync(join(repo, ".git", "index.lock"))).toBe(false);
    expect((await gitText(repo, ["status", "--porcelain"])).trim()).toBe("");
    expect((await gitText(repo, ["rev-parse", "HEAD"])).trim()).toBe(head);
    after.db.close();
  });
});

describe("a page over the size limit already in the repository", () => {
  test("is listed with its size, never loaded, and refused clearly for reading and editing", async () => {
    const { slug, repo } = await freshWiki();
    const size = 3 * MAX_PAGE_BYTES;
    await commitOutsideTheGate(repo, "Huge.md", `# Huge\n${"x".repeat(size - 8)}\n`);
    const stores = freshProcess(slug);
    const listed = (await stores.pages.list(stores.wiki)).find((page) => page.path === "Huge");
    expect(listed?.size).toBe(size);
    expect(stores.pages.index.get(stores.wiki.id, "Huge")?.body).toBe("");
    const read = await pageError(stores.pages.read(stores.wiki, "Huge"));
    expect(read.code).toBe("too_large");
    expect(read.message).toContain(`${size} bytes`);
    const atRevision = await pageError(stores.pages.read(stores.wiki, "Huge", "HEAD"));
    expect(atRevision.code).toBe("too_large");
    const edit = await pageError(
      stores.pages.edit(stores.wiki, {
        ...who,
        path: "Huge",
        edit: { kind: "append", text: "more" },
      }),
    );
    expect(edit.code).toBe("too_large");
    // Replacing it whole with something within the limit works, and it reads again.
    await stores.pages.write(stores.wiki, { ...who, path: "Huge", content: "# Huge\n\nsmall\n" });
    expect((await stores.pages.read(stores.wiki, "Huge")).content).toBe("# Huge\n\nsmall\n");
    stores.db.close();
  });

  test("moving it keeps its size in the index", async () => {
    const { slug, repo } = await freshWiki();
    const size = 2 * MAX_PAGE_BYTES;
    await commitOutsideTheGate(repo, "Big.md", `${"y".repeat(size - 1)}\n`);
    const stores = freshProcess(slug);
    await stores.pages.move(stores.wiki, { ...who, from: "Big", to: "Moved" });
    const moved = (await stores.pages.list(stores.wiki)).find((page) => page.path === "Moved");
    expect(moved?.size).toBe(size);
    expect(await gitText(repo, ["show", "--name-status", "--format=", "HEAD"])).toContain(
      "Moved.md",
    );
    stores.db.close();
  });
});

describe("edits that multiply a page", () => {
  test("chained replace_all edits are refused as soon as a step would pass the limit", async () => {
    const { slug } = await freshWiki();
    const stores = freshProcess(slug);
    await stores.pages.write(stores.wiki, {
      ...who,
      path: "Bomb",
      content: `${"e".repeat(1000)}\n`,
    });
    const step = { oldText: "e", newText: "eeeeeeeeee", replaceAll: true };
    const refused = await pageError(
      stores.pages.edit(stores.wiki, {
        ...who,
        path: "Bomb",
        edit: { kind: "replace", replacements: [step, step, step, step, step] },
      }),
    );
    expect(refused.code).toBe("too_large");
    expect(refused.message).toContain("edit 3");
    expect((await stores.pages.read(stores.wiki, "Bomb")).content).toBe(`${"e".repeat(1000)}\n`);
    stores.db.close();
  });
});
