/**
 * The OpenAPI 3.1 description of /api/v1, written by hand next to the routes it describes;
 * test/api.test.ts checks that every route is listed here, that the document validates, and
 * that real responses match these schemas.
 */
import { searchJsonSchema } from "../pages/search-wire.ts";
import { writeResultJsonSchema } from "../pages/write-wire.ts";
import {
  DEFAULT_SEMANTIC_LIMIT,
  DEFAULT_SEMANTIC_MODE,
  FUSION_DESCRIPTION,
  MAX_SEMANTIC_LIMIT,
  SEMANTIC_SEARCH_MODES,
  semanticSearchJsonSchema,
} from "../search/semantic-hits.ts";

const json = (schema: Record<string, unknown>) => ({ "application/json": { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const error = (description: string) => ({ description, content: json(ref("Error")) });

const REVISION = { type: "string", pattern: "^[0-9a-f]{40}$", description: "A commit id" };

const pathParameter = {
  name: "path",
  in: "path",
  required: true,
  description:
    'The page path without ".md", percent-encoded; its slashes may stay literal: /pages/Research/Topic%20A',
  schema: { type: "string" },
};
const limitParameter = (fallback: number, maximum = 1000) => ({
  name: "limit",
  in: "query",
  schema: { type: "integer", minimum: 1, maximum, default: fallback },
});

const unauthorized = error(
  "No or invalid credentials. `WWW-Authenticate: Bearer resource_metadata=…` points at the wiki's RFC 9728 metadata.",
);
const forbidden = error(
  "A foreign Origin, no role on this wiki, a read-only token (insufficient_scope), a lapsed wiki, or a write past the plan's page or byte quota (plan_limit)",
);
const readErrors = { "400": error("Malformed request"), "401": unauthorized, "403": forbidden };
const writeErrors = {
  ...readErrors,
  "409": error("The target exists, or differs only in letter case from an existing page"),
  "412": error("If-Match / If-None-Match failed; `current_revision` says where the page is now"),
  "413": error("The body or the page is too large"),
  "503": error("The server is shutting down; retry"),
};

const schemas = {
  Error: {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message"],
        properties: {
          code: { type: "string" },
          message: { type: "string" },
          current_revision: { type: ["string", "null"], description: "On 412" },
          suggestions: { type: "array", items: { type: "string" }, description: "On 404" },
        },
      },
    },
  },
  PageSummary: {
    type: "object",
    required: ["path", "title", "revision", "size", "changed_at", "author"],
    properties: {
      path: { type: "string" },
      title: { type: "string" },
      revision: REVISION,
      size: { type: "integer", description: "Bytes" },
      changed_at: { type: "string", format: "date-time" },
      author: { type: "string" },
    },
  },
  Page: {
    allOf: [
      ref("PageSummary"),
      {
        type: "object",
        required: ["content", "total_lines"],
        properties: { content: { type: "string" }, total_lines: { type: "integer" } },
      },
    ],
  },
  WriteResult: writeResultJsonSchema(),
  Commit: {
    type: "object",
    required: ["revision", "time", "author", "client", "message", "pages", "page_count"],
    properties: {
      revision: REVISION,
      time: { type: "string", format: "date-time" },
      author: { type: "string" },
      client: { type: ["string", "null"], description: "e.g. mcp/claude-code, api, browser" },
      message: { type: "string" },
      pages: { type: "array", items: { type: "string" }, maxItems: 100 },
      page_count: { type: "integer" },
    },
  },
  SemanticSearchResult: semanticSearchJsonSchema(),
  SearchResult: searchJsonSchema(),
};

export function openApiDocument(publicUrl: URL): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: {
      title: "wikibot wiki API",
      version: "1.0.0",
      description:
        "Read and change one wiki's pages. Every page read returns its revision as the ETag; send it back in If-Match to write only if nobody changed the page since.",
    },
    servers: [
      {
        url: `${publicUrl.protocol}//{slug}.${publicUrl.host}/api/v1`,
        description: "One wiki: {slug} is its name in the URL",
        variables: { slug: { default: "demo" } },
      },
    ],
    security: [{ wikiToken: [] }, {}],
    components: {
      securitySchemes: {
        wikiToken: {
          type: "http",
          scheme: "bearer",
          description: "A wiki token (wbt_…). Public wikis can be read without one.",
        },
      },
      schemas,
    },
    paths: {
      "/": {
        get: {
          operationId: "getWiki",
          summary: "The wiki and what the caller may do",
          responses: {
            "200": {
              description: "The wiki",
              content: json({
                type: "object",
                required: ["wiki", "name", "public", "tier", "pages", "you", "urls"],
                properties: {
                  wiki: { type: "string" },
                  name: { type: "string" },
                  public: { type: "boolean" },
                  tier: { type: "string", enum: ["free", "premium", "lapsed"] },
                  pages: { type: "integer" },
                  you: {
                    type: "object",
                    required: ["role", "can_write"],
                    properties: {
                      role: { type: ["string", "null"], enum: ["viewer", "editor", "owner", null] },
                      can_write: { type: "boolean" },
                    },
                  },
                  urls: {
                    type: "object",
                    required: ["browser", "mcp", "git"],
                    properties: {
                      browser: { type: "string" },
                      mcp: { type: "string" },
                      git: { type: "string" },
                    },
                  },
                },
              }),
            },
            ...readErrors,
          },
        },
      },
      "/openapi.json": {
        get: {
          operationId: "getOpenApi",
          summary: "This document",
          security: [{}],
          responses: { "200": { description: "OpenAPI 3.1", content: json({ type: "object" }) } },
        },
      },
      "/pages": {
        get: {
          operationId: "listPages",
          summary: "List pages, optionally under a path prefix",
          parameters: [
            { name: "prefix", in: "query", schema: { type: "string", maxLength: 600 } },
            limitParameter(200),
            { name: "offset", in: "query", schema: { type: "integer", minimum: 0, default: 0 } },
          ],
          responses: {
            "200": {
              description: "Pages in path order",
              content: json({
                type: "object",
                required: ["total", "pages", "next_offset"],
                properties: {
                  total: { type: "integer" },
                  pages: { type: "array", items: ref("PageSummary") },
                  next_offset: { type: ["integer", "null"] },
                },
              }),
            },
            ...readErrors,
          },
        },
      },
      "/pages/{path}": {
        parameters: [pathParameter],
        get: {
          operationId: "getPage",
          summary: "Read a page (now, or at a revision)",
          parameters: [
            { name: "revision", in: "query", schema: REVISION },
            { name: "If-None-Match", in: "header", schema: { type: "string" } },
          ],
          responses: {
            "200": {
              description: "The page; ETag is its revision",
              headers: { ETag: { schema: { type: "string" } } },
              content: json(ref("Page")),
            },
            "304": { description: "If-None-Match matched the current revision" },
            "404": error("No such page; `suggestions` lists the closest paths"),
            ...readErrors,
          },
        },
        put: {
          operationId: "putPage",
          summary: "Create or replace a page",
          parameters: [
            {
              name: "If-Match",
              in: "header",
              description: "The revision you read: write only if the page is still at it",
              schema: { type: "string" },
            },
            {
              name: "If-None-Match",
              in: "header",
              description: "`*`: create only, never replace",
              schema: { type: "string", enum: ["*"] },
            },
          ],
          requestBody: {
            required: true,
            content: json({
              type: "object",
              required: ["content"],
              properties: {
                content: { type: "string", description: "Complete Markdown (≤ 1,000,000 bytes)" },
                message: { type: "string", maxLength: 500, description: "Commit message" },
              },
            }),
          },
          responses: {
            "200": { description: "Replaced (or unchanged)", content: json(ref("WriteResult")) },
            "201": { description: "Created", content: json(ref("WriteResult")) },
            ...writeErrors,
          },
        },
        delete: {
          operationId: "deletePage",
          summary: "Delete a page (history keeps it)",
          parameters: [{ name: "If-Match", in: "header", schema: { type: "string" } }],
          responses: {
            "200": {
              description: "Deleted",
              content: json({
                type: "object",
                required: ["path", "revision", "deleted_revision"],
                properties: {
                  path: { type: "string" },
                  revision: REVISION,
                  deleted_revision: REVISION,
                },
              }),
            },
            "404": error("No such page"),
            ...writeErrors,
          },
        },
      },
      "/pages/{path}/history": {
        parameters: [pathParameter],
        get: {
          operationId: "getPageHistory",
          summary: "Commits that changed the page, newest first",
          parameters: [limitParameter(50)],
          responses: {
            "200": {
              description: "History",
              content: json({
                type: "object",
                required: ["path", "commits"],
                properties: {
                  path: { type: "string" },
                  commits: { type: "array", items: ref("Commit") },
                },
              }),
            },
            ...readErrors,
          },
        },
      },
      "/pages/{path}/diff": {
        parameters: [pathParameter],
        get: {
          operationId: "getPageDiff",
          summary: "Unified diff of the page between two revisions",
          parameters: [
            { name: "from", in: "query", required: true, schema: REVISION },
            { name: "to", in: "query", description: "Default: now", schema: REVISION },
          ],
          responses: {
            "200": {
              description: "The diff (empty when equal)",
              content: json({
                type: "object",
                required: ["path", "from", "to", "diff"],
                properties: {
                  path: { type: "string" },
                  from: { type: "string" },
                  to: { type: "string" },
                  diff: { type: "string" },
                },
              }),
            },
            ...readErrors,
          },
        },
      },
      "/search": {
        get: {
          operationId: "search",
          summary: 'Full-text search (words, "phrases", OR, -word or NOT word, prefix*)',
          parameters: [
            {
              name: "q",
              in: "query",
              required: true,
              schema: { type: "string", minLength: 1, maxLength: 500 },
            },
            limitParameter(20, 100),
          ],
          responses: {
            "200": {
              description:
                "Best matches first. A word in the title or a heading weighs more than one in the text, and a page with a heading made of the query's words ranks higher still. `total` counts every matching page; `more_available` says that more match than `limit` returned.",
              content: json(ref("SearchResult")),
            },
            ...readErrors,
          },
        },
      },
      "/semantic-search": {
        get: {
          operationId: "semanticSearch",
          summary: "Search by meaning (vector search), alone or fused with full text",
          description: `One hit per page, best first, with its heading path, line range, a plain snippet, its revision, and each ranking's place. mode ${DEFAULT_SEMANTIC_MODE} (default): ${FUSION_DESCRIPTION}. mode semantic: the meaning ranking alone; score is then the cosine similarity. While the wiki is still being indexed, \`indexing.pending_pages\` says how many pages may be missing or stale.`,
          parameters: [
            {
              name: "q",
              in: "query",
              required: true,
              description: "A question or description in natural language",
              schema: { type: "string", minLength: 1, maxLength: 500 },
            },
            limitParameter(DEFAULT_SEMANTIC_LIMIT, MAX_SEMANTIC_LIMIT),
            {
              name: "path_prefix",
              in: "query",
              description: "Only pages whose path starts with this",
              schema: { type: "string", minLength: 1, maxLength: 600 },
            },
            {
              name: "mode",
              in: "query",
              schema: {
                type: "string",
                enum: [...SEMANTIC_SEARCH_MODES],
                default: DEFAULT_SEMANTIC_MODE,
              },
            },
          ],
          responses: {
            "200": {
              description: "Best matches first",
              content: json(ref("SemanticSearchResult")),
            },
            ...readErrors,
            "503": error(
              "`search_unavailable`: the search worker is not running (e.g. its model is missing); full-text /search still works",
            ),
          },
        },
      },
      "/history": {
        get: {
          operationId: "getHistory",
          summary: "The wiki's commits, newest first",
          parameters: [
            limitParameter(50),
            {
              name: "since",
              in: "query",
              description: "Only commits at or after this ISO 8601 time",
              schema: { type: "string" },
            },
            {
              name: "after",
              in: "query",
              description: "Only commits after this revision (pass the last `head` you saw)",
              schema: REVISION,
            },
          ],
          responses: {
            "200": {
              description: "Commits",
              content: json({
                type: "object",
                required: ["head", "commits"],
                properties: {
                  head: REVISION,
                  commits: { type: "array", items: ref("Commit") },
                },
              }),
            },
            ...readErrors,
          },
        },
      },
    },
  };
}
