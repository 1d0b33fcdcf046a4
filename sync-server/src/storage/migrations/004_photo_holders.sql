-- 004: a photo hash is not a capability (see `docs/protocol.md`, *Photos*). The bytes are
-- stored once, but each upload is recorded per buurt and member: upload status answers only
-- about the caller's own uploads, and a photo is served only through a reference written by a
-- member who uploaded its bytes in that buurt.

-- Who uploaded which photo whole, per buurt and member (any of their devices); `device` is the
-- one whose upload completed it (its quota counts `size`).
CREATE TABLE blob_holders (
    buurt      INTEGER NOT NULL REFERENCES buurten(n),
    member     TEXT NOT NULL,
    hash       BLOB NOT NULL,
    device     INTEGER NOT NULL REFERENCES devices(n),
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (buurt, member, hash)
) STRICT, WITHOUT ROWID;
CREATE INDEX blob_holders_device ON blob_holders(device);

-- The photos held so far: their first uploader holds them.
INSERT INTO blob_holders (buurt, member, hash, device, size, created_at)
    SELECT d.buurt, d.member, b.hash, b.device, b.size, b.created_at
    FROM blobs b JOIN devices d ON d.n = b.device;

-- A reference now names the member who attached the photo. Existing references are credited
-- to the member whose change first made the document reference it (entries cannot claim
-- another author, so that member attached it or the attachment arrived with their change).
CREATE TABLE blob_refs_004 (
    buurt  INTEGER NOT NULL REFERENCES buurten(n),
    hash   BLOB NOT NULL,
    doc    BLOB NOT NULL,
    member TEXT NOT NULL,                    -- who attached it (the entry's author)
    seq    INTEGER NOT NULL,                 -- the change that first recorded this reference
    PRIMARY KEY (buurt, hash, doc, member)
) STRICT, WITHOUT ROWID;
INSERT INTO blob_refs_004 (buurt, hash, doc, member, seq)
    SELECT r.buurt, r.hash, r.doc, d.member, r.seq
    FROM blob_refs r
    JOIN log l ON l.buurt = r.buurt AND l.seq = r.seq
    JOIN devices d ON d.n = l.device;
DROP TABLE blob_refs;
ALTER TABLE blob_refs_004 RENAME TO blob_refs;
