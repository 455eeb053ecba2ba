/**
 * What checking a presented token costs. Wiki tokens alone (one indexed lookup + one SHA-256 +
 * a constant-time compare), and the whole bearer check (resolveWikiToken: the token, its user,
 * the role read afresh) for a wiki token next to an OAuth access token (which also joins its
 * grant and client and checks the audience), interleaved in one run.
 */
import { Database } from "bun:sqlite";
import {
  OAUTH_ACCESS_TOKEN_PREFIX,
  OAuthAccessTokenStore,
} from "../../src/auth/oauth-access-token.ts";
import { UserStore } from "../../src/auth/user-store.ts";
import { resolveWikiToken } from "../../src/auth/wiki-access.ts";
import { WikiTokenStore } from "../../src/auth/wiki-token.ts";
import { migrate } from "../../src/db/migrate.ts";
import { mintToken } from "../../src/lib/prefixed-token.ts";
import { unixNow } from "../../src/lib/time.ts";
import { WikiStore } from "../../src/wikis/wiki-store.ts";
import { figure, type SectionFigures, table } from "./report.ts";
import { percentile } from "./stats.ts";

export interface VerificationFigures {
  perSecond: number;
  p50Micros: number;
  p99Micros: number;
}

function summarise(latencies: number[], elapsedMs: number): VerificationFigures {
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / (elapsedMs / 1000),
    p50Micros: percentile(latencies, 0.5) * 1000,
    p99Micros: percentile(latencies, 0.99) * 1000,
  };
}

function benchDatabase(): Database {
  const db = new Database(":memory:", { strict: true });
  migrate(db);
  db.exec(
    "INSERT INTO users (id, did, handle, username, display_name, created_at) VALUES (1, 'did:plc:x', 'x.test', 'x', 'X', 0)",
  );
  db.exec(
    "INSERT INTO wikis (id, slug, name, owner_id, created_at) VALUES (1, 'bench', 'Bench', 1, 0)",
  );
  db.exec("INSERT INTO acls (wiki_id, user_id, role) VALUES (1, 1, 'owner')");
  return db;
}

export function benchTokenVerification(count: number): VerificationFigures {
  const db = benchDatabase();
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
  const elapsed = performance.now() - started;
  db.close();
  return summarise(latencies, elapsed);
}

/** 1,000 OAuth access tokens, each from its own client and grant, as the server issues them. */
function issueOAuthTokens(db: Database, resource: string): string[] {
  const now = unixNow();
  return Array.from({ length: 1000 }, (_, index) => {
    db.query(
      `INSERT INTO oauth_clients (id, wiki_id, auth_method, name, redirect_uris, created_at)
       VALUES (?, 1, 'none', 'Claude', '["https://claude.ai/api/mcp/auth_callback"]', ?)`,
    ).run(`wbc_${index}`, now);
    db.query(
      `INSERT INTO oauth_grants (id, wiki_id, user_id, client_id, scope, resource, created_at)
       VALUES (?, 1, 1, ?, 'wiki:read wiki:write', ?, ?)`,
    ).run(`grant${index}`, `wbc_${index}`, resource, now);
    const minted = mintToken(OAUTH_ACCESS_TOKEN_PREFIX);
    db.query(
      `INSERT INTO oauth_tokens (id, secret_hash, grant_id, kind, expires_at, created_at)
       VALUES (?, ?, ?, 'access', ?, ?)`,
    ).run(minted.id, minted.secretHash, `grant${index}`, now + 86_400, now);
    return minted.plaintext;
  });
}

/** The full bearer check for both kinds of token, alternating so drift hits both alike. */
export function benchBearerChecks(count: number): {
  wikiToken: VerificationFigures;
  oauthToken: VerificationFigures;
} {
  const db = benchDatabase();
  const publicUrl = new URL("https://wikibot.example");
  const deps = {
    users: new UserStore(db),
    wikis: new WikiStore(db),
    tokens: new WikiTokenStore(db),
    oauthTokens: new OAuthAccessTokenStore(db),
    publicUrl,
  };
  const wiki = deps.wikis.findBySlug("bench");
  if (wiki === null) throw new Error("bench wiki missing");
  const wikiTokens = Array.from(
    { length: 1000 },
    () => deps.tokens.create({ wikiId: 1, userId: 1, scope: "write", label: "" }).plaintext,
  );
  const oauthTokens = issueOAuthTokens(db, "https://bench.wikibot.example/mcp");
  const timed = { wiki: [] as number[], oauth: [] as number[] };
  const elapsed = { wiki: 0, oauth: 0 };
  for (let index = 0; index < count + 2000; index++) {
    const kind = index % 2 === 0 ? "wiki" : "oauth";
    const presented = (kind === "wiki" ? wikiTokens : oauthTokens)[(index >> 1) % 1000] ?? "";
    const before = performance.now();
    const access = resolveWikiToken(deps, wiki, presented);
    const took = performance.now() - before;
    if (access.kind !== "authenticated") throw new Error(`bench ${kind} token did not verify`);
    // The first 2,000 warm both paths (statement caches, JIT).
    if (index < 2000) continue;
    timed[kind].push(took);
    elapsed[kind] += took;
  }
  db.close();
  return {
    wikiToken: summarise(timed.wiki, elapsed.wiki),
    oauthToken: summarise(timed.oauth, elapsed.oauth),
  };
}

/** The report's figures: OAuth access tokens against wiki tokens through the same bearer check. */
export function tokensReport(
  verification: VerificationFigures,
  checks: { wikiToken: VerificationFigures; oauthToken: VerificationFigures },
): SectionFigures {
  const { wikiToken, oauthToken } = checks;
  const reference = "bearer check, wiki token";
  return {
    figures: [
      figure("wiki token verification", verification.perSecond, "/s"),
      figure("bearer check, OAuth access token p50", oauthToken.p50Micros, "µs", {
        reference: { name: `${reference} p50`, value: wikiToken.p50Micros },
      }),
      figure("bearer check, OAuth access token p99", oauthToken.p99Micros, "µs", {
        reference: { name: `${reference} p99`, value: wikiToken.p99Micros },
      }),
    ],
    tables: [
      table(
        ["check (in process)", "per second", "p50 µs", "p99 µs"],
        (
          [
            ["wiki token verification (1,000 tokens)", verification],
            ["bearer check, wiki token", wikiToken],
            ["bearer check, OAuth access token", oauthToken],
          ] as const
        ).map(([name, f]) => [name, f.perSecond, f.p50Micros, f.p99Micros]),
      ),
    ],
    notes: [],
  };
}
