/**
 * Semantic search end to end with the real model (MODEL_DIR = <project>/.models): pages written
 * over MCP, by git push and in the browser (Chromium) are found by questions that share no word
 * with them, through both `semantic_search` and GET /api/v1/semantic-search; deletes, moves,
 * path prefixes, hybrid ranks, read-only and anonymous readers, tenant isolation, a lapsed wiki,
 * and a server whose model is missing.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SwaggerParser from "@apidevtools/swagger-parser";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import Ajv2020 from "ajv/dist/2020.js";
import type { Browser, Page } from "playwright-core";
import { RRF_K } from "../src/search/hybrid.ts";
import { type SemanticSearchWire, semanticSearchWire } from "../src/search/semantic-hits.ts";
import { launchChromium, signedInContext } from "./support/browser.ts";
import { commitFiles, createGitClient, type GitClient, repoUrl } from "./support/git.ts";
import { callTool, connectMcp, mcpInitializeStatus, structuredOf, textOf } from "./support/mcp.ts";
import {
  addUser,
  createToken,
  createUserAndWiki,
  PROJECT_DIR,
  startTestServer,
  type TestServer,
} from "./support/server.ts";
import { signIn } from "./support/session.ts";

// The model loads and embeds on 2 cores, next to Otterwiki and Chromium.
setDefaultTimeout(180_000);

const INDEXING_TIMEOUT_MS = 120_000;

/** Each page is paired with a question that shares none of its words (stop words aside). */
const OTTERS = {
  path: "Field Notes/Sea Otter Feeding",
  content:
    "# Sea Otter Feeding\n\nSea otters crack open urchins and clams with stones while floating on their backs. Each animal eats about a quarter of its body weight daily to stay warm in cold water.\n",
  question: "which marine mammal uses rocks as tools to get its food?",
};
const BREAD = {
  path: "Methods/Bread Baking",
  content:
    "# Bread Baking\n\nKnead the dough for ten minutes, let it rise overnight in the fridge, then bake at 250 degrees in a covered cast iron pot until the crust turns deep brown.\n",
  question: "how long should I proof a loaf, and what oven temperature works?",
};
const SLEEP = {
  path: "Notes/Sleep Research",
  content:
    "# Sleep Research\n\nAdults who get less than six hours of rest each night show slower reaction times and weaker memory the next day.",
  question: "effects of too little slumber on thinking and alertness",
};
const VOLCANO = {
  path: "Temp/Volcano Facts",
  content:
    "# Volcano Facts\n\nMagma rises through cracks in the crust and erupts as lava, ash and gas; some eruptions bury towns.\n",
  question: "molten stone bursting out of mountains",
};
const COFFEE = {
  path: "Drafts/Coffee Brewing",
  content:
    "# Coffee Brewing\n\nGrind the beans coarsely, steep them in water just off the boil for four minutes, then push the plunger down slowly.\n",
  question: "preparing a caffeinated beverage at home",
};
const DISTRACTORS = {
  "Finance/Quarterly Budget":
    "# Quarterly Budget\n\nSpending on travel went up by twelve percent; licences and hosting stayed flat.\n",
  "Infrastructure/Nightly Backups":
    "# Nightly Backups\n\nThe database is copied to object storage at 02:00 and kept for thirty days.\n",
};
const RIVAL_PAGE = {
  path: "Secret/Rival Otters",
  content:
    "# Rival Otters\n\nSea otters crack shellfish with stones, according to the zanzibarian rival team.\n",
};

let t: TestServer;
let git: GitClient;
let browser: Browser;
let ownerToken: string;
let readToken: string;
let rivalToken: string;
let openToken: string;
let owner: Client;
/** Every MCP answer seen while waiting for the first indexing, to check what it said meanwhile. */
const answersWhileIndexing: { structured: SemanticSearchWire; text: string }[] = [];

