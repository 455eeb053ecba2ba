/**
 * Issue 13's agent tools through the MCP SDK client: moving a page with its attachments and
 * title, counted replacements, inserting around a section, and a size budget for reads.
 * Attachments arrive the way people add them outside the browser: by git push.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { commitFiles, type PushWiki, startPushWiki } from "./support/git.ts";
import { callTool, connectMcp, structuredOf, textOf } from "./support/mcp.ts";

setDefaultTimeout(60_000);

let wiki: PushWiki;
let agent: Client;

beforeAll(async () => {
  wiki = await startPushWiki("agents", "agentowner");
  agent = await connectMcp(wiki.t, wiki.slug, wiki.token, "claude-code");
});

afterAll(async () => {
  await agent.close();
  await wiki.close();
});

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

async function push(files: Record<string, string | Uint8Array>): Promise<void> {
  const clone = await wiki.freshClone();
  await commitFiles(wiki.git, clone, files, "add files");
  await wiki.git.ok(["push", "-q", "origin", "HEAD"], { cwd: clone });
}

async function filesAtHead(): Promise<string[]> {
  const listing = await wiki.git.ok(["-C", wiki.repo, "ls-tree", "-r", "--name-only", "HEAD"]);
  return listing.trim().split("\n").sort();
}

describe("move_note", () => {
  test("moves the page's attachments and retitles it; links to both follow; subpages stay", async () => {
    await push({
      "Drafts/Kelp.md":
        "# Kelp draft\n\n![forest](/Drafts/Kelp/a/forest.png)\n\n[data](/Drafts/Kelp/a/counts.csv)\n",
      "Drafts/Kelp/forest.png": PNG,
      "Drafts/Kelp/counts.csv": "site,count\na,3\n",
      "Drafts/Kelp/Notes.md": "# Notes\n\nA subpage.\n",
      "Index.md": "# Index\n\n[[Drafts/Kelp]] and ![thumb](/Drafts/Kelp/t/forest.png)\n",
    });
    const moved = await callTool(agent, "move_note", {
      from: "Drafts/Kelp",
      to: "Research/Kelp Forests",
      update_links: true,
      update_title: true,
    });
    expect(moved.isError).toBeFalsy();
    const result = structuredOf(moved);
    expect(result).toMatchObject({
      from: "Drafts/Kelp",
      to: "Research/Kelp Forests",
      title_updated: true,
    });
    expect(result.attachments_moved).toEqual(["counts.csv", "forest.png"]);
    expect(textOf(moved)).toContain("Attachments moved: counts.csv, forest.png.");
    const files = await filesAtHead();
    expect(files).toContain("Research/Kelp Forests/forest.png");
    expect(files).toContain("Research/Kelp Forests/counts.csv");
    expect(files).toContain("Drafts/Kelp/Notes.md");
    expect(files).not.toContain("Drafts/Kelp/forest.png");
    const blob = await wiki.git.ok([
      "-C",
      wiki.repo,
      "cat-file",
      "-s",
      "HEAD:Research/Kelp Forests/forest.png",
    ]);
    expect(Number(blob.trim())).toBe(PNG.length);
    const page = structuredOf(
      await callTool(agent, "read_note", { path: "Research/Kelp Forests" }),
    );
    expect(page.content).toBe(
      "# Kelp Forests\n\n![forest](/Research/Kelp%20Forests/a/forest.png)\n\n[data](/Research/Kelp%20Forests/a/counts.csv)\n",
    );
    expect(page.revision).toBe(result.revision);
    const index = structuredOf(await callTool(agent, "read_note", { path: "Index" }));
    expect(index.content).toBe(
      "# Index\n\n[[Research/Kelp Forests]] and ![thumb](/Research/Kelp%20Forests/t/forest.png)\n",
    );
    // One commit holds the move, the attachments and every rewritten link.
    const shown = await wiki.git.ok([
      "-C",
      wiki.repo,
      "show",
      "--name-status",
      "--format=%s",
      "HEAD",
    ]);
    expect(shown).toContain("Research/Kelp Forests/forest.png");
    expect(shown).toContain("Index.md");
  });

  test("an attachment name the target folder already holds refuses the whole move", async () => {
    await push({
      "Old.md": "# Old\n",
      "Old/chart.png": PNG,
      "New/chart.png": PNG,
    });
    const before = await filesAtHead();
    const refused = await callTool(agent, "move_note", { from: "Old", to: "New" });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toStartWith("Error (already_exists):");
    expect(textOf(refused)).toContain('"New/chart.png" already exists');
    expect(await filesAtHead()).toEqual(before);
  });

  test("update_title on a page without a # heading leaves the text alone and says so", async () => {
    await callTool(agent, "write_note", { path: "Plain", content: "no heading here\n" });
    const moved = await callTool(agent, "move_note", {
      from: "Plain",
      to: "Plainer",
      update_title: true,
    });
    expect(structuredOf(moved)).toMatchObject({ title_updated: false, attachments_moved: [] });
    expect(textOf(moved)).toContain("Its title was left alone");
    expect(structuredOf(await callTool(agent, "read_note", { path: "Plainer" })).content).toBe(
      "no heading here\n",
    );
  });
});

describe("edit_note", () => {
  test("expected_replacements replaces every match only when the count is right", async () => {
    const base = structuredOf(
      await callTool(agent, "write_note", {
        path: "Budget",
        content: "# Budget\n\nIn 2024 we spent little.\n\n## 2024 notes\n\nSee 2024.\n",
      }),
    );
    const wrong = await callTool(agent, "edit_note", {
      path: "Budget",
      edits: [{ old_text: "2024", new_text: "2025", expected_replacements: 2 }],
    });
    expect(wrong.isError).toBe(true);
    expect(textOf(wrong)).toContain("matches 3 places (lines 3, 5, 7), not the 2 expected");
    expect(structuredOf(await callTool(agent, "read_note", { path: "Budget" })).revision).toBe(
      base.revision,
    );
    const right = structuredOf(
      await callTool(agent, "edit_note", {
        path: "Budget",
        edits: [{ old_text: "2024", new_text: "2025", expected_replacements: 3 }],
        expected_revision: base.revision,
      }),
    );
    expect(right).toMatchObject({ lines_added: 3, lines_removed: 3, first_changed_line: 3 });
  });

  test("insert puts lines before a section's heading or after its end", async () => {
    await callTool(agent, "write_note", {
      path: "Paper",
      content: "# Paper\n\n## Methods\n\n### Setup\n\nTanks.\n\n## Results\n\nNone yet.\n",
    });
    const before = structuredOf(
      await callTool(agent, "edit_note", {
        path: "Paper",
        insert: { heading: "Results", position: "before", text: "## Discussion\n\nTBD." },
      }),
    );
    expect(before).toMatchObject({ lines_added: 4, lines_removed: 0, first_changed_line: 9 });
    await callTool(agent, "edit_note", {
      path: "Paper",
      insert: { heading: "Methods/Setup", position: "after", text: "Pumps." },
    });
    expect(structuredOf(await callTool(agent, "read_note", { path: "Paper" })).content).toBe(
      "# Paper\n\n## Methods\n\n### Setup\n\nTanks.\nPumps.\n\n## Discussion\n\nTBD.\n\n## Results\n\nNone yet.\n",
    );
    const missing = await callTool(agent, "edit_note", {
      path: "Paper",
      insert: { heading: "Appendix", position: "after", text: "x" },
    });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toContain('there is no section "Appendix"');
    expect(textOf(missing)).toContain("## Paper/Results (line");
  });
});

describe("hostile sizes", () => {
  test("an insert that would pass the page size limit is refused and changes nothing", async () => {
    const base = structuredOf(
      await callTool(agent, "write_note", { path: "Small", content: "# Small\n\n## A\n\nx\n" }),
    );
    const huge = await callTool(agent, "edit_note", {
      path: "Small",
      insert: { heading: "A", position: "after", text: "y".repeat(1_100_000) },
    });
    expect(huge.isError).toBe(true);
    expect(textOf(huge)).toContain("too_large");
    expect(structuredOf(await callTool(agent, "read_note", { path: "Small" })).revision).toBe(
      base.revision,
    );
    const tooMany = await callTool(agent, "edit_note", {
      path: "Small",
      edits: [{ old_text: "x", new_text: "z", expected_replacements: 10_001 }],
    });
    expect(tooMany.isError).toBe(true);
  });
});

describe("read_note", () => {
  test("max_chars ends on a whole line and says where to continue", async () => {
    const lines = Array.from({ length: 100 }, (_, index) => `line ${index + 1} ${"x".repeat(40)}`);
    await callTool(agent, "write_note", { path: "Wide", content: `${lines.join("\n")}\n` });
    const read = await callTool(agent, "read_note", { path: "Wide", max_chars: 500 });
    const page = structuredOf(read);
    // Each line is 48 or 49 characters with its newline: ten fit in 500.
    expect(page).toMatchObject({ line_start: 1, line_end: 10, next_line_start: 11 });
    expect(String(page.content).length).toBeLessThanOrEqual(500);
    expect(textOf(read)).toContain('"line_start":11,"max_chars":500');
    const tooSmall = await callTool(agent, "read_note", { path: "Wide", max_chars: 10 });
    expect(tooSmall.isError).toBe(true);
  });
});
