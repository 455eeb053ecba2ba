import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gitText, runGit } from "./git.ts";
import { RepositoryMaintenance } from "./maintenance.ts";
import { initRepository } from "./repository.ts";

const countIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).length : 0);

async function looseObjectCount(repo: string): Promise<number> {
  const text = await gitText(repo, ["count-objects", "-v"]);
  return Number(/^count: (\d+)$/m.exec(text)?.[1] ?? -1);
}

describe("RepositoryMaintenance", () => {
  test("packs loose objects every n-th change once enough have piled up, in the foreground", async () => {
    const repo = join(mkdtempSync(join(tmpdir(), "wikibot-gc-")), "repo");
    try {
      await initRepository(repo);
      // `gc --auto` estimates loose objects from objects/17 alone (git's builtin/gc.c
      // too_many_loose_objects), so commit files in batches until that sample exceeds the
      // threshold. Committed, the objects are reachable, so gc packs rather than keeps them.
      const env = {
        GIT_AUTHOR_NAME: "a",
        GIT_AUTHOR_EMAIL: "a@x",
        GIT_COMMITTER_NAME: "a",
        GIT_COMMITTER_EMAIL: "a@x",
      };
      for (let batch = 0; batch < 40 && countIn(join(repo, ".git", "objects", "17")) < 2; batch++) {
        for (let index = 0; index < 250; index++) {
          writeFileSync(join(repo, `page ${batch}-${index}.md`), `content ${batch} ${index}\n`);
        }
        await runGit(repo, ["add", "-A"], { env });
        await runGit(repo, ["commit", "-q", "-m", `batch ${batch}`], { env });
      }
      const before = await looseObjectCount(repo);
      expect(countIn(join(repo, ".git", "objects", "17"))).toBeGreaterThanOrEqual(2);
      const maintenance = new RepositoryMaintenance({ every: 3, looseObjects: 50 });
      await maintenance.afterChange(1, repo);
      await maintenance.afterChange(1, repo);
      expect(await looseObjectCount(repo)).toBe(before); // not yet the 3rd change
      await maintenance.afterChange(1, repo);
      // Foreground: packed by the time afterChange returns.
      expect(await looseObjectCount(repo)).toBeLessThan(before / 10);
      expect(maintenance.status()).toEqual({ checks: 1, failures: 0, lastError: null });
      expect((await gitText(repo, ["fsck", "--no-progress"])).trim()).toBe("");
    } finally {
      rmSync(join(repo, ".."), { recursive: true, force: true });
    }
  });

  test("a failing gc is counted, not thrown", async () => {
    const maintenance = new RepositoryMaintenance({ every: 1, looseObjects: 1 });
    await maintenance.afterChange(1, "/nonexistent/repo");
    const status = maintenance.status();
    expect(status.failures).toBe(1);
    expect(status.lastError).toContain("git");
  });
});
