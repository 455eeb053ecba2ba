/** Cost of verifying a wiki token (one indexed lookup + one SHA-256 + a constant-time compare). */
import { Database } from "bun:sqlite";
import { WikiTokenStore } from "../../src/auth/wiki-token.ts";
import { migrate } from "../../src/db/migrate.ts";
import { percentile } from "./stats.ts";

export function benchTokenVerification(count: number): {
  perSecond: number;
  p50Micros: number;
  p99Micros: number;
} {
  const db = new Database(":memory:", { strict: true });
  migrate(db);
  db.exec(
    "INSERT INTO users (id, did, handle, username, display_name, created_at) VALUES (1, 'did:plc:x', 'x.test', 'x', 'X', 0)",
  );
  db.exec(
    "INSERT INTO wikis (id, slug, name, owner_id, created_at) VALUES (1, 'bench', 'Bench', 1, 0)",
  );
  const tokens = new WikiTokenStore(db);
  const issued = Array.from(
    { length: 1000 },
    () => tokens.create({ wikiId: 1, userId: 1, scope: "write", label: "" }).plaintext,
  );
  const latencies: number[] = [];
  const started = performance.now();
  for (let index = 0; index < count; index++) {
    const before = performance.now();
    const result = tokens.verify(issued[index % issued.length] ?? "");
    latencies.push(performance.now() - before);
    if (result.kind !== "valid") throw new Error("bench token did not verify");
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  db.close();
  return {
    perSecond: count / elapsed,
    p50Micros: percentile(latencies, 0.5) * 1000,
    p99Micros: percentile(latencies, 0.99) * 1000,
  };
}
