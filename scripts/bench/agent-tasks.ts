/**
 * A scripted agent doing issue 13's five tasks over MCP on a 60-page research corpus: tool calls
 * and the bytes of results it must read, with the calls the tools needed before issue 13
 * ("before") and the calls they need now ("after"), run against the same server in the same
 * run. "Before" uses only what the old tools offered (search, line ranges, the diff in every
 * edit reply); a search that misses the page within its first 10 hits is repeated with 50, as
 * an agent would.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { callTool, textOf } from "../../test/support/mcp.ts";
import { type ServerProcess, spawnServer } from "../../test/support/server-process.ts";
import { withBenchFixture } from "./fixtures.ts";
import { figure, type SectionFigures, table } from "./report.ts";

const LONG_PAGE = "Studies/Kelp Recovery 2019-2025";
const STALE_PAGE = "Species/Sea Otter";
const STALE_SENTENCE = "The population was last counted in 2019.";
const FIXED_SENTENCE = "The population was last counted in 2025 (aerial survey).";
const SUBJECTS = ["kelp", "urchin", "otter", "abalone", "sunflower star", "rockfish"];

/** One section of the long page: a heading and `lines` lines of prose under it. */
function section(level: number, heading: string, lines: number, seed: number): string[] {
  const body = Array.from({ length: lines }, (_, index) => {
    const subject = SUBJECTS[(seed + index) % SUBJECTS.length];
    return `Transect ${seed}.${index}: ${subject} density recorded with quadrats; see the field log for the raw counts and weather.`;
  });
  return [`${"#".repeat(level)} ${heading}`, "", ...body, ""];
}

/** 2,000 lines; "## Results" (40 lines) sits in the middle, under its own heading. */
function longPage(): string {
  const lines = [
    "# Kelp Recovery 2019-2025",
    "",
    ...section(2, "Introduction", 150, 1),
    ...section(2, "Methods", 120, 2),
    ...section(3, "Setup", 200, 3),
    ...section(3, "Sampling", 300, 4),
    ...section(2, "Site Notes", 560, 5),
    ...section(2, "Results", 40, 6),
    ...section(2, "Discussion", 400, 7),
  ];
  while (lines.length < 1996) lines.push(`Appendix row ${lines.length}: no further results here.`);
  lines.push("", "## Sources", "", "- Field log 2019-2025");
  return `${lines.join("\n")}\n`;
}

/** 60 pages: the long study, the page with the stale sentence, and notes that mention results. */
function corpus(): Record<string, string> {
  const files: Record<string, string> = {
    [`${LONG_PAGE}.md`]: longPage(),
    [`${STALE_PAGE}.md`]: `# Sea Otter\n\nEnhydra lutris, a keystone predator of urchins.\n\n## Population\n\n${STALE_SENTENCE}\nCounts vary by coast.\n\n## Diet\n\nUrchins, crabs and clams.\n`,
    "Drafts/Urchin Barrens.md":
      "# Urchin Barrens\n\nWhere urchins graze kelp to bare rock. See [[Species/Sea Otter]].\n",
  };
  for (let index = 0; files && Object.keys(files).length < 60; index++) {
    const subject = SUBJECTS[index % SUBJECTS.length] ?? "kelp";
    const links = index % 5 === 0 ? `\nRelated: [[Drafts/Urchin Barrens]].\n` : "";
    files[`Notes/Note ${index} on ${subject}.md`] =
      `# Note ${index} on ${subject}\n\nThe results of survey ${index} on ${subject} are summarised below; results were mixed.\n\n## Observations\n\nResults: ${index % 3} sites improved, results pending for the rest.\n${links}`;
  }
  return files;
}

interface Step {
  tool: string;
  args: Record<string, unknown>;
}

interface Tally {
  calls: number;
  bytes: number;
}

/** What the model reads of a tool result: its text blocks (structured content mirrors them). */
function resultBytes(result: CallToolResult): number {
  return result.content.reduce(
    (sum, block) => sum + (block.type === "text" ? Buffer.byteLength(block.text, "utf8") : 0),
    0,
  );
}

class Agent {
  readonly tally: Tally = { calls: 0, bytes: 0 };
  constructor(private readonly client: Client) {}

  async call(step: Step): Promise<Record<string, unknown>> {
    const result = await callTool(this.client, step.tool, step.args);
    this.tally.calls += 1;
    this.tally.bytes += resultBytes(result);
    if (result.isError === true) throw new Error(`${step.tool} failed: ${textOf(result)}`);
    return result.structuredContent ?? {};
  }
}

const hitsOf = (result: Record<string, unknown>): Record<string, unknown>[] =>
  Array.isArray(result.hits)
    ? result.hits.filter((hit): hit is Record<string, unknown> => typeof hit === "object")
    : [];

/** "Before": the page's first matching line from a search, or null when it is not in the hits. */
async function searchLine(agent: Agent, query: string, path: string): Promise<number | null> {
  const hit = hitsOf(await agent.call({ tool: "search", args: { query, limit: 10 } })).find(
    (candidate) => candidate.path === path,
  );
  if (hit === undefined) return null;
  const lines = Array.isArray(hit.lines) ? hit.lines : [];
  return typeof lines[0] === "number" ? lines[0] : 1;
}

