/**
 * Read-only git lookups a page read needs (a revision as a commit, a page's blob at it),
 * answered in this process where measured faster than the git CLI (bench section "git-reads")
 * and on the CLI otherwise. Per-file history, diff text and everything that writes stay on the
 * CLI: in process, `git log -- <path>` measured 30–190× slower (issue 13); matching git's diff
 * text byte for byte (its heuristics, abbreviations, attributes) would be a second diff
 * implementation to keep equal to git's; and checking first whether a page changed at all cost
 * about as much as the `git diff` it could save, rarely saved since diffs are of changed pages.
 * One RepositoryReader per repository, least recently used dropped first past a total byte
 * budget. Any in-process answer that is not certain falls back to the CLI, whose answer holds.
 */
import { resolve } from "node:path";
import {
  findTreeEntry,
  InProcessReadError,
  RepositoryReader,
  type TreeEntry,
} from "./object-reader.ts";
import { readBlobsWithin, resolveCommit } from "./objects.ts";
import { readHead } from "./repository.ts";

export interface GitReadsOptions {
  /** false: every lookup on the git CLI (the bench's reference, and an off switch). */
  inProcess: boolean;
  /** Pack bytes one repository may hold in memory; a larger repository reads through the CLI. */
  maxRepositoryPackBytes: number;
  /** Rebuilt delta bases one repository may keep (isomorphic-git's own cache). */
  maxDeltaCacheBytes: number;
  /** Objects one repository keeps by id (trees and commits of recent lookups, small pages). */
  maxObjectCacheBytes: number;
  /** All readers together; the least recently used are dropped past it. */
  maxTotalBytes: number;
  /** A commit or tag larger than this, or trees on one path adding up to more, go to the CLI. */
  maxStructureBytes: number;
}

export const DEFAULT_GIT_READS: GitReadsOptions = {
  inProcess: true,
  maxRepositoryPackBytes: 32 * 1024 * 1024,
  maxDeltaCacheBytes: 8 * 1024 * 1024,
  maxObjectCacheBytes: 4 * 1024 * 1024,
  maxTotalBytes: 128 * 1024 * 1024,
  maxStructureBytes: 4 * 1024 * 1024,
};

export interface GitReadsStats {
  repositories: number;
  /** What the readers hold now (packs, parsed indexes, delta bases, kept objects). */
  bytes: number;
  inProcess: number;
  /** Lookups answered by the CLI after the in-process path could not be sure. */
  fallbacks: number;
  evictions: number;
  lastFallback: string | null;
}

export type BlobWithin =
  | { kind: "blob"; data: Uint8Array }
  | { kind: "oversized"; size: number }
  | { kind: "absent" };

/** Peeling `tag → tag → … → commit` stops here, as an answer the CLI then gives. */
const MAX_PEEL = 8;
const FULL_ID = /^[0-9a-f]{40}$/i;

export class GitReads {
  private readonly readers = new Map<string, RepositoryReader>();
  private readonly counts = { inProcess: 0, fallbacks: 0, evictions: 0 };
  private lastFallback: string | null = null;

  constructor(private readonly options: GitReadsOptions = DEFAULT_GIT_READS) {}

  stats(): GitReadsStats {
    let bytes = 0;
    for (const reader of this.readers.values()) bytes += reader.bytes();
    return {
      repositories: this.readers.size,
      bytes,
      ...this.counts,
      lastFallback: this.lastFallback,
    };
  }

  /**
   * A revision as a full commit id, or null when it names no commit: `git rev-parse --verify
   * <rev>^{commit}`. A full id or HEAD is resolved here; an abbreviated id on the CLI, since git
   * prefers a ref of that name and breaks ties between objects by type.
   */
  resolveCommit(repoDir: string, revision: string): Promise<string | null> {
    if (!FULL_ID.test(revision) && revision !== "HEAD") return resolveCommit(repoDir, revision);
    return this.attempt(
      repoDir,
      async (reader) => {
        let oid = revision === "HEAD" ? readHead(repoDir) : revision.toLowerCase();
        if (oid === null) throw new InProcessReadError("HEAD: no commit yet");
        for (let depth = 0; depth < MAX_PEEL; depth++) {
          const object = await this.structure(reader, oid);
          if (object.type === "commit") return oid;
          if (object.type !== "tag") return null;
          const target = /^object ([0-9a-f]{40})\n/.exec(new TextDecoder().decode(object.data));
          if (target?.[1] === undefined) throw new InProcessReadError(`${oid}: malformed tag`);
          oid = target[1];
        }
        throw new InProcessReadError(`${revision}: tags nested too deep`);
      },
      () => resolveCommit(repoDir, revision),
    );
  }

