-- 001: the relay's first PostgreSQL schema, the same shape as SQLite's `001_initial.sql`.
--
-- Internal BIGINT keys (`n`) keep the log's rows small; the 32-hex ids are what the protocol
-- and operators see (TEXT). Hashes, document and actor ids are BYTEA; sequence numbers and
-- times (ms since the epoch) BIGINT. Secrets are never stored: invites and tokens only as
-- SHA-256 hashes.

CREATE TABLE buurten (
    n          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,            -- 32 hex digits
    name       TEXT NOT NULL,
    head       BIGINT NOT NULL DEFAULT 0,       -- highest seq in its log, 0 while empty
    created_at BIGINT NOT NULL,
    CHECK (head >= 0)
);

CREATE TABLE invites (
    hash       BYTEA PRIMARY KEY,               -- SHA-256 of the normalised code
    buurt      BIGINT NOT NULL REFERENCES buurten(n),
    role       TEXT NOT NULL,
    member     TEXT,                            -- set: only this member may redeem (a further device)
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    max_uses   BIGINT NOT NULL,
    uses       BIGINT NOT NULL DEFAULT 0,
    CHECK (octet_length(hash) = 32)
);

CREATE TABLE members (
    buurt        BIGINT NOT NULL REFERENCES buurten(n),
    id           TEXT NOT NULL,                 -- the member id the first device presented
    display_name TEXT NOT NULL,
    role         TEXT NOT NULL,
    joined_at    BIGINT NOT NULL,
    PRIMARY KEY (buurt, id)
);

CREATE TABLE devices (
    n          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    buurt      BIGINT NOT NULL,
    member     TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,           -- SHA-256 of the token
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    FOREIGN KEY (buurt, member) REFERENCES members(buurt, id),
    CHECK (octet_length(token_hash) = 32)
);
CREATE INDEX devices_member ON devices(buurt, member);

-- Automerge actor ids, each registered to one device per buurt.
CREATE TABLE actors (
    buurt  BIGINT NOT NULL REFERENCES buurten(n),
    actor  BYTEA NOT NULL,
    device BIGINT NOT NULL REFERENCES devices(n),
    PRIMARY KEY (buurt, actor)
);
CREATE INDEX actors_device ON actors(device);

-- Which buurt each document belongs to: fixed by its first accepted change. Per-document
-- facts (such as an audience) belong in this table or in tables keyed by its `id`.
CREATE TABLE documents (
    id    BYTEA PRIMARY KEY,                    -- 16 bytes
    buurt BIGINT NOT NULL REFERENCES buurten(n),
    CHECK (octet_length(id) = 16)
);

-- Each buurt's append-only log of accepted changes.
CREATE TABLE log (
    buurt       BIGINT NOT NULL REFERENCES buurten(n),
    seq         BIGINT NOT NULL,                -- per buurt, contiguous from 1
    doc         BYTEA NOT NULL REFERENCES documents(id),
    hash        BYTEA NOT NULL,
    device      BIGINT NOT NULL REFERENCES devices(n),  -- who pushed it (not pulled back to it)
    bytes       BYTEA NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (buurt, seq),
    CHECK (seq >= 1 AND octet_length(hash) = 32)
);
CREATE UNIQUE INDEX log_hash ON log(buurt, hash);
CREATE INDEX log_doc ON log(doc, seq);
