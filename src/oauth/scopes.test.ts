import { describe, expect, test } from "bun:test";
import { narrowedScopes, requestedScopes, scopesForRole } from "./scopes.ts";

describe("scopes", () => {
  test("unknown scopes are ignored and nothing known asks for the base set", () => {
    expect(requestedScopes(null)).toEqual(["wiki:read", "wiki:write"]);
    expect(requestedScopes("claudeai")).toEqual(["wiki:read", "wiki:write"]);
    expect(requestedScopes("offline_access mcp:tools")).toEqual(["wiki:read", "wiki:write"]);
    expect(requestedScopes("wiki:read offline_access")).toEqual(["wiki:read"]);
    expect(requestedScopes("wiki:write")).toEqual(["wiki:read", "wiki:write"]);
  });

  test("a viewer can grant reading only; editors and owners what was asked", () => {
    expect(scopesForRole(["wiki:read", "wiki:write"], "viewer")).toEqual(["wiki:read"]);
    expect(scopesForRole(["wiki:read", "wiki:write"], "editor")).toEqual([
      "wiki:read",
      "wiki:write",
    ]);
    expect(scopesForRole(["wiki:read"], "owner")).toEqual(["wiki:read"]);
  });

  test("a refresh may narrow the granted scopes, never widen them (RFC 6749 §6)", () => {
    const granted = ["wiki:read", "wiki:write"];
    expect(narrowedScopes(null, granted)).toEqual(granted);
    expect(narrowedScopes("", granted)).toEqual(granted);
    expect(narrowedScopes("wiki:read", granted)).toEqual(["wiki:read"]);
    expect(narrowedScopes("wiki:write", ["wiki:read"])).toBeNull();
    expect(narrowedScopes("wiki:read admin", granted)).toBeNull();
  });
});
