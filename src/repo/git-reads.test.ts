import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { runGit as git, gitText } from "./git.ts";
import { type BlobWithin, DEFAULT_GIT_READS, GitReads } from "./git-reads.ts";
import { RepositoryReader } from "./object-reader.ts";
import { resolveCommit } from "./objects.ts";
import { initRepository } from "./repository.ts";

const ENV = {
  GIT_AUTHOR_NAME: "a",
  GIT_AUTHOR_EMAIL: "a@x",
  GIT_COMMITTER_NAME: "a",
  GIT_COMMITTER_EMAIL: "a@x",
};
const MAX = 1_000_000;
const root = mkdtempSync(join(tmpdir(), "wikibot-gitreads-"));
let repoCount = 0;

async function newRepo(): Promise<string> {
  const repo = join(root, `repo-${repoCount++}`);
  await initRepository(repo);
  return repo;
}

async function commitFiles(repo: string, files: Record<string, string | Uint8Array>) {
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(dirname(join(repo, file)), { recursive: true });
    writeFileSync(join(repo, file), content);
  }
  await git(repo, ["add", "-A"], { env: ENV });
  await git(repo, ["commit", "-q", "--allow-empty", "-m", "change"], { env: ENV });
  return (await gitText(repo, ["rev-parse", "HEAD"])).trim();
}

const headOf = async (repo: string) => (await gitText(repo, ["rev-parse", "HEAD"])).trim();

/** `git cat-file blob <rev>:<file>` bytes, or null when that is not a blob. */
async function catFile(repo: string, rev: string, file: string): Promise<Uint8Array | null> {
  const type = await git(repo, ["cat-file", "-t", `${rev}:${file}`], { okExitCodes: [0, 128] });
  if (new TextDecoder().decode(type.stdout).trim() !== "blob") return null;
  return (await git(repo, ["cat-file", "blob", `${rev}:${file}`])).stdout;
}

function expectSameAsGit(found: BlobWithin, expected: Uint8Array | null) {
  if (expected === null) {
    expect(found.kind).toBe("absent");
    return;
  }
  expect(found.kind).toBe("blob");
  if (found.kind === "blob") expect(Buffer.compare(found.data, expected)).toBe(0);
}

/** Every (revision, file) of `repo` read in process and compared with git cat-file. */
async function compareAll(reads: GitReads, repo: string, files: readonly string[]) {
  const revisions = (await gitText(repo, ["rev-list", "HEAD"])).trim().split("\n");
  let compared = 0;
  for (const revision of revisions) {
    for (const file of files) {
      expectSameAsGit(
        await reads.readBlobWithin(repo, revision, file, MAX),
        await catFile(repo, revision, file),
      );
      compared++;
    }
  }
  return compared;
}

/** Pages of varied bytes, across a few commits, for the byte-for-byte comparisons. */
async function variedRepo(): Promise<{ repo: string; files: string[] }> {
  const repo = await newRepo();
  const binary = Uint8Array.from({ length: 3000 }, (_, index) => (index * 37) % 256);
  await commitFiles(repo, {
    "Home.md": "# Home\n\nfirst\n",
    "Empty.md": "",
    "Notes/Deep/Ünïcode pâge.md": "naïve café 🦦\n",
    "Notes/CRLF.md": "line one\r\nline two\r\n",
    "Bytes.md": binary,
    "Latin1.md": Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x0a]),
  });
  for (let round = 0; round < 6; round++) {
    await commitFiles(repo, {
      "Home.md": `# Home\n\n${"a paragraph about otters\n".repeat(round * 20)}round ${round}\n`,
      [`Notes/Round ${round}.md`]: `round ${round}\n`,
    });
  }
  rmSync(join(repo, "Notes", "CRLF.md"));
  await commitFiles(repo, { "Home.md": "# Home\n\nlast\n" });
  const files = [
    "Home.md",
    "Empty.md",
    "Notes/Deep/Ünïcode pâge.md",
    "Notes/CRLF.md",
    "Bytes.md",
    "Latin1.md",
    "Notes/Round 3.md",
    "Notes",
    "Notes/Deep",
    "Missing.md",
    "Home.md/inside.md",
  ];
  return { repo, files };
}

