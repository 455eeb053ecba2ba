/**
 * `bun run admin restore --from DIR --data-dir NEW`: checks every file of a backup against its
 * manifest (size and SHA-256) before writing anything, then builds NEW as a server would have
 * left it: the database, each repository cloned from its bundle with the configuration a created
 * wiki gets (src/repo/repository.ts; the push hook comes from the server's core.hooksPath at
 * start, never from the repository), Otterwiki's database, and the keys when the backup has them.
 * The page index is caught up to each repository's HEAD and every page is queued for semantic
 * re-indexing, which the server's search worker does on start. It never opens DATA_DIR.
 */
import { Database } from "bun:sqlite";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { openDatabase } from "../db/database.ts";
import { SCHEMA_VERSION } from "../db/migrate.ts";
import { syncPageIndex } from "../pages/index-sync.ts";
import { PageIndex } from "../pages/page-index.ts";
import { runGit } from "../repo/git.ts";
import { initRepository, readHead } from "../repo/repository.ts";
import { ChunkStore } from "../search/chunk-store.ts";
import { checkSlug } from "../wikis/slug.ts";
import { repoDir } from "../wikis/wiki-paths.ts";
import { WikiStore } from "../wikis/wiki-store.ts";
import {
  filesOfWiki,
  formatBytes,
  hashFile,
  MANIFEST_FILE,
  type Manifest,
  manifestSchema,
  progressPrinter,
} from "./backup-manifest.ts";
import { AdminError, type ConfigOnlyCommand, required } from "./commands.ts";
import { otterwikiDatabase } from "./wiki-snapshot.ts";

export const restoreCommand: ConfigOnlyCommand = {
  usage: "--from DIR --data-dir NEW   (checks the backup, then builds a new DATA_DIR)",
  options: { from: { type: "string" }, "data-dir": { type: "string" } },
  // DATA_DIR is deliberately not used: a restore never writes into a live data directory.
  async runWithConfig(_config, values) {
    const source = resolve(required(values, "from"));
    const target = resolve(required(values, "data-dir"));
    const manifest = readManifest(source);
    const created = checkTarget(target);
    const progress = progressPrinter();
    await verifyFiles(source, manifest, progress);
    checkWikiRows(source, manifest);
    let restored: Awaited<ReturnType<typeof rebuild>>;
    try {
      restored = await rebuild(source, target, manifest, progress);
    } catch (error) {
      // NEW was empty or absent: put it back that way, so a retry starts clean.
      if (created) rmSync(target, { recursive: true, force: true });
      else for (const name of readdirSync(target)) rmSync(join(target, name), { recursive: true });
      throw error;
    }
    const live = manifest.wikis.filter((wiki) => wiki.status !== "deleted");
    return {
      text: [
        `restored ${live.length} wikis into ${target} from the backup of ${manifest.created_at}`,
        `  ${restored.queuedPages} pages queued for semantic search; the server's search worker rebuilds them when it starts`,
        manifest.keys_included
          ? "  keys restored"
          : "  the backup has no keys: the server makes new ones on start, so everyone signs in again",
        ...restored.dropped.map(
          (slug) => `  ${slug} was deleted during the backup and is left out`,
        ),
      ].join("\n"),
      json: {
        data_dir: target,
        wikis: live.map((wiki) => wiki.slug),
        dropped: restored.dropped,
        queued_pages: restored.queuedPages,
        keys_restored: manifest.keys_included,
      },
    };
  },
};

