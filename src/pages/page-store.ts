/**
 * Reading and changing a wiki's pages. Reads come from the page index (consistent with
 * `indexed_commit`, no git process); every change runs under the wiki's write gate, commits to
 * `main` in the working tree with the caller as author, and updates the index before the gate
 * opens again. Past revisions, history and diffs are read from git.
 * NOTE: longer than our usual file on purpose: every write path checks, commits and indexes the
 * same way, and is audited as one flow.
 */
import type { Database } from "bun:sqlite";
import { statSync } from "node:fs";
import { join } from "node:path";
import { gitText, runGit } from "../repo/git.ts";
import { GitReads } from "../repo/git-reads.ts";
import { RepositoryMaintenance } from "../repo/maintenance.ts";
import { type CommitInfo, diffTrees, readLog } from "../repo/objects.ts";
import { readHead, repairWorkingTree } from "../repo/repository.ts";
import type { PageTotals, PlanPolicy } from "../wikis/plan-policy.ts";
import { repoDir } from "../wikis/wiki-paths.ts";
import type { Wiki, WikiStore } from "../wikis/wiki-store.ts";
import { type IndexEffect, recordOwnCommit, syncPageIndex } from "./index-sync.ts";
import { type LineChange, lineChange } from "./line-changes.ts";
import { rewriteLinks } from "./link-rewrite.ts";
import { scanHeadings, splitLines } from "./markdown.ts";
import { applyPageEdit, type PageEdit } from "./page-edit.ts";
import { PageError } from "./page-error.ts";
import { PageIndex, type PageRecord, type PageWithBody, type SearchResult } from "./page-index.ts";
import { checkPagePath, pageTitle } from "./page-path.ts";
import { checkContent, MAX_PAGE_BYTES } from "./page-rules.ts";
import { closestPaths } from "./suggest.ts";
import { ensureParentDirectories, writeWorkingFile } from "./working-tree.ts";
import type { WriteGate } from "./write-gate.ts";

export { MAX_PAGE_BYTES } from "./page-rules.ts";

export interface Author {
  name: string;
  email: string;
}

/** Who is changing a page and through what: ends up as the commit author and a trailer. */
export interface ChangeContext {
  author: Author;
  /** e.g. "mcp/claude-code", "api", "browser", "git", "admin". */
  client: string;
  message?: string;
}

export interface PageContent extends PageRecord {
  content: string;
  totalLines: number;
}

export interface WriteResult {
  path: string;
  /** The commit that now holds the page; unchanged when the content was identical. */
  revision: string;
  previousRevision: string | null;
  created: boolean;
  changed: boolean;
  /** Lines added and removed; null when the replaced text was over the size limit (unread). */
  lines: LineChange | null;
}

export interface PageStoreOptions {
  db: Database;
  wikis: WikiStore;
  gate: WriteGate;
  dataDir: string;
  committer: Author;
  /** The plans' page and byte quotas, held on every write under the gate. */
  plans: PlanPolicy;
  maintenance?: RepositoryMaintenance;
  /** In-process object reads for past revisions and the revisions a diff names (src/repo/git-reads.ts). */
  gitReads?: GitReads;
}

/**
 * Identifies one version of git's index file: git replaces it through a lock file on every
 * write, so any writer (Otterwiki, receive-pack, a crashed process, a reset) changes the inode
 * or the modification time.
 */
function indexStamp(repo: string): string {
  try {
    const stat = statSync(join(repo, ".git", "index"), { bigint: true });
    return `${stat.ino}:${stat.size}:${stat.mtimeNs}`;
  } catch {
    return "missing";
  }
}

/** A page over the size limit (pushed before the rules existed) is listed, never loaded. */
function refuseOversized(path: string, size: number): void {
  if (size <= MAX_PAGE_BYTES) return;
  throw new PageError(
    "too_large",
    `page "${path}" is ${size} bytes, over the ${MAX_PAGE_BYTES}-byte page limit, so it cannot be read or edited here; clone the wiki with git to shrink or split it, or replace it whole`,
  );
}

/** A wiki's totals after a page of `replacedSize` bytes (null: a new page) becomes `content`. */
const afterWrite =
  (replacedSize: number | null, content: string) =>
  (before: PageTotals): PageTotals => ({
    pages: before.pages + (replacedSize === null ? 1 : 0),
    bytes: before.bytes - (replacedSize ?? 0) + Buffer.byteLength(content, "utf8"),
  });

