/** The wiki's REST API at /api/v1 on the wiki host. */
import { Elysia } from "elysia";
import {
  ANONYMOUS,
  canRead,
  canWrite,
  resolveWikiToken,
  type WikiAccessDeps,
} from "../auth/wiki-access.ts";
import { jsonError, jsonResponse } from "../http/json.ts";
import { wikiOf } from "../http/request-context.ts";
import type { PageStore } from "../pages/page-store.ts";
import { wikiUrls } from "../wikis/wiki-urls.ts";

export interface ApiDeps extends WikiAccessDeps {
  pages: PageStore;
  publicUrl: URL;
}

function bearerToken(request: Request): string | null {
  const header = request.headers.get("authorization");
  if (header === null) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1] ?? "";
}

export function apiRoutes(deps: ApiDeps) {
  return new Elysia({ prefix: "/api/v1" }).get("/", async ({ request }) => {
    const wiki = wikiOf(request);
    const access = resolveWikiToken(deps, wiki, bearerToken(request));
    if (access.kind === "invalid") {
      return jsonError(401, "invalid_token", access.reason, {
        "www-authenticate": 'Bearer error="invalid_token"',
      });
    }
    const principal = access.kind === "authenticated" ? access.principal : ANONYMOUS;
    if (!canRead(wiki, principal)) {
      return access.kind === "anonymous"
        ? jsonError(
            401,
            "unauthorized",
            "this wiki is private; send Authorization: Bearer <wiki token>",
            { "www-authenticate": "Bearer" },
          )
        : jsonError(403, "forbidden", "you have no role on this wiki");
    }
    const urls = wikiUrls(deps.publicUrl, wiki.slug);
    return jsonResponse({
      wiki: wiki.slug,
      name: wiki.name,
      public: wiki.isPublic,
      tier: wiki.tier,
      pages: (await deps.pages.list(wiki)).length,
      you: { role: principal.role, can_write: canWrite(wiki, principal) },
      urls: { browser: urls.url, mcp: urls.mcpUrl, git: urls.gitUrl },
    });
  });
}