async function restSearch(
  slug: string,
  params: Record<string, string>,
  token: string | null,
): Promise<{ status: number; body: unknown }> {
  const query = new URLSearchParams(params).toString();
  const response = await fetch(`${t.wikiOrigin(slug)}/api/v1/semantic-search?${query}`, {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: await response.json() };
}

/** A successful REST semantic search, parsed with the one wire schema. */
async function searchRest(
  slug: string,
  params: Record<string, string>,
  token: string | null = ownerToken,
): Promise<SemanticSearchWire> {
  const { status, body } = await restSearch(slug, params, token);
  if (status !== 200) throw new Error(`semantic search: ${status} ${JSON.stringify(body)}`);
  return semanticSearchWire.parse(body);
}

async function searchMcp(
  client: Client,
  args: Record<string, unknown>,
): Promise<{ structured: SemanticSearchWire; text: string }> {
  const result = await callTool(client, "semantic_search", args);
  if (result.isError) throw new Error(`semantic_search failed: ${textOf(result)}`);
  return { structured: semanticSearchWire.parse(structuredOf(result)), text: textOf(result) };
}

/** Polls until the wiki's pages are all indexed for meaning. */
async function waitUntilIndexed(slug: string, token: string, client: Client | null = null) {
  const deadline = Date.now() + INDEXING_TIMEOUT_MS;
  for (;;) {
    const answer =
      client === null
        ? {
            structured: await searchRest(slug, { q: "anything", mode: "semantic" }, token),
            text: "",
          }
        : await searchMcp(client, { query: "anything", mode: "semantic" });
    if (client !== null) answersWhileIndexing.push(answer);
    if (answer.structured.indexing === null) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${slug} still has ${answer.structured.indexing.pending_pages} pages pending`,
      );
    }
    await Bun.sleep(250);
  }
}

const paths = (answer: SemanticSearchWire) => answer.hits.map((hit) => hit.path);

function hitFor(answer: SemanticSearchWire, path: string) {
  const hit = answer.hits.find((candidate) => candidate.path === path);
  if (hit === undefined) throw new Error(`${path} not among ${JSON.stringify(paths(answer))}`);
  return hit;
}

/** Writes a page in Otterwiki's editor in Chromium, as a person does. */
async function writeInBrowser(page: Page, slug: string, path: string, content: string) {
  const response = await page.goto(`${t.wikiOrigin(slug)}/${encodeURI(path)}?edit`);
  expect(response?.status()).toBe(200);
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(content);
  await page.locator("#save-page-btn").click();
  await page.locator("#commit-message").fill("Written in the browser");
  await Promise.all([
    page.waitForEvent("framenavigated"),
    page.locator('#modal-commit input[type="submit"]').click(),
  ]);
  await page.waitForLoadState();
}

beforeAll(async () => {
  [t, browser] = await Promise.all([
    startTestServer({ MODEL_DIR: join(PROJECT_DIR, ".models") }),
    launchChromium(),
  ]);
  git = createGitClient();
  ownerToken = (await createUserAndWiki(t, { username: "olive", slug: "lab", tier: "premium" }))
    .token;
  readToken = (await createToken(t, "lab", "olive", "read")).token;
  await addUser(t, "jurgen", { displayName: "Jürgen", wiki: "lab", role: "editor" });
  rivalToken = (await createUserAndWiki(t, { username: "rita", slug: "rival" })).token;
  openToken = (await createUserAndWiki(t, { username: "pat", slug: "open", public: true })).token;
  owner = await connectMcp(t, "lab", ownerToken);

  for (const page of [OTTERS, VOLCANO, COFFEE]) {
    await callTool(owner, "write_note", { path: page.path, content: page.content });
  }
  for (const [path, content] of Object.entries(DISTRACTORS)) {
    await callTool(owner, "write_note", { path, content });
  }
  const rival = await connectMcp(t, "rival", rivalToken);
  await callTool(rival, "write_note", { path: RIVAL_PAGE.path, content: RIVAL_PAGE.content });
  await rival.close();

  const context = await signedInContext(browser, signIn(t, "jurgen"));
  const page = await context.newPage();
  await writeInBrowser(page, "lab", SLEEP.path, SLEEP.content);
  await context.close();

  const clone = join(git.dir, "lab");
  await git.ok(["clone", "-q", repoUrl(t, "lab", ownerToken), clone]);
  // Many pages in one push, last, so the first answers below come while indexing runs.
  const meetings: Record<string, string> = {};
  for (let index = 1; index <= 24; index++) {
    meetings[`Meetings/Log ${index}.md`] =
      `# Log ${index}\n\nAttendance was taken and agenda item ${index} was postponed to the next session.\n`;
  }
  await commitFiles(git, clone, { [`${BREAD.path}.md`]: BREAD.content, ...meetings }, "Push");
  await git.ok(["push", "-q", "origin", "HEAD"], { cwd: clone });

  await waitUntilIndexed("lab", ownerToken, owner);
  await waitUntilIndexed("rival", rivalToken);
  await waitUntilIndexed("open", openToken);
});

