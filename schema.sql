-- wikibot's whole database schema. Each "-- migration: N" section runs once, in order, inside a
-- transaction, and PRAGMA user_version records the last one applied (src/db/migrate.ts).
-- Sections are forward-only: never edit one that has shipped; add the next number instead.

-- migration: 1
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  did TEXT NOT NULL UNIQUE,
  handle TEXT NOT NULL,
  username TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE wikis (
  id INTEGER PRIMARY KEY,
  slug TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  owner_id INTEGER NOT NULL REFERENCES users(id),
  is_public INTEGER NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1)),
  tier TEXT NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'premium', 'lapsed')),
  created_at INTEGER NOT NULL,
  -- The commit whose pages pages/pages_fts reflect; NULL before the first sync.
  indexed_commit TEXT
) STRICT;

CREATE TABLE acls (
  wiki_id INTEGER NOT NULL REFERENCES wikis(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'owner')),
  PRIMARY KEY (wiki_id, user_id)
) STRICT;
CREATE INDEX acls_by_user ON acls(user_id);

-- Wiki tokens: `wbt_<id>.<secret>`; only SHA-256(secret) is kept.
CREATE TABLE wiki_tokens (
  id TEXT PRIMARY KEY,
  wiki_id INTEGER NOT NULL REFERENCES wikis(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
  label TEXT NOT NULL DEFAULT '',
  secret_hash BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
) STRICT;
CREATE INDEX wiki_tokens_by_wiki ON wiki_tokens(wiki_id);

-- One row per Markdown page at wikis.indexed_commit; `revision` is the last commit that changed it.
CREATE TABLE pages (
  id INTEGER PRIMARY KEY,
  wiki_id INTEGER NOT NULL REFERENCES wikis(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  path_folded TEXT NOT NULL,
  title TEXT NOT NULL,
  size INTEGER NOT NULL,
  revision TEXT NOT NULL,
  changed_at INTEGER NOT NULL,
  author TEXT NOT NULL,
  UNIQUE (wiki_id, path)
) STRICT;
CREATE INDEX pages_by_folded_path ON pages(wiki_id, path_folded);

-- Full text of every page; rowid = pages.id. `wiki` holds the token "w<id>" so a query can be
-- confined to one wiki through the index instead of filtering every match afterwards.
CREATE VIRTUAL TABLE pages_fts USING fts5(
  wiki, path, title, body,
  -- porter: "agents" finds "agent"; unicode61 folds case and diacritics underneath.
  tokenize = 'porter unicode61 remove_diacritics 2'
);

-- Pages whose vectors must be rebuilt; the search worker drains it (a table, so a crash resumes).
CREATE TABLE reindex_queue (
  wiki_id INTEGER NOT NULL REFERENCES wikis(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  enqueued_at INTEGER NOT NULL,
  PRIMARY KEY (wiki_id, path)
) STRICT;

-- migration: 2
-- Browser sessions (DESIGN §5): `sess_<id>.<secret>`; only SHA-256(secret) is kept. Signing in
-- makes an apex session (wiki_id NULL). The per-host handshake mints a wiki-host session from
-- it, scoped to one wiki; deleting the apex session (sign-out) deletes those with it.
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  parent_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
  wiki_id INTEGER REFERENCES wikis(id) ON DELETE CASCADE,
  secret_hash BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  CHECK ((parent_id IS NULL) = (wiki_id IS NULL))
) STRICT;
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_parent ON sessions(parent_id);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);

-- One-time codes of the handshake: `handoff_<id>.<secret>`, valid 60 s, redeemed once, bound to
-- the apex session, the wiki and the browser's handshake state (only hashes are kept).
CREATE TABLE session_handoffs (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  wiki_id INTEGER NOT NULL REFERENCES wikis(id) ON DELETE CASCADE,
  secret_hash BLOB NOT NULL,
  state_hash BLOB NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX session_handoffs_by_expiry ON session_handoffs(expires_at);

-- migration: 3
-- Sign in with Bluesky (notes/atproto-login.md §2). The OAuth client's in-flight authorization
-- requests (PKCE verifier, DPoP private key, our return_to) keyed by the OAuth `state`, and its
-- token sessions keyed by DID. `sealed` is AES-256-GCM over the JSON value under a key derived
-- from the server secret, with the table and key as associated data, so a copied row never
-- opens under another key. Sessions live only for the callback (we sign them out at once).
CREATE TABLE atproto_oauth_states (
  key TEXT PRIMARY KEY,
  sealed BLOB NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX atproto_oauth_states_by_expiry ON atproto_oauth_states(expires_at);

CREATE TABLE atproto_oauth_sessions (
  did TEXT PRIMARY KEY,
  sealed BLOB NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

-- A new DID between the callback and choosing a username: `signup_<id>.<secret>` in a
-- host-only cookie, only SHA-256(secret) kept, valid 15 minutes, used once.
CREATE TABLE pending_signups (
  id TEXT PRIMARY KEY,
  secret_hash BLOB NOT NULL,
  did TEXT NOT NULL,
  handle TEXT NOT NULL,
  display_name TEXT NOT NULL,
  return_to TEXT,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX pending_signups_by_expiry ON pending_signups(expires_at);

-- migration: 4
-- Roles granted to people who have never signed in (management API, DESIGN §5). Keyed by DID
-- when the granter named one, else by handle; `claimPendingGrants` (src/wikis/members.ts) turns
-- them into ACL rows when that person first signs in with a verified DID and handle.
CREATE TABLE pending_grants (
  wiki_id INTEGER NOT NULL REFERENCES wikis(id) ON DELETE CASCADE,
  subject_kind TEXT NOT NULL CHECK (subject_kind IN ('did', 'handle')),
  subject TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'owner')),
  granted_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (wiki_id, subject_kind, subject)
) STRICT;
CREATE INDEX pending_grants_by_subject ON pending_grants(subject_kind, subject);

-- migration: 5
-- Other ways into an existing account (issue 9, DESIGN §3): a GitHub or Google identity linked
-- by a signed-in user. `subject` is the provider's stable id (GitHub's numeric user id, Google's
-- `sub`), never the login or email, which can change hands. One identity per provider per
-- user, and one user per identity: a provider identity never makes a second account.
CREATE TABLE identity_links (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider TEXT NOT NULL CHECK (provider IN ('github', 'google')),
  subject TEXT NOT NULL,
  -- What we show: the GitHub login or the Google email, refreshed at each use.
  label TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  PRIMARY KEY (provider, subject),
  UNIQUE (user_id, provider)
) STRICT;

-- The avatar from the public Bluesky profile record, as a URL of the blob on the user's PDS
-- (com.atproto.sync.getBlob); NULL when the profile has none.
ALTER TABLE users ADD COLUMN avatar_url TEXT;
ALTER TABLE pending_signups ADD COLUMN avatar_url TEXT;

-- A role granted by handle through the app is keyed by the DID the handle resolved to; the
-- handle is kept beside it for display (and for removing the grant by the name it was given).
ALTER TABLE pending_grants ADD COLUMN handle TEXT;

-- migration: 6
-- The OAuth 2.1 authorization server of each wiki (issue 10, DESIGN §2: every wiki is its own
-- issuer). Every secret (client secrets, request handles, codes, tokens) is kept only as the
-- SHA-256 of a 256-bit random value (src/lib/prefixed-token.ts); ids are not secrets.

-- Clients registered at one wiki's issuer (RFC 7591). Public clients have no secret.
CREATE TABLE oauth_clients (
  id TEXT PRIMARY KEY,
  wiki_id INTEGER NOT NULL REFERENCES wikis(id) ON DELETE CASCADE,
  secret_hash BLOB,
  auth_method TEXT NOT NULL
    CHECK (auth_method IN ('none', 'client_secret_post', 'client_secret_basic')),
  name TEXT NOT NULL,
  -- JSON array of the exact redirect URIs registered (loopback ones match on any port).
  redirect_uris TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
) STRICT;
CREATE INDEX oauth_clients_by_wiki ON oauth_clients(wiki_id);
CREATE INDEX oauth_clients_by_use ON oauth_clients(coalesce(last_used_at, created_at));

-- A validated authorization request waiting for the person's decision (sign-in, consent).
CREATE TABLE oauth_requests (
  id TEXT PRIMARY KEY,
  secret_hash BLOB NOT NULL,
  wiki_id INTEGER NOT NULL REFERENCES wikis(id) ON DELETE CASCADE,
  client_id TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
  -- JSON: redirect_uri, state, code_challenge, scope, resource.
  params TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_requests_by_expiry ON oauth_requests(expires_at);

-- What a person allowed one client on one wiki; codes and tokens hang off it, so revoking the
-- grant cuts them all. One live grant per (wiki, user, client).
CREATE TABLE oauth_grants (
  id TEXT PRIMARY KEY,
  wiki_id INTEGER NOT NULL REFERENCES wikis(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  client_id TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
  -- Space-separated granted scopes (wiki:read, wiki:write).
  scope TEXT NOT NULL,
  -- The audience: the wiki's MCP URL (RFC 8707).
  resource TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
) STRICT;
CREATE INDEX oauth_grants_by_wiki ON oauth_grants(wiki_id, revoked_at);
CREATE INDEX oauth_grants_by_user ON oauth_grants(user_id, revoked_at);
CREATE INDEX oauth_grants_by_party ON oauth_grants(wiki_id, user_id, client_id);

-- Authorization codes: single use, short-lived, bound to the redirect URI and PKCE challenge.
CREATE TABLE oauth_codes (
  id TEXT PRIMARY KEY,
  secret_hash BLOB NOT NULL,
  grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  redirect_uri TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
) STRICT;
CREATE INDEX oauth_codes_by_grant ON oauth_codes(grant_id);

-- Access and refresh tokens. Refresh tokens rotate: the newest is 'active', the one before it
-- 'previous' (a lost response may be retried once), older ones 'retired' (presenting one
-- revokes the grant: reuse detection).
CREATE TABLE oauth_tokens (
  id TEXT PRIMARY KEY,
  secret_hash BLOB NOT NULL,
  grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'previous', 'retired')),
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_tokens_by_grant ON oauth_tokens(grant_id, kind, state);
CREATE INDEX oauth_tokens_by_expiry ON oauth_tokens(expires_at);

-- migration: 7
-- Semantic search (issue 11, DESIGN §7): the heading-scoped pieces of each page the search worker
-- embedded. `id` is the key of the chunk's vector in the wiki's USearch index
-- (DATA_DIR/wikis/{slug}/vectors.usearch); `text` is kept for snippets. Derived data: a page's
-- rows are replaced whenever its reindex_queue row is drained, and all of a wiki's are dropped
-- when its index file is missing or damaged (then every page is queued again).
CREATE TABLE chunks (
  -- AUTOINCREMENT: a key is never reused, so no stale vector can name a newer chunk.
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  wiki_id INTEGER NOT NULL REFERENCES wikis(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  -- JSON array of the enclosing headings, outermost first ([] before the first heading).
  heading_path TEXT NOT NULL,
  -- 1-based, inclusive lines of the page the chunk covers.
  line_start INTEGER NOT NULL,
  line_end INTEGER NOT NULL,
  text TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX chunks_by_page ON chunks(wiki_id, path);

-- migration: 8
-- Full-text search weighs a word in a heading above the same word in the text (issue 13), so
-- pages_fts gains a `headings` column: every heading's text, one a line (headingsText in
-- src/pages/markdown.ts). FTS5 has no ALTER TABLE … ADD COLUMN, so the table is made anew. The
-- old one is renamed here; its rows are copied into the new one with their headings by step 8 of
-- src/db/migration-steps.ts, which then drops it. The step runs in this section's transaction:
-- a crash part-way leaves the database at version 7 with the old table, and the next start
-- begins again.
ALTER TABLE pages_fts RENAME TO pages_fts_v7;
CREATE VIRTUAL TABLE pages_fts USING fts5(
  wiki, path, title, headings, body,
  tokenize = 'porter unicode61 remove_diacritics 2'
);
-- The same headings beside the page's row, for re-ranking the best hits (src/pages/search-rank.ts):
-- reading them from pages_fts would load each page's whole body too.
ALTER TABLE pages ADD COLUMN headings TEXT NOT NULL DEFAULT '';
