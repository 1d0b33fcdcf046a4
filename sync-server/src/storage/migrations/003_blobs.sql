-- 003: photos (see `docs/protocol.md`, *Photos*). The bytes live in files under
-- `<data>/blobs/`; these tables hold what the upload and fetch endpoints decide by.

-- Uploads in progress, per device and photo. `received`: bytes durably held (the next chunk
-- starts there); `length`: the total the first chunk declared (counted against the quota).
CREATE TABLE blob_uploads (
    device     INTEGER NOT NULL REFERENCES devices(n),
    hash       BLOB NOT NULL,                 -- SHA-256 of the photo
    length     INTEGER NOT NULL,
    received   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (device, hash)
) STRICT, WITHOUT ROWID;
CREATE INDEX blob_uploads_updated ON blob_uploads(updated_at);

-- Photos held whole, and the device whose upload completed each first (its quota).
CREATE TABLE blobs (
    hash       BLOB PRIMARY KEY,
    mime       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    device     INTEGER NOT NULL REFERENCES devices(n),
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX blobs_device ON blobs(device);

-- Which documents reference which photo, recorded with the accepted change that made them
-- reference it: a member may fetch a photo a document they read references.
CREATE TABLE blob_refs (
    buurt INTEGER NOT NULL REFERENCES buurten(n),
    hash  BLOB NOT NULL,
    doc   BLOB NOT NULL,
    seq   INTEGER NOT NULL,                  -- the change that first referenced it
    PRIMARY KEY (buurt, hash, doc)
) STRICT, WITHOUT ROWID;