export interface MoveResult {
  from: string;
  to: string;
  revision: string;
  linksUpdatedIn: string[];
  /** File names of the attachments that moved along (from `<from>/` to `<to>/`). */
  attachmentsMoved: string[];
  titleUpdated: boolean;
}

/**
 * `content` with its first level-1 heading (after any front matter) reading `title`; null when
 * the page has no such heading, so the caller can say the title was left alone.
 */
function retitle(content: string, title: string): string | null {
  const lines = content.split("\n");
  const heading = scanHeadings(splitLines(content)).find((found) => found.level === 1);
  if (heading === undefined) return null;
  lines[heading.line - 1] = `# ${title}`;
  return lines.join("\n");
}

const lineCount = (text: string) =>
  text.length === 0 ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);

export class PageStore {
  readonly index: PageIndex;
  private readonly recovered = new Set<number>();
  /** Per wiki: git's index file as our last commit left it (see `commitChange`). */
  private readonly indexStamps = new Map<number, string>();

  readonly maintenance: RepositoryMaintenance;
  readonly gitReads: GitReads;

  constructor(private readonly options: PageStoreOptions) {
    this.maintenance = options.maintenance ?? new RepositoryMaintenance();
    this.gitReads = options.gitReads ?? new GitReads();
    this.index = new PageIndex(options.db);
  }

  repo(wiki: Wiki): string {
    return repoDir(this.options.dataDir, wiki.slug);
  }

  /**
   * Runs `task` under the wiki's write gate with the index known to match HEAD, then brings the
   * index up to the repository again. A commit that landed without its index update (a crash
   * between the two, or a process that committed outside the gate) is caught up before the task
   * reads the index, so no write is ever based on a stale one (DESIGN §4); when the index
   * already matches, that check is two small file reads and one row.
   * Git pushes and Otterwiki saves use this directly; page writes use it via `commitChange`.
   */
  async exclusive<T>(wiki: Wiki, task: () => Promise<T>): Promise<T> {
    return this.options.gate.run(wiki.id, async () => {
      await this.recoverOnce(wiki);
      await this.syncIndex(wiki);
      try {
        return await task();
      } finally {
        await this.syncIndex(wiki);
        await this.maintenance.afterChange(wiki.id, this.repo(wiki));
      }
    });
  }

  private syncIndex(wiki: Wiki) {
    return syncPageIndex(
      { db: this.options.db, wikis: this.options.wikis, pageIndex: this.index },
      wiki.id,
      this.repo(wiki),
    );
  }

  /** Makes sure the index reflects the repository before the first read in this process. */
  async ensureReady(wiki: Wiki): Promise<void> {
    if (!this.recovered.has(wiki.id)) await this.exclusive(wiki, async () => undefined);
  }

  private async recoverOnce(wiki: Wiki): Promise<void> {
    if (this.recovered.has(wiki.id)) return;
    await repairWorkingTree(this.repo(wiki));
    this.recovered.add(wiki.id);
  }

  async read(wiki: Wiki, rawPath: string, atRevision?: string): Promise<PageContent> {
    const path = this.checkPath(rawPath);
    await this.ensureReady(wiki);
    if (atRevision === undefined) {
      const page = this.index.get(wiki.id, path);
      if (page === null) throw this.notFound(wiki, path);
      refuseOversized(page.path, page.size);
      return { ...page, content: page.body, totalLines: lineCount(page.body) };
    }
    const commit = await this.resolve(wiki, atRevision);
    const file = `${path}.md`;
    const found = await this.gitReads.readBlobWithin(this.repo(wiki), commit, file, MAX_PAGE_BYTES);
    if (found.kind === "oversized") refuseOversized(path, found.size);
    if (found.kind !== "blob") {
      throw new PageError("not_found", `page "${path}" did not exist at revision ${atRevision}`);
    }
    const blob = found.data;
    const [origin] = await readLog(this.repo(wiki), { range: commit, limit: 1, files: [file] });
    const content = new TextDecoder().decode(blob);
    return {
      path,
      title: pageTitle(path, content),
      size: blob.byteLength,
      revision: origin?.commit ?? commit,
      changedAt: origin?.time ?? 0,
      author: origin?.authorName ?? "",
      content,
      totalLines: lineCount(content),
    };
  }

