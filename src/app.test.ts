import { describe, expect, test } from "bun:test";
import { classifyWikiPath } from "./app.ts";

describe("classifyWikiPath", () => {
  test.each([
    ["/api/v1", "api"],
    ["/api/v1/pages/Home", "api"],
    ["/api/v10", "browser"],
    ["/mcp", "mcp"],
    ["/mcpx", "browser"],
    ["/.well-known/oauth-protected-resource", "mcp"],
    ["/.well-known/oauth-protected-resource/mcp", "mcp"],
    ["/.well-known/oauth-authorization-server", "mcp"],
    ["/oauth/token", "oauth"],
    ["/authorize", "oauth"],
    ["/token", "oauth"],
    ["/register", "oauth"],
    ["/.well-known/openid-configuration", "oauth"],
    ["/.well-known/openid-configurationx", "browser"],
    ["/repo.git/info/refs", "git"],
    ["/repo.git", "git"],
    ["/repo.gitx", "browser"],
    ["/", "browser"],
    ["/Research/Topic%20A", "browser"],
    ["/-/changelog", "browser"],
  ])("%s → %s", (path, kind) => {
    expect(classifyWikiPath(path)).toBe(kind as ReturnType<typeof classifyWikiPath>);
  });
});
