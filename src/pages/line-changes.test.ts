import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lineChange } from "./line-changes.ts";

/** git's own count of the same change, as `git diff --numstat` reports it. */
function gitNumstat(before: string, after: string): { added: number; removed: number } {
  const dir = mkdtempSync(join(tmpdir(), "line-changes-"));
  try {
    writeFileSync(join(dir, "a"), before);
    writeFileSync(join(dir, "b"), after);
    const run = Bun.spawnSync(["git", "diff", "--no-index", "--numstat", "a", "b"], { cwd: dir });
    const [added = "0", removed = "0"] = run.stdout.toString().trim().split("\t");
    return { added: Number(added), removed: Number(removed) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A deterministic pseudo-random generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

describe("lineChange", () => {
  test("a new page: every line added, from line 1", () => {
    expect(lineChange(null, "a\nb\nc\n")).toEqual({
      linesAdded: 3,
      linesRemoved: 0,
      firstChangedLine: 1,
    });
  });

  test("the same text: nothing changed", () => {
    expect(lineChange("a\nb\n", "a\nb\n")).toEqual({
      linesAdded: 0,
      linesRemoved: 0,
      firstChangedLine: null,
    });
  });

  test("one line replaced in the middle", () => {
    expect(lineChange("a\nb\nc\nd\n", "a\nb\nX\nd\n")).toEqual({
      linesAdded: 1,
      linesRemoved: 1,
      firstChangedLine: 3,
    });
  });

  test("only the final newline differs: the last line changed", () => {
    expect(lineChange("a\nb", "a\nb\n")).toEqual({
      linesAdded: 1,
      linesRemoved: 1,
      firstChangedLine: 2,
    });
  });

  test("counts agree with git diff --numstat on 60 random edits", () => {
    const next = random(42);
    const words = ["alpha", "beta", "gamma", "delta", "", "# Heading", "- item"];
    for (let round = 0; round < 60; round++) {
      const before = Array.from(
        { length: 5 + Math.floor(next() * 40) },
        () => words[Math.floor(next() * words.length)],
      );
      const after = [...before];
      for (let edit = 0; edit < 1 + Math.floor(next() * 6); edit++) {
        const at = Math.floor(next() * (after.length + 1));
        const kind = next();
        if (kind < 0.33) after.splice(at, 1);
        else if (kind < 0.66) after.splice(at, 0, `new ${round} ${edit}`);
        else after[at] = `changed ${round} ${edit}`;
      }
      const a = `${before.join("\n")}\n`;
      const b = `${after.join("\n")}\n`;
      const ours = lineChange(a, b);
      const git = gitNumstat(a, b);
      expect({ round, added: ours.linesAdded, removed: ours.linesRemoved }).toEqual({
        round,
        ...git,
      });
    }
  });

  test("a change too scattered to count cheaply is reported as its whole span", () => {
    const before = Array.from({ length: 3000 }, (_, index) => `line ${index}`);
    const after = before.map((line, index) => (index % 2 === 0 ? `${line} edited` : line));
    const change = lineChange(`${before.join("\n")}\n`, `${after.join("\n")}\n`);
    // 1,500 lines changed means an edit distance of 3,000, past the cap: the span is reported.
    expect(change).toEqual({ linesAdded: 2999, linesRemoved: 2999, firstChangedLine: 1 });
  });
});
