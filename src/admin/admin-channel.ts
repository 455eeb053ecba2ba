/**
 * The running server's local admin channel: HTTP over a unix socket at DATA_DIR/run/admin-channel
 * (mode 0600 in a 0700 folder, so only the account that runs the server can connect). Its one
 * job is to snapshot a wiki's repository under that wiki's write gate for `admin backup`.
 *
 * Why the server and not the CLI: the write gate is a lock inside the server process
 * (src/pages/write-gate.ts), and a separate process cannot take it. A CLI that bundled a live
 * repository would still get a ref-consistent bundle (git writes objects before it moves a ref),
 * but the gate adds two things: no commit lands between reading HEAD and writing the bundle, and
 * no `git gc` repack (run under the gate, src/repo/maintenance.ts) deletes pack files the bundle
 * is reading. Both sides live here because they are one protocol.
 */
import { chmodSync, existsSync, rmSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { z } from "zod";
import type { Logger } from "../lib/log.ts";
import type { WriteGate } from "../pages/write-gate.ts";
import type { WikiStore } from "../wikis/wiki-store.ts";
import { snapshotWiki, type WikiSnapshot } from "./wiki-snapshot.ts";

/** No `.sock` suffix: that marks the Otterwiki sockets (src/wiki/launch.ts) run/ is checked for. */
export function adminSocketPath(dataDir: string): string {
  return join(dataDir, "run", "admin-channel");
}

export interface AdminChannelDeps {
  dataDir: string;
  wikis: WikiStore;
  gate: WriteGate;
  logger: Logger;
}

export interface AdminChannel {
  stop(): void;
}

const snapshotRequest = z.object({
  wiki_id: z.number().int().positive(),
  slug: z.string().min(1).max(63),
  bundle: z.string().refine(isAbsolute, "must be an absolute path"),
  otterwiki_db: z.string().refine(isAbsolute, "must be an absolute path"),
});

const snapshotReply = z.discriminatedUnion("status", [
  z.object({
    status: z.literal("ok"),
    head: z.string(),
    bundleBytes: z.number(),
    otterwikiDb: z.boolean(),
  }),
  z.object({ status: z.literal("empty"), otterwikiDb: z.boolean() }),
  z.object({ status: z.literal("deleted") }),
]);

const errorReply = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

const MAX_REQUEST_BYTES = 64 * 1024;

const json = (body: unknown, status = 200) => Response.json(body, { status });
const failure = (status: number, code: string, message: string) =>
  json({ error: { code, message } }, status);

/**
 * Listens on the admin socket. A socket file left by a server that died is replaced; one that
 * another live server answers on is left alone (that server keeps its channel, this one has none).
 */
export async function startAdminChannel(deps: AdminChannelDeps): Promise<AdminChannel> {
  const path = adminSocketPath(deps.dataDir);
  if (existsSync(path)) {
    if ((await connectAdminChannel(deps.dataDir)) !== null) {
      deps.logger.error("another server answers on the admin socket; backups go to it", { path });
      return { stop() {} };
    }
    rmSync(path, { force: true });
  }
  chmodSync(dirname(path), 0o700);
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      unix: path,
      // No idleTimeout here: Bun's unix-socket servers take none (and keep a silent request open
      // past the 10 s a TCP server allows), which a long bundle of a large repository needs.
      maxRequestBodySize: MAX_REQUEST_BYTES,
      fetch: (request) => handle(deps, request),
    });
  } catch (error) {
    // E.g. a DATA_DIR path longer than a socket address allows (108 bytes): serving goes on,
    // and `admin backup` refuses while this server runs instead of racing its writes.
    deps.logger.error("the admin channel is unavailable; backups need the server stopped", {
      path,
      error: error instanceof Error ? error.message : String(error),
    });
    return { stop() {} };
  }
  chmodSync(path, 0o600);
  return {
    stop() {
      server.stop(true);
      rmSync(path, { force: true });
    },
  };
}

async function handle(deps: AdminChannelDeps, request: Request): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (pathname === "/v1/status" && request.method === "GET") return json({ pid: process.pid });
  if (pathname !== "/v1/snapshot") return failure(404, "not_found", "no such admin endpoint");
  if (request.method !== "POST") return failure(405, "method_not_allowed", "POST only");
  const parsed = snapshotRequest.safeParse(await request.json().catch(() => null));
  if (!parsed.success) return failure(400, "bad_request", z.prettifyError(parsed.error));
  const { wiki_id: wikiId, slug } = parsed.data;
  try {
    const snapshot = await deps.gate.run(wikiId, async (): Promise<WikiSnapshot> => {
      // Under the gate, a row that is still there means the folder is this wiki's: deletion
      // removes the row first under the same gate, and a new wiki under the slug gets a new id.
      if (deps.wikis.findById(wikiId)?.slug !== slug) return { status: "deleted" };
      return snapshotWiki(deps.dataDir, slug, {
        bundle: parsed.data.bundle,
        otterwikiDb: parsed.data.otterwiki_db,
      });
    });
    return json(snapshot);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    deps.logger.error("admin snapshot failed", { wiki: slug, error: message });
    return failure(500, "snapshot_failed", message);
  }
}

/** The CLI's side: a live server's channel, or null when no server answers on the socket. */
export async function connectAdminChannel(dataDir: string): Promise<AdminChannelClient | null> {
  const path = adminSocketPath(dataDir);
  if (!existsSync(path)) return null;
  try {
    const response = await fetch("http://wikibot-admin/v1/status", { unix: path });
    await response.arrayBuffer();
    return response.ok ? new AdminChannelClient(path) : null;
  } catch {
    // ECONNREFUSED: the server that made the socket is gone.
    return null;
  }
}

export class AdminChannelClient {
  constructor(private readonly path: string) {}

  /** Asks the server to snapshot one wiki under its write gate; throws with the server's reason. */
  async snapshot(input: {
    wikiId: number;
    slug: string;
    bundle: string;
    otterwikiDb: string;
  }): Promise<WikiSnapshot> {
    const response = await fetch("http://wikibot-admin/v1/snapshot", {
      unix: this.path,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        wiki_id: input.wikiId,
        slug: input.slug,
        bundle: input.bundle,
        otterwiki_db: input.otterwikiDb,
      }),
      // Bundling a large repository may keep the answer silent for minutes.
      timeout: false,
    });
    const body: unknown = await response.json().catch(() => null);
    if (response.ok) {
      const reply = snapshotReply.safeParse(body);
      if (reply.success) return reply.data;
    }
    const problem = errorReply.safeParse(body);
    throw new Error(
      `the server could not snapshot "${input.slug}": ${problem.success ? problem.data.error.message : `HTTP ${response.status}`}`,
    );
  }
}
