/**
 * Composition root: read the configuration, start the server, stop cleanly on SIGTERM/SIGINT.
 * One stop request is one signal however many processes relay it; a second one exits at once,
 * as does the shutdown deadline, and both still kill every Otterwiki first.
 */
import { ConfigError, readConfig } from "./config/config.ts";
import { createLogger } from "./lib/log.ts";
import { SECOND } from "./lib/time.ts";
import { startServer } from "./server.ts";

let config: ReturnType<typeof readConfig>;
try {
  config = readConfig(Bun.env);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`wikibot: configuration error: ${error.message}`);
    process.exit(2);
  }
  throw error;
}

const logger = createLogger(config.logLevel);
const server = await startServer(config, logger);

/** Writes in flight get this long to finish before the process exits regardless. */
const SHUTDOWN_DEADLINE = 30 * SECOND;
/**
 * The first stop signal repeated within this window is the same stop request delivered twice,
 * not a second one. Ctrl-C reaches every process of the terminal's foreground group and
 * `bun run start` forwards what it gets to us, so one Ctrl-C arrives twice (about 1 ms apart,
 * measured); systemd's default control-group kill does the same with SIGTERM. A second Ctrl-C
 * that means "now" comes after the person saw the server not stop, well over a second later;
 * a double tap inside the window is taken as one, and the next press still works.
 */
const REPEAT_WINDOW = 1 * SECOND;

let firstStop: { signal: NodeJS.Signals; at: number } | null = null;

/** Exits without waiting, but never leaves an Otterwiki behind (DESIGN §4 covers cut writes). */
function exitNow(reason: string, fields: Record<string, unknown>): never {
  const killed = server.killWikiProcessesNow();
  logger.error(reason, { ...fields, wiki_processes_killed: killed });
  process.exit(1);
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    const now = performance.now();
    if (firstStop !== null) {
      if (signal === firstStop.signal && now - firstStop.at < REPEAT_WINDOW) {
        logger.debug("stop signal repeated by a relay; still one stop request", { signal });
        return;
      }
      exitNow("second stop signal; exiting now with work still in flight", { signal });
    }
    firstStop = { signal, at: now };
    setTimeout(() => {
      exitNow("shutdown deadline passed; exiting with work still in flight", {
        deadline_seconds: SHUTDOWN_DEADLINE / SECOND,
      });
    }, SHUTDOWN_DEADLINE).unref();
    logger.info("shutting down; a second signal stops at once", { signal });
    server.stop().then(
      () => process.exit(0),
      (error: unknown) => exitNow("shutdown failed", { error: String(error) }),
    );
  });
}