beforeAll(() => mkdirSync(root, { recursive: true }));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("GitReads blobs", () => {
  test("byte-identical to git cat-file on loose objects, then packed, then after repacking again", async () => {
    const { repo, files } = await variedRepo();
    // No object cache: every read goes to the loose files and packs as they are now.
    const reads = new GitReads({ ...DEFAULT_GIT_READS, maxObjectCacheBytes: 0 });
    const looseCount = Number(
      /^count: (\d+)$/m.exec(await gitText(repo, ["count-objects", "-v"]))?.[1],
    );
    expect(looseCount).toBeGreaterThan(20);
    const compared = await compareAll(reads, repo, files);
    expect(compared).toBeGreaterThan(50);

    // Packed by gc in the same process, under the same cache (which held nothing packed yet).
    await git(repo, ["gc", "-q"]);
    expect(readdirSync(join(repo, ".git", "objects")).filter((name) => name.length === 2)).toEqual(
      [],
    );
    await compareAll(reads, repo, files);
    const packed = reads.stats().bytes;
    expect(packed).toBeGreaterThan(0);

    // The cache now holds that pack; a new commit and a full repack replace it underneath.
    await commitFiles(repo, { "Home.md": "after gc\n", "Fresh.md": "fresh\n" });
    await git(repo, ["repack", "-a", "-d", "-f", "-q"]);
    await compareAll(reads, repo, [...files, "Fresh.md"]);
    const stats = reads.stats();
    expect(stats.fallbacks).toBe(0);
    // The replaced pack was let go, not kept alongside the new one.
    expect(stats.bytes).toBeLessThan(packed * 1.5);
  }, 60_000);

  test("delta-coded blobs (gc --aggressive) read the same as git cat-file", async () => {
    const repo = await newRepo();
    // Each version one line further from the first: git chains them as deltas of each other.
    for (let round = 0; round < 30; round++) {
      const lines = Array.from(
        { length: 200 },
        (_, line) => `line ${line} ${line <= round ? "x" : ""}`,
      );
      await commitFiles(repo, { "Long.md": `${lines.join("\n")}\n` });
    }
    await git(repo, ["gc", "-q", "--aggressive"]);
    const chains = await gitText(repo, [
      "verify-pack",
      "-v",
      ...readdirSync(join(repo, ".git", "objects", "pack"))
        .filter((name) => name.endsWith(".idx"))
        .map((name) => join(repo, ".git", "objects", "pack", name)),
    ]);
    expect(chains).toMatch(/chain length = [4-9]/);
    const reads = new GitReads();
    await compareAll(reads, repo, ["Long.md"]);
    expect(reads.stats().fallbacks).toBe(0);
  }, 60_000);

  test("a symlink reads as its blob, as cat-file gives it; a submodule entry is absent", async () => {
    const repo = await newRepo();
    const blob = (await git(repo, ["hash-object", "-w", "--stdin"], { stdin: "Home.md" })).stdout;
    const target = new TextDecoder().decode(blob).trim();
    const head = await commitFiles(repo, { "Home.md": "home\n" });
    await git(repo, [
      "update-index",
      "--add",
      "--cacheinfo",
      `120000,${target},Link.md`,
      "--cacheinfo",
      `160000,${head},Sub.md`,
    ]);
    await git(repo, ["commit", "-q", "-m", "links"], { env: ENV });
    const reads = new GitReads();
    await compareAll(reads, repo, ["Link.md", "Sub.md", "Home.md"]);
    const link = await reads.readBlobWithin(repo, await headOf(repo), "Link.md", MAX);
    expect(link.kind === "blob" && new TextDecoder().decode(link.data)).toBe("Home.md");
    expect(reads.stats().fallbacks).toBe(0);
  }, 60_000);
});

