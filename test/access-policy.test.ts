/**
 * One access policy, four surfaces (issue 8, "One policy, not four"): for each situation REST,
 * MCP and git refuse with the same status class and the same sentence, taken from the one
 * access decision. Raw HTTP, so the test sees exactly what each client would. What each plan
 * allows (free, premium, lapsed), role by role and surface by surface, is test/plan-matrix.test.ts.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  addUser,
  createToken,
  createUserAndWiki,
  startTestServer,
  type TestServer,
} from "./support/server.ts";

setDefaultTimeout(60_000);

let t: TestServer;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  t = await startTestServer();
  tokens.owner = (
    await createUserAndWiki(t, { username: "olga", slug: "private", tier: "premium" })
  ).token;
  tokens.publicOwner = (
    await createUserAndWiki(t, { username: "paul", slug: "public", public: true, tier: "premium" })
  ).token;
  await addUser(t, "vic", { wiki: "private", role: "viewer" });
  tokens.viewer = (await createToken(t, "private", "vic", "write")).token;
  await addUser(t, "eve", { wiki: "private", role: "editor" });
  tokens.readOnly = (await createToken(t, "private", "eve", "read")).token;
  const revoked = await createToken(t, "public", "paul", "write");
  await t.adminJson("revoke-token", "--id", revoked.id);
  tokens.revoked = revoked.token;
});
afterAll(() => t.close());

interface Answer {
  status: number;
  text: string;
}

async function answer(response: Response): Promise<Answer> {
  return { status: response.status, text: await response.text() };
}

function bearer(token: string | null): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

function restWrite(slug: string, token: string | null): Promise<Answer> {
  return fetch(`${t.wikiOrigin(slug)}/api/v1/pages/Policy%20Page`, {
    method: "PUT",
    headers: { "content-type": "text/markdown", ...bearer(token) },
    body: "# Policy\n",
  }).then(answer);
}

function restRead(slug: string, token: string | null): Promise<Answer> {
  return fetch(`${t.wikiOrigin(slug)}/api/v1/pages/Home`, { headers: bearer(token) }).then(answer);
}

function mcpCall(slug: string, token: string | null, tool: string): Promise<Answer> {
  return fetch(`${t.wikiOrigin(slug)}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-11-25",
      ...bearer(token),
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name: tool,
        arguments:
          tool === "write_note"
            ? { path: "Policy Page", content: "# P\n", overwrite: true }
            : { path: "Home" },
      },
    }),
  }).then(answer);
}

function git(slug: string, token: string | null, service: string): Promise<Answer> {
  const headers: Record<string, string> =
    token === null ? {} : { authorization: `Basic ${btoa(`git:${token}`)}` };
  return fetch(`${t.wikiOrigin(slug)}/repo.git/info/refs?service=${service}`, { headers }).then(
    answer,
  );
}

describe("every surface gives the same answer for the same situation", () => {
  test("no credentials on a private wiki: 401 and one sentence", async () => {
    const sentence = "private is a private wiki: reading it needs a wiki token";
    for (const reply of [
      await restRead("private", null),
      await mcpCall("private", null, "read_note"),
      await git("private", null, "git-upload-pack"),
    ]) {
      expect(reply.status).toBe(401);
      expect(reply.text).toContain(sentence);
    }
  });

  test("a revoked token on a public wiki is refused everywhere it is presented", async () => {
    const sentence = "that token is not valid for public: it has been revoked";
    for (const reply of [
      await restRead("public", tokens.revoked ?? ""),
      await mcpCall("public", tokens.revoked ?? "", "read_note"),
      await git("public", tokens.revoked ?? "", "git-upload-pack"),
    ]) {
      expect(reply.status).toBe(401);
      expect(reply.text).toContain(sentence);
    }
    // Without the token the same wiki reads anonymously on every surface.
    expect((await restRead("public", null)).status).toBe(200);
    expect((await git("public", null, "git-upload-pack")).status).toBe(200);
  });

  test("another wiki's token is not valid here, on every surface", async () => {
    const sentence = "that token is not valid for public: it was made for another wiki";
    for (const reply of [
      await restRead("public", tokens.owner ?? ""),
      await mcpCall("public", tokens.owner ?? "", "read_note"),
      await git("public", tokens.owner ?? "", "git-upload-pack"),
    ]) {
      expect(reply.status).toBe(401);
      expect(reply.text).toContain(sentence);
    }
  });

  test("a viewer with a write token: refused for their role, not their token", async () => {
    const sentence = "your role on private is viewer: changing pages needs editor or owner";
    const rest = await restWrite("private", tokens.viewer ?? "");
    const push = await git("private", tokens.viewer ?? "", "git-receive-pack");
    expect(rest.status).toBe(403);
    expect(push.status).toBe(403);
    const mcp = await mcpCall("private", tokens.viewer ?? "", "write_note");
    expect(mcp.status).toBe(200); // a tool error the agent reads, not a transport failure
    for (const reply of [rest, push, mcp]) expect(reply.text).toContain(sentence);
  });

  test("an editor's read token: 403 with one sentence (and insufficient_scope for bearer clients)", async () => {
    const sentence = "this token is read-only: make a token with write scope to change pages";
    const rest = await fetch(`${t.wikiOrigin("private")}/api/v1/pages/Policy%20Page`, {
      method: "PUT",
      headers: { "content-type": "text/markdown", ...bearer(tokens.readOnly ?? "") },
      body: "# Policy\n",
    });
    expect(rest.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    const replies = [
      await answer(rest),
      await mcpCall("private", tokens.readOnly ?? "", "write_note"),
      await git("private", tokens.readOnly ?? "", "git-receive-pack"),
    ];
    for (const reply of replies) {
      expect(reply.status).toBe(403);
      expect(reply.text).toContain(sentence);
    }
  });
});
