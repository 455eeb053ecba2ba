/**
 * The search worker against the real server and the real model (.models/): pages written over
 * MCP are found by meaning, deletes and moves reach the index, a killed server resumes its queue
 * to a complete index, a damaged index is rebuilt at start, queries are answered during a large
 * reindex, and one wiki's content never answers another's query.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { join, resolve } from "node:path";
import { readConfig } from "../src/config/config.ts";
import { createLogger } from "../src/lib/log.ts";
import { startSemanticSearch } from "../src/search/search-service.ts";
import { HNSW, INDEX_FILE, openVectorIndex } from "../src/search/vector-index.ts";
import { openStores, type RunningServer, startServer } from "../src/server.ts";
import { WikiStore } from "../src/wikis/wiki-store.ts";
import { callTool, connectMcp, textOf } from "./support/mcp.ts";
import {
  createUserAndWiki,
  makeDataDir,
  PROJECT_DIR,
  runAdmin,
  startTestServer,
  type TestServer,
  testDid,
} from "./support/server.ts";
import { spawnServer } from "./support/server-process.ts";
import { signIn } from "./support/session.ts";

// Embedding runs at ~13 chunks/s on the 2-core CI machine; each test embeds a few dozen at most.
setDefaultTimeout(180_000);

const MODEL_DIR = join(PROJECT_DIR, ".models");

const PAGES = {
  oauth: {
    path: "Login/Bluesky OAuth error pages",
    content:
      "# Bluesky OAuth error pages\n\nWhen the PDS rejects the authorization code we render a page explaining that logging in did not work, with a button to try again. Expired state parameters and denied consent show the same screen.\n",
    paraphrase: "how are sign-in failures shown to people",
  },
  otters: {
    path: "Field/Otter den survey",
    content:
      "# Otter den survey\n\nThe otters moved their holt upstream after the spring flood. Three pups were seen at dawn near the willow roots.\n",
    paraphrase: "where did the river mammals relocate their burrow",
  },
  sourdough: {
    path: "Kitchen/Sourdough starter",
    content:
      "# Sourdough starter\n\nFeed it equal weights of rye flour and water every twelve hours and keep it at room temperature until it doubles.\n",
    paraphrase: "maintaining a bread leaven culture",
  },
} as const;

function wikiIdOf(db: Database, slug: string): number {
  const row = db.query<{ id: number }, [string]>("SELECT id FROM wikis WHERE slug = ?").get(slug);
  if (row === null) throw new Error(`no wiki ${slug}`);
  return row.id;
}

/** Waits until the wiki has no queued pages (a bail-out, not a timing assertion). */
async function waitIndexed(db: Database, wikiId: number): Promise<void> {
  const deadline = Date.now() + 150_000;
  for (;;) {
    const depth =
      db
        .query<{ n: number }, [number]>("SELECT count(*) AS n FROM reindex_queue WHERE wiki_id = ?")
        .get(wikiId)?.n ?? 0;
    if (depth === 0) return;
    if (Date.now() > deadline) throw new Error(`wiki ${wikiId} still has ${depth} queued pages`);
    await Bun.sleep(100);
  }
}

/** Waits until the worker has loaded the model and checked every index. */
async function waitStarted(server: RunningServer): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (server.semanticSearch.status().state === "starting" && Date.now() < deadline)
    await Bun.sleep(50);
  expect(server.semanticSearch.status().state).not.toBe("starting");
}

function pagePaths(db: Database, wikiId: number): string[] {
  return db
    .query<{ path: string }, [number]>("SELECT path FROM pages WHERE wiki_id = ?")
    .all(wikiId)
    .map((row) => row.path);
}

function chunkCount(db: Database, wikiId: number, path?: string): number {
  return (
    db
      .query<{ n: number }, [number, string | null]>(
        "SELECT count(*) AS n FROM chunks WHERE wiki_id = ?1 AND (?2 IS NULL OR path = ?2)",
      )
      .get(wikiId, path ?? null)?.n ?? 0
  );
}

