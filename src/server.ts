/**
 * Wires the real dependencies together and listens: database, keys, stores, the write gate and
 * the app. Used by main.ts and by the tests, which start it on port 0 with a fresh DATA_DIR.
 */
import type { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { startAdminChannel } from "./admin/admin-channel.ts";
import { createApp } from "./app.ts";
import { createHandleLookup } from "./auth/atproto-login/handle-lookup.ts";
import { createHardenedFetch } from "./auth/atproto-login/hardened-fetch.ts";
import { buildAtprotoLogin } from "./auth/atproto-login/login-deps.ts";
import { signupJsonHandler } from "./auth/atproto-login/routes.ts";
import { buildProviderLogin } from "./auth/provider-login/provider-login-deps.ts";
import type { HandoffDeps } from "./auth/session/handoff.ts";
import { SessionService } from "./auth/session/session.ts";
import { SessionStore } from "./auth/session/session-store.ts";
import type { Config } from "./config/config.ts";
import { deriveKey, loadSecrets } from "./config/keys.ts";
import { createGitHandler } from "./git/routes.ts";
import { attachClientAddress } from "./http/request-context.ts";
import { buildWebApp } from "./http/web-app.ts";
import { startDiskWatch } from "./lib/disk-usage.ts";
import { createLogger, type Logger } from "./lib/log.ts";
import { createManageHandler } from "./manage/routes.ts";
import { createMcpHandler } from "./mcp/handler.ts";
import {
  authorizationServerMetadataHandler,
  authorizationServersOf,
  createOAuthHandler,
  startOAuthSweeps,
} from "./oauth/routes.ts";
import type { PageStore } from "./pages/page-store.ts";
import { type SemanticSearch, startSemanticSearch } from "./search/search-service.ts";
import { COMMITTER, openStores } from "./stores.ts";
import { createBrowserHandler } from "./wiki/browser-handler.ts";
import { otterwikiLauncher, PROJECT_DIR } from "./wiki/launch.ts";
import { reapStaleProcesses } from "./wiki/otterwiki-process.ts";
import { OtterwikiPool, type PoolSnapshot } from "./wiki/process-pool.ts";
import { reapStaleZygote, Zygote } from "./wiki/zygote.ts";
import { claimPendingGrants } from "./wikis/members.ts";

// Re-exported for callers that already import the server; the light path is ./stores.ts.
export { COMMITTER, openStores };

const MIB = 1024 * 1024;

export interface RunningServer {
  readonly port: number;
  readonly publicUrl: URL;
  readonly db: Database;
  readonly pages: PageStore;
  /** Semantic search: the embedding worker and the per-wiki vector indexes. */
  readonly semanticSearch: SemanticSearch;
  /** Browser sessions: the test harness signs people in through them exactly as the login does. */
  readonly browserSessions: HandoffDeps;
  /** The Otterwiki pool with each live wiki's slug and pid: for the operator and tests only. */
  wikiProcesses(): PoolSnapshot;
  /** Stops accepting, lets requests and writes in flight finish, then closes the database. */
  stop(): Promise<void>;
  /** For an exit that cannot wait for stop(): kills every Otterwiki synchronously; how many. */
  killWikiProcessesNow(): number;
}

export async function startServer(
  config: Config,
  logger: Logger = createLogger(config.logLevel),
): Promise<RunningServer> {
  const dataDir = resolve(config.dataDir);
  const runDir = join(dataDir, "run");
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const stores = openStores(dataDir, config.plans);
  const { gate, pages } = stores;
  // For `admin backup`: repositories snapshotted under this process's write gate.
  const adminChannel = await startAdminChannel({ dataDir, wikis: stores.wikis, gate, logger });
  const secrets = loadSecrets(dataDir);
  const sessions = new SessionService(new SessionStore(stores.db));
  const semanticSearch = startSemanticSearch({
    db: stores.db,
    dataDir,
    databasePath: join(dataDir, "wikibot.db"),
    modelDir: resolve(config.modelDir),
    logger,
  });
  const reaped = reapStaleProcesses(runDir) + (reapStaleZygote(runDir) ? 1 : 0);
  if (reaped > 0) logger.warn("stopped Otterwiki processes left by a previous run", { reaped });
  const startedAt = Date.now();
  let stopping = false;
  const disk = startDiskWatch({ path: dataDir, warnPercent: config.diskWarnPercent, logger });

  let handler: (request: Request) => Promise<Response> = async () =>
    new Response("starting", { status: 503 });
  const server = Bun.serve({
    port: config.port,
    maxRequestBodySize: Math.max(config.maxBodyBytes, config.maxPackBytes + MIB),
    // A browser request may wait, sending nothing, for an Otterwiki slot (WIKI_PROCESSES_MAX)
    // while other wikis start; Bun's default of 10 s reset such requests (ECONNRESET seen in
    // test/wiki-pool.test.ts on a loaded 2-core CI machine). Caddy in front bounds idle clients.
    idleTimeout: 60,
    fetch: (request, bun) => {
      attachClientAddress(request, bun.requestIP(request)?.address ?? "");
      return handler(request);
    },
  });
  const port = server.port ?? config.port;
  let publicUrl = config.publicUrl;
  if (config.port === 0 && config.publicUrlIsDefault)
    publicUrl = new URL(`http://localhost:${port}`);
  const zygote =
    config.wikiLauncher === "zygote"
      ? new Zygote({
          python: join(resolve(config.venvDir), "bin", "python"),
          wrapperDir: join(PROJECT_DIR, "src", "wiki", "otterwiki"),
          runDir,
          logger,
        })
      : null;
  // Ready before the first wiki is asked for: its first view then costs only the fork.
  zygote?.warmUp();
  const pool = new OtterwikiPool({
    max: config.wikiProcessesMax,
    idleMs: config.wikiIdleSeconds * 1000,
    launchFor: otterwikiLauncher({
      dataDir,
      runDir,
      secrets,
      committer: COMMITTER,
      publicUrl,
      logLevel: config.logLevel,
      // Absolute: gunicorn starts in the wiki's folder.
      gunicorn: join(resolve(config.venvDir), "bin", "gunicorn"),
    }),
    logger,
    start: zygote === null ? undefined : (launch) => zygote.start(launch),
  });

  const health = () => {
    let dbOk = true;
    try {
      stores.db.query("SELECT 1").get();
    } catch {
      dbOk = false;
    }
    return {
      ok: dbOk && !stopping,
      status: stopping ? "stopping" : dbOk ? "ok" : "degraded",
      db: dbOk ? "ok" : "error",
      writes_in_flight: gate.activeCount,
      // Counts only: /health is public, and the slugs of live wikis would name private ones.
      wiki_processes: poolCounts(pool.snapshot()),
      wiki_launcher:
        zygote === null
          ? { kind: "gunicorn" }
          : { kind: "zygote", state: zygote.state(), spare: zygote.spareState() },
      repo_maintenance: pages.maintenance.status(),
      search: searchHealth(semanticSearch),
      disk: disk.health(),
      uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
    };
  };
  const browser = createBrowserHandler({
    pool,
    pages,
    users: stores.users,
    wikis: stores.wikis,
    sessions,
    publicUrl,
    maxBodyBytes: config.maxBodyBytes,
    logger,
  });
  const browserSessions: HandoffDeps = { sessions, wikis: stores.wikis, publicUrl };
  const atprotoLogin = await buildAtprotoLogin({
    keysDir: join(dataDir, "keys"),
    db: stores.db,
    users: stores.users,
    handoff: browserSessions,
    logger,
    sealingKey: deriveKey(secrets, "atproto-oauth-stores"),
    plcUrl: config.atprotoPlcUrl,
    handleResolverUrl: config.atprotoHandleResolver,
    allowLoopbackHttp: config.atprotoAllowLoopbackHttp,
    claimPendingGrants: (user, verifiedHandle) => claimPendingGrants(stores, user, verifiedHandle),
  });
  const providerLogin = buildProviderLogin({
    db: stores.db,
    users: stores.users,
    handoff: browserSessions,
    logger,
    githubLogin: config.githubLogin,
    googleLogin: config.googleLogin,
    fetch: createHardenedFetch({ allowLoopbackHttp: config.atprotoAllowLoopbackHttp }),
    // Not a Bluesky sign-in: no handle was verified now, so only grants keyed by DID apply.
    claimPendingGrants: (user) => claimPendingGrants(stores, user, null),
  });
  const webApp = await buildWebApp(resolve(import.meta.dir, "..", "public"));
  const stopOAuthSweeps = startOAuthSweeps({ ...stores, logger });
  const app = createApp({
    ...stores,
    sessions,
    atprotoLogin,
    providerLogin,
    wikiHandlers: {
      mcp: createMcpHandler({
        ...stores,
        semanticSearch,
        publicUrl,
        logger,
        maxBodyBytes: config.maxBodyBytes,
        sessionKey: deriveKey(secrets, "mcp-client-session"),
        authorizationServers: authorizationServersOf(publicUrl),
        authorizationServerMetadata: authorizationServerMetadataHandler(publicUrl),
      }),
      oauth: createOAuthHandler({
        ...stores,
        sessions,
        publicUrl,
        csrfKey: deriveKey(secrets, "oauth-consent-csrf"),
        logger,
      }),
      git: createGitHandler({
        ...stores,
        dataDir,
        publicUrl,
        maxPackBytes: config.maxPackBytes,
        maxFileBytes: config.maxBodyBytes,
        logger,
        disableIdleTimeout: (request) => server.timeout(request, 0),
      }),
      browser,
    },
    pages,
    semanticSearch,
    publicUrl,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    webApp,
    health,
    manageApi: createManageHandler({
      ...stores,
      sessions,
      dataDir,
      publicUrl,
      committer: COMMITTER,
      logger,
      stopWikiProcesses: (wikiId) => pool.stop(wikiId),
      forgetSearchIndex: (wikiId, slug) => semanticSearch.forgetWiki(wikiId, slug),
      signUp: signupJsonHandler(atprotoLogin),
      resolveHandle: createHandleLookup(atprotoLogin.client),
      signInProviders: providerLogin.providers,
      identityLinks: providerLogin.links,
    }),
  });
  handler = app.fetch;
  logger.info("listening", { port, public_url: publicUrl.origin, data_dir: dataDir });

  return {
    port,
    publicUrl,
    db: stores.db,
    pages,
    semanticSearch,
    browserSessions,
    wikiProcesses: () => pool.snapshot(),
    async stop() {
      if (stopping) return;
      stopping = true;
      stopOAuthSweeps();
      adminChannel.stop();
      disk.stop();
      await server.stop();
      await gate.close();
      await pool.close();
      await zygote?.close();
      await semanticSearch.stop();
      stores.db.close();
      logger.info("stopped");
    },
    killWikiProcessesNow: () => pool.killNow() + (zygote?.killNow() ? 1 : 0),
  };
}

/** Counts only, like the rest of /health. */
function searchHealth(search: SemanticSearch) {
  const status = search.status();
  return { state: status.state, queue_depth: status.queueDepth };
}

function poolCounts(snapshot: PoolSnapshot) {
  const { processes: _perWiki, ...counts } = snapshot;
  return counts;
}
