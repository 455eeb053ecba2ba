/**
 * The parts of schema.sql's migrations that SQL cannot do alone. Each step runs right after its
 * section's SQL, in the same transaction, so a crash part-way rolls both back.
 */
import type { Database } from "bun:sqlite";
import { headingsText } from "../pages/markdown.ts";

export type MigrationSteps = Readonly<Record<number, (db: Database) => void>>;

/**
 * Migration 8: fills the new pages_fts from the old one (renamed pages_fts_v7), parsing each
 * body's headings into its `headings` column and into pages.headings, then drops the old table.
 * Rowids are kept, so they still equal pages.id. Every body is tokenized once more, about
 * 20–45 ms per MB here, while the server is starting.
 */
function copyPagesWithHeadings(db: Database): void {
  const insert = db.query(
    "INSERT INTO pages_fts (rowid, wiki, path, title, headings, body) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const record = db.query("UPDATE pages SET headings = ? WHERE id = ?");
  const rows = db
    .query<{ id: number; wiki: string; path: string; title: string; body: string }, []>(
      "SELECT rowid AS id, wiki, path, title, body FROM pages_fts_v7",
    )
    .iterate();
  for (const row of rows) {
    const headings = headingsText(row.body);
    insert.run(row.id, row.wiki, row.path, row.title, headings, row.body);
    record.run(headings, row.id);
  }
  db.exec("DROP TABLE pages_fts_v7");
}

export const MIGRATION_STEPS: MigrationSteps = { 8: copyPagesWithHeadings };
