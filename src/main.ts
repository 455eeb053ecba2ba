/** Composition root: read the configuration, start the server, stop cleanly on SIGTERM/SIGINT. */
import { ConfigError, readConfig } from "./config/config.ts";
import { createLogger } from "./lib/log.ts";
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
const SHUTDOWN_DEADLINE_MS = 30_000;
let shuttingDown = false;

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (shuttingDown) {
      // A second signal means "now": the write gate's crash recovery covers an interrupted write.
      process.exit(1);
    }
    shuttingDown = true;
    setTimeout(() => {
      logger.error("shutdown deadline passed; exiting with work still in flight");
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    logger.info("shutting down", { signal });
    server.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error("shutdown failed", { error: String(error) });
        process.exit(1);
      },
    );
  });
}
