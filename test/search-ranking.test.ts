/**
 * Full-text ranking and hints on a 60-page wiki of research notes (issue 13), through the real
 * server with the MCP SDK's client and over REST: the page whose section is "## Results" comes
 * first for `Results` although a dozen short notes say "results" in their text; a multi-word
 * query's matching heading is among the line hints; lines come back exactly as the page has them;
 * the answer says how many pages match and that more are available.
 *
 * The pages are test/fixtures/retrieval/pages (47, shared with the retrieval bench) and
 * test/fixtures/ranking/pages (13 notes that mention results only in their text).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { Glob } from "bun";
import { callTool, connectMcp, structuredOf, textOf } from "./support/mcp.ts";
import {
  createUserAndWiki,
  PROJECT_DIR,
  startTestServer,
  type TestServer,
} from "./support/server.ts";

setDefaultTimeout(180_000);

const FIXTURE_DIRS = ["test/fixtures/retrieval/pages", "test/fixtures/ranking/pages"];
const RESULTS_PAGE = "Experiments/Run 42 learning rate sweep";

interface Hit {
  path: string;
  title: string;
  revision: string;
  snippet: string;
  lines: number[];
  matching_lines: { line: number; text: string; complete: boolean }[];
  heading_path: string[];
}

interface Answer {
  total: number;
  more_available: boolean;
  hits: Hit[];
}

let t: TestServer;
let token: string;
let owner: Client;
const pages = new Map<string, string>();

function answerOf(value: Record<string, unknown>): Answer {
  const { total, more_available: more, hits } = value;
  if (typeof total !== "number" || typeof more !== "boolean" || !Array.isArray(hits)) {
    throw new Error(`not a search answer: ${JSON.stringify(value)}`);
  }
  return { total, more_available: more, hits: hits as Hit[] };
}

async function search(query: string, limit?: number) {
  const result = await callTool(
    owner,
    "search",
    limit === undefined ? { query } : { query, limit },
  );
  return { text: textOf(result), answer: answerOf(structuredOf(result)) };
}

/** Pages whose path or text holds a word starting with `result` (what the index's stemming finds). */
function pagesMentioningResults(): string[] {
  return [...pages]
    .filter(([path, text]) => /\bresult/i.test(`${path}\n${text}`))
    .map(([path]) => path);
}

beforeAll(async () => {
  for (const dir of FIXTURE_DIRS) {
    for (const file of new Glob("**/*.md").scanSync(`${PROJECT_DIR}/${dir}`)) {
      pages.set(file.slice(0, -3), await Bun.file(`${PROJECT_DIR}/${dir}/${file}`).text());
    }
  }
  t = await startTestServer();
  token = (await createUserAndWiki(t, { username: "rhea", slug: "ranking" })).token;
  owner = await connectMcp(t, "ranking", token);
  // Only the fixture: the pages every new wiki starts with (Home, the agent guide…) go.
  const listed = structuredOf(await callTool(owner, "list_notes", { limit: 100 }));
  for (const { path } of listed.pages as { path: string }[]) {
    const read = structuredOf(await callTool(owner, "read_note", { path }));
    const removed = await callTool(owner, "delete_note", {
      path,
      expected_revision: read.revision,
    });
    if (removed.isError) throw new Error(`delete_note ${path}: ${textOf(removed)}`);
  }
  for (const [path, content] of pages) {
    const written = await callTool(owner, "write_note", { path, content });
    if (written.isError) throw new Error(`write_note ${path}: ${textOf(written)}`);
  }
});
afterAll(async () => {
  await owner?.close();
  await t?.close();
});

