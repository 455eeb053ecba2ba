import { describe, expect, test } from "bun:test";
import {
  classifyBrowserRoute,
  isEditorRequest,
  isReadOnlyPost,
  normalizeWikiPath,
  pageUrlPath,
} from "./route-policy.ts";

function classify(path: string, method = "GET") {
  // Concatenated, not resolved: "//-/admin" must stay a path, as it is in a request URL.
  const url = new URL(`http://demo.localhost${path}`);
  const normalized = normalizeWikiPath(url.pathname);
  if (normalized === null) throw new Error(`not decodable: ${path}`);
  return classifyBrowserRoute(method, url, normalized);
}

describe("blocked Otterwiki routes", () => {
  test.each([
    "/-/admin/repository_management",
    "/-/admin/repository_management/",
    "/-/admin/user_management",
    "/-/admin/permissions_and_registration",
    "/-/admin/mail_preferences",
    "/-/admin/plugin/x/y",
    "/-/api/v1/pull/abc",
    "/.git",
    "/.git/info/refs",
    "/.git/git-receive-pack",
    // The same, spelled the ways gunicorn and Werkzeug still route.
    "/-/admin%2Frepository_management",
    "//-/admin/repository_management",
    "/-/admin//user_management",
    "/-/ADMIN/Repository_Management",
    "/%2Egit/info/refs",
    "/-/admin/%72epository_management",
  ])("%s is blocked for GET and POST", (path) => {
    expect(classify(path).kind).toBe("blocked");
    expect(classify(path, "POST").kind).toBe("blocked");
  });

  test.each(["/-/admin", "/-/admin/sidebar_preferences", "/-/admin/content_and_editing", "/Home"])(
    "%s is forwarded",
    (path) => {
      expect(classify(path).kind).toBe("otterwiki");
    },
  );

  test("a path that cannot be decoded is refused", () => {
    expect(normalizeWikiPath("/%E0%A4%A")).toBeNull();
    expect(normalizeWikiPath("/a%00b")).toBeNull();
  });
});

describe("routes we answer", () => {
  test.each([
    ["/-/login?next=/Page", "sign-in"],
    ["/-/register", "sign-in"],
    ["/-/lost_password", "sign-in"],
    ["/-/recover_password/abc", "sign-in"],
    ["/-/logout", "sign-out"],
    ["/-/user/1", "account"],
    ["/-/user/", "account"],
    ["/auth/handoff?code=x", "handoff"],
  ])("%s → %s", (path, kind) => {
    expect(String(classify(path).kind)).toBe(kind);
  });

  test("a save names its page in its original case and spelling", () => {
    expect(classify("/Research/Topic%20A/save", "POST")).toEqual({
      kind: "save",
      pagePath: "Research/Topic A",
    });
    expect(classify("/Research/Topic%20A/save").kind).toBe("otterwiki");
  });
});

describe("editor and read-only requests", () => {
  test.each([
    ["/Home?edit", true],
    ["/Home/edit", true],
    ["/Home/edit/0a1b2c", true],
    ["/Home", false],
    ["/-/search?edit", false],
  ])("%s is an editor request: %p", (path, expected) => {
    const url = new URL(path, "http://demo.localhost");
    expect(isEditorRequest(url, normalizeWikiPath(url.pathname) ?? "")).toBe(expected);
  });

  test.each([
    ["/-/search", true],
    ["/-/search/term", true],
    ["/Home/history", true],
    ["/Home/preview", true],
    ["/Home/diff/abc/def", true],
    ["/Home/save", false],
    ["/Home/delete", false],
    ["/Home/rename", false],
    ["/Home/attachments", false],
    ["/-/revert/abc", false],
    ["/-/admin", false],
    ["/Home", false],
  ])("POST %s only reads: %p", (path, expected) => {
    expect(isReadOnlyPost(normalizeWikiPath(path) ?? "")).toBe(expected);
  });

  test("page paths become URL paths segment by segment", () => {
    expect(pageUrlPath("Research/Topic A")).toBe("/Research/Topic%20A");
    expect(pageUrlPath("Jürgen")).toBe("/J%C3%BCrgen");
  });
});
