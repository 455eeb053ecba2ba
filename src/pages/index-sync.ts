/**
 * Brings a wiki's page rows and full-text index up to the repository's HEAD. Every change —
 * ours, a push, an Otterwiki save, or a write whose process died after committing — is caught
 * up here from `wikis.indexed_commit`, so the index never depends on a notification arriving.
 */
import type { Database } from "bun:sqlite";
import { blobSizes, diffTrees, isAncestor, readBlobs, readLog } from "../repo/objects.ts";
import { readHead } from "../repo/repository.ts";
import type { WikiStore } from "../wikis/wiki-store.ts";
import type { PageIndex } from "./page-index.ts";
import { pagePathOfFile, pageTitle } from "./page-path.ts";
import { MAX_PAGE_BYTES } from "./page-rules.ts";

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

/**
 * Page bodies loaded per transaction. FTS5 tokenizes ~20–45 ms per MB here, and a transaction
 * runs synchronously on the event loop, so a large push is indexed in slices with a turn of the
 * event loop between them (DESIGN §10: no request holds the loop for more than tens of ms).
 */
const SLICE_BYTES = 2 * 1024 * 1024;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

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
  // Sizes first: a page over the limit (pushed before the rules, or planted by hand) is listed
  // with its size but its text is never loaded; reading it says it is too large.
  const sizes = await blobSizes(
    repo,
    head,
    live.map((change) => change.file),
  );

  if (base === null) {
    deps.db
      .transaction(() => {
        for (const path of deps.pageIndex.allPaths(wikiId)) deps.pageIndex.remove(wikiId, path);
      })
      .immediate();
  }
  const deleted = changes.filter((change) => change.status === "deleted");
  let slice: typeof live = [];
  let sliceBytes = 0;
  const flush = async () => {
    const files = slice
      .map((change) => change.file)
      .filter((file) => (sizes.get(file) ?? 0) <= MAX_PAGE_BYTES);
    const bodies = await readBlobs(repo, head, files);
    const pages = slice;
    deps.db
      .transaction(() => {
        for (const change of pages) {
          const size = sizes.get(change.file);
          if (size === undefined) continue; // not a blob (a gitlink): no page
          const bytes = bodies.get(change.file);
          const body = bytes === undefined ? "" : decoder.decode(bytes);
          const origin = lastChange.get(change.file) ?? { commit: head, author: "", time: 0 };
          deps.pageIndex.upsert(wikiId, {
            path: change.path,
            title: bytes === undefined ? pageTitle(change.path, "") : pageTitle(change.path, body),
            size,
            revision: origin.commit,
            changedAt: origin.time,
            author: origin.author,
            body,
          });
        }
      })
      .immediate();
    slice = [];
    sliceBytes = 0;
    await nextTurn();
  };
  for (const change of live) {
    slice.push(change);
    const size = sizes.get(change.file) ?? 0;
    sliceBytes += size <= MAX_PAGE_BYTES ? size : 0;
    if (sliceBytes >= SLICE_BYTES || slice.length >= 500) await flush();
  }
  if (slice.length > 0) await flush();

  // indexed_commit moves last: a crash mid-way leaves it behind, and the next sync redoes the
  // slices (upserts are idempotent).
  deps.db
    .transaction(() => {
      for (const change of deleted) deps.pageIndex.remove(wikiId, change.path);
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

/** The files a commit with this effect must have changed, and nothing else. */
export function filesOfEffect(effect: IndexEffect): string[] {
  const paths = effect.upserts.map((page) => page.path);
  if (effect.remove !== undefined) paths.push(effect.remove);
  return paths.map((path) => `${path}.md`);
}

/**
 * Updates the index for a commit we just made, sparing the git processes a full sync costs.
 * Only valid when the index was exactly at the commit's parent and the commit changed exactly
 * the files the effect names (`changedFiles`, read back from git); otherwise nothing is done
 * here, false is returned, and `syncPageIndex` must catch up from the repository.
 */
export function recordOwnCommit(
  deps: IndexSyncDeps,
  commit: {
    wikiId: number;
    parent: string | null;
    head: string;
    effect: IndexEffect;
    changedFiles: readonly string[];
    author: string;
  },
): boolean {
  const { wikiId, parent, head, effect, author } = commit;
  const expected = new Set(filesOfEffect(effect));
  const actual = new Set(commit.changedFiles);
  if (expected.size !== actual.size || [...expected].some((file) => !actual.has(file))) {
    return false;
  }
  return deps.db
    .transaction(() => {
      if (deps.wikis.findById(wikiId)?.indexedCommit !== parent) return false;
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
      return true;
    })
    .immediate();
}
