import { describe, expect, test } from "bun:test";
import { checkSlug, RESERVED_SLUGS } from "./slug.ts";

describe("checkSlug", () => {
  test.each(["abc", "my-wiki", "a1b2", "x".repeat(63), "0day"])("accepts %s", (slug) => {
    expect(checkSlug(slug)).toEqual({ ok: true, slug });
  });

  test.each([
    ["ab", "3–63"],
    ["x".repeat(64), "3–63"],
    ["-abc", "start and end"],
    ["abc-", "start and end"],
    ["ABC", "lowercase"],
    ["a_b", "lowercase"],
    ["a.b.c", "lowercase"],
    ["xn--abc", "two hyphens"],
    ["wiki bot", "lowercase"],
  ])("refuses %s", (slug, why) => {
    const result = checkSlug(slug);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(why);
  });

  test("refuses every reserved name", () => {
    for (const slug of RESERVED_SLUGS) {
      const result = checkSlug(slug);
      expect(result.ok).toBe(false);
    }
  });
});
