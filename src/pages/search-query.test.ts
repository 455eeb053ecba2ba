import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import {
  describeQuery,
  ftsExpression,
  MAX_QUERY_CHARS,
  MAX_QUERY_TERMS,
  parseSearchQuery,
} from "./search-query.ts";

const read = (text: string) => {
  const query = parseSearchQuery(text);
  return {
    fts: ftsExpression(query),
    described: describeQuery(query),
    plain: query.interpretedAsPlainText,
    truncated: query.truncated,
  };
};

describe("the query language", () => {
  test.each([
    ["otter kelp", '"otter" AND "kelp"', "otter AND kelp"],
    ['"sea otter" kelp', '"sea otter" AND "kelp"', '"sea otter" AND kelp'],
    ["otter kelp OR urchin", '"otter" AND ("kelp" OR "urchin")', "otter AND (kelp OR urchin)"],
    ["otter -sea", '("otter") NOT "sea"', "otter AND NOT sea"],
    ["otter NOT sea", '("otter") NOT "sea"', "otter AND NOT sea"],
    [
      'otter -"sea lion" -kelp',
      '("otter") NOT ("sea lion" OR "kelp")',
      'otter AND NOT "sea lion" AND NOT kelp',
    ],
    ["otter AND kelp", '"otter" AND "kelp"', "otter AND kelp"],
    ["otte*", '"otte" *', "otte*"],
    ['"sea ott"*', '"sea ott" *', '"sea ott"*'],
    ["and or not", '"and" AND "or" AND "not"', "and AND or AND not"],
    ['"OR"', '"OR"', '"OR"'],
    ["Éléphant café", '"Éléphant" AND "café"', "Éléphant AND café"],
    ["foo-bar", '"foo bar"', '"foo bar"'],
  ])("%j is read as %s", (text, fts, described) => {
    expect(read(text)).toEqual({ fts, described, plain: false, truncated: false });
  });

  test.each([
    // The reproduction: a `)` closing the group and OR escaping the wiki filter.
    ['x) OR (wiki : "w2" AND Welcome', '("x" OR "wiki") AND "w2" AND "Welcome"'],
    ["wiki:w2", '"wiki w2"'],
    ["{wiki}: w2", '"wiki" AND "w2"'],
    ["NEAR(a b)", '"NEAR a" AND "b"'],
    ["^otter", '"otter"'],
    ["+otter", '"otter"'],
    ['"unterminated phrase', '"unterminated phrase"'],
    ["otter OR", '"otter"'],
    ["OR otter", '"otter"'],
    ["otter OR -kelp", '("otter") NOT "kelp"'],
    ["otter -kelp OR sea", '("otter" AND "sea") NOT "kelp"'],
    ["ot*", '"ot"'],
    ["*", null],
    ["AND OR NOT", null],
    ["-", null],
    ["()", null],
    ['"', null],
  ])("syntax we do not offer, %j, is read as plain words: %s", (text, fts) => {
    const result = read(text);
    expect(result.fts).toBe(fts);
    expect(result.plain).toBe(true);
  });

  test("words only in exclusions leave nothing to find", () => {
    expect(read("-otter")).toMatchObject({ fts: null, described: "NOT otter", plain: false });
  });

  test("emoji and other symbols hold no words", () => {
    expect(read("🦦").fts).toBeNull();
    expect(read("🦦 otter").fts).toBe('"otter"');
  });

  test("a quote inside a phrase can never end the string FTS5 sees", () => {
    for (const text of ['a"b', '"a""b"', 'x" OR wiki:w2 "', '-"x" OR "']) {
      const fts = ftsExpression(parseSearchQuery(text)) ?? "";
      // Every quoted string holds words and spaces only.
      expect(fts.replace(/"[\p{L}\p{N}\p{M}\p{Co} ]*"/gu, "")).toMatch(/^[ ()*ANDORT]*$/);
    }
  });

  test("terms beyond the limit are dropped and the query says so", () => {
    const words = Array.from({ length: MAX_QUERY_TERMS + 5 }, (_, index) => `w${index}`);
    const result = read(words.join(" "));
    expect(result.truncated).toBe(true);
    expect(result.fts?.split(" AND ")).toHaveLength(MAX_QUERY_TERMS);
    expect(read("x".repeat(MAX_QUERY_CHARS + 1)).truncated).toBe(true);
  });

  test("every expression parses in FTS5, whatever the input", () => {
    const db = new Database(":memory:");
    db.run("CREATE VIRTUAL TABLE t USING fts5(wiki, body, tokenize = 'porter unicode61')");
    db.run("INSERT INTO t VALUES ('w1', 'the otter and the kelp')");
    const hostile = [
      'x) OR (wiki : "w2" AND Welcome',
      "wiki:w2",
      "{wiki}: w2",
      "NEAR(a b, 2)",
      "a^b",
      '"',
      '"""',
      "- - -",
      "otter* OR -kelp NOT",
      "(((",
      "\u0000 otter",
      "é\u0301 e\u0301",
      "x".repeat(5000),
      Array.from({ length: 200 }, () => "a OR").join(" "),
    ];
    for (const text of hostile) {
      const fts = ftsExpression(parseSearchQuery(text));
      if (fts === null) continue;
      expect(() =>
        db.query("SELECT rowid FROM t WHERE t MATCH ?").all(`wiki : "w1" AND {body} : (${fts})`),
      ).not.toThrow();
    }
  });
});
