/** The wiki's MCP tools, in the order clients list them: the read tools first. */
import type { WikiTool } from "./tool-context.ts";
import { deleteNote } from "./tools/delete-note.ts";
import { diff } from "./tools/diff.ts";
import { editNote } from "./tools/edit-note.ts";
import { grepNotes } from "./tools/grep-notes.ts";
import { listNotes } from "./tools/list-notes.ts";
import { moveNote } from "./tools/move-note.ts";
import { noteHistory } from "./tools/note-history.ts";
import { readNote } from "./tools/read-note.ts";
import { recentChanges } from "./tools/recent-changes.ts";
import { revertNote } from "./tools/revert-note.ts";
import { search } from "./tools/search.ts";
import { semanticSearch } from "./tools/semantic-search.ts";
import { writeNote } from "./tools/write-note.ts";

export const WIKI_TOOLS: readonly WikiTool[] = [
  readNote,
  search,
  semanticSearch,
  grepNotes,
  listNotes,
  recentChanges,
  noteHistory,
  diff,
  writeNote,
  editNote,
  moveNote,
  deleteNote,
  revertNote,
];

export const WRITE_TOOL_NAMES: ReadonlySet<string> = new Set(
  WIKI_TOOLS.filter((tool) => tool.access === "write").map((tool) => tool.name),
);
