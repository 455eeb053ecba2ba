/**
 * Runs the `git` binary against a wiki repository with an explicit, minimal environment: no
 * system or global config, no prompts, a dummy HOME, so nothing on the host changes how our
 * repositories behave (../shared/notes/git-smart-http.md §6).
 */
import { currentRequestId } from "../lib/log.ts";

export class GitError extends Error {
  override name = "GitError";
  constructor(
    message: string,
    readonly args: readonly string[],
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/**
 * The environment every git child gets; callers may add GIT_AUTHOR_* and the like. A child that
 * works for a request gets its id (WIKIBOT_REQUEST_ID), which our hooks quote when they fail.
 */
export function gitEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  const requestId = currentRequestId();
  return {
    ...(requestId === undefined ? {} : { WIKIBOT_REQUEST_ID: requestId }),
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: "/nonexistent",
    LANG: "C.UTF-8",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    ...extra,
  };
}

/**
 * Flags placed before every subcommand: repos may be owned by another uid (git ≥ 2.39.4), and a
 * symlink that arrives by push is checked out as a plain file holding its target
 * (config/core.adoc `core.symlinks`), so nothing reading the working tree follows it out.
 */
export const GIT_BASE_FLAGS: readonly string[] = [
  "-c",
  "safe.directory=*",
  "-c",
  "core.quotePath=false",
  "-c",
  "core.symlinks=false",
];

export interface GitResult {
  stdout: Uint8Array;
  stderr: string;
  exitCode: number;
}

export interface GitOptions {
  stdin?: string | Uint8Array;
  env?: Record<string, string>;
  /** Exit codes that are answers rather than failures (e.g. 1 for `diff --quiet`). */
  okExitCodes?: readonly number[];
}

/** Runs `git -C <repoDir> <args>` and returns raw stdout; throws GitError on an unexpected exit. */
export async function runGit(
  repoDir: string,
  args: readonly string[],
  options: GitOptions = {},
): Promise<GitResult> {
  const stdin =
    options.stdin === undefined
      ? "ignore"
      : typeof options.stdin === "string"
        ? new TextEncoder().encode(options.stdin)
        : options.stdin;
  const proc = Bun.spawn(["git", ...GIT_BASE_FLAGS, "-C", repoDir, ...args], {
    stdin,
    stdout: "pipe",
    stderr: "pipe",
    // Page names may hold `*`, `[` or `:`: a path is always a path, never a pattern or magic.
    env: gitEnvironment({ GIT_LITERAL_PATHSPECS: "1", ...options.env }),
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).bytes(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  const ok = options.okExitCodes ?? [0];
  if (!ok.includes(exitCode)) {
    throw new GitError(
      `git ${args[0] ?? ""} failed (exit ${exitCode}): ${stderr.trim().split("\n").slice(-3).join(" / ")}`,
      args,
      exitCode,
      stderr,
    );
  }
  return { stdout, stderr, exitCode };
}

/** Like runGit, but decodes stdout as UTF-8 text. */
export async function gitText(
  repoDir: string,
  args: readonly string[],
  options: GitOptions = {},
): Promise<string> {
  const result = await runGit(repoDir, args, options);
  return new TextDecoder().decode(result.stdout);
}

/** The object id of the empty tree, the base for diffing a repository's first commit. */
export const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
