/**
 * The real local PLC + PDS for the Sign in with Bluesky tests: each test file starts one with
 * `startLocalPds()` and stops it in afterAll (the same starter `bun run dev` uses).
 */
export { type LocalPds, localPdsEnv, startLocalPds } from "../../scripts/pds/local-pds.ts";