/** "Before", when search did not help: read the page slice by slice until `text` shows up. */
async function pageUntil(agent: Agent, path: string, text: string): Promise<number> {
  let start = 1;
  for (;;) {
    const slice = await agent.call({ tool: "read_note", args: { path, line_start: start } });
    const content = String(slice.content ?? "");
    const at = content.split("\n").indexOf(text);
    if (at !== -1) return start + at;
    if (typeof slice.next_line_start !== "number") throw new Error(`${text} is not in ${path}`);
    start = slice.next_line_start;
  }
}

export interface AgentTaskRow {
  task: string;
  before: Tally;
  after: Tally;
}

/** The wiki's head when the run began: "what changed since" starts there. */
interface Start {
  revision: string;
}

type Task = {
  name: string;
  before: (agent: Agent, colleague: Agent, start: Start) => Promise<void>;
  after: (agent: Agent, colleague: Agent, start: Start) => Promise<void>;
  /** Puts back what `before` changed, so `after` meets the same wiki. */
  reset?: (agent: Agent) => Promise<void>;
};

const TASKS: Task[] = [
  {
    name: "read one section of a 2,000-line page",
    async before(agent) {
      // The agent knows the page; it needs the section's line. Search first (the page's line
      // hints), else page through the page; then read from the heading.
      const line =
        (await searchLine(agent, "Results", LONG_PAGE)) ??
        (await pageUntil(agent, LONG_PAGE, "## Results"));
      await agent.call({
        tool: "read_note",
        args: { path: LONG_PAGE, line_start: line, line_end: line + 60 },
      });
    },
    async after(agent) {
      await agent.call({ tool: "read_note", args: { path: LONG_PAGE, section: "Results" } });
    },
  },
  {
    name: "find and fix one stale sentence",
    async before(agent) {
      if ((await searchLine(agent, '"last counted in 2019"', STALE_PAGE)) === null) {
        throw new Error("search did not find the stale sentence's page");
      }
      const page = await agent.call({ tool: "read_note", args: { path: STALE_PAGE } });
      await agent.call({
        tool: "edit_note",
        args: {
          path: STALE_PAGE,
          edits: [{ old_text: STALE_SENTENCE, new_text: FIXED_SENTENCE }],
          expected_revision: page.revision,
          return_diff: true,
        },
      });
    },
    async after(agent) {
      const found = await agent.call({
        tool: "grep_notes",
        args: { text: "last counted in 2019" },
      });
      const page = Array.isArray(found.pages) ? found.pages[0] : undefined;
      const revision =
        typeof page === "object" && page !== null ? Reflect.get(page, "revision") : undefined;
      await agent.call({
        tool: "edit_note",
        args: {
          path: STALE_PAGE,
          edits: [{ old_text: STALE_SENTENCE, new_text: FIXED_SENTENCE }],
          expected_revision: revision,
        },
      });
    },
    reset: restoreStale,
  },
  {
    name: "see what changed since a revision, and one diff",
    async before(agent, _colleague, start) {
      await whatChanged(agent, start);
    },
    async after(agent, _colleague, start) {
      await whatChanged(agent, start);
    },
  },
  {
    name: "undo someone else's edit",
    async before(agent, colleague) {
      await undo(agent, colleague, "Notes/Note 8 on otter");
    },
    async after(agent, colleague) {
      await undo(agent, colleague, "Notes/Note 9 on abalone");
    },
  },
  {
    name: "rename a page keeping links",
    async before(agent) {
      await agent.call({
        tool: "move_note",
        args: { from: "Drafts/Urchin Barrens", to: "Habitats/Urchin Barrens", update_links: true },
      });
    },
    async after(agent) {
      await agent.call({
        tool: "move_note",
        args: {
          from: "Habitats/Urchin Barrens",
          to: "Habitats/Barrens",
          update_links: true,
          update_title: true,
        },
      });
    },
  },
  {
    name: "replace a 40-line section",
    async before(agent) {
      await replaceResults(agent, true);
    },
    async after(agent) {
      await replaceResults(agent, false);
    },
  },
];

async function whatChanged(agent: Agent, start: Start): Promise<void> {
  const changes = await agent.call({
    tool: "recent_changes",
    args: { since: start.revision },
  });
  const commits = Array.isArray(changes.commits) ? changes.commits : [];
  const first = commits.find((commit) => typeof commit === "object" && commit !== null);
  const pages = first === undefined ? [] : Reflect.get(first, "pages");
  const path = Array.isArray(pages) && typeof pages[0] === "string" ? pages[0] : STALE_PAGE;
  await agent.call({ tool: "diff", args: { path, from_revision: start.revision } });
}

