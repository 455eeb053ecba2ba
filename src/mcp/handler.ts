/**
 * The fetch handler for `/mcp` and the RFC 9728 documents on a wiki host. Stateless Streamable
 * HTTP (notes/mcp-and-oauth.md §1): every POST gets a fresh McpServer and transport, after the
 * bearer gate has run, so a changed role or a revoked token applies to the very next request.
 * GET and DELETE answer 405 after authentication (clients need the 401 there too).
 */
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { InitializeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { decideAccess } from "../auth/access-decision.ts";
import { authenticateWikiRequest, type BearerGateDeps, bearerRefusal } from "../auth/bearer.ts";
import { commitAuthorOf, commitClientOf, sanitizeClientName } from "../auth/commit-author.ts";
import {
  MCP_PATH,
  PROTECTED_RESOURCE_METADATA_PATH,
  protectedResourceMetadata,
  wikiOrigin,
} from "../auth/protected-resource-metadata.ts";
import { readTextWithin } from "../http/body-limit.ts";
import { jsonError, jsonResponse } from "../http/json.ts";
import { wikiOf } from "../http/request-context.ts";
import type { Logger } from "../lib/log.ts";
import type { PageStore } from "../pages/page-store.ts";
import type { SemanticSearch } from "../search/search-service.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { type ClientIdentity, issueSessionId, readSessionId } from "./client-session.ts";
import { wikiInstructions } from "./instructions.ts";
import { createWikiMcpServer } from "./server.ts";
import type { ToolContext } from "./tool-context.ts";
import { WRITE_TOOL_NAMES } from "./tool-registry.ts";

export interface McpHandlerDeps extends BearerGateDeps {
  pages: PageStore;
  semanticSearch: SemanticSearch;
  logger: Logger;
  maxBodyBytes: number;
  /** Key for signing the client-name session ids (derived from the server secret). */
  sessionKey: string;
  /** The OAuth issuers for a wiki's MCP resource; empty until the authorization server exists. */
  authorizationServers(wiki: Wiki): readonly string[];
  /** Serves `/.well-known/oauth-authorization-server*` when the authorization server exists. */
  authorizationServerMetadata: ((request: Request) => Promise<Response>) | null;
}

/** JSON-RPC's "server error" range (-32000 to -32099) for refusals outside any one method. */
const SERVER_ERROR = -32000;
/** JSON-RPC 2.0 §5.1: "The JSON sent is not a valid Request object." */
const INVALID_REQUEST = -32600;

function rpcError(
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return jsonResponse({ jsonrpc: "2.0", error: { code, message }, id: null }, status, headers);
}

function isWriteToolCall(message: unknown): boolean {
  if (typeof message !== "object" || message === null) return false;
  if (!("method" in message) || message.method !== "tools/call") return false;
  if (!("params" in message) || typeof message.params !== "object" || message.params === null) {
    return false;
  }
  const params = message.params;
  return "name" in params && typeof params.name === "string" && WRITE_TOOL_NAMES.has(params.name);
}

function initializeClient(messages: readonly unknown[]): ClientIdentity | null {
  for (const message of messages) {
    const parsed = InitializeRequestSchema.safeParse(message);
    if (parsed.success) return parsed.data.params.clientInfo;
  }
  return null;
}

function withHeader(response: Response, name: string, value: string): Response {
  const headers = new Headers(response.headers);
  headers.set(name, value);
  return new Response(response.body, { status: response.status, headers });
}

export function createMcpHandler(deps: McpHandlerDeps): (request: Request) => Promise<Response> {
  function metadata(request: Request, wiki: Wiki, path: string): Response {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return jsonError(405, "method_not_allowed", "use GET", { allow: "GET, HEAD" });
    }
    const document = protectedResourceMetadata({
      publicUrl: deps.publicUrl,
      slug: wiki.slug,
      wikiName: wiki.name,
      resourcePath: path === PROTECTED_RESOURCE_METADATA_PATH ? "" : MCP_PATH,
      authorizationServers: deps.authorizationServers(wiki),
    });
    // Public metadata: any origin may read it (browser-based MCP clients discover with it).
    return jsonResponse(document, 200, {
      "access-control-allow-origin": "*",
      "cache-control": "public, max-age=300",
    });
  }

  async function mcp(request: Request, wiki: Wiki): Promise<Response> {
    const caller = authenticateWikiRequest(deps, request, wiki);
    if (caller instanceof Response) return caller;
    const usable = decideAccess(wiki, caller.principal, "mcp");
    if (!usable.allowed) return rpcError(403, SERVER_ERROR, usable.refusal.message);
    if (request.method !== "POST") {
      return rpcError(405, SERVER_ERROR, "this MCP endpoint is stateless and answers POST only", {
        allow: "POST",
      });
    }
    const text = await readTextWithin(request, deps.maxBodyBytes);
    if (text === null) {
      return rpcError(
        413,
        SERVER_ERROR,
        `request bodies are limited to ${deps.maxBodyBytes} bytes`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return rpcError(400, -32700, "Parse error: the body is not JSON");
    }
    if (Array.isArray(body)) {
      // MCP 2025-06-18 removed JSON-RPC batching (the SDK would still run up to 100 calls from
      // one POST). One message per request keeps a request's work to one call.
      return rpcError(
        400,
        INVALID_REQUEST,
        "Invalid Request: JSON-RPC batching is not supported; send one message per request",
      );
    }
    const messages: unknown[] = [body];
    if (messages.some(isWriteToolCall)) {
      // What new credentials can fix is answered at the HTTP level, so an OAuth client can sign
      // in or ask for more scope; the rest (role, plan) is a tool error the agent can read.
      const write = decideAccess(wiki, caller.principal, "write");
      if (
        !write.allowed &&
        (write.refusal.reason === "unauthenticated" || write.refusal.reason === "read_only_token")
      )
        return bearerRefusal(deps, wiki, write.refusal);
    }

    const { principal } = caller;
    const initializing = initializeClient(messages);
    const client =
      initializing ??
      readSessionId(deps.sessionKey, request.headers.get("mcp-session-id"), principal.tokenId);
    const context: ToolContext = {
      wiki,
      principal,
      pages: deps.pages,
      semanticSearch: deps.semanticSearch,
      publicUrl: deps.publicUrl,
      logger: deps.logger,
      change:
        principal.user === null
          ? null
          : {
              author: commitAuthorOf(principal.user),
              client: commitClientOf(
                principal,
                `mcp/${client === null ? "unknown" : sanitizeClientName(client.name)}`,
              ),
            },
    };
    const instructions =
      initializing === null
        ? undefined
        : wikiInstructions({
            wiki,
            principal,
            browserUrl: `${wikiOrigin(deps.publicUrl, wiki.slug)}/`,
            pageCount: await deps.pages.count(wiki),
          });
    const server = createWikiMcpServer(context, instructions);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    await server.connect(transport);
    let response: Response;
    try {
      response = await transport.handleRequest(request, {
        parsedBody: body,
        authInfo: caller.authInfo ?? undefined,
      });
    } finally {
      // Safe in JSON mode: the response is complete before handleRequest resolves.
      await server.close();
    }
    if (initializing !== null && response.ok) {
      return withHeader(
        response,
        "mcp-session-id",
        issueSessionId(deps.sessionKey, initializing, principal.tokenId),
      );
    }
    return response;
  }

  return async (request) => {
    const wiki = wikiOf(request);
    const path = URL.parse(request.url)?.pathname ?? "";
    if (
      path === PROTECTED_RESOURCE_METADATA_PATH ||
      path === `${PROTECTED_RESOURCE_METADATA_PATH}${MCP_PATH}`
    ) {
      return metadata(request, wiki, path);
    }
    if (path.startsWith("/.well-known/oauth-authorization-server")) {
      if (deps.authorizationServerMetadata !== null)
        return deps.authorizationServerMetadata(request);
      return jsonError(
        404,
        "not_found",
        "this wiki has no OAuth authorization server yet; connect with a wiki token (Authorization: Bearer <token>)",
      );
    }
    if (path !== MCP_PATH) return jsonError(404, "not_found", "no such route");
    return mcp(request, wiki);
  };
}
