/**
 * Independent MCP clients against the real server: the MCP Inspector CLI (built on the v2 client
 * SDK) with a bearer header, and the conformance suite's generic server scenarios, which cannot
 * send a header and so go through a local forwarding proxy that adds it (no auth bypass).
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { captureCommand } from "../scripts/setup/command.ts";
import { WIKI_TOOLS } from "../src/mcp/tool-registry.ts";
import { type McpProxy, startMcpProxy } from "./support/mcp-proxy.ts";
import {
  createUserAndWiki,
  PROJECT_DIR,
  startTestServer,
  type TestServer,
} from "./support/server.ts";

setDefaultTimeout(120_000);

let t: TestServer;
let token: string;
let scratch: string;

beforeAll(async () => {
  t = await startTestServer();
  token = (await createUserAndWiki(t, { username: "olive", slug: "demo" })).token;
  scratch = mkdtempSync(join(tmpdir(), "wikibot-mcp-clients-"));
});
afterAll(async () => {
  await t.close();
  rmSync(scratch, { recursive: true, force: true });
});

function run(command: string[], env: Record<string, string> = {}) {
  return captureCommand(command, {
    cwd: PROJECT_DIR,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: scratch, ...env },
  });
}

describe("MCP Inspector CLI", () => {
  const inspector = (bearer: string, ...args: string[]) =>
    run(
      [
        "bun",
        join(PROJECT_DIR, "node_modules/.bin/mcp-inspector"),
        "--cli",
        `${t.wikiOrigin("demo")}/mcp`,
        "--transport",
        "http",
        "--format",
        "json",
        "--stored-auth-only",
        "--header",
        `Authorization: Bearer ${bearer}`,
        ...args,
      ],
      {
        MCP_CATALOG_PATH: join(scratch, "catalog.json"),
        MCP_CLIENT_CONFIG_PATH: join(scratch, "client.json"),
      },
    );

  test("lists every tool", async () => {
    const result = await inspector(token, "--method", "tools/list");
    expect(result.exitCode).toBe(0);
    const listed = JSON.parse(result.stdout) as { result: { tools: { name: string }[] } };
    expect(listed.result.tools.map((tool) => tool.name)).toContain("read_note");
    expect(listed.result.tools.length).toBe(WIKI_TOOLS.length);
    expect(listed.result.tools.map((tool) => tool.name)).toContain("grep_notes");
  });

  test("calls read_note and gets numbered lines and the revision", async () => {
    const result = await inspector(
      token,
      "--method",
      "tools/call",
      "--tool-name",
      "read_note",
      "--tool-arg",
      "path=Home",
    );
    expect(result.exitCode).toBe(0);
    const called = JSON.parse(result.stdout) as {
      result: { content: { text: string }[]; structuredContent: { revision: string } };
    };
    expect(called.result.content[0]?.text).toContain(" 1\t# demo");
    expect(called.result.structuredContent.revision).toMatch(/^[0-9a-f]{40}$/);
  });

  test("a missing page is a tool error (exit 5); a bad token is an auth failure (exit 3)", async () => {
    const missing = await inspector(
      token,
      "--method",
      "tools/call",
      "--tool-name",
      "read_note",
      "--tool-arg",
      "path=Nope",
    );
    expect(missing.exitCode).toBe(5);
    expect(missing.stdout).toContain("not_found");
    const refused = await inspector("wbt_not-a-token", "--method", "tools/list");
    expect(refused.exitCode).toBe(3);
  });
});

describe("MCP conformance suite (server scenarios)", () => {
  let proxy: McpProxy;
  beforeAll(() => {
    proxy = startMcpProxy(t, "demo", token);
  });
  afterAll(() => proxy.stop());

  test.each(["server-initialize", "ping", "tools-list", "dns-rebinding-protection"])(
    "%s passes",
    async (scenario) => {
      const output = join(scratch, `conformance-${scenario}`);
      const result = await run([
        "bun",
        join(PROJECT_DIR, "node_modules/.bin/conformance"),
        "server",
        "--url",
        proxy.url,
        "--scenario",
        scenario,
        "-o",
        output,
      ]);
      expect(result.exitCode).toBe(0);
      const [folder] = readdirSync(output);
      if (folder === undefined) throw new Error(`no results from ${scenario}: ${result.stdout}`);
      const checks = JSON.parse(readFileSync(join(output, folder, "checks.json"), "utf8")) as {
        id: string;
        status: string;
      }[];
      expect(checks.length).toBeGreaterThan(0);
      expect(checks.filter((check) => check.status !== "SUCCESS")).toEqual([]);
    },
  );
});
