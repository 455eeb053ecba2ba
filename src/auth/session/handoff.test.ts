import { describe, expect, test } from "bun:test";
import { safeReturnPath } from "./handoff.ts";

describe("safeReturnPath", () => {
  test.each([
    ["/Research/Topic%20A?x=1", "/Research/Topic%20A?x=1"],
    // Non-ASCII cannot go into a Location header as it is (it was a 500): percent-encoded.
    ["/日本/ページ", "/%E6%97%A5%E6%9C%AC/%E3%83%9A%E3%83%BC%E3%82%B8"],
    ["/é?q=ü", "/%C3%A9?q=%C3%BC"],
    ["//evil.example/x", "/"],
    ["/\\evil.example", "/"],
    ["https://evil.example/", "/"],
    ["/a\nb", "/"],
    [null, "/"],
  ])("%j → %j", (raw, expected) => {
    const result = safeReturnPath(raw);
    expect(result).toBe(expected);
    expect(() => new Headers({ location: result })).not.toThrow();
  });
});
