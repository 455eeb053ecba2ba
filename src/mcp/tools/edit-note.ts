/**
 * edit_note: exact find/replace, append, prepend, section replacement or insertion. The reply is
 * revision → revision and line counts; the applied diff only on request, since an agent that
 * replaced a 40-line section rarely needs 4 kB of it read back (issue 13).
 */
import { z } from "zod";
import type { PageEdit } from "../../pages/page-edit.ts";
import { describeLineChange, toWriteResultWire } from "../../pages/write-wire.ts";
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
} from "../tool-format.ts";

export const editNote = defineTool({
  name: "edit_note",
  title: "Edit part of a page",
  description:
    'Change part of an existing page without resending all of it. Give exactly one of: edits (a list of {old_text, new_text}; each old_text must match the current text exactly once, including spaces and line breaks but without read_note\'s line numbers; set replace_all to change every match, or expected_replacements: N to change every match only if there are exactly N; edits apply in order), append (text added on a new line at the end), prepend (text added at the start, after any YAML front matter), replace_section ({heading, content}: replaces everything under that heading up to the next heading of the same or higher level; the heading line is kept unless content starts with it), or insert ({heading, position: "before" | "after", text}: new lines just above the section\'s heading, or after the section\'s last line, subsections included). A heading is its text ("Results"), with its level ("## Results") or a path ("Methods/Setup"), in any case. An old_text that matches nowhere or a different number of times changes nothing, and the error says where it matched or what is closest. Returns revision → revision and the lines added and removed; pass return_diff: true to get the applied diff too.',
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
          expected_replacements: z
            .number()
            .int()
            .min(1)
            .max(10_000)
            .optional()
            .describe("Replace every match, only if old_text matches exactly this many times"),
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
    insert: z
      .object({
        heading: z
          .string()
          .min(1)
          .describe('The section: "Results", "## Results" or "Methods/Setup"'),
        position: z
          .enum(["before", "after"])
          .describe("before: above its heading; after: after its last line"),
        text: z.string().min(1).describe("The lines to insert"),
      })
      .optional(),
    return_diff: z
      .boolean()
      .optional()
      .describe("Also return the unified diff that was applied (default false)"),
    expected_revision: expectedRevisionField,
    message: messageField,
  },
  outputSchema: {
    ...writeResultOutput,
    diff: z
      .string()
      .optional()
      .describe("Unified diff of the change that was applied (with return_diff)"),
    diff_truncated: z.boolean().optional(),
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
              expectedCount: edit.expected_replacements,
            })),
          },
      input.append === undefined ? null : { kind: "append" as const, text: input.append },
      input.prepend === undefined ? null : { kind: "prepend" as const, text: input.prepend },
      input.replace_section === undefined
        ? null
        : { kind: "replace_section" as const, ...input.replace_section },
      input.insert === undefined ? null : { kind: "insert" as const, ...input.insert },
    ].filter((edit) => edit !== null);
    const edit: PageEdit | undefined = given[0];
    if (edit === undefined || given.length > 1) {
      throw new ToolError(
        "invalid_arguments",
        "give exactly one of edits, append, prepend, replace_section or insert",
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
    const wantDiff = input.return_diff === true && result.changed;
    const diff =
      wantDiff && result.previousRevision !== null
        ? trimDiff(
            await context.pages.diff(context.wiki, {
              path: result.path,
              from: result.previousRevision,
              to: result.revision,
            }),
            300,
          )
        : null;
    const summary = result.changed
      ? `Edited "${result.path}": revision ${result.previousRevision} → ${result.revision} (${describeLineChange(result)}).${diff === null ? "" : `\n${diff.text}`}`
      : `No change: the edit left "${result.path}" as it was (revision ${result.revision}).`;
    return {
      text: summary,
      structured: {
        ...toWriteResultWire(result),
        ...(diff === null ? {} : { diff: diff.text, diff_truncated: diff.truncated }),
      },
    };
  },
});
