-- 003: photos (see `docs/protocol.md`, *Photos*), as SQLite's `003_blobs.sql`. The bytes live
-- in files under `<data>/blobs/`; these tables hold what the upload and fetch endpoints decide by.

-- Uploads in progress, per device and photo. `received`: bytes durably held (the next chunk
-- starts there); `length`: the total the first chunk declared (counted against the quota).
CREATE TABLE blob_uploads (
    device     BIGINT NOT NULL REFERENCES devices(n),
    hash       BYTEA NOT NULL,                -- SHA-256 of the photo
    length     BIGINT NOT NULL,
    received   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (device, hash)
);
CREATE INDEX blob_uploads_updated ON blob_uploads(updated_at);

-- Photos held whole, and the device whose upload completed each first (its quota).
CREATE TABLE blobs (
    hash       BYTEA PRIMARY KEY,
    mime       TEXT NOT NULL,
    size       BIGINT NOT NULL,
    device     BIGINT NOT NULL REFERENCES devices(n),
    created_at BIGINT NOT NULL
);
CREATE INDEX blobs_device ON blobs(device);

-- Which documents reference which photo, recorded with the accepted change that made them
-- reference it: a member may fetch a photo a document they read references.
CREATE TABLE blob_refs (
    buurt BIGINT NOT NULL REFERENCES buurten(n),
    hash  BYTEA NOT NULL,
    doc   BYTEA NOT NULL,
    seq   BIGINT NOT NULL,                   -- the change that first referenced it
    PRIMARY KEY (buurt, hash, doc)
);
