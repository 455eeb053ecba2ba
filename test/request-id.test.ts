/**
 * Request ids (issue 12): every response carries one, every line logged while handling the
 * request carries the same, our proxy's id is kept, and Otterwiki is sent ours.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { readConfig } from "../src/config/config.ts";
import { assignRequestId, attachClientAddress, requestIdOf } from "../src/http/request-context.ts";
import { createLogger } from "../src/lib/log.ts";
import { type RunningServer, startServer } from "../src/server.ts";
import { upstreamHeaders } from "../src/wiki/proxy.ts";
import { makeDataDir, PROJECT_DIR, runAdmin, testDid } from "./support/server.ts";

setDefaultTimeout(60_000);

const dataDir = makeDataDir();
const lines: Record<string, unknown>[] = [];
let server: RunningServer;

beforeAll(async () => {
  server = await startServer(
    readConfig({ DATA_DIR: dataDir, PORT: "0", MODEL_DIR: join(PROJECT_DIR, ".models") }),
    createLogger("info", (line) => lines.push(JSON.parse(line))),
  );
  const env = { DATA_DIR: dataDir, PUBLIC_URL: server.publicUrl.origin };
  const did = testDid();
  for (const args of [
    ["create-user", "--username", "alice", "--did", did, "--handle", "alice.bsky.social"],
    ["create-wiki", "--slug", "closed", "--owner", "alice"],
  ]) {
    const result = await runAdmin(env, args);
    if (result.exitCode !== 0) throw new Error(result.stderr);
  }
});

afterAll(async () => {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const logged = (id: string) => lines.filter((line) => line.request_id === id);

describe("request ids", () => {
  test("a response carries a new id, and its request line the same", async () => {
    const response = await fetch(`${server.publicUrl.origin}/health`);
    await response.arrayBuffer();
    const id = response.headers.get("x-request-id") ?? "";
    expect(id).toMatch(/^[a-z0-9]{16}$/);
    expect(logged(id)).toEqual([expect.objectContaining({ message: "request", path: "/health" })]);
    const again = await fetch(`${server.publicUrl.origin}/health`);
    await again.arrayBuffer();
    expect(again.headers.get("x-request-id")).not.toBe(id);
  });

  test("lines logged inside a handler carry the request's id", async () => {
    const origin = `http://closed.localhost:${server.port}`;
    const response = await fetch(`${origin}/repo.git/info/refs?service=git-upload-pack`);
    await response.arrayBuffer();
    expect(response.status).toBe(401);
    const id = response.headers.get("x-request-id") ?? "";
    expect(logged(id).map((line) => line.message)).toEqual(["git request refused", "request"]);
  });

  test("our proxy's id is kept; an unsafe one is replaced", async () => {
    const kept = await fetch(`${server.publicUrl.origin}/health`, {
      headers: { "x-request-id": "caddy-0f3a.9_B" },
    });
    await kept.arrayBuffer();
    expect(kept.headers.get("x-request-id")).toBe("caddy-0f3a.9_B");
    expect(logged("caddy-0f3a.9_B").length).toBe(1);
    for (const unsafe of ["a b", "x".repeat(65), "<script>", "id%C3%A9", "a,b"]) {
      const replaced = await fetch(`${server.publicUrl.origin}/health`, {
        headers: { "x-request-id": unsafe },
      });
      await replaced.arrayBuffer();
      expect(replaced.headers.get("x-request-id")).toMatch(/^[a-z0-9]{16}$/);
    }
  });

  test("an id from a peer that is not our proxy is replaced", () => {
    const request = new Request("http://localhost/health", {
      headers: { "x-request-id": "looks-fine" },
    });
    attachClientAddress(request, "203.0.113.7");
    expect(assignRequestId(request)).toMatch(/^[a-z0-9]{16}$/);
    const local = new Request("http://localhost/health", {
      headers: { "x-request-id": "looks-fine" },
    });
    attachClientAddress(local, "127.0.0.1");
    expect(assignRequestId(local)).toBe("looks-fine");
    expect(requestIdOf(local)).toBe("looks-fine");
  });

  test("Otterwiki is sent our id, never the client's", () => {
    const headers = upstreamHeaders({
      method: "GET",
      pathAndQuery: "/Home",
      clientHeaders: new Headers({ "x-request-id": "chosen-by-client" }),
      body: null,
      publicHost: "demo.wikibot.example",
      identity: [],
      requestId: "ours123",
    });
    expect(headers.get("x-request-id")).toBe("ours123");
    const without = upstreamHeaders({
      method: "GET",
      pathAndQuery: "/Home",
      clientHeaders: new Headers({ "x-request-id": "chosen-by-client" }),
      body: null,
      publicHost: "demo.wikibot.example",
      identity: [],
    });
    expect(without.has("x-request-id")).toBe(false);
  });
});
