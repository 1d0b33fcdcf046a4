-- 004: a photo hash is not a capability (see `docs/protocol.md`, *Photos*), as SQLite's
-- `004_photo_holders.sql`. The bytes are stored once, but each upload is recorded per buurt
-- and member: upload status answers only about the caller's own uploads, and a photo is
-- served only through a reference written by a member who uploaded its bytes in that buurt.

-- Who uploaded which photo whole, per buurt and member (any of their devices); `device` is the
-- one whose upload completed it (its quota counts `size`).
CREATE TABLE blob_holders (
    buurt      BIGINT NOT NULL REFERENCES buurten(n),
    member     TEXT NOT NULL,
    hash       BYTEA NOT NULL,
    device     BIGINT NOT NULL REFERENCES devices(n),
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (buurt, member, hash)
);
CREATE INDEX blob_holders_device ON blob_holders(device);

-- The photos held so far: their first uploader holds them.
INSERT INTO blob_holders (buurt, member, hash, device, size, created_at)
    SELECT d.buurt, d.member, b.hash, b.device, b.size, b.created_at
    FROM blobs b JOIN devices d ON d.n = b.device;

-- A reference now names the member who attached the photo. Existing references are credited
-- to the member whose change first made the document reference it (entries cannot claim
-- another author, so that member attached it or the attachment arrived with their change).
ALTER TABLE blob_refs ADD COLUMN member TEXT;
UPDATE blob_refs r SET member = d.member
    FROM log l JOIN devices d ON d.n = l.device
    WHERE l.buurt = r.buurt AND l.seq = r.seq;
DELETE FROM blob_refs WHERE member IS NULL;
ALTER TABLE blob_refs ALTER COLUMN member SET NOT NULL;
ALTER TABLE blob_refs DROP CONSTRAINT blob_refs_pkey;
ALTER TABLE blob_refs ADD PRIMARY KEY (buurt, hash, doc, member);
