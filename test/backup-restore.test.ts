/**
 * `admin backup` and `admin restore` as an operator runs them: a backup taken while MCP writers
 * and a git push keep changing the wikis, restored into a fresh folder and served by a new
 * server, which must have every acknowledged page, commit, member and token the snapshot covers
 * and nothing half-written. Then the refusals: corrupt files, non-empty targets, keys only when
 * asked for, and a DATA_DIR held by a process that offers no admin channel.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { connectAdminChannel } from "../src/admin/admin-channel.ts";
import { type Manifest, manifestSchema } from "../src/admin/backup-manifest.ts";
import { gitText, runGit } from "../src/repo/git.ts";
import { repoDir } from "../src/wikis/wiki-paths.ts";
import {
  commitFiles,
  createGitClient,
  type GitClient,
  nextCloneDir,
  repoUrl,
} from "./support/git.ts";
import { callTool, connectMcp, structuredOf, textOf } from "./support/mcp.ts";
import {
  addUser,
  type CliResult,
  createToken,
  createUserAndWiki,
  makeDataDir,
  runAdmin,
  startTestServer,
  type TestServer,
  testDid,
} from "./support/server.ts";

// Real servers, CLI children and git processes on 2 cores.
setDefaultTimeout(300_000);

let t: TestServer;
let git: GitClient;
const scratch = makeDataDir();
const tokens = { olive: "", fred: "", eddie: "", oliveRead: "", gus: "" };
let revokedToken = "";

beforeAll(async () => {
  t = await startTestServer();
  git = createGitClient();
  tokens.olive = (
    await createUserAndWiki(t, { username: "olive", slug: "alpha", tier: "premium" })
  ).token;
  tokens.fred = (await createUserAndWiki(t, { username: "fred", slug: "beta" })).token;
  tokens.gus = (
    await createUserAndWiki(t, { username: "gus", slug: "gamma", tier: "premium" })
  ).token;
  await addUser(t, "eddie", { wiki: "beta", role: "editor" });
  tokens.eddie = (await createToken(t, "beta", "eddie", "write")).token;
  tokens.oliveRead = (await createToken(t, "alpha", "olive", "read")).token;
  const revoked = await createToken(t, "alpha", "olive", "write");
  await t.adminJson("revoke-token", "--id", revoked.id);
  revokedToken = revoked.token;
});
afterAll(async () => {
  git.close();
  await t.close();
  rmSync(scratch, { recursive: true, force: true });
});

interface Ack {
  slug: string;
  path: string;
  content: string;
  revision: string;
}

/** The manifest a backup wrote, checked against its schema. */
function manifestOf(dir: string): Manifest {
  return manifestSchema.parse(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")));
}

async function isAncestor(repo: string, commit: string, head: string): Promise<boolean> {
  const result = await runGit(repo, ["merge-base", "--is-ancestor", commit, head], {
    okExitCodes: [0, 1],
  });
  return result.exitCode === 0;
}

/** Runs the CLI with no usable DATA_DIR: restore must not need (or create) one. */
function restore(from: string, to: string): Promise<CliResult> {
  return runAdmin({ DATA_DIR: join(scratch, "never-created") }, [
    "restore",
    "--from",
    from,
    "--data-dir",
    to,
    "--json",
  ]);
}

/** A writer that keeps creating pages over MCP until told to stop, recording each acknowledgement. */
function startWriter(client: Client, slug: string, name: string, acks: Ack[]) {
  let stopped = false;
  let count = 0;
  const done = (async () => {
    while (!stopped) {
      count += 1;
      const path = `Load/${name} ${count}`;
      const content = `# ${name} ${count}\n\nnote ${count} by writer ${name} zq${name}x${count}\n`;
      const result = await callTool(client, "write_note", {
        path,
        content,
        expected_revision: "new",
      });
      if (result.isError) throw new Error(`write refused: ${textOf(result)}`);
      const revision = structuredOf(result).revision;
      if (typeof revision !== "string") throw new Error("write_note gave no revision");
      acks.push({ slug, path, content, revision });
    }
  })();
  return {
    ackCount: () => acks.filter((ack) => ack.path.startsWith(`Load/${name} `)).length,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await Bun.sleep(20);
}

describe("backup under live writes, restored and served", () => {
  test("every acknowledged page, commit, member and token in the snapshot is restored, nothing else", async () => {
    const acks: Ack[] = [];
    const clients = [
      await connectMcp(t, "alpha", tokens.olive),
      await connectMcp(t, "alpha", tokens.olive),
      await connectMcp(t, "beta", tokens.eddie),
    ];
    const [a1, a2, b1] = clients as [Client, Client, Client];
    const writers = [
      startWriter(a1, "alpha", "A", acks),
      startWriter(a2, "alpha", "B", acks),
      startWriter(b1, "beta", "C", acks),
    ];
    const clone = nextCloneDir(git);
    await git.ok(["clone", "-q", repoUrl(t, "gamma", tokens.gus), clone]);
    await waitFor(() => writers.every((writer) => writer.ackCount() >= 3));
    const ackedBefore = [...acks];

    const backupDir = join(scratch, "live");
    let backupDone = false;
    const pushed = (async () => {
      await commitFiles(
        git,
        clone,
        { "Pushed/During Backup.md": "# During Backup\n\npushed while backing up\n" },
        "Push during the backup",
      );
      // Once the database copy exists, so the push lands after it: before or after gamma's
      // repository is taken. Its own wiki, because against the MCP writers' stream of commits
      // a push would never be a fast-forward.
      await waitFor(() => backupDone || existsSync(join(backupDir, "wikibot.db")));
      await git.ok(["push", "-q", "origin", "HEAD:main"], { cwd: clone });
      return (await git.ok(["rev-parse", "HEAD"], { cwd: clone })).trim();
    })();
    let backup: CliResult;
    let pushedCommit: string;
    try {
      [backup, pushedCommit] = await Promise.all([
        t.admin("backup", "--to", backupDir, "--json").finally(() => {
          backupDone = true;
        }),
        pushed,
      ]);
      // A few more acknowledgements after the backup: these must be left out.
      const afterCount = acks.length;
      await waitFor(() => acks.length >= afterCount + 3);
    } finally {
      for (const writer of writers) await writer.stop();
      for (const client of clients) await client.close();
    }

    expect(backup.stderr).toContain("backup: wiki 1/3 alpha");
    expect(backup.exitCode).toBe(0);
    const manifest = manifestOf(backupDir);
    expect(manifest.mode).toBe("server");
    expect(manifest.keys_included).toBe(false);
    expect(existsSync(join(backupDir, "keys"))).toBe(false);
    expect(manifest.files.some((file) => file.path.startsWith("keys/"))).toBe(false);
    expect(manifest.files.some((file) => /usearch|vectors/.test(file.path))).toBe(false);
    const heads = new Map(
      manifest.wikis.map((wiki) => [wiki.slug, wiki.status === "ok" ? wiki.head : ""]),
    );
    expect([...heads.keys()].sort()).toEqual(["alpha", "beta", "gamma"]);

    const liveRepo = (slug: string) => repoDir(t.dataDir, slug);
    const included: Ack[] = [];
    const excluded: Ack[] = [];
    for (const ack of acks) {
      const head = heads.get(ack.slug) ?? "";
      ((await isAncestor(liveRepo(ack.slug), ack.revision, head)) ? included : excluded).push(ack);
    }
    for (const ack of ackedBefore) expect(included).toContain(ack);
    expect(excluded.length).toBeGreaterThanOrEqual(3);

    const restoredDir = join(scratch, "restored");
    const restored = await restore(backupDir, restoredDir);
    expect(restored.stderr).toContain("match their checksums");
    expect(restored.exitCode).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ keys_restored: false, dropped: [] });
    expect(existsSync(join(scratch, "never-created"))).toBe(false);
    expect(existsSync(join(restoredDir, "keys"))).toBe(false);

    // Before any server runs: the page index is at each snapshot's HEAD, vectors are to be rebuilt.
    const db = new Database(join(restoredDir, "wikibot.db"), { readonly: true });
    const indexed = db
      .query<{ slug: string; indexed_commit: string }, []>("SELECT slug, indexed_commit FROM wikis")
      .all();
    expect(new Map(indexed.map((row) => [row.slug, row.indexed_commit]))).toEqual(heads);
    expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM chunks").get()?.n).toBe(0);
    const pageCount = db.query<{ n: number }, []>("SELECT count(*) AS n FROM pages").get()?.n ?? 0;
    expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM reindex_queue").get()?.n).toBe(
      pageCount,
    );
    db.close();

    // Every commit of the snapshot, and the same history.
    for (const [slug, head] of heads) {
      const restoredRepo = repoDir(restoredDir, slug);
      expect(await gitText(restoredRepo, ["rev-list", "main"])).toBe(
        await gitText(liveRepo(slug), ["rev-list", head]),
      );
      expect(await gitText(restoredRepo, ["status", "--porcelain"])).toBe("");
    }

    const r = await startTestServer({}, { dataDir: restoredDir });
    try {
      const alpha = await connectMcp(r, "alpha", tokens.olive);
      const beta = await connectMcp(r, "beta", tokens.eddie);
      const clientFor = (slug: string) => (slug === "alpha" ? alpha : beta);
      for (const ack of included) {
        const page = structuredOf(
          await callTool(clientFor(ack.slug), "read_note", { path: ack.path }),
        );
        expect(page).toMatchObject({ content: ack.content, revision: ack.revision });
      }
      for (const ack of excluded) {
        const missing = await callTool(clientFor(ack.slug), "read_note", { path: ack.path });
        expect(missing.isError).toBe(true);
      }
      // Full-text search reaches a page written after the database copy was taken.
      const last = included.filter((ack) => ack.slug === "alpha").at(-1);
      if (last === undefined) throw new Error("no included write on alpha");
      const word = /zq\w+/.exec(last.content)?.[0] ?? "";
      const found = await callTool(alpha, "search", { query: word });
      expect(textOf(found)).toContain(last.path);

      // The push is in the restore exactly when the snapshot covers it, and git serves it.
      const gammaHead = heads.get("gamma") ?? "";
      const pushIncluded = await isAncestor(liveRepo("gamma"), pushedCommit, gammaHead);
      const gamma = await connectMcp(r, "gamma", tokens.gus);
      const pushedPage = await callTool(gamma, "read_note", { path: "Pushed/During Backup" });
      expect(pushedPage.isError ?? false).toBe(!pushIncluded);
      await gamma.close();
      const restoredClone = nextCloneDir(git);
      await git.ok(["clone", "-q", repoUrl(r, "gamma", tokens.gus), restoredClone]);
      expect((await git.ok(["rev-parse", "HEAD"], { cwd: restoredClone })).trim()).toBe(gammaHead);
      expect(existsSync(join(restoredClone, "Pushed", "During Backup.md"))).toBe(pushIncluded);

      // Members and tokens: the editor still writes, the read token still only reads,
      // the token revoked before the backup stays revoked.
      expect(
        (await callTool(beta, "write_note", { path: "After Restore", content: "# After\n" }))
          .isError,
      ).toBeFalsy();
      const reader = await connectMcp(r, "alpha", tokens.oliveRead);
      expect((await callTool(reader, "read_note", { path: "Home" })).isError).toBeFalsy();
      const refused = await reader
        .callTool({ name: "write_note", arguments: { path: "X", content: "x" } })
        .then(
          (result) => ("isError" in result ? result.isError : false),
          () => true,
        );
      expect(refused).toBe(true);
      expect(await mcpStatus(r, "alpha", revokedToken)).toBe(401);
      expect(await mcpStatus(r, "beta", tokens.fred)).toBe(200);
      for (const client of [alpha, beta, reader]) await client.close();
    } finally {
      await r.close();
    }
  });
});

