/** MCP test helpers: the SDK's own Client over Streamable HTTP against a wiki host of the test server. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { TestServer } from "./server.ts";

/** A raw JSON-RPC `initialize`, as an MCP client's first request sends it. */
export const INITIALIZE_MESSAGE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "raw-http", version: "1" },
  },
};

/** The status of a raw `initialize` on the wiki's /mcp with this bearer token: "does it work". */
export async function mcpInitializeStatus(
  t: TestServer,
  slug: string,
  token: string,
): Promise<number> {
  const response = await fetch(`${t.wikiOrigin(slug)}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify(INITIALIZE_MESSAGE),
  });
  await response.arrayBuffer();
  return response.status;
}

export async function connectMcp(
  t: TestServer,
  slug: string,
  token: string | null,
  clientName = "wikibot-tests",
): Promise<Client> {
  const client = new Client({ name: clientName, version: "1.0.0" });
  const headers: Record<string, string> =
    token === null ? {} : { authorization: `Bearer ${token}` };
  const transport = new StreamableHTTPClientTransport(new URL(`${t.wikiOrigin(slug)}/mcp`), {
    requestInit: { headers },
  });
  await client.connect(transport);
  return client;
}

/** Calls a tool and returns its result, failing the test if the call itself errors. */
export async function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<CallToolResult> {
  const result = await client.callTool({ name, arguments: args });
  if (!("content" in result) || !Array.isArray(result.content)) {
    throw new Error(`tool ${name} returned no content`);
  }
  return { ...result, content: result.content };
}

/** The text of a tool result's first content block. */
export function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first !== undefined && first.type === "text" ? first.text : "";
}

/** A tool result's structured content, or a thrown error when it has none. */
export function structuredOf(result: CallToolResult): Record<string, unknown> {
  if (result.structuredContent === undefined) {
    throw new Error(`no structured content: ${textOf(result)}`);
  }
  return result.structuredContent;
}
