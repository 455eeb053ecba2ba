/** Batch reads of a repository's history and objects, one git process per batch. */
import { EMPTY_TREE, gitText, runGit } from "./git.ts";

export interface CommitInfo {
  commit: string;
  authorName: string;
  authorEmail: string;
  /** Unix seconds. */
  time: number;
  message: string;
  /** Files the commit changed (renames appear as delete + add). */
  files: string[];
}

const FIELD = "\x1f";
const RECORD = "\x01";

/** `git log` with changed files, newest first. `range` is passed through (e.g. `a..b`, `HEAD`). */
export async function readLog(
  repoDir: string,
  options: { range: string; limit?: number; since?: string; files?: readonly string[] },
): Promise<CommitInfo[]> {
  const args = [
    "log",
    "-z",
    "--no-renames",
    "--name-only",
    `--format=${RECORD}%H${FIELD}%an${FIELD}%ae${FIELD}%ct${FIELD}%B`,
  ];
  if (options.limit !== undefined) args.push(`-n${options.limit}`);
  if (options.since !== undefined) args.push(`--since=${options.since}`);
  args.push(options.range, "--");
  if (options.files) args.push(...options.files);
  const text = await gitText(repoDir, args);
  const commits: CommitInfo[] = [];
  for (const chunk of text.split(RECORD)) {
    if (chunk.length === 0) continue;
    const headerEnd = chunk.indexOf("\0");
    const header = headerEnd === -1 ? chunk : chunk.slice(0, headerEnd);
    const rest = headerEnd === -1 ? "" : chunk.slice(headerEnd + 1);
    const [commit = "", authorName = "", authorEmail = "", time = "0", ...message] =
      header.split(FIELD);
    commits.push({
      commit,
      authorName,
      authorEmail,
      time: Number(time),
      message: message.join(FIELD).trim(),
      files: rest
        .replace(/^\n/, "")
        .split("\0")
        .filter((name) => name.length > 0),
    });
  }
  return commits;
}

export interface FileChange {
  status: "added" | "modified" | "deleted";
  file: string;
}

/** Files that differ between two commits (`from` null: since the empty tree). */
export async function diffTrees(
  repoDir: string,
  from: string | null,
  to: string,
): Promise<FileChange[]> {
  const text = await gitText(repoDir, [
    "diff-tree",
    "-r",
    "-z",
    "--no-renames",
    "--name-status",
    from ?? EMPTY_TREE,
    to,
  ]);
  const parts = text.split("\0");
  const changes: FileChange[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const code = parts[i] ?? "";
    const file = parts[i + 1] ?? "";
    if (file === "") continue;
    changes.push({ status: code === "D" ? "deleted" : code === "A" ? "added" : "modified", file });
  }
  return changes;
}

/** Contents of `rev:file` for each file; a file missing at `rev` is absent from the map. */
export async function readBlobs(
  repoDir: string,
  rev: string,
  files: readonly string[],
): Promise<Map<string, Uint8Array>> {
  const result = new Map<string, Uint8Array>();
  if (files.length === 0) return result;
  const input = files.map((file) => `${rev}:${file}\n`).join("");
  const { stdout } = await runGit(repoDir, ["cat-file", "--batch"], { stdin: input });
  let offset = 0;
  for (const file of files) {
    const newline = stdout.indexOf(10, offset);
    if (newline === -1) break;
    const header = new TextDecoder().decode(stdout.subarray(offset, newline));
    offset = newline + 1;
    if (header.endsWith(" missing") || header.endsWith(" ambiguous")) continue;
    const size = Number(header.split(" ")[2]);
    const type = header.split(" ")[1];
    if (type === "blob") result.set(file, stdout.slice(offset, offset + size));
    offset += size + 1;
  }
  return result;
}

/** Resolves a user-supplied revision to a full commit id, or null when there is no such commit. */
export async function resolveCommit(repoDir: string, revision: string): Promise<string | null> {
  if (!/^[0-9a-f]{4,40}$/i.test(revision) && revision !== "HEAD") return null;
  const result = await runGit(
    repoDir,
    ["rev-parse", "--verify", "--quiet", `${revision}^{commit}`],
    {
      okExitCodes: [0, 1, 128],
    },
  );
  if (result.exitCode !== 0) return null;
  return new TextDecoder().decode(result.stdout).trim();
}

/** True when `ancestor` is reachable from `descendant`. */
export async function isAncestor(
  repoDir: string,
  ancestor: string,
  descendant: string,
): Promise<boolean> {
  const result = await runGit(repoDir, ["merge-base", "--is-ancestor", ancestor, descendant], {
    okExitCodes: [0, 1, 128],
  });
  return result.exitCode === 0;
}

/** Sizes of `rev:file` for each file, without reading the blobs; missing files are absent. */
export async function blobSizes(
  repoDir: string,
  rev: string,
  files: readonly string[],
): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  if (files.length === 0) return result;
  const input = files.map((file) => `${rev}:${file}\n`).join("");
  const text = await gitText(repoDir, ["cat-file", "--batch-check"], { stdin: input });
  const lines = text.split("\n");
  for (const [index, file] of files.entries()) {
    const [, type, size] = (lines[index] ?? "").split(" ");
    if (type === "blob" && size !== undefined) result.set(file, Number(size));
  }
  return result;
}

/**
 * Like readBlobs, but never loads a blob larger than `maxBytes` (a page pushed before the size
 * rules existed, or planted by hand): those are reported in `oversized` with their size.
 */
export async function readBlobsWithin(
  repoDir: string,
  rev: string,
  files: readonly string[],
  maxBytes: number,
): Promise<{ blobs: Map<string, Uint8Array>; oversized: Map<string, number> }> {
  const sizes = await blobSizes(repoDir, rev, files);
  const oversized = new Map<string, number>();
  const wanted: string[] = [];
  for (const [file, size] of sizes) {
    if (size > maxBytes) oversized.set(file, size);
    else wanted.push(file);
  }
  return { blobs: await readBlobs(repoDir, rev, wanted), oversized };
}
