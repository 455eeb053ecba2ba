/**
 * Search over the largest allowed page does not hold the server (issue 8, defect 2): FTS5's
 * snippet() over a 1 MB page took seconds of synchronous work, during which nothing else was
 * answered. Here several searches over such a page run at once with /health, and all answer
 * correctly; how fast is measured in `bun run bench` (scripts/bench/search.ts), not asserted.
 * And one POST cannot queue many calls: JSON-RPC batches are refused.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { MAX_PAGE_BYTES } from "../src/pages/page-rules.ts";
import { createUserAndWiki, startTestServer, type TestServer } from "./support/server.ts";

setDefaultTimeout(120_000);

let t: TestServer;
let token: string;

/** A page of exactly the size limit where nearly every word matches "otter". */
function pageAtTheLimit(): string {
  const heading = "# Big\n\n## Field notes\n\n";
  const line = "otter otters otter kelp otter urchin otter\n";
  const body = line.repeat(Math.floor((MAX_PAGE_BYTES - heading.length) / line.length));
  const text = heading + body;
  return text + "x".repeat(MAX_PAGE_BYTES - Buffer.byteLength(text));
}

beforeAll(async () => {
  t = await startTestServer();
  ({ token } = await createUserAndWiki(t, { username: "olive", slug: "big", public: true }));
  const content = pageAtTheLimit();
  expect(Buffer.byteLength(content)).toBe(MAX_PAGE_BYTES);
  const put = await fetch(`${t.wikiOrigin("big")}/api/v1/pages/Big`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ content }),
  });
  expect(put.status).toBe(201);
  const small = await fetch(`${t.wikiOrigin("big")}/api/v1/pages/Small`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ content: "# Small\n\nOne otter.\n" }),
  });
  expect(small.status).toBe(201);
});
afterAll(() => t.close());

function mcpPost(body: unknown): Promise<Response> {
  return fetch(`${t.wikiOrigin("big")}/mcp`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    },
    body: JSON.stringify(body),
  });
}

const searchCall = (id: number, query: string) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "search", arguments: { query } },
});

describe("search over a page at the size limit", () => {
  test("8 concurrent searches and /health all answer, with the right hits", async () => {
    const queries = ["otter", "otters kelp", "urchin", "otte*", "otter -zebra", "kelp OR urchin"];
    const searches = Array.from({ length: 8 }, (_, index) => {
      const query = queries[index % queries.length] ?? "otter";
      return index % 2 === 0
        ? fetch(
            `${t.wikiOrigin("big")}/api/v1/search?q=${encodeURIComponent(query)}&limit=100`,
          ).then(async (response) => ({ status: response.status, body: await response.json() }))
        : mcpPost(searchCall(index, query)).then(async (response) => {
            const reply = await response.json();
            return { status: response.status, body: reply.result?.structuredContent };
          });
    });
    const health = fetch(`${t.origin}/health`);
    const [healthResponse, ...results] = await Promise.all([health, ...searches]);
    expect(healthResponse.status).toBe(200);
    for (const result of results) {
      expect(result.status).toBe(200);
      const big = result.body.hits.find((hit: { path: string }) => hit.path === "Big");
      expect(big).toMatchObject({
        title: "Big",
        lines: [5, 6, 7, 8, 9],
        heading_path: ["Big", "Field notes"],
      });
      expect(big.snippet).toStartWith("# Big ## Field notes otter otters otter kelp");
      expect(big.snippet.length).toBeLessThan(400);
      expect(big.matching_lines[0]).toEqual({
        line: 5,
        text: "otter otters otter kelp otter urchin otter",
        complete: true,
      });
    }
  });

  test("the small page is found beside it", async () => {
    const response = await fetch(`${t.wikiOrigin("big")}/api/v1/search?q=otter&limit=5`);
    const body = await response.json();
    expect(body.hits.map((hit: { path: string }) => hit.path).sort()).toEqual(["Big", "Small"]);
    const small = body.hits.find((hit: { path: string }) => hit.path === "Small");
    expect(small).toMatchObject({ snippet: "# Small One otter.", lines: [3] });
  });
});

describe("MCP refuses JSON-RPC batches", () => {
  test("an array body answers 400 with JSON-RPC error -32600 and runs none of its calls", async () => {
    const response = await mcpPost([searchCall(1, "otter"), searchCall(2, "kelp")]);
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32600, message: expect.stringContaining("batching is not supported") },
    });
  });

  test("the same call sent alone is answered", async () => {
    const response = await mcpPost(searchCall(1, "otter"));
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.result.structuredContent.hits.length).toBe(2);
  });
});
