/**
 * The server as an operator runs it: `bun src/main.ts` in a child process, for tests of process
 * behaviour (signals, logs) and for benches that must not share a process with their clients.
 */

import { join } from "node:path";
import type { Subprocess } from "bun";
import { PROJECT_DIR } from "./server.ts";

/** A port that was free a moment ago (the OS picks it; a race with another process is possible). */
export async function freePort(): Promise<number> {
  const probe = Bun.serve({ port: 0, fetch: () => new Response() });
  const port = probe.port ?? 0;
  await probe.stop(true);
  return port;
}

export interface ServerProcess {
  child: Subprocess<"ignore", "pipe" | "ignore", "inherit" | "ignore">;
  port: number;
  /** True once /health answered 200, false if it never did within the wait. */
  healthy: boolean;
}

/** Starts `bun src/main.ts` on a free port with PUBLIC_URL http://localhost:<port>, waits for /health. */
export async function spawnServer(options: {
  dataDir: string;
  /** Defaults to a free port. */
  port?: number;
  env?: Record<string, string>;
  stdout?: "pipe" | "ignore";
  stderr?: "inherit" | "ignore";
}): Promise<ServerProcess> {
  const port = options.port ?? (await freePort());
  const child = Bun.spawn(["bun", join(PROJECT_DIR, "src/main.ts")], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      DATA_DIR: options.dataDir,
      PORT: String(port),
      PUBLIC_URL: `http://localhost:${port}`,
      ...options.env,
    },
    stdin: "ignore",
    stdout: options.stdout ?? "ignore",
    stderr: options.stderr ?? "inherit",
  });
  let healthy = false;
  // Up to 30 s: a loaded 2-core machine has taken over 10 s to start the server and its worker.
  for (let attempt = 0; attempt < 600 && !healthy && child.exitCode === null; attempt++) {
    await Bun.sleep(50);
    const health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
    healthy = health?.status === 200;
  }
  return { child, port, healthy };
}
