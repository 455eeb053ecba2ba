/**
 * `identity_links`: a GitHub or Google identity linked to an existing account, a second way in
 * (schema.sql migration 5). The subject is the provider's stable id, never the login or email,
 * which can change hands; the primary key (provider, subject) gives one account per identity and
 * UNIQUE (user_id, provider) one identity per provider per account.
 */
import type { Database } from "bun:sqlite";
import { unixNow } from "../../lib/time.ts";

export type ProviderName = "github" | "google";

export interface IdentityLink {
  userId: number;
  provider: ProviderName;
  subject: string;
  label: string;
  createdAt: number;
  lastUsedAt: number | null;
}

interface IdentityLinkRow {
  user_id: number;
  provider: string;
  subject: string;
  label: string;
  created_at: number;
  last_used_at: number | null;
}

function rowToLink(row: IdentityLinkRow): IdentityLink {
  // The CHECK constraint admits only these two.
  const provider: ProviderName = row.provider === "google" ? "google" : "github";
  return {
    userId: row.user_id,
    provider,
    subject: row.subject,
    label: row.label,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

/** What `link` did: linked (new or refreshed), or refused because another account holds it. */
export type LinkResult = { kind: "linked"; link: IdentityLink } | { kind: "taken" };

export class IdentityLinkStore {
  constructor(private readonly db: Database) {}

  /** The link of this provider identity, or null. Uses the primary key (provider, subject). */
  find(provider: ProviderName, subject: string): IdentityLink | null {
    const row = this.db
      .query<IdentityLinkRow, [string, string]>(
        "SELECT * FROM identity_links WHERE provider = ? AND subject = ?",
      )
      .get(provider, subject);
    return row === null ? null : rowToLink(row);
  }

  listForUser(userId: number): IdentityLink[] {
    return this.db
      .query<IdentityLinkRow, [number]>(
        "SELECT * FROM identity_links WHERE user_id = ? ORDER BY provider",
      )
      .all(userId)
      .map(rowToLink);
  }

  /**
   * Links the identity to the user, replacing the user's earlier identity at this provider.
   * An identity already linked to another user is refused, never moved: taking it over would
   * let whoever controls one account capture another's way in.
   */
  link(userId: number, provider: ProviderName, subject: string, label: string): LinkResult {
    return this.db
      .transaction((): LinkResult => {
        const existing = this.find(provider, subject);
        if (existing !== null && existing.userId !== userId) return { kind: "taken" };
        const now = unixNow();
        if (existing !== null) {
          this.db
            .query("UPDATE identity_links SET label = ? WHERE provider = ? AND subject = ?")
            .run(label, provider, subject);
        } else {
          this.db
            .query("DELETE FROM identity_links WHERE user_id = ? AND provider = ?")
            .run(userId, provider);
          this.db
            .query(
              `INSERT INTO identity_links (user_id, provider, subject, label, created_at, last_used_at)
             VALUES (?, ?, ?, ?, ?, NULL)`,
            )
            .run(userId, provider, subject, label, now);
        }
        const linked = this.find(provider, subject);
        if (linked === null) throw new Error("identity link vanished inside its transaction");
        return { kind: "linked", link: linked };
      })
      .immediate();
  }

  /** Records a sign-in through the link and refreshes the label the provider now reports. */
  recordUse(provider: ProviderName, subject: string, label: string): void {
    this.db
      .query(
        "UPDATE identity_links SET label = ?, last_used_at = ? WHERE provider = ? AND subject = ?",
      )
      .run(label, unixNow(), provider, subject);
  }

  /** Removes the user's link at this provider; false when there was none. */
  unlink(userId: number, provider: ProviderName): boolean {
    const result = this.db
      .query("DELETE FROM identity_links WHERE user_id = ? AND provider = ?")
      .run(userId, provider);
    return result.changes > 0;
  }
}