describe("the ranking fixture", () => {
  test("is 60 pages; one has the heading ## Results, and many more say results in their text", () => {
    expect(pages.size).toBe(60);
    const withHeading = [...pages].filter(([, text]) => /^## Results$/m.test(text));
    expect(withHeading.map(([path]) => path)).toEqual([RESULTS_PAGE]);
    const inText = [...pages].filter(([, text]) =>
      text.split("\n").some((line) => !line.startsWith("#") && /\bresults?\b/i.test(line)),
    );
    expect(inText.length).toBeGreaterThanOrEqual(15);
  });
});

describe("search ranking and hints (MCP)", () => {
  test("the page with the heading Results ranks first for Results", async () => {
    const { answer } = await search("Results");
    const [first] = answer.hits;
    expect(first?.path).toBe(RESULTS_PAGE);
    expect(first?.heading_path).toEqual(["Run 42 learning rate sweep", "Results"]);
    expect(first?.matching_lines).toContainEqual({ line: 18, text: "## Results", complete: true });
  });

  test("a page titled by the word comes before pages with a section of that name", async () => {
    const { answer } = await search("Decision");
    expect(answer.hits[0]?.path).toBe("Meetings/Decision log");
    expect(answer.hits.slice(1, 3).map((hit) => hit.heading_path.at(-1))).toEqual([
      "Decision",
      "Decisions",
    ]);
  });

  test("pages whose headings hold the word come before pages that only mention it", async () => {
    const { answer } = await search("Results", 50);
    const headed = answer.hits.map((hit) =>
      (pages.get(hit.path) ?? "").split("\n").some((line) => /^#+ .*\bresults?\b/i.test(line)),
    );
    const firstUnheaded = headed.indexOf(false);
    expect(firstUnheaded).toBeGreaterThan(0);
    expect(headed.slice(firstUnheaded)).not.toContain(true);
  });

  test("the count of matching pages, and that more are available past the limit", async () => {
    const expected = pagesMentioningResults().length;
    const { text, answer } = await search("Results");
    expect(answer.hits).toHaveLength(10);
    expect(answer.total).toBe(expected);
    expect(answer.more_available).toBe(true);
    expect(text).toStartWith(`10 of ${expected} pages matching "Results"`);
    expect(text).toContain(`${expected - 10} more: raise limit`);

    const all = await search("Results", 50);
    expect(all.answer.hits.map((hit) => hit.path).sort()).toEqual(pagesMentioningResults().sort());
    expect(all.answer.more_available).toBe(false);
    expect(all.text).toStartWith(`${expected} pages match "Results".`);
  });

  test("a multi-word query's matching heading is among the line hints", async () => {
    const { answer } = await search("learning rate results");
    const hit = answer.hits.find((candidate) => candidate.path === RESULTS_PAGE);
    expect(answer.hits[0]?.path).toBe(RESULTS_PAGE);
    expect(hit?.lines).toContain(18);
    expect(hit?.lines).toContain(1);
    expect(hit?.heading_path).toEqual(["Run 42 learning rate sweep"]);
  });

  test("lines and snippets are the page's own text: no marks, no ellipses", async () => {
    const { text, answer } = await search("results OR learning", 50);
    expect(answer.hits.length).toBeGreaterThan(10);
    for (const hit of answer.hits) {
      const pageLines = (pages.get(hit.path) ?? "").split("\n");
      expect(hit.lines).toEqual(hit.matching_lines.map((line) => line.line));
      for (const line of hit.matching_lines) {
        expect(line.complete).toBe(true);
        expect(line.text).toBe(pageLines[line.line - 1] ?? "missing");
      }
      expect(hit.snippet).not.toContain("**");
      expect(hit.snippet).not.toContain("…");
      expect((pages.get(hit.path) ?? "").replace(/\s+/g, " ")).toContain(hit.snippet);
    }
    expect(text).toContain("   18: ## Results");
    expect(text).not.toContain("**");
  });

  test("no match: total 0 and nothing more", async () => {
    const { text, answer } = await search("zebracorn");
    expect(answer).toEqual({ total: 0, more_available: false, hits: [] });
    expect(text).toBe('No pages match "zebracorn".');
  });
});

describe("search over REST", () => {
  test("the same ranking, count and hints as MCP", async () => {
    const response = await fetch(`${t.wikiOrigin("ranking")}/api/v1/search?q=Results&limit=3`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    const json = (await response.json()) as Record<string, unknown>;
    const mcp = structuredOf(await callTool(owner, "search", { query: "Results", limit: 3 }));
    expect(json).toEqual(mcp);
    const rest = answerOf(json);
    expect(rest.hits[0]?.path).toBe(RESULTS_PAGE);
    expect(rest.total).toBe(pagesMentioningResults().length);
    expect(rest.more_available).toBe(true);
  });
});
