/**
 * The search indexer killed (SIGKILL) at each point inside a batch — after the new chunk rows are
 * committed but before the index is saved, and after the save but before the queue rows and the
 * replaced chunks are deleted — on a first index and on re-indexing changed pages. After a restart
 * drains the queue, every page's chunks are its current text, no chunk row is left over, and the
 * saved index holds exactly the chunk rows' keys.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ChunkStore } from "../src/search/chunk-store.ts";
import { type Embedder, loadEmbedder } from "../src/search/embedder.ts";
import { SearchIndexer } from "../src/search/indexer.ts";
import { MODEL_NAME } from "../src/search/model-files.ts";
import { HNSW, openVectorIndex } from "../src/search/vector-index.ts";
import { openStores } from "../src/stores.ts";
import { makeDataDir, PROJECT_DIR, runAdmin, testDid } from "./support/server.ts";

setDefaultTimeout(120_000);

const MODEL_DIR = join(PROJECT_DIR, ".models");
const WHO = { author: { name: "T", email: "t@users.wikibot.invalid" }, client: "test" };
const PAGES = 7;

let embedder: Embedder;
beforeAll(async () => {
  embedder = await loadEmbedder({ modelDir: MODEL_DIR, dtype: "fp32", verify: false });
});
afterAll(() => embedder.dispose());

function content(i: number, version: number): string {
  return `# Pond ${i}\n\nVersion ${version}: pond ${i} held ${i + version} newts.\n\n## Method\n\nVersion ${version}: counted by torchlight from the north bank.\n`;
}

async function wikiWithPages(): Promise<{ dataDir: string; wikiId: number }> {
  const dataDir = makeDataDir();
  const env = { DATA_DIR: dataDir, PUBLIC_URL: "http://localhost:8080" };
  for (const args of [
    ["create-user", "--username", "ponds", "--did", testDid(), "--handle", "ponds.bsky.social"],
    ["create-wiki", "--slug", "ponds", "--owner", "ponds"],
  ]) {
    const result = await runAdmin(env, args);
    if (result.exitCode !== 0) throw new Error(result.stderr);
  }
  const wikiId = await writePages(dataDir, 1);
  return { dataDir, wikiId };
}

async function writePages(dataDir: string, version: number): Promise<number> {
  const stores = openStores(dataDir);
  try {
    const wiki = stores.wikis.findBySlug("ponds");
    if (wiki === null) throw new Error("no wiki");
    for (let i = 0; i < PAGES; i++)
      await stores.pages.write(wiki, {
        ...WHO,
        path: `Ponds/Pond ${i}`,
        content: content(i, version),
      });
    return wiki.id;
  } finally {
    stores.db.close();
  }
}

/** Drains the queue in this process with a fresh indexer, as the worker does after a restart. */
async function drain(dataDir: string): Promise<void> {
  const stores = openStores(dataDir);
  try {
    const indexer = new SearchIndexer(new ChunkStore(stores.db), embedder, dataDir, () => {});
    indexer.checkAll();
    while ((await indexer.runBatch(8, async () => {})) > 0) {}
  } finally {
    stores.db.close();
  }
}

async function crashAt(dataDir: string, point: string, occurrence: number): Promise<void> {
  const child = Bun.spawn(
    [
      "bun",
      join(PROJECT_DIR, "test/support/indexer-crash.ts"),
      dataDir,
      MODEL_DIR,
      point,
      String(occurrence),
    ],
    { stdout: "ignore", stderr: "inherit" },
  );
  await child.exited;
  // Killed at the point, not drained (3) or failed.
  expect(child.signalCode).toBe("SIGKILL");
}

function expectConsistent(dataDir: string, wikiId: number, version: number): void {
  const stores = openStores(dataDir);
  try {
    const db = stores.db;
    expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM reindex_queue").get()?.n).toBe(0);
    const rows = db
      .query<{ id: number; path: string; text: string }, [number]>(
        "SELECT id, path, text FROM chunks WHERE wiki_id = ? ORDER BY path, line_start",
      )
      .all(wikiId);
    // Each pond page: its two sections, of the current version only (the wiki's own start pages
    // are indexed too).
    for (let i = 0; i < PAGES; i++) {
      const texts = rows.filter((row) => row.path === `Ponds/Pond ${i}`).map((row) => row.text);
      expect(texts).toHaveLength(2);
      for (const text of texts) expect(text).toContain(`Version ${version}:`);
    }
    expect(rows.filter((row) => row.path.startsWith("Ponds/"))).toHaveLength(PAGES * 2);
    const paths = new Set(rows.map((row) => row.path));
    const pages = db
      .query<{ path: string }, [number]>("SELECT path FROM pages WHERE wiki_id = ?")
      .all(wikiId);
    expect(paths).toEqual(new Set(pages.map((page) => page.path)));
    const opened = openVectorIndex(join(dataDir, "wikis", "ponds"), {
      format: 1,
      wikiId,
      dimensions: 384,
      metric: "cos",
      quantization: "f32",
      connectivity: HNSW.connectivity,
      expansionAdd: HNSW.expansionAdd,
      expansionSearch: HNSW.expansionSearch,
      model: MODEL_NAME,
      modelDtype: "fp32",
    });
    expect(opened.kind).toBe("loaded");
    expect(opened.index.size).toBe(rows.length);
    for (const row of rows) expect(opened.index.native.contains(BigInt(row.id))).toBe(true);
  } finally {
    stores.db.close();
  }
}

describe("search indexer killed inside a batch", () => {
  // Saves come when a wiki's queue is drained (or every few seconds), so over these few pages
  // the save, and the point after it, is reached once.
  for (const [point, occurrences] of [
    ["after-chunks", [1, 3]],
    ["after-save", [1]],
  ] as const) {
    for (const occurrence of occurrences) {
      test(`${point} (#${occurrence}) on a first index`, async () => {
        const { dataDir, wikiId } = await wikiWithPages();
        try {
          await crashAt(dataDir, point, occurrence);
          await drain(dataDir);
          expectConsistent(dataDir, wikiId, 1);
        } finally {
          rmSync(dataDir, { recursive: true, force: true });
        }
      });

      test(`${point} (#${occurrence}) while re-indexing changed pages`, async () => {
        const { dataDir, wikiId } = await wikiWithPages();
        try {
          await drain(dataDir);
          expectConsistent(dataDir, wikiId, 1);
          await writePages(dataDir, 2);
          await crashAt(dataDir, point, occurrence);
          await drain(dataDir);
          expectConsistent(dataDir, wikiId, 2);
        } finally {
          rmSync(dataDir, { recursive: true, force: true });
        }
      });
    }
  }
});
