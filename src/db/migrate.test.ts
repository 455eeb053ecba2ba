import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { migrate, parseMigrations, SCHEMA_VERSION } from "./migrate.ts";

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
