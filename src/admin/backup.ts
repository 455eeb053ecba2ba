/**
 * `bun run admin backup --to DIR [--include-keys]`: a consistent snapshot of DATA_DIR while the
 * server runs. The database comes first (`VACUUM INTO`: one read transaction, so one point in
 * time, and WAL writers carry on), then the repository of every wiki in that copy, each taken
 * under the wiki's write gate by the running server (admin-channel.ts explains why) or by this
 * process when no server runs. Search indexes are left out: restore queues them for rebuilding.
 *
 * What the order means: a wiki's repository may be a little newer than the database row that
 * says how far its page index got; `indexed_commit` is only ever behind, and restore (like any
 * start) catches the index up from the repository. A wiki created after the database copy is not
 * in the backup; one deleted before its repository was taken is listed as deleted, and restore
 * drops its row.
 */
import { Database } from "bun:sqlite";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { otherWorkerHolder } from "../search/search-service.ts";
import { type AdminChannelClient, adminSocketPath, connectAdminChannel } from "./admin-channel.ts";
import {
  DATABASE_FILE,
  FORMAT,
  FORMAT_VERSION,
  filesOfWiki,
  formatBytes,
  hashFile,
  MANIFEST_FILE,
  type Manifest,
  type ManifestFile,
  progressPrinter,
  SUMS_FILE,
  type WikiEntry,
  wikiFiles,
} from "./backup-manifest.ts";
import { AdminError, type Command, type CommandContext, required } from "./commands.ts";
import { snapshotWiki, type WikiSnapshot } from "./wiki-snapshot.ts";

export const backupCommand: Command = {
  usage: "--to DIR [--include-keys]   (consistent snapshot, safe while the server runs)",
  options: { to: { type: "string" }, "include-keys": { type: "boolean" } },
  async run(context, values) {
    const target = resolve(required(values, "to"));
    const created = claimEmptyFolder(target);
    try {
      const manifest = await takeBackup(context, target, values["include-keys"] === true);
      const bytes = manifest.files.reduce((sum, file) => sum + file.bytes, 0);
      const deleted = manifest.wikis.filter((wiki) => wiki.status === "deleted");
      return {
        text: [
          `backed up ${manifest.wikis.length - deleted.length} wikis (${formatBytes(bytes)}) to ${target}`,
          `  repositories taken ${manifest.mode === "server" ? "by the running server under its write gate" : "in this process (no server was running)"}`,
          manifest.keys_included
            ? "  keys included: the backup holds the server secret, keep it as safe as DATA_DIR/keys"
            : "  keys not included (--include-keys to add them); a restore without them signs everyone out",
          ...deleted.map((wiki) => `  ${wiki.slug} was deleted during the backup and is left out`),
        ].join("\n"),
        json: {
          to: target,
          mode: manifest.mode,
          wikis: manifest.wikis.map((wiki) => ({
            slug: wiki.slug,
            status: wiki.status,
            head: wiki.status === "ok" ? wiki.head : null,
          })),
          bytes,
          keys_included: manifest.keys_included,
        },
      };
    } catch (error) {
      removeWritten(target, created);
      throw error;
    }
  },
};

/** Refuses a folder that holds anything; returns whether it was created here. */
function claimEmptyFolder(target: string): boolean {
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw new AdminError(`${target} is not a folder`);
    if (readdirSync(target).length > 0)
      throw new AdminError(`${target} is not empty; back up into a new or empty folder`);
    chmodSync(target, 0o700);
    return false;
  }
  mkdirSync(target, { recursive: true, mode: 0o700 });
  return true;
}

function removeWritten(target: string, created: boolean): void {
  if (created) rmSync(target, { recursive: true, force: true });
  else for (const name of readdirSync(target)) rmSync(join(target, name), { recursive: true });
}

async function findServer(dataDir: string): Promise<AdminChannelClient | null> {
  const channel = await connectAdminChannel(dataDir);
  if (channel !== null) return channel;
  // A live process with this DATA_DIR's search worker is a server (or `admin reindex`): without
  // its channel the repositories could change under us, so refuse rather than guess.
  const holder = otherWorkerHolder(dataDir);
  if (holder !== null)
    throw new AdminError(
      `process ${holder} is using this DATA_DIR (a server or admin reindex) but does not answer on ${adminSocketPath(dataDir)}; retry when it has finished or restart the server`,
    );
  return null;
}