async function undo(agent: Agent, colleague: Agent, path: string): Promise<void> {
  const page = await colleague.call({ tool: "read_note", args: { path } });
  await colleague.call({
    tool: "edit_note",
    args: { path, append: "A colleague's mistaken line.", expected_revision: page.revision },
  });
  colleague.tally.calls = 0;
  colleague.tally.bytes = 0;
  const history = await agent.call({ tool: "note_history", args: { path, limit: 5 } });
  const commits = Array.isArray(history.commits) ? history.commits : [];
  const previous = commits[1];
  const revision =
    typeof previous === "object" && previous !== null ? Reflect.get(previous, "revision") : null;
  await agent.call({ tool: "revert_note", args: { path, revision } });
}

async function replaceResults(agent: Agent, returnDiff: boolean): Promise<void> {
  const content = Array.from(
    { length: 40 },
    (_, index) =>
      `Result ${index + 1}: kelp cover ${returnDiff ? "rose" : "rose again"} at site ${index}.`,
  ).join("\n");
  await agent.call({
    tool: "edit_note",
    args: {
      path: LONG_PAGE,
      replace_section: { heading: "Results", content },
      ...(returnDiff ? { return_diff: true } : {}),
    },
  });
}

export interface AgentTasksResult {
  rows: AgentTaskRow[];
}

export async function benchAgentTasks(): Promise<AgentTasksResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "wikibot-bench-agent-"));
  let server: ServerProcess["child"] | null = null;
  const clients: Client[] = [];
  try {
    const { token } = await withBenchFixture(dataDir, async (fixture) => {
      const wiki = await fixture.wiki("agents", {
        isPublic: false,
        tier: "premium",
        files: corpus(),
      });
      return { token: fixture.token(wiki, "write") };
    });
    const spawned = await spawnServer({ dataDir, env: { LOG_LEVEL: "error" } });
    server = spawned.child;
    if (!spawned.healthy) throw new Error("the server did not answer /health");
    const connect = async (name: string) => {
      const client = new Client({ name, version: "1" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`http://agents.localhost:${spawned.port}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      clients.push(client);
      return client;
    };
    const agentClient = await connect("bench-agent");
    const colleagueClient = await connect("bench-colleague");
    const setup = new Agent(agentClient);
    const head = await setup.call({ tool: "recent_changes", args: { limit: 1 } });
    const start: Start = { revision: String(head.head) };
    const rows: AgentTaskRow[] = [];
    for (const task of TASKS) {
      const before = new Agent(agentClient);
      const after = new Agent(agentClient);
      const colleague = new Agent(colleagueClient);
      await task.before(before, colleague, start);
      await task.reset?.(setup);
      await task.after(after, colleague, start);
      rows.push({ task: task.name, before: before.tally, after: after.tally });
    }
    return { rows };
  } finally {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    if (server !== null) {
      server.kill("SIGTERM");
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function restoreStale(agent: Agent): Promise<void> {
  await agent.call({
    tool: "edit_note",
    args: { path: STALE_PAGE, edits: [{ old_text: FIXED_SENTENCE, new_text: STALE_SENTENCE }] },
  });
}

export function printAgentTasks(result: AgentTasksResult): void {
  console.log(
    "task                                              calls before → after   result bytes before → after",
  );
  for (const row of result.rows) {
    console.log(
      `${row.task.padEnd(50)}${String(row.before.calls).padStart(6)} → ${String(row.after.calls).padEnd(10)}${String(row.before.bytes).padStart(12)} → ${row.after.bytes}`,
    );
  }
  const sum = (pick: (row: AgentTaskRow) => number) =>
    result.rows.reduce((total, row) => total + pick(row), 0);
  console.log(
    `${"all tasks".padEnd(50)}${String(sum((row) => row.before.calls)).padStart(6)} → ${String(sum((row) => row.after.calls)).padEnd(10)}${String(sum((row) => row.before.bytes)).padStart(12)} → ${sum((row) => row.after.bytes)}`,
  );
}

export function agentTasksReport(result: AgentTasksResult): SectionFigures {
  const sum = (pick: (row: AgentTaskRow) => number) =>
    result.rows.reduce((total, row) => total + pick(row), 0);
  const beforeBytes = sum((row) => row.before.bytes);
  const beforeCalls = sum((row) => row.before.calls);
  return {
    figures: [
      figure(
        "tool calls, all tasks (after)",
        sum((row) => row.after.calls),
        "calls",
        {
          reference: { name: "before issue 13", value: beforeCalls },
        },
      ),
      figure(
        "result bytes, all tasks (after)",
        sum((row) => row.after.bytes),
        "bytes",
        {
          reference: { name: "before issue 13", value: beforeBytes },
        },
      ),
    ],
    tables: [
      table(
        ["task", "calls before", "calls after", "bytes before", "bytes after"],
        result.rows.map((row) => [
          row.task,
          row.before.calls,
          row.after.calls,
          row.before.bytes,
          row.after.bytes,
        ]),
      ),
    ],
    notes: [
      "Bytes are the text blocks of each tool result, which is what the model reads. 'Before' uses only the tools as they were before issue 13 (search then a line range; the diff in every edit reply).",
    ],
  };
}