  list(wiki: Wiki, prefix = ""): Promise<PageRecord[]> {
    return this.ensureReady(wiki).then(() => this.index.list(wiki.id, prefix));
  }

  /** How many pages the wiki has, without loading them. */
  async count(wiki: Wiki): Promise<number> {
    await this.ensureReady(wiki);
    return this.index.count(wiki.id);
  }

  async search(wiki: Wiki, query: string, limit = 20): Promise<SearchResult> {
    await this.ensureReady(wiki);
    return this.index.search(wiki.id, query, Math.max(1, Math.min(limit, 100)));
  }

  /** Pages whose text contains `needle` literally (see PageIndex.pagesContaining). */
  async pagesContaining(
    wiki: Wiki,
    needle: string,
    options: { prefix: string; ignoreCase: boolean; limit: number },
  ): Promise<{ path: string; revision: string; body: string }[]> {
    await this.ensureReady(wiki);
    return this.index.pagesContaining(wiki.id, needle, options);
  }

  /**
   * Creates or replaces a page. `expectedRevision`: undefined = no check, null = the page must
   * not exist yet, a commit id = the page must still be at that revision.
   */
  async write(
    wiki: Wiki,
    input: { path: string; content: string; expectedRevision?: string | null } & ChangeContext,
  ): Promise<WriteResult> {
    const path = this.checkPath(input.path);
    checkContent(input.content);
    return this.exclusive(wiki, async () => {
      const current = this.index.get(wiki.id, path);
      this.checkExpected(path, current?.revision ?? null, input.expectedRevision);
      if (current === null) this.refuseCaseTwin(wiki, path);
      return this.commitContent(wiki, path, current, input.content, input);
    });
  }

  /**
   * Applies a targeted edit to the page's current text under the write gate, so the text the
   * edit was matched against is the text it commits on top of.
   */
  async edit(
    wiki: Wiki,
    input: { path: string; edit: PageEdit; expectedRevision?: string } & ChangeContext,
  ): Promise<WriteResult> {
    const path = this.checkPath(input.path);
    return this.exclusive(wiki, async () => {
      const current = this.index.get(wiki.id, path);
      if (current === null) throw this.notFound(wiki, path);
      this.checkExpected(path, current.revision, input.expectedRevision);
      refuseOversized(path, current.size);
      const content = applyPageEdit(current.body, input.edit, MAX_PAGE_BYTES);
      checkContent(content);
      return this.commitContent(wiki, path, current, content, input);
    });
  }

  private async commitContent(
    wiki: Wiki,
    path: string,
    current: PageWithBody | null,
    content: string,
    change: ChangeContext,
  ): Promise<WriteResult> {
    if (current !== null && current.body === content && current.size <= MAX_PAGE_BYTES) {
      return {
        path,
        revision: current.revision,
        previousRevision: current.revision,
        created: false,
        changed: false,
        lines: { linesAdded: 0, linesRemoved: 0, firstChangedLine: null },
      };
    }
    this.refuseOverPlan(wiki, afterWrite(current?.size ?? null, content));
    const repo = this.repo(wiki);
    const file = `${path}.md`;
    const verb = current === null ? "Create" : "Update";
    const revision = await this.commitChange(
      wiki,
      change,
      `${verb} ${path}`,
      async () => {
        writeWorkingFile(repo, file, content);
        await runGit(repo, ["add", "--", file]);
      },
      [file],
      { upserts: [{ path, content }] },
    );
    return {
      path,
      revision,
      previousRevision: current?.revision ?? null,
      created: current === null,
      changed: true,
      lines:
        current !== null && current.size > MAX_PAGE_BYTES
          ? null
          : lineChange(current?.body ?? null, content),
    };
  }

  async delete(
    wiki: Wiki,
    input: { path: string; expectedRevision?: string } & ChangeContext,
  ): Promise<{ path: string; revision: string; previousRevision: string }> {
    const path = this.checkPath(input.path);
    return this.exclusive(wiki, async () => {
      const current = this.index.get(wiki.id, path);
      if (current === null) throw this.notFound(wiki, path);
      this.checkExpected(path, current.revision, input.expectedRevision);
      const revision = await this.commitChange(
        wiki,
        input,
        `Delete ${path}`,
        async () => {
          await runGit(this.repo(wiki), ["rm", "-q", "--", `${path}.md`]);
        },
        [`${path}.md`],
        { upserts: [], remove: path },
      );
      return { path, revision, previousRevision: current.revision };
    });
  }

