/** Users: one row per person, keyed by their DID (handles change, DIDs do not). */
import type { Database } from "bun:sqlite";
import { unixNow } from "../lib/time.ts";

export interface User {
  id: number;
  did: string;
  handle: string;
  username: string;
  displayName: string;
  /** The Bluesky profile's avatar (a blob URL on the user's PDS), or null. */
  avatarUrl: string | null;
  createdAt: number;
}

interface UserRow {
  id: number;
  did: string;
  handle: string;
  username: string;
  display_name: string;
  avatar_url: string | null;
  created_at: number;
}

function rowToUser(row: UserRow): User {
  return {
    id: row.id,
    did: row.did,
    handle: row.handle,
    username: row.username,
    displayName: row.display_name,
    avatarUrl: row.avatar_url,
    createdAt: row.created_at,
  };
}

export interface NewUser {
  did: string;
  handle: string;
  username: string;
  displayName: string;
  avatarUrl?: string | null;
}

/** What every sign-in re-reads from the network. */
export interface Identity {
  handle: string;
  displayName: string;
  avatarUrl: string | null;
}

export class UserStore {
  constructor(private readonly db: Database) {}

  create(user: NewUser): User {
    const row = this.db
      .query<
        UserRow,
        {
          did: string;
          handle: string;
          username: string;
          display_name: string;
          avatar_url: string | null;
          now: number;
        }
      >(
        `INSERT INTO users (did, handle, username, display_name, avatar_url, created_at)
         VALUES ($did, $handle, $username, $display_name, $avatar_url, $now) RETURNING *`,
      )
      .get({
        did: user.did,
        handle: user.handle,
        username: user.username,
        display_name: user.displayName,
        avatar_url: user.avatarUrl ?? null,
        now: unixNow(),
      });
    if (row === null) throw new Error("INSERT … RETURNING gave no row");
    return rowToUser(row);
  }

  findById(id: number): User | null {
    const row = this.db.query<UserRow, [number]>("SELECT * FROM users WHERE id = ?").get(id);
    return row === null ? null : rowToUser(row);
  }

  findByUsername(username: string): User | null {
    const row = this.db
      .query<UserRow, [string]>("SELECT * FROM users WHERE username = ?")
      .get(username);
    return row === null ? null : rowToUser(row);
  }

  findByDid(did: string): User | null {
    const row = this.db.query<UserRow, [string]>("SELECT * FROM users WHERE did = ?").get(did);
    return row === null ? null : rowToUser(row);
  }

  /** Users last seen with this handle; handles move between DIDs, so there may be several. */
  findByHandle(handle: string): User[] {
    return this.db
      .query<UserRow, [string]>("SELECT * FROM users WHERE handle = ? ORDER BY id")
      .all(handle)
      .map(rowToUser);
  }

  /** Refreshes what a sign-in re-reads from the network: the verified handle, name and avatar. */
  updateIdentity(id: number, fields: Identity): User | null {
    const row = this.db
      .query<UserRow, [string, string, string | null, number]>(
        "UPDATE users SET handle = ?, display_name = ?, avatar_url = ? WHERE id = ? RETURNING *",
      )
      .get(fields.handle, fields.displayName, fields.avatarUrl, id);
    return row === null ? null : rowToUser(row);
  }

  list(): User[] {
    return this.db.query<UserRow, []>("SELECT * FROM users ORDER BY id").all().map(rowToUser);
  }
}