afterAll(async () => {
  await owner?.close();
  await browser?.close();
  git?.close();
  await t?.close();
});

describe("found by meaning", () => {
  test("pages written over MCP, by git push and in the browser answer questions that share no word with them", async () => {
    for (const page of [OTTERS, BREAD, SLEEP]) {
      const hybrid = await searchRest("lab", { q: page.question });
      // Not found by words: the full-text side has no place for the page.
      expect(hitFor(hybrid, page.path).fulltext).toBeNull();
      const semantic = await searchMcp(owner, { query: page.question, mode: "semantic" });
      const hit = hitFor(semantic.structured, page.path);
      expect(hit.semantic?.rank ?? 99).toBeLessThanOrEqual(3);
      expect(semantic.text).toContain(page.path);
    }
  });

  test("a hit names the page's current revision, title, heading path, lines and a plain snippet", async () => {
    const written = structuredOf(await callTool(owner, "read_note", { path: BREAD.path }));
    const answer = await searchRest("lab", { q: BREAD.question, mode: "semantic" });
    const hit = hitFor(answer, BREAD.path);
    expect(hit).toMatchObject({
      title: "Bread Baking",
      revision: written.revision,
      heading_path: ["Bread Baking"],
      line_start: 1,
      line_end: 3,
    });
    expect(hit.snippet).toStartWith("Knead the dough");
    expect(hit.snippet).not.toContain("#");
    expect(hit.score).toBe(hit.semantic?.score ?? -1);
    expect(hit.score).toBeGreaterThan(0);
    expect(hit.score).toBeLessThanOrEqual(1);
  });

  test("while the wiki was being indexed, answers said how many pages were pending", () => {
    const pending = answersWhileIndexing.find((answer) => answer.structured.indexing !== null);
    expect(pending?.structured.indexing?.pending_pages ?? 0).toBeGreaterThan(0);
    expect(pending?.text).toContain("still being indexed");
    const last = answersWhileIndexing.at(-1);
    expect(last?.structured.indexing).toBeNull();
    expect(last?.text).not.toContain("still being indexed");
  });

  test("hybrid shows each ranking's place and fuses them as Σ 1/(60 + rank)", async () => {
    const answer = await searchRest("lab", { q: "sea otters crack urchins" });
    expect(answer.mode).toBe("hybrid");
    const hit = hitFor(answer, OTTERS.path);
    if (hit.semantic === null || hit.fulltext === null) throw new Error("both ranks expected");
    const fused = 1 / (RRF_K + hit.semantic.rank) + 1 / (RRF_K + hit.fulltext.rank);
    expect(hit.score).toBeCloseTo(fused, 4);
    expect(answer.hits[0]?.path).toBe(OTTERS.path);
    const scores = answer.hits.map((each) => each.score);
    expect(scores).toEqual(scores.toSorted((a, b) => b - a));
    const semanticOnly = await searchRest("lab", {
      q: "sea otters crack urchins",
      mode: "semantic",
    });
    expect(semanticOnly.hits.every((each) => each.fulltext === null)).toBe(true);
  });

  test("path_prefix and limit bound the hits, one per page", async () => {
    const answer = await searchMcp(owner, {
      query: "meeting attendance",
      path_prefix: "Meetings/",
      limit: 5,
    });
    expect(answer.structured.mode).toBe("hybrid");
    expect(answer.structured.hits).toHaveLength(5);
    expect(paths(answer.structured).every((path) => path.startsWith("Meetings/"))).toBe(true);
    expect(new Set(paths(answer.structured)).size).toBe(5);
    const elsewhere = await searchRest("lab", { q: OTTERS.question, path_prefix: "Methods/" });
    expect(paths(elsewhere)).not.toContain(OTTERS.path);
    expect(paths(elsewhere).every((path) => path.startsWith("Methods/"))).toBe(true);
    // A prefix nothing lies under answers nothing, without searching the whole index for it.
    const nowhere = await searchRest("lab", {
      q: OTTERS.question,
      mode: "semantic",
      path_prefix: `Nowhere/${"x".repeat(500)}/`,
    });
    expect(nowhere.hits).toEqual([]);
  });
});

