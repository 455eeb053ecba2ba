/**
 * The MCP endpoint on a real server, driven by the MCP SDK's own Client over Streamable HTTP:
 * the bearer gate, every tool's happy path and failure paths, attribution, and concurrent writers.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { callTool, connectMcp, INITIALIZE_MESSAGE, structuredOf, textOf } from "./support/mcp.ts";
import {
  addUser,
  createToken,
  createUserAndWiki,
  startTestServer,
  type TestServer,
} from "./support/server.ts";

setDefaultTimeout(120_000);

let t: TestServer;
let ownerToken: string;
let owner: Client;

const EXPECTED_TOOLS = [
  "read_note",
  "search",
  "semantic_search",
  "grep_notes",
  "list_notes",
  "recent_changes",
  "note_history",
  "diff",
  "write_note",
  "edit_note",
  "move_note",
  "delete_note",
  "revert_note",
];

function createMember(username: string, wiki: string, role: string) {
  return addUser(t, username, { wiki, role });
}

/** The HTTP status an SDK client call was refused with. */
async function refusedStatus(call: Promise<unknown>): Promise<number> {
  try {
    await call;
  } catch (error) {
    if (error instanceof StreamableHTTPError && error.code !== undefined) return error.code;
    throw error;
  }
  throw new Error("the call was expected to be refused");
}

function mcpPost(slug: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${t.wikiOrigin(slug)}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

function callMessage(name: string, args: Record<string, unknown>) {
  return { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name, arguments: args } };
}

beforeAll(async () => {
  t = await startTestServer();
  ownerToken = (
    await createUserAndWiki(t, { username: "olive", slug: "demo", displayName: "Olive Owner" })
  ).token;
  owner = await connectMcp(t, "demo", ownerToken, "claude-code");
});
afterAll(async () => {
  await owner.close();
  await t.close();
});

describe("initialize and tools/list", () => {
  test("initialize negotiates the latest protocol and carries instructions about this wiki", async () => {
    expect(owner.getServerVersion()).toMatchObject({ name: "wikibot" });
    expect(owner.getServerCapabilities()?.tools).toBeDefined();
    const instructions = owner.getInstructions() ?? "";
    expect(instructions).toContain('"demo"');
    expect(instructions).toContain("expected_revision");
    expect(instructions).toContain("Olive Owner (role: owner)");
  });

  test("every tool is listed with a description, an input and output schema, and annotations", async () => {
    const { tools } = await owner.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(EXPECTED_TOOLS);
    for (const tool of tools) {
      expect(tool.description?.length ?? 0).toBeGreaterThan(80);
      expect(tool.inputSchema.type).toBe("object");
      expect(tool.outputSchema?.type).toBe("object");
      expect(typeof tool.annotations?.readOnlyHint).toBe("boolean");
      expect(typeof tool.annotations?.destructiveHint).toBe("boolean");
      expect(typeof tool.annotations?.idempotentHint).toBe("boolean");
      expect(tool.annotations?.openWorldHint).toBe(false);
    }
    const readOnly = tools
      .filter((tool) => tool.annotations?.readOnlyHint)
      .map((tool) => tool.name);
    expect(readOnly).toEqual(EXPECTED_TOOLS.slice(0, 8));
  });

  test("semantic_search refuses a mode it does not offer before searching", async () => {
    const result = await owner.callTool({
      name: "semantic_search",
      arguments: { query: "x", mode: "keyword" },
    });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain("mode");
  });
});

