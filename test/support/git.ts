/**
 * Runs the real `git` client against the test server, isolated from the machine: a temporary
 * HOME, no system or global config, no credential helper, and no prompts (a wrong token would
 * otherwise make git wait for a password and the test hang).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoDir } from "../../src/wikis/wiki-paths.ts";
import { type Wiki, WikiStore } from "../../src/wikis/wiki-store.ts";
import { createUserAndWiki, startTestServer, type TestServer } from "./server.ts";

export interface GitRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface GitClient {
  /** A scratch directory for clones; removed by `close`. */
  dir: string;
  /** Runs `git -c credential.helper= <args>`; never throws on a non-zero exit. */
  run(
    args: readonly string[],
    options?: { cwd?: string; env?: Record<string, string> },
  ): Promise<GitRun>;
  /** Like `run`, but throws with git's output when it fails. */
  ok(
    args: readonly string[],
    options?: { cwd?: string; env?: Record<string, string> },
  ): Promise<string>;
  close(): void;
}

export function createGitClient(): GitClient {
  const dir = mkdtempSync(join(tmpdir(), "wikibot-git-"));
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: "Test Pusher",
    GIT_AUTHOR_EMAIL: "pusher@example.invalid",
    GIT_COMMITTER_NAME: "Test Pusher",
    GIT_COMMITTER_EMAIL: "pusher@example.invalid",
  };
  const run: GitClient["run"] = async (args, options = {}) => {
    const proc = Bun.spawn(["git", "-c", "credential.helper=", ...args], {
      cwd: options.cwd ?? dir,
      env: { ...env, ...options.env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, exitCode] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    return { exitCode, stdout, stderr };
  };
  return {
    dir,
    run,
    async ok(args, options) {
      const result = await run(args, options);
      if (result.exitCode !== 0) {
        throw new Error(`git ${args.join(" ")} exited ${result.exitCode}:\n${result.stderr}`);
      }
      return result.stdout;
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `http://{slug}.localhost:{port}/repo.git`, with the token as the password when given. */
export function repoUrl(t: TestServer, slug: string, token?: string): string {
  const credentials = token === undefined ? "" : `git:${token}@`;
  return `http://${credentials}${slug}.localhost:${t.port}/repo.git`;
}

/** A fresh directory name inside the client's scratch directory. */
let cloneCounter = 0;
export function nextCloneDir(client: GitClient, name = "clone"): string {
  cloneCounter += 1;
  return join(client.dir, `${name}-${cloneCounter}`);
}

/** Writes `files` into a clone, then stages and commits them. Returns the new commit id. */
export async function commitFiles(
  client: GitClient,
  cloneDir: string,
  files: Record<string, string | Uint8Array>,
  message: string,
): Promise<string> {
  for (const [path, content] of Object.entries(files))
    await Bun.write(join(cloneDir, path), content);
  await client.ok(["add", "--", ...Object.keys(files)], { cwd: cloneDir });
  await client.ok(["commit", "-q", "-m", message], { cwd: cloneDir });
  return (await client.ok(["rev-parse", "HEAD"], { cwd: cloneDir })).trim();
}

/** The Authorization header git sends for a token as the password. */
export function basicAuthorization(token: string, username = "git"): string {
  return `Basic ${Buffer.from(`${username}:${token}`).toString("base64")}`;
}

/** A premium wiki on a fresh server, for push suites: its owner's token and git client. */
export interface PushWiki {
  t: TestServer;
  git: GitClient;
  slug: string;
  token: string;
  /** The wiki's repository on the server's disk. */
  repo: string;
  /** The wiki as stored now (re-read, so tier changes show). */
  wiki(): Wiki;
  /** A new clone of the wiki with the owner's token. */
  freshClone(): Promise<string>;
  close(): Promise<void>;
}

export async function startPushWiki(slug: string, owner: string): Promise<PushWiki> {
  const t = await startTestServer();
  const git = createGitClient();
  const { token } = await createUserAndWiki(t, { username: owner, slug, tier: "premium" });
  return {
    t,
    git,
    slug,
    token,
    repo: repoDir(t.dataDir, slug),
    wiki() {
      const found = new WikiStore(t.server.db).findBySlug(slug);
      if (found === null) throw new Error(`no wiki ${slug}`);
      return found;
    },
    async freshClone() {
      const dir = nextCloneDir(git);
      await git.ok(["clone", "-q", repoUrl(t, slug, token), dir]);
      return dir;
    },
    async close() {
      git.close();
      await t.close();
    },
  };
}
