/**
 * scripts/setup/model.ts placing the cached model into MODEL_DIR (what `bun run start` does):
 * verified, idempotent, and refusing a file that does not match its pinned SHA-256. Building the
 * cache itself (downloads, ~25 s) is left to `bun install`; these tests need it done.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ensureModel, MODEL_HINT, modelCacheDir } from "../scripts/setup/model.ts";
import { MODEL_NAME, modelFiles } from "../src/search/model-files.ts";

const PROJECT_DIR = resolve(import.meta.dir, "..");
const CACHE = join(modelCacheDir(PROJECT_DIR), MODEL_NAME);
const ALL_FILES = modelFiles(["fp32", "q8"]);

let scratch: string;
beforeAll(() => {
  if (!existsSync(join(CACHE, ".wikibot-model.stamp"))) throw new Error(MODEL_HINT);
  scratch = mkdtempSync(join(tmpdir(), "wikibot-model-setup-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const setup = (projectDir: string, modelDir: string) =>
  ensureModel({ projectDir, python: "python3", quiet: true, modelDir });

describe("placing the model into MODEL_DIR", () => {
  test("puts every pinned file there once, and again only when one goes missing", async () => {
    const modelDir = join(scratch, "data", "models");
    const first = await setup(PROJECT_DIR, modelDir);
    expect(first.built).toBe(false);
    const folder = join(modelDir, MODEL_NAME);
    for (const file of ALL_FILES) {
      expect(statSync(join(folder, file.path)).size).toBe(statSync(join(CACHE, file.path)).size);
    }
    const inode = statSync(join(folder, "onnx/model.onnx_data")).ino;

    await setup(PROJECT_DIR, modelDir);
    expect(statSync(join(folder, "onnx/model.onnx_data")).ino).toBe(inode);

    unlinkSync(join(folder, "tokenizer.json"));
    await setup(PROJECT_DIR, modelDir);
    expect(readFileSync(join(folder, "tokenizer.json"), "utf8")).toBe(
      readFileSync(join(CACHE, "tokenizer.json"), "utf8"),
    );
  });

  test("refuses a cached file whose SHA-256 differs, naming it", async () => {
    // A project whose cache claims to be complete (stamp copied) but holds a changed config.json.
    const projectDir = join(scratch, "project");
    const fakeCache = join(modelCacheDir(projectDir), MODEL_NAME);
    mkdirSync(join(fakeCache, "onnx"), { recursive: true });
    for (const file of [...ALL_FILES.map((f) => f.path), ".wikibot-model.stamp"]) {
      if (file !== "config.json") symlinkSync(join(CACHE, file), join(fakeCache, file));
    }
    writeFileSync(join(fakeCache, "config.json"), '{"hidden_size": 768}');
    const modelDir = join(scratch, "tampered-models");
    await expect(setup(projectDir, modelDir)).rejects.toThrow(
      /all-MiniLM-L6-v2\/config\.json has SHA-256 [0-9a-f]{64}, expected 953f9c0d/,
    );
    expect(existsSync(join(modelDir, MODEL_NAME))).toBe(false);
  });
});
