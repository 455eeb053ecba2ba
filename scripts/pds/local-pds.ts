/**
 * Starts the local PLC directory + PDS (local-pds.mjs) under the Node 22 that `bun install` put
 * in .pds/ (scripts/setup/pds.ts), for the Sign in with Bluesky tests (test/support/pds.ts) and
 * `bun run dev`. Accounts are made on demand over XRPC, exactly as a person's would be.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PDS_HINT, pdsInstall, pdsInstalled } from "../setup/pds.ts";

const PROJECT_DIR = resolve(import.meta.dir, "..", "..");

export interface LocalPds {
  plcUrl: string;
  /** http://localhost:{port}: the PDS and its OAuth authorization server (issuer). */
  pdsUrl: string;
  /** Creates `{name}.test` with a password and, when given, a public profile display name. */
  createAccount(options: {
    name: string;
    password: string;
    displayName?: string;
  }): Promise<{ did: string; handle: string }>;
  stop(): Promise<void>;
}

export async function startLocalPds(env: Record<string, string> = {}): Promise<LocalPds> {
  if (!pdsInstalled(PROJECT_DIR)) throw new Error(PDS_HINT);
  const install = pdsInstall(PROJECT_DIR);
  const dataDir = mkdtempSync(join(tmpdir(), "wikibot-pds-"));
  const child = Bun.spawn([install.node, install.startScript, install.dir, dataDir], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LOG_ENABLED: "false", ...env },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.getReader();
  let output = "";
  const deadline = Date.now() + 60_000;
  while (!output.includes("\n")) {
    const next = await Promise.race([
      reader.read(),
      Bun.sleep(Math.max(0, deadline - Date.now())).then(() => null),
    ]);
    if (next === null || next.done) {
      child.kill();
      throw new Error(`the local PDS did not start: ${(await stderr).slice(-2000)}`);
    }
    output += new TextDecoder().decode(next.value);
  }
  reader.releaseLock();
  const ready: unknown = JSON.parse(output.slice(0, output.indexOf("\n")));
  if (
    typeof ready !== "object" ||
    ready === null ||
    !("plcUrl" in ready) ||
    !("pdsUrl" in ready) ||
    typeof ready.plcUrl !== "string" ||
    typeof ready.pdsUrl !== "string"
  ) {
    child.kill();
    throw new Error(`the local PDS said something unexpected: ${output}`);
  }
  const { plcUrl, pdsUrl } = ready;

  async function xrpc(method: string, body: unknown, token?: string): Promise<unknown> {
    const response = await fetch(`${pdsUrl}/xrpc/${method}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} answered ${response.status}: ${text}`);
    return JSON.parse(text);
  }

  return {
    plcUrl,
    pdsUrl,
    async createAccount({ name, password, displayName }) {
      const handle = `${name}.test`;
      const created = await xrpc("com.atproto.server.createAccount", {
        handle,
        email: `${name}@example.com`,
        password,
      });
      if (
        typeof created !== "object" ||
        created === null ||
        !("did" in created) ||
        !("accessJwt" in created) ||
        typeof created.did !== "string" ||
        typeof created.accessJwt !== "string"
      ) {
        throw new Error(`createAccount answered ${JSON.stringify(created)}`);
      }
      if (displayName !== undefined) {
        await xrpc(
          "com.atproto.repo.createRecord",
          {
            repo: created.did,
            collection: "app.bsky.actor.profile",
            rkey: "self",
            record: { $type: "app.bsky.actor.profile", displayName },
          },
          created.accessJwt,
        );
      }
      return { did: created.did, handle };
    },
    async stop() {
      child.stdin.end();
      child.kill("SIGTERM");
      await Promise.race([child.exited, Bun.sleep(5000)]);
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
