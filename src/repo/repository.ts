/**
 * Creating and repairing wiki repositories on disk. A wiki is a non-bare repo on branch `main`
 * (Otterwiki needs a working tree); pushes update that tree through
 * `receive.denyCurrentBranch=updateInstead`.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gitText, runGit } from "./git.ts";

const REPO_CONFIG: readonly [string, string][] = [
  ["receive.denyCurrentBranch", "updateInstead"],
  ["receive.denyNonFastForwards", "true"],
  ["receive.denyDeletes", "true"],
  ["receive.fsckObjects", "true"],
  // gc must not run behind the write gate's back (notes: reads fail during repack).
  ["gc.auto", "0"],
  ["receive.autogc", "false"],
  ["core.quotePath", "false"],
  // Otterwiki reads this repo with its own git: pushed symlinks stay plain files for it too.
  ["core.symlinks", "false"],
  ["user.name", "wikibot"],
  ["user.email", "wikibot@localhost"],
];

export async function initRepository(dir: string): Promise<void> {
  await runGit(".", ["init", "-q", "-b", "main", dir]);
  for (const [key, value] of REPO_CONFIG) {
    await runGit(dir, ["config", key, value]);
  }
}

/** The commit `main` points at, read from the ref files without spawning git; null if unborn. */
export function readHead(dir: string): string | null {
  const gitDir = join(dir, ".git");
  const loose = join(gitDir, "refs", "heads", "main");
  if (existsSync(loose)) {
    const value = readFileSync(loose, "utf8").trim();
    if (/^[0-9a-f]{40}$/.test(value)) return value;
  }
  const packed = join(gitDir, "packed-refs");
  if (existsSync(packed)) {
    for (const line of readFileSync(packed, "utf8").split("\n")) {
      if (line.endsWith(" refs/heads/main")) return line.slice(0, 40);
    }
  }
  return null;
}

/**
 * Puts the working tree and index back to exactly HEAD after a crash: a writer killed mid-way
 * leaves at most an unacknowledged file, a temporary file in `.git` and a stale `index.lock`. Call only under the write gate
 * when no git child of ours can still be running on this repo.
 */
export async function repairWorkingTree(dir: string): Promise<{ repaired: boolean }> {
  let repaired = false;
  for (const lock of [
    join(dir, ".git", "index.lock"),
    join(dir, ".git", "refs", "heads", "main.lock"),
  ]) {
    if (existsSync(lock)) {
      rmSync(lock);
      repaired = true;
    }
  }
  // Half-written page files of ours (working-tree.ts writes them here, then renames).
  for (const name of readdirSync(join(dir, ".git"))) {
    if (name.startsWith("wikibot-") && name.endsWith(".tmp")) {
      rmSync(join(dir, ".git", name), { force: true });
      repaired = true;
    }
  }
  if (readHead(dir) === null) return { repaired };
  const status = await gitText(dir, ["status", "--porcelain=v1", "-z", "--untracked-files=all"]);
  if (status.length > 0) {
    await runGit(dir, ["reset", "-q", "--hard", "HEAD"]);
    await runGit(dir, ["clean", "-q", "-f", "-d"]);
    repaired = true;
  }
  return { repaired };
}
