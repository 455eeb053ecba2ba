/**
 * The wiki's REST API at /api/v1 on the wiki host: HTTP only. Every route runs the same bearer
 * gate as MCP, then calls the page store through pages.ts; errors leave through `answer`.
 * Page paths sit in the URL percent-encoded, slashes kept: /api/v1/pages/Research/Topic%20A.
 */
import { Elysia, getSchemaValidator, t } from "elysia";
import { authenticateWikiRequest, type BearerGateDeps } from "../auth/bearer.ts";
import { commitAuthorOf, commitClientOf } from "../auth/commit-author.ts";
import { canWrite } from "../auth/wiki-access.ts";
import { readTextWithin } from "../http/body-limit.ts";
import { jsonResponse } from "../http/json.ts";
import { wikiOf } from "../http/request-context.ts";
import { gitDate } from "../pages/commit-summary.ts";
import type { ChangeContext, PageStore } from "../pages/page-store.ts";
import { searchJson } from "../pages/search-wire.ts";
import { toWriteResultWire } from "../pages/write-wire.ts";
import type { SemanticSearch } from "../search/search-service.ts";
import {
  DEFAULT_SEMANTIC_LIMIT,
  DEFAULT_SEMANTIC_MODE,
  MAX_SEMANTIC_LIMIT,
  SEMANTIC_SEARCH_MODES,
  searchByMeaning,
  semanticSearchJson,
} from "../search/semantic-hits.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { wikiUrls } from "../wikis/wiki-urls.ts";
import { writeRefusal } from "./access.ts";
import { ApiError, answer } from "./api-error.ts";
import { openApiDocument } from "./openapi.ts";
import { expectedRevisionOf, historyJson, listPagesJson, pageJson } from "./pages.ts";
import { etagOf, parseEntityTags, writePrecondition } from "./preconditions.ts";

export interface ApiDeps extends BearerGateDeps {
  pages: PageStore;
  semanticSearch: SemanticSearch;
  maxBodyBytes: number;
}

const API_CLIENT = "api";
const REVISION = t.String({ pattern: "^[0-9a-fA-F]{4,40}$" });
const LIMIT = t.Optional(t.Integer({ minimum: 1, maximum: 1000 }));

export const PUT_PAGE_BODY = t.Object({
  content: t.String({ description: "The page's complete Markdown text" }),
  message: t.Optional(t.String({ maxLength: 500, description: "Commit message" })),
});
const putPageBody = getSchemaValidator(PUT_PAGE_BODY);

type PageAction = "page" | "history" | "diff";

/** Splits `/pages/<path>[/history|/diff]`; pages may not end in those names (page-path.ts). */
function pageTarget(wildcard: string): { path: string; action: PageAction } {
  let decoded: string;
  try {
    decoded = decodeURIComponent(wildcard);
  } catch {
    throw new ApiError(400, "invalid_path", "the page path is not valid percent-encoding");
  }
  for (const action of ["history", "diff"] as const) {
    if (decoded.endsWith(`/${action}`))
      return { path: decoded.slice(0, -action.length - 1), action };
  }
  return { path: decoded, action: "page" };
}

