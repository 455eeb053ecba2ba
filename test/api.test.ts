/**
 * The REST API at /api/v1 on a real server: the shared bearer gate, ETag / If-Match optimistic
 * concurrency, error shapes, and an OpenAPI document that validates, lists every route, and
 * describes the responses the server really sends.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import SwaggerParser from "@apidevtools/swagger-parser";
import Ajv2020 from "ajv/dist/2020.js";
import { apiRoutes } from "../src/api/routes.ts";
import { openStores } from "../src/stores.ts";
import {
  addUser,
  createToken,
  createUserAndWiki,
  makeDataDir,
  startTestServer,
  type TestServer,
} from "./support/server.ts";

setDefaultTimeout(120_000);

let t: TestServer;
let token: string;
let openapi: Record<string, unknown>;

function api(
  method: string,
  path: string,
  options: {
    token?: string | null;
    headers?: Record<string, string>;
    body?: unknown;
    slug?: string;
  } = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  const bearer = options.token === undefined ? token : options.token;
  if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  return fetch(`${t.wikiOrigin(options.slug ?? "demo")}/api/v1${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
}

/** Calls the API; `template` names the documented path, for the schema check. */
async function call(
  method: string,
  path: string,
  template: string,
  options: Parameters<typeof api>[2] = {},
): Promise<{
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  method: string;
  template: string;
}> {
  const response = await api(method, path, options);
  const text = await response.text();
  const body = text.length > 0 ? JSON.parse(text) : {};
  return { status: response.status, headers: response.headers, body, method, template };
}

const errorCode = (body: Record<string, unknown>) =>
  typeof body.error === "object" && body.error !== null && "code" in body.error
    ? body.error.code
    : null;

beforeAll(async () => {
  t = await startTestServer();
  token = (await createUserAndWiki(t, { username: "olive", slug: "demo" })).token;
  openapi = (await (await api("GET", "/openapi.json", { token: null })).json()) as Record<
    string,
    unknown
  >;
});
afterAll(() => t.close());

