/**
 * Writing page files into a wiki's working tree. Files are written to a temporary name inside
 * `.git` and renamed, so a crash leaves the old file or the new one, never half of one; folders
 * are created one by one and a symlink planted by a push is never followed out of the repo.
 */
import { lstatSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { randomId } from "../lib/random.ts";
import { PageError } from "./page-error.ts";

export function writeWorkingFile(repo: string, file: string, content: string): void {
  ensureParentDirectories(repo, file);
  const temporary = join(repo, ".git", `wikibot-${randomId(12)}.tmp`);
  writeFileSync(temporary, content);
  renameSync(temporary, join(repo, file));
}

/** Creates the folders above `file`, refusing any that is a symlink or a plain file. */
export function ensureParentDirectories(repo: string, file: string): void {
  let current = repo;
  for (const segment of dirname(file)
    .split("/")
    .filter((part) => part !== ".")) {
    current = join(current, segment);
    let stat: ReturnType<typeof lstatSync> | undefined;
    try {
      stat = lstatSync(current);
    } catch {
      mkdirSync(current);
      continue;
    }
    if (!stat.isDirectory() || stat.isSymbolicLink()) {
      throw new PageError(
        "invalid_path",
        `"${file}" would be written through "${segment}", which is not a folder`,
      );
    }
  }
}
