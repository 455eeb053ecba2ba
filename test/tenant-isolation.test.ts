/**
 * Tenant isolation of every read surface under hostile input (issue 8, defect 1): a public and a
 * private wiki share one database and one FTS5 table; queries written in FTS5 syntax of every
 * kind, and hostile page paths, must never bring one wiki's pages into the other's answers, and
 * never a 500. Surfaces: REST search and page reads, MCP search / read_note / list_notes, and the
 * browser's search through the proxy.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { WikiStore } from "../src/wikis/wiki-store.ts";
import { callTool, connectMcp, structuredOf, textOf } from "./support/mcp.ts";
import { createUserAndWiki, startTestServer, type TestServer } from "./support/server.ts";
import { type CookieJar, signIn, wikiSession } from "./support/session.ts";

// Starts real processes (server, git, Otterwiki); the 5 s default is too short on 2 cores.
setDefaultTimeout(180_000);

interface Tenant {
  slug: string;
  id: number;
  /** A word, a path and the revision found only in this wiki. */
  marker: string;
  /** A word of the page body that no query or path names. */
  bodyWord: string;
  path: string;
  revision: string;
  /** Who reads it: a bearer token, or null for anonymous (the public wiki). */
  token: string | null;
  mcp: Client;
  browser: CookieJar | null;
}

let t: TestServer;
let open: Tenant;
let secret: Tenant;

/** Words every hostile query may reach for; both wikis hold them, so a leak would have matches. */
const SHARED = "Welcome x wiki w1 w2 w3 body title path near a b otters kelp rowid 日本 café";

async function putPage(slug: string, token: string, path: string, content: string) {
  const response = await fetch(
    `${t.wikiOrigin(slug)}/api/v1/pages/${path.split("/").map(encodeURIComponent).join("/")}`,
    {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ content }),
    },
  );
  const body: unknown = await response.json();
  if (
    response.status >= 300 ||
    typeof body !== "object" ||
    body === null ||
    !("revision" in body)
  ) {
    throw new Error(`PUT ${path} on ${slug}: ${response.status} ${JSON.stringify(body)}`);
  }
  return String(body.revision);
}

function wikiId(slug: string): number {
  const wiki = new WikiStore(t.server.db).findBySlug(slug);
  if (wiki === null) throw new Error(`no wiki ${slug}`);
  return wiki.id;
}

beforeAll(async () => {
  t = await startTestServer();
  // Created first, so the private wiki gets id 2 as in the issue's reproduction.
  const alice = await createUserAndWiki(t, { username: "alice", slug: "open", public: true });
  const bob = await createUserAndWiki(t, { username: "bob", slug: "secret" });
  const openRevision = await putPage(
    "open",
    alice.token,
    "Open/Notes",
    `# Open notes\n\n${SHARED} openmarker openbodyword\n`,
  );
  const secretRevision = await putPage(
    "secret",
    bob.token,
    "Hidden/Plans",
    `# Welcome\n\nWelcome to the plans. ${SHARED} secretmarker secretbodyword\n`,
  );
  open = {
    slug: "open",
    id: wikiId("open"),
    marker: "openmarker",
    bodyWord: "openbodyword",
    path: "Open/Notes",
    revision: openRevision,
    token: null,
    mcp: await connectMcp(t, "open", null),
    browser: null,
  };
  secret = {
    slug: "secret",
    id: wikiId("secret"),
    marker: "secretmarker",
    bodyWord: "secretbodyword",
    path: "Hidden/Plans",
    revision: secretRevision,
    token: bob.token,
    mcp: await connectMcp(t, "secret", bob.token),
    browser: await wikiSession(t, "secret", signIn(t, "bob")),
  };
});
afterAll(async () => {
  await Promise.all([open?.mcp.close(), secret?.mcp.close()]);
  await t.close();
});