  /**
   * Renames a page. With `updateLinks`, links to it in every page (itself included) are
   * rewritten in the same commit, so no reader ever sees the move without its links.
   */
  async move(
    wiki: Wiki,
    input: {
      from: string;
      to: string;
      expectedRevision?: string;
      updateLinks?: boolean;
      /** Make the page's first `#` heading the new page name. */
      updateTitle?: boolean;
    } & ChangeContext,
  ): Promise<MoveResult> {
    const from = this.checkPath(input.from);
    const to = this.checkPath(input.to);
    if (from === to)
      throw new PageError("invalid_path", "the source and target paths are the same");
    return this.exclusive(wiki, async () => {
      const current = this.index.get(wiki.id, from);
      if (current === null) throw this.notFound(wiki, from);
      this.checkExpected(from, current.revision, input.expectedRevision);
      if (this.index.get(wiki.id, to) !== null) {
        throw new PageError(
          "already_exists",
          `page "${to}" already exists; delete or move it first`,
        );
      }
      if (to.toLowerCase() !== from.toLowerCase()) this.refuseCaseTwin(wiki, to);
      const repo = this.repo(wiki);
      const attachments = await this.attachmentsToMove(wiki, from, to);
      let movedContent = current.body;
      let titleUpdated = false;
      if (input.updateTitle === true && current.size <= MAX_PAGE_BYTES) {
        const retitled = retitle(current.body, to.split("/").at(-1) ?? to);
        titleUpdated = retitled !== null && retitled !== current.body;
        if (retitled !== null) movedContent = retitled;
      }
      const rewritten: { path: string; content: string }[] = [];
      let ownLinksRewritten = false;
      let grown = Buffer.byteLength(movedContent, "utf8") - Buffer.byteLength(current.body, "utf8");
      if (input.updateLinks === true) {
        for (const page of this.index.allBodies(wiki.id)) {
          const body = page.path === from ? movedContent : page.body;
          const content = rewriteLinks(body, from, to, attachments.length > 0);
          if (content === body) continue;
          grown += Buffer.byteLength(content, "utf8") - Buffer.byteLength(body, "utf8");
          if (page.path === from) {
            movedContent = content;
            ownLinksRewritten = true;
          } else rewritten.push({ path: page.path, content });
        }
      }
      // Rewritten links can lengthen pages (an oversized page has no indexed text to rewrite).
      this.refuseOverPlan(wiki, (totals) => ({ ...totals, bytes: totals.bytes + grown }));
      const revision = await this.commitChange(
        wiki,
        input,
        `Move ${from} to ${to}`,
        async () => {
          ensureParentDirectories(repo, `${to}.md`);
          await runGit(repo, ["mv", "--", `${from}.md`, `${to}.md`]);
          if (attachments.length > 0) ensureParentDirectories(repo, `${to}/${attachments[0]}`);
          // Many sources into one folder per git call: a page with thousands of attachments
          // must not hold the write gate for thousands of process spawns.
          for (let start = 0; start < attachments.length; start += 500) {
            const batch = attachments.slice(start, start + 500).map((name) => `${from}/${name}`);
            await runGit(repo, ["mv", "--", ...batch, `${to}/`]);
          }
          const changed = [
            ...rewritten,
            ...(movedContent === current.body ? [] : [{ path: to, content: movedContent }]),
          ];
          for (const page of changed) writeWorkingFile(repo, `${page.path}.md`, page.content);
          if (changed.length > 0) {
            await runGit(repo, ["add", "--", ...changed.map((page) => `${page.path}.md`)]);
          }
        },
        [
          `${from}.md`,
          `${to}.md`,
          ...attachments.flatMap((name) => [`${from}/${name}`, `${to}/${name}`]),
          ...rewritten.map((page) => `${page.path}.md`),
        ],
        // A page over the size limit has no text in the index: let the sync read it back.
        current.size > MAX_PAGE_BYTES
          ? null
          : { remove: from, upserts: [{ path: to, content: movedContent }, ...rewritten] },
      );
      const linksUpdatedIn = rewritten.map((page) => page.path);
      if (ownLinksRewritten) linksUpdatedIn.unshift(to);
      return { from, to, revision, linksUpdatedIn, attachmentsMoved: attachments, titleUpdated };
    });
  }

