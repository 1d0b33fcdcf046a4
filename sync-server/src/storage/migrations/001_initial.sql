-- 001: the relay's first schema.
--
-- Internal integer keys (`n`) keep the log's rows small; the 32-hex ids are what the protocol
-- and operators see. Secrets are never stored: invites and tokens only as SHA-256 hashes.

CREATE TABLE buurten (
    n          INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,          -- 32 hex digits
    name       TEXT NOT NULL,
    head       INTEGER NOT NULL DEFAULT 0,    -- highest seq in its log, 0 while empty
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE invites (
    hash       BLOB PRIMARY KEY,              -- SHA-256 of the normalised code
    buurt      INTEGER NOT NULL REFERENCES buurten(n),
    role       TEXT NOT NULL,
    member     TEXT,                          -- set: only this member may redeem (a further device)
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_uses   INTEGER NOT NULL,
    uses       INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE TABLE members (
    buurt        INTEGER NOT NULL REFERENCES buurten(n),
    id           TEXT NOT NULL,               -- the member id the first device presented
    display_name TEXT NOT NULL,
    role         TEXT NOT NULL,
    joined_at    INTEGER NOT NULL,
    PRIMARY KEY (buurt, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE devices (
    n          INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    buurt      INTEGER NOT NULL,
    member     TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,          -- SHA-256 of the token
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    FOREIGN KEY (buurt, member) REFERENCES members(buurt, id)
) STRICT;
CREATE INDEX devices_member ON devices(buurt, member);

-- Automerge actor ids, each registered to one device per buurt.
CREATE TABLE actors (
    buurt  INTEGER NOT NULL REFERENCES buurten(n),
    actor  BLOB NOT NULL,
    device INTEGER NOT NULL REFERENCES devices(n),
    PRIMARY KEY (buurt, actor)
) STRICT, WITHOUT ROWID;
CREATE INDEX actors_device ON actors(device);

-- Which buurt each document belongs to: fixed by its first accepted change.
CREATE TABLE documents (
    id    BLOB PRIMARY KEY,                   -- 16 bytes
    buurt INTEGER NOT NULL REFERENCES buurten(n)
) STRICT, WITHOUT ROWID;

-- Each buurt's append-only log of accepted changes.
CREATE TABLE log (
    buurt       INTEGER NOT NULL REFERENCES buurten(n),
    seq         INTEGER NOT NULL,             -- per buurt, contiguous from 1
    doc         BLOB NOT NULL,
    hash        BLOB NOT NULL,
    device      INTEGER NOT NULL REFERENCES devices(n),  -- who pushed it (not pulled back to it)
    bytes       BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (buurt, seq)
) STRICT;
CREATE UNIQUE INDEX log_hash ON log(buurt, hash);
CREATE INDEX log_doc ON log(doc, seq);
