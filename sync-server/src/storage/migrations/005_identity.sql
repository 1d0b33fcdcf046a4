-- 005: identities are per buurt, and a join can be retried (see `docs/protocol.md`, join).
--
-- A join refuses a member id or an actor id registered in another buurt: these indexes make
-- that lookup cheap. Rows written before this migration keep whatever they registered.
CREATE INDEX members_id ON members(id);
CREATE INDEX actors_actor ON actors(actor);

-- The invite a device joined through (SHA-256 of the code; NULL for devices enrolled before
-- this migration): a retried join must name the same invite to get the device's token again.
ALTER TABLE devices ADD COLUMN join_invite BLOB;