/** FTS5 syntax of every kind, aimed at `other`: groups, column filters, NEAR, prefixes, quotes. */
function hostileQueries(other: Tenant): string[] {
  const token = `w${other.id}`;
  return [
    `x) OR (wiki : "${token}" AND Welcome`,
    `x) OR (wiki : ${token}`,
    `x) OR wiki:${token} OR (x`,
    `wiki:${token}`,
    `wiki : "${token}"`,
    `{wiki}: ${token}`,
    `{wiki path title body}: ${other.marker}`,
    `- {wiki} : ${token}`,
    `body:${other.marker}`,
    `pages_fts:${other.marker}`,
    `rowid:1`,
    other.marker,
    `"${other.marker}`,
    `${other.marker}"`,
    `"" OR ${other.marker}`,
    `"x" OR "${other.marker}"`,
    `x" OR wiki:${token} OR "x`,
    `NEAR(${other.marker} Welcome)`,
    `NEAR(wiki ${token}, 0)`,
    `${other.marker.slice(0, 4)}*`,
    `*`,
    `w*`,
    `^${other.marker}`,
    `+${other.marker}`,
    `${other.marker} OR wiki:${token}`,
    `-x OR wiki:${token}`,
    `NOT ${other.marker}`,
    `AND OR NOT`,
    `(`,
    `)))`,
    `"`,
    `'; DROP TABLE pages; --`,
    `é ü 日本 🦦 \u0000 \u202e`,
    `${"x ".repeat(249)}x`,
    `${"a OR ".repeat(99)}a`,
    "x".repeat(600),
    "Welcome",
  ];
}

/**
 * Something of the other wiki in `text`: its revision, a word only its page body holds, its
 * page's path or its marker. Needles the request itself carried (an answer may echo its query
 * or path) are not evidence, so they are skipped; the revision and the body word always count.
 */
function leakOf(text: string, other: Tenant, input: string): string | null {
  for (const needle of [other.revision, other.bodyWord, other.path, other.marker]) {
    if (!input.includes(needle) && text.includes(needle)) return needle;
  }
  return null;
}

const pairs = () =>
  [
    [open, secret],
    [secret, open],
  ] as const;

