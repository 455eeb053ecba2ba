/**
 * Read-only object access to one repository in this process, through isomorphic-git with one
 * long-lived cache (its pack indexes and whole packs) and our own byte-bounded LRU of objects
 * read (trees and commits come back on every path lookup). Every object's size is read
 * before the object is loaded (object-peek.ts), packs count against a byte cap, and isomorphic-git
 * gets a file system that refuses every write. Whatever this cannot answer for certain (a missing
 * object, a pack over the cap, a read racing `git gc`) it throws as InProcessReadError, and the
 * caller asks the git CLI instead.
 */
import type { Stats } from "node:fs";
import { lstat, open, readdir, readFile, readlink, stat } from "node:fs/promises";
import { join, normalize, relative, sep } from "node:path";
import { readObject } from "isomorphic-git";
import { looseHeader, packedSize, packOffset } from "./object-peek.ts";

export class InProcessReadError extends Error {
  override name = "InProcessReadError";
}

export interface ReaderLimits {
  /** Bytes of `.pack` and `.idx` files one repository may hold in memory. */
  maxPackBytes: number;
  /** Bytes of rebuilt delta bases isomorphic-git may keep for one repository. */
  maxDeltaCacheBytes: number;
  /** Bytes of objects kept by id (each at most an eighth of this). */
  maxObjectCacheBytes: number;
}

type GitObject = { type: string; data: Uint8Array };

export type TreeEntry = { mode: string; oid: string };

/** isomorphic-git's parsed pack index keeps each object id as hex in a Map: ~120 B an object. */
const INDEX_BYTES_PER_OBJECT = 120;
/** Reads between two measurements of the delta-base cache. */
const MEASURE_EVERY = 32;
const LOOSE_PREFIX_BYTES = 4096;

function readOnly(): Promise<never> {
  return Promise.reject(Object.assign(new Error("read-only"), { code: "EROFS" }));
}

function exactArrayBuffer(data: Uint8Array): ArrayBuffer {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) {
    return data.buffer as ArrayBuffer;
  }
  return data.slice().buffer as ArrayBuffer;
}

/** One `mode name\0oid` entry of a tree whose name is `name` (bytes), or null. */
export function findTreeEntry(tree: Uint8Array, name: Uint8Array): TreeEntry | null {
  let at = 0;
  while (at < tree.byteLength) {
    const space = tree.indexOf(0x20, at);
    const nul = tree.indexOf(0, space + 1);
    if (space === -1 || nul === -1 || nul + 21 > tree.byteLength) {
      throw new InProcessReadError("malformed tree");
    }
    const entryName = tree.subarray(space + 1, nul);
    if (Buffer.compare(entryName, name) === 0) {
      return {
        mode: new TextDecoder().decode(tree.subarray(at, space)),
        oid: Buffer.from(tree.subarray(nul + 1, nul + 21)).toString("hex"),
      };
    }
    at = nul + 21;
  }
  return null;
}

export class RepositoryReader {
  readonly gitDir: string;
  /** isomorphic-git's cache object; replaced whole when the packs under it change. */
  private cache: Record<symbol, unknown> = {};
  /** `.idx` and `.pack` contents, shared with isomorphic-git (handed over as ArrayBuffers). */
  private files = new Map<string, ArrayBuffer>();
  private packBytes = 0;
  private indexedObjects = 0;
  private deltaCacheBytes = 0;
  /** Objects by id, least recently used first; an id names the same bytes forever. */
  private objects = new Map<string, GitObject>();
  private objectBytes = 0;
  private readsSinceMeasure = 0;
  /** The pack listing that put this repository over its cap; cleared when the listing changes. */
  private overCapListing: string | null = null;
  private listing = "";
  private readonly fs;

  constructor(
    repoDir: string,
    private readonly limits: ReaderLimits,
  ) {
    this.gitDir = join(repoDir, ".git");
    this.fs = {
      readFile: (path: string, options?: unknown) => this.readFile(path, options),
      stat: (path: string) => this.inside(path).then((full) => stat(full)),
      lstat: (path: string) => this.inside(path).then((full) => lstat(full)),
      readdir: (path: string) => this.inside(path).then((full) => readdir(full)),
      readlink: (path: string) => this.inside(path).then((full) => readlink(full)),
      writeFile: readOnly,
      mkdir: readOnly,
      rmdir: readOnly,
      unlink: readOnly,
      symlink: readOnly,
      chmod: readOnly,
    };
  }

