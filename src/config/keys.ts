/**
 * Server keys under DATA_DIR/keys/, made on first start with mode 0600 in a 0700 folder. Written
 * to a temporary file and renamed, so a crash never leaves a half-written key behind.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomSecret } from "../lib/random.ts";

export interface Secrets {
  /** 256-bit secret from which per-purpose keys are derived (sessions, Otterwiki SECRET_KEYs). */
  readonly serverSecret: string;
}

function loadOrCreate(dir: string, name: string, create: () => string): string {
  const file = join(dir, name);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${create()}\n`, { mode: 0o600 });
  renameSync(temporary, file);
  return readFileSync(file, "utf8").trim();
}

export function loadSecrets(dataDir: string): Secrets {
  const dir = join(dataDir, "keys");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return Object.freeze({
    serverSecret: loadOrCreate(dir, "server-secret", () => randomSecret(32)),
  });
}

/** A key for one purpose, derived so that no two subsystems share key material. */
export function deriveKey(secrets: Secrets, purpose: string): string {
  return new Bun.CryptoHasher("sha256", secrets.serverSecret).update(purpose).digest("base64url");
}
