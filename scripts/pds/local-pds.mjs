// A local PLC directory + PDS for the Sign in with Bluesky tests and `bun run dev`
// (notes/atproto-login.md §5). Runs under the Node 22 that scripts/setup/pds.ts installs into
// .pds/ — the PDS cannot run on Bun or Node 20 — and loads the packages from there.
// Both listen on free loopback ports; the PDS is http://localhost:{port} (its OAuth issuer too),
// in dev mode, handle domain `.test`, no invites, no rate limits. When both are up it prints one
// line of JSON, {"plcUrl","pdsUrl"}, and it stops when stdin closes or on SIGTERM/SIGINT.
// Accounts are made over XRPC by the caller (com.atproto.server.createAccount).
// Usage: node scripts/pds/local-pds.mjs <pds-install-dir> <data-dir>
//   REWRITE_FROM / REWRITE_TO (optional): the PDS fetches REWRITE_FROM… at REWRITE_TO…, so a
//   client_id such as https://wiki.e2e.internal/… can be served by a local server.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [installDir, dataDir] = process.argv.slice(2);
if (!installDir || !dataDir) {
  console.error("usage: node scripts/pds/local-pds.mjs <pds-install-dir> <data-dir>");
  process.exit(2);
}
const require = createRequire(join(installDir, "package.json"));
const load = (name) => import(pathToFileURL(require.resolve(name)).href);

const { REWRITE_FROM, REWRITE_TO } = process.env;
if (REWRITE_FROM && REWRITE_TO) {
  // The PDS's own safe fetch calls globalThis.fetch at call time (pds/src/context.ts).
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith(REWRITE_FROM)) return realFetch(input, init);
    const target = REWRITE_TO + url.slice(REWRITE_FROM.length);
    return realFetch(input instanceof Request ? new Request(target, input) : target, init);
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const plc = await load("@did-plc/server");
const { PDS } = await load("@atproto/pds");

const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: await freePort() });
const plcListener = await plcServer.start();
const plcUrl = `http://localhost:${plcListener.address().port}`;

const pdsPort = await freePort();
mkdirSync(join(dataDir, "blobs"), { recursive: true });
const pds = await PDS.fromEnv({
  devMode: true,
  port: pdsPort,
  hostname: "localhost",
  dataDirectory: dataDir,
  blobstoreDiskLocation: join(dataDir, "blobs"),
  didPlcUrl: plcUrl,
  serviceHandleDomains: [".test"],
  bskyAppViewUrl: "https://appview.invalid",
  bskyAppViewDid: "did:example:invalid",
  inviteRequired: false,
  rateLimitsEnabled: false,
  disableSsrfProtection: true,
  crawlers: [],
  jwtSecret: randomBytes(16).toString("hex"),
  adminPassword: randomBytes(16).toString("hex"),
  plcRotationKeyK256PrivateKeyHex: randomBytes(32).toString("hex"),
});
await pds.start();
const pdsUrl = `http://localhost:${pdsPort}`;
process.stdout.write(`${JSON.stringify({ plcUrl, pdsUrl })}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled([pds.destroy(), plcServer.destroy()]);
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
