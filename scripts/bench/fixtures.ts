/**
 * Bench data made straight in a data dir (no server yet): one owner, wikis with pages committed
 * in a single commit, and tokens. The server is started on the dir afterwards.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { runGit } from "../../src/repo/git.ts";
import { COMMITTER, openStores } from "../../src/stores.ts";
import { createWiki } from "../../src/wikis/wiki-service.ts";
import type { Tier, Wiki } from "../../src/wikis/wiki-store.ts";

export type BenchStores = ReturnType<typeof openStores>;

export interface BenchFixture {
  stores: BenchStores;
  /** A wiki owned by the bench user, with `files` (name → text) added in one commit. */
  wiki(
    slug: string,
    options: { isPublic: boolean; tier: Tier; files?: Record<string, string> },
  ): Promise<Wiki>;
  /** A wiki token of the bench user, in plain text. */
  token(wiki: Wiki, scope: "read" | "write"): string;
}

/** Runs `build` with a fresh bench user on `dataDir`, then closes the database. */
export async function withBenchFixture<T>(
  dataDir: string,
  build: (fixture: BenchFixture) => Promise<T>,
): Promise<T> {
  const stores = openStores(dataDir);
  try {
    const user = stores.users.create({
      did: "did:plc:benchbenchbenchbenchbenc",
      handle: "bench.bsky.social",
      username: "bench",
      displayName: "Bench",
    });
    const deps = {
      ...stores,
      dataDir,
      publicUrl: new URL("http://localhost:8080"),
      committer: COMMITTER,
    };
    return await build({
      stores,
      async wiki(slug, options) {
        const { wiki } = await createWiki(deps, {
          slug,
          ownerUsername: "bench",
          isPublic: options.isPublic,
          tier: options.tier,
        });
        const files = options.files ?? {};
        if (Object.keys(files).length > 0) await commitFiles(stores, wiki, files);
        return wiki;
      },
      token: (wiki, scope) =>
        stores.tokens.create({ wikiId: wiki.id, userId: user.id, scope, label: "bench" }).plaintext,
    });
  } finally {
    stores.db.close();
  }
}

async function commitFiles(
  stores: BenchStores,
  wiki: Wiki,
  files: Record<string, string>,
): Promise<void> {
  await stores.pages.exclusive(wiki, async () => {
    const repo = stores.pages.repo(wiki);
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(repo, name)), { recursive: true });
      writeFileSync(join(repo, name), text);
    }
    await runGit(repo, ["add", "-A"]);
    await runGit(repo, ["commit", "-q", "--no-verify", "-m", "Bench pages"], {
      env: {
        GIT_AUTHOR_NAME: "Bench",
        GIT_AUTHOR_EMAIL: "bench@users.wikibot.invalid",
        GIT_COMMITTER_NAME: COMMITTER.name,
        GIT_COMMITTER_EMAIL: COMMITTER.email,
      },
    });
  });
}

/**
 * A `git fast-import` stream on top of `parent`: one commit per new page `Notes/Page N` until
 * there are `pages`, then edits spread over them, up to `commits` commits in all.
 */
export function historyStream(
  parent: string,
  pages: number,
  commits: number,
  pageText: (page: number, revision: number) => string,
): string {
  const parts: string[] = [];
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  for (let commit = 0; commit < commits; commit++) {
    const page = commit < pages ? commit : (commit * 7919) % pages;
    const time = 1_700_000_000 + commit * 60;
    parts.push(
      "commit refs/heads/main\n",
      `author Bench <bench@users.wikibot.invalid> ${time} +0000\n`,
      `committer ${COMMITTER.name} <${COMMITTER.email}> ${time} +0000\n`,
      data(`Update Notes/Page ${page}`),
      commit === 0 ? `from ${parent}\n` : "",
      `M 100644 inline Notes/Page ${page}.md\n`,
      data(pageText(page, commit)),
    );
  }
  return parts.join("");
}
