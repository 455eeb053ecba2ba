import { describe, expect, test } from "bun:test";
import {
  classifyBrowserRoute,
  isEditorRequest,
  normalizeWikiPath,
  type OtterwikiPost,
  otterwikiPostOf,
  pageUrlPath,
  readsOnly,
  routeHeader,
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
      kind: "post",
      post: { endpoint: "save", args: { path: "Research/Topic A" } },
    });
    expect(classify("/Research/Topic%20A/save").kind).toBe("otterwiki");
  });

  test("POSTs to Otterwiki routes we do not forward are blocked", () => {
    expect(classify("/-/plugin/x/y", "POST").kind).toBe("blocked");
    expect(classify("/", "POST").kind).toBe("blocked");
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
    const post = otterwikiPostOf(path);
    expect(post !== null && readsOnly(post)).toBe(expected);
  });

  test("page paths become URL paths segment by segment", () => {
    expect(pageUrlPath("Research/Topic A")).toBe("/Research/Topic%20A");
    expect(pageUrlPath("Jürgen")).toBe("/J%C3%BCrgen");
  });
});

describe("the Otterwiki view a POST reaches", () => {
  // What Werkzeug's URL map of Otterwiki 2.26.1 answers for each path (url_map.bind().match).
  const cases: [string, OtterwikiPost][] = [
    ["/-/mcp/save", { endpoint: "save", args: { path: "-/mcp" } }],
    ["/-/search/save", { endpoint: "search", args: { query: "save" } }],
    ["/-/search/a/save", { endpoint: "save", args: { path: "-/search/a" } }],
    [
      "/Foo/attachment/save",
      { endpoint: "edit_attachment", args: { pagepath: "Foo", filename: "save" } },
    ],
    ["/Foo/a/save", { endpoint: "save", args: { path: "Foo/a" } }],
    ["/-/revert/abc", { endpoint: "revert", args: { revision: "abc" } }],
    ["/-/revert/abc/save", { endpoint: "save", args: { path: "-/revert/abc" } }],
    ["/Foo/save/", { endpoint: "view", args: { path: "Foo/save/" } }],
    ["/Foo/SAVE", { endpoint: "view", args: { path: "Foo/SAVE" } }],
    ["/Foo/rename/", { endpoint: "rename", args: { path: "Foo" } }],
    ["/Foo/diff/a/save", { endpoint: "diff", args: { path: "Foo", rev_a: "a", rev_b: "save" } }],
    ["/Foo/bar/draft/discard", { endpoint: "discard_draft", args: { path: "Foo/bar" } }],
    ["/Foo/inline_attachment", { endpoint: "inline_attachment", args: { pagepath: "Foo" } }],
    ["/-/create/save", { endpoint: "save", args: { path: "-/create" } }],
    ["/-/housekeeping", { endpoint: "housekeeping", args: {} }],
  ];
  test.each(cases)("%s → %o", (path, expected) => {
    expect(otterwikiPostOf(path)).toEqual(expected);
  });

  test("the route header carries the view and its arguments, URL-encoded", () => {
    expect(routeHeader({ endpoint: "save", args: { path: "Research/Topic A" } })).toBe(
      "save?path=Research%2FTopic+A",
    );
    expect(routeHeader({ endpoint: "housekeeping", args: {} })).toBe("housekeeping");
  });
});
