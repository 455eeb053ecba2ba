/**
 * A push carrying an object larger than any file may be is refused before the wiki's write gate
 * is taken, by the size in the pack's own headers, without inflating it (issue 8): a gigabyte of
 * zeros is under a megabyte on the wire and would otherwise hold the gate while git inflates it.
 * Each refusal below happens while the test itself holds the gate, which proves it never waited
 * for it. Real git client, real server.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readdirSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { gitText } from "../src/repo/git.ts";
import { readHead } from "../src/repo/repository.ts";
import type { Wiki } from "../src/wikis/wiki-store.ts";
import {
  commitFiles,
  type GitClient,
  type GitRun,
  type PushWiki,
  startPushWiki,
} from "./support/git.ts";
import type { TestServer } from "./support/server.ts";

// The client hashes and compresses a 1 GB file before it pushes.
setDefaultTimeout(180_000);

/** The server's default MAX_BODY_BYTES, the largest file other than a page. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

let t: TestServer;
let git: GitClient;
let repo: string;
let target: PushWiki;

beforeAll(async () => {
  target = await startPushWiki("scan", "paula");
  ({ t, git, repo } = target);
});
afterAll(() => target.close());

const wiki = (): Wiki => target.wiki();
const freshClone = (): Promise<string> => target.freshClone();

/**
 * Pushes while the test holds the wiki's write gate: a push that reached receive-pack would wait
 * for the gate forever, so an answer at all means it was refused before the gate.
 */
async function pushHoldingTheGate(dir: string): Promise<GitRun> {
  let push: GitRun | null = null;
  await t.server.pages.exclusive(wiki(), async () => {
    push = await git.run(["push", "origin", "main"], { cwd: dir });
  });
  if (push === null) throw new Error("the push did not run");
  return push;
}

async function expectRefusedBeforeTheGate(dir: string, mentions: readonly string[]) {
  const head = readHead(repo);
  const pages = (await t.server.pages.list(wiki())).map((page) => page.path);
  const push = await pushHoldingTheGate(dir);
  expect(push.exitCode).not.toBe(0);
  expect(push.stderr).toContain("! [remote rejected] main -> main (object over the size limit)");
  const remote = push.stderr
    .split("\n")
    .filter((line) => line.startsWith("remote: "))
    .join("\n");
  expect(remote).toContain("remote: refused: the push contains ");
  expect(remote).toContain("remote: nothing was pushed");
  for (const mention of mentions) expect(remote).toContain(mention);
  expect(readHead(repo)).toBe(head);
  expect(await gitText(repo, ["status", "--porcelain", "--untracked-files=all"])).toBe("");
  expect((await t.server.pages.list(wiki())).map((page) => page.path)).toEqual(pages);
  expect(readdirSync(join(t.dataDir, "tmp", "git-push"))).toEqual([]);
  return push;
}

describe("refused before the write gate", () => {
  test("a 1 GB page of zeros (about 1 MB on the wire) is refused by its declared size", async () => {
    const dir = await freshClone();
    // A sparse file: a gigabyte of zeros without a gigabyte of memory or disk.
    await Bun.write(join(dir, "Zeros.md"), "");
    truncateSync(join(dir, "Zeros.md"), 1_000_000_000);
    await git.ok(["add", "Zeros.md"], { cwd: dir });
    await git.ok(["commit", "-q", "-m", "a gigabyte of zeros"], { cwd: dir });
    await expectRefusedBeforeTheGate(dir, [
      `a file of 1000000000 bytes; files are limited to ${MAX_FILE_BYTES} bytes (pages to 1000000)`,
    ]);
  });

  test("a small delta that makes a file over the limit is refused by the size it makes", async () => {
    const dir = await freshClone();
    // git deltas only against a base over half the target's size (pack-objects.c try_delta).
    const photo = randomBytes(2_500_000);
    await commitFiles(git, dir, { "Gallery/photo.png": photo }, "a photo");
    await git.ok(["push", "-q", "origin", "main"], { cwd: dir });
    const twice = Buffer.concat([photo, photo]).subarray(0, 4_500_000);
    await commitFiles(git, dir, { "Gallery/photo.png": twice }, "the photo, twice");
    await expectRefusedBeforeTheGate(dir, [
      `an object of 4500000 bytes (sent as a delta); files are limited to ${MAX_FILE_BYTES} bytes`,
    ]);
  });
});

test("a push within the limits still lands", async () => {
  const dir = await freshClone();
  const files: Record<string, string | Uint8Array> = {
    "Scan/Home.md": "# Home\n\nquokkascan\n",
    "Scan/photo.png": randomBytes(3_000_000),
  };
  for (let index = 0; index < 50; index++) files[`Scan/Page ${index}.md`] = `# Page ${index}\n`;
  const commit = await commitFiles(git, dir, files, "pages and a photo");
  const push = await git.run(["push", "origin", "main"], { cwd: dir });
  expect(push.stderr).not.toContain("refused");
  expect(push.exitCode).toBe(0);
  expect(readHead(repo)).toBe(commit);
  expect((await t.server.pages.list(wiki())).map((page) => page.path)).toContain("Scan/Page 49");
});