describe("GitReads revisions", () => {
  test("answers as git rev-parse --verify <rev>^{commit}, tags peeled, other objects refused", async () => {
    const repo = await newRepo();
    const first = await commitFiles(repo, { "Home.md": "one\n" });
    const second = await commitFiles(repo, { "Home.md": "two\n" });
    await git(repo, ["tag", "-a", "-m", "annotated", "v1", first], { env: ENV });
    await git(repo, ["tag", "-a", "-m", "tag of a tag", "v1-again", "v1"], { env: ENV });
    const tag = (await gitText(repo, ["rev-parse", "v1"])).trim();
    const tagOfTag = (await gitText(repo, ["rev-parse", "v1-again"])).trim();
    const tree = (await gitText(repo, ["rev-parse", `${second}^{tree}`])).trim();
    const blob = (await gitText(repo, ["rev-parse", `${second}:Home.md`])).trim();
    const reads = new GitReads();
    const cases = [
      first,
      second,
      second.toUpperCase(),
      "HEAD",
      tag,
      tagOfTag,
      tree,
      blob,
      "0".repeat(40),
      "deadbeef".repeat(5),
      second.slice(0, 10),
      "zzzz",
    ];
    for (const revision of cases) {
      expect(await reads.resolveCommit(repo, revision)).toBe(await resolveCommit(repo, revision));
    }
    expect(await reads.resolveCommit(repo, tagOfTag)).toBe(first);
    expect(await reads.resolveCommit(repo, tree)).toBeNull();
    expect(await reads.resolveCommit(repo, "HEAD")).toBe(second);
    // Unknown ids are confirmed by the CLI (an object may have moved under a gc): 2 of them.
    expect(reads.stats().fallbacks).toBe(2);
  }, 60_000);

  test("a missing object answers as the CLI does, through it", async () => {
    const repo = await newRepo();
    const head = await commitFiles(repo, { "Home.md": "home\n", "Other.md": "other\n" });
    const blob = (await gitText(repo, ["rev-parse", `${head}:Home.md`])).trim();
    rmSync(join(repo, ".git", "objects", blob.slice(0, 2), blob.slice(2)));
    const reads = new GitReads();
    expect(await reads.readBlobWithin(repo, head, "Home.md", MAX)).toEqual({ kind: "absent" });
    expect(reads.stats().fallbacks).toBe(1);
    expect(reads.stats().lastFallback).toContain("not found");
    expectSameAsGit(
      await reads.readBlobWithin(repo, head, "Other.md", MAX),
      await catFile(repo, head, "Other.md"),
    );
  }, 60_000);
});

describe("GitReads under a concurrent writer", () => {
  test("reads stay exact while git commits, gcs and repacks the repository", async () => {
    const repo = await newRepo();
    const expected = new Map<string, string>();
    const write = async (round: number) => {
      const content = `round ${round}\n${"text ".repeat(round % 50)}\n`;
      const commit = await commitFiles(repo, { [`Page ${round % 7}.md`]: content });
      expected.set(commit, `Page ${round % 7}.md\0${content}`);
    };
    for (let round = 0; round < 10; round++) await write(round);
    const reads = new GitReads();
    let stop = false;
    const writer = (async () => {
      for (let round = 10; round < 60; round++) {
        await write(round);
        if (round % 10 === 0) await git(repo, ["gc", "-q"]);
        if (round % 15 === 0) await git(repo, ["repack", "-a", "-d", "-f", "-q"]);
      }
      stop = true;
    })();
    let checked = 0;
    while (!stop || checked < 100) {
      const commits = [...expected.keys()];
      const commit = commits[(checked * 7) % commits.length] ?? "";
      const [file = "", content = ""] = (expected.get(commit) ?? "").split("\0");
      const found = await reads.readBlobWithin(repo, commit, file, MAX);
      expect(found.kind === "blob" && new TextDecoder().decode(found.data)).toBe(content);
      expect(await reads.resolveCommit(repo, commit)).toBe(commit);
      checked++;
      if (stop && checked >= 100) break;
    }
    await writer;
    expect(checked).toBeGreaterThanOrEqual(100);
    expect(reads.stats().inProcess).toBeGreaterThan(0);
  }, 60_000);
});

