// Installs the pinned An Otter Wiki + gunicorn into the project's Python virtualenv
// (`<projectDir>/.venv`), which the server spawns one wiki process from per active wiki.
// It never touches the system Python and never upgrades past the pins; a stamp file makes
// re-runs a few stat calls.
// NOTE: no cross-process lock; two first-time setups racing on one checkout both run pip.

import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { captureCommand, runCommand } from "./command.ts";

/** Exact PyPI pins. Both were checked to install on CPython 3.11 (x86_64 Linux). */
export const OTTERWIKI_PINS = ["otterwiki==2.26.1", "gunicorn==27.0.1"] as const;

const MINIMUM_PYTHON = { major: 3, minor: 11 } as const;
const PYTHON_CANDIDATES = ["python3", "python3.13", "python3.12", "python3.11"];
const STAMP_FILE = "wikibot-otterwiki.stamp";

export type EnsureOtterwikiOptions = { projectDir: string; quiet: boolean };
export type OtterwikiRuntime = { python: string; gunicorn: string };

const INSTALL_HINT =
  "Otterwiki needs Python >= 3.11 with the venv module: on Debian/Ubuntu run " +
  "`apt-get install python3 python3-venv` (Debian 12 ships 3.11); elsewhere install " +
  "Python 3.11+ from python.org and make sure `python3` (or `python3.11`) is on PATH.";

const inFlight = new Map<string, Promise<OtterwikiRuntime>>();

/**
 * Makes `<projectDir>/.venv` hold the pinned Otterwiki and gunicorn and returns their paths.
 * Idempotent: when the stamp matches the pins and both binaries exist, pip is not run.
 */
export function ensureOtterwiki(options: EnsureOtterwikiOptions): Promise<OtterwikiRuntime> {
  const pending = inFlight.get(options.projectDir);
  if (pending) return pending;
  const setup = runSetup(options).finally(() => inFlight.delete(options.projectDir));
  inFlight.set(options.projectDir, setup);
  return setup;
}

async function runSetup({ projectDir, quiet }: EnsureOtterwikiOptions): Promise<OtterwikiRuntime> {
  const say = (line: string) => {
    if (!quiet) console.log(`otterwiki: ${line}`);
  };
  const venvDir = join(projectDir, ".venv");
  const runtime = {
    python: join(venvDir, "bin", "python"),
    gunicorn: join(venvDir, "bin", "gunicorn"),
  };
  const stampPath = join(venvDir, STAMP_FILE);
  const wantedStamp = `${OTTERWIKI_PINS.join("\n")}\n`;

  // existsSync follows symlinks, so a venv whose base interpreter was removed counts as missing.
  const venvPythonWorks = existsSync(runtime.python);
  if (
    venvPythonWorks &&
    existsSync(runtime.gunicorn) &&
    (await readStamp(stampPath)) === wantedStamp
  ) {
    return runtime;
  }

  if (!venvPythonWorks || !(await isSupportedPython(runtime.python))) {
    const basePython = await findBasePython();
    say(`creating virtualenv ${venvDir} with ${basePython}`);
    await run([basePython, "-m", "venv", "--clear", venvDir], "python3 -m venv");
  }

  const started = performance.now();
  say(`installing ${OTTERWIKI_PINS.join(" ")} from PyPI into ${venvDir}`);
  await run(
    [
      runtime.python,
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "--no-input",
      "--quiet",
      ...OTTERWIKI_PINS,
    ],
    "pip install",
  );
  if (!existsSync(runtime.gunicorn)) {
    throw new Error(`pip finished but ${runtime.gunicorn} is missing; delete ${venvDir} and retry`);
  }
  mkdirSync(venvDir, { recursive: true });
  writeFileSync(`${stampPath}.tmp`, wantedStamp);
  renameSync(`${stampPath}.tmp`, stampPath);
  say(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return runtime;
}

async function readStamp(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return null;
  }
}

async function findBasePython(): Promise<string> {
  const seen: string[] = [];
  for (const name of PYTHON_CANDIDATES) {
    const path = Bun.which(name);
    if (!path) continue;
    const version = await pythonVersion(path);
    seen.push(`${name} (${version ?? "unusable"})`);
    if (version && (await isSupportedPython(path)) && (await hasVenvModule(path))) return path;
  }
  const found = seen.length > 0 ? `found ${seen.join(", ")}` : "no python3 on PATH";
  throw new Error(`${INSTALL_HINT} (${found})`);
}

async function pythonVersion(python: string): Promise<string | null> {
  const result = await capture([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]);
  return result.exitCode === 0 ? result.output.trim() : null;
}

async function isSupportedPython(python: string): Promise<boolean> {
  const version = await pythonVersion(python);
  if (!version) return false;
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return (
    major > MINIMUM_PYTHON.major ||
    (major === MINIMUM_PYTHON.major && minor >= MINIMUM_PYTHON.minor)
  );
}

/** Debian splits `venv`/`ensurepip` into python3-venv; without it `-m venv` fails half-way. */
async function hasVenvModule(python: string): Promise<boolean> {
  return (await capture([python, "-c", "import venv, ensurepip"])).exitCode === 0;
}

async function capture(argv: string[]): Promise<{ exitCode: number; output: string }> {
  const result = await captureCommand(argv);
  return { exitCode: result.exitCode, output: result.stdout + result.stderr };
}

function run(argv: string[], what: string): Promise<void> {
  return runCommand(argv, { what });
}

if (import.meta.main) {
  const projectDir = join(import.meta.dir, "..", "..");
  const runtime = await ensureOtterwiki({ projectDir, quiet: process.argv.includes("--quiet") });
  console.log(runtime.gunicorn);
}
