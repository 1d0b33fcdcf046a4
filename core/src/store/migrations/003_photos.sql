-- 003: photos attached to reports, and the queue that uploads them.
--
-- The bytes live in files beside the database, named by their SHA-256 (see store/photos.rs);
-- these tables say which files are held, why, and what still has to reach the relay.

-- A photo whose file this device holds (or held: `stored = 0` after the cache evicted it).
CREATE TABLE photos (
    hash       TEXT PRIMARY KEY,          -- sha-256 of the (metadata-free) bytes, 64 hex
    mime       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    origin     TEXT NOT NULL,             -- 'taken' (attached here) or 'fetched' (downloaded)
    stored     INTEGER NOT NULL,          -- 1 while the file is present
    last_used  INTEGER NOT NULL           -- ms; the cache evicts the least recently used first
) STRICT;
CREATE INDEX photos_lru ON photos(last_used) WHERE stored = 1;

-- A photo taken here, attached to a report, not yet held by the report's relay.
CREATE TABLE photo_uploads (
    hash            TEXT NOT NULL REFERENCES photos(hash),
    entity          TEXT NOT NULL,        -- the report; its document's buurt names the relay
    sent            INTEGER NOT NULL DEFAULT 0, -- bytes the relay acknowledged as durable
    state           TEXT NOT NULL DEFAULT 'pending', -- pending | done | rejected
    attempts        INTEGER NOT NULL DEFAULT 0,      -- consecutive failures (backoff)
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER,
    PRIMARY KEY (hash, entity)
) STRICT;
CREATE INDEX photo_uploads_pending ON photo_uploads(next_attempt_at) WHERE state = 'pending';
