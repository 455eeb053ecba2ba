/** The `instructions` an MCP client gives its model: what this wiki is and how to use the tools well. */
import type { Principal } from "../auth/wiki-access.ts";
import { canWrite } from "../auth/wiki-access.ts";
import type { Wiki } from "../wikis/wiki-store.ts";

export function wikiInstructions(options: {
  wiki: Wiki;
  principal: Principal;
  browserUrl: string;
  pageCount: number;
}): string {
  const { wiki, principal } = options;
  const who =
    principal.user === null
      ? "You are reading anonymously: this wiki is public, and you can use the read tools only."
      : canWrite(wiki, principal)
        ? `You act for ${principal.user.displayName || principal.user.handle} (role: ${principal.role}); your changes are committed under their name.`
        : `You act for ${principal.user.displayName || principal.user.handle} with read-only access (${principal.scope === "read" ? "a read-only token" : `role: ${principal.role ?? "none"}`}); the write tools will refuse.`;
  return `This is "${wiki.name}", a research wiki at ${options.browserUrl} with ${options.pageCount} pages: Markdown files in a git repository, shared by people (who edit in the browser) and agents. ${who}

How to work with it:
- Pages are named by path without ".md", e.g. "Research/Topic A". Link pages with [[Page Name]] or [text](/Page%20Name).
- Find before you write. semantic_search finds pages by meaning: ask in your own words when you do not know how the wiki phrases it (by default it also weighs in exact word matches). search is full text (words, "phrases", OR, NOT, prefix*): use it for exact names, terms and phrases; words in titles and headings rank first, each hit gives its matching lines with their exact text, and total / more_available say when more pages match than you got. grep_notes gives the exact lines containing a literal text (path:line: text), ready to quote in edit_note. read_note can read one section (section: "Methods/Setup"). list_notes shows what is under a folder. Hits carry line numbers and the enclosing heading, so you can read_note from that line.
- read_note returns numbered lines and the page's revision. Long pages come in slices; follow next_line_start.
- Every write takes expected_revision: pass the revision you read. If the page changed meanwhile, nothing is written and you get the current revision and a diff of what changed: read again, merge, retry. Never drop someone else's change. write_note replaces an existing page only with expected_revision (or overwrite: true, which discards edits you have not seen).
- Prefer edit_note for changes to part of a page (exact old_text → new_text, with expected_replacements when you mean every match; append, prepend, replace a section, or insert before or after one); use write_note to create a page or rewrite it whole. Replies give revision → revision and line counts; ask for return_diff only when you need to see the change. Write notes as clear Markdown with a "# Title" first line.
- Nothing is lost: recent_changes (pass the head you saw last as since to catch up), note_history, diff and revert_note show and restore any earlier version, deleted pages included.
- Tool errors say what to do next; follow them rather than retrying blindly.`;
}
