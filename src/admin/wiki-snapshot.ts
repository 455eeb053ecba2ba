/**
 * Takes one wiki's repository and Otterwiki database into a backup folder: `git bundle create
 * --all` (every ref read once, with the objects they reach) and SQLite's `VACUUM INTO` (a
 * consistent copy even while Otterwiki writes). Callers run it under the wiki's write gate when a
 * server runs (admin-channel.ts); it changes nothing in the wiki.
 */
import { Database } from "bun:sqlite";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { gitText, runGit } from "../repo/git.ts";
import { readHead } from "../repo/repository.ts";
import { repoDir, wikiDir } from "../wikis/wiki-paths.ts";

export type WikiSnapshot =
  | { status: "ok"; head: string; bundleBytes: number; otterwikiDb: boolean }
  | { status: "empty"; otterwikiDb: boolean }
  | { status: "deleted" };

export interface SnapshotTargets {
  /** Absolute paths the bundle and the Otterwiki database copy are written to. */
  bundle: string;
  otterwikiDb: string;
}

/** Where Otterwiki keeps a wiki's drafts and admin preferences (src/wiki/launch.ts state dir). */
export function otterwikiDatabase(dataDir: string, slug: string): string {
  return join(wikiDir(dataDir, slug), "otterwiki", "otterwiki.db");
}

/**
 * Snapshots the wiki whose folder is `slug`. The caller has checked that the wiki's row still
 * exists under its gate; a repository that is not there then is damage, not a race, and throws.
 */
export async function snapshotWiki(
  dataDir: string,
  slug: string,
  targets: SnapshotTargets,
): Promise<WikiSnapshot> {
  const repo = repoDir(dataDir, slug);
  if (!existsSync(join(repo, ".git")))
    throw new Error(`wiki "${slug}" has no repository at ${repo}`);
  const otterwikiDb = copyOtterwikiDatabase(otterwikiDatabase(dataDir, slug), targets.otterwikiDb);
  // An unborn repository cannot be bundled ("Refusing to create empty bundle").
  if (readHead(repo) === null) return { status: "empty", otterwikiDb };
  rmSync(targets.bundle, { force: true });
  await runGit(repo, ["bundle", "create", "--quiet", targets.bundle, "--all"]);
  // The bundle's refs were read once, after every object they name was written (git writes
  // objects before refs), so it is whole. Its own `main` is what the manifest records.
  const heads = await gitText(repo, ["bundle", "list-heads", targets.bundle, "refs/heads/main"]);
  const bundled = /^([0-9a-f]{40}) refs\/heads\/main$/m.exec(heads)?.[1];
  if (bundled === undefined) throw new Error(`the bundle of "${slug}" has no refs/heads/main`);
  return { status: "ok", head: bundled, bundleBytes: statSync(targets.bundle).size, otterwikiDb };
}

function copyOtterwikiDatabase(source: string, target: string): boolean {
  if (!existsSync(source)) return false;
  rmSync(target, { force: true });
  // Read-write without create, so a hot journal left by a killed Otterwiki is rolled back
  // rather than refused; VACUUM INTO itself only reads (sqlite.org/lang_vacuum.html#vacuuminto).
  const db = new Database(source, { readwrite: true, create: false });
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    db.run("VACUUM INTO ?", [target]);
  } finally {
    db.close();
  }
  return true;
}
