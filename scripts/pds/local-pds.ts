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

const ONE_PIXEL_PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

export interface LocalPds {
  plcUrl: string;
  /** http://localhost:{port}: the PDS and its OAuth authorization server (issuer). */
  pdsUrl: string;
  /**
   * Creates `{name}.test` with a password and, when given, a public profile: a display name
   * and, with `avatar`, a picture (a PNG uploaded as a blob, as a Bluesky app does).
   */
  createAccount(options: {
    name: string;
    password: string;
    displayName?: string;
    avatar?: boolean;
  }): Promise<{ did: string; handle: string }>;
  stop(): Promise<void>;
}

/** The server's environment for signing in against this PDS: its PLC, its handles, http. */
export function localPdsEnv(pds: Pick<LocalPds, "plcUrl" | "pdsUrl">): Record<string, string> {
  return {
    ATPROTO_PLC_URL: pds.plcUrl,
    ATPROTO_HANDLE_RESOLVER: pds.pdsUrl,
    ATPROTO_ALLOW_LOOPBACK_HTTP: "true",
  };
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

  /** Uploads a 1×1 PNG and returns the blob reference a record embeds. */
  async function uploadPng(token: string): Promise<unknown> {
    const response = await fetch(`${pdsUrl}/xrpc/com.atproto.repo.uploadBlob`, {
      method: "POST",
      headers: { "content-type": "image/png", authorization: `Bearer ${token}` },
      body: Buffer.from(ONE_PIXEL_PNG, "base64"),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`uploadBlob answered ${response.status}: ${text}`);
    const answer: unknown = JSON.parse(text);
    if (typeof answer !== "object" || answer === null || !("blob" in answer))
      throw new Error(`uploadBlob answered ${text}`);
    return answer.blob;
  }

  return {
    plcUrl,
    pdsUrl,
    async createAccount({ name, password, displayName, avatar }) {
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
      if (displayName !== undefined || avatar === true) {
        const picture = avatar === true ? await uploadPng(created.accessJwt) : undefined;
        await xrpc(
          "com.atproto.repo.createRecord",
          {
            repo: created.did,
            collection: "app.bsky.actor.profile",
            rkey: "self",
            record: { $type: "app.bsky.actor.profile", displayName, avatar: picture },
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
