/**
 * Installs the server's own git hook directory, which every receive-pack gets through
 * `-c core.hooksPath=<dir>` (command-line config wins over the repository's, and the repository's
 * own `hooks/` is never read). Written at start-up from this process's own paths, so nothing a
 * tenant pushes or configures decides what runs.
 */
import { chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface PushHookOptions {
  /** Files other than pages may be at most this large (pages: MAX_PAGE_BYTES). */
  maxFileBytes: number;
}

const HOOK_PROGRAM = join(import.meta.dir, "pre-receive-hook.ts");

/** Writes `<dir>/pre-receive` and returns `dir`, the value for core.hooksPath. */
export function installPushHooks(dir: string, options: PushHookOptions): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Push hooks start in $GIT_DIR with GIT_DIR=. (githooks.adoc); Bun then starts in our own
  // directory so no bunfig.toml, .env or tsconfig.json near a repository is read, it never
  // installs packages on its own, and it exits (with its git children) if receive-pack is killed.
  // Bun starts in about 10 ms.
  const script = [
    "#!/bin/sh",
    "# Written by wikibot at start-up (src/git/push-hook.ts): checks a push against the page rules.",
    "GIT_DIR=$(pwd -P) || exit 1",
    "export GIT_DIR",
    `cd ${shellQuote(dir)} || exit 1`,
    `exec ${shellQuote(process.execPath)} --no-orphans --no-env-file --no-install ${shellQuote(HOOK_PROGRAM)} ${options.maxFileBytes}`,
    "",
  ].join("\n");
  const path = join(dir, "pre-receive");
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, script, { mode: 0o700 });
  chmodSync(temporary, 0o700);
  renameSync(temporary, path);
  return dir;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