describe("the bearer gate", () => {
  test("no credentials on a private wiki: 401 with an absolute resource_metadata and no error code", async () => {
    const response = await mcpPost("demo", INITIALIZE_MESSAGE);
    expect(response.status).toBe(401);
    const challenge = response.headers.get("www-authenticate") ?? "";
    expect(challenge).toStartWith("Bearer ");
    expect(challenge).toContain(
      `resource_metadata="${t.wikiOrigin("demo")}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(challenge).not.toContain("error=");
  });

  test("a bad token: 401 invalid_token, on GET too (authentication comes before 405)", async () => {
    for (const method of ["POST", "GET", "DELETE"]) {
      const response = await fetch(`${t.wikiOrigin("demo")}/mcp`, {
        method,
        headers: { authorization: "Bearer wbt_nonsense", "content-type": "application/json" },
        body: method === "POST" ? JSON.stringify(INITIALIZE_MESSAGE) : undefined,
      });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }
  });

  test("GET and DELETE with a valid token: 405 Allow: POST", async () => {
    for (const method of ["GET", "DELETE"]) {
      const response = await fetch(`${t.wikiOrigin("demo")}/mcp`, {
        method,
        headers: { authorization: `Bearer ${ownerToken}`, accept: "text/event-stream" },
      });
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("POST");
    }
  });

  test("a valid static token gets 200 on initialize (Claude Code must never see 401)", async () => {
    const response = await mcpPost("demo", INITIALIZE_MESSAGE, {
      authorization: `Bearer ${ownerToken}`,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("mcp-session-id")).toStartWith("wbs1.");
  });

  test("a foreign Origin is refused with 403; the wiki's own origin is accepted", async () => {
    const auth = { authorization: `Bearer ${ownerToken}` };
    const foreign = await mcpPost("demo", INITIALIZE_MESSAGE, {
      ...auth,
      origin: "http://evil.example.com",
    });
    expect(foreign.status).toBe(403);
    const own = await mcpPost("demo", INITIALIZE_MESSAGE, {
      ...auth,
      origin: t.wikiOrigin("demo"),
    });
    expect(own.status).toBe(200);
  });

  test("a Host that is not ours never reaches the MCP server", async () => {
    const response = await fetch(`http://127.0.0.1:${t.port}/mcp`, {
      method: "POST",
      headers: {
        host: "evil.example.com",
        authorization: `Bearer ${ownerToken}`,
        "content-type": "application/json",
      },
      body: JSON.stringify(INITIALIZE_MESSAGE),
    });
    expect(response.status).toBe(404);
  });

  test("another wiki's token is refused", async () => {
    const other = await createUserAndWiki(t, { username: "quinn", slug: "elsewhere" });
    const response = await mcpPost("demo", INITIALIZE_MESSAGE, {
      authorization: `Bearer ${other.token}`,
    });
    expect(response.status).toBe(401);
    expect(
      await (
        await mcpPost("elsewhere", INITIALIZE_MESSAGE, { authorization: `Bearer ${other.token}` })
      ).status,
    ).toBe(200);
  });

  test("a revoked token is refused from the next request on, even mid-session", async () => {
    const made = await createToken(t, "demo", "olive", "write");
    const client = await connectMcp(t, "demo", made.token);
    expect((await callTool(client, "list_notes", {})).isError).toBeFalsy();
    await t.adminJson("revoke-token", "--id", made.id);
    expect(await refusedStatus(client.callTool({ name: "list_notes", arguments: {} }))).toBe(401);
    const response = await mcpPost("demo", INITIALIZE_MESSAGE, {
      authorization: `Bearer ${made.token}`,
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain("revoked");
  });

  test("a read token calling a write tool gets 403 insufficient_scope; read tools work", async () => {
    const made = await createToken(t, "demo", "olive", "read");
    const reader = await connectMcp(t, "demo", made.token);
    expect((await callTool(reader, "read_note", { path: "Home" })).isError).toBeFalsy();
    expect(
      await refusedStatus(
        reader.callTool({ name: "write_note", arguments: { path: "X", content: "x" } }),
      ),
    ).toBe(403);
    await reader.close();
    const response = await mcpPost("demo", callMessage("write_note", { path: "X", content: "x" }), {
      authorization: `Bearer ${made.token}`,
    });
    expect(response.status).toBe(403);
    const challenge = response.headers.get("www-authenticate") ?? "";
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain('scope="wiki:read wiki:write"');
    expect(challenge).toContain("resource_metadata=");
  });

  test("a viewer with a write token is refused by the write tools with a reason", async () => {
    await createMember("vera", "demo", "viewer");
    const made = await createToken(t, "demo", "vera", "write");
    const viewer = await connectMcp(t, "demo", made.token);
    const result = await callTool(viewer, "write_note", { path: "Viewer Page", content: "x" });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("your role on demo is viewer");
    expect((await callTool(viewer, "search", { query: "demo" })).isError).toBeFalsy();
    await viewer.close();
  });

  test("a user whose role is removed is refused on the next request", async () => {
    await createMember("eddie", "demo", "editor");
    const made = await createToken(t, "demo", "eddie", "write");
    const editor = await connectMcp(t, "demo", made.token);
    expect(
      (await callTool(editor, "write_note", { path: "Eddie", content: "# Eddie\n" })).isError,
    ).toBeFalsy();
    await t.adminJson("revoke", "--wiki", "demo", "--user", "eddie");
    // Removing a member also revokes their tokens for the wiki (src/wikis/members.ts), so the
    // token itself is now invalid: 401, not merely 403 for a missing role.
    expect(
      await refusedStatus(editor.callTool({ name: "read_note", arguments: { path: "Home" } })),
    ).toBe(401);
  });

  test("a lapsed wiki answers every MCP request with a clear error", async () => {
    const lapsed = await createUserAndWiki(t, { username: "lara", slug: "lapsed-wiki" });
    const client = await connectMcp(t, "lapsed-wiki", lapsed.token);
    await t.adminJson("set-tier", "--wiki", "lapsed-wiki", "--tier", "lapsed");
    await expect(
      client.callTool({ name: "read_note", arguments: { path: "Home" } }),
    ).rejects.toThrow(
      "lapsed-wiki's subscription has lapsed: the wiki is read-only and MCP is disabled",
    );
    const response = await mcpPost("lapsed-wiki", INITIALIZE_MESSAGE, {
      authorization: `Bearer ${lapsed.token}`,
    });
    expect(response.status).toBe(403);
    expect(JSON.stringify(await response.json())).toContain("MCP is disabled");
  });

  test("anonymous: refused on a private wiki, read tools allowed on a public one, writes challenged", async () => {
    await createUserAndWiki(t, { username: "pat", slug: "public-wiki", public: true });
    expect(await refusedStatus(connectMcp(t, "demo", null))).toBe(401);
    const anonymous = await connectMcp(t, "public-wiki", null);
    expect(anonymous.getInstructions()).toContain("reading anonymously");
    const home = await callTool(anonymous, "read_note", { path: "Home" });
    expect(home.isError).toBeFalsy();
    expect(structuredOf(home).path).toBe("Home");
    expect(
      await refusedStatus(
        anonymous.callTool({ name: "write_note", arguments: { path: "Spam", content: "x" } }),
      ),
    ).toBe(401);
    await anonymous.close();
  });

  test("the protected resource metadata is served at the path-aware and the root location", async () => {
    const pathAware = await fetch(
      `${t.wikiOrigin("demo")}/.well-known/oauth-protected-resource/mcp`,
    );
    expect(pathAware.status).toBe(200);
    expect(await pathAware.json()).toMatchObject({
      resource: `${t.wikiOrigin("demo")}/mcp`,
      scopes_supported: ["wiki:read", "wiki:write"],
      bearer_methods_supported: ["header"],
    });
    const root = await fetch(`${t.wikiOrigin("demo")}/.well-known/oauth-protected-resource`);
    expect(await root.json()).toMatchObject({
      resource: t.wikiOrigin("demo"),
      authorization_servers: [t.wikiOrigin("demo")],
    });
    // The wiki is its own issuer (test/oauth-server.test.ts covers the document).
    const asMetadata = await fetch(
      `${t.wikiOrigin("demo")}/.well-known/oauth-authorization-server`,
    );
    expect(await asMetadata.json()).toMatchObject({ issuer: t.wikiOrigin("demo") });
  });

  test("a body over the limit and a body that is not JSON are refused", async () => {
    const auth = { authorization: `Bearer ${ownerToken}` };
    const chunked = new ReadableStream({
      start(controller) {
        for (let index = 0; index < 5; index++) controller.enqueue(new Uint8Array(1024 * 1024));
        controller.close();
      },
    });
    const tooLarge = await fetch(`${t.wikiOrigin("demo")}/mcp`, {
      method: "POST",
      headers: {
        ...auth,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: chunked,
    });
    expect(tooLarge.status).toBe(413);
    const notJson = await fetch(`${t.wikiOrigin("demo")}/mcp`, {
      method: "POST",
      headers: {
        ...auth,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: "{not json",
    });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { code: -32700 } });
  });
});

describe("tools", () => {
  test("write_note creates, replaces with expected_revision, and reports no-op writes", async () => {
    const created = await callTool(owner, "write_note", {
      path: "Research/Otters",
      content: "# Otters\n\nOtters use tools.\n",
      expected_revision: "new",
    });
    expect(created.isError).toBeFalsy();
    const first = structuredOf(created);
    expect(first).toMatchObject({ path: "Research/Otters", created: true, changed: true });
    const replaced = structuredOf(
      await callTool(owner, "write_note", {
        path: "Research/Otters",
        content: "# Otters\n\nOtters use rocks as tools.\n",
        expected_revision: first.revision,
      }),
    );
    expect(replaced).toMatchObject({
      created: false,
      changed: true,
      previous_revision: first.revision,
    });
    const same = structuredOf(
      await callTool(owner, "write_note", {
        path: "Research/Otters",
        content: "# Otters\n\nOtters use rocks as tools.\n",
        expected_revision: replaced.revision,
      }),
    );
    expect(same).toMatchObject({ changed: false, revision: replaced.revision });
  });

  test("write_note never replaces a page silently: without expected_revision it is refused unless overwrite is true", async () => {
    const first = structuredOf(
      await callTool(owner, "write_note", {
        path: "Guarded",
        content: "# Guarded\n\none\ntwo\nthree\n",
      }),
    );
    expect(first).toMatchObject({
      created: true,
      lines_added: 5,
      lines_removed: 0,
      first_changed_line: 1,
    });
    const refused = await callTool(owner, "write_note", {
      path: "Guarded",
      content: "# Guarded\n\nreplaced\n",
    });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toStartWith("Error (revision_required):");
    expect(textOf(refused)).toContain(`already exists at revision ${first.revision}`);
    expect(textOf(refused)).toContain(`expected_revision "${first.revision}"`);
    expect(textOf(refused)).toContain("overwrite: true");
    expect(structuredOf(await callTool(owner, "read_note", { path: "Guarded" })).revision).toBe(
      first.revision,
    );
    const both = await callTool(owner, "write_note", {
      path: "Guarded",
      content: "x\n",
      expected_revision: first.revision,
      overwrite: true,
    });
    expect(textOf(both)).toStartWith("Error (invalid_arguments):");
    const overwritten = await callTool(owner, "write_note", {
      path: "Guarded",
      content: "# Guarded\n\none\n2\nthree\n",
      overwrite: true,
    });
    expect(structuredOf(overwritten)).toMatchObject({
      changed: true,
      previous_revision: first.revision,
      lines_added: 1,
      lines_removed: 1,
      first_changed_line: 4,
    });
    expect(textOf(overwritten)).toContain("(+1 −1 lines from line 4)");
    // A page that does not exist yet is still created without a revision.
    expect(
      structuredOf(await callTool(owner, "write_note", { path: "Guarded 2", content: "x\n" })),
    ).toMatchObject({ created: true });
  });

  test("a stale expected_revision is refused with the current revision and what changed", async () => {
    const first = structuredOf(
      await callTool(owner, "write_note", { path: "Stale", content: "# Stale\n\nalpha\n" }),
    );
    const second = structuredOf(
      await callTool(owner, "write_note", {
        path: "Stale",
        content: "# Stale\n\nbeta\n",
        overwrite: true,
      }),
    );
    const stale = await callTool(owner, "write_note", {
      path: "Stale",
      content: "# Stale\n\ngamma\n",
      expected_revision: first.revision,
    });
    expect(stale.isError).toBe(true);
    const text = textOf(stale);
    expect(text).toStartWith("Error (conflict):");
    expect(text).toContain(`it is now at ${second.revision}`);
    expect(text).toContain("-alpha");
    expect(text).toContain("+beta");
    const now = structuredOf(await callTool(owner, "read_note", { path: "Stale" }));
    expect(now.content).toBe("# Stale\n\nbeta\n");
    const exists = await callTool(owner, "write_note", {
      path: "Stale",
      content: "x",
      expected_revision: "new",
    });
    expect(textOf(exists)).toContain("already exists");
  });

  test("bad paths and oversize content are refused with a reason", async () => {
    for (const path of ["../etc/passwd", "/abs", "a.txt", "mcp/x"]) {
      const result = await callTool(owner, "write_note", { path, content: "x" });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toStartWith("Error (invalid_path):");
    }
    const huge = await callTool(owner, "write_note", {
      path: "Huge",
      content: "x".repeat(1_100_000),
    });
    expect(huge.isError).toBe(true);
    expect(textOf(huge)).toContain("too_large");
    const nul = await callTool(owner, "write_note", { path: "Nul", content: "a\u0000b" });
    expect(textOf(nul)).toContain("invalid_content");
  });

  test("read_note numbers lines, pages long notes with a continuation, and reads old revisions", async () => {
    const lines = Array.from({ length: 950 }, (_, index) => `line ${index + 1}`);
    const written = structuredOf(
      await callTool(owner, "write_note", { path: "Long", content: `${lines.join("\n")}\n` }),
    );
    const first = await callTool(owner, "read_note", { path: "Long" });
    const page = structuredOf(first);
    expect(page).toMatchObject({
      revision: written.revision,
      total_lines: 950,
      line_start: 1,
      line_end: 400,
      next_line_start: 401,
    });
    expect(textOf(first)).toContain("  1\tline 1\n");
    expect(textOf(first)).toContain('"line_start":401');
    const last = structuredOf(
      await callTool(owner, "read_note", {
        path: "Long",
        line_start: 901,
        revision: written.revision,
      }),
    );
    expect(last).toMatchObject({ line_start: 901, line_end: 950, next_line_start: null });
    expect(String(last.content)).toStartWith("line 901\n");
    const range = structuredOf(
      await callTool(owner, "read_note", { path: "Long", line_start: 10, line_end: 12 }),
    );
    expect(range.content).toBe("line 10\nline 11\nline 12\n");
    const past = await callTool(owner, "read_note", { path: "Long", line_start: 2000 });
    expect(textOf(past)).toContain("past the end");
    await callTool(owner, "write_note", { path: "Long", content: "short\n", overwrite: true });
    const old = structuredOf(
      await callTool(owner, "read_note", { path: "Long", revision: written.revision }),
    );
    expect(old.total_lines).toBe(950);
  });

  test("read_note reads one section by heading or heading path, and refuses an ambiguous one", async () => {
    const body = Array.from({ length: 450 }, (_, i) => `Reading ${i}.`).join("\n");
    const content = `# Trial\n\n## Methods\n\n### Results\n\nPilot only.\n\n## Results\n\n${body}\n\n## Discussion\n\nDone.\n`;
    const written = structuredOf(
      await callTool(owner, "write_note", { path: "Trial", content, expected_revision: "new" }),
    );
    const results = await callTool(owner, "read_note", { path: "Trial", section: "## results" });
    expect(results.isError).toBeFalsy();
    const first = structuredOf(results);
    expect(first.section).toEqual({
      heading_path: ["Trial", "Results"],
      line_start: 9,
      line_end: 461,
    });
    expect(first).toMatchObject({ revision: written.revision, line_start: 9, line_end: 408 });
    expect(String(first.content)).toStartWith("## Results\n");
    expect(textOf(results)).toContain('section "Trial › Results" (lines 9–461)');
    // The continuation stays inside the section.
    const rest = structuredOf(
      await callTool(owner, "read_note", {
        path: "Trial",
        section: "## results",
        line_start: first.next_line_start,
        revision: written.revision,
      }),
    );
    expect(rest).toMatchObject({ line_start: 409, line_end: 461, next_line_start: null });
    expect(String(rest.content)).not.toContain("## Discussion");
    // By path, any case.
    expect(
      structuredOf(
        await callTool(owner, "read_note", { path: "Trial", section: "methods/RESULTS" }),
      ),
    ).toMatchObject({ line_start: 5, line_end: 8, content: "### Results\n\nPilot only.\n\n" });
    const ambiguous = await callTool(owner, "read_note", { path: "Trial", section: "Results" });
    expect(ambiguous.isError).toBe(true);
    expect(textOf(ambiguous)).toContain("### Trial/Methods/Results (line 5)");
    expect(textOf(ambiguous)).toContain("## Trial/Results (line 9)");
    const missing = await callTool(owner, "read_note", { path: "Trial", section: "Appendix" });
    expect(textOf(missing)).toContain("section_not_found");
    expect(textOf(missing)).toContain("## Trial/Discussion (line 462)");
    const outside = await callTool(owner, "read_note", {
      path: "Trial",
      section: "Discussion",
      line_start: 2,
    });
    expect(textOf(outside)).toContain("invalid_range");
  });

  test("grep_notes gives exact lines with numbers and revisions, bounded, inside its wiki", async () => {
    const body = Array.from(
      { length: 30 },
      (_, i) => `- sample ${i}: kelp density (g/m²) noted`,
    ).join("\n");
    const kelp = structuredOf(
      await callTool(owner, "write_note", {
        path: "Grep/Kelp",
        content: `# Kelp\n\n## Counts\n\n${body}\n`,
        expected_revision: "new",
      }),
    );
    await callTool(owner, "write_note", {
      path: "Grep/Other",
      content: "# Other\n\nKELP DENSITY (G/M²) in capitals.\n",
      expected_revision: "new",
    });
    const result = await callTool(owner, "grep_notes", {
      text: "kelp density (g/m²)",
      path_prefix: "Grep/",
      limit: 5,
      context: 1,
    });
    expect(result.isError).toBeFalsy();
    const text = textOf(result);
    // Query syntax means nothing here: brackets and slashes are literal text.
    expect(text).toContain("Grep/Kelp:5: - sample 0: kelp density (g/m²) noted");
    expect(text).toContain("Grep/Kelp-4- ");
    expect(text).toContain(`Grep/Kelp (revision ${kelp.revision}, 30 matches)`);
    expect(text).toContain("25 more matching lines not shown");
    expect(text).not.toContain("Grep/Other");
    const data = structuredOf(result);
    expect(data).toMatchObject({ total_matches: 30, shown_matches: 5, more_pages: false });
    // The quoted line, without "path:line: ", is what edit_note takes as old_text.
    const edited = await callTool(owner, "edit_note", {
      path: "Grep/Kelp",
      edits: [
        { old_text: "- sample 0: kelp density (g/m²) noted", new_text: "- sample 0: redone" },
      ],
      expected_revision: kelp.revision,
    });
    expect(edited.isError).toBeFalsy();
    const folded = structuredOf(
      await callTool(owner, "grep_notes", { text: "KELP density", ignore_case: true }),
    );
    // 29 lines left in Kelp after the edit, and the capitals in Other.
    expect(folded.total_matches).toBe(30);
    expect(JSON.stringify(folded.pages)).toContain('"path":"Grep/Other"');
    const none = await callTool(owner, "grep_notes", { text: "no such text anywhere" });
    expect(textOf(none)).toContain('No line contains "no such text anywhere"');
    expect((await callTool(owner, "grep_notes", { text: "" })).isError).toBe(true);
  });

  test("read_note on a missing page names the closest existing paths", async () => {
    await callTool(owner, "write_note", { path: "Research/Topic A", content: "# Topic A\n" });
    const missing = await callTool(owner, "read_note", { path: "Research/Topik A" });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toContain("Research/Topic A");
    const badRevision = await callTool(owner, "read_note", { path: "Home", revision: "deadbeef" });
    expect(textOf(badRevision)).toStartWith("Error (invalid_revision):");
  });

  test("edit_note applies exact replacements and returns the diff; ambiguous and missing matches change nothing", async () => {
    const base = structuredOf(
      await callTool(owner, "write_note", {
        path: "Edits",
        content: "# Edits\n\nOtters eat fish.\nOtters sleep.\n\n## Log\n\nday 1\n",
      }),
    );
    const edited = await callTool(owner, "edit_note", {
      path: "Edits",
      edits: [{ old_text: "eat fish", new_text: "eat crabs" }],
      expected_revision: base.revision,
      return_diff: true,
    });
    const result = structuredOf(edited);
    expect(result.previous_revision).toBe(base.revision);
    expect(result.diff).toContain("-Otters eat fish.");
    expect(result.diff).toContain("+Otters eat crabs.");
    // By default the reply is revision → revision and line counts, without the diff.
    const compact = await callTool(owner, "edit_note", {
      path: "Edits",
      edits: [{ old_text: "day 1", new_text: "day 2" }],
    });
    expect(structuredOf(compact)).toMatchObject({
      previous_revision: result.revision,
      lines_added: 1,
      lines_removed: 1,
      first_changed_line: 8,
    });
    expect(structuredOf(compact).diff).toBeUndefined();
    expect(textOf(compact)).toBe(
      `Edited "Edits": revision ${result.revision} → ${structuredOf(compact).revision} (+1 −1 lines from line 8).`,
    );
    const ambiguous = await callTool(owner, "edit_note", {
      path: "Edits",
      edits: [{ old_text: "Otters", new_text: "Sea otters" }],
    });
    expect(ambiguous.isError).toBe(true);
    expect(textOf(ambiguous)).toContain("matches 2 places (lines 3, 4)");
    const missing = await callTool(owner, "edit_note", {
      path: "Edits",
      edits: [{ old_text: "Otters  sleep.", new_text: "x" }],
    });
    expect(textOf(missing)).toContain("spaces and indentation");
    const after = structuredOf(await callTool(owner, "read_note", { path: "Edits" }));
    expect(after.revision).toBe(structuredOf(compact).revision);
    const stale = await callTool(owner, "edit_note", {
      path: "Edits",
      append: "x",
      expected_revision: base.revision,
    });
    expect(textOf(stale)).toStartWith("Error (conflict):");
  });

  test("edit_note appends, prepends and replaces a section; exactly one operation per call", async () => {
    await callTool(owner, "write_note", {
      path: "Sections",
      content: "# Sections\n\n## Results\n\nold result\n\n## Sources\n\n- a\n",
    });
    await callTool(owner, "edit_note", { path: "Sections", append: "- b" });
    await callTool(owner, "edit_note", { path: "Sections", prepend: "<!-- draft -->" });
    const replaced = await callTool(owner, "edit_note", {
      path: "Sections",
      replace_section: { heading: "## Results", content: "new result" },
    });
    expect(replaced.isError).toBeFalsy();
    const page = structuredOf(await callTool(owner, "read_note", { path: "Sections" }));
    expect(page.content).toBe(
      "<!-- draft -->\n# Sections\n\n## Results\nnew result\n\n## Sources\n\n- a\n- b\n",
    );
    const both = await callTool(owner, "edit_note", {
      path: "Sections",
      append: "x",
      prepend: "y",
    });
    expect(textOf(both)).toContain("exactly one of");
    const noHeading = await callTool(owner, "edit_note", {
      path: "Sections",
      replace_section: { heading: "Methods", content: "x" },
    });
    expect(textOf(noHeading)).toContain("## Sections/Results (line 4)");
    const missingPage = await callTool(owner, "edit_note", { path: "Nope Page", append: "x" });
    expect(textOf(missingPage)).toStartWith("Error (not_found):");
  });

  test("move_note rewrites links when asked, in the same commit", async () => {
    await callTool(owner, "write_note", { path: "Ideas/Draft", content: "# Draft\n" });
    await callTool(owner, "write_note", {
      path: "Linker",
      content: "See [[Ideas/Draft]] and [the draft](/Ideas/Draft#top).\n",
    });
    const moved = structuredOf(
      await callTool(owner, "move_note", {
        from: "Ideas/Draft",
        to: "Ideas/Final",
        update_links: true,
      }),
    );
    expect(moved.links_updated_in).toEqual(["Linker"]);
    const linker = structuredOf(await callTool(owner, "read_note", { path: "Linker" }));
    expect(linker.content).toBe("See [[Ideas/Final]] and [the draft](/Ideas/Final#top).\n");
    expect(linker.revision).toBe(moved.revision);
    const taken = await callTool(owner, "move_note", { from: "Linker", to: "Ideas/Final" });
    expect(textOf(taken)).toStartWith("Error (already_exists):");
    await callTool(owner, "move_note", { from: "Ideas/Final", to: "Ideas/Kept" });
    expect(structuredOf(await callTool(owner, "read_note", { path: "Linker" })).content).toContain(
      "[[Ideas/Final]]",
    );
  });

  test("delete_note can be undone with revert_note; history, diff and recent_changes show it all", async () => {
    const created = structuredOf(
      await callTool(owner, "write_note", { path: "Doomed", content: "# Doomed\n\nv1\n" }),
    );
    const updated = structuredOf(
      await callTool(owner, "write_note", {
        path: "Doomed",
        content: "# Doomed\n\nv2\n",
        overwrite: true,
      }),
    );
    const deleted = structuredOf(await callTool(owner, "delete_note", { path: "Doomed" }));
    expect(deleted.deleted_revision).toBe(updated.revision);
    expect(textOf(await callTool(owner, "read_note", { path: "Doomed" }))).toContain("not_found");
    const restored = structuredOf(
      await callTool(owner, "revert_note", { path: "Doomed", revision: created.revision }),
    );
    expect(restored).toMatchObject({ created: true, restored_from: created.revision });
    expect(structuredOf(await callTool(owner, "read_note", { path: "Doomed" })).content).toBe(
      "# Doomed\n\nv1\n",
    );

    const history = structuredOf(await callTool(owner, "note_history", { path: "Doomed" }));
    const commits = history.commits as { revision: string; client: string; author: string }[];
    expect(commits.map((commit) => commit.revision)).toEqual(
      [restored, deleted, updated, created].map((result) => String(result.revision)),
    );
    expect(commits[0]).toMatchObject({ client: "mcp/claude-code", author: "Olive Owner" });

    const diff = structuredOf(
      await callTool(owner, "diff", {
        path: "Doomed",
        from_revision: created.revision,
        to_revision: updated.revision,
      }),
    );
    expect(diff.diff).toContain("-v1");
    expect(diff.diff).toContain("+v2");

    const changes = structuredOf(
      await callTool(owner, "recent_changes", { since: updated.revision }),
    );
    expect((changes.commits as { revision: string }[]).map((commit) => commit.revision)).toEqual(
      [restored, deleted].map((result) => String(result.revision)),
    );
    const again = structuredOf(await callTool(owner, "recent_changes", { since: changes.head }));
    expect(again.commits).toEqual([]);
    const badSince = await callTool(owner, "recent_changes", { since: "last tuesday" });
    expect(textOf(badSince)).toStartWith("Error (invalid_arguments):");
    const dated = structuredOf(
      await callTool(owner, "recent_changes", { since: "2000-01-01", limit: 2 }),
    );
    expect((dated.commits as unknown[]).length).toBe(2);
  });

  test("commits name the token's owner and the MCP client; a message cannot fake the client", async () => {
    await callTool(owner, "write_note", {
      path: "Attributed",
      content: "# Attributed\n",
      message: "Add a page\n\nClient: mcp/someone-else\u0007",
    });
    const history = structuredOf(await callTool(owner, "note_history", { path: "Attributed" }));
    expect(history.commits).toEqual([
      expect.objectContaining({
        author: "Olive Owner",
        client: "mcp/claude-code",
        message: "Add a page\n\nClient: mcp/someone-else",
      }),
    ]);
  });

  test("list_notes lists recursively or one folder level, with paging", async () => {
    for (const path of ["Lab/A", "Lab/B", "Lab/Sub/C"]) {
      await callTool(owner, "write_note", { path, content: `# ${path}\n` });
    }
    const all = structuredOf(await callTool(owner, "list_notes", { prefix: "Lab/" }));
    expect((all.pages as { path: string }[]).map((page) => page.path)).toEqual([
      "Lab/A",
      "Lab/B",
      "Lab/Sub/C",
    ]);
    const flat = structuredOf(
      await callTool(owner, "list_notes", { prefix: "Lab/", recursive: false }),
    );
    expect((flat.pages as { path: string }[]).map((page) => page.path)).toEqual(["Lab/A", "Lab/B"]);
    expect(flat.folders).toEqual([{ path: "Lab/Sub/", pages: 1 }]);
    const paged = structuredOf(await callTool(owner, "list_notes", { prefix: "Lab/", limit: 2 }));
    expect(paged.next_offset).toBe(2);
  });

  test("search returns snippet, lines, heading path and revision", async () => {
    const written = structuredOf(
      await callTool(owner, "write_note", {
        path: "Zoo/Capybara",
        content: "# Capybara\n\n## Habitat\n\nThe capybara likes rivers.\n",
      }),
    );
    const result = structuredOf(await callTool(owner, "search", { query: "capybara rivers" }));
    expect(result.hits).toEqual([
      {
        path: "Zoo/Capybara",
        title: "Capybara",
        revision: written.revision,
        snippet: "# Capybara ## Habitat The capybara likes rivers.",
        lines: [1, 5],
        matching_lines: [
          { line: 1, text: "# Capybara", complete: true },
          { line: 5, text: "The capybara likes rivers.", complete: true },
        ],
        heading_path: ["Capybara", "Habitat"],
      },
    ]);
    expect(result).toMatchObject({ total: 1, more_available: false });
    const none = await callTool(owner, "search", { query: "zebracorn" });
    expect(textOf(none)).toContain("No pages match");
  });

  test("invalid arguments are refused by the schema", async () => {
    const result = await owner.callTool({ name: "read_note", arguments: { path: 42 } });
    expect(result.isError).toBe(true);
    const negative = await owner.callTool({
      name: "read_note",
      arguments: { path: "Home", line_start: 0 },
    });
    expect(negative.isError).toBe(true);
  });
});

describe("concurrency", () => {
  test("20 writers on different pages and 5 on one page: every acknowledged write is in history, none is lost", async () => {
    const base = structuredOf(
      await callTool(owner, "write_note", { path: "Contested", content: "# Contested\n\nbase\n" }),
    );
    const clients = await Promise.all(
      Array.from({ length: 25 }, (_, index) =>
        connectMcp(t, "demo", ownerToken, `writer-${index}`),
      ),
    );
    const results = await Promise.all(
      clients.map((client, index) =>
        index < 20
          ? callTool(client, "write_note", {
              path: `Parallel/Page ${index}`,
              content: `# Page ${index}\n`,
            })
          : callTool(client, "write_note", {
              path: "Contested",
              content: `# Contested\n\nwriter ${index}\n`,
              expected_revision: base.revision,
            }),
      ),
    );
    await Promise.all(clients.map((client) => client.close()));

    const different = results.slice(0, 20);
    expect(different.every((result) => !result.isError)).toBe(true);
    const contested = results.slice(20);
    const won = contested.filter((result) => !result.isError);
    const lost = contested.filter((result) => result.isError);
    expect(won.length).toBe(1);
    expect(lost.length).toBe(4);
    for (const refused of lost) expect(textOf(refused)).toStartWith("Error (conflict):");

    const acknowledged = [...different, ...won].map((result) =>
      String(structuredOf(result).revision),
    );
    const history = structuredOf(
      await callTool(owner, "recent_changes", { since: base.revision, limit: 200 }),
    );
    const revisions = (history.commits as { revision: string }[]).map((commit) => commit.revision);
    expect(revisions.toSorted()).toEqual(acknowledged.toSorted());
    for (let index = 0; index < 20; index++) {
      const page = structuredOf(
        await callTool(owner, "read_note", { path: `Parallel/Page ${index}` }),
      );
      expect(page.content).toBe(`# Page ${index}\n`);
    }
    const winner = structuredOf(await callTool(owner, "read_note", { path: "Contested" }));
    const [acknowledgedWinner] = won;
    if (acknowledgedWinner === undefined) throw new Error("no contested write was acknowledged");
    expect(winner.revision).toBe(structuredOf(acknowledgedWinner).revision);
  });
});
