/**
 * Opens the SQLite database with the settings every connection needs (WAL, foreign keys, a busy
 * timeout so the admin CLI and the server can share the file) and brings the schema up to date.
 */
import { Database } from "bun:sqlite";
import { migrate } from "./migrate.ts";

/** Opens (creating if needed) and migrates the database at `path`; `:memory:` works for tests. */
export function openDatabase(path: string): Database {
  const db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA foreign_keys = ON");
  // Writers hold the lock for milliseconds; 5 s rides out a busy admin command.
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("PRAGMA synchronous = NORMAL");
  migrate(db);
  return db;
}
