/** A commit as clients see it: pages instead of files, and the client trailer split out. */
import type { CommitInfo } from "../repo/objects.ts";
import { pagePathOfFile } from "./page-path.ts";

export interface CommitSummary {
  revision: string;
  /** ISO 8601, UTC. */
  time: string;
  author: string;
  /** The `Client:` trailer page writes carry (e.g. "mcp/claude-code"), or null. */
  client: string | null;
  message: string;
  /** Pages the commit changed, at most MAX_PAGES_LISTED of them. */
  pages: string[];
  pageCount: number;
}

// The trailer is the commit message's last line (page-store.ts writes it after the caller's
// message), so only that line counts: a "Client:" line inside a message cannot spoof it.
const CLIENT_TRAILER = /\n\nClient: ([^\n]+)\s*$/;
const MAX_PAGES_LISTED = 100;

export function summarizeCommit(commit: CommitInfo): CommitSummary {
  const client = CLIENT_TRAILER.exec(`\n\n${commit.message}`)?.[1]?.trim() ?? null;
  const pages = commit.files.flatMap((file) => {
    const path = pagePathOfFile(file);
    return path === null ? [] : [path];
  });
  return {
    revision: commit.commit,
    time: new Date(commit.time * 1000).toISOString(),
    author: commit.authorName,
    client,
    message: `\n\n${commit.message}`.replace(CLIENT_TRAILER, "").trim(),
    pages: pages.slice(0, MAX_PAGES_LISTED),
    pageCount: pages.length,
  };
}

/** A time in git's own date format, which git parses the same way everywhere (no approxidate). */
export function gitDate(milliseconds: number): string {
  return `${new Date(milliseconds).toISOString().slice(0, 19).replace("T", " ")} +0000`;
}