describe("GitReads bounds", () => {
  test("a huge page is sized, not inflated, loose and packed, delta-coded too", async () => {
    const repo = await newRepo();
    const huge = new Uint8Array(24 * 1024 * 1024);
    const base = await commitFiles(repo, { "Zeros.md": huge, "Home.md": "home\n" });
    huge[1000] = 1;
    const next = await commitFiles(repo, { "Zeros.md": huge });
    const reads = new GitReads();
    const before = process.memoryUsage.rss();
    for (const commit of [base, next]) {
      expect(await reads.readBlobWithin(repo, commit, "Zeros.md", MAX)).toEqual({
        kind: "oversized",
        size: huge.byteLength,
      });
    }
    await git(repo, ["gc", "-q"]);
    for (const commit of [base, next]) {
      expect(await reads.readBlobWithin(repo, commit, "Zeros.md", MAX)).toEqual({
        kind: "oversized",
        size: huge.byteLength,
      });
    }
    expect(reads.stats().fallbacks).toBe(0);
    // Four 24 MiB inflations would show; the sizes came from headers alone.
    expect(process.memoryUsage.rss() - before).toBeLessThan(16 * 1024 * 1024);
  }, 60_000);

  test("a tree over the structure limit and packs over the cap go to the CLI, same answers", async () => {
    const repo = await newRepo();
    const files: Record<string, string> = {};
    for (let index = 0; index < 400; index++) files[`Wide/Page ${index}.md`] = `page ${index}\n`;
    await commitFiles(repo, files);
    await git(repo, ["gc", "-q"]);
    const narrow = new GitReads({ ...DEFAULT_GIT_READS, maxStructureBytes: 4096 });
    expectSameAsGit(
      await narrow.readBlobWithin(repo, await headOf(repo), "Wide/Page 7.md", MAX),
      await catFile(repo, "HEAD", "Wide/Page 7.md"),
    );
    expect(narrow.stats()).toMatchObject({
      fallbacks: 1,
      lastFallback: expect.stringMatching(/: \d+ bytes$/),
    });
    const small = new GitReads({ ...DEFAULT_GIT_READS, maxRepositoryPackBytes: 1024 });
    for (let round = 0; round < 3; round++) {
      expectSameAsGit(
        await small.readBlobWithin(repo, await headOf(repo), "Wide/Page 9.md", MAX),
        await catFile(repo, "HEAD", "Wide/Page 9.md"),
      );
    }
    expect(small.stats()).toMatchObject({
      fallbacks: 3,
      bytes: 0,
      lastFallback: "packs over the cap",
    });
  }, 60_000);

  test("a deep path reads in process; its trees share one budget, past which the CLI answers", async () => {
    const repo = await newRepo();
    const deep = `${Array.from({ length: 120 }, () => "d").join("/")}/Page.md`;
    await commitFiles(repo, { [deep]: "deep down\n", "d/Side.md": "side\n" });
    const reads = new GitReads();
    expectSameAsGit(
      await reads.readBlobWithin(repo, await headOf(repo), deep, MAX),
      await catFile(repo, "HEAD", deep),
    );
    expect(reads.stats().fallbacks).toBe(0);
    // Each tree on the way is ~30 bytes, far under 2,000; all 121 of them are not.
    const budget = new GitReads({ ...DEFAULT_GIT_READS, maxStructureBytes: 2000 });
    expectSameAsGit(
      await budget.readBlobWithin(repo, await headOf(repo), deep, MAX),
      await catFile(repo, "HEAD", deep),
    );
    expect(budget.stats()).toMatchObject({
      fallbacks: 1,
      lastFallback: expect.stringContaining("trees over"),
    });
    expectSameAsGit(
      await budget.readBlobWithin(repo, await headOf(repo), "d/Side.md", MAX),
      await catFile(repo, "HEAD", "d/Side.md"),
    );
    expect(budget.stats().fallbacks).toBe(1);
  }, 60_000);

  test("readers past the total budget are dropped, least recently used first", async () => {
    const repos: string[] = [];
    for (let index = 0; index < 3; index++) {
      const repo = await newRepo();
      await commitFiles(repo, { "Home.md": `home ${index}\n${"filler line\n".repeat(2000)}` });
      await git(repo, ["gc", "-q"]);
      repos.push(repo);
    }
    const probe = new GitReads();
    await probe.readBlobWithin(repos[0] ?? "", await headOf(repos[0] ?? ""), "Home.md", MAX);
    const oneRepo = probe.stats().bytes;
    expect(oneRepo).toBeGreaterThan(0);
    const reads = new GitReads({ ...DEFAULT_GIT_READS, maxTotalBytes: Math.floor(oneRepo * 2.5) });
    for (const repo of [...repos, ...repos]) {
      expectSameAsGit(
        await reads.readBlobWithin(repo, await headOf(repo), "Home.md", MAX),
        await catFile(repo, "HEAD", "Home.md"),
      );
      expect(reads.stats().bytes).toBeLessThanOrEqual(Math.floor(oneRepo * 2.5));
    }
    expect(reads.stats().evictions).toBeGreaterThan(0);
    expect(reads.stats().repositories).toBeLessThanOrEqual(2);
  }, 60_000);

  test("objects are kept by id within their cap; isomorphic-git's delta bases are measured and capped", async () => {
    const repo = await newRepo();
    for (let round = 0; round < 40; round++) {
      const lines = Array.from(
        { length: 400 },
        (_, line) => `line ${line} ${line <= round ? "x" : ""}`,
      );
      await commitFiles(repo, { "Long.md": `${lines.join("\n")}\n` });
    }
    await git(repo, ["gc", "-q", "--aggressive"]);
    const blobs = (await gitText(repo, ["log", "--format=%H", "HEAD"]))
      .trim()
      .split("\n")
      .map((commit) => `${commit}:Long.md`);
    const oids = (await gitText(repo, ["rev-parse", ...blobs])).trim().split("\n");
    const limits = {
      maxPackBytes: 1 << 30,
      maxDeltaCacheBytes: 1 << 30,
      maxObjectCacheBytes: 64 * 1024,
    };
    const reader = new RepositoryReader(repo, limits);
    await reader.refresh();
    for (const oid of oids) await reader.read(oid, MAX);
    const packs = new RepositoryReader(repo, { ...limits, maxObjectCacheBytes: 0 });
    await packs.refresh();
    for (const oid of oids) await packs.read(oid, MAX);
    // Forty ~4 kB blobs, 64 KiB kept: the cache holds what its cap allows, no more.
    const kept = reader.bytes() - packs.bytes();
    expect(kept).toBeGreaterThan(48 * 1024);
    expect(kept).toBeLessThanOrEqual(64 * 1024);

    // isomorphic-git 1.44.11 keeps no delta bases for an index read from .idx; were it to, the
    // measurement must see them and clear them over the cap. Plant one where it would keep it.
    const planted = async (target: RepositoryReader) => {
      const cache = Reflect.get(target, "cache") as Record<symbol, unknown>;
      const symbol = Object.getOwnPropertySymbols(cache).find(
        (s) => s.description === "PackfileCache",
      );
      const packIndexes = symbol === undefined ? undefined : cache[symbol];
      expect(packIndexes).toBeInstanceOf(Map);
      for (const pending of (
        packIndexes as Map<string, Promise<{ offsetCache: object }>>
      ).values()) {
        const index = await pending;
        expect(Object.keys(index.offsetCache)).toEqual([]);
        index.offsetCache = { 12: { type: "blob", object: new Uint8Array(100_000) } };
      }
    };
    await planted(packs);
    const before = packs.bytes();
    await packs.boundDeltaCache();
    expect(packs.bytes()).toBe(before + 100_000);
    const capped = new RepositoryReader(repo, { ...limits, maxDeltaCacheBytes: 50_000 });
    await capped.refresh();
    await capped.read(oids[0] ?? "", MAX);
    await planted(capped);
    const cappedBefore = capped.bytes();
    await capped.boundDeltaCache();
    expect(capped.bytes()).toBe(cappedBefore);
    await planted(capped);
  }, 60_000);

  test("with inProcess false every lookup runs on the CLI", async () => {
    const repo = await newRepo();
    const head = await commitFiles(repo, { "Home.md": "home\n" });
    const reads = new GitReads({ ...DEFAULT_GIT_READS, inProcess: false });
    expect(await reads.resolveCommit(repo, head)).toBe(head);
    expectSameAsGit(
      await reads.readBlobWithin(repo, head, "Home.md", MAX),
      await catFile(repo, head, "Home.md"),
    );
    expect(reads.stats()).toMatchObject({ inProcess: 0, repositories: 0 });
  }, 60_000);
});
