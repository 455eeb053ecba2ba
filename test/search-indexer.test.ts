/**
 * The search indexer's scheduling with the real model: wikis take turns in the queue, applied
 * pages are searchable at once but their queue rows wait for the index save (which comes when the
 * wiki's queue is drained), and idle indexes are saved and dropped from memory, then reloaded.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ChunkStore } from "../src/search/chunk-store.ts";
import { type Embedder, loadEmbedder } from "../src/search/embedder.ts";
import { SearchIndexer } from "../src/search/indexer.ts";
import { openStores } from "../src/stores.ts";
import { makeDataDir, PROJECT_DIR, runAdmin, testDid } from "./support/server.ts";

setDefaultTimeout(120_000);

const WHO = { author: { name: "T", email: "t@users.wikibot.invalid" }, client: "test" };
let embedder: Embedder;
let dataDir: string;
const wikiIds = { bulk: 0, small: 0 };

beforeAll(async () => {
  embedder = await loadEmbedder({
    modelDir: join(PROJECT_DIR, ".models"),
    dtype: "fp32",
    verify: false,
  });
  dataDir = makeDataDir();
  const env = { DATA_DIR: dataDir, PUBLIC_URL: "http://localhost:8080" };
  for (const args of [
    ["create-user", "--username", "sched", "--did", testDid(), "--handle", "sched.bsky.social"],
    ["create-wiki", "--slug", "bulk", "--owner", "sched"],
    ["create-wiki", "--slug", "small", "--owner", "sched"],
  ]) {
    const result = await runAdmin(env, args);
    if (result.exitCode !== 0) throw new Error(result.stderr);
  }
  const stores = openStores(dataDir);
  try {
    for (const slug of ["bulk", "small"]) {
      const wiki = stores.wikis.findBySlug(slug);
      if (wiki === null) throw new Error(`no wiki ${slug}`);
      wikiIds[slug === "bulk" ? "bulk" : "small"] = wiki.id;
    }
  } finally {
    stores.db.close();
  }
});
afterAll(async () => {
  await embedder.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

function savedCount(slug: string): number {
  return JSON.parse(readFileSync(join(dataDir, "wikis", slug, "vectors.json"), "utf8")).count;
}

test("wikis take turns: a bulk import does not hold back another wiki's pages", async () => {
  const stores = openStores(dataDir);
  try {
    const bulk = stores.wikis.findBySlug("bulk");
    const small = stores.wikis.findBySlug("small");
    if (bulk === null || small === null) throw new Error("no wikis");
    for (let i = 0; i < 12; i++)
      await stores.pages.write(bulk, {
        ...WHO,
        path: `Import/Page ${i}`,
        content: `# Page ${i}\n\nImported note ${i}.\n`,
      });
    await stores.pages.write(small, { ...WHO, path: "Edit", content: "# Edit\n\nA later edit.\n" });
    const store = new ChunkStore(stores.db);
    const taken = store.takeQueue(4);
    // Each wiki's oldest first, then each one's second: `small` is in the first two.
    expect(
      taken
        .slice(0, 2)
        .map((row) => row.wikiId)
        .sort(),
    ).toEqual([bulk.id, small.id].sort());
    // Held-back rows are skipped.
    const next = store.takeQueue(100, taken);
    for (const row of taken)
      expect(next.some((other) => other.wikiId === row.wikiId && other.path === row.path)).toBe(
        false,
      );
    expect(next.length).toBe(store.queueDepth() - taken.length);
  } finally {
    stores.db.close();
  }
});

test("applied pages are searchable before the save; queue rows go only after it", async () => {
  const stores = openStores(dataDir);
  try {
    const store = new ChunkStore(stores.db);
    const indexer = new SearchIndexer(store, embedder, dataDir, () => {});
    indexer.checkAll();
    const bulkId = wikiIds.bulk;
    const before = store.queueDepth(bulkId);
    const smallQueued = store.queueDepth(wikiIds.small);
    expect(smallQueued).toBeLessThan(5);
    // Turns: the batch takes all of `small` (its start pages and the edit) and as many of `bulk`.
    expect(await indexer.runBatch(2 * smallQueued, async () => {})).toBe(2 * smallQueued);
    // `small` is drained, so its index was saved and its queue rows completed.
    expect(store.queueDepth(wikiIds.small)).toBe(0);
    expect(savedCount("small")).toBe(store.chunkCount(wikiIds.small));
    // `bulk` still has pages queued: its applied page waits for the save, yet is found.
    expect(store.queueDepth(bulkId)).toBe(before);
    expect(savedCount("bulk")).toBe(0);
    const taken = store.chunkCount(bulkId);
    expect(taken).toBeGreaterThan(0);
    const found = await indexer.search(bulkId, "imported note", 5, undefined);
    expect(found.hits.length).toBeGreaterThan(0);
    while ((await indexer.runBatch(2, async () => {})) > 0) {}
    expect(store.queueDepth()).toBe(0);
    expect(savedCount("bulk")).toBe(store.chunkCount(bulkId));

    // Idle indexes are saved and dropped, then reloaded by the next search.
    const loadedHits = await indexer.search(bulkId, "imported note", 5, undefined);
    expect(loadedHits.hits).toHaveLength(5);
    expect(indexer.loadedWikis().sort()).toEqual([bulkId, wikiIds.small].sort());
    expect(indexer.unloadIdle(0)).toBe(2);
    expect(indexer.loadedWikis()).toEqual([]);
    const again = await indexer.search(bulkId, "imported note", 5, undefined);
    expect(again.hits).toEqual(loadedHits.hits);
    expect(indexer.loadedWikis()).toEqual([bulkId]);
  } finally {
    stores.db.close();
  }
});
