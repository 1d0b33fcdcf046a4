-- 006: the photos' bytes in the database (`sync-server/src/blob/pg.rs`), so every relay of a
-- deployment serves every photo, whichever relay received it. Until now they were files under
-- each relay's `<data>/blobs/`; a relay imports the files it finds there at start.

-- Photos held whole: one row per photo, written in the same transaction as all its chunks, so
-- a photo is here whole or not at all.
CREATE TABLE blob_files (
    hash   BYTEA PRIMARY KEY,                -- SHA-256 of the photo
    length BIGINT NOT NULL
);

-- Their bytes, as the device sent them: `off` is where each piece starts in the photo.
CREATE TABLE blob_file_chunks (
    hash  BYTEA NOT NULL REFERENCES blob_files(hash),
    off   BIGINT NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (hash, off)
);

-- Uploads in progress, per device and photo; contiguous from 0 (a chunk starts where the
-- previous one ended). `written_at`: milliseconds, for the 7-day clean-up.
CREATE TABLE blob_partial_chunks (
    device     TEXT NOT NULL,
    hash       BYTEA NOT NULL,
    off        BIGINT NOT NULL,
    bytes      BYTEA NOT NULL,
    written_at BIGINT NOT NULL,
    PRIMARY KEY (device, hash, off)
);

-- Photos are already compressed: stored out of line, without trying to compress them again.
ALTER TABLE blob_file_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;
ALTER TABLE blob_partial_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;