export function apiRoutes(deps: ApiDeps) {
  function gate(
    request: Request,
  ):
    | { wiki: Wiki; caller: Exclude<ReturnType<typeof authenticateWikiRequest>, Response> }
    | Response {
    const wiki = wikiOf(request);
    const caller = authenticateWikiRequest(deps, request, wiki);
    return caller instanceof Response ? caller : { wiki, caller };
  }

  /** For writes: the gate, the write checks, and the commit attribution. */
  function writer(request: Request): { wiki: Wiki; change: ChangeContext } | Response {
    const entered = gate(request);
    if (entered instanceof Response) return entered;
    const refusal = writeRefusal(deps, entered.wiki, entered.caller);
    if (refusal !== null) return refusal;
    const user = entered.caller.principal.user;
    if (user === null) throw new Error("writeRefusal admitted an anonymous caller");
    const client = commitClientOf(entered.caller.principal, API_CLIENT);
    return { wiki: entered.wiki, change: { author: commitAuthorOf(user), client } };
  }

  return new Elysia({ prefix: "/api/v1" })
    .get("/openapi.json", () => jsonResponse(openApiDocument(deps.publicUrl)))
    .get("/", async ({ request }) => {
      const entered = gate(request);
      if (entered instanceof Response) return entered;
      const { wiki, caller } = entered;
      const urls = wikiUrls(deps.publicUrl, wiki.slug);
      return jsonResponse({
        wiki: wiki.slug,
        name: wiki.name,
        public: wiki.isPublic,
        tier: wiki.tier,
        pages: await deps.pages.count(wiki),
        you: { role: caller.principal.role, can_write: canWrite(wiki, caller.principal) },
        urls: { browser: urls.url, mcp: urls.mcpUrl, git: urls.gitUrl },
      });
    })
    .get(
      "/pages",
      ({ request, query }) =>
        answer(async () => {
          const entered = gate(request);
          if (entered instanceof Response) return entered;
          return jsonResponse(
            await listPagesJson(deps.pages, entered.wiki, {
              prefix: query.prefix ?? "",
              limit: query.limit ?? 200,
              offset: query.offset ?? 0,
            }),
          );
        }),
      {
        query: t.Object({
          prefix: t.Optional(t.String({ maxLength: 600 })),
          limit: LIMIT,
          offset: t.Optional(t.Integer({ minimum: 0 })),
        }),
      },
    )
    .get(
      "/pages/*",
      ({ request, params, query }) =>
        answer(async () => {
          const entered = gate(request);
          if (entered instanceof Response) return entered;
          const { wiki } = entered;
          const target = pageTarget(params["*"]);
          if (target.action === "history") {
            const commits = await historyJson(deps.pages, wiki, {
              path: target.path,
              limit: query.limit ?? 50,
            });
            return jsonResponse({ path: target.path, commits });
          }
          if (target.action === "diff") {
            if (query.from === undefined) {
              throw new ApiError(400, "bad_request", "the diff needs ?from=<revision>");
            }
            const to = query.to ?? deps.pages.head(wiki);
            const diff = await deps.pages.diff(wiki, { path: target.path, from: query.from, to });
            return jsonResponse({ path: target.path, from: query.from, to, diff });
          }
          const page = await deps.pages.read(wiki, target.path, query.revision);
          const etag = etagOf(page.revision);
          const ifNoneMatch = parseEntityTags(request.headers.get("if-none-match"));
          if (ifNoneMatch === "*" || ifNoneMatch?.includes(page.revision)) {
            return new Response(null, { status: 304, headers: { etag } });
          }
          return jsonResponse(pageJson(page), 200, { etag });
        }),
      {
        query: t.Object({
          revision: t.Optional(REVISION),
          limit: LIMIT,
          from: t.Optional(REVISION),
          to: t.Optional(REVISION),
        }),
      },
    )
    .put(
      "/pages/*",
      ({ request, params }) =>
        answer(async () => {
          const entered = writer(request);
          if (entered instanceof Response) return entered;
          const { wiki, change } = entered;
          const target = pageTarget(params["*"]);
          if (target.action !== "page") throw new ApiError(405, "method_not_allowed", "use GET");
          // Read here rather than by Elysia, so chunked bodies obey the limit too.
          const text = await readTextWithin(request, deps.maxBodyBytes);
          if (text === null) {
            throw new ApiError(
              413,
              "body_too_large",
              `request bodies are limited to ${deps.maxBodyBytes} bytes`,
            );
          }
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            throw new ApiError(
              400,
              "bad_request",
              'the body must be JSON: {"content": "…", "message": "…"}',
            );
          }
          const body = putPageBody.safeParse(json);
          if (!body.success) {
            throw new ApiError(
              400,
              "bad_request",
              `invalid body: ${body.error ?? "expected {content, message?}"}`,
            );
          }
          const precondition = writePrecondition(
            request.headers.get("if-match"),
            request.headers.get("if-none-match"),
            true,
          );
          const expectedRevision = await expectedRevisionOf(
            deps.pages,
            wiki,
            target.path,
            precondition,
          );
          const result = await deps.pages.write(wiki, {
            ...change,
            path: target.path,
            content: body.data.content,
            message: body.data.message,
            expectedRevision,
          });
          return jsonResponse(toWriteResultWire(result), result.created ? 201 : 200, {
            etag: etagOf(result.revision),
          });
        }),
      { parse: "none" },
    )
    .delete("/pages/*", ({ request, params }) =>
      answer(async () => {
        const entered = writer(request);
        if (entered instanceof Response) return entered;
        const { wiki, change } = entered;
        const target = pageTarget(params["*"]);
        if (target.action !== "page") throw new ApiError(405, "method_not_allowed", "use GET");
        const precondition = writePrecondition(
          request.headers.get("if-match"),
          request.headers.get("if-none-match"),
          false,
        );
        const expected = await expectedRevisionOf(deps.pages, wiki, target.path, precondition);
        const result = await deps.pages.delete(wiki, {
          ...change,
          path: target.path,
          expectedRevision: expected ?? undefined,
        });
        return jsonResponse({
          path: result.path,
          revision: result.revision,
          deleted_revision: result.previousRevision,
        });
      }),
    )
    .get(
      "/search",
      ({ request, query }) =>
        answer(async () => {
          const entered = gate(request);
          if (entered instanceof Response) return entered;
          const result = await deps.pages.search(entered.wiki, query.q, query.limit ?? 20);
          return jsonResponse(searchJson(query.q, result));
        }),
      {
        query: t.Object({
          q: t.String({ minLength: 1, maxLength: 500 }),
          limit: t.Optional(t.Integer({ minimum: 1, maximum: 100 })),
        }),
      },
    )
    .get(
      "/semantic-search",
      ({ request, query }) =>
        answer(async () => {
          const entered = gate(request);
          if (entered instanceof Response) return entered;
          const result = await searchByMeaning(deps, entered.wiki, {
            query: query.q,
            limit: query.limit ?? DEFAULT_SEMANTIC_LIMIT,
            pathPrefix: query.path_prefix ?? null,
            mode: query.mode ?? DEFAULT_SEMANTIC_MODE,
          });
          return jsonResponse(semanticSearchJson(result));
        }),
      {
        query: t.Object({
          q: t.String({ minLength: 1, maxLength: 500 }),
          limit: t.Optional(t.Integer({ minimum: 1, maximum: MAX_SEMANTIC_LIMIT })),
          path_prefix: t.Optional(t.String({ minLength: 1, maxLength: 600 })),
          // Elysia fills a missing UnionEnum with its first value unless a default is given.
          mode: t.Optional(t.UnionEnum(SEMANTIC_SEARCH_MODES, { default: DEFAULT_SEMANTIC_MODE })),
        }),
      },
    )
    .get(
      "/history",
      ({ request, query }) =>
        answer(async () => {
          const entered = gate(request);
          if (entered instanceof Response) return entered;
          const since = query.since === undefined ? undefined : Date.parse(query.since);
          if (since !== undefined && Number.isNaN(since)) {
            throw new ApiError(400, "bad_request", "since must be an ISO 8601 date/time");
          }
          const head = deps.pages.head(entered.wiki);
          const commits = await historyJson(deps.pages, entered.wiki, {
            limit: query.limit ?? 50,
            after: query.after,
            since: since === undefined ? undefined : gitDate(since),
          });
          return jsonResponse({ head, commits });
        }),
      {
        query: t.Object({
          limit: LIMIT,
          since: t.Optional(t.String({ maxLength: 64 })),
          after: t.Optional(REVISION),
        }),
      },
    );
}
