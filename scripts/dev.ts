/**
 * `bun run dev`: the server together with a local PLC + PDS holding a demo account, so the whole
 * Sign in with Bluesky flow works offline on one machine. The PDS (scripts/pds/) is fresh at
 * every start — its PLC directory lives in memory — so the demo account gets a new DID and
 * password each time (printed below) and signs up anew.
 * Usage: bun run dev   (PORT, DATA_DIR… as for `bun run start`; PUBLIC_URL must stay on localhost)
 */

import { resolve } from "node:path";
import { sessionOrigin } from "../src/auth/session/session-cookie.ts";
import { readConfig } from "../src/config/config.ts";
import { randomSecret } from "../src/lib/random.ts";
import { localPdsEnv, startLocalPds } from "./pds/local-pds.ts";
import { ensurePds } from "./setup/pds.ts";

const projectDir = resolve(import.meta.dir, "..");
const config = readConfig(Bun.env);
if (config.publicUrl.hostname !== "localhost") {
  console.error(
    `dev: PUBLIC_URL is ${config.publicUrl.origin}; the local PDS signs in only a localhost instance (the loopback client). Unset PUBLIC_URL.`,
  );
  process.exit(1);
}

// The same set-up as `bun run start`, the embedding model in MODEL_DIR included.
const setup = Bun.spawn(["bun", "scripts/setup.ts", "--quiet", "--install-model"], {
  cwd: projectDir,
  stdio: ["ignore", "inherit", "inherit"],
});
if ((await setup.exited) !== 0) process.exit(1);
await ensurePds({ projectDir, quiet: false });

const pds = await startLocalPds();
const password = randomSecret(12);
const demo = await pds.createAccount({ name: "alice", password, displayName: "Alice (demo)" });
// The default PUBLIC_URL names port 8080; with another PORT the apex must follow it.
const publicUrl = config.publicUrlIsDefault
  ? new URL(`http://localhost:${config.port}`)
  : config.publicUrl;
const apex = sessionOrigin(publicUrl);

const server = Bun.spawn(["bun", "src/main.ts"], {
  cwd: projectDir,
  env: {
    ...Bun.env,
    PUBLIC_URL: publicUrl.origin,
    ...localPdsEnv(pds),
  },
  stdio: ["inherit", "inherit", "inherit"],
});

console.log(`
  wikibot (dev) with a local Bluesky server (PDS ${pds.pdsUrl}, PLC ${pds.plcUrl})

  Sign in:   ${apex}/auth/login
  handle:    ${demo.handle}
  password:  ${password}

  More accounts: any handle you create on the PDS (name.test). Ctrl-C stops everything.
`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    // The terminal's Ctrl-C reaches the server too; a SIGTERM must be passed on.
    if (signal === "SIGTERM") server.kill("SIGTERM");
  });
}
const exitCode = await server.exited;
await pds.stop();
process.exit(exitCode);
