/**
 * What `admin doctor` looks at, one function per part of an install. Each returns the problems
 * it found as sentences an operator can act on (what is wrong, where, and the fix); none of
 * them changes anything on disk.
 */
import { Database } from "bun:sqlite";
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { OTTERWIKI_PINS } from "../../scripts/setup/otterwiki.ts";
import type { Config } from "../config/config.ts";
import { SCHEMA_VERSION } from "../db/migrate.ts";
import { diskUsage } from "../lib/disk-usage.ts";
import { SECOND } from "../lib/time.ts";
import { MODEL_NAME, type ModelDtype, modelFiles, sha256File } from "../search/model-files.ts";

export type CheckName =
  | "config"
  | "keys"
  | "venv"
  | "model"
  | "disk"
  | "database"
  | "repos"
  | "processes";

export interface Problem {
  check: CheckName;
  message: string;
}

/** The precision the server's search worker loads (startSemanticSearch's default). */
const SERVER_DTYPE: ModelDtype = "fp32";
const PYTHON_TIMEOUT = 30 * SECOND;
/** Prints each named distribution's version, or an empty line when it is not installed. */
const VERSIONS_SCRIPT = `import sys, importlib.metadata as m
for name in sys.argv[1:]:
    try:
        print(m.version(name))
    except m.PackageNotFoundError:
        print("")`;

export function checkConfig(config: Config, dataDir: string): Problem[] {
  const problems: Problem[] = [];
  const say = (message: string) => problems.push({ check: "config", message });
  if (!existsSync(dataDir)) {
    say(
      `DATA_DIR ${dataDir} does not exist: start the server once, or point DATA_DIR at the install`,
    );
    return problems;
  }
  if (!statSync(dataDir).isDirectory()) say(`DATA_DIR ${dataDir} is not a directory`);
  else if (!accessible(dataDir, constants.W_OK))
    say(`DATA_DIR ${dataDir} is not writable by this user (uid ${process.getuid?.() ?? "?"})`);
  if (config.atprotoAllowLoopbackHttp && config.publicUrl.protocol === "https:")
    say(
      "ATPROTO_ALLOW_LOOPBACK_HTTP is on with an https PUBLIC_URL: it lets sign-in fetch plain http and loopback addresses; it is for tests and local development only",
    );
  return problems;
}

/** What loadSecrets and the ATProto client key make on first start (src/config/keys.ts). */
const KEY_FILES: readonly {
  name: string;
  valid: (text: string) => boolean;
  what: string;
  /** Whether the server makes this key for this PUBLIC_URL. */
  needed: (publicUrl: URL) => Promise<boolean>;
}[] = [
  {
    name: "server-secret",
    // randomSecret(32): 43 base64url characters.
    valid: (text) => /^[A-Za-z0-9_-]{43,}$/.test(text.trim()),
    what: "a base64url secret of at least 32 bytes",
    needed: async () => true,
  },
  {
    name: "atproto-client.jwk",
    valid: isPrivateEs256Jwk,
    what: "a private ES256 JWK",
    // Only the confidential client signs; imported here alone, as the ATProto SDK loads slowly.
    needed: async (publicUrl) =>
      (await import("../auth/atproto-login/oauth-client.ts")).clientKindFor(publicUrl) ===
      "confidential",
  },
];

export async function checkKeys(dataDir: string, publicUrl: URL): Promise<Problem[]> {
  const problems: Problem[] = [];
  const say = (message: string) => problems.push({ check: "keys", message });
  const dir = join(dataDir, "keys");
  if (!existsSync(dir)) {
    say(`${dir} does not exist: the server makes its keys on first start`);
    return problems;
  }
  const dirMode = modeOf(dir);
  if ((dirMode & 0o077) !== 0)
    say(`${dir} has mode ${octal(dirMode)}, expected 0700: chmod 700 ${dir}`);
  for (const key of KEY_FILES) {
    const file = join(dir, key.name);
    if (!existsSync(file)) {
      if (await key.needed(publicUrl))
        say(
          `${file} is missing: the server makes a new one at start (restore it from a backup to keep the old one)`,
        );
      continue;
    }
    const mode = modeOf(file);
    if ((mode & 0o077) !== 0)
      say(`${file} has mode ${octal(mode)}, expected 0600: chmod 600 ${file}`);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      say(`${file} cannot be read (${errorCode(error)}): the server runs as its owner`);
      continue;
    }
    if (!key.valid(text)) say(`${file} is not ${key.what}: restore it from a backup`);
  }
  return problems;
}

function isPrivateEs256Jwk(text: string): boolean {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    return false;
  }
  return (
    typeof jwk === "object" &&
    jwk !== null &&
    "kty" in jwk &&
    jwk.kty === "EC" &&
    "crv" in jwk &&
    jwk.crv === "P-256" &&
    "d" in jwk &&
    typeof jwk.d === "string"
  );
}

