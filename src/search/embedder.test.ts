/**
 * The embedder against the real all-MiniLM-L6-v2 from the project cache (`bun run setup` puts it
 * in .models/; CI's `bun install` does). A missing model fails with the command that fetches it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MODEL_HINT } from "../../scripts/setup/model.ts";
import {
  EMBEDDING_DIMENSIONS,
  type Embedder,
  EmbedderError,
  loadEmbedder,
  MAX_TOKENS,
} from "./embedder.ts";
import { MODEL_NAME } from "./model-files.ts";

const MODEL_DIR = join(import.meta.dir, "..", "..", ".models");

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] ?? 0) * (b[i] ?? 0);
  return dot;
}

function norm(a: Float32Array): number {
  return Math.sqrt(cosine(a, a));
}

let fp32: Embedder;
let int8: Embedder;

beforeAll(async () => {
  if (!existsSync(join(MODEL_DIR, MODEL_NAME, "config.json"))) throw new Error(MODEL_HINT);
  fp32 = await loadEmbedder({ modelDir: MODEL_DIR, dtype: "fp32" });
  int8 = await loadEmbedder({ modelDir: MODEL_DIR, dtype: "q8" });
});

afterAll(async () => {
  await fp32?.dispose();
  await int8?.dispose();
});

describe("the real model", () => {
  test("gives one 384-d unit vector per text, in order", async () => {
    // Different lengths, so the sort by length inside reorders them across several sub-batches.
    const sentence = "The survey counted otters along the northern shore of the bay. ";
    const texts = [
      sentence.repeat(3),
      sentence.repeat(15),
      "short",
      sentence.repeat(9),
      sentence.repeat(18),
      "",
    ];
    const vectors = await fp32.embed(texts);
    expect(vectors).toHaveLength(texts.length);
    for (const vector of vectors) {
      expect(vector).toHaveLength(EMBEDDING_DIMENSIONS);
      expect(norm(vector)).toBeCloseTo(1, 4);
    }
    // Batched texts are sorted by length inside; each must still get its own vector back.
    const alone = await Promise.all(texts.map(async (text) => (await fp32.embed([text]))[0]));
    vectors.forEach((vector, i) => {
      const single = alone[i];
      if (single === undefined) throw new Error("missing vector");
      expect(cosine(vector, single)).toBeGreaterThan(0.9999);
    });
  });

  test("reproduces sentence-transformers' reference vector for all-MiniLM-L6-v2", async () => {
    // The first values sentence-transformers prints for this sentence with this model.
    const [vector] = await fp32.embed(["The quick brown fox jumps over the lazy dog."]);
    const head = Array.from(vector?.slice(0, 5) ?? []);
    const reference = [0.04393356, 0.05893441, 0.04817843, 0.07754809, 0.02674444];
    head.forEach((value, i) => {
      expect(value).toBeCloseTo(reference[i] ?? Number.NaN, 4);
    });
  });

  test("scores paraphrases clearly above unrelated text", async () => {
    const cases = [
      {
        query: "how do we handle sign-in failures",
        related: "Bluesky OAuth error pages",
        unrelated: "sourdough starter feeding schedule",
      },
      {
        query: "how do we handle sign-in failures",
        related: "what happens when login breaks",
        unrelated: "feeding the sourdough culture every day",
      },
      {
        query: "when to nourish the bread leaven",
        related: "sourdough starter feeding schedule",
        unrelated: "Bluesky OAuth error pages",
      },
    ];
    for (const { query, related, unrelated } of cases) {
      const [q, r, u] = await fp32.embed([query, related, unrelated]);
      if (q === undefined || r === undefined || u === undefined) throw new Error("missing vector");
      expect(cosine(q, r) - cosine(q, u)).toBeGreaterThan(0.2);
    }
  });

  test("fp32 and int8 agree (cosine ≥ 0.99)", async () => {
    const texts = [
      "how do we handle sign-in failures",
      "Bluesky OAuth error pages",
      "Git smart HTTP push negotiation with receive-pack",
      "Field notes: kelp forest transects north of the harbour, March survey, 14 urchins per m².",
    ];
    const [a, b] = await Promise.all([fp32.embed(texts), int8.embed(texts)]);
    texts.forEach((_, i) => {
      const x = a[i];
      const y = b[i];
      if (x === undefined || y === undefined) throw new Error("missing vector");
      expect(cosine(x, y)).toBeGreaterThanOrEqual(0.99);
    });
  });

  test("counts tokens with [CLS] and [SEP], and ignores text past 256 tokens", async () => {
    expect(fp32.countTokens("hello world")).toBe(4);
    const long = "the otter dives for urchins near the kelp. ".repeat(40);
    expect(fp32.countTokens(long)).toBeGreaterThan(MAX_TOKENS);
    const [cut, extended, different] = await fp32.embed([
      long,
      `${long} Sourdough starter feeding schedule and bread recipes.`,
      `Sourdough starter feeding schedule and bread recipes. ${long}`,
    ]);
    if (cut === undefined || extended === undefined || different === undefined) {
      throw new Error("missing vector");
    }
    expect(cosine(cut, extended)).toBeGreaterThan(0.9999);
    expect(cosine(cut, different)).toBeLessThan(0.999);
  });

  test("embeds nothing for no texts", async () => {
    expect(await fp32.embed([])).toEqual([]);
  });
});

describe("a missing or damaged model", () => {
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "wikibot-embedder-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** A MODEL_DIR whose folder links the real files except the ones given. */
  function modelDirWith(name: string, replaced: Record<string, string>): string {
    const folder = join(scratch, name, MODEL_NAME);
    mkdirSync(join(folder, "onnx"), { recursive: true });
    for (const file of ["config.json", "tokenizer.json", "tokenizer_config.json"]) {
      if (!(file in replaced)) symlinkSync(join(MODEL_DIR, MODEL_NAME, file), join(folder, file));
    }
    for (const [file, content] of Object.entries(replaced))
      writeFileSync(join(folder, file), content);
    return join(scratch, name);
  }

  test("an empty MODEL_DIR names the missing files and the command to run", async () => {
    const promise = loadEmbedder({ modelDir: join(scratch, "empty"), dtype: "fp32" });
    await expect(promise).rejects.toBeInstanceOf(EmbedderError);
    await expect(promise).rejects.toThrow(/missing config\.json.*onnx\/model\.onnx.*bun run setup/);
  });

  test("a file that does not match its pinned SHA-256 is named", async () => {
    const modelDir = modelDirWith("tampered", {
      "config.json": "{}",
      "onnx/model_quantized.onnx": "not a model",
    });
    await expect(loadEmbedder({ modelDir, dtype: "q8" })).rejects.toThrow(
      /config\.json does not match its pinned SHA-256/,
    );
  });

  test("an unreadable ONNX file fails to load with the folder named", async () => {
    const modelDir = modelDirWith("truncated", { "onnx/model_quantized.onnx": "not a model" });
    const promise = loadEmbedder({ modelDir, dtype: "q8", verify: false });
    await expect(promise).rejects.toBeInstanceOf(EmbedderError);
    await expect(promise).rejects.toThrow(/cannot load the q8 embedding model from .*truncated/);
  });
});
