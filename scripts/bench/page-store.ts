/**
 * Page store throughput: commits through the write gate and reads, against plain `git add` +
 * `git commit` on the same machine as the reference.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commitAuthorOf } from "../../src/auth/commit-author.ts";
import { runGit } from "../../src/repo/git.ts";
import { initRepository } from "../../src/repo/repository.ts";
import { COMMITTER, openStores } from "../../src/server.ts";
import { createWiki } from "../../src/wikis/wiki-service.ts";
import { figure, type SectionFigures, summaryTable } from "./report.ts";
import { measure, type Summary } from "./stats.ts";

const body = (index: number) =>
  `# Page ${index}\n\n${"Some research notes about otters and tools.\n".repeat(40)}revision ${index}\n`;

export interface PageStoreBenchResult {
  rows: Summary[];
  /** Reference write ops/s ÷ store write ops/s: what the store costs over plain git. */
  ratio: number;
  storeWrites: Summary;
  gitWrites: Summary;
  storeReads: Summary;
  gitReads: Summary;
}

export async function benchPageStore(writes: number, reads: number): Promise<PageStoreBenchResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "wikibot-bench-"));
  try {
    const stores = openStores(dataDir);
    const user = stores.users.create({
      did: "did:plc:benchbenchbenchbenchbenc",
      handle: "bench.bsky.social",
      username: "bench",
      displayName: "Bench",
    });
    const { wiki } = await createWiki(
      { ...stores, dataDir, publicUrl: new URL("http://localhost:8080"), committer: COMMITTER },
      { slug: "bench", ownerUsername: "bench", isPublic: false, tier: "free" },
    );
    const pages = stores.pages;
    const who = { author: commitAuthorOf(user), client: "bench" };
    await pages.ensureReady(wiki);

    const reference = join(dataDir, "reference");
    await initRepository(reference);
    const env = {
      GIT_AUTHOR_NAME: "Bench",
      GIT_AUTHOR_EMAIL: "b@x",
      GIT_COMMITTER_NAME: "b",
      GIT_COMMITTER_EMAIL: "b@x",
    };
    const referenceWrite = async (index: number, content = body(index)) => {
      const file = `Page ${index % 200}.md`;
      writeFileSync(join(reference, file), content);
      await runGit(reference, ["add", "--", file], { env });
      await runGit(reference, ["commit", "-q", "--no-verify", "-m", `Update ${file}`], { env });
    };
    // Warm both paths (page cache, JIT, git's own start-up) before measuring either.
    for (let index = 0; index < 40; index++) {
      await pages.write(wiki, {
        ...who,
        path: `Bench/Page ${index % 200}`,
        content: `warm ${index}`,
      });
      await referenceWrite(index, `warm ${index}`);
    }

    const storeWrites = await measure("store write (commit + index)", writes, (index) =>
      pages.write(wiki, { ...who, path: `Bench/Page ${index % 200}`, content: body(index) }),
    );
    const storeReads = await measure("store read (current revision)", reads, (index) =>
      pages.read(wiki, `Bench/Page ${index % Math.min(writes, 200)}`),
    );
    const searches = await measure("store search (FTS5)", Math.min(reads, 500), () =>
      pages.search(wiki, "otters tools"),
    );

    const gitWrites = await measure("reference: git add + git commit (CLI)", writes, (index) =>
      referenceWrite(index),
    );
    const gitReads = await measure(
      "reference: git cat-file blob (CLI)",
      Math.min(reads, 500),
      (index) =>
        runGit(reference, ["cat-file", "blob", `HEAD:Page ${index % Math.min(writes, 200)}.md`]),
    );
    stores.db.close();
    return {
      rows: [storeWrites, gitWrites, storeReads, gitReads, searches],
      ratio: gitWrites.perSecond / storeWrites.perSecond,
      storeWrites,
      gitWrites,
      storeReads,
      gitReads,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The report's figures: store writes and reads against the same work done by the git CLI. */
export function pageStoreReport(result: PageStoreBenchResult): SectionFigures {
  const against = (row: Summary, reference: Summary) =>
    figure(row.name, row.perSecond, "ops/s", {
      reference: { name: reference.name.replace(/^reference: /, ""), value: reference.perSecond },
    });
  return {
    figures: [
      against(result.storeWrites, result.gitWrites),
      against(result.storeReads, result.gitReads),
    ],
    tables: [summaryTable(result.rows)],
    notes: [],
  };
}