async function takeBackup(
  context: CommandContext,
  target: string,
  includeKeys: boolean,
): Promise<Manifest> {
  const progress = progressPrinter();
  const server = await findServer(context.dataDir);
  // NOTE: with no server found, one started during the backup could commit while a repository
  // is bundled; the bundle's refs are still read once, so it stays whole, only maybe older.
  const databasePath = join(target, DATABASE_FILE);
  progress.step("backup: copying the database");
  context.db.run("VACUUM INTO ?", [databasePath]);
  chmodSync(databasePath, 0o600);
  const copy = new Database(databasePath, { readonly: true });
  let wikiRows: { id: number; slug: string }[];
  let schemaVersion: number;
  try {
    wikiRows = copy
      .query<{ id: number; slug: string }, []>("SELECT id, slug FROM wikis ORDER BY id")
      .all();
    schemaVersion =
      copy.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version ?? 0;
  } finally {
    copy.close();
  }

  mkdirSync(join(target, "wikis"), { mode: 0o700 });
  const wikis: WikiEntry[] = [];
  for (const [index, row] of wikiRows.entries()) {
    const files = wikiFiles(row.slug);
    const targets = {
      bundle: join(target, files.bundle),
      otterwikiDb: join(target, files.otterwikiDb),
    };
    const snapshot: WikiSnapshot =
      server !== null
        ? await server.snapshot({ wikiId: row.id, slug: row.slug, ...targets })
        : context.wikis.findById(row.id)?.slug !== row.slug
          ? { status: "deleted" }
          : await snapshotWiki(context.dataDir, row.slug, targets);
    const otterwikiDb =
      snapshot.status !== "deleted" && snapshot.otterwikiDb ? files.otterwikiDb : null;
    if (snapshot.status === "ok")
      wikis.push({
        ...row,
        status: "ok",
        head: snapshot.head,
        bundle: files.bundle,
        otterwiki_db: otterwikiDb,
      });
    else if (snapshot.status === "empty")
      wikis.push({ ...row, status: "empty", otterwiki_db: otterwikiDb });
    else wikis.push({ ...row, status: "deleted" });
    progress.step(
      `backup: wiki ${index + 1}/${wikiRows.length} ${row.slug}: ${snapshot.status === "ok" ? `${formatBytes(snapshot.bundleBytes)} at ${snapshot.head.slice(0, 12)}` : snapshot.status}`,
    );
  }

  const keyFiles = includeKeys ? copyKeys(context.dataDir, target) : [];
  const paths = [DATABASE_FILE, ...wikis.flatMap(filesOfWiki), ...keyFiles];
  const files = await checksum(target, paths, progress);
  writeFileSync(
    join(target, SUMS_FILE),
    files.map((file) => `${file.sha256}  ${file.path}\n`).join(""),
    { mode: 0o600 },
  );
  const manifest: Manifest = {
    format: FORMAT,
    version: FORMAT_VERSION,
    created_at: new Date().toISOString(),
    mode: server === null ? "in-process" : "server",
    schema_version: schemaVersion,
    database: DATABASE_FILE,
    keys_included: includeKeys,
    wikis,
    files,
  };
  // Last, and whole or not at all: a folder without a manifest is refused by restore.
  const temporary = join(target, `${MANIFEST_FILE}.tmp`);
  writeFileSync(temporary, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, join(target, MANIFEST_FILE));
  progress.done(`backup: done, ${wikis.length} wikis, ${files.length} files`);
  return manifest;
}

/** Copies DATA_DIR/keys (src/config/keys.ts and the ATProto client key) at mode 0600. */
function copyKeys(dataDir: string, target: string): string[] {
  const source = join(dataDir, "keys");
  if (!existsSync(source)) return [];
  mkdirSync(join(target, "keys"), { mode: 0o700 });
  const copied: string[] = [];
  for (const name of readdirSync(source).sort()) {
    // A `.tmp` is a key being written (keys.ts writes, then renames); the real one is there too.
    if (name.endsWith(".tmp") || !statSync(join(source, name)).isFile()) continue;
    copyFileSync(join(source, name), join(target, "keys", name));
    chmodSync(join(target, "keys", name), 0o600);
    copied.push(`keys/${name}`);
  }
  return copied;
}

async function checksum(
  target: string,
  paths: string[],
  progress: ReturnType<typeof progressPrinter>,
): Promise<ManifestFile[]> {
  const total = paths.reduce((sum, path) => sum + statSync(join(target, path)).size, 0);
  let done = 0;
  const files: ManifestFile[] = [];
  for (const path of paths) {
    chmodSync(join(target, path), 0o600);
    const { sha256, bytes } = await hashFile(join(target, path), (chunk) => {
      done += chunk;
      progress.tick(`backup: checksums ${formatBytes(done)} / ${formatBytes(total)}`);
    });
    files.push({ path, bytes, sha256 });
  }
  return files;
}