describe("pages", () => {
  test("PUT creates (201) and returns the revision as ETag; GET returns it and honours If-None-Match", async () => {
    const created = await call("PUT", "/pages/Research/Topic%20A", "/pages/{path}", {
      body: { content: "# Topic A\n\nfirst\n", message: "Start Topic A" },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ path: "Research/Topic A", created: true, changed: true });
    expect(created.headers.get("etag")).toBe(`"${created.body.revision}"`);

    const read = await call("GET", "/pages/Research/Topic%20A", "/pages/{path}");
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      path: "Research/Topic A",
      title: "Topic A",
      content: "# Topic A\n\nfirst\n",
      revision: created.body.revision,
      total_lines: 3,
    });
    expect(read.headers.get("etag")).toBe(`"${created.body.revision}"`);

    const notModified = await api("GET", "/pages/Research/Topic%20A", {
      headers: { "if-none-match": `"${created.body.revision}"` },
    });
    expect(notModified.status).toBe(304);
  });

  test("If-Match: the current revision writes; a stale one is 412 with the current revision", async () => {
    const first = await call("PUT", "/pages/Concurrency", "/pages/{path}", {
      body: { content: "v1\n" },
    });
    const second = await call("PUT", "/pages/Concurrency", "/pages/{path}", {
      headers: { "if-match": `"${first.body.revision}"` },
      body: { content: "v2\n" },
    });
    expect(second.status).toBe(200);
    expect(second.body.previous_revision).toBe(first.body.revision);

    const stale = await call("PUT", "/pages/Concurrency", "/pages/{path}", {
      headers: { "if-match": `"${first.body.revision}"` },
      body: { content: "v3\n" },
    });
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({
      error: { code: "precondition_failed", current_revision: second.body.revision },
    });
    const listed = await call("PUT", "/pages/Concurrency", "/pages/{path}", {
      headers: {
        "if-match": `"0000000000000000000000000000000000000000", "${second.body.revision}"`,
      },
      body: { content: "v3\n" },
    });
    expect(listed.status).toBe(200);
    const weak = await call("PUT", "/pages/Concurrency", "/pages/{path}", {
      headers: { "if-match": `W/"${listed.body.revision}"` },
      body: { content: "v4\n" },
    });
    expect(weak.status).toBe(412);
    expect((await call("GET", "/pages/Concurrency", "/pages/{path}")).body.content).toBe("v3\n");
  });

  test("If-None-Match: * creates only; If-Match: * on a missing page is 412", async () => {
    const created = await call("PUT", "/pages/Once", "/pages/{path}", {
      headers: { "if-none-match": "*" },
      body: { content: "once\n" },
    });
    expect(created.status).toBe(201);
    const again = await call("PUT", "/pages/Once", "/pages/{path}", {
      headers: { "if-none-match": "*" },
      body: { content: "twice\n" },
    });
    expect(again.status).toBe(412);
    const missing = await call("PUT", "/pages/Never", "/pages/{path}", {
      headers: { "if-match": "*" },
      body: { content: "x\n" },
    });
    expect(missing.status).toBe(412);
    expect(missing.body).toMatchObject({ error: { current_revision: null } });
  });

  test("DELETE with a stale If-Match is 412; with the current one it deletes, and GET is then 404", async () => {
    const page = await call("PUT", "/pages/Doomed", "/pages/{path}", { body: { content: "a\n" } });
    const newer = await call("PUT", "/pages/Doomed", "/pages/{path}", { body: { content: "b\n" } });
    const stale = await call("DELETE", "/pages/Doomed", "/pages/{path}", {
      headers: { "if-match": `"${page.body.revision}"` },
    });
    expect(stale.status).toBe(412);
    const deleted = await call("DELETE", "/pages/Doomed", "/pages/{path}", {
      headers: { "if-match": `"${newer.body.revision}"` },
    });
    expect(deleted.status).toBe(200);
    expect(deleted.body.deleted_revision).toBe(newer.body.revision);
    const gone = await call("GET", "/pages/Doomed", "/pages/{path}");
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ error: { code: "not_found" } });
  });

  test("errors have one shape and the right status", async () => {
    const cases: [string, string, Parameters<typeof api>[2], number, string][] = [
      ["GET", "/pages/Nope", {}, 404, "not_found"],
      ["PUT", "/pages/..%2Fescape", { body: { content: "x" } }, 400, "invalid_path"],
      ["PUT", "/pages/Bad", { body: { words: "x" } }, 400, "bad_request"],
      ["PUT", "/pages/Huge", { body: { content: "x".repeat(1_100_000) } }, 413, "too_large"],
      [
        "PUT",
        "/pages/Bad",
        { body: { content: "x" }, headers: { "if-match": "unquoted" } },
        400,
        "bad_precondition",
      ],
      ["GET", "/pages/Home?revision=zzz", {}, 400, "bad_request"],
      ["GET", "/pages/Home?revision=abcdef1", {}, 400, "invalid_revision"],
      ["GET", "/pages/Home/diff", {}, 400, "bad_request"],
      ["GET", "/search", {}, 400, "bad_request"],
      ["GET", "/nope", {}, 404, "not_found"],
    ];
    for (const [method, path, options, status, code] of cases) {
      const response = await api(method, path, options);
      expect({ path, status: response.status }).toEqual({ path, status });
      const body = (await response.json()) as Record<string, unknown>;
      expect({ path, code: errorCode(body) }).toEqual({ path, code });
      expect(body.error).toMatchObject({ message: expect.any(String) });
    }
    const suggestion = await call("GET", "/pages/Hom", "/pages/{path}");
    expect(suggestion.body).toMatchObject({ error: { suggestions: ["Home"] } });
  });

  test("a chunked body over the limit is refused without being read whole", async () => {
    const chunks = new ReadableStream({
      start(controller) {
        for (let index = 0; index < 5; index++)
          controller.enqueue(new Uint8Array(1024 * 1024).fill(32));
        controller.close();
      },
    });
    const response = await fetch(`${t.wikiOrigin("demo")}/api/v1/pages/Big`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: chunks,
    });
    expect(response.status).toBe(413);
  });

  test("list, search, history, page history and diff", async () => {
    const v1 = await call("PUT", "/pages/Zoo/Otter", "/pages/{path}", {
      body: { content: "# Otter\n\n## Diet\n\nOtters eat sea urchins.\n" },
    });
    const v2 = await call("PUT", "/pages/Zoo/Otter", "/pages/{path}", {
      body: { content: "# Otter\n\n## Diet\n\nOtters eat crabs.\n" },
    });
    const list = await call("GET", "/pages?prefix=Zoo/", "/pages");
    expect(list.body).toMatchObject({
      total: 1,
      next_offset: null,
      pages: [{ path: "Zoo/Otter" }],
    });
    const paged = await call("GET", "/pages?limit=1", "/pages");
    expect(paged.body.next_offset).toBe(1);

    const search = await call("GET", "/search?q=crabs", "/search");
    expect(search.body.hits).toEqual([
      {
        path: "Zoo/Otter",
        title: "Otter",
        revision: v2.body.revision,
        snippet: expect.stringContaining("Otters eat crabs."),
        lines: [5],
        matching_lines: [{ line: 5, text: "Otters eat crabs.", complete: true }],
        heading_path: ["Otter", "Diet"],
      },
    ]);
    expect(search.body).toMatchObject({ total: 1, more_available: false });

    const pageHistory = await call("GET", "/pages/Zoo/Otter/history", "/pages/{path}/history");
    const commits = pageHistory.body.commits as { revision: string; client: string }[];
    expect(commits.map((commit) => commit.revision)).toEqual([
      String(v2.body.revision),
      String(v1.body.revision),
    ]);
    expect(commits[0]?.client).toBe("api");

    const diff = await call(
      "GET",
      `/pages/Zoo/Otter/diff?from=${v1.body.revision}&to=${v2.body.revision}`,
      "/pages/{path}/diff",
    );
    expect(diff.body.diff).toContain("-Otters eat sea urchins.");
    expect(diff.body.diff).toContain("+Otters eat crabs.");

    const history = await call("GET", `/history?after=${v1.body.revision}`, "/history");
    expect(
      (history.body.commits as { revision: string }[]).map((commit) => commit.revision),
    ).toEqual([String(v2.body.revision)]);
    expect(history.body.head).toBe(v2.body.revision);
    const old = await call("GET", `/pages/Zoo/Otter?revision=${v1.body.revision}`, "/pages/{path}");
    expect(old.body.content).toContain("sea urchins");
    await call("GET", "/", "/");
  });
});