  /**
   * The page's attachments: the files (not pages, not subfolders) in the folder named like the
   * page, where Otterwiki keeps them. Subpages in that folder keep their paths. A name the
   * target folder already holds is refused before anything moves.
   */
  private async attachmentsToMove(wiki: Wiki, from: string, to: string): Promise<string[]> {
    const repo = this.repo(wiki);
    const listing = await gitText(repo, ["ls-tree", "-z", this.headOf(wiki), "--", `${from}/`]);
    const names: string[] = [];
    for (const entry of listing.split("\0")) {
      const match = /^\d+ blob [0-9a-f]+\t(.+)$/s.exec(entry);
      const file = match?.[1];
      if (file === undefined || file.endsWith(".md")) continue;
      names.push(file.slice(from.length + 1));
    }
    if (names.length === 0 || from.toLowerCase() === to.toLowerCase()) return names;
    const taken = await gitText(repo, [
      "ls-tree",
      "-z",
      "--name-only",
      this.headOf(wiki),
      "--",
      `${to}/`,
    ]);
    const existing = new Set(taken.split("\0").map((file) => file.slice(to.length + 1)));
    const clash = names.find((name) => existing.has(name));
    if (clash !== undefined) {
      throw new PageError(
        "already_exists",
        `"${to}/${clash}" already exists, so the page's attachment "${clash}" cannot move there; rename or delete one of them first`,
      );
    }
    return names;
  }

  /** Sets a page back to its content at `revision` as a new commit (history is never rewritten). */
  async revert(
    wiki: Wiki,
    input: { path: string; revision: string; expectedRevision?: string } & ChangeContext,
  ): Promise<WriteResult> {
    const old = await this.read(wiki, input.path, input.revision);
    return this.write(wiki, {
      ...input,
      content: old.content,
      message: input.message ?? `Revert ${old.path} to ${input.revision.slice(0, 12)}`,
    });
  }

  /**
   * Commits newest first. `since` is passed to git (a date); `after` is a revision, and only
   * commits made after it are returned, which makes it a cursor for "what changed since".
   */
  async history(
    wiki: Wiki,
    options: { path?: string; limit?: number; since?: string; after?: string } = {},
  ): Promise<CommitInfo[]> {
    const limit = Math.max(1, Math.min(options.limit ?? 50, 1000));
    const head = this.headOf(wiki);
    const files = options.path === undefined ? undefined : [`${this.checkPath(options.path)}.md`];
    const range =
      options.after === undefined ? head : `${await this.resolve(wiki, options.after)}..${head}`;
    return readLog(this.repo(wiki), { range, limit, since: options.since, files });
  }

  /** The commit the wiki is at now. */
  head(wiki: Wiki): string {
    return this.headOf(wiki);
  }

  /** Unified diff of one page between two revisions (`to` defaults to the current one). */
  async diff(wiki: Wiki, input: { path: string; from: string; to?: string }): Promise<string> {
    const path = this.checkPath(input.path);
    const from = await this.resolve(wiki, input.from);
    const to = input.to === undefined ? this.headOf(wiki) : await this.resolve(wiki, input.to);
    return gitText(this.repo(wiki), [
      "diff",
      "--no-color",
      "--no-ext-diff",
      from,
      to,
      "--",
      `${path}.md`,
    ]);
  }

