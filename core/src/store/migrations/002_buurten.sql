-- 002: membership of buurten and sync bookkeeping.

-- The buurten this device has joined, with what it needs to sync each.
CREATE TABLE buurten (
    id             TEXT PRIMARY KEY,        -- 32 hex digits, from the relay
    name           TEXT NOT NULL,
    relay_url      TEXT NOT NULL,
    member         TEXT NOT NULL,
    role           TEXT NOT NULL,
    device         TEXT NOT NULL,
    token          TEXT NOT NULL,           -- the device's secret for this relay; never logged
    cursor         INTEGER NOT NULL DEFAULT 0,
    head           INTEGER NOT NULL DEFAULT 0, -- highest seq the relay reported
    joined_at      INTEGER NOT NULL,
    last_sync_at   INTEGER,
    last_error     TEXT,
    last_error_at  INTEGER,
    failures       INTEGER NOT NULL DEFAULT 0  -- consecutive failed syncs (backoff)
) STRICT;

-- Which buurt each document belongs to (NULL: created before any join; assigned at the first).
ALTER TABLE documents ADD COLUMN buurt TEXT;
CREATE INDEX documents_buurt ON documents(buurt);
-- 1 when the document holds changes whose dependencies never arrived: the repair path asks the
-- relay for what it lacks (POST /v1/missing).
ALTER TABLE documents ADD COLUMN needs_repair INTEGER NOT NULL DEFAULT 0;

-- A change the relay refused stays in the log, marked, and is not pushed again.
ALTER TABLE outbox ADD COLUMN rejected_code TEXT;
ALTER TABLE outbox ADD COLUMN rejected_reason TEXT;
DROP INDEX outbox_unacked;
CREATE INDEX outbox_unacked ON outbox(seq) WHERE acked_at IS NULL AND rejected_code IS NULL;