describe("on one server", () => {
  let t: TestServer;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestServer();
    for (const slug of ["alpha", "beta", "moves", "bulk"]) {
      tokens[slug] = (await createUserAndWiki(t, { username: `${slug}-owner`, slug })).token;
    }
  });
  afterAll(() => t.close());

  test("a second search worker for the same DATA_DIR is refused; the first keeps its claim", async () => {
    const dataDir = resolve(t.dataDir);
    const second = startSemanticSearch({
      db: t.server.db,
      dataDir,
      databasePath: join(dataDir, "wikibot.db"),
      modelDir: MODEL_DIR,
      logger: createLogger("error"),
    });
    expect(second.state()).toBe("failed");
    expect(second.status().error).toContain("runs the search worker for this DATA_DIR");
    await expect(second.search(1, "anything", { limit: 5 })).rejects.toThrow("unavailable");
    await second.stop();
    expect(t.server.semanticSearch.state()).not.toBe("failed");
    const pidFile = join(dataDir, "run", "search-worker.pid");
    expect(readFileSync(pidFile, "utf8").trim()).toBe(String(process.pid));
  });

  async function writeOverMcp(slug: string, path: string, content: string): Promise<void> {
    const client = await connectMcp(t, slug, tokens[slug] ?? "");
    try {
      const result = await callTool(client, "write_note", { path, content, overwrite: true });
      expect({ error: result.isError ?? false, text: textOf(result) }).toMatchObject({
        error: false,
      });
    } finally {
      await client.close();
    }
  }

  test("a page written over MCP gets chunks and is found by a paraphrase; /health reports", async () => {
    await writeOverMcp("alpha", PAGES.oauth.path, PAGES.oauth.content);
    await writeOverMcp("alpha", PAGES.otters.path, PAGES.otters.content);
    const wikiId = wikiIdOf(t.server.db, "alpha");
    const health = await (await fetch(`${t.origin}/health`)).json();
    expect(health.search.queue_depth).toBeGreaterThanOrEqual(0);
    expect(["starting", "ready", "indexing"]).toContain(health.search.state);
    await waitIndexed(t.server.db, wikiId);
    expect(chunkCount(t.server.db, wikiId, PAGES.oauth.path)).toBeGreaterThan(0);

    const found = await t.server.semanticSearch.search(wikiId, PAGES.oauth.paraphrase, {
      limit: 5,
    });
    expect(found.pendingPages).toBe(0);
    expect(found.hits[0]).toMatchObject({
      path: PAGES.oauth.path,
      headingPath: ["Bluesky OAuth error pages"],
      lineStart: 1,
    });
    expect(found.hits[0]?.score).toBeGreaterThan(found.hits[1]?.score ?? 0);
    expect(found.hits[0]?.text).toContain("logging in did not work");
    // One hit per page.
    expect(new Set(found.hits.map((hit) => hit.path)).size).toBe(found.hits.length);

    const otters = await t.server.semanticSearch.search(wikiId, PAGES.otters.paraphrase, {
      limit: 1,
    });
    expect(otters.hits.map((hit) => hit.path)).toEqual([PAGES.otters.path]);
    const prefixed = await t.server.semanticSearch.search(wikiId, PAGES.otters.paraphrase, {
      limit: 5,
      pathPrefix: "Login/",
    });
    expect(prefixed.hits.map((hit) => hit.path)).toEqual([PAGES.oauth.path]);

    const status = t.server.semanticSearch.status();
    // Other wikis' bootstrap pages may still be queued.
    expect(["ready", "indexing"]).toContain(status.state);
    expect(status.indexedChunks).toBeGreaterThan(0);
  });

  test("another wiki's content never appears", async () => {
    await writeOverMcp("beta", PAGES.sourdough.path, PAGES.sourdough.content);
    const alpha = wikiIdOf(t.server.db, "alpha");
    const beta = wikiIdOf(t.server.db, "beta");
    await writeOverMcp("alpha", PAGES.otters.path, `${PAGES.otters.content}\nUpdated.\n`);
    await waitIndexed(t.server.db, alpha);
    await waitIndexed(t.server.db, beta);
    // beta holds its own page and the bootstrap pages every new wiki gets.
    const betaPaths = pagePaths(t.server.db, beta);
    for (const query of [PAGES.otters.paraphrase, PAGES.oauth.paraphrase, "otter holt"]) {
      const result = await t.server.semanticSearch.search(beta, query, { limit: 10 });
      expect(result.hits.length).toBe(betaPaths.length);
      for (const hit of result.hits) expect(betaPaths).toContain(hit.path);
    }
    const result = await t.server.semanticSearch.search(alpha, PAGES.sourdough.paraphrase, {
      limit: 10,
    });
    expect(result.hits.map((hit) => hit.path)).not.toContain(PAGES.sourdough.path);
  });

  test("a deleted page disappears and a moved page is found at its new path", async () => {
    const wikiId = wikiIdOf(t.server.db, "moves");
    await writeOverMcp("moves", PAGES.otters.path, PAGES.otters.content);
    await writeOverMcp("moves", PAGES.sourdough.path, PAGES.sourdough.content);
    await waitIndexed(t.server.db, wikiId);
    const client = await connectMcp(t, "moves", tokens.moves ?? "");
    try {
      expect(
        (await callTool(client, "delete_note", { path: PAGES.sourdough.path })).isError ?? false,
      ).toBe(false);
      expect(
        (
          await callTool(client, "move_note", {
            from: PAGES.otters.path,
            to: "Archive/Riverbank notes",
          })
        ).isError ?? false,
      ).toBe(false);
    } finally {
      await client.close();
    }
    await waitIndexed(t.server.db, wikiId);
    expect(chunkCount(t.server.db, wikiId, PAGES.sourdough.path)).toBe(0);
    expect(chunkCount(t.server.db, wikiId, PAGES.otters.path)).toBe(0);
    const gone = await t.server.semanticSearch.search(wikiId, PAGES.sourdough.paraphrase, {
      limit: 10,
    });
    expect(gone.hits.length).toBeGreaterThan(0);
    expect(gone.hits.map((hit) => hit.path)).not.toContain(PAGES.sourdough.path);
    const moved = await t.server.semanticSearch.search(wikiId, PAGES.otters.paraphrase, {
      limit: 10,
    });
    expect(moved.hits[0]?.path).toBe("Archive/Riverbank notes");
    expect(moved.hits.map((hit) => hit.path)).not.toContain(PAGES.otters.path);
  });

  test("queries are answered while a large reindex runs", async () => {
    const wikiId = wikiIdOf(t.server.db, "bulk");
    const wiki = new WikiStore(t.server.db).findBySlug("bulk");
    if (wiki === null) throw new Error("no wiki");
    const who = { author: { name: "T", email: "t@users.wikibot.invalid" }, client: "test" };
    await t.server.pages.write(wiki, { ...who, ...PAGES.otters });
    for (let i = 0; i < 15; i++) {
      await t.server.pages.write(wiki, {
        ...who,
        path: `Logbook/Day ${i}`,
        content: `# Day ${i}\n\nMeasured the water temperature at station ${i}: ${10 + i} degrees. The sensor was recalibrated.\n`,
      });
    }
    await waitIndexed(t.server.db, wikiId);
    const chunksBefore = chunkCount(t.server.db, wikiId);
    const { queuedPages } = await t.server.semanticSearch.reindex({ wikiId });
    expect(queuedPages).toBe(pagePaths(t.server.db, wikiId).length);
    expect(queuedPages).toBeGreaterThanOrEqual(16);
    const during = await t.server.semanticSearch.search(wikiId, PAGES.otters.paraphrase, {
      limit: 3,
    });
    // Answered before the reindex finished, from the index as it was.
    expect(during.pendingPages).toBeGreaterThan(0);
    expect(during.hits[0]?.path).toBe(PAGES.otters.path);
    await waitIndexed(t.server.db, wikiId);
    const after = await t.server.semanticSearch.search(wikiId, PAGES.otters.paraphrase, {
      limit: 3,
    });
    expect(after.pendingPages).toBe(0);
    expect(after.hits[0]?.path).toBe(PAGES.otters.path);
    expect(chunkCount(t.server.db, wikiId)).toBe(chunksBefore);
  });

  test("deleting a wiki drops its chunks and index files", async () => {
    await createUserAndWiki(t, { username: "doomed-owner", slug: "doomed" });
    const wikiId = wikiIdOf(t.server.db, "doomed");
    await waitIndexed(t.server.db, wikiId);
    expect(chunkCount(t.server.db, wikiId)).toBeGreaterThan(0);
    expect(existsSync(join(t.dataDir, "wikis", "doomed", INDEX_FILE))).toBe(true);
    const owner = signIn(t, "doomed-owner");
    const response = await fetch(`${t.origin}/api/wikis/doomed`, {
      method: "DELETE",
      headers: {
        origin: owner.origin,
        cookie: owner.apexCookie,
        "content-type": "application/json",
      },
      body: JSON.stringify({ confirm: "doomed" }),
    });
    expect(response.status).toBe(200);
    expect(chunkCount(t.server.db, wikiId)).toBe(0);
    expect(existsSync(join(t.dataDir, "wikis", "doomed"))).toBe(false);
    // A new wiki under the same slug starts from nothing, not from the old index.
    await createUserAndWiki(t, { username: "reborn-owner", slug: "doomed" });
    const reborn = wikiIdOf(t.server.db, "doomed");
    await waitIndexed(t.server.db, reborn);
    const result = await t.server.semanticSearch.search(reborn, "home page", { limit: 10 });
    for (const hit of result.hits) expect(pagePaths(t.server.db, reborn)).toContain(hit.path);
    expect(indexFileCount(t.dataDir, "doomed")).toBe(chunkCount(t.server.db, reborn));
  });

  test("admin reindex hands the work to the running server and waits for it", async () => {
    const wikiId = wikiIdOf(t.server.db, "beta");
    const result = await t.adminJson("reindex", "--wiki", "beta");
    expect(result).toMatchObject({ wiki: "beta", mode: "server" });
    expect(Reflect.get(Object(result), "pages")).toBe(pagePaths(t.server.db, wikiId).length);
    expect(Reflect.get(Object(result), "chunks")).toBeGreaterThan(0);
    const refused = await t.admin("reindex");
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain("--wiki S or --all");
  });
});