  /**
   * Stages with `stage`, then commits exactly `files`: whatever else a crashed or failed writer
   * left in git's index is never swept into this commit under this author (DESIGN §4). When
   * git's index file is exactly as our own last commit left it, nobody else has staged anything
   * and a plain commit is safe; otherwise (first write in this process, or after an Otterwiki
   * save, a push or a repair) `git commit --only` builds the commit from HEAD plus `files`,
   * which costs a full index rebuild and so is kept off the common path. The page index is
   * updated from `effect` only when git confirms the commit changed exactly those files;
   * otherwise the gate's closing sync reads the commit back.
   */
  private async commitChange(
    wiki: Wiki,
    change: ChangeContext,
    defaultMessage: string,
    stage: () => Promise<void>,
    files: readonly string[],
    effect: IndexEffect | null,
  ): Promise<string> {
    const repo = this.repo(wiki);
    const parent = readHead(repo);
    // Control characters would corrupt the commit or fake structure; the client trailer is last.
    const text = (change.message ?? "").replace(/[^\P{Cc}\n\t]/gu, " ").trim();
    const message = `${text || defaultMessage}\n\nClient: ${change.client}\n`;
    const untouched = this.indexStamps.get(wiki.id) === indexStamp(repo);
    this.indexStamps.delete(wiki.id);
    try {
      await stage();
      await runGit(
        repo,
        [
          "commit",
          "-q",
          "--no-verify",
          "--cleanup=whitespace",
          "-F",
          "-",
          ...(untouched ? [] : ["--only", "--", ...files]),
        ],
        {
          stdin: message,
          env: {
            GIT_AUTHOR_NAME: change.author.name,
            GIT_AUTHOR_EMAIL: change.author.email,
            GIT_COMMITTER_NAME: this.options.committer.name,
            GIT_COMMITTER_EMAIL: this.options.committer.email,
          },
        },
      );
    } catch (error) {
      // Leave the tree exactly at HEAD so the next writer starts clean.
      await repairWorkingTree(repo);
      throw error;
    }
    const head = this.headOf(wiki);
    this.indexStamps.set(wiki.id, indexStamp(repo));
    if (effect !== null) {
      const changedFiles = (await diffTrees(repo, parent, head)).map((entry) => entry.file);
      recordOwnCommit(
        { db: this.options.db, wikis: this.options.wikis, pageIndex: this.index },
        { wikiId: wiki.id, parent, head, effect, changedFiles, author: change.author.name },
      );
    }
    return head;
  }

  /**
   * The plan's refusal of page `path` holding `content` (null: it fits), for a writer that
   * commits outside this store (a browser save). Call under the wiki's write gate.
   */
  planRefusalOfWrite(wiki: Wiki, path: string, content: string): string | null {
    const size = this.index.records(wiki.id, [path]).get(path)?.size ?? null;
    return this.planRefusalOf(wiki, afterWrite(size, content));
  }

  /**
   * The plan's refusal of a change that turns the wiki's totals now into `after(totals)` (null:
   * it fits), for writers outside this store. Call under the wiki's write gate.
   */
  planRefusalOf(wiki: Wiki, after: (before: PageTotals) => PageTotals): string | null {
    const before = this.index.totals(wiki.id);
    return this.options.plans.refusePageChange(wiki, before, after(before));
  }

  private refuseOverPlan(wiki: Wiki, after: (before: PageTotals) => PageTotals): void {
    const refusal = this.planRefusalOf(wiki, after);
    if (refusal !== null) throw new PageError("plan_limit", refusal);
  }

  private checkPath(raw: string): string {
    const check = checkPagePath(raw);
    if (!check.ok) throw new PageError("invalid_path", check.reason);
    return check.path;
  }

  private checkExpected(
    path: string,
    current: string | null,
    expected: string | null | undefined,
  ): void {
    if (expected === undefined || expected === current) return;
    const message =
      current === null
        ? `page "${path}" does not exist (it was deleted or never created), but revision ${expected} was expected`
        : expected === null
          ? `page "${path}" already exists at revision ${current}`
          : `page "${path}" changed since revision ${expected}; it is now at ${current}`;
    throw new PageError("conflict", message, { currentRevision: current });
  }

  private refuseCaseTwin(wiki: Wiki, path: string): void {
    const twins = this.index.findCaseVariants(wiki.id, path).filter((other) => other !== path);
    if (twins.length > 0) {
      throw new PageError(
        "already_exists",
        `page "${twins[0]}" differs from "${path}" only in letter case; use that page (two such files break checkouts on macOS and Windows)`,
      );
    }
  }

  private notFound(wiki: Wiki, path: string): PageError {
    const suggestions = closestPaths(path, this.index.allPaths(wiki.id), 3);
    const hint =
      suggestions.length > 0 ? ` Closest existing pages: ${suggestions.join(", ")}.` : "";
    return new PageError("not_found", `page "${path}" does not exist.${hint}`, { suggestions });
  }

  private async resolve(wiki: Wiki, revision: string): Promise<string> {
    const commit = await this.gitReads.resolveCommit(this.repo(wiki), revision);
    if (commit === null) {
      throw new PageError(
        "invalid_revision",
        `"${revision}" is not a revision of this wiki (expected a commit id)`,
      );
    }
    return commit;
  }

  private headOf(wiki: Wiki): string {
    const head = readHead(this.repo(wiki));
    if (head === null) throw new Error(`wiki ${wiki.slug} has no commits`);
    return head;
  }
}