async function mcpStatus(server: TestServer, slug: string, token: string): Promise<number> {
  const response = await fetch(`${server.wikiOrigin(slug)}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "t", version: "1" },
      },
    }),
  });
  await response.arrayBuffer();
  return response.status;
}

describe("refusals", () => {
  let backupDir = "";
  beforeAll(async () => {
    // A public wiki read anonymously in the browser: its Otterwiki starts and makes its database.
    await createUserAndWiki(t, { username: "pia", slug: "delta", public: true });
    const page = await fetch(`${t.wikiOrigin("delta")}/Home`);
    await page.arrayBuffer();
    if (page.status !== 200) throw new Error(`Otterwiki answered ${page.status}`);
    backupDir = join(scratch, "plain");
    const result = await t.admin("backup", "--to", backupDir);
    if (result.exitCode !== 0) throw new Error(`backup failed: ${result.stderr}`);
  });

  test("a corrupted file is named, and nothing is written", async () => {
    const corrupt = join(scratch, "corrupt");
    cpSync(backupDir, corrupt, { recursive: true });
    const bundle = join(corrupt, "wikis", "alpha.bundle");
    const bytes = readFileSync(bundle);
    bytes[bytes.length - 30] = (bytes[bytes.length - 30] ?? 0) ^ 0xff;
    writeFileSync(bundle, bytes);
    const fresh = join(scratch, "from-corrupt");
    const result = await restore(corrupt, fresh);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("wikis/alpha.bundle does not match its checksum");
    expect(existsSync(fresh)).toBe(false);

    const empty = join(scratch, "empty-target");
    mkdirSync(empty);
    expect((await restore(corrupt, empty)).exitCode).toBe(1);
    expect(readdirSync(empty)).toEqual([]);

    cpSync(join(backupDir, "wikis", "alpha.bundle"), bundle);
    rmSync(join(corrupt, "wikis", "beta.bundle"));
    const missing = await restore(corrupt, fresh);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("wikis/beta.bundle is missing");
    expect(existsSync(fresh)).toBe(false);
  });

  test("a hostile backup folder: paths out of the folder, bad slugs and links are refused", async () => {
    const manifestOf = (dir: string) =>
      manifestSchema.parse(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")));
    const tampered = async (name: string, change: (manifest: Manifest) => unknown) => {
      const dir = join(scratch, name);
      cpSync(backupDir, dir, { recursive: true });
      writeFileSync(join(dir, "manifest.json"), JSON.stringify(change(manifestOf(dir))));
      const target = join(scratch, `from-${name}`);
      const result = await restore(dir, target);
      expect(result.exitCode).toBe(1);
      expect(existsSync(target)).toBe(false);
      return result.stderr;
    };
    for (const path of ["../outside", "wikis/../../outside", "/etc/passwd", "wikis/./x"]) {
      await tampered(`path-${path.length}`, (manifest) => ({
        ...manifest,
        files: [...manifest.files, { path, bytes: 0, sha256: "0".repeat(64) }],
      }));
    }
    const slugged = await tampered("slug", (manifest) => ({
      ...manifest,
      wikis: manifest.wikis.map((wiki, i) => (i === 0 ? { ...wiki, slug: "../escape" } : wiki)),
    }));
    expect(slugged).toContain("cannot be restored");
    const linked = join(scratch, "linked");
    cpSync(backupDir, linked, { recursive: true });
    const bundle = join(linked, "wikis", "alpha.bundle");
    renameSync(bundle, join(scratch, "alpha-elsewhere.bundle"));
    symlinkSync(join(scratch, "alpha-elsewhere.bundle"), bundle);
    const result = await restore(linked, join(scratch, "from-linked"));
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("wikis/alpha.bundle is not a regular file");
    expect(existsSync(join(scratch, "from-linked"))).toBe(false);
  });

  test("a backup without its manifest (unfinished) is refused", async () => {
    const unfinished = join(scratch, "unfinished");
    cpSync(backupDir, unfinished, { recursive: true });
    rmSync(join(unfinished, "manifest.json"));
    const result = await restore(unfinished, join(scratch, "from-unfinished"));
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("no manifest.json");
    expect(existsSync(join(scratch, "from-unfinished"))).toBe(false);
  });

  test("a non-empty target is refused and left as it was", async () => {
    const occupied = join(scratch, "occupied");
    mkdirSync(occupied);
    writeFileSync(join(occupied, "keep.txt"), "mine");
    const result = await restore(backupDir, occupied);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("is not empty");
    expect(readdirSync(occupied)).toEqual(["keep.txt"]);

    const again = await t.admin("backup", "--to", occupied);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain("is not empty");
    expect(readdirSync(occupied)).toEqual(["keep.txt"]);
  });

  test("keys are copied only with --include-keys, flagged, and restored at mode 0600", async () => {
    expect(manifestOf(backupDir).keys_included).toBe(false);
    expect(existsSync(join(backupDir, "keys"))).toBe(false);

    const withKeys = join(scratch, "with-keys");
    const result = await t.admin("backup", "--to", withKeys, "--include-keys");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("keys included");
    const manifest = manifestOf(withKeys);
    expect(manifest.keys_included).toBe(true);
    const secret = readFileSync(join(t.dataDir, "keys", "server-secret"), "utf8");
    expect(readFileSync(join(withKeys, "keys", "server-secret"), "utf8")).toBe(secret);
    expect(statSync(join(withKeys, "keys", "server-secret")).mode & 0o777).toBe(0o600);
    expect(statSync(withKeys).mode & 0o777).toBe(0o700);

    const target = join(scratch, "restored-with-keys");
    const restored = await restore(withKeys, target);
    expect(restored.exitCode).toBe(0);
    expect(readFileSync(join(target, "keys", "server-secret"), "utf8")).toBe(secret);
    expect(statSync(join(target, "keys", "server-secret")).mode & 0o777).toBe(0o600);
  });

  test("Otterwiki's own database travels with its wiki", async () => {
    const live = join(t.dataDir, "wikis", "delta", "otterwiki", "otterwiki.db");
    expect(existsSync(live)).toBe(true);
    const entry = manifestOf(backupDir).wikis.find((wiki) => wiki.slug === "delta");
    expect(entry).toMatchObject({ status: "ok", otterwiki_db: "wikis/delta.otterwiki.db" });
    const target = join(scratch, "restored-otterwiki");
    expect((await restore(backupDir, target)).exitCode).toBe(0);
    const tables = (path: string) => {
      const db = new Database(path, { readonly: true });
      const names = db.query("SELECT name FROM sqlite_schema ORDER BY name").all();
      db.close();
      return names;
    };
    const restored = join(target, "wikis", "delta", "otterwiki", "otterwiki.db");
    expect(tables(restored)).toEqual(tables(live));
    expect(tables(restored).length).toBeGreaterThan(0);
    expect(statSync(restored).mode & 0o777).toBe(0o600);
  });

  test("the admin channel answers only for wikis that exist, under the gate", async () => {
    const channel = await connectAdminChannel(t.dataDir);
    if (channel === null) throw new Error("the server offers no admin channel");
    expect(statSync(join(t.dataDir, "run", "admin-channel")).mode & 0o777).toBe(0o600);
    const gone = await channel.snapshot({
      wikiId: 9999,
      slug: "alpha",
      bundle: join(scratch, "x.bundle"),
      otterwikiDb: join(scratch, "x.db"),
    });
    expect(gone).toEqual({ status: "deleted" });
    expect(existsSync(join(scratch, "x.bundle"))).toBe(false);
  });

  test("a wiki the manifest lists as deleted during the backup is dropped on restore", async () => {
    const edited = join(scratch, "with-deleted");
    cpSync(backupDir, edited, { recursive: true });
    const manifest = manifestOf(edited);
    manifest.wikis = manifest.wikis.map((wiki) =>
      wiki.slug === "beta" ? { id: wiki.id, slug: wiki.slug, status: "deleted" as const } : wiki,
    );
    writeFileSync(join(edited, "manifest.json"), JSON.stringify(manifest));
    const target = join(scratch, "restored-without-beta");
    const result = await restore(edited, target);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      wikis: ["alpha", "gamma", "delta"],
      dropped: ["beta"],
    });
    const db = new Database(join(target, "wikibot.db"), { readonly: true });
    expect(db.query("SELECT slug FROM wikis ORDER BY id").all()).toEqual([
      { slug: "alpha" },
      { slug: "gamma" },
      { slug: "delta" },
    ]);
    expect(
      db
        .query("SELECT count(*) AS n FROM wiki_tokens WHERE wiki_id NOT IN (SELECT id FROM wikis)")
        .get(),
    ).toEqual({ n: 0 });
    db.close();
    expect(existsSync(repoDir(target, "beta"))).toBe(false);
  });
});

describe("without a running server", () => {
  const dataDir = makeDataDir();
  const env = { DATA_DIR: dataDir, PUBLIC_URL: "https://wikibot.example" };
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test("the CLI takes the repositories itself, and refuses a live holder with no channel", async () => {
    const did = testDid();
    expect(
      (
        await runAdmin(env, [
          "create-user",
          "--username",
          "solo",
          "--did",
          did,
          "--handle",
          "solo.bsky.social",
        ])
      ).exitCode,
    ).toBe(0);
    expect(
      (await runAdmin(env, ["create-wiki", "--slug", "quiet", "--owner", "solo"])).exitCode,
    ).toBe(0);
    const to = join(scratch, "offline");
    const result = await runAdmin(env, ["backup", "--to", to, "--json"]);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      mode: "in-process",
      wikis: [{ slug: "quiet", status: "ok" }],
    });
    expect((await restore(to, join(scratch, "offline-restored"))).exitCode).toBe(0);

    // This test process is alive and named as the DATA_DIR's search worker, with no socket.
    mkdirSync(join(dataDir, "run"), { recursive: true });
    writeFileSync(join(dataDir, "run", "search-worker.pid"), `${process.pid}\n`);
    const held = await runAdmin(env, ["backup", "--to", join(scratch, "held")]);
    expect(held.exitCode).toBe(1);
    expect(held.stderr).toContain(`process ${process.pid} is using this DATA_DIR`);
    expect(existsSync(join(scratch, "held"))).toBe(false);
  });
});
