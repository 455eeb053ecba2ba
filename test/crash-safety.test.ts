/**
 * Crash safety (DESIGN §4): a writer killed with SIGKILL at random points, several times. After
 * recovery the repository must be fsck-clean, every acknowledged write in history, SQLite intact
 * and the full-text index equal to the repository.
 */
import { Database } from "bun:sqlite";
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { gitText, runGit } from "../src/repo/git.ts";
import { openStores } from "../src/stores.ts";
import { runAndKill } from "./support/kill-loop.ts";
import { makeDataDir, runAdmin, testDid } from "./support/server.ts";

// Starts real processes (writers, git), up to 20 of them on a loaded machine (2 cores).
setDefaultTimeout(300_000);

const dataDir = makeDataDir();
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Ack {
  op: "write" | "delete";
  path: string;
  revision: string;
  content?: string;
}

/** One round of the writer, killed `killAfterMs` in; its acknowledged writes. */
async function runRound(round: number, killAfterMs: number): Promise<Ack[]> {
  // Round 0 kills during start-up and recovery; the others time the kill from the writer's
  // first write, so a slow start on a loaded machine does not swallow the whole round.
  const acks = await runAndKill(
    "test/support/crash-writer.ts",
    [dataDir, "crashy", String(round)],
    killAfterMs,
    round === 0,
  );
  return acks.filter(isAck);
}

function isAck(value: unknown): value is Ack {
  return typeof value === "object" && value !== null && "op" in value && "revision" in value;
}

test("a writer killed with SIGKILL at random points loses no acknowledged write", async () => {
  const env = { DATA_DIR: dataDir, PUBLIC_URL: "http://localhost:8080" };
  expect(
    (
      await runAdmin(env, [
        "create-user",
        "--username",
        "crash",
        "--did",
        testDid(),
        "--handle",
        "crash.bsky.social",
      ])
    ).exitCode,
  ).toBe(0);
  expect(
    (await runAdmin(env, ["create-wiki", "--slug", "crashy", "--owner", "crash"])).exitCode,
  ).toBe(0);

  const acks: Ack[] = [];
  // At least 7 kills; on a loaded machine a round acknowledges fewer writes before its kill,
  // so more rounds run until the check below has enough acknowledged writes to mean something.
  for (let round = 0; round < 7 || (acks.length <= 20 && round < 20); round++) {
    // Early kills land in start-up and recovery; later ones mid-write.
    const killAfter = round === 0 ? 60 : 250 + Math.floor(Math.random() * 900);
    acks.push(...(await runRound(round, killAfter)));
  }
  expect(acks.length).toBeGreaterThan(20);

  // Recovery happens when a process first touches the wiki.
  const stores = openStores(dataDir);
  const wiki = stores.wikis.findBySlug("crashy");
  if (wiki === null) throw new Error("wiki missing");
  const pages = stores.pages;
  await pages.ensureReady(wiki);
  const repo = pages.repo(wiki);

  expect(
    (
      await runGit(repo, ["fsck", "--no-dangling", "--no-progress"], {
        okExitCodes: [0, 1, 2, 3, 4, 5, 6, 7, 8],
      })
    ).exitCode,
  ).toBe(0);
  expect(await gitText(repo, ["status", "--porcelain", "--untracked-files=all"])).toBe("");

  const head = (await gitText(repo, ["rev-parse", "HEAD"])).trim();
  for (const ack of acks) {
    const reachable = await runGit(repo, ["merge-base", "--is-ancestor", ack.revision, head], {
      okExitCodes: [0, 1],
    });
    expect(reachable.exitCode).toBe(0);
    if (ack.op === "write") {
      expect(await gitText(repo, ["show", `${ack.revision}:${ack.path}.md`])).toBe(
        ack.content ?? "",
      );
    } else {
      const shown = await runGit(repo, ["cat-file", "-e", `${ack.revision}:${ack.path}.md`], {
        okExitCodes: [0, 128],
      });
      expect(shown.exitCode).toBe(128);
    }
  }

  stores.db.close();
  const db = new Database(join(dataDir, "wikibot.db"));
  expect(
    db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get()?.integrity_check,
  ).toBe("ok");
  db.exec("INSERT INTO pages_fts(pages_fts) VALUES ('integrity-check')");
  const indexed = db
    .query<{ path: string; body: string }, [number]>(
      "SELECT p.path, f.body FROM pages p JOIN pages_fts f ON f.rowid = p.id WHERE p.wiki_id = ? ORDER BY p.path",
    )
    .all(wiki.id);
  const files = (await gitText(repo, ["ls-tree", "-r", "-z", "--name-only", "HEAD"]))
    .split("\0")
    .filter((file) => file.endsWith(".md"))
    .sort();
  expect(indexed.map((row) => `${row.path}.md`).sort()).toEqual(files);
  for (const row of indexed) {
    expect(row.body).toBe(await gitText(repo, ["show", `HEAD:${row.path}.md`]));
  }
  expect(
    db
      .query<{ indexed_commit: string }, [number]>("SELECT indexed_commit FROM wikis WHERE id = ?")
      .get(wiki.id)?.indexed_commit,
  ).toBe(head);
  db.close();
});