describe("the gate", () => {
  test("no token on a private wiki: 401 with the RFC 9728 challenge", async () => {
    const response = await call("GET", "/pages", "/pages", { token: null });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain(
      `resource_metadata="${t.wikiOrigin("demo")}/.well-known/oauth-protected-resource/mcp"`,
    );
  });

  test("a read token can read but not write (403 insufficient_scope)", async () => {
    const made = await createToken(t, "demo", "olive", "read");
    expect((await api("GET", "/pages/Home", { token: made.token })).status).toBe(200);
    const refused = await call("PUT", "/pages/Home", "/pages/{path}", {
      token: made.token,
      body: { content: "x" },
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: { code: "insufficient_scope" } });
    expect(refused.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    expect((await api("DELETE", "/pages/Home", { token: made.token })).status).toBe(403);
  });

  test("a viewer's write token is refused; anonymous can read a public wiki but not write it", async () => {
    await addUser(t, "vera");
    await t.adminJson("grant", "--wiki", "demo", "--user", "vera", "--role", "viewer");
    const viewer = await createToken(t, "demo", "vera", "write");
    const refused = await api("PUT", "/pages/Home", {
      token: viewer.token,
      body: { content: "x" },
    });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: "forbidden" } });

    await createUserAndWiki(t, { username: "pat", slug: "open", public: true });
    expect((await api("GET", "/pages/Home", { token: null, slug: "open" })).status).toBe(200);
    const anonymousWrite = await api("PUT", "/pages/Home", {
      token: null,
      slug: "open",
      body: { content: "x" },
    });
    expect(anonymousWrite.status).toBe(401);
  });

  test("a lapsed wiki is readable but refuses writes with a clear code", async () => {
    const lapsed = await createUserAndWiki(t, { username: "lara", slug: "lapsed" });
    await t.adminJson("set-tier", "--wiki", "lapsed", "--tier", "lapsed");
    expect((await api("GET", "/pages/Home", { token: lapsed.token, slug: "lapsed" })).status).toBe(
      200,
    );
    const refused = await api("PUT", "/pages/Home", {
      token: lapsed.token,
      slug: "lapsed",
      body: { content: "x" },
    });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: "wiki_lapsed" } });
  });

  test("a foreign Origin is refused", async () => {
    const response = await api("GET", "/pages", { headers: { origin: "https://evil.example" } });
    expect(response.status).toBe(403);
  });
});