describe("changes", () => {
  test("a deleted page disappears from the results", async () => {
    expect(paths(await searchRest("lab", { q: VOLCANO.question }))).toContain(VOLCANO.path);
    const deleted = await callTool(owner, "delete_note", { path: VOLCANO.path });
    expect(deleted.isError).toBeFalsy();
    expect(paths(await searchRest("lab", { q: VOLCANO.question }))).not.toContain(VOLCANO.path);
    await waitUntilIndexed("lab", ownerToken);
    const after = await searchRest("lab", { q: VOLCANO.question, mode: "semantic" });
    expect(paths(after)).not.toContain(VOLCANO.path);
  });

  test("a moved page is found at its new path", async () => {
    const moved = await callTool(owner, "move_note", {
      from: COFFEE.path,
      to: "Recipes/Coffee Brewing",
    });
    expect(moved.isError).toBeFalsy();
    await waitUntilIndexed("lab", ownerToken);
    const answer = await searchRest("lab", { q: COFFEE.question, mode: "semantic" });
    expect(hitFor(answer, "Recipes/Coffee Brewing").semantic?.rank ?? 99).toBeLessThanOrEqual(3);
    expect(paths(answer)).not.toContain(COFFEE.path);
  });
});

describe("who may search", () => {
  test("a read-only token may search over MCP and REST", async () => {
    const reader = await connectMcp(t, "lab", readToken);
    try {
      const answer = await searchMcp(reader, { query: OTTERS.question });
      expect(paths(answer.structured)).toContain(OTTERS.path);
    } finally {
      await reader.close();
    }
    expect(paths(await searchRest("lab", { q: BREAD.question }, readToken))).toContain(BREAD.path);
  });

  test("anonymous readers may search a public wiki, not a private one", async () => {
    const open = await restSearch("open", { q: "how to connect an assistant" }, null);
    expect(open.status).toBe(200);
    expect(paths(semanticSearchWire.parse(open.body)).length).toBeGreaterThan(0);
    const closed = await restSearch("lab", { q: OTTERS.question }, null);
    expect(closed.status).toBe(401);
  });

  test("other wikis' content never appears", async () => {
    // The rival page is indexed and found in its own wiki…
    const own = await searchRest("rival", { q: OTTERS.question, mode: "semantic" }, rivalToken);
    expect(paths(own)).toContain(RIVAL_PAGE.path);
    expect(paths(own)).not.toContain(OTTERS.path);
    // …but never in another, whoever asks and however.
    for (const mode of ["semantic", "hybrid"]) {
      const answer = await searchRest("lab", { q: `${OTTERS.question} zanzibarian`, mode });
      expect(paths(answer)).not.toContain(RIVAL_PAGE.path);
      expect(JSON.stringify(answer)).not.toContain("zanzibarian rival");
    }
    const crossed = await restSearch("rival", { q: OTTERS.question }, ownerToken);
    expect([401, 403]).toContain(crossed.status);
  });

  test("a lapsed wiki can still be searched over REST, while its MCP stays disabled", async () => {
    const { token } = await createUserAndWiki(t, { username: "lena", slug: "old" });
    const client = await connectMcp(t, "old", token);
    await callTool(client, "write_note", { path: BREAD.path, content: BREAD.content });
    await client.close();
    await waitUntilIndexed("old", token);
    await t.adminJson("set-tier", "--wiki", "old", "--tier", "lapsed");
    const answer = await searchRest("old", { q: BREAD.question, mode: "semantic" }, token);
    expect(paths(answer)).toContain(BREAD.path);
    expect(await mcpInitializeStatus(t, "old", token)).toBe(403);
  });
});

