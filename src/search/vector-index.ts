/**
 * One wiki's USearch HNSW index on disk: `vectors.usearch` plus `vectors.json`, the parameters it
 * was built with and what the file should hold. USearch's own `load()` accepts a file built with
 * other parameters without complaint (verified with usearch 2.26.2), so `openVectorIndex` checks
 * the JSON against what this build expects, the file's length and the loaded vector count;
 * anything off is reported as a problem and the caller rebuilds (the index is derived data).
 * Saves are atomic: a temporary file, fsync, rename, fsync of the folder.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { Index, MetricKind, ScalarKind } from "usearch";

export const INDEX_FILE = "vectors.usearch";
export const PARAMETERS_FILE = "vectors.json";

/** What an index is built with; all but `count` and `bytes` must match to reuse a file. */
export interface IndexParameters {
  format: 1;
  wikiId: number;
  dimensions: number;
  metric: "cos";
  quantization: "f32";
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
  model: string;
  modelDtype: string;
}

interface SavedParameters extends IndexParameters {
  /** Vectors in the file and the file's length, to catch a truncated or swapped file. */
  count: number;
  bytes: number;
}

/**
 * Measured at 100k clustered chunks against exact search (scripts/bench/vector-index.ts):
 * connectivity 16 / expansion_search 128 gave recall@10 0.965; 32 / 256 gave 0.985 for a file
 * 7% larger, a 14% slower build and 0.8 ms per search beside ~8 ms of query embedding.
 * Searching k = 64 instead of 10 did not change recall@10 (USearch's beam is expansion_search).
 */
export const HNSW = { connectivity: 32, expansionAdd: 128, expansionSearch: 256 } as const;

export interface VectorMatch {
  key: number;
  /** Cosine similarity, 1 = same direction. */
  similarity: number;
}

export type OpenResult =
  | { kind: "loaded"; index: VectorIndex }
  | { kind: "missing"; index: VectorIndex }
  | { kind: "invalid"; reason: string; index: VectorIndex };

export type FileCheck =
  | { kind: "ok"; count: number }
  | { kind: "missing" }
  | { kind: "invalid"; reason: string };

/**
 * What can be known of the wiki's index files without loading them: the parameters file matches
 * this build and the index file has the recorded length. Cheap enough to run for every wiki at
 * start; `openVectorIndex` then also checks what the loaded file holds.
 */
export function checkVectorIndexFiles(dir: string, parameters: IndexParameters): FileCheck {
  const indexPath = join(dir, INDEX_FILE);
  const parametersPath = join(dir, PARAMETERS_FILE);
  if (!existsSync(indexPath) && !existsSync(parametersPath)) return { kind: "missing" };
  const problem = (reason: string): FileCheck => ({ kind: "invalid", reason });
  let saved: unknown;
  try {
    saved = JSON.parse(readFileSync(parametersPath, "utf8"));
  } catch (error) {
    return problem(`${PARAMETERS_FILE} is unreadable: ${String(error)}`);
  }
  if (typeof saved !== "object" || saved === null)
    return problem(`${PARAMETERS_FILE} is no object`);
  for (const [name, expected] of Object.entries(parameters)) {
    const actual: unknown = Reflect.get(saved, name);
    if (actual !== expected)
      return problem(`${name} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
  const count: unknown = Reflect.get(saved, "count");
  const bytes: unknown = Reflect.get(saved, "bytes");
  if (typeof count !== "number" || typeof bytes !== "number")
    return problem(`${PARAMETERS_FILE} lacks count or bytes`);
  if (!existsSync(indexPath)) return problem(`${INDEX_FILE} is missing`);
  const actualBytes = statSync(indexPath).size;
  if (actualBytes !== bytes)
    return problem(`${INDEX_FILE} has ${actualBytes} bytes, expected ${bytes}`);
  return { kind: "ok", count };
}

/** Loads the wiki's index from `dir`; a missing or unusable one comes back empty with the reason. */
export function openVectorIndex(dir: string, parameters: IndexParameters): OpenResult {
  const fresh = () => new VectorIndex(dir, parameters);
  const check = checkVectorIndexFiles(dir, parameters);
  if (check.kind !== "ok") return { ...check, index: fresh() };
  const index = fresh();
  try {
    index.native.load(join(dir, INDEX_FILE));
  } catch (error) {
    return {
      kind: "invalid",
      reason: `${INDEX_FILE} does not load: ${String(error)}`,
      index: fresh(),
    };
  }
  if (index.size !== check.count)
    return {
      kind: "invalid",
      reason: `${INDEX_FILE} holds ${index.size} vectors, expected ${check.count}`,
      index: fresh(),
    };
  return { kind: "loaded", index };
}

/** An in-memory HNSW index bound to its folder; `save()` makes the current state durable. */
export class VectorIndex {
  readonly native: Index;

  constructor(
    readonly dir: string,
    readonly parameters: IndexParameters,
  ) {
    this.native = new Index({
      dimensions: parameters.dimensions,
      metric: MetricKind.Cos,
      quantization: ScalarKind.F32,
      connectivity: parameters.connectivity,
      expansion_add: parameters.expansionAdd,
      expansion_search: parameters.expansionSearch,
      multi: false,
    });
  }

  get size(): number {
    return this.native.size();
  }

  /** Adds vectors under new keys (USearch throws for a key already present: remove it first). */
  add(keys: readonly number[], vectors: readonly Float32Array[]): void {
    if (keys.length !== vectors.length) throw new Error("one vector per key");
    if (keys.length === 0) return;
    // One thread: the worker leaves the other core to the server.
    this.native.add(BigUint64Array.from(keys, BigInt), [...vectors], 1);
  }

  /** Removes keys; absent keys are ignored. */
  remove(keys: readonly number[]): void {
    if (keys.length === 0) return;
    this.native.remove(BigUint64Array.from(keys, BigInt));
  }

  search(vector: Float32Array, k: number): VectorMatch[] {
    const size = this.size;
    if (size === 0 || k <= 0) return [];
    const matches = this.native.search(vector, Math.min(k, size), 1);
    return Array.from(matches.keys, (key, i) => ({
      key: Number(key),
      similarity: 1 - (matches.distances[i] ?? 1),
    }));
  }

  /** Writes the index and its parameters atomically (each: temp file, fsync, rename). */
  save(): void {
    const indexPath = join(this.dir, INDEX_FILE);
    const temporary = `${indexPath}.tmp`;
    this.native.save(temporary);
    fsyncPath(temporary);
    const saved: SavedParameters = {
      ...this.parameters,
      count: this.size,
      bytes: statSync(temporary).size,
    };
    const parametersPath = join(this.dir, PARAMETERS_FILE);
    writeFileSync(`${parametersPath}.tmp`, `${JSON.stringify(saved, null, 2)}\n`);
    fsyncPath(`${parametersPath}.tmp`);
    // NOTE: two renames, not one: a crash between them leaves a count or length that does not
    // match, which openVectorIndex reports, and the wiki is rebuilt.
    renameSync(temporary, indexPath);
    renameSync(`${parametersPath}.tmp`, parametersPath);
    fsyncPath(this.dir);
  }
}

/** Deletes a wiki's index files (and temporaries a crash may have left). */
export function removeVectorIndexFiles(dir: string): void {
  for (const name of [INDEX_FILE, PARAMETERS_FILE]) {
    rmSync(join(dir, name), { force: true });
    rmSync(join(dir, `${name}.tmp`), { force: true });
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
