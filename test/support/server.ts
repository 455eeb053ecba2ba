/**
 * Test harness: a real server on port 0 with a fresh DATA_DIR, plus the admin CLI run as a real
 * child process against the same directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readConfig } from "../../src/config/config.ts";
import { createLogger } from "../../src/lib/log.ts";
import { type RunningServer, startServer } from "../../src/server.ts";

export const PROJECT_DIR = resolve(import.meta.dir, "..", "..");

export interface TestServer {
  server: RunningServer;
  dataDir: string;
  /** http://localhost:<port> */
  origin: string;
  port: number;
  /** Origin of a wiki host, e.g. http://demo.localhost:<port> */
  wikiOrigin(slug: string): string;
  admin(...args: string[]): Promise<CliResult>;
  /** Runs an admin command that must succeed with --json and returns its parsed output. */
  adminJson(...args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function makeDataDir(): string {
  return mkdtempSync(join(tmpdir(), "wikibot-test-"));
}

export async function runAdmin(env: Record<string, string>, args: string[]): Promise<CliResult> {
  const proc = Bun.spawn(["bun", join(PROJECT_DIR, "src/admin/cli.ts"), ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { exitCode, stdout, stderr };
}

/** `options.dataDir`: start on an existing data directory (a restored backup) instead of a fresh one. */
export async function startTestServer(
  extraEnv: Record<string, string> = {},
  options: { dataDir?: string } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? makeDataDir();
  const config = readConfig({
    DATA_DIR: dataDir,
    PORT: "0",
    LOG_LEVEL: "error",
    // The model `bun install` put in the project (scripts/setup/model.ts), for semantic search.
    MODEL_DIR: join(PROJECT_DIR, ".models"),
    ...extraEnv,
  });
  const server = await startServer(config, createLogger("error"));
  const env = { DATA_DIR: dataDir, PUBLIC_URL: server.publicUrl.origin };
  const admin = (...args: string[]) => runAdmin(env, args);
  return {
    server,
    dataDir,
    port: server.port,
    origin: server.publicUrl.origin,
    wikiOrigin: (slug) => `http://${slug}.localhost:${server.port}`,
    admin,
    async adminJson(...args) {
      const result = await admin(...args, "--json");
      if (result.exitCode !== 0)
        throw new Error(`admin ${args.join(" ")} failed: ${result.stderr}`);
      return JSON.parse(result.stdout);
    },
    async close() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let didCounter = 0;

/** A syntactically valid did:plc made from a counter (24 chars of base32). */
export function testDid(): string {
  didCounter += 1;
  const body = `${didCounter}`
    .padStart(24, "a")
    .replace(/[0189]/g, (digit) => "bcde"["0189".indexOf(digit)] ?? "a");
  return `did:plc:${body}`;
}

/** Creates a user and a wiki through the admin CLI; returns the owner's token. */
export async function createUserAndWiki(
  t: TestServer,
  options: {
    username: string;
    slug: string;
    public?: boolean;
    tier?: string;
    displayName?: string;
  },
): Promise<{ token: string; url: string; mcp_url: string; git_url: string }> {
  await t.adminJson(
    "create-user",
    "--username",
    options.username,
    "--did",
    testDid(),
    "--handle",
    `${options.username}.bsky.social`,
    ...(options.displayName ? ["--display-name", options.displayName] : []),
  );
  const created = await t.adminJson(
    "create-wiki",
    "--slug",
    options.slug,
    "--owner",
    options.username,
    ...(options.public ? ["--public"] : []),
    ...(options.tier ? ["--tier", options.tier] : []),
  );
  if (typeof created !== "object" || created === null) throw new Error("bad create-wiki output");
  const field = (name: string): string => {
    const value: unknown = Reflect.get(created, name);
    if (typeof value !== "string") throw new Error(`create-wiki printed no ${name}`);
    return value;
  };
  return {
    token: field("token"),
    url: field("url"),
    mcp_url: field("mcp_url"),
    git_url: field("git_url"),
  };
}

/** Creates a user through the admin CLI and, when `role` is given, grants it on `wiki`. */
/** A public wiki named `Wiki <slug>`, owned by `owner`. */
export async function addPublicWiki(t: TestServer, slug: string, owner: string): Promise<void> {
  await t.adminJson(
    "create-wiki",
    "--slug",
    slug,
    "--owner",
    owner,
    "--public",
    "--name",
    `Wiki ${slug}`,
  );
}

export async function addUser(
  t: TestServer,
  username: string,
  options: { displayName?: string; wiki?: string; role?: string } = {},
): Promise<void> {
  await t.adminJson(
    "create-user",
    "--username",
    username,
    "--did",
    testDid(),
    "--handle",
    `${username}.bsky.social`,
    ...(options.displayName ? ["--display-name", options.displayName] : []),
  );
  if (options.wiki !== undefined && options.role !== undefined) {
    await t.adminJson("grant", "--wiki", options.wiki, "--user", username, "--role", options.role);
  }
}

/** Makes a wiki token through the admin CLI and returns its id and plaintext, checked. */
export async function createToken(
  t: TestServer,
  wiki: string,
  user: string,
  scope: "read" | "write" = "write",
): Promise<{ id: string; token: string }> {
  const made = await t.adminJson("create-token", "--wiki", wiki, "--user", user, "--scope", scope);
  if (
    typeof made !== "object" ||
    made === null ||
    !("id" in made) ||
    !("token" in made) ||
    typeof made.id !== "string" ||
    typeof made.token !== "string"
  ) {
    throw new Error(`create-token printed something unexpected: ${JSON.stringify(made)}`);
  }
  return { id: made.id, token: made.token };
}