/** A data folder holding one wiki, and a way to start the real server on it in this process. */
async function preparedDataDir(slug: string): Promise<string> {
  const dataDir = makeDataDir();
  const env = { DATA_DIR: dataDir, PUBLIC_URL: "http://localhost:8080" };
  const owner = `${slug}-owner`;
  for (const args of [
    ["create-user", "--username", owner, "--did", testDid(), "--handle", `${owner}.bsky.social`],
    ["create-wiki", "--slug", slug, "--owner", owner],
  ]) {
    const result = await runAdmin(env, args);
    if (result.exitCode !== 0) throw new Error(result.stderr);
  }
  return dataDir;
}

function startOn(dataDir: string, env: Record<string, string> = {}): Promise<RunningServer> {
  return startServer(
    readConfig({ DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "error", MODEL_DIR, ...env }),
    createLogger("error"),
  );
}

const WHO = { author: { name: "T", email: "t@users.wikibot.invalid" }, client: "test" };

function indexFileCount(dataDir: string, slug: string): number {
  const saved = JSON.parse(readFileSync(join(dataDir, "wikis", slug, "vectors.json"), "utf8"));
  return saved.count;
}

test("a truncated index file is rebuilt at start", async () => {
  const dataDir = await preparedDataDir("repair");
  try {
    let server = await startOn(dataDir);
    const wikiId = wikiIdOf(server.db, "repair");
    const wiki = new WikiStore(server.db).findBySlug("repair");
    if (wiki === null) throw new Error("no wiki");
    await server.pages.write(wiki, { ...WHO, ...PAGES.otters });
    await server.pages.write(wiki, { ...WHO, ...PAGES.sourdough });
    await waitIndexed(server.db, wikiId);
    const before = server.db
      .query<{ id: number }, [number]>("SELECT id FROM chunks WHERE wiki_id = ?")
      .all(wikiId)
      .map((row) => row.id);
    await server.stop();
    const file = join(dataDir, "wikis", "repair", INDEX_FILE);
    truncateSync(file, Math.floor(readFileSync(file).length / 3));

    server = await startOn(dataDir);
    try {
      await waitStarted(server);
      await waitIndexed(server.db, wikiId);
      const after = server.db
        .query<{ id: number }, [number]>("SELECT id FROM chunks WHERE wiki_id = ?")
        .all(wikiId)
        .map((row) => row.id);
      // Rebuilt: every chunk is new, as many as before.
      expect(after.length).toBe(before.length);
      expect(Math.min(...after)).toBeGreaterThan(Math.max(...before));
      const result = await server.semanticSearch.search(wikiId, PAGES.otters.paraphrase, {
        limit: 1,
      });
      expect(result.hits.map((hit) => hit.path)).toEqual([PAGES.otters.path]);
    } finally {
      await server.stop();
    }
    expect(indexFileCount(dataDir, "repair")).toBe(before.length);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a server killed mid-batch resumes and its index ends complete", async () => {
  const dataDir = await preparedDataDir("crashy");
  try {
    const stores = openStores(dataDir);
    const wiki = stores.wikis.findBySlug("crashy");
    if (wiki === null) throw new Error("no wiki");
    const paths: string[] = [];
    for (let i = 0; i < 24; i++) {
      const path = `Notes/Station ${i}`;
      paths.push(path);
      await stores.pages.write(wiki, {
        ...WHO,
        path,
        content: `# Station ${i}\n\nStation ${i} logged ${i * 3} herons and ${i + 2} kingfishers this week.\n\n## Equipment\n\nCamera trap ${i} needs new batteries.\n`,
      });
    }
    await stores.gate.close();
    stores.db.close();

    const child = await spawnServer({ dataDir, env: { MODEL_DIR, LOG_LEVEL: "error" } });
    expect(child.healthy).toBe(true);
    const db = new Database(join(dataDir, "wikibot.db"), { readonly: true });
    try {
      // Kill once a batch has landed and more remain: the next batch is then in progress.
      const deadline = Date.now() + 150_000;
      while (chunkCount(db, wiki.id) === 0 && Date.now() < deadline) await Bun.sleep(20);
      const queued = db
        .query<{ n: number }, []>("SELECT count(*) AS n FROM reindex_queue")
        .get()?.n;
      child.child.kill("SIGKILL");
      await child.child.exited;
      expect(queued).toBeGreaterThan(0);
    } finally {
      db.close();
    }

    const server = await startOn(dataDir);
    let chunks = 0;
    try {
      await waitStarted(server);
      await waitIndexed(server.db, wiki.id);
      for (const path of paths) expect(chunkCount(server.db, wiki.id, path)).toBe(2);
      for (const path of pagePaths(server.db, wiki.id))
        expect(chunkCount(server.db, wiki.id, path)).toBeGreaterThan(0);
      chunks = chunkCount(server.db, wiki.id);
      for (const i of [0, 13, 23]) {
        const result = await server.semanticSearch.search(
          wiki.id,
          `Station ${i} logged ${i * 3} herons`,
          { limit: 1 },
        );
        expect(result.hits.map((hit) => hit.path)).toEqual([`Notes/Station ${i}`]);
      }
    } finally {
      await server.stop();
    }
    // No key lost or left over: the file holds exactly the wiki's chunks.
    expect(indexFileCount(dataDir, "crashy")).toBe(chunks);
    const opened = openVectorIndex(join(dataDir, "wikis", "crashy"), {
      format: 1,
      wikiId: wiki.id,
      dimensions: 384,
      metric: "cos",
      quantization: "f32",
      connectivity: HNSW.connectivity,
      expansionAdd: HNSW.expansionAdd,
      expansionSearch: HNSW.expansionSearch,
      model: "all-MiniLM-L6-v2",
      modelDtype: "fp32",
    });
    expect(opened.kind).toBe("loaded");
    expect(opened.index.size).toBe(chunks);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("admin reindex without a server embeds in its own process", async () => {
  const dataDir = await preparedDataDir("offline");
  try {
    const stores = openStores(dataDir);
    const wiki = stores.wikis.findBySlug("offline");
    if (wiki === null) throw new Error("no wiki");
    await stores.pages.write(wiki, { ...WHO, ...PAGES.sourdough });
    const result = await runAdmin(
      { DATA_DIR: dataDir, PUBLIC_URL: "http://localhost:8080", MODEL_DIR },
      ["reindex", "--all"],
    );
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("in this process");
    expect(result.stderr).toMatch(/\d+\/\d+ pages, [\d.]+ chunks\/s/);
    expect(
      stores.db.query<{ n: number }, []>("SELECT count(*) AS n FROM reindex_queue").get()?.n,
    ).toBe(0);
    expect(chunkCount(stores.db, wiki.id, PAGES.sourdough.path)).toBeGreaterThan(0);
    expect(indexFileCount(dataDir, "offline")).toBe(chunkCount(stores.db, wiki.id));
    await stores.gate.close();
    stores.db.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("without the model, search fails with a clear error and the server keeps working", async () => {
  const emptyModelDir = join(makeDataDir(), "no-model");
  mkdirSync(emptyModelDir);
  const t = await startTestServer({ MODEL_DIR: emptyModelDir });
  try {
    const deadline = Date.now() + 60_000;
    while (t.server.semanticSearch.status().state === "starting" && Date.now() < deadline)
      await Bun.sleep(50);
    expect(t.server.semanticSearch.status()).toMatchObject({ state: "failed" });
    expect(t.server.semanticSearch.status().error).toContain("bun run setup");
    await expect(t.server.semanticSearch.search(1, "anything", { limit: 3 })).rejects.toThrow(
      /embedding model is incomplete/,
    );
    const health = await fetch(`${t.origin}/health`);
    expect(health.status).toBe(200);
    expect((await health.json()).search.state).toBe("failed");
  } finally {
    await t.close();
    rmSync(join(emptyModelDir, ".."), { recursive: true, force: true });
  }
});
