/**
 * Runs the search indexer over DATA_DIR's queue and SIGKILLs itself at one point inside a batch,
 * for test/search-crash-windows.test.ts:
 *   bun test/support/indexer-crash.ts DATA_DIR MODEL_DIR POINT OCCURRENCE
 * POINT: "after-chunks" (new chunk rows committed, index not saved), "after-save" (index saved,
 * queue rows and replaced chunks not yet deleted). OCCURRENCE: which time the point is reached.
 * Exits 3 if the queue drained before the point was reached.
 */
import { join } from "node:path";
import { openDatabase } from "../../src/db/database.ts";
import { ChunkStore, type NewChunk, type QueueRow } from "../../src/search/chunk-store.ts";
import { loadEmbedder } from "../../src/search/embedder.ts";
import { SearchIndexer } from "../../src/search/indexer.ts";

const [dataDir, modelDir, point, occurrence] = Bun.argv.slice(2);
if (dataDir === undefined || modelDir === undefined || occurrence === undefined)
  throw new Error("usage: indexer-crash.ts DATA_DIR MODEL_DIR POINT OCCURRENCE");
let reached = 0;
function maybeCrash(at: string): void {
  if (at !== point) return;
  reached++;
  if (reached === Number(occurrence)) process.kill(process.pid, "SIGKILL");
}

class CrashingStore extends ChunkStore {
  override insertChunks(wikiId: number, chunks: readonly NewChunk[]): number[] {
    const ids = super.insertChunks(wikiId, chunks);
    maybeCrash("after-chunks");
    return ids;
  }
  override completeBatch(
    replacedIds: readonly number[],
    rows: readonly (QueueRow & { revision: string | null })[],
  ): void {
    maybeCrash("after-save");
    super.completeBatch(replacedIds, rows);
  }
}

const db = openDatabase(join(dataDir, "wikibot.db"));
const store = new CrashingStore(db);
const embedder = await loadEmbedder({ modelDir, dtype: "fp32", verify: false });
const indexer = new SearchIndexer(store, embedder, dataDir, () => {});
indexer.checkAll();
// Small batches so the points are reached several times over one wiki.
while ((await indexer.runBatch(2, async () => {})) > 0) {}
process.exit(3);