describe("OpenAPI", () => {
  test("the document is valid OpenAPI 3.1", async () => {
    expect(openapi.openapi).toBe("3.1.0");
    await SwaggerParser.validate(structuredClone(openapi) as never);
  });

  test("it lists every route the server has, and nothing else", () => {
    const documented = new Set<string>();
    const paths = openapi.paths as Record<string, Record<string, unknown>>;
    for (const [path, item] of Object.entries(paths)) {
      for (const method of Object.keys(item)) {
        if (method !== "parameters") documented.add(`${method.toUpperCase()} ${path}`);
      }
    }
    const served = new Set<string>();
    const dataDir = makeDataDir();
    const stores = openStores(dataDir);
    const routes = apiRoutes({
      ...stores,
      semanticSearch: t.server.semanticSearch,
      publicUrl: new URL("http://localhost:8080"),
      maxBodyBytes: 1024,
    }).routes;
    stores.db.close();
    rmSync(dataDir, { recursive: true, force: true });
    for (const route of routes) {
      const path = route.path.replace(/^\/api\/v1/, "") || "/";
      if (path === "/pages/*") {
        served.add(`${route.method} /pages/{path}`);
        if (route.method === "GET") {
          served.add("GET /pages/{path}/history");
          served.add("GET /pages/{path}/diff");
        }
      } else {
        served.add(`${route.method} ${path}`);
      }
    }
    expect([...documented].toSorted()).toEqual([...served].toSorted());
  });

  test("real responses of every operation match the documented schema for their status", async () => {
    const v1 = await call("PUT", "/pages/Schema/Page", "/pages/{path}", {
      body: { content: "# S\n\none\n" },
    });
    const v2 = await call("PUT", "/pages/Schema/Page", "/pages/{path}", {
      body: { content: "# S\n\ntwo\n" },
    });
    const samples = [
      v1,
      v2,
      await call("GET", "/", "/"),
      await call("GET", "/openapi.json", "/openapi.json", { token: null }),
      await call("GET", "/pages?prefix=Schema/", "/pages"),
      await call("GET", "/pages", "/pages", { token: null }),
      await call("GET", "/pages/Schema/Page", "/pages/{path}"),
      await call("GET", "/pages/Schema/Nope", "/pages/{path}"),
      await call("PUT", "/pages/Schema/Page", "/pages/{path}", {
        headers: { "if-match": `"${v1.body.revision}"` },
        body: { content: "three" },
      }),
      await call("PUT", "/pages/Schema/Page", "/pages/{path}", {
        body: { content: "x".repeat(1_100_000) },
      }),
      await call("GET", "/pages/Schema/Page/history", "/pages/{path}/history"),
      await call("GET", `/pages/Schema/Page/diff?from=${v1.body.revision}`, "/pages/{path}/diff"),
      await call("GET", "/search?q=two", "/search"),
      await call("GET", "/history?limit=3", "/history"),
      await call("PUT", "/pages/Schema/Gone", "/pages/{path}", { body: { content: "x" } }),
      await call("DELETE", "/pages/Schema/Gone", "/pages/{path}"),
      await call("DELETE", "/pages/Schema/Gone", "/pages/{path}"),
    ];
    const dereferenced = (await SwaggerParser.dereference(
      structuredClone(openapi) as never,
    )) as unknown as {
      paths: Record<
        string,
        Record<
          string,
          { responses: Record<string, { content?: Record<string, { schema: object }> }> }
        >
      >;
    };
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const statuses = new Set(samples.map((sample) => sample.status));
    expect([...statuses].toSorted()).toEqual([200, 201, 401, 404, 412, 413]);
    for (const sample of samples) {
      const at = `${sample.method} ${sample.template} ${sample.status}`;
      const operation = dereferenced.paths[sample.template]?.[sample.method.toLowerCase()];
      const schema =
        operation?.responses[String(sample.status)]?.content?.["application/json"]?.schema;
      expect({ at, documented: schema !== undefined }).toEqual({ at, documented: true });
      if (schema === undefined) continue;
      const valid = ajv.validate(schema, sample.body);
      expect({ at, errors: valid ? null : ajv.errors }).toEqual({ at, errors: null });
    }
  });
});
