/**
 * What every MCP tool receives: the wiki, the caller, the page store, and how to attribute a
 * change. Built once per HTTP request (the server is stateless), so the role it carries was read
 * from the ACL for this very request.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { ZodRawShapeCompat } from "@modelcontextprotocol/sdk/server/zod-compat.js";
import { type ZodRawShape, z } from "zod";
import type { Principal } from "../auth/wiki-access.ts";
import type { Logger } from "../lib/log.ts";
import type { ChangeContext, PageStore } from "../pages/page-store.ts";
import type { SemanticSearch } from "../search/search-service.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { toolErrorResult } from "./tool-error.ts";

export interface ToolContext {
  wiki: Wiki;
  principal: Principal;
  pages: PageStore;
  /** The search worker's side of `semantic_search`. */
  semanticSearch: SemanticSearch;
  publicUrl: URL;
  logger: Logger;
  /** Commit attribution, or null when the caller may not write (anonymous). */
  change: ChangeContext | null;
}

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: false;
}

/** A tool's reply: readable text for the model plus the same facts as structured content. */
export interface ToolReply {
  text: string;
  structured: Record<string, unknown>;
}

/**
 * One MCP tool. `access: "write"` tools are refused before they run when the caller's
 * credentials cannot write (see mcp/handler.ts), and again inside by `requireWriter`.
 */
export interface ToolDefinition<Input extends ZodRawShape, Output extends ZodRawShape> {
  name: string;
  title: string;
  description: string;
  access: "read" | "write";
  annotations: ToolAnnotations;
  inputSchema: Input;
  outputSchema: Output;
  run(input: z.output<z.ZodObject<Input>>, context: ToolContext): Promise<ToolReply>;
}

/** A tool with its schema types erased, so the registry can hold tools of every shape. */
export interface WikiTool {
  name: string;
  access: "read" | "write";
  register(server: McpServer, context: ToolContext): void;
}

/** Binds a tool's handler to its own schemas; errors become `isError` results via one mapper. */
export function defineTool<Input extends ZodRawShape, Output extends ZodRawShape>(
  tool: ToolDefinition<Input, Output>,
): WikiTool {
  const inputObject = z.object(tool.inputSchema);
  // The SDK's callback types cannot follow a generic shape, so it is registered erased and the
  // arguments (already validated by the SDK against this same schema) are parsed back to type.
  const erasedInput: ZodRawShapeCompat = tool.inputSchema;
  const erasedOutput: ZodRawShapeCompat = tool.outputSchema;
  return {
    name: tool.name,
    access: tool.access,
    register(server, context) {
      server.registerTool(
        tool.name,
        {
          title: tool.title,
          description: tool.description,
          inputSchema: erasedInput,
          outputSchema: erasedOutput,
          annotations: { title: tool.title, ...tool.annotations },
        },
        async (input) => {
          try {
            const reply = await tool.run(inputObject.parse(input), context);
            return {
              content: [{ type: "text", text: reply.text }],
              structuredContent: reply.structured,
            };
          } catch (error) {
            return toolErrorResult(error, context.logger, tool.name);
          }
        },
      );
    },
  };
}

export const READ_ONLY: ToolAnnotations = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
};