/** The virtualenv every Otterwiki runs from: present, runnable, and holding the pinned versions. */
export async function checkVenv(venvDir: string): Promise<Problem[]> {
  const say = (message: string): Problem[] => [{ check: "venv", message }];
  const fix = "run `bun run setup`";
  if (!existsSync(venvDir)) return say(`${venvDir} does not exist: ${fix} (or set VENV_DIR)`);
  const python = join(venvDir, "bin", "python");
  const gunicorn = join(venvDir, "bin", "gunicorn");
  // existsSync follows the symlink, so a venv whose base interpreter was removed counts too.
  if (!existsSync(python)) return say(`${python} is missing or its interpreter is gone: ${fix}`);
  if (!accessible(gunicorn, constants.X_OK))
    return say(`${gunicorn} is missing or not executable: ${fix}`);
  const wanted = new Map(
    OTTERWIKI_PINS.map((pin) => {
      const [name = "", version = ""] = pin.split("==");
      return [name, version];
    }),
  );
  const names = [...wanted.keys()];
  let installed: string[];
  try {
    const proc = Bun.spawn([python, "-c", VERSIONS_SCRIPT, ...names], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      timeout: PYTHON_TIMEOUT,
    });
    const [stdout, stderr, exitCode] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    if (exitCode !== 0)
      return say(`${python} cannot read the installed packages (${lastLine(stderr)}): ${fix}`);
    installed = stdout.split("\n");
  } catch (error) {
    return say(`${python} does not run (${errorCode(error)}): ${fix}`);
  }
  return names.flatMap((name, index) => {
    const version = installed[index] ?? "";
    if (version === wanted.get(name)) return [];
    const has = version === "" ? `lacks ${name}` : `has ${name} ${version}`;
    return say(`${venvDir} ${has}, this wikibot pins ${wanted.get(name)}: ${fix}`);
  });
}

/** Every file the search worker loads, present and byte-identical to its pin. */
export async function checkModel(modelDir: string): Promise<Problem[]> {
  const problems: Problem[] = [];
  const folder = join(modelDir, MODEL_NAME);
  const fix = "run `bun scripts/setup.ts --install-model` (as `bun run start` does)";
  if (!existsSync(folder))
    return [{ check: "model", message: `${folder} does not exist: ${fix} (or set MODEL_DIR)` }];
  for (const file of modelFiles([SERVER_DTYPE])) {
    const path = join(folder, file.path);
    let sum: string;
    try {
      sum = await sha256File(path);
    } catch (error) {
      const why =
        errorCode(error) === "ENOENT" ? "is missing" : `cannot be read (${errorCode(error)})`;
      problems.push({ check: "model", message: `${path} ${why}: ${fix}` });
      continue;
    }
    if (sum !== file.sha256)
      problems.push({
        check: "model",
        message: `${path} does not match its pinned SHA-256 (damaged or replaced): delete ${folder} and ${fix}`,
      });
  }
  return problems;
}

export function checkDisk(dataDir: string, warnPercent: number): Problem[] {
  let usage: ReturnType<typeof diskUsage>;
  try {
    usage = diskUsage(dataDir);
  } catch (error) {
    return [
      { check: "disk", message: `cannot read the usage of ${dataDir} (${errorCode(error)})` },
    ];
  }
  const problems: Problem[] = [];
  if (usage.usedPercent >= warnPercent)
    problems.push({
      check: "disk",
      message: `the filesystem of ${dataDir} is ${usage.usedPercent}% full (warning at ${warnPercent}%, ${formatBytes(usage.availableBytes)} left)`,
    });
  if (usage.inodesUsedPercent !== null && usage.inodesUsedPercent >= warnPercent)
    problems.push({
      check: "disk",
      message: `the filesystem of ${dataDir} has used ${usage.inodesUsedPercent}% of its inodes (warning at ${warnPercent}%)`,
    });
  return problems;
}

/**
 * Opens the database without creating or migrating it (the server's start does that) and runs
 * SQLite's own checks. Returns the open connection for the repository checks, or null.
 */
export function checkDatabase(dataDir: string): { problems: Problem[]; db: Database | null } {
  const path = join(dataDir, "wikibot.db");
  const say = (message: string) => ({
    problems: [{ check: "database" as const, message }],
    db: null,
  });
  if (!existsSync(path)) return say(`${path} does not exist: the server makes it on first start`);
  let db: Database;
  try {
    db = new Database(path, { readwrite: true, create: false, strict: true });
    // A running server may hold the write lock for a moment; its own connections wait as long.
    db.exec("PRAGMA busy_timeout = 5000");
  } catch (error) {
    return say(`${path} cannot be opened: ${messageOf(error)}`);
  }
  const problems: Problem[] = [];
  const add = (message: string) => problems.push({ check: "database", message });
  try {
    const integrity = db
      .query<{ integrity_check: string }, []>("PRAGMA integrity_check(20)")
      .all()
      .map((row) => row.integrity_check);
    if (integrity.join() !== "ok")
      add(
        `${path} fails PRAGMA integrity_check: ${integrity.slice(0, 3).join("; ")}: restore it from a backup`,
      );
    const version =
      db.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version ?? 0;
    if (version > SCHEMA_VERSION)
      add(
        `${path} has schema version ${version}, newer than this wikibot's ${SCHEMA_VERSION}: upgrade wikibot`,
      );
    else if (version < SCHEMA_VERSION)
      add(
        `${path} has schema version ${version}, this wikibot's is ${SCHEMA_VERSION}: start the server, which migrates it`,
      );
    const dangling = db
      .query<{ table: string; parent: string; rows: number }, []>(
        `SELECT "table", parent, count(*) AS rows FROM pragma_foreign_key_check GROUP BY 1, 2`,
      )
      .all();
    for (const row of dangling)
      add(
        `${row.rows} row(s) of ${row.table} refer to missing ${row.parent} rows (PRAGMA foreign_key_check)`,
      );
  } catch (error) {
    db.close();
    add(`${path} cannot be read: ${messageOf(error)}`);
    return { problems, db: null };
  }
  return { problems, db };
}

function accessible(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, "0")}`;
}

export function errorCode(error: unknown): string {
  if (error instanceof Error && "code" in error && typeof error.code === "string")
    return error.code;
  return messageOf(error);
}

export function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ");
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1) ?? "";
}

function formatBytes(bytes: number): string {
  const gib = bytes / 1024 ** 3;
  return gib >= 1 ? `${gib.toFixed(1)} GiB` : `${Math.round(bytes / 1024 ** 2)} MiB`;
}
