/**
 * The page store's past-revision reads and diffs with in-process git reads (src/repo/git-reads.ts):
 * the same answers as git's own, before and after `git gc` in the same process, and the same
 * refusals. Real git and SQLite on a fresh data dir; no server.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_PAGE_BYTES } from "../src/pages/page-rules.ts";
import type { ChangeContext, PageStore } from "../src/pages/page-store.ts";
import { runGit as git, gitText } from "../src/repo/git.ts";
import { COMMITTER, openStores } from "../src/stores.ts";
import { createWiki } from "../src/wikis/wiki-service.ts";
import type { Wiki } from "../src/wikis/wiki-store.ts";
import { pageError } from "./support/page-error.ts";

setDefaultTimeout(120_000);

const dataDir = mkdtempSync(join(tmpdir(), "wikibot-page-reads-"));
const stores = openStores(dataDir);
const pages: PageStore = stores.pages;
let wiki: Wiki;
const who: ChangeContext = {
  author: { name: "Ada Lovelace", email: "ada@users.wikibot.invalid" },
  client: "test",
};
const revisions: { revision: string; path: string; content: string }[] = [];

beforeAll(async () => {
  stores.users.create({
    did: "did:plc:pagereadspagereadspagere",
    handle: "ada.bsky.social",
    username: "ada",
    displayName: "Ada",
  });
  ({ wiki } = await createWiki(
    { ...stores, dataDir, publicUrl: new URL("http://localhost:8080"), committer: COMMITTER },
    { slug: "reads", ownerUsername: "ada", isPublic: false, tier: "free" },
  ));
  for (let round = 0; round < 12; round++) {
    const path = `Notes/Page ${round % 3}`;
    const content = `# Page ${round % 3}\n\n${"Otters use tools.\n".repeat(round + 1)}round ${round} — naïve 🦦\n`;
    const { revision } = await pages.write(wiki, { ...who, path, content });
    revisions.push({ revision, path, content });
  }
});
afterAll(() => {
  stores.db.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function expectAllPastReadsExact() {
  const repo = pages.repo(wiki);
  for (const { revision, path, content } of revisions) {
    const page = await pages.read(wiki, path, revision);
    expect(page.content).toBe(content);
    expect(page.revision).toBe(revision);
    const shown = (await git(repo, ["cat-file", "blob", `${revision}:${path}.md`])).stdout;
    expect(Buffer.compare(Buffer.from(page.content), shown)).toBe(0);
  }
}

describe("past revisions in process", () => {
  test("read exactly as git stores them, loose and then after git gc in the same process", async () => {
    await expectAllPastReadsExact();
    await git(pages.repo(wiki), ["gc", "-q"]);
    await expectAllPastReadsExact();
    const stats = pages.gitReads.stats();
    expect(stats.inProcess).toBeGreaterThanOrEqual(revisions.length * 4);
    expect(stats.fallbacks).toBe(0);
  });

  test("diffs are git's own text, and a revision git does not know is refused", async () => {
    const [first, , , fourth] = revisions;
    if (first === undefined || fourth === undefined) throw new Error("history missing");
    const diff = await pages.diff(wiki, {
      path: first.path,
      from: first.revision,
      to: fourth.revision,
    });
    const expected = await gitText(pages.repo(wiki), [
      "diff",
      "--no-color",
      "--no-ext-diff",
      first.revision,
      fourth.revision,
      "--",
      `${first.path}.md`,
    ]);
    expect(diff).toBe(expected);
    expect(diff).toContain("+round 3");
    const unknown = "1".repeat(40);
    expect((await pageError(pages.read(wiki, first.path, unknown))).code).toBe("invalid_revision");
    expect((await pageError(pages.diff(wiki, { path: first.path, from: unknown }))).code).toBe(
      "invalid_revision",
    );
    const tree = (
      await gitText(pages.repo(wiki), ["rev-parse", `${first.revision}^{tree}`])
    ).trim();
    expect((await pageError(pages.read(wiki, first.path, tree))).code).toBe("invalid_revision");
    expect((await pageError(pages.read(wiki, "Notes/Page 2", first.revision))).code).toBe(
      "not_found",
    );
  });

  test("a page over the size limit in a past commit is refused by its size", async () => {
    const repo = pages.repo(wiki);
    let planted = "";
    // Committed behind the store's back, as a push from before the size rules could have.
    await pages.exclusive(wiki, async () => {
      writeFileSync(join(repo, "Big.md"), "x".repeat(MAX_PAGE_BYTES + 10));
      await git(repo, ["add", "Big.md"]);
      await git(repo, ["commit", "-q", "-m", "big"], {
        env: {
          GIT_AUTHOR_NAME: "a",
          GIT_AUTHOR_EMAIL: "a@x",
          GIT_COMMITTER_NAME: "a",
          GIT_COMMITTER_EMAIL: "a@x",
        },
      });
      planted = (await gitText(repo, ["rev-parse", "HEAD"])).trim();
    });
    const refused = await pageError(pages.read(wiki, "Big", planted));
    expect(refused.code).toBe("too_large");
    expect(refused.message).toContain(`${MAX_PAGE_BYTES + 10} bytes`);
  });
});
