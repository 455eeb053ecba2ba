/**
 * SQLite stores for the ATProto OAuth client's state (in-flight authorizations, keyed by OAuth
 * `state`) and sessions (keyed by DID). Both values hold private material — a DPoP private key,
 * the PKCE verifier, tokens — so they are sealed with AES-256-GCM under a key derived from the
 * server secret (house style rule 5), with "table:key" as associated data: a row copied under
 * another key or table fails to open instead of being trusted.
 */
import type { Database } from "bun:sqlite";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type {
  NodeSavedSession,
  NodeSavedSessionStore,
  NodeSavedState,
  NodeSavedStateStore,
} from "@atproto/oauth-client-node";
import { unixNow } from "../../lib/time.ts";

/** An authorization left unfinished this long is dropped (the notes suggest about 1 h). */
export const STATE_LIFETIME_SECONDS = 3600;

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Seals and opens JSON values with one 256-bit key. */
export class Sealer {
  private readonly key: Buffer;

  /** `keyBase64url` is a 256-bit key, e.g. from `deriveKey(secrets, purpose)`. */
  constructor(keyBase64url: string) {
    this.key = Buffer.from(keyBase64url, "base64url");
    if (this.key.byteLength !== 32) throw new TypeError("the sealing key must be 256 bits");
  }

  seal(value: unknown, context: string): Uint8Array {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]);
  }

  /** The JSON value, or null when the box does not open (wrong key, context or tampered). */
  open(sealed: Uint8Array, context: string): unknown {
    if (sealed.byteLength < IV_BYTES + TAG_BYTES) return null;
    const box = Buffer.from(sealed);
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, box.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(box.subarray(box.byteLength - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(box.subarray(IV_BYTES, box.byteLength - TAG_BYTES)),
        decipher.final(),
      ]);
      return JSON.parse(plain.toString("utf8"));
    } catch {
      return null;
    }
  }
}

/**
 * The library's own types for what it stored. The value comes back from our sealed box, written
 * only by this store from the library's own object, so it is the same shape; a box that does
 * not open or is not an object reads as absent (the library then says "unknown session").
 */
function asSaved<T>(value: unknown): T | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  // biome-ignore lint/suspicious/noExplicitAny: see the comment above: the library wrote this value
  return value as any;
}

export class AtprotoStateStore implements NodeSavedStateStore {
  constructor(
    private readonly db: Database,
    private readonly sealer: Sealer,
  ) {}

  async get(key: string): Promise<NodeSavedState | undefined> {
    const row = this.db
      .query<{ sealed: Uint8Array }, [string, number]>(
        "SELECT sealed FROM atproto_oauth_states WHERE key = ? AND expires_at > ?",
      )
      .get(key, unixNow());
    if (row === null) return undefined;
    return asSaved<NodeSavedState>(this.sealer.open(row.sealed, `state:${key}`));
  }

  async set(key: string, value: NodeSavedState): Promise<void> {
    const now = unixNow();
    // Expired rows go whenever a new one comes (index atproto_oauth_states_by_expiry).
    this.db.query("DELETE FROM atproto_oauth_states WHERE expires_at <= ?").run(now);
    this.db
      .query(
        `INSERT INTO atproto_oauth_states (key, sealed, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET sealed = excluded.sealed, expires_at = excluded.expires_at`,
      )
      .run(key, this.sealer.seal(value, `state:${key}`), now + STATE_LIFETIME_SECONDS);
  }

  async del(key: string): Promise<void> {
    this.db.query("DELETE FROM atproto_oauth_states WHERE key = ?").run(key);
  }
}

export class AtprotoSessionStore implements NodeSavedSessionStore {
  constructor(
    private readonly db: Database,
    private readonly sealer: Sealer,
  ) {}

  async get(did: string): Promise<NodeSavedSession | undefined> {
    const row = this.db
      .query<{ sealed: Uint8Array }, [string]>(
        "SELECT sealed FROM atproto_oauth_sessions WHERE did = ?",
      )
      .get(did);
    if (row === null) return undefined;
    return asSaved<NodeSavedSession>(this.sealer.open(row.sealed, `session:${did}`));
  }

  async set(did: string, value: NodeSavedSession): Promise<void> {
    this.db
      .query(
        `INSERT INTO atproto_oauth_sessions (did, sealed, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (did) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at`,
      )
      .run(did, this.sealer.seal(value, `session:${did}`), unixNow());
  }

  async del(did: string): Promise<void> {
    this.db.query("DELETE FROM atproto_oauth_sessions WHERE did = ?").run(did);
  }
}
