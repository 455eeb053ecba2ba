/**
 * A data dir from before migration 8 (its pages_fts without the `headings` column) upgrades when
 * the server starts on it: every page stays findable and readable, and headings weigh at once.
 */
import { Database } from "bun:sqlite";
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { SCHEMA_VERSION } from "../src/db/migrate.ts";
import { callTool, connectMcp, structuredOf } from "./support/mcp.ts";
import { createUserAndWiki, startTestServer, type TestServer } from "./support/server.ts";

setDefaultTimeout(120_000);

const servers: TestServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.close();
});

/** Puts pages_fts and pages back as migrations 1–7 made them (no headings), at user_version 7. */
function downgradeToVersion7(databasePath: string): void {
  const db = new Database(databasePath, { strict: true });
  db.exec(`
    ALTER TABLE pages_fts RENAME TO pages_fts_v8;
    CREATE VIRTUAL TABLE pages_fts USING fts5(
      wiki, path, title, body,
      tokenize = 'porter unicode61 remove_diacritics 2'
    );
    INSERT INTO pages_fts (rowid, wiki, path, title, body)
      SELECT rowid, wiki, path, title, body FROM pages_fts_v8;
    DROP TABLE pages_fts_v8;
    ALTER TABLE pages DROP COLUMN headings;
    PRAGMA user_version = 7;
  `);
  db.close();
}

test("a version 7 data dir upgrades on start: pages kept, headings weigh", async () => {
  const first = await startTestServer();
  const { token } = await createUserAndWiki(first, { username: "uma", slug: "upgrade" });
  let client = await connectMcp(first, "upgrade", token);
  const notes = {
    "Notes/Sweep":
      "# Sweep\n\nA long report.\n\n## Setup\n\nSix values.\n\n## Results\n\nLoss fell.\n",
    "Notes/Digest": "# Digest\n\nResults, results and more results this week.\n",
  };
  for (const [path, content] of Object.entries(notes)) {
    await callTool(client, "write_note", { path, content });
  }
  await client.close();
  await first.server.stop();
  const databasePath = join(first.dataDir, "wikibot.db");
  downgradeToVersion7(databasePath);

  const second = await startTestServer({}, { dataDir: first.dataDir });
  servers.push(second);
  const db = new Database(databasePath, { readonly: true });
  expect(db.query("PRAGMA user_version").get()).toEqual({ user_version: SCHEMA_VERSION });
  const headings = db
    .query("SELECT path, headings FROM pages_fts WHERE path LIKE 'Notes/%' ORDER BY path")
    .all();
  const recorded = db
    .query("SELECT path, headings FROM pages WHERE path LIKE 'Notes/%' ORDER BY path")
    .all();
  db.close();
  expect(recorded).toEqual(headings);
  expect(headings).toEqual([
    { path: "Notes/Digest", headings: "Digest" },
    { path: "Notes/Sweep", headings: "Sweep\nSetup\nResults" },
  ]);

  client = await connectMcp(second, "upgrade", token);
  const found = structuredOf(await callTool(client, "search", { query: "results" }));
  // The wiki's own Agent Guide mentions results too; the report with the heading leads.
  expect((found.hits as { path: string }[]).map((hit) => hit.path).slice(0, 2)).toEqual([
    "Notes/Sweep",
    "Notes/Digest",
  ]);
  const read = structuredOf(await callTool(client, "read_note", { path: "Notes/Sweep" }));
  expect(read.content).toContain("## Results");
  await client.close();
});
