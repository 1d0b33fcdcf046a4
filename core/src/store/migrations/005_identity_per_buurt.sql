-- 005: a member id and an actor id of their own for every buurt (see `store/membership.rs`).
--
-- A buurt joined before this migration keeps the ids it registered: its member id was already
-- in `buurten.member`; its actor is the store's one actor (`device_actor`). The settings
-- `member_id` / `device_actor` become the *pending* identity, the one the next join registers;
-- if they are already registered (any buurt joined), they are replaced by fresh random ones.
ALTER TABLE buurten ADD COLUMN actor TEXT;
UPDATE buurten SET actor = (SELECT value FROM settings WHERE key = 'device_actor');
UPDATE settings SET value = lower(hex(randomblob(16)))
    WHERE key IN ('member_id', 'device_actor') AND EXISTS (SELECT 1 FROM buurten);

-- A join in progress: the ids and the secret it sends, stored before the request so a retry
-- after a lost answer or a crash sends the same (`join_secret`, docs/protocol.md). `invite` is
-- the code in its canonical form (upper case, no dashes or spaces). Deleted when the join is
-- recorded or refused for good.
CREATE TABLE pending_joins (
    relay_url  TEXT NOT NULL,
    invite     TEXT NOT NULL,
    member     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    secret     TEXT NOT NULL,   -- the join secret (64 hex); as secret as a token, never logged
    created_at INTEGER NOT NULL,
    PRIMARY KEY (relay_url, invite)
) STRICT;
