/**
 * The backup folder's format, shared by `admin backup` (writes it) and `admin restore` (checks
 * it before writing anything): `manifest.json` names every file with its size and SHA-256, and
 * `SHA256SUMS` repeats the sums for `sha256sum -c`. The manifest is written last, so a folder
 * without one is an unfinished backup and is refused.
 */
import { createReadStream } from "node:fs";
import { z } from "zod";

export const MANIFEST_FILE = "manifest.json";
export const SUMS_FILE = "SHA256SUMS";
export const DATABASE_FILE = "wikibot.db";
export const FORMAT = "wikibot-backup";
export const FORMAT_VERSION = 1;

/** A backup-relative path: plain names joined by `/`, never absolute, never `..`. */
const relativePath = z
  .string()
  .regex(/^(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const commit = z.string().regex(/^[0-9a-f]{40}$/);

const wikiEntry = z.discriminatedUnion("status", [
  z.object({
    id: z.number().int().positive(),
    slug: z.string(),
    /** The repository as it was when taken; `otterwiki_db` holds drafts and wiki preferences. */
    status: z.literal("ok"),
    head: commit,
    bundle: relativePath,
    otterwiki_db: relativePath.nullable(),
  }),
  z.object({
    id: z.number().int().positive(),
    slug: z.string(),
    /** No commit yet: restore makes an empty repository. */
    status: z.literal("empty"),
    otterwiki_db: relativePath.nullable(),
  }),
  z.object({
    id: z.number().int().positive(),
    slug: z.string(),
    /** Deleted between the database snapshot and its repository's: restore drops its row. */
    status: z.literal("deleted"),
  }),
]);

export const manifestSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(FORMAT_VERSION),
  created_at: z.string(),
  /** Whether the server took the repositories under its write gate, or this process did. */
  mode: z.enum(["server", "in-process"]),
  schema_version: z.number().int().nonnegative(),
  database: relativePath,
  /** NOTE: a backup with keys holds the server secret; store it like the keys themselves. */
  keys_included: z.boolean(),
  wikis: z.array(wikiEntry),
  files: z.array(z.object({ path: relativePath, bytes: z.number().int().nonnegative(), sha256 })),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type WikiEntry = z.infer<typeof wikiEntry>;
export type ManifestFile = Manifest["files"][number];

/** A file's SHA-256 (hex) and size, read in chunks; `onBytes` is told of each chunk's length. */
export async function hashFile(
  path: string,
  onBytes: (bytes: number) => void = () => undefined,
): Promise<{ sha256: string; bytes: number }> {
  const hasher = new Bun.CryptoHasher("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    if (!(chunk instanceof Uint8Array)) throw new Error(`unexpected chunk reading ${path}`);
    hasher.update(chunk);
    bytes += chunk.byteLength;
    onBytes(chunk.byteLength);
  }
  return { sha256: hasher.digest("hex"), bytes };
}

/** The files a wiki's entry names, which the manifest must give checksums for. */
export function filesOfWiki(wiki: WikiEntry): string[] {
  if (wiki.status === "deleted") return [];
  const files = wiki.status === "ok" ? [wiki.bundle] : [];
  return wiki.otterwiki_db === null ? files : [...files, wiki.otterwiki_db];
}

/** The bundle and Otterwiki database of a wiki inside the backup folder. */
export function wikiFiles(slug: string): { bundle: string; otterwikiDb: string } {
  return { bundle: `wikis/${slug}.bundle`, otterwikiDb: `wikis/${slug}.otterwiki.db` };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/**
 * Progress on stderr, as `admin reindex` shows it: a terminal gets one line redrawn, a log gets
 * each step's line (and byte counts at most every few seconds).
 */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr) {
  const tty = stream.isTTY === true;
  let lastTick = 0;
  return {
    /** A step worth a line of its own in a log (one wiki done, checks passed). */
    step(line: string) {
      if (tty) stream.write(`\r\x1b[2K${line}`);
      else stream.write(`${line}\n`);
    },
    /** A running count (bytes verified): redrawn 10 times a second, or a line every 5 s in a log. */
    tick(line: string) {
      if (Date.now() - lastTick < (tty ? 100 : 5000)) return;
      stream.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      lastTick = Date.now();
    },
    done(line: string) {
      stream.write(tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
    },
  };
}
