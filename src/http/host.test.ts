import { describe, expect, test } from "bun:test";
import { resolveHost } from "./host.ts";

const local = new URL("http://localhost:8080");
const production = new URL("https://wikibot.example");

describe("resolveHost", () => {
  test.each([
    ["localhost:8080", local, { kind: "apex" }],
    ["127.0.0.1:8080", local, { kind: "apex" }],
    ["LOCALHOST:8080", local, { kind: "apex" }],
    ["demo.localhost:8080", local, { kind: "wiki", slug: "demo" }],
    ["demo.localhost", local, { kind: "unknown" }],
    ["wikibot.example", production, { kind: "apex" }],
    ["wikibot.example.", production, { kind: "apex" }],
    ["demo.localhost.:8080", local, { kind: "wiki", slug: "demo" }],
    ["demo.wikibot.example", production, { kind: "wiki", slug: "demo" }],
    ["a.b.wikibot.example", production, { kind: "unknown" }],
    ["evil.example", production, { kind: "unknown" }],
    ["127.0.0.1", production, { kind: "unknown" }],
  ])("%s", (host, publicUrl, expected) => {
    expect(resolveHost(host, publicUrl)).toEqual(expected as ReturnType<typeof resolveHost>);
  });

  test.each([
    null,
    "",
    "bad host",
    "exa_mple.com",
    "x".repeat(301),
    "a@b",
    "-x.wikibot.example",
    "a..b",
    ".wikibot.example",
    // A dot after the port made request.url unparsable (a 500 on every path): refused instead.
    "demo.wikibot.example:443.",
    "wikibot.example:.",
  ])("%j is malformed", (host) => {
    expect(resolveHost(host, production).kind).toBe("malformed");
  });
});
