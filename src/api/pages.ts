/** The page resource of the REST API, as plain functions over the page store (no HTTP here). */
import { type CommitSummary, summarizeCommit } from "../pages/commit-summary.ts";
import { PageError } from "../pages/page-error.ts";
import type { PageRecord } from "../pages/page-index.ts";
import type { PageContent, PageStore } from "../pages/page-store.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { preconditionFailed, type WritePrecondition } from "./preconditions.ts";

export function pageSummaryJson(page: PageRecord) {
  return {
    path: page.path,
    title: page.title,
    revision: page.revision,
    size: page.size,
    changed_at: new Date(page.changedAt * 1000).toISOString(),
    author: page.author,
  };
}

export function pageJson(page: PageContent) {
  return { ...pageSummaryJson(page), total_lines: page.totalLines, content: page.content };
}

export function commitJson(commit: CommitSummary) {
  return {
    revision: commit.revision,
    time: commit.time,
    author: commit.author,
    client: commit.client,
    message: commit.message,
    pages: commit.pages,
    page_count: commit.pageCount,
  };
}

export async function listPagesJson(
  pages: PageStore,
  wiki: Wiki,
  options: { prefix: string; limit: number; offset: number },
) {
  const all = await pages.list(wiki, options.prefix);
  const shown = all.slice(options.offset, options.offset + options.limit);
  const end = options.offset + shown.length;
  return {
    total: all.length,
    pages: shown.map(pageSummaryJson),
    next_offset: end < all.length ? end : null,
  };
}

export async function historyJson(
  pages: PageStore,
  wiki: Wiki,
  options: { path?: string; limit: number; since?: string; after?: string },
) {
  const commits = await pages.history(wiki, options);
  return commits.map((commit) => commitJson(summarizeCommit(commit)));
}

/**
 * The expected revision to hand the store: undefined (no check), null (must not exist) or a
 * revision. A list of tags or `*` is resolved against the current revision first.
 */
export async function expectedRevisionOf(
  pages: PageStore,
  wiki: Wiki,
  path: string,
  precondition: WritePrecondition,
): Promise<string | null | undefined> {
  switch (precondition.kind) {
    case "none":
      return undefined;
    case "absent":
      return null;
    case "exact":
      return precondition.revision;
    case "match": {
      let current: string;
      try {
        current = (await pages.read(wiki, path)).revision;
      } catch (error) {
        if (error instanceof PageError && error.code === "not_found") {
          throw preconditionFailed(`page "${path}" does not exist`, null);
        }
        throw error;
      }
      if (precondition.tags !== "*" && !precondition.tags.includes(current)) {
        throw preconditionFailed(
          `page "${path}" is at revision ${current}, which If-Match does not list`,
          current,
        );
      }
      // NOTE: a write landing between this read and ours turns into a 412 with the new revision.
      return current;
    }
  }
}