  /** Bytes this reader holds: packs, their parsed indexes, delta bases and kept objects. */
  bytes(): number {
    return (
      this.packBytes +
      this.indexedObjects * INDEX_BYTES_PER_OBJECT +
      this.deltaCacheBytes +
      this.objectBytes
    );
  }

  /**
   * Drops the cache when a pack it holds is gone (`git gc` or `repack` replaced it): the old
   * bytes stay correct, but they would be held for nothing. Call before each operation.
   */
  async refresh(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(join(this.gitDir, "objects", "pack"))).sort();
    } catch {
      names = [];
    }
    const listing = names.join("\n");
    if (listing === this.listing) return;
    this.listing = listing;
    this.overCapListing = null;
    const present = new Set(names.map((name) => join(this.gitDir, "objects", "pack", name)));
    if ([...this.files.keys()].some((path) => !present.has(path))) this.dropPacks();
  }

  /** Forgets everything cached (eviction). */
  drop(): void {
    this.dropPacks();
    this.objects = new Map();
    this.objectBytes = 0;
  }

  /** Forgets the packs (replaced underneath); objects by id stay true. */
  private dropPacks(): void {
    this.cache = {};
    this.files = new Map();
    this.packBytes = 0;
    this.indexedObjects = 0;
    this.deltaCacheBytes = 0;
    this.readsSinceMeasure = 0;
  }

  /**
   * The object `oid` if it is at most `maxBytes`, else its size alone. Throws
   * InProcessReadError when it cannot be found or read here.
   */
  async read(oid: string, maxBytes: number): Promise<GitObject | { oversized: number }> {
    const kept = this.objects.get(oid);
    if (kept !== undefined) {
      if (kept.data.byteLength > maxBytes) return { oversized: kept.data.byteLength };
      this.objects.delete(oid);
      this.objects.set(oid, kept);
      return kept;
    }
    if (this.overCapListing !== null) throw new InProcessReadError("packs over the cap");
    const size = await this.sizeOf(oid);
    if (size > maxBytes) return { oversized: size };
    let result: Awaited<ReturnType<typeof readObject>>;
    try {
      result = await readObject({
        fs: this.fs,
        gitdir: this.gitDir,
        oid,
        format: "content",
        cache: this.cache,
      });
    } catch (error) {
      throw new InProcessReadError(`${oid}: ${String(error)}`);
    }
    if (result.format !== "content") throw new InProcessReadError(`${oid}: not content`);
    if (++this.readsSinceMeasure >= MEASURE_EVERY) await this.boundDeltaCache();
    const object = { type: result.type, data: result.object };
    this.keep(oid, object);
    return object;
  }

  private keep(oid: string, object: GitObject): void {
    const limit = this.limits.maxObjectCacheBytes;
    if (object.data.byteLength > limit / 8 || this.objects.has(oid)) return;
    this.objects.set(oid, object);
    this.objectBytes += object.data.byteLength;
    for (const [old, value] of this.objects) {
      if (this.objectBytes <= limit) break;
      this.objects.delete(old);
      this.objectBytes -= value.data.byteLength;
    }
  }

  /**
   * isomorphic-git can keep rebuilt delta bases in its pack index objects (`offsetCache`, for
   * chains deeper than 3) and never evicts them. In 1.44.11 it never fills it for an index read
   * from an `.idx` file (its `readDepth` counter starts undefined, so the depth test is NaN > 3),
   * so this measures 0 today; it guards an upgrade that changes that, by measuring them now and
   * then and clearing them over the cap. It reaches into that cache's layout (pinned version).
   */
  async boundDeltaCache(): Promise<void> {
    this.readsSinceMeasure = 0;
    let total = 0;
    const indexes: { offsetCache: Record<string, unknown> }[] = [];
    const cache = this.cache;
    for (const symbol of Object.getOwnPropertySymbols(cache)) {
      const packs = cache[symbol];
      if (symbol.description !== "PackfileCache" || !(packs instanceof Map)) continue;
      for (const pending of packs.values()) {
        const index: unknown = await Promise.resolve(pending).catch(() => null);
        if (typeof index !== "object" || index === null || !("offsetCache" in index)) continue;
        const offsetCache = index.offsetCache;
        if (typeof offsetCache !== "object" || offsetCache === null) continue;
        indexes.push(index as { offsetCache: Record<string, unknown> });
        for (const entry of Object.values(offsetCache)) {
          const object: unknown = entry?.object;
          if (object instanceof Uint8Array) total += object.byteLength;
        }
      }
    }
    if (total > this.limits.maxDeltaCacheBytes) {
      for (const index of indexes) index.offsetCache = {};
      total = 0;
    }
    this.deltaCacheBytes = total;
  }

  /** The size of `oid` from its loose header or its pack entry, without inflating it. */
  private async sizeOf(oid: string): Promise<number> {
    const loose = join(this.gitDir, "objects", oid.slice(0, 2), oid.slice(2));
    const prefix = await readPrefix(loose);
    if (prefix !== null) {
      const header = looseHeader(prefix.bytes);
      if (header === null) throw new InProcessReadError(`${oid}: unreadable loose object`);
      // isomorphic-git reads the whole file: refuse one padded far past what it inflates to.
      if (prefix.fileBytes > header.size + (header.size >> 6) + 1024) {
        throw new InProcessReadError(`${oid}: loose object file larger than its object`);
      }
      return header.size;
    }
    const packDir = join(this.gitDir, "objects", "pack");
    const names = this.listing.split("\n").filter((name) => name.endsWith(".idx"));
    for (const name of names) {
      const idx = new Uint8Array(await this.packFile(join(packDir, name)));
      const offset = packOffset(idx, oid);
      if (offset === null) continue;
      const pack = new Uint8Array(
        await this.packFile(join(packDir, name.replace(/\.idx$/, ".pack"))),
      );
      const size = packedSize(pack, offset);
      if (size === null) throw new InProcessReadError(`${oid}: unreadable pack entry`);
      return size;
    }
    throw new InProcessReadError(`${oid}: not found`);
  }

  private async inside(path: string): Promise<string> {
    const rest = relative(this.gitDir, path);
    if (rest.startsWith(`..${sep}`) || rest === "..") {
      throw Object.assign(new Error(`outside the repository: ${path}`), { code: "EACCES" });
    }
    return path;
  }

  /**
   * Files for isomorphic-git and for sizeOf. Packs and their indexes are read once and kept
   * (counted against the cap); other files (loose objects, refs) are read each time.
   */
  private async readFile(given: string, options?: unknown): Promise<ArrayBuffer | string> {
    const path = normalize(await this.inside(given));
    const kept = this.files.get(path);
    if (kept !== undefined) return kept;
    const inPackDir = path.startsWith(join(this.gitDir, "objects", "pack") + sep);
    if (!inPackDir || !(path.endsWith(".pack") || path.endsWith(".idx"))) {
      const encoding =
        typeof options === "object" && options !== null && "encoding" in options
          ? options.encoding
          : undefined;
      const data = await readFile(path);
      return encoding === "utf8" ? data.toString("utf8") : exactArrayBuffer(data);
    }
    return this.packFile(path);
  }

  /** A `.pack` or `.idx` file, read once and kept while the cap allows. */
  private async packFile(path: string): Promise<ArrayBuffer> {
    const kept = this.files.get(path);
    if (kept !== undefined) return kept;
    const info: Stats = await stat(path);
    if (this.packBytes + info.size > this.limits.maxPackBytes) {
      this.overCapListing = this.listing;
      throw Object.assign(new InProcessReadError(`packs over ${this.limits.maxPackBytes} bytes`), {
        code: "EFBIG",
      });
    }
    const data = exactArrayBuffer(await readFile(path));
    // Another read may have loaded it meanwhile: keep one copy.
    const again = this.files.get(path);
    if (again !== undefined) return again;
    this.files.set(path, data);
    this.packBytes += data.byteLength;
    if (path.endsWith(".idx") && data.byteLength >= 8 + 256 * 4) {
      this.indexedObjects += new DataView(data).getUint32(8 + 255 * 4);
    }
    return data;
  }
}

/** The first bytes of a file and its size, or null when it does not exist. */
async function readPrefix(path: string): Promise<{ bytes: Uint8Array; fileBytes: number } | null> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new InProcessReadError(String(error));
  }
  try {
    const buffer = Buffer.alloc(LOOSE_PREFIX_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, LOOSE_PREFIX_BYTES, 0);
    return { bytes: buffer.subarray(0, bytesRead), fileBytes: (await handle.stat()).size };
  } finally {
    await handle.close();
  }
}
