/**
 * The machine a bench ran on, for the report's header: cores and CPU model, memory, OS, and the
 * versions of the programs the figures depend on (Bun, SQLite, git, the Otterwiki venv's Python
 * and Otterwiki). A program that is missing is null rather than a failed bench.
 */

import { Database } from "bun:sqlite";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { z } from "zod";

export const Machine = z.object({
  cores: z.number().int().positive(),
  cpuModel: z.string(),
  memoryBytes: z.number().positive(),
  os: z.string().min(1),
  kernel: z.string(),
  arch: z.string(),
  bun: z.string().min(1),
  sqlite: z.string().min(1),
  git: z.string().nullable(),
  python: z.string().nullable(),
  otterwiki: z.string().nullable(),
});
export type Machine = z.infer<typeof Machine>;

/** stdout of a short command, trimmed; null if it cannot run or fails. */
function output(command: string[]): string | null {
  try {
    const result = Bun.spawnSync(command, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    if (result.exitCode !== 0) return null;
    const text = `${result.stdout.toString()}${result.stderr.toString()}`.trim();
    return text === "" ? null : text;
  } catch {
    return null;
  }
}

/** PRETTY_NAME from os-release (freedesktop.org os-release(5)), else the kernel's name. */
function osName(): string {
  try {
    const text = readFileSync("/etc/os-release", "utf8");
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1];
    if (pretty !== undefined && pretty !== "") return pretty;
  } catch {
    // Not every system has os-release; the kernel name below still says which OS it is.
  }
  return os.type();
}

function sqliteVersion(): string {
  const db = new Database(":memory:");
  try {
    return (
      db.query<{ version: string }, []>("SELECT sqlite_version() AS version").get()?.version ?? ""
    );
  } finally {
    db.close();
  }
}

/** Describes this machine; `projectDir` locates the Otterwiki venv (`.venv`). */
export function describeMachine(projectDir: string): Machine {
  const python = join(projectDir, ".venv", "bin", "python");
  const hasVenv = existsSync(python);
  return {
    cores: navigator.hardwareConcurrency,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryBytes: os.totalmem(),
    os: osName(),
    kernel: os.release(),
    arch: os.arch(),
    bun: Bun.version,
    sqlite: sqliteVersion(),
    git: output(["git", "--version"])?.replace(/^git version /, "") ?? null,
    python: hasVenv ? (output([python, "--version"])?.replace(/^Python /, "") ?? null) : null,
    otterwiki: hasVenv
      ? output([python, "-c", "import importlib.metadata as m; print(m.version('otterwiki'))"])
      : null,
  };
}
