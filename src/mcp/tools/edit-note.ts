/** edit_note: exact find/replace, append, prepend or section replacement, returning the diff. */
import { z } from "zod";
import type { PageEdit } from "../../pages/page-edit.ts";
import { defineTool } from "../tool-context.ts";
import { ToolError } from "../tool-error.ts";
import {
  expectedRevisionField,
  messageField,
  pathField,
  requireWriter,
  trimDiff,
  withConflictExplained,
  writeResultOutput,
  writeResultStructured,
} from "../tool-format.ts";

export const editNote = defineTool({
  name: "edit_note",
  title: "Edit part of a page",
  description:
    "Change part of an existing page without resending all of it. Give exactly one of: edits (a list of {old_text, new_text}; each old_text must match the current text exactly once, including spaces and line breaks but without read_note's line numbers; set replace_all to change every match; edits apply in order), append (text added on a new line at the end), prepend (text added at the start, after any YAML front matter), or replace_section ({heading, content}: replaces everything under that heading up to the next heading of the same or higher level; the heading line is kept unless content starts with it). An old_text that matches nowhere or more than once changes nothing and the error says where it matched or what is closest. Returns the new revision and the unified diff that was applied.",
  access: "write",
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: false,
    openWorldHint: false,
  },
  inputSchema: {
    path: pathField,
    edits: z
      .array(
        z.object({
          old_text: z.string().min(1).describe("Exact text to find (without line numbers)"),
          new_text: z.string().describe("Replacement text (may be empty to delete)"),
          replace_all: z
            .boolean()
            .optional()
            .describe("Replace every match instead of exactly one"),
        }),
      )
      .min(1)
      .max(100)
      .optional(),
    append: z.string().optional().describe("Text to add at the end of the page"),
    prepend: z.string().optional().describe("Text to add at the start (after front matter)"),
    replace_section: z
      .object({
        heading: z
          .string()
          .min(1)
          .describe('Heading text, optionally with its level: "Results" or "## Results"'),
        content: z.string().describe("New text for the section"),
      })
      .optional(),
    expected_revision: expectedRevisionField,
    message: messageField,
  },
  outputSchema: {
    ...writeResultOutput,
    diff: z.string().describe("Unified diff of the change that was applied"),
    diff_truncated: z.boolean(),
  },
  async run(input, context) {
    const change = requireWriter(context);
    const given = [
      input.edits === undefined
        ? null
        : {
            kind: "replace" as const,
            replacements: input.edits.map((edit) => ({
              oldText: edit.old_text,
              newText: edit.new_text,
              replaceAll: edit.replace_all,
            })),
          },
      input.append === undefined ? null : { kind: "append" as const, text: input.append },
      input.prepend === undefined ? null : { kind: "prepend" as const, text: input.prepend },
      input.replace_section === undefined
        ? null
        : { kind: "replace_section" as const, ...input.replace_section },
    ].filter((edit) => edit !== null);
    const edit: PageEdit | undefined = given[0];
    if (edit === undefined || given.length > 1) {
      throw new ToolError(
        "invalid_arguments",
        "give exactly one of edits, append, prepend or replace_section",
      );
    }
    const expected = input.expected_revision?.toLowerCase();
    const result = await withConflictExplained(context, input.path, expected, () =>
      context.pages.edit(context.wiki, {
        ...change,
        message: input.message,
        path: input.path,
        edit,
        expectedRevision: expected,
      }),
    );
    const diff =
      result.changed && result.previousRevision !== null
        ? trimDiff(
            await context.pages.diff(context.wiki, {
              path: result.path,
              from: result.previousRevision,
              to: result.revision,
            }),
            300,
          )
        : { text: "", truncated: false };
    const summary = result.changed
      ? `Edited "${result.path}": revision ${result.previousRevision} → ${result.revision}.\n${diff.text}`
      : `No change: the edit left "${result.path}" as it was (revision ${result.revision}).`;
    return {
      text: summary,
      structured: {
        ...writeResultStructured(result),
        diff: diff.text,
        diff_truncated: diff.truncated,
      },
    };
  },
});
