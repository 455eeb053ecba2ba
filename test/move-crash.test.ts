/**
 * A move carries several files in one commit (the page, its attachments, rewritten links). A
 * mover killed with SIGKILL at random points, several times, then a write as the first request
 * after restart: the page and every attachment must be in exactly one place, as the last
 * acknowledged move (or a later one) left them, with the repository clean and the index equal
 * to it (DESIGN §4; issue 13's attachment moves).
 */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { gitText, runGit } from "../src/repo/git.ts";
import { openStores } from "../src/stores.ts";
import { runAndKill } from "./support/kill-loop.ts";
import { makeDataDir, runAdmin, testDid } from "./support/server.ts";

// Real processes (movers, git) started and killed several times on 2 cores.
setDefaultTimeout(300_000);

const dataDir = makeDataDir();
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const ATTACHMENTS = ["chart.png", "data 1.csv", "-dash.txt"];
const who = {
  author: { name: "Crash Test", email: "crash@users.wikibot.invalid" },
  client: "crash-test",
};

interface MoveAck {
  to: string;
  revision: string;
}

function isMoveAck(value: unknown): value is MoveAck {
  return typeof value === "object" && value !== null && "to" in value && "revision" in value;
}

async function treeFiles(repo: string): Promise<string[]> {
  return (await gitText(repo, ["ls-tree", "-r", "-z", "--name-only", "HEAD"]))
    .split("\0")
    .filter((file) => file !== "")
    .sort();
}

test("a mover killed mid-move leaves the page and its attachments in one place; the first request after restart moves it again", async () => {
  const env = { DATA_DIR: dataDir, PUBLIC_URL: "http://localhost:8080" };
  const made = await runAdmin(env, [
    "create-user",
    "--username",
    "mover",
    "--did",
    testDid(),
    "--handle",
    "mover.bsky.social",
  ]);
  expect(made.exitCode).toBe(0);
  expect(
    (await runAdmin(env, ["create-wiki", "--slug", "movey", "--owner", "mover"])).exitCode,
  ).toBe(0);

  // The page, a page linking to it and to an attachment, and the attachments (as a push adds them).
  const setup = openStores(dataDir);
  const wiki = setup.wikis.findBySlug("movey");
  if (wiki === null) throw new Error("wiki missing");
  await setup.pages.write(wiki, {
    ...who,
    path: "Shelf/Left",
    content: "# Left\n\n![chart](/Shelf/Left/a/chart.png)\n",
  });
  await setup.pages.write(wiki, {
    ...who,
    path: "Index",
    content: "# Index\n\n[[Shelf/Left]] and [data](/Shelf/Left/a/data%201.csv)\n",
  });
  const repo = setup.pages.repo(wiki);
  await setup.pages.exclusive(wiki, async () => {
    for (const name of ATTACHMENTS) await Bun.write(join(repo, "Shelf/Left", name), `${name}\n`);
    await runGit(repo, ["add", "--", ...ATTACHMENTS.map((name) => `Shelf/Left/${name}`)]);
    await runGit(repo, ["commit", "-q", "-m", "attachments"]);
  });
  setup.db.close();

  const acks: MoveAck[] = [];
  for (let round = 0; round < 6 || (acks.length < 10 && round < 20); round++) {
    const killAfter = 100 + Math.floor(Math.random() * 700);
    const got = await runAndKill("test/support/crash-mover.ts", [dataDir, "movey"], killAfter);
    acks.push(...got.filter(isMoveAck));
  }
  expect(acks.length).toBeGreaterThan(0);

  // After restart, the first request is a write: one more move, back or forth.
  const stores = openStores(dataDir);
  const pages = stores.pages;
  const listed = (await pages.list(wiki, "Shelf/")).map((page) => page.path);
  expect(listed).toHaveLength(1);
  const [here = ""] = listed;
  const there = here === "Shelf/Left" ? "Shelf/Right" : "Shelf/Left";
  const moved = await pages.move(wiki, {
    ...who,
    from: here,
    to: there,
    updateLinks: true,
    updateTitle: true,
  });
  expect(moved.attachmentsMoved.sort()).toEqual([...ATTACHMENTS].sort());

  expect(await gitText(repo, ["status", "--porcelain", "--untracked-files=all"])).toBe("");
  const fsck = await runGit(repo, ["fsck", "--no-dangling", "--no-progress"], {
    okExitCodes: [0, 1, 2, 3, 4, 5, 6, 7, 8],
  });
  expect(fsck.exitCode).toBe(0);
  const head = (await gitText(repo, ["rev-parse", "HEAD"])).trim();
  for (const ack of acks) {
    const reachable = await runGit(repo, ["merge-base", "--is-ancestor", ack.revision, head], {
      okExitCodes: [0, 1],
    });
    expect(reachable.exitCode).toBe(0);
  }
  const name = there.split("/").at(-1) ?? "";
  expect((await treeFiles(repo)).filter((file) => file.startsWith("Shelf/"))).toEqual(
    [`${there}.md`, ...ATTACHMENTS.map((file) => `${there}/${file}`)].sort(),
  );
  const page = await pages.read(wiki, there);
  expect(page.content).toBe(`# ${name}\n\n![chart](/${there}/a/chart.png)\n`);
  expect((await pages.read(wiki, "Index")).content).toBe(
    `# Index\n\n[[${there}]] and [data](/${there}/a/data%201.csv)\n`,
  );
  expect((await pages.list(wiki, "Shelf/")).map((entry) => entry.path)).toEqual([there]);
  stores.db.close();
});
