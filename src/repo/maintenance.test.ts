import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gitText, runGit } from "./git.ts";
import { RepositoryMaintenance } from "./maintenance.ts";
import { initRepository } from "./repository.ts";

async function looseObjectCount(repo: string): Promise<number> {
  const text = await gitText(repo, ["count-objects", "-v"]);
  return Number(/^count: (\d+)$/m.exec(text)?.[1] ?? -1);
}

describe("RepositoryMaintenance", () => {
  test("packs loose objects every n-th change once enough have piled up, in the foreground", async () => {
    const repo = join(mkdtempSync(join(tmpdir(), "wikibot-gc-")), "repo");
    try {
      await initRepository(repo);
      const env = {
        GIT_AUTHOR_NAME: "a",
        GIT_AUTHOR_EMAIL: "a@x",
        GIT_COMMITTER_NAME: "a",
        GIT_COMMITTER_EMAIL: "a@x",
      };
      // gc.auto's estimate samples objects/17; enough commits make it exceed a small threshold.
      for (let index = 0; index < 120; index++) {
        writeFileSync(join(repo, `page ${index}.md`), `content ${index}\n`);
        await runGit(repo, ["add", "-A"], { env });
        await runGit(repo, ["commit", "-q", "-m", `c${index}`], { env });
      }
      const before = await looseObjectCount(repo);
      expect(before).toBeGreaterThan(300);
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