describe("the REST contract", () => {
  test("bad parameters are refused with 400", async () => {
    const refused: Record<string, string>[] = [
      { q: "x", mode: "keyword" },
      { q: "x", limit: "51" },
      { q: "x", limit: "0" },
      { q: "" },
      { mode: "semantic" },
    ];
    for (const params of refused) {
      const { status, body } = await restSearch("lab", params, ownerToken);
      expect({ params, status }).toEqual({ params, status: 400 });
      expect(body).toMatchObject({ error: { code: "bad_request" } });
    }
  });

  test("answers match the OpenAPI document", async () => {
    const document = await (await fetch(`${t.wikiOrigin("lab")}/api/v1/openapi.json`)).json();
    // The document's shape is checked by test/api.test.ts; here it only supplies the schema.
    const dereferenced = (await SwaggerParser.dereference(document)) as unknown as {
      paths: Record<
        string,
        { get: { responses: Record<string, { content: Record<string, { schema: object }> }> } }
      >;
    };
    const schemaFor = (status: string) =>
      dereferenced.paths["/semantic-search"]?.get.responses[status]?.content["application/json"]
        ?.schema ?? {};
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const samples: Record<string, string>[] = [
      { q: OTTERS.question },
      { q: "kelp", mode: "semantic", limit: "1" },
    ];
    for (const params of samples) {
      const { status, body } = await restSearch("lab", params, ownerToken);
      expect(status).toBe(200);
      expect({ params, errors: ajv.validate(schemaFor("200"), body) ? null : ajv.errors }).toEqual({
        params,
        errors: null,
      });
    }
  });
});

describe("without a model", () => {
  let broken: TestServer;
  let modelDir: string;
  let token: string;

  beforeAll(async () => {
    modelDir = mkdtempSync(join(tmpdir(), "wikibot-no-model-"));
    broken = await startTestServer({ MODEL_DIR: modelDir });
    token = (await createUserAndWiki(broken, { username: "nora", slug: "nomodel" })).token;
  });
  afterAll(async () => {
    await broken?.close();
    rmSync(modelDir, { recursive: true, force: true });
  });

  test("REST answers 503 search_unavailable, full-text search still works, and MCP says so", async () => {
    const response = await fetch(
      `${broken.wikiOrigin("nomodel")}/api/v1/semantic-search?q=anything`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: "search_unavailable" } });
    const fulltext = await fetch(`${broken.wikiOrigin("nomodel")}/api/v1/search?q=agent`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(fulltext.status).toBe(200);
    const client = await connectMcp(broken, "nomodel", token);
    try {
      const result = await callTool(client, "semantic_search", { query: "anything" });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("search_unavailable");
      expect(textOf(result)).toContain("Use search (full text) instead");
      const words = await callTool(client, "search", { query: "agent" });
      expect(words.isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });
});