  /**
   * `commit:file` if it is a blob of at most `maxBytes` (a symlink's blob included, as
   * `git cat-file` gives it), its size if larger, absent if there is no blob at that path.
   * `commit` is a full commit id (resolveCommit's answer); anything else goes to the CLI.
   */
  readBlobWithin(
    repoDir: string,
    commit: string,
    file: string,
    maxBytes: number,
  ): Promise<BlobWithin> {
    return this.attempt(
      repoDir,
      async (reader): Promise<BlobWithin> => {
        if (!FULL_ID.test(commit)) throw new InProcessReadError(`${commit}: not a commit id`);
        const entry = await this.entryAt(reader, commit, file);
        if (entry === null || entry.mode.startsWith("4") || entry.mode === "160000") {
          return { kind: "absent" };
        }
        const object = await reader.read(entry.oid, maxBytes);
        if ("oversized" in object) return { kind: "oversized", size: object.oversized };
        return object.type === "blob" ? { kind: "blob", data: object.data } : { kind: "absent" };
      },
      async (): Promise<BlobWithin> => {
        const { blobs, oversized } = await readBlobsWithin(repoDir, commit, [file], maxBytes);
        const size = oversized.get(file);
        if (size !== undefined) return { kind: "oversized", size };
        const data = blobs.get(file);
        return data === undefined ? { kind: "absent" } : { kind: "blob", data };
      },
    );
  }

  /** Runs `task` on the repository's reader; on any doubt, `fallback` (the CLI) answers. */
  private async attempt<T>(
    repoDir: string,
    task: (reader: RepositoryReader) => Promise<T>,
    fallback: () => Promise<T>,
  ): Promise<T> {
    if (!this.options.inProcess) return fallback();
    const reader = this.readerFor(repoDir);
    try {
      await reader.refresh();
      const answer = await task(reader);
      this.counts.inProcess += 1;
      return answer;
    } catch (error) {
      // Not only InProcessReadError: a pack deleted between listing and reading surfaces as
      // ENOENT from the file system, and the CLI's answer holds either way. stats() shows them.
      this.counts.fallbacks += 1;
      this.lastFallback = error instanceof Error ? error.message : String(error);
      return fallback();
    } finally {
      this.evict(reader);
    }
  }

  private readerFor(repoDir: string): RepositoryReader {
    const key = resolve(repoDir);
    const reader =
      this.readers.get(key) ??
      new RepositoryReader(key, {
        maxPackBytes: this.options.maxRepositoryPackBytes,
        maxDeltaCacheBytes: this.options.maxDeltaCacheBytes,
        maxObjectCacheBytes: this.options.maxObjectCacheBytes,
      });
    // Map order is insertion order: re-inserting makes this the most recently used.
    this.readers.delete(key);
    this.readers.set(key, reader);
    return reader;
  }

  private evict(current: RepositoryReader): void {
    let total = 0;
    for (const reader of this.readers.values()) total += reader.bytes();
    for (const [key, reader] of this.readers) {
      if (total <= this.options.maxTotalBytes) break;
      if (reader === current) continue;
      total -= reader.bytes();
      reader.drop();
      this.readers.delete(key);
      this.counts.evictions += 1;
    }
  }

  /** A commit, tag or tree, refused to the CLI past maxStructureBytes. */
  private async structure(reader: RepositoryReader, oid: string) {
    const object = await reader.read(oid, this.options.maxStructureBytes);
    if ("oversized" in object) throw new InProcessReadError(`${oid}: ${object.oversized} bytes`);
    return object;
  }

  /** The tree entry `file` names in `commit`, as `git rev-parse commit:file` finds it. */
  private async entryAt(
    reader: RepositoryReader,
    commit: string,
    file: string,
  ): Promise<TreeEntry | null> {
    const object = await this.structure(reader, commit);
    const tree = /^tree ([0-9a-f]{40})\n/.exec(
      new TextDecoder().decode(object.data.subarray(0, 46)),
    );
    if (object.type !== "commit" || tree?.[1] === undefined) {
      throw new InProcessReadError(`${commit}: not a commit`);
    }
    let entry: TreeEntry = { mode: "40000", oid: tree[1] };
    const encoder = new TextEncoder();
    // A page path may have ~250 folders: the trees of one walk share one budget, not one each.
    let treeBytes = 0;
    for (const name of file.split("/")) {
      if (!entry.mode.startsWith("4")) return null;
      const parent = await this.structure(reader, entry.oid);
      if (parent.type !== "tree") return null;
      treeBytes += parent.data.byteLength;
      if (treeBytes > this.options.maxStructureBytes) {
        throw new InProcessReadError(`${commit}:${file}: trees over ${treeBytes} bytes`);
      }
      const found = findTreeEntry(parent.data, encoder.encode(name));
      if (found === null) return null;
      entry = found;
    }
    return entry;
  }
}