describe("full-text search stays inside its wiki", () => {
  test('the issue\'s reproduction: `x) OR (wiki : "w2" AND Welcome` on a public wiki, no token, finds nothing private', async () => {
    expect(secret.id).toBe(2);
    const response = await fetch(
      `${t.wikiOrigin("open")}/api/v1/search?q=${encodeURIComponent('x) OR (wiki : "w2" AND Welcome')}`,
    );
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(JSON.stringify(body)).not.toContain("Hidden/Plans");
    expect(body).toMatchObject({
      interpreted_as_plain_text: true,
      interpreted_query: "(x OR wiki) AND w2 AND Welcome",
      hits: [{ path: "Open/Notes" }],
    });
  });

  test("REST /api/v1/search: hostile queries never answer with the other wiki, nor 500", async () => {
    const problems: string[] = [];
    for (const [self, other] of pairs()) {
      for (const query of hostileQueries(other)) {
        const response = await fetch(
          `${t.wikiOrigin(self.slug)}/api/v1/search?q=${encodeURIComponent(query)}&limit=100`,
          { headers: self.token === null ? {} : { authorization: `Bearer ${self.token}` } },
        );
        const text = await response.text();
        const leak = leakOf(text, other, query);
        if (response.status >= 500 || leak !== null) {
          problems.push(`${self.slug} ${JSON.stringify(query)}: ${response.status} ${leak ?? ""}`);
        }
        if (response.status !== 200 && response.status !== 400) {
          problems.push(`${self.slug} ${JSON.stringify(query)}: status ${response.status}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  test("REST finds each wiki's own marker in that wiki only", async () => {
    for (const [self, other] of pairs()) {
      const headers: Record<string, string> =
        self.token === null ? {} : { authorization: `Bearer ${self.token}` };
      const own = await fetch(
        `${t.wikiOrigin(self.slug)}/api/v1/search?q=${encodeURIComponent(`${self.marker} Welcome`)}`,
        { headers },
      ).then((response) => response.json());
      expect(own.hits.map((hit: { path: string }) => hit.path)).toEqual([self.path]);
      const foreign = await fetch(
        `${t.wikiOrigin(self.slug)}/api/v1/search?q=${encodeURIComponent(other.marker)}`,
        { headers },
      ).then((response) => response.json());
      expect(foreign.hits).toEqual([]);
    }
  });

  test("MCP search: hostile queries never answer with the other wiki", async () => {
    const problems: string[] = [];
    for (const [self, other] of pairs()) {
      for (const query of hostileQueries(other)) {
        const result = await self.mcp.callTool({
          name: "search",
          arguments: { query, limit: 50 },
        });
        const leak = leakOf(JSON.stringify(result), other, query);
        if (leak !== null) problems.push(`${self.slug} ${JSON.stringify(query)}: ${leak}`);
        // Over-long queries are refused by the schema; everything else is answered.
        if (result.isError === true && query.length <= 500) {
          problems.push(`${self.slug} ${JSON.stringify(query)}: ${JSON.stringify(result)}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  test("MCP grep_notes: hostile texts and prefixes never answer with the other wiki", async () => {
    const problems: string[] = [];
    for (const [self, other] of pairs()) {
      for (const text of [other.marker, ...hostileQueries(other)]) {
        for (const prefix of [undefined, "", "%", "../", `../${other.slug}/`]) {
          const result = await self.mcp.callTool({
            name: "grep_notes",
            arguments: {
              text,
              ignore_case: true,
              ...(prefix === undefined ? {} : { path_prefix: prefix }),
            },
          });
          const leak = leakOf(JSON.stringify(result), other, text);
          if (leak !== null) problems.push(`${self.slug} ${JSON.stringify(text)}: ${leak}`);
          // Over-long texts are refused by the schema; everything else is answered.
          if (result.isError === true && text.length >= 1 && text.length <= 500) {
            problems.push(`${self.slug} ${JSON.stringify(text)}: ${JSON.stringify(result)}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  test("MCP search reports how it read a query", async () => {
    const result = structuredOf(
      await callTool(open.mcp, "search", { query: `otters -kelp OR wiki:w${secret.id}` }),
    );
    expect(result).toMatchObject({
      interpreted_as_plain_text: true,
      interpreted_query: `otters AND "wiki w${secret.id}" AND NOT kelp`,
      truncated: false,
      hits: [],
    });
  });
});

describe("page reads stay inside their wiki", () => {
  function hostilePaths(other: Tenant): string[] {
    return [
      other.path,
      `/${other.path}`,
      `../${other.slug}/repo/${other.path}`,
      `../../wikis/${other.slug}/repo/${other.path}`,
      `..%2F${other.slug}%2Frepo%2F${other.path}`,
      `${other.path}.md`,
      other.path.toLowerCase(),
      other.path.replace("/", "\\"),
      `./${other.path}`,
      `${other.path}\u0000`,
      `${other.path}/../${other.path}`,
      `/etc/passwd`,
      `*`,
      `%`,
    ];
  }

  test("MCP read_note and list_notes with hostile paths never reach the other wiki", async () => {
    const problems: string[] = [];
    for (const [self, other] of pairs()) {
      for (const path of hostilePaths(other)) {
        const read = await self.mcp.callTool({ name: "read_note", arguments: { path } });
        const listed = await self.mcp.callTool({
          name: "list_notes",
          arguments: { prefix: path },
        });
        for (const [tool, result] of [
          ["read_note", read],
          ["list_notes", listed],
        ] as const) {
          const leak = leakOf(JSON.stringify(result), other, path);
          if (leak !== null) problems.push(`${tool} ${self.slug} ${JSON.stringify(path)}: ${leak}`);
        }
      }
      // The whole listing of one wiki names none of the other's pages.
      const all = await callTool(self.mcp, "list_notes", {});
      expect(leakOf(textOf(all), other, "")).toBeNull();
    }
    expect(problems).toEqual([]);
  });

  test("REST page reads with hostile paths never reach the other wiki, nor 500", async () => {
    const problems: string[] = [];
    for (const [self, other] of pairs()) {
      for (const path of hostilePaths(other)) {
        const response = await fetch(
          `${t.wikiOrigin(self.slug)}/api/v1/pages/${path.split("/").map(encodeURIComponent).join("/")}`,
          { headers: self.token === null ? {} : { authorization: `Bearer ${self.token}` } },
        );
        const leak = leakOf(await response.text(), other, path);
        if (response.status >= 500 || leak !== null) {
          problems.push(`${self.slug} ${JSON.stringify(path)}: ${response.status} ${leak ?? ""}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe("browser search through the proxy stays inside its wiki", () => {
  test("Otterwiki's /-/search with hostile queries answers without the other wiki, nor 500", async () => {
    const problems: string[] = [];
    for (const [self, other] of pairs()) {
      // Both wikis' own words are found, so the search really ran.
      const own = await fetch(
        `${t.wikiOrigin(self.slug)}/-/search/${encodeURIComponent(self.marker)}`,
        { headers: self.browser === null ? {} : { cookie: self.browser.header() } },
      );
      expect(own.status).toBe(200);
      expect(await own.text()).toContain(self.path);
      for (const query of hostileQueries(other).filter((query) => query.length <= 500)) {
        const response = await fetch(
          `${t.wikiOrigin(self.slug)}/-/search/${encodeURIComponent(query)}`,
          {
            headers: self.browser === null ? {} : { cookie: self.browser.header() },
            redirect: "manual",
          },
        );
        const leak = leakOf(await response.text(), other, query);
        if (response.status >= 500 || leak !== null) {
          problems.push(`${self.slug} ${JSON.stringify(query)}: ${response.status} ${leak ?? ""}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
