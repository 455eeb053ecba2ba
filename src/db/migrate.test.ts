import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { migrate, parseMigrations, SCHEMA_VERSION } from "./migrate.ts";
import { MIGRATION_STEPS } from "./migration-steps.ts";

describe("migrate", () => {
  test("applies schema.sql once and records the version", () => {
    const db = new Database(":memory:", { strict: true });
    migrate(db);
    migrate(db);
    expect(db.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version).toBe(
      SCHEMA_VERSION,
    );
    const strict = db
      .query<{ name: string }, []>("SELECT name FROM pragma_table_list WHERE strict = 1")
      .all();
    expect(strict.map((row) => row.name)).toContain("wikis");
  });

  test("applies only sections newer than the database", () => {
    const db = new Database(":memory:", { strict: true });
    const text =
      "-- migration: 1\nCREATE TABLE a (x INTEGER) STRICT;\n-- migration: 2\nCREATE TABLE b (y INTEGER) STRICT;\n";
    migrate(db, "-- migration: 1\nCREATE TABLE a (x INTEGER) STRICT;\n");
    migrate(db, text);
    expect(
      db.query("SELECT name FROM sqlite_master WHERE name IN ('a','b') ORDER BY name").all(),
    ).toEqual([{ name: "a" }, { name: "b" }]);
  });

  test("refuses out-of-order sections and a database newer than the code", () => {
    expect(() => parseMigrations("-- migration: 2\nSELECT 1;")).toThrow("out of order");
    const db = new Database(":memory:");
    db.exec("PRAGMA user_version = 99");
    expect(() => migrate(db)).toThrow("newer than this wikibot");
  });
});

describe("migration 8: pages_fts gains a headings column", () => {
  const schemaText = readFileSync(join(import.meta.dir, "../../schema.sql"), "utf8");
  const upTo7 = schemaText.slice(0, schemaText.indexOf("-- migration: 8"));
  const body = "# Run 42\n\nStatus: results accepted.\n\n## Results\n\n```\n# not a heading\n```\n";

  /** A database as wikibot left it at schema version 7, with one page of a wiki indexed. */
  function databaseAt7(): Database {
    const db = new Database(":memory:", { strict: true });
    migrate(db, upTo7);
    db.exec("INSERT INTO users VALUES (1, 'did:plc:a', 'a', 'a', 'A', 0, NULL)");
    db.exec("INSERT INTO wikis (id, slug, name, owner_id, created_at) VALUES (1, 'w', 'W', 1, 0)");
    db.exec(
      "INSERT INTO pages (id, wiki_id, path, path_folded, title, size, revision, changed_at, author) VALUES (7, 1, 'Run 42', 'run 42', 'Run 42', 80, 'r', 0, 'a')",
    );
    db.query(
      "INSERT INTO pages_fts (rowid, wiki, path, title, body) VALUES (7, 'w1', 'Run 42', 'Run 42', ?)",
    ).run(body);
    return db;
  }
  const version = (db: Database) =>
    db.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version;

  test("an existing index is copied with each page's headings, rowids kept", () => {
    const db = databaseAt7();
    migrate(db);
    expect(version(db)).toBe(SCHEMA_VERSION);
    expect(db.query("SELECT rowid AS id, title, headings, body FROM pages_fts").all()).toEqual([
      { id: 7, title: "Run 42", headings: "Run 42\nResults", body },
    ]);
    expect(
      db
        .query("SELECT rowid AS id FROM pages_fts WHERE pages_fts MATCH 'headings : results'")
        .all(),
    ).toEqual([{ id: 7 }]);
    expect(db.query("SELECT headings FROM pages").all()).toEqual([{ headings: "Run 42\nResults" }]);
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 'pages_fts_v7'").all()).toEqual(
      [],
    );
  });

  test("a crash part-way leaves version 7 and the old index whole; the next start completes it", () => {
    const db = databaseAt7();
    const failing = {
      8: (inner: Database) => {
        MIGRATION_STEPS[8]?.(inner);
        throw new Error("power cut");
      },
    };
    expect(() => migrate(db, schemaText, failing)).toThrow("power cut");
    expect(version(db)).toBe(7);
    expect(db.query("SELECT rowid AS id, body FROM pages_fts").all()).toEqual([{ id: 7, body }]);
    expect(() => db.query("SELECT headings FROM pages_fts").all()).toThrow("no such column");
    expect(() => db.query("SELECT headings FROM pages").all()).toThrow("no such column");
    migrate(db);
    expect(version(db)).toBe(SCHEMA_VERSION);
    expect(db.query("SELECT headings FROM pages_fts").all()).toEqual([
      { headings: "Run 42\nResults" },
    ]);
  });
});
