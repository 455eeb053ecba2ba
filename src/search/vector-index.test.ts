/**
 * The on-disk vector index: a save/load round trip, and every kind of file it must refuse
 * (other parameters, another wiki's, truncated, half-written) rather than load silently.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkVectorIndexFiles,
  HNSW,
  INDEX_FILE,
  type IndexParameters,
  openVectorIndex,
  PARAMETERS_FILE,
  removeVectorIndexFiles,
  VectorIndex,
} from "./vector-index.ts";

const PARAMETERS: IndexParameters = {
  format: 1,
  wikiId: 7,
  dimensions: 8,
  metric: "cos",
  quantization: "f32",
  connectivity: HNSW.connectivity,
  expansionAdd: HNSW.expansionAdd,
  expansionSearch: HNSW.expansionSearch,
  model: "all-MiniLM-L6-v2",
  modelDtype: "fp32",
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vector-index-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A distinct vector per `i` (deterministic, so failures repeat). */
function axis(i: number): Float32Array {
  return Float32Array.from({ length: 8 }, (_, j) => Math.sin(i * 7.3 + j * 1.9));
}

function savedIndex(count = 20): VectorIndex {
  const index = new VectorIndex(dir, PARAMETERS);
  const keys = Array.from({ length: count }, (_, i) => 100 + i);
  index.add(
    keys,
    keys.map((_, i) => axis(i)),
  );
  index.save();
  return index;
}

describe("VectorIndex", () => {
  test("saves and loads back the same vectors under the same keys", () => {
    const original = savedIndex();
    const opened = openVectorIndex(dir, PARAMETERS);
    expect(opened.kind).toBe("loaded");
    expect(opened.index.size).toBe(20);
    const [best] = opened.index.search(axis(3), 1);
    expect(best?.key).toBe(103);
    expect(best?.similarity).toBeCloseTo(1, 5);
    expect(opened.index.search(axis(3), 5)).toEqual(original.search(axis(3), 5));
  });

  test("removing keys (present or not) and re-adding one works; adding a present key throws", () => {
    const index = savedIndex(4);
    index.remove([101, 999]);
    expect(index.size).toBe(3);
    expect(index.search(axis(1), 3).map((m) => m.key)).not.toContain(101);
    expect(() => index.add([100], [axis(0)])).toThrow();
    index.add([101], [axis(1)]);
    expect(index.search(axis(1), 1)[0]?.key).toBe(101);
  });

  test("a folder without files is reported missing, and comes back empty", () => {
    const opened = openVectorIndex(dir, PARAMETERS);
    expect(opened.kind).toBe("missing");
    expect(opened.index.size).toBe(0);
    expect(opened.index.search(axis(0), 3)).toEqual([]);
  });

  test("other parameters or another wiki's file are refused", () => {
    savedIndex();
    for (const change of [
      { connectivity: HNSW.connectivity + 8 },
      { modelDtype: "q8" },
      { wikiId: 8 },
      { dimensions: 384 },
    ]) {
      const opened = openVectorIndex(dir, { ...PARAMETERS, ...change });
      expect(opened.kind).toBe("invalid");
      expect(opened.index.size).toBe(0);
      if (opened.kind === "invalid") expect(opened.reason).toContain(Object.keys(change)[0] ?? "?");
    }
  });

  test("the cheap start check agrees with loading, without loading", () => {
    expect(checkVectorIndexFiles(dir, PARAMETERS)).toEqual({ kind: "missing" });
    savedIndex();
    expect(checkVectorIndexFiles(dir, PARAMETERS).kind).toBe("ok");
    expect(checkVectorIndexFiles(dir, { ...PARAMETERS, wikiId: 8 }).kind).toBe("invalid");
    truncateSync(join(dir, INDEX_FILE), 100);
    expect(checkVectorIndexFiles(dir, PARAMETERS).kind).toBe("invalid");
  });

  test("a truncated index file is detected", () => {
    savedIndex();
    const path = join(dir, INDEX_FILE);
    truncateSync(path, Math.floor(readFileSync(path).length / 2));
    const opened = openVectorIndex(dir, PARAMETERS);
    expect(opened.kind).toBe("invalid");
    if (opened.kind === "invalid") expect(opened.reason).toContain("bytes");
  });

  test("an index file of another save (count off) or broken JSON is detected", () => {
    savedIndex(20);
    const saved = readFileSync(join(dir, INDEX_FILE));
    savedIndex(21);
    // The file of the 20-vector save beside the JSON of the 21-vector one, lengths made equal.
    const json = JSON.parse(readFileSync(join(dir, PARAMETERS_FILE), "utf8"));
    writeFileSync(join(dir, INDEX_FILE), saved);
    writeFileSync(join(dir, PARAMETERS_FILE), JSON.stringify({ ...json, bytes: saved.length }));
    const opened = openVectorIndex(dir, PARAMETERS);
    expect(opened.kind).toBe("invalid");
    if (opened.kind === "invalid") expect(opened.reason).toContain("vectors, expected 21");

    writeFileSync(join(dir, PARAMETERS_FILE), "{ not json");
    expect(openVectorIndex(dir, PARAMETERS).kind).toBe("invalid");
    rmSync(join(dir, PARAMETERS_FILE));
    expect(openVectorIndex(dir, PARAMETERS).kind).toBe("invalid");
  });

  test("removeVectorIndexFiles leaves a folder that opens as missing", () => {
    savedIndex();
    removeVectorIndexFiles(dir);
    expect(openVectorIndex(dir, PARAMETERS).kind).toBe("missing");
  });
});
