/**
 * The answer to a page write, as REST and MCP both send it: one definition, so the two
 * protocols cannot drift apart (the OpenAPI schema is generated from it too).
 */
import { z } from "zod";
import type { WriteResult } from "./page-store.ts";

export const writeResultWire = z.object({
  path: z.string(),
  revision: z
    .string()
    .describe("The page's revision now: pass it as expected_revision (or If-Match) next time"),
  previous_revision: z.string().nullable().describe("The revision replaced; null for a new page"),
  created: z.boolean(),
  changed: z.boolean().describe("False when the content was already exactly this"),
  lines_added: z
    .number()
    .int()
    .nullable()
    .describe("Lines added, as a line diff counts them; null if the old text was not readable"),
  lines_removed: z.number().int().nullable().describe("Lines removed, likewise"),
  first_changed_line: z
    .number()
    .int()
    .nullable()
    .describe("The first line of the new text that differs; null when nothing changed"),
});

export type WriteResultWire = z.infer<typeof writeResultWire>;

export function toWriteResultWire(result: WriteResult): WriteResultWire {
  return {
    path: result.path,
    revision: result.revision,
    previous_revision: result.previousRevision,
    created: result.created,
    changed: result.changed,
    lines_added: result.lines?.linesAdded ?? null,
    lines_removed: result.lines?.linesRemoved ?? null,
    first_changed_line: result.lines?.firstChangedLine ?? null,
  };
}

/** OpenAPI 3.1 uses JSON Schema 2020-12; the document's own dialect applies, so no $schema. */
export function writeResultJsonSchema(): Record<string, unknown> {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(writeResultWire, {
    target: "draft-2020-12",
  });
  return schema;
}

/** "+3 −1 lines from line 12": the change in a few words, for a reply an agent reads. */
export function describeLineChange(result: WriteResult): string {
  const lines = result.lines;
  if (lines === null) return "the old text was over the size limit, so no line counts";
  const counted = `+${lines.linesAdded} −${lines.linesRemoved} line${lines.linesAdded + lines.linesRemoved === 1 ? "" : "s"}`;
  return lines.firstChangedLine === null
    ? counted
    : `${counted} from line ${lines.firstChangedLine}`;
}
