/** createWikiMcpServer: one McpServer for one request to one wiki, with every wiki tool registered. */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { ToolContext } from "./tool-context.ts";
import { WIKI_TOOLS } from "./tool-registry.ts";

export const SERVER_VERSION = "0.1.0";

export function createWikiMcpServer(
  context: ToolContext,
  instructions: string | undefined,
): McpServer {
  const server = new McpServer(
    { name: "wikibot", title: `${context.wiki.name} (wikibot)`, version: SERVER_VERSION },
    { instructions, capabilities: { tools: {} } },
  );
  for (const tool of WIKI_TOOLS) tool.register(server, context);
  return server;
}
