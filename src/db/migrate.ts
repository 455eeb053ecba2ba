/**
 * Applies the numbered sections of `schema.sql` that this database has not seen yet, each in
 * its own transaction, and records progress in `PRAGMA user_version`. Forward-only.
 */
import type { Database } from "bun:sqlite";
import schemaText from "../../schema.sql" with { type: "text" };
import { MIGRATION_STEPS, type MigrationSteps } from "./migration-steps.ts";

export interface Migration {
  readonly version: number;
  readonly sql: string;
}

/** Splits schema text into its `-- migration: N` sections, checking they are numbered 1, 2, 3… */
export function parseMigrations(text: string): Migration[] {
  const migrations: Migration[] = [];
  const parts = text.split(/^-- migration: (\d+)\s*$/m);
  for (let i = 1; i < parts.length; i += 2) {
    const version = Number(parts[i]);
    if (version !== migrations.length + 1) {
      throw new Error(
        `schema.sql: migration ${version} is out of order (expected ${migrations.length + 1})`,
      );
    }
    migrations.push({ version, sql: parts[i + 1] ?? "" });
  }
  return migrations;
}

export const SCHEMA_VERSION = parseMigrations(schemaText).length;

/**
 * `steps`: code that runs after a section's SQL, inside its transaction, for what SQL cannot do
 * alone (see migration-steps.ts).
 */
export function migrate(
  db: Database,
  text: string = schemaText,
  steps: MigrationSteps = MIGRATION_STEPS,
): void {
  const row = db.query<{ user_version: number }, []>("PRAGMA user_version").get();
  const current = row?.user_version ?? 0;
  const migrations = parseMigrations(text);
  if (current > migrations.length) {
    throw new Error(
      `database schema version ${current} is newer than this wikibot (${migrations.length}); upgrade wikibot`,
    );
  }
  for (const migration of migrations.slice(current)) {
    db.transaction(() => {
      db.exec(migration.sql);
      steps[migration.version]?.(db);
      db.exec(`PRAGMA user_version = ${migration.version}`);
    }).immediate();
  }
}
