/** The page store end to end: a real server's data dir, real git, real SQLite. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import type { ChangeContext } from "../src/pages/page-store.ts";
import { gitText } from "../src/repo/git.ts";
import { type Wiki, WikiStore } from "../src/wikis/wiki-store.ts";
import { pageError } from "./support/page-error.ts";
import { createUserAndWiki, startTestServer, type TestServer } from "./support/server.ts";

// Starts real processes (server, git, Otterwiki); the 5 s default is too short on 2 cores.
setDefaultTimeout(120_000);

let t: TestServer;
let wiki: Wiki;
const who: ChangeContext = {
  author: { name: "Ada Lovelace", email: "ada@users.wikibot.invalid" },
  client: "test",
};

beforeAll(async () => {
  t = await startTestServer();
  await createUserAndWiki(t, { username: "ada", slug: "notes" });
  const found = new WikiStore(t.server.db).findBySlug("notes");
  if (found === null) throw new Error("wiki missing");
  wiki = found;
});
afterAll(() => t.close());

describe("bootstrap", () => {
  test("a new wiki holds Home, the agent guide and Connect with its real URLs", async () => {
    const pages = (await t.server.pages.list(wiki)).map((page) => page.path);
    expect(pages).toEqual(["Agent Guide", "Connect", "Home"]);
    const connect = await t.server.pages.read(wiki, "Connect");
    expect(connect.content).toContain(`http://notes.localhost:${t.port}/mcp`);
    expect(connect.content).toContain(`git clone http://notes.localhost:${t.port}/repo.git`);
    expect(connect.content).toContain(
      `claude mcp add --transport http notes http://notes.localhost:${t.port}/mcp`,
    );
    const log = await gitText(t.server.pages.repo(wiki), ["log", "--format=%an|%s"]);
    expect(log.trim()).toBe("ada.bsky.social|Create wiki notes");
  });
});

describe("round trips", () => {
  test("write, read, list, history, diff, revert, move, delete", async () => {
    const pages = t.server.pages;
    const created = await pages.write(wiki, {
      ...who,
      path: "Research/Topic A",
      content: "# Topic A\n\nfirst\n",
      expectedRevision: null,
    });
    expect(created.created).toBe(true);
    const read = await pages.read(wiki, "Research/Topic A");
    expect(read).toMatchObject({
      content: "# Topic A\n\nfirst\n",
      revision: created.revision,
      totalLines: 3,
      title: "Topic A",
    });

    const second = await pages.write(wiki, {
      ...who,
      path: "Research/Topic A",
      content: "# Topic A\n\nsecond\n",
      expectedRevision: created.revision,
      message: "Say second",
    });
    expect(second.previousRevision).toBe(created.revision);
    const same = await pages.write(wiki, {
      ...who,
      path: "Research/Topic A",
      content: "# Topic A\n\nsecond\n",
    });
    expect(same.changed).toBe(false);
    expect(same.revision).toBe(second.revision);

    const old = await pages.read(wiki, "Research/Topic A", created.revision);
    expect(old.content).toBe("# Topic A\n\nfirst\n");
    const history = await pages.history(wiki, { path: "Research/Topic A" });
    expect(history.map((entry) => entry.commit)).toEqual([second.revision, created.revision]);
    expect(history[0]).toMatchObject({
      authorName: "Ada Lovelace",
      authorEmail: "ada@users.wikibot.invalid",
      message: "Say second\n\nClient: test",
    });
    const diff = await pages.diff(wiki, { path: "Research/Topic A", from: created.revision });
    expect(diff).toContain("-first");
    expect(diff).toContain("+second");

    const reverted = await pages.revert(wiki, {
      ...who,
      path: "Research/Topic A",
      revision: created.revision,
    });
    expect((await pages.read(wiki, "Research/Topic A")).content).toBe("# Topic A\n\nfirst\n");
    expect(reverted.previousRevision).toBe(second.revision);

    const moved = await pages.move(wiki, {
      ...who,
      from: "Research/Topic A",
      to: "Archive/Topic A",
    });
    expect((await pages.list(wiki, "Archive/")).map((page) => page.path)).toEqual([
      "Archive/Topic A",
    ]);
    expect((await pages.read(wiki, "Archive/Topic A")).revision).toBe(moved.revision);
    expect((await pageError(pages.read(wiki, "Research/Topic A"))).code).toBe("not_found");

    await pages.delete(wiki, { ...who, path: "Archive/Topic A" });
    expect((await pages.list(wiki, "Archive/")).length).toBe(0);
    const files = await gitText(pages.repo(wiki), ["ls-files"]);
    expect(files).not.toContain("Topic A");
    expect(await gitText(pages.repo(wiki), ["status", "--porcelain"])).toBe("");
  });

  test("a stale expected revision is a conflict carrying the current revision", async () => {
    const pages = t.server.pages;
    const first = await pages.write(wiki, { ...who, path: "Contested", content: "one\n" });
    const second = await pages.write(wiki, {
      ...who,
      path: "Contested",
      content: "two\n",
      expectedRevision: first.revision,
    });
    const conflict = await pageError(
      pages.write(wiki, {
        ...who,
        path: "Contested",
        content: "three\n",
        expectedRevision: first.revision,
      }),
    );
    expect(conflict.code).toBe("conflict");
    expect(conflict.details.currentRevision).toBe(second.revision);
    expect((await pages.read(wiki, "Contested")).content).toBe("two\n");
    const exists = await pageError(
      pages.write(wiki, { ...who, path: "Contested", content: "x", expectedRevision: null }),
    );
    expect(exists.code).toBe("conflict");
    const gone = await pageError(
      pages.delete(wiki, { ...who, path: "Contested", expectedRevision: first.revision }),
    );
    expect(gone.code).toBe("conflict");
  });

  test("a missing page names the closest existing pages", async () => {
    const error = await pageError(t.server.pages.read(wiki, "Agent Guid"));
    expect(error.code).toBe("not_found");
    expect(error.details.suggestions?.[0]).toBe("Agent Guide");
    expect(error.message).toContain("Agent Guide");
  });

  test("a page differing only in case from an existing one is refused", async () => {
    const error = await pageError(
      t.server.pages.write(wiki, { ...who, path: "home", content: "x" }),
    );
    expect(error.code).toBe("already_exists");
    expect(error.message).toContain('"Home"');
  });

  test("oversize and NUL content are refused before anything is written", async () => {
    expect(
      (
        await pageError(
          t.server.pages.write(wiki, { ...who, path: "Big", content: "x".repeat(1_000_001) }),
        )
      ).code,
    ).toBe("too_large");
    expect(
      (await pageError(t.server.pages.write(wiki, { ...who, path: "Nul", content: "a\u0000b" })))
        .code,
    ).toBe("invalid_content");
    expect(await gitText(t.server.pages.repo(wiki), ["status", "--porcelain"])).toBe("");
  });

  test("bad revisions are refused, not passed to git", async () => {
    for (const revision of [
      "--output=/tmp/x",
      "HEAD~1",
      "zzzz",
      "0000000000000000000000000000000000000000",
    ]) {
      expect((await pageError(t.server.pages.read(wiki, "Home", revision))).code).toBe(
        "invalid_revision",
      );
    }
  });
});

describe("path escapes", () => {
  test.each([
    "../x",
    "/etc/passwd",
    ".git/config",
    "a/../../b",
    "a\u0000b",
    "x".repeat(600),
    "Notes/../../../etc/passwd",
  ])("%j is refused for every operation", async (path) => {
    const pages = t.server.pages;
    expect((await pageError(pages.write(wiki, { ...who, path, content: "x" }))).code).toBe(
      "invalid_path",
    );
    expect((await pageError(pages.read(wiki, path))).code).toBe("invalid_path");
    expect((await pageError(pages.delete(wiki, { ...who, path }))).code).toBe("invalid_path");
    expect((await pageError(pages.move(wiki, { ...who, from: "Home", to: path }))).code).toBe(
      "invalid_path",
    );
  });

  test("a symlinked folder planted in the repo is not followed", async () => {
    symlinkSync("/tmp", join(t.server.pages.repo(wiki), "Linked"));
    const error = await pageError(
      t.server.pages.write(wiki, { ...who, path: "Linked/escape", content: "x" }),
    );
    expect(error.code).toBe("invalid_path");
  });
});

describe("full-text search", () => {
  test("finds pages with snippets and line numbers", async () => {
    await t.server.pages.write(wiki, {
      ...who,
      path: "Search/Otters",
      content: "# Otters\n\nline two\nSea otters use tools.\n",
    });
    const result = await t.server.pages.search(wiki, "otters tools");
    expect(result.interpretedAsPlainText).toBe(false);
    expect(result.hits[0]).toMatchObject({
      path: "Search/Otters",
      title: "Otters",
      lines: [
        { line: 1, text: "# Otters", complete: true },
        { line: 4, text: "Sea otters use tools.", complete: true },
      ],
    });
    expect(result.hits[0]?.snippet).toContain("Sea otters use tools.");
  });

  test.each([
    '"unterminated',
    "AND",
    "otters AND",
    "(otters",
    "NEAR(",
    "*",
    "wiki:w1",
    "body:",
    '"',
    "-",
    "col:otters",
    "🦦",
    "otters OR",
    "^otters",
    "{path}:x",
  ])("odd syntax %j never throws", async (query) => {
    const result = await t.server.pages.search(wiki, query);
    expect(Array.isArray(result.hits)).toBe(true);
  });

  test("word forms match (porter stemming): tools finds tool, otter finds otters", async () => {
    await t.server.pages.write(wiki, {
      ...who,
      path: "Search/Stems",
      content: "# Stems\n\nOne tool only.\n",
    });
    const tools = await t.server.pages.search(wiki, "tools");
    expect(tools.hits.map((hit) => hit.path)).toContain("Search/Stems");
    expect(tools.hits.find((hit) => hit.path === "Search/Stems")?.lines).toEqual([
      { line: 3, text: "One tool only.", complete: true },
    ]);
    const otter = await t.server.pages.search(wiki, "otter");
    expect(otter.hits.map((hit) => hit.path)).toContain("Search/Otters");
  });

  test("results never cross into another wiki", async () => {
    await createUserAndWiki(t, { username: "bob", slug: "other" });
    const other = new WikiStore(t.server.db).findBySlug("other");
    if (other === null) throw new Error("missing");
    await t.server.pages.write(other, { ...who, path: "Secret", content: "zebracorn plans\n" });
    expect((await t.server.pages.search(wiki, "zebracorn")).hits).toEqual([]);
    expect((await t.server.pages.search(wiki, `wiki : "w${other.id}" zebracorn`)).hits).toEqual([]);
    expect((await t.server.pages.search(other, "zebracorn")).hits.length).toBe(1);
  });
});
