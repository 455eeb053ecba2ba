/**
 * Brings a wiki's page rows and full-text index up to the repository's HEAD. Every change —
 * ours, a push, an Otterwiki save, or a write whose process died after committing — is caught
 * up here from `wikis.indexed_commit`, so the index never depends on a notification arriving.
 */
import type { Database } from "bun:sqlite";
import { diffTrees, isAncestor, readBlobs, readLog } from "../repo/objects.ts";
import { readHead } from "../repo/repository.ts";
import type { WikiStore } from "../wikis/wiki-store.ts";
import type { PageIndex } from "./page-index.ts";
import { pagePathOfFile, pageTitle } from "./page-path.ts";

export interface IndexSyncDeps {
  db: Database;
  wikis: WikiStore;
  pageIndex: PageIndex;
}

export interface SyncResult {
  head: string | null;
  changedPaths: string[];
}

const decoder = new TextDecoder();

export async function syncPageIndex(
  deps: IndexSyncDeps,
  wikiId: number,
  repo: string,
): Promise<SyncResult> {
  const wiki = deps.wikis.findById(wikiId);
  if (wiki === null) throw new Error(`wiki ${wikiId} vanished during sync`);
  const head = readHead(repo);
  if (head === null || head === wiki.indexedCommit) return { head, changedPaths: [] };

  let base = wiki.indexedCommit;
  if (base !== null && !(await isAncestor(repo, base, head))) base = null; // history replaced: full rebuild
  const changes = (await diffTrees(repo, base, head)).flatMap((change) => {
    const path = pagePathOfFile(change.file);
    return path === null ? [] : [{ ...change, path }];
  });
  const live = changes.filter((change) => change.status !== "deleted");
  const bodies = await readBlobs(
    repo,
    head,
    live.map((change) => change.file),
  );
  const lastChange = new Map<string, { commit: string; author: string; time: number }>();
  if (live.length > 0) {
    const log = await readLog(repo, { range: base === null ? head : `${base}..${head}` });
    for (const entry of log) {
      for (const file of entry.files) {
        if (!lastChange.has(file)) {
          lastChange.set(file, {
            commit: entry.commit,
            author: entry.authorName,
            time: entry.time,
          });
        }
      }
    }
  }

  deps.db
    .transaction(() => {
      if (base === null) {
        for (const path of deps.pageIndex.allPaths(wikiId)) deps.pageIndex.remove(wikiId, path);
      }
      for (const change of changes) {
        if (change.status === "deleted") {
          deps.pageIndex.remove(wikiId, change.path);
          continue;
        }
        const bytes = bodies.get(change.file);
        if (bytes === undefined) continue;
        const body = decoder.decode(bytes);
        const origin = lastChange.get(change.file) ?? { commit: head, author: "", time: 0 };
        deps.pageIndex.upsert(wikiId, {
          path: change.path,
          title: pageTitle(change.path, body),
          size: bytes.byteLength,
          revision: origin.commit,
          changedAt: origin.time,
          author: origin.author,
          body,
        });
      }
      deps.pageIndex.enqueueReindex(
        wikiId,
        changes.map((change) => change.path),
      );
      deps.wikis.setIndexedCommit(wikiId, head);
    })
    .immediate();
  return { head, changedPaths: changes.map((change) => change.path) };
}

/** What one commit of ours did to the page index: pages written and at most one removed. */
export interface IndexEffect {
  upserts: { path: string; content: string }[];
  remove?: string;
}

/**
 * Updates the index for a commit we just made, sparing the three git processes a full sync
 * costs. Only valid when the index was exactly at the commit's parent; otherwise nothing is
 * done here and the next `syncPageIndex` catches up from the repository.
 */
export function recordOwnCommit(
  deps: IndexSyncDeps,
  commit: {
    wikiId: number;
    parent: string | null;
    head: string;
    effect: IndexEffect;
    author: string;
  },
): void {
  const { wikiId, parent, head, effect, author } = commit;
  deps.db
    .transaction(() => {
      if (deps.wikis.findById(wikiId)?.indexedCommit !== parent) return;
      if (effect.remove !== undefined) deps.pageIndex.remove(wikiId, effect.remove);
      for (const { path, content } of effect.upserts) {
        deps.pageIndex.upsert(wikiId, {
          path,
          title: pageTitle(path, content),
          size: Buffer.byteLength(content, "utf8"),
          revision: head,
          changedAt: Math.floor(Date.now() / 1000),
          author,
          body: content,
        });
      }
      const touched = [effect.remove, ...effect.upserts.map((page) => page.path)].filter(
        (path) => path !== undefined,
      );
      deps.pageIndex.enqueueReindex(wikiId, touched);
      deps.wikis.setIndexedCommit(wikiId, head);
    })
    .immediate();
}