function readManifest(source: string): Manifest {
  const path = join(source, MANIFEST_FILE);
  if (!existsSync(path))
    throw new AdminError(`${source} has no ${MANIFEST_FILE}: not a backup, or an unfinished one`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new AdminError(`${path} is not JSON: ${error instanceof Error ? error.message : error}`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success)
    throw new AdminError(
      `${path} is not a wikibot backup manifest (version 1): ${parsed.error.issues[0]?.message ?? "invalid"} at ${parsed.error.issues[0]?.path.join(".") ?? "?"}`,
    );
  const manifest = parsed.data;
  const listed = new Set(manifest.files.map((file) => file.path));
  const named = [manifest.database, ...manifest.wikis.flatMap(filesOfWiki)];
  for (const path of named)
    if (!listed.has(path))
      throw new AdminError(`${MANIFEST_FILE} names ${path} but gives no checksum for it`);
  if (manifest.schema_version > SCHEMA_VERSION)
    throw new AdminError(
      `the backup's database has schema version ${manifest.schema_version}, newer than this wikibot's (${SCHEMA_VERSION}); restore with the wikibot that made it`,
    );
  const seen = new Set<string>();
  for (const wiki of manifest.wikis) {
    const check = checkSlug(wiki.slug);
    if (!check.ok || check.slug !== wiki.slug || seen.has(wiki.slug))
      throw new AdminError(`${MANIFEST_FILE} lists a wiki "${wiki.slug}" that cannot be restored`);
    seen.add(wiki.slug);
  }
  const keys = manifest.files.filter((file) => file.path.startsWith("keys/"));
  if (keys.length > 0 && !manifest.keys_included)
    throw new AdminError(`${MANIFEST_FILE} lists keys but says keys are not included`);
  return manifest;
}

/** Refuses a target that holds anything; returns whether it is absent (made by us later). */
function checkTarget(target: string): boolean {
  if (!existsSync(target)) return true;
  if (!statSync(target).isDirectory()) throw new AdminError(`${target} is not a folder`);
  if (readdirSync(target).length > 0)
    throw new AdminError(`${target} is not empty; restore into a new or empty folder`);
  return false;
}

async function verifyFiles(
  source: string,
  manifest: Manifest,
  progress: ReturnType<typeof progressPrinter>,
): Promise<void> {
  const total = manifest.files.reduce((sum, file) => sum + file.bytes, 0);
  let done = 0;
  for (const file of manifest.files) {
    const path = join(source, file.path);
    if (!existsSync(path))
      throw new AdminError(`backup file ${file.path} is missing; nothing was restored`);
    // lstat: a symlink in a backup folder could point the restore at any file on this machine.
    const stat = lstatSync(path);
    if (!stat.isFile())
      throw new AdminError(
        `backup file ${file.path} is not a regular file (a link or a folder); nothing was restored`,
      );
    const size = stat.size;
    if (size !== file.bytes)
      throw new AdminError(
        `backup file ${file.path} is ${size} bytes, the manifest says ${file.bytes}; nothing was restored`,
      );
    const { sha256 } = await hashFile(path, (bytes) => {
      done += bytes;
      progress.tick(`restore: verifying ${formatBytes(done)} / ${formatBytes(total)}`);
    });
    if (sha256 !== file.sha256)
      throw new AdminError(
        `backup file ${file.path} does not match its checksum (corrupt); nothing was restored`,
      );
  }
  progress.step(
    `restore: ${manifest.files.length} files (${formatBytes(total)}) match their checksums`,
  );
}

/** The database copy must hold exactly the wikis the manifest accounts for. */
function checkWikiRows(source: string, manifest: Manifest): void {
  const db = new Database(join(source, manifest.database), { readonly: true });
  try {
    const rows = db.query<{ id: number; slug: string }, []>("SELECT id, slug FROM wikis").all();
    const expected = new Map(manifest.wikis.map((wiki) => [wiki.id, wiki.slug]));
    for (const row of rows)
      if (expected.get(row.id) !== row.slug)
        throw new AdminError(
          `the backup's database has wiki ${row.slug} (id ${row.id}), which ${MANIFEST_FILE} does not account for`,
        );
    if (rows.length !== expected.size)
      throw new AdminError(`${MANIFEST_FILE} lists wikis the backup's database does not have`);
  } finally {
    db.close();
  }
}

async function rebuild(
  source: string,
  target: string,
  manifest: Manifest,
  progress: ReturnType<typeof progressPrinter>,
): Promise<{ dropped: string[]; queuedPages: number }> {
  mkdirSync(join(target, "wikis"), { recursive: true, mode: 0o700 });
  chmodSync(target, 0o700);
  const databasePath = join(target, "wikibot.db");
  copyPrivate(join(source, manifest.database), databasePath);
  if (manifest.keys_included) {
    mkdirSync(join(target, "keys"), { mode: 0o700 });
    for (const file of manifest.files.filter((entry) => entry.path.startsWith("keys/")))
      copyPrivate(join(source, file.path), join(target, file.path));
  }
  // Brings an older backup's schema up to this wikibot's; a newer one is refused here.
  const db = openDatabase(databasePath);
  try {
    const wikis = new WikiStore(db);
    const pageIndex = new PageIndex(db);
    const chunks = new ChunkStore(db);
    const dropped: string[] = [];
    let queuedPages = 0;
    for (const [index, wiki] of manifest.wikis.entries()) {
      if (wiki.status === "deleted") {
        db.transaction(() => wikis.delete(wiki.id)).immediate();
        dropped.push(wiki.slug);
        continue;
      }
      const repo = repoDir(target, wiki.slug);
      mkdirSync(dirname(repo), { recursive: true, mode: 0o700 });
      await initRepository(repo);
      if (wiki.status === "ok") {
        // Every ref as bundled; `main` is checked out, so git must be told it may move HEAD.
        await runGit(repo, [
          "fetch",
          "--quiet",
          "--update-head-ok",
          join(source, wiki.bundle),
          "+refs/*:refs/*",
        ]);
        await runGit(repo, ["reset", "--quiet", "--hard", "HEAD"]);
        if (readHead(repo) !== wiki.head)
          throw new AdminError(
            `restored ${wiki.slug} is at ${readHead(repo)}, the manifest says ${wiki.head}`,
          );
      }
      if (wiki.otterwiki_db !== null) {
        const file = otterwikiDatabase(target, wiki.slug);
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        copyPrivate(join(source, wiki.otterwiki_db), file);
      }
      // The database copy predates the repository by the time the backup took: catch up.
      await syncPageIndex({ db, wikis, pageIndex }, wiki.id, repo);
      // The vectors were left out, so the chunks behind them mean nothing now.
      queuedPages += chunks.resetWiki(wiki.id);
      progress.step(
        `restore: wiki ${index + 1}/${manifest.wikis.length} ${wiki.slug} ${wiki.status === "ok" ? `at ${wiki.head.slice(0, 12)}` : "(empty)"}`,
      );
    }
    progress.done(`restore: done, ${manifest.wikis.length - dropped.length} wikis`);
    return { dropped, queuedPages };
  } finally {
    db.close();
  }
}

function copyPrivate(from: string, to: string): void {
  copyFileSync(from, to);
  chmodSync(to, 0o600);
}
