-- 001: the first schema of a Noaber device store.
-- Applied migrations are never edited; add 002_... instead.

-- Local-only settings: device actor id, local identity.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- One row per Automerge document held on this device.
CREATE TABLE documents (
    id            TEXT PRIMARY KEY,
    kind          TEXT,               -- NULL until the creation change has arrived
    snapshot      BLOB,               -- compacted `save()` output; NULL before the first compaction
    changes_since INTEGER NOT NULL DEFAULT 0, -- rows in doc_changes not covered by the snapshot
    updated_at    INTEGER NOT NULL
) STRICT;

-- Incremental changes of each document since its snapshot, in arrival order.
CREATE TABLE doc_changes (
    seq    INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(id),
    hash   BLOB NOT NULL,
    bytes  BLOB NOT NULL
) STRICT;
CREATE INDEX doc_changes_doc ON doc_changes(doc_id, seq);

-- Every change hash this device has (for idempotent apply of duplicates).
CREATE TABLE change_hashes (
    hash   BLOB PRIMARY KEY,
    doc_id TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- The local change log: every change this device made, in order. `acked_at` stays NULL until
-- a relay acknowledges the change as durable; the bytes are kept until then.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id     TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    bytes      BLOB,
    created_at INTEGER NOT NULL,
    acked_at   INTEGER
) STRICT;
CREATE INDEX outbox_unacked ON outbox(seq) WHERE acked_at IS NULL;

-- ---------------------------------------------------------------------------------------------
-- Projections: plain rows derived from the documents, rebuilt by `rebuild_projections`.

CREATE TABLE entities (
    seq            INTEGER PRIMARY KEY,   -- stable rowid, shared with `search`
    id             TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    category       TEXT,
    title          TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    starts_at      INTEGER,
    ends_at        INTEGER,
    expires_at     INTEGER,
    due_at         INTEGER,
    overdue_at     INTEGER,
    lat            REAL,
    lon            REAL,
    location_label TEXT,
    needs_response INTEGER NOT NULL,
    detail         TEXT NOT NULL          -- kind-specific columns as JSON, for display
) STRICT;
CREATE INDEX entities_kind_updated ON entities(kind, updated_at DESC, id DESC);
CREATE INDEX entities_kind_status ON entities(kind, status);
CREATE INDEX entities_kind_starts ON entities(kind, starts_at, id);
CREATE INDEX entities_updated ON entities(updated_at DESC, id DESC);
CREATE INDEX entities_point ON entities(lat, lon) WHERE lat IS NOT NULL;
-- Rows whose shown status depends on the clock (expired, due, overdue), found without a scan.
CREATE INDEX entities_expiry ON entities(status, expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX entities_due ON entities(due_at) WHERE due_at IS NOT NULL;

CREATE TABLE help_requests (
    id        TEXT PRIMARY KEY,
    mode      TEXT NOT NULL,
    urgency   TEXT NOT NULL,
    precision TEXT NOT NULL,
    helper    TEXT,
    responses INTEGER NOT NULL
) STRICT;

CREATE TABLE events (
    id            TEXT PRIMARY KEY,
    capacity      INTEGER,
    going         INTEGER NOT NULL,
    waitlisted    INTEGER NOT NULL,
    maybe         INTEGER NOT NULL,
    shifts_needed INTEGER NOT NULL,
    shifts_filled INTEGER NOT NULL
) STRICT;

CREATE TABLE tasks (
    id            TEXT PRIMARY KEY,
    adopter       TEXT,
    backups       INTEGER NOT NULL,
    pledges       INTEGER NOT NULL,
    pledge_target INTEGER,
    paused        INTEGER NOT NULL,
    next_open     TEXT,
    recurrence    TEXT
) STRICT;

CREATE TABLE reports (
    id          TEXT PRIMARY KEY,
    severity    TEXT NOT NULL,
    me_too      INTEGER NOT NULL,
    responsible TEXT,
    photos      INTEGER NOT NULL
) STRICT;

CREATE TABLE profiles (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    household    TEXT
) STRICT;

CREATE TABLE participants (
    entity_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    relation  TEXT NOT NULL,
    PRIMARY KEY (entity_id, member_id, relation)
) STRICT, WITHOUT ROWID;
CREATE INDEX participants_member ON participants(member_id, relation, entity_id);

CREATE TABLE notices (
    entity_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    code      TEXT NOT NULL,
    text      TEXT NOT NULL,
    PRIMARY KEY (entity_id, member_id, code, text)
) STRICT, WITHOUT ROWID;
CREATE INDEX notices_member ON notices(member_id);

CREATE TABLE comments (
    entity_id  TEXT NOT NULL,
    comment_id TEXT NOT NULL,
    author     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    body       TEXT NOT NULL,
    edited_at  INTEGER,
    withdrawn  INTEGER NOT NULL,
    PRIMARY KEY (entity_id, comment_id)
) STRICT, WITHOUT ROWID;

-- Full-text search over titles, bodies and comments; rowid = entities.seq.
CREATE VIRTUAL TABLE search USING fts5(
    title, body, comments,
    tokenize = 'unicode61 remove_diacritics 2'
);
