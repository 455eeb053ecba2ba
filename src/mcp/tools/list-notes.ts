/** list_notes: pages under a prefix, recursively or one folder level at a time. */
import { z } from "zod";
import { defineTool, READ_ONLY } from "../tool-context.ts";
import { limitField } from "../tool-format.ts";

export const listNotes = defineTool({
  name: "list_notes",
  title: "List pages",
  description:
    'List pages whose path starts with prefix (e.g. "Research/" for a folder; empty for the whole wiki), with title, revision, size and last change. With recursive: false, only pages directly in that folder are listed, plus its subfolders with page counts. Results are paged: pass next_offset as offset to continue.',
  access: "read",
  annotations: READ_ONLY,
  inputSchema: {
    prefix: z.string().max(600).optional().describe('Path prefix, e.g. "Research/" (default: all)'),
    recursive: z.boolean().optional().describe("Include pages in subfolders (default true)"),
    limit: limitField(1000, "Most pages to return (default 200)"),
    offset: z.number().int().min(0).optional().describe("Pages to skip (from next_offset)"),
  },
  outputSchema: {
    prefix: z.string(),
    total: z.number().int().describe("Pages matching, before paging"),
    pages: z.array(
      z.object({
        path: z.string(),
        title: z.string(),
        revision: z.string(),
        size: z.number().int().describe("Bytes"),
        changed_at: z.string(),
      }),
    ),
    folders: z.array(z.object({ path: z.string(), pages: z.number().int() })),
    next_offset: z.number().int().nullable(),
  },
  async run(input, { wiki, pages }) {
    const prefix = input.prefix ?? "";
    const limit = input.limit ?? 200;
    const offset = input.offset ?? 0;
    const all = await pages.list(wiki, prefix);
    const folders = new Map<string, number>();
    const direct = all.filter((page) => {
      if (input.recursive !== false) return true;
      const rest = page.path.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash === -1) return true;
      const folder = `${prefix}${rest.slice(0, slash + 1)}`;
      folders.set(folder, (folders.get(folder) ?? 0) + 1);
      return false;
    });
    const shown = direct.slice(offset, offset + limit);
    const next = offset + shown.length < direct.length ? offset + shown.length : null;
    const lines = shown.map(
      (page) =>
        `${page.path} — ${page.title} (${page.size} bytes, ${new Date(page.changedAt * 1000).toISOString().slice(0, 10)}, revision ${page.revision})`,
    );
    const folderLines = [...folders].map(([path, count]) => `${path} (${count} pages)`);
    const where = prefix === "" ? "in the wiki" : `under "${prefix}"`;
    const text = [
      direct.length === 0
        ? `No pages ${where}.`
        : `${direct.length} pages ${where}; showing ${offset + 1}–${offset + shown.length}:`,
      ...lines,
      ...(folderLines.length > 0 ? ["Folders:", ...folderLines] : []),
      ...(next === null ? [] : [`More: call list_notes again with offset ${next}.`]),
    ].join("\n");
    return {
      text,
      structured: {
        prefix,
        total: direct.length,
        pages: shown.map((page) => ({
          path: page.path,
          title: page.title,
          revision: page.revision,
          size: page.size,
          changed_at: new Date(page.changedAt * 1000).toISOString(),
        })),
        folders: [...folders].map(([path, count]) => ({ path, pages: count })),
        next_offset: next,
      },
    };
  },
});
